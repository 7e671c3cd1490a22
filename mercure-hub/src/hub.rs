//! The hub itself: publishing, dispatching, subscribing.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::{BufMut, BytesMut};
use mercure_core::{EventId, ProtocolVersion, TopicSelector, Update};

use crate::auth::Verifier;
use crate::documents::{subscription_document, subscription_topic, with_context};
use crate::matcher::{MatchMemo, MatcherCache, MatcherKind, TopicSet};
use crate::metrics::Counters;
use crate::outbox::{Outbox, Pushed};
use crate::subscriber::{Access, CloseReason, SubscriberEntry};
use crate::{
    Error, Event, HubConfig, Metrics, PrivateAccess, SubscribeRequest, Subscription,
    SubscriptionInfo,
};

/// A Mercure hub running inside this process.
///
/// Cheap to clone (an `Arc` inside). Serve it over HTTP with
/// [`EmbeddedHub::router`]; publish and subscribe in-process with
/// [`EmbeddedHub::publish`] and [`EmbeddedHub::subscribe`], which share the
/// HTTP endpoints' delivery path.
///
/// ```
/// use mercure_hub::{EmbeddedHub, HubConfig, VerificationKey};
/// use mercure_core::Update;
///
/// let hub = EmbeddedHub::new(
///     HubConfig::builder()
///         .key(VerificationKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!").unwrap())
///         .build()
///         .unwrap(),
/// );
/// let id = hub.publish(&Update::new("https://example.com/books/1", "{}").unwrap()).unwrap();
/// assert!(id.as_str().starts_with("urn:uuid:"));
/// ```
#[derive(Clone)]
pub struct EmbeddedHub {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for EmbeddedHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedHub")
            .field("url", &self.inner.config.url.as_str())
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) config: HubConfig,
    pub(crate) matchers: MatcherCache,
    pub(crate) publishers: Verifier,
    pub(crate) subscribers: Verifier,
    pub(crate) counters: Counters,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    slots: HashMap<u64, Slot>,
    next_key: u64,
}

struct Slot {
    entry: Arc<SubscriberEntry>,
    outbox: Arc<Outbox>,
}

impl Slot {
    fn close(&self, reason: CloseReason) {
        self.entry.close(reason);
        self.outbox.close();
    }
}

/// Subscribers written to by one task after a dispatch (the first batch
/// by the publishing thread itself): both cores share a large fan-out.
const FLUSH_BATCH: usize = 32;

/// Writes the events just queued to the subscribers on the lean path, in
/// batches spread over the workers of the runtime serving them (the first
/// batch on the publishing thread).
fn flush(mut outboxes: Vec<Arc<Outbox>>) {
    if outboxes.len() > FLUSH_BATCH
        && let Some(runtime) = outboxes[FLUSH_BATCH].runtime()
    {
        while outboxes.len() > FLUSH_BATCH {
            let batch = outboxes.split_off(outboxes.len() - FLUSH_BATCH);
            runtime.spawn(async move {
                for outbox in batch {
                    outbox.flush();
                }
            });
        }
    }
    for outbox in outboxes {
        outbox.flush();
    }
}

