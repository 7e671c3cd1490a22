//! What a token allows: the Mercure part of its claims, dialect-neutral,
//! and its encoding in each dialect (decoding is in `claims.rs`).

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::{ProtocolVersion, TopicSelector};

/// The authorization detail type of Mercure 1.0 grants.
pub const AUTHORIZATION_DETAIL_TYPE: &str = "https://mercure.rocks/authorization-detail";

/// The rights a token carries: topics it may publish to, topics whose
/// private updates it may receive, and the subscriber payload the hub
/// exposes through the subscriptions API.
///
/// The same value mints a 0.x token (`mercure` claim) or a 1.0 token
/// (`authorization_details`), and is what [`Claims::grants`] reads back
/// from a verified token of either dialect.
///
/// [`Claims::grants`]: super::Claims::grants
///
/// ```
/// use mercure_core::TopicSelector;
/// use mercure_core::token::Grants;
///
/// let grants = Grants::new()
///     .publish(["https://example.com/books/1"])
///     .subscribe([TopicSelector::pattern("https://example.com/users/42/{+rest}")])
///     .with_payload(serde_json::json!({"user": 42}))
///     .with_subject("user-42");
/// assert_eq!(grants.subscribe_selectors().len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct Grants {
    pub(super) publish: Vec<TopicSelector>,
    pub(super) subscribe: Vec<TopicSelector>,
    pub(super) payload: Option<serde_json::Value>,
    pub(super) subject: Option<String>,
}

impl Grants {
    /// No rights at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// A publisher allowed on every topic.
    pub fn publish_all() -> Self {
        Self::new().publish([TopicSelector::all()])
    }

    /// A subscriber allowed on every topic.
    pub fn subscribe_all() -> Self {
        Self::new().subscribe([TopicSelector::all()])
    }

    /// Adds topics the holder may publish to.
    pub fn publish<I, S>(mut self, selectors: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<TopicSelector>,
    {
        self.publish.extend(selectors.into_iter().map(Into::into));
        self
    }

    /// Adds topics whose private updates the holder may receive.
    pub fn subscribe<I, S>(mut self, selectors: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<TopicSelector>,
    {
        self.subscribe.extend(selectors.into_iter().map(Into::into));
        self
    }

    /// Sets the subscriber payload (any JSON value).
    pub fn with_payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Sets the `sub` claim (the subscriber or publisher identity).
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The publish selectors.
    pub fn publish_selectors(&self) -> &[TopicSelector] {
        &self.publish
    }

    /// The subscribe selectors.
    pub fn subscribe_selectors(&self) -> &[TopicSelector] {
        &self.subscribe
    }

    /// The subscriber payload.
    pub fn payload(&self) -> Option<&serde_json::Value> {
        self.payload.as_ref()
    }

    /// The `sub` claim.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The Mercure part of the claims as `version` spells it: the value of
    /// the `mercure` claim (0.x) or of `authorization_details` (1.0).
    pub fn to_claim(&self, version: ProtocolVersion) -> serde_json::Value {
        // Serializing our own Serialize impl into a Value cannot fail.
        serde_json::to_value(MercureClaim {
            grants: self,
            version,
        })
        .unwrap_or_default()
    }
}

/// Serializes grants in a dialect's shape without building JSON values.
pub(crate) struct MercureClaim<'a> {
    pub(crate) grants: &'a Grants,
    pub(crate) version: ProtocolVersion,
}

impl Serialize for MercureClaim<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let grants = self.grants;
        let version = self.version;
        match version {
            ProtocolVersion::V0 => {
                let mut map = serializer.serialize_map(None)?;
                if !grants.publish.is_empty() {
                    map.serialize_entry("publish", &Selectors(&grants.publish, version))?;
                }
                if !grants.subscribe.is_empty() {
                    map.serialize_entry("subscribe", &Selectors(&grants.subscribe, version))?;
                }
                if let Some(payload) = &grants.payload {
                    map.serialize_entry("payload", payload)?;
                }
                map.end()
            }
            ProtocolVersion::V1 => {
                let details = usize::from(!grants.publish.is_empty())
                    + usize::from(!grants.subscribe.is_empty());
                let mut seq = serializer.serialize_seq(Some(details))?;
                if !grants.publish.is_empty() {
                    seq.serialize_element(&Detail {
                        action: "publish",
                        topics: &grants.publish,
                        payload: None,
                    })?;
                }
                if !grants.subscribe.is_empty() {
                    seq.serialize_element(&Detail {
                        action: "subscribe",
                        topics: &grants.subscribe,
                        payload: grants.payload.as_ref(),
                    })?;
                }
                seq.end()
            }
        }
    }
}

struct Detail<'a> {
    action: &'static str,
    topics: &'a [TopicSelector],
    payload: Option<&'a serde_json::Value>,
}

impl Serialize for Detail<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", AUTHORIZATION_DETAIL_TYPE)?;
        map.serialize_entry("actions", &[self.action])?;
        map.serialize_entry("topics", &Selectors(self.topics, ProtocolVersion::V1))?;
        if let Some(payload) = self.payload {
            map.serialize_entry("payload", payload)?;
        }
        map.end()
    }
}

struct Selectors<'a>(&'a [TopicSelector], ProtocolVersion);

impl Serialize for Selectors<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for selector in self.0 {
            match self.1 {
                ProtocolVersion::V0 => seq.serialize_element(selector.expression())?,
                ProtocolVersion::V1 => seq.serialize_element(&MatcherObject(selector))?,
            }
        }
        seq.end()
    }
}

struct MatcherObject<'a>(&'a TopicSelector);

impl Serialize for MatcherObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pattern = self.0.match_type() == crate::MatchType::Pattern;
        let mut map = serializer.serialize_map(Some(1 + usize::from(pattern)))?;
        map.serialize_entry("match", self.0.expression())?;
        if pattern {
            map.serialize_entry("match_type", "urlpattern")?;
        }
        map.end()
    }
}
