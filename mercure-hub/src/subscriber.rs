//! Subscribers: what they asked for and what they may receive.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::SystemTime;

use mercure_core::{EventId, ProtocolVersion, TopicSelector};

use crate::Event;
use crate::matcher::{MatchMemo, Matcher, MatcherKind};

/// Which private updates a subscriber may receive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PrivateAccess {
    /// None: public updates only (an anonymous subscriber).
    #[default]
    None,
    /// Private updates of every topic.
    All,
    /// Private updates with a topic (canonical or alternate) selected by
    /// one of these selectors, read in the subscription's dialect.
    Selectors(Vec<TopicSelector>),
}

/// An in-process subscription request, served by
/// [`EmbeddedHub::subscribe`](crate::EmbeddedHub::subscribe): the topics
/// the server chose, the private access it grants, and the reconciliation
/// cursor.
///
/// ```
/// use mercure_core::{ProtocolVersion, TopicSelector};
/// use mercure_hub::{PrivateAccess, SubscribeRequest};
///
/// let request = SubscribeRequest::new([TopicSelector::exact("https://example.com/users/42")])
///     .dialect(ProtocolVersion::V1)
///     .private_access(PrivateAccess::All)
///     .subject("user-42")
///     .last_event_id("urn:uuid:5e94c686-2c0b-4f9b-958c-92ccc3bbb4eb");
/// assert_eq!(request.selectors().len(), 1);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SubscribeRequest {
    pub(crate) selectors: Vec<TopicSelector>,
    pub(crate) dialect: ProtocolVersion,
    pub(crate) last_event_id: Option<EventId>,
    pub(crate) access: PrivateAccess,
    pub(crate) payload: Option<serde_json::Value>,
    /// One payload per selector, when they differ (a 1.0 token's first
    /// matching detail); empty: `payload` for every selector.
    pub(crate) selector_payloads: Vec<Option<serde_json::Value>>,
    pub(crate) subject: Option<String>,
    pub(crate) expires_at: Option<SystemTime>,
}

impl SubscribeRequest {
    /// Subscribes to `selectors` (read as 0.x selectors unless
    /// [`SubscribeRequest::dialect`] says otherwise), public updates only.
    pub fn new<I, S>(selectors: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<TopicSelector>,
    {
        Self {
            selectors: selectors.into_iter().map(Into::into).collect(),
            dialect: ProtocolVersion::default(),
            last_event_id: None,
            access: PrivateAccess::None,
            payload: None,
            selector_payloads: Vec::new(),
            subject: None,
            expires_at: None,
        }
    }

    /// A stream of topics the server selected for a subscriber (who never
    /// names them itself): public updates and private updates of
    /// `selectors`.
    ///
    /// ```
    /// use mercure_core::TopicSelector;
    /// use mercure_hub::SubscribeRequest;
    ///
    /// let request = SubscribeRequest::server_selected(vec![TopicSelector::exact("https://example.com/books/1")]);
    /// assert_eq!(request.selectors().len(), 1);
    /// ```
    pub fn server_selected(selectors: Vec<TopicSelector>) -> Self {
        Self::new(selectors.clone()).private_access(PrivateAccess::Selectors(selectors))
    }

    /// The dialect: how selectors are read, the subscription events' shape,
    /// the resume header's name.
    pub fn dialect(mut self, dialect: ProtocolVersion) -> Self {
        self.dialect = dialect;
        self
    }

    /// Replays the events after this id (`earliest`: all those held).
    pub fn last_event_id(mut self, id: impl Into<EventId>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// Which private updates are delivered.
    pub fn private_access(mut self, access: PrivateAccess) -> Self {
        self.access = access;
        self
    }

    /// The payload shown by the subscriptions API and subscription events
    /// for every selector.
    pub fn payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = Some(payload);
        self
    }

    /// One payload per selector, in the order of the selectors.
    pub(crate) fn selector_payloads(mut self, payloads: Vec<Option<serde_json::Value>>) -> Self {
        debug_assert_eq!(payloads.len(), self.selectors.len());
        self.selector_payloads = payloads;
        self
    }

    /// The identity the subscription belongs to (a token's `sub`); see
    /// [`EmbeddedHub::permission_changed`](crate::EmbeddedHub::permission_changed).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Ends the stream at this time (a token's expiry); times more than 30
    /// years ahead are read as 30 years.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// The selectors.
    pub fn selectors(&self) -> &[TopicSelector] {
        &self.selectors
    }
}

/// One active subscription (a subscriber has one per selector), as the
/// subscriptions API shows it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SubscriptionInfo {
    /// The subscriber's identifier (`urn:uuid:...`), unique per connection.
    pub subscriber: String,
    /// The `sub` claim of the subscriber's token, if any.
    pub subject: Option<String>,
    /// The dialect the subscriber speaks.
    pub dialect: ProtocolVersion,
    /// The selector of this subscription.
    pub selector: TopicSelector,
    /// The payload from the subscriber's token that describes this
    /// subscription (a 1.0 token's first `subscribe` detail matching the
    /// selector).
    pub payload: Option<serde_json::Value>,
    /// The id of the hub instance the subscriber is connected to, in a
    /// cluster-wide listing ([`EmbeddedHub::cluster_subscriptions`](crate::EmbeddedHub::cluster_subscriptions));
    /// `None` in a local one.
    pub instance: Option<String>,
}

