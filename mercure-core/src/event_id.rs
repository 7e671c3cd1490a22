//! The identifier of a published update.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id a hub assigned to (or accepted for) an update: the SSE `id` and
/// the reconciliation cursor.
///
/// ```
/// use mercure_core::EventId;
///
/// let id = EventId::new("urn:uuid:5e94c686-2c0b-4f9b-958c-92ccc3bbb4eb");
/// assert_eq!(id.as_str(), "urn:uuid:5e94c686-2c0b-4f9b-958c-92ccc3bbb4eb");
/// assert!(EventId::earliest().is_earliest());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    /// The reserved cursor asking a hub for every event it still holds.
    pub const EARLIEST: &'static str = "earliest";

    /// The reserved `earliest` cursor as an id.
    pub fn earliest() -> Self {
        Self(Self::EARLIEST.to_owned())
    }

    /// Wraps an id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the reserved `earliest` cursor.
    pub fn is_earliest(&self) -> bool {
        self.0 == Self::EARLIEST
    }

    /// Consumes the id, returning its text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EventId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<String> for EventId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl From<&str> for EventId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl PartialEq<str> for EventId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for EventId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}