impl EmbeddedHub {
    /// Starts a hub with `config`.
    pub fn new(config: HubConfig) -> Self {
        mercure_core::crypto::install_default_provider();
        let matchers = MatcherCache::new(config.matcher_cache_size, config.url.clone());
        let verifier = |keys| {
            Verifier::new(
                keys,
                config.support,
                config.issuers.clone(),
                config.audience.clone(),
                Arc::clone(&config.clock),
            )
        };
        let publishers = verifier(config.publisher_keys.clone());
        let subscribers = verifier(config.subscriber_keys.clone());
        Self {
            inner: Arc::new(Inner {
                matchers,
                publishers,
                subscribers,
                counters: Counters::default(),
                state: Mutex::new(State::default()),
                config,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// Publishes `update` without HTTP and without a token (the embedding
    /// application is trusted), through the same validation and delivery
    /// path as the publish endpoint. Validation follows 1.0 rules unless
    /// the hub speaks 0.x only. Publishing an id already in history
    /// returns it without delivering the update again.
    ///
    /// # Errors
    /// [`Error::InvalidUpdate`] or [`Error::ReservedTopic`].
    pub fn publish(&self, update: &Update) -> Result<EventId, Error> {
        let dialect = if self.inner.config.support.accepts(ProtocolVersion::V1) {
            ProtocolVersion::V1
        } else {
            ProtocolVersion::V0
        };
        self.inner.validate(update, dialect)?;
        Ok(self.inner.dispatch(update))
    }

    /// Subscribes in-process, e.g. to serve a stream whose topics the
    /// server chose. The returned [`Subscription`] is the response body.
    ///
    /// # Errors
    /// [`Error::InvalidSubscribe`] without selectors, or
    /// [`Error::InvalidSelector`] for a selector that does not compile.
    pub fn subscribe(&self, request: SubscribeRequest) -> Result<Subscription, Error> {
        let dialect = request.dialect;
        let access = match &request.access {
            PrivateAccess::None => Access::None,
            PrivateAccess::All => Access::All,
            PrivateAccess::Selectors(selectors) => Access::Matchers(
                selectors
                    .iter()
                    .map(|s| {
                        self.inner
                            .matchers
                            .get(MatcherKind::of(s, dialect), s.expression())
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        self.inner.subscribe(request, access)
    }

    /// The active subscriptions (one per selector of each subscriber).
    pub fn subscriptions(&self) -> Vec<SubscriptionInfo> {
        let state = self.inner.lock();
        state
            .slots
            .values()
            .flat_map(|slot| slot.entry.infos())
            .collect()
    }

    /// Closes every subscriber for which `select` returns true when shown
    /// one of its subscriptions; returns how many were closed. A closed
    /// subscriber's stream ends at once (a client then reconnects with a
    /// fresh token).
    pub fn close_subscribers(&self, mut select: impl FnMut(&SubscriptionInfo) -> bool) -> usize {
        // `select` runs without the hub's lock held, so it may call the hub.
        let chosen: Vec<u64> = self
            .inner
            .snapshot()
            .iter()
            .filter(|entry| entry.infos().any(|info| select(&info)))
            .map(|entry| entry.key)
            .collect();
        let closed: Vec<Slot> = {
            let mut state = self.inner.lock();
            chosen
                .iter()
                .filter_map(|key| state.slots.remove(key))
                .collect()
        };
        for slot in &closed {
            slot.close(CloseReason::Closed);
        }
        closed.len()
    }

    /// Closes the subscriptions of `subject` (a token's `sub`) that select
    /// `topic`, after the application changed that subject's permission on
    /// it; returns how many subscribers were closed.
    pub fn permission_changed(&self, subject: &str, topic: &str) -> usize {
        let base = self.inner.matchers.base().clone();
        let matchers = &self.inner.matchers;
        self.close_subscribers(|info| {
            info.subject.as_deref() == Some(subject)
                && matchers
                    .get(
                        MatcherKind::of(&info.selector, info.dialect),
                        info.selector.expression(),
                    )
                    .is_ok_and(|m| m.matches(topic, &base))
        })
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        self.inner.counters.snapshot()
    }

    /// The id of the newest event in history.
    pub fn last_event_id(&self) -> Option<EventId> {
        let _state = self.inner.lock();
        self.inner
            .config
            .transport
            .last_id()
            .map(|id| EventId::new(id.to_string()))
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The dialect rules on top of those [`Update`] enforces.
    pub(crate) fn validate(&self, update: &Update, dialect: ProtocolVersion) -> Result<(), Error> {
        update.validate_for(dialect)?;
        let hub_path = self.config.url.path().trim_end_matches('/');
        // A hub served at the root of its origin has no namespace of its own
        // to protect: its subscription topics sit under `/subscriptions`.
        if dialect == ProtocolVersion::V1 && !hub_path.is_empty() {
            for topic in update.topics() {
                if let Ok(resolved) = self.config.url.join(topic) {
                    let path = resolved.path();
                    if path == hub_path
                        || path
                            .strip_prefix(hub_path)
                            .is_some_and(|rest| rest.starts_with('/'))
                    {
                        return Err(Error::ReservedTopic {
                            topic: topic.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Stores and delivers a validated update; returns its id.
    pub(crate) fn dispatch(&self, update: &Update) -> EventId {
        let id: Arc<str> = match update.id() {
            Some(id) => Arc::from(id),
            None => Arc::from(uuid::Uuid::new_v4().urn().to_string()),
        };
        let frame = mercure_core::sse::encode_event(
            &id,
            update.event_type(),
            update.retry(),
            update.data(),
        );
        let topics = TopicSet::new(Arc::from(update.topics()), self.config.url.clone());
        let event = Arc::new(Event::new(
            Arc::clone(&id),
            topics,
            update.is_private(),
            frame,
        ));
        let transport = &self.config.transport;
        let mut state = self.lock();
        if update.id().is_some() && transport.get(&id).is_some() {
            drop(state);
            Counters::add(&self.counters.updates_deduplicated);
            return EventId::new(id.to_string());
        }
        transport.store(Arc::clone(&event));
        let mut overflowed = Vec::new();
        let mut to_flush = Vec::new();
        let mut memo = MatchMemo::default();
        for (key, slot) in &state.slots {
            if slot.entry.wants(&event, &mut memo) {
                match slot.outbox.push(Arc::clone(&event)) {
                    Pushed::Queued | Pushed::Ended => {}
                    Pushed::Flush => to_flush.push(Arc::clone(&slot.outbox)),
                    Pushed::Full => overflowed.push(*key),
                }
            }
        }
        for key in overflowed {
            if let Some(slot) = state.slots.remove(&key) {
                slot.close(CloseReason::Overflow);
                Counters::add(&self.counters.subscribers_dropped);
                tracing::info!(subscriber = %slot.entry.id, "subscriber fell too far behind, closing its stream");
            }
        }
        drop(state);
        flush(to_flush);
        Counters::add(&self.counters.updates_published);
        tracing::debug!(id = %id, topics = update.topics().len(), private = update.is_private(), "update published");
        EventId::new(id.to_string())
    }

    pub(crate) fn subscribe(
        self: &Arc<Self>,
        request: SubscribeRequest,
        access: Access,
    ) -> Result<Subscription, Error> {
        if request.selectors.is_empty() {
            return Err(Error::InvalidSubscribe(
                "at least one topic selector is required".into(),
            ));
        }
        let dialect = request.dialect;
        let selectors = request
            .selectors
            .into_iter()
            .map(|selector| {
                let kind = MatcherKind::of(&selector, dialect);
                let matcher = self.matchers.get(kind, selector.expression())?;
                Ok((selector, kind, matcher))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let expires_in = match request.expires_at {
            Some(at) => Some(
                at.duration_since(self.config.clock.now())
                    .map_err(|_| Error::InvalidToken("the token has expired".into()))?,
            ),
            None => None,
        };
        let id: Arc<str> = Arc::from(uuid::Uuid::new_v4().urn().to_string());
        let outbox = Arc::new(Outbox::new(self.config.queue_capacity));
        let transport = &self.config.transport;

        let mut initial = BytesMut::new();
        initial.put_slice(crate::chunk::OPENING);
        let (entry, resumed_from) = {
            let mut state = self.lock();
            let key = state.next_key;
            state.next_key += 1;
            let entry = Arc::new(SubscriberEntry::new(
                key,
                Arc::clone(&id),
                request.subject,
                dialect,
                selectors,
                access,
                request.payload,
            ));
            let (replay, resumed_from) = match request.last_event_id.as_ref().map(EventId::as_str) {
                Some(mercure_core::EventId::EARLIEST) => (transport.all(), "earliest".to_owned()),
                Some(last) => match transport.after(last) {
                    Some(events) => (events, last.to_owned()),
                    None => (transport.all(), "earliest".to_owned()),
                },
                None => (
                    Vec::new(),
                    transport
                        .last_id()
                        .map_or_else(|| "earliest".to_owned(), |id| id.to_string()),
                ),
            };
            for event in replay.iter() {
                if !entry.wants(event, &mut MatchMemo::default()) {
                    continue;
                }
                initial.put_slice(event.frame());
            }
            state.slots.insert(
                key,
                Slot {
                    entry: Arc::clone(&entry),
                    outbox: Arc::clone(&outbox),
                },
            );
            (entry, resumed_from)
        };
        self.counters
            .subscribers_connected
            .fetch_add(1, Ordering::Relaxed);
        Counters::add(&self.counters.subscribers_total);
        tracing::debug!(subscriber = %id, dialect = %dialect, resumed_from = %resumed_from, "subscriber connected");
        self.announce(&entry, true);
        Ok(Subscription {
            hub: Arc::clone(self),
            entry,
            outbox,
            initial: Some(initial.freeze()),
            resumed_from,
            heartbeat_every: self.config.heartbeat,
            heartbeat: None,
            expires_in,
            expiry: None,
            started: false,
            done: false,
        })
    }

    /// Forgets a subscriber whose stream was dropped.
    pub(crate) fn unregister(&self, entry: &Arc<SubscriberEntry>) {
        self.lock().slots.remove(&entry.key);
        self.counters
            .subscribers_connected
            .fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(subscriber = %entry.id, "subscriber disconnected");
        if !entry.announced_inactive.swap(true, Ordering::AcqRel) {
            self.announce(entry, false);
        }
    }

    /// Publishes the subscription events of `entry`, when enabled.
    fn announce(&self, entry: &SubscriberEntry, active: bool) {
        if !self.config.subscriptions {
            return;
        }
        let hub_path = self.config.url.path();
        for (selector, _, _) in &entry.selectors {
            if let Some(update) = subscription_update(hub_path, entry, selector, active) {
                self.dispatch(&update);
            }
        }
    }

    /// The subscriptions of the active subscribers, with each subscriber's dialect.
    pub(crate) fn snapshot(&self) -> Vec<Arc<SubscriberEntry>> {
        self.lock()
            .slots
            .values()
            .map(|s| Arc::clone(&s.entry))
            .collect()
    }
}

fn subscription_update(
    hub_path: &str,
    entry: &SubscriberEntry,
    selector: &TopicSelector,
    active: bool,
) -> Option<Update> {
    let topic = subscription_topic(hub_path, entry.dialect, selector, &entry.id);
    let doc = subscription_document(
        hub_path,
        entry.dialect,
        selector,
        &entry.id,
        entry.payload.as_ref(),
        active,
    );
    let data = with_context(entry.dialect, doc).to_string();
    let mut builder = Update::builder(topic).data(data).private(true);
    if entry.dialect == ProtocolVersion::V1 {
        builder = builder.event_type("mercure");
    }
    builder.build().ok()
}