/// Why a subscriber's stream was closed by the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum CloseReason {
    Open = 0,
    /// Its queue overflowed.
    Overflow = 1,
    /// The application closed it (permission change).
    Closed = 2,
    /// The hub is shutting down: the stream ends with a `retry:` field
    /// telling the client when to reconnect.
    Draining = 3,
}

/// A subscriber as the dispatcher sees it.
#[derive(Debug)]
pub(crate) struct SubscriberEntry {
    pub(crate) key: u64,
    pub(crate) id: Arc<str>,
    pub(crate) subject: Option<String>,
    pub(crate) dialect: ProtocolVersion,
    pub(crate) selectors: Vec<(TopicSelector, MatcherKind, Arc<Matcher>)>,
    pub(crate) access: Access,
    /// The payload of each selector, in order.
    pub(crate) payloads: Vec<Option<serde_json::Value>>,
    close_reason: AtomicU8,
    /// The reconnection delay (ms) sent when the stream ends on drain.
    drain_retry: AtomicU64,
    pub(crate) announced_inactive: AtomicBool,
}

/// Compiled private access.
#[derive(Debug)]
pub(crate) enum Access {
    None,
    All,
    Matchers(Vec<Arc<Matcher>>),
}

impl SubscriberEntry {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        key: u64,
        id: Arc<str>,
        subject: Option<String>,
        dialect: ProtocolVersion,
        selectors: Vec<(TopicSelector, MatcherKind, Arc<Matcher>)>,
        access: Access,
        payloads: Vec<Option<serde_json::Value>>,
    ) -> Self {
        Self {
            key,
            id,
            subject,
            dialect,
            selectors,
            access,
            payloads,
            close_reason: AtomicU8::new(CloseReason::Open as u8),
            drain_retry: AtomicU64::new(0),
            announced_inactive: AtomicBool::new(false),
        }
    }

    /// Whether `event` goes to this subscriber: one of its selectors picks
    /// one of the event's topics, and a private event needs access to one
    /// of its topics.
    pub(crate) fn wants(&self, event: &Event, memo: &mut MatchMemo) -> bool {
        let topics = event.topic_set();
        if !self
            .selectors
            .iter()
            .any(|(_, _, m)| memo.matches_any(m, topics))
        {
            return false;
        }
        if !event.is_private() {
            return true;
        }
        match &self.access {
            Access::None => false,
            Access::All => true,
            Access::Matchers(matchers) => matchers.iter().any(|m| memo.matches_any(m, topics)),
        }
    }

    pub(crate) fn close(&self, reason: CloseReason) {
        let _ = self.close_reason.compare_exchange(
            CloseReason::Open as u8,
            reason as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Closes the subscriber for a shutdown: its stream ends by telling
    /// the client to reconnect in `retry_ms` milliseconds.
    pub(crate) fn drain(&self, retry_ms: u64) {
        self.drain_retry.store(retry_ms, Ordering::Release);
        self.close(CloseReason::Draining);
    }

    /// The last bytes of its stream: a `retry:` field when the hub is
    /// draining, nothing otherwise.
    pub(crate) fn farewell(&self) -> Option<bytes::Bytes> {
        (self.close_reason.load(Ordering::Acquire) == CloseReason::Draining as u8).then(|| {
            bytes::Bytes::from(format!(
                "retry: {}\n\n",
                self.drain_retry.load(Ordering::Acquire)
            ))
        })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.close_reason.load(Ordering::Acquire) != CloseReason::Open as u8
    }

    pub(crate) fn infos(&self) -> impl Iterator<Item = SubscriptionInfo> + '_ {
        self.selectors
            .iter()
            .enumerate()
            .map(|(index, (selector, _, _))| SubscriptionInfo {
                subscriber: self.id.to_string(),
                subject: self.subject.clone(),
                dialect: self.dialect,
                selector: selector.clone(),
                payload: self.payloads.get(index).cloned().flatten(),
                instance: None,
            })
    }
}
