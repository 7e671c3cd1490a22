//! Updates: what a publisher sends to a hub.

use std::sync::Arc;
use std::time::Duration;

use crate::text::first_forbidden;
use crate::{EventId, ProtocolVersion};

/// Why an [`Update`] cannot be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// The update has no topic.
    #[error("an update needs at least one topic")]
    NoTopic,
    /// A topic is the empty string.
    #[error("topic #{index} is empty")]
    EmptyTopic {
        /// Position of the topic (0 is the canonical topic).
        index: usize,
    },
    /// `*` was used as a topic, which 1.0 reserves as the wildcard matcher.
    #[error("topic #{index} is \"*\", which protocol {version} reserves as the wildcard")]
    WildcardTopic {
        /// Position of the topic.
        index: usize,
        /// The dialect that forbids it.
        version: ProtocolVersion,
    },
    /// The id is empty: an event without an id cannot be resumed from, so
    /// an update either names a non-empty id or lets the hub make one.
    #[error("the id is empty: leave it out to let the hub generate one")]
    EmptyId,
    /// The id is reserved: it starts with `#` (hub-generated ids) or equals `earliest`.
    #[error("the id {id:?} is reserved: ids may not start with '#' nor equal \"earliest\"")]
    ReservedId {
        /// The offending id.
        id: String,
    },
    /// The event type is reserved by the dialect (`mercure` in 1.0).
    #[error("the event type {kind:?} is reserved by protocol {version}")]
    ReservedType {
        /// The offending type.
        kind: String,
        /// The dialect that reserves it.
        version: ProtocolVersion,
    },
    /// A field holds a control or invisible Unicode format character.
    #[error("the {field} field contains the forbidden character U+{code:04X}")]
    ForbiddenCharacter {
        /// Which field (`topic`, `id` or `type`; `selector` for
        /// [`TopicSelector`](crate::TopicSelector)s checked by a hub).
        field: &'static str,
        /// The code point.
        code: u32,
    },
}

/// An update to publish: immutable, cheap to clone, built with [`Update::builder`].
///
/// The first topic is canonical, the others are alternates (a private update
/// reaches a subscriber authorized for any one of them).
///
/// ```
/// use mercure_core::Update;
///
/// let update = Update::builder("https://example.com/books/1")
///     .alternate("https://example.com/users/42/books")
///     .data(r#"{"status": "out of stock"}"#)
///     .private(true)
///     .build()
///     .unwrap();
/// assert_eq!(update.topics().len(), 2);
/// assert_eq!(
///     update.to_form(),
///     "topic=https%3A%2F%2Fexample.com%2Fbooks%2F1\
///      &topic=https%3A%2F%2Fexample.com%2Fusers%2F42%2Fbooks\
///      &data=%7B%22status%22%3A+%22out+of+stock%22%7D&private=on"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    inner: Arc<UpdateInner>,
}

#[derive(Debug, PartialEq, Eq)]
struct UpdateInner {
    topics: Vec<String>,
    data: Option<String>,
    private: bool,
    id: Option<String>,
    kind: Option<String>,
    retry: Option<u64>,
}

impl Update {
    /// Starts an update for its canonical topic.
    pub fn builder(topic: impl Into<String>) -> UpdateBuilder {
        UpdateBuilder {
            topics: vec![topic.into()],
            data: None,
            private: false,
            id: None,
            kind: None,
            retry: None,
        }
    }

    /// A public update of one topic carrying `data`.
    ///
    /// # Errors
    /// As [`UpdateBuilder::build`].
    pub fn new(topic: impl Into<String>, data: impl Into<String>) -> Result<Self, UpdateError> {
        Self::builder(topic).data(data).build()
    }

    /// All topics, the canonical one first.
    pub fn topics(&self) -> &[String] {
        &self.inner.topics
    }

    /// The canonical topic.
    pub fn topic(&self) -> &str {
        &self.inner.topics[0]
    }

    /// The payload (empty when none was set).
    pub fn data(&self) -> &str {
        self.inner.data.as_deref().unwrap_or_default()
    }

    /// Whether a payload was set (possibly empty): only then is a `data`
    /// field sent.
    pub fn has_data(&self) -> bool {
        self.inner.data.is_some()
    }

    /// Whether only authorized subscribers may receive it.
    pub fn is_private(&self) -> bool {
        self.inner.private
    }

    /// The id chosen by the publisher, if any.
    pub fn id(&self) -> Option<&str> {
        self.inner.id.as_deref()
    }

    /// The SSE event type, if any.
    pub fn event_type(&self) -> Option<&str> {
        self.inner.kind.as_deref()
    }

    /// The reconnection delay to advertise to subscribers, in milliseconds.
    pub fn retry(&self) -> Option<u64> {
        self.inner.retry
    }

    /// Checks the rules that depend on the dialect (on top of those checked
    /// by [`UpdateBuilder::build`]).
    ///
    /// # Errors
    /// [`UpdateError::WildcardTopic`] or [`UpdateError::ReservedType`] in 1.0.
    pub fn validate_for(&self, version: ProtocolVersion) -> Result<(), UpdateError> {
        let dialect = version.dialect();
        if !dialect.wildcard_topic_publishable
            && let Some(index) = self.inner.topics.iter().position(|t| t == "*")
        {
            return Err(UpdateError::WildcardTopic { index, version });
        }
        if version == ProtocolVersion::V1 && self.inner.kind.as_deref() == Some("mercure") {
            return Err(UpdateError::ReservedType {
                kind: "mercure".into(),
                version,
            });
        }
        Ok(())
    }

    /// The `application/x-www-form-urlencoded` body of the publish request:
    /// one `topic=` per topic, then `data` (when set, even if empty),
    /// `private=on`, `id`, `type` and `retry`, leaving absent fields out.
    pub fn to_form(&self) -> String {
        let inner = &*self.inner;
        let mut form = url::form_urlencoded::Serializer::new(String::with_capacity(
            64 + inner.data.as_ref().map_or(0, String::len)
                + inner.topics.iter().map(String::len).sum::<usize>(),
        ));
        for topic in &inner.topics {
            form.append_pair("topic", topic);
        }
        if let Some(data) = &inner.data {
            form.append_pair("data", data);
        }
        if inner.private {
            form.append_pair("private", "on");
        }
        if let Some(id) = &inner.id {
            form.append_pair("id", id);
        }
        if let Some(kind) = &inner.kind {
            form.append_pair("type", kind);
        }
        if let Some(retry) = inner.retry {
            form.append_pair("retry", &retry.to_string());
        }
        form.finish()
    }
}

/// Builds an [`Update`]; see [`Update::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct UpdateBuilder {
    topics: Vec<String>,
    data: Option<String>,
    private: bool,
    id: Option<String>,
    kind: Option<String>,
    retry: Option<u64>,
}

impl UpdateBuilder {
    /// Adds an alternate topic.
    pub fn alternate(mut self, topic: impl Into<String>) -> Self {
        self.topics.push(topic.into());
        self
    }

    /// Adds several alternate topics.
    pub fn alternates<I, T>(mut self, topics: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.topics.extend(topics.into_iter().map(Into::into));
        self
    }

    /// Sets the payload (sent as a `data` field even when empty).
    pub fn data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Serializes `value` as JSON into the payload.
    ///
    /// # Errors
    /// When `value` cannot be serialized.
    pub fn json<T: serde::Serialize + ?Sized>(
        mut self,
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        self.data = Some(serde_json::to_string(value)?);
        Ok(self)
    }

    /// Marks the update private (or public).
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// Sets the id instead of letting the hub generate one.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the SSE event type.
    pub fn event_type(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// Sets the reconnection delay advertised to subscribers.
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(u64::try_from(retry.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Validates and freezes the update.
    ///
    /// # Errors
    /// [`UpdateError`] when a topic is empty, the id is empty or reserved, or a topic,
    /// the id or the type holds a control or format character. Dialect rules
    /// are checked by [`Update::validate_for`] (and by every publish).
    pub fn build(self) -> Result<Update, UpdateError> {
        if self.topics.is_empty() {
            return Err(UpdateError::NoTopic);
        }
        for (index, topic) in self.topics.iter().enumerate() {
            if topic.is_empty() {
                return Err(UpdateError::EmptyTopic { index });
            }
            check_chars("topic", topic)?;
        }
        if let Some(id) = &self.id {
            if id.is_empty() {
                return Err(UpdateError::EmptyId);
            }
            if id.starts_with('#') || id == EventId::EARLIEST {
                return Err(UpdateError::ReservedId { id: id.clone() });
            }
            check_chars("id", id)?;
        }
        if let Some(kind) = &self.kind {
            check_chars("type", kind)?;
        }
        Ok(Update {
            inner: Arc::new(UpdateInner {
                topics: self.topics,
                data: self.data,
                private: self.private,
                id: self.id,
                kind: self.kind,
                retry: self.retry,
            }),
        })
    }
}

fn check_chars(field: &'static str, value: &str) -> Result<(), UpdateError> {
    match first_forbidden(value) {
        Some(c) => Err(UpdateError::ForbiddenCharacter {
            field,
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_updates() {
        let cases: Vec<(UpdateBuilder, UpdateError)> = vec![
            (
                Update::builder("").data("x"),
                UpdateError::EmptyTopic { index: 0 },
            ),
            (
                Update::builder("a").alternate(""),
                UpdateError::EmptyTopic { index: 1 },
            ),
            (
                Update::builder("a").id("#1"),
                UpdateError::ReservedId { id: "#1".into() },
            ),
            (Update::builder("a").id(""), UpdateError::EmptyId),
            (
                Update::builder("a").id("earliest"),
                UpdateError::ReservedId {
                    id: "earliest".into(),
                },
            ),
            (
                Update::builder("a\nb"),
                UpdateError::ForbiddenCharacter {
                    field: "topic",
                    code: 0x0a,
                },
            ),
            (
                Update::builder("a").id("1\r2"),
                UpdateError::ForbiddenCharacter {
                    field: "id",
                    code: 0x0d,
                },
            ),
            (
                Update::builder("a").event_type("x\ndata: injected"),
                UpdateError::ForbiddenCharacter {
                    field: "type",
                    code: 0x0a,
                },
            ),
            (
                Update::builder("a\u{202E}"),
                UpdateError::ForbiddenCharacter {
                    field: "topic",
                    code: 0x202E,
                },
            ),
            (
                Update::builder("a").id("x\u{0}"),
                UpdateError::ForbiddenCharacter {
                    field: "id",
                    code: 0,
                },
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(builder.build().unwrap_err(), expected);
        }
    }

    #[test]
    fn data_may_hold_line_breaks() {
        let update = Update::new("a", "line 1\r\nline 2\rline 3\n").unwrap();
        assert_eq!(update.data(), "line 1\r\nline 2\rline 3\n");
    }

    #[test]
    fn dialect_rules() {
        let wildcard = Update::new("*", "x").unwrap();
        assert!(wildcard.validate_for(ProtocolVersion::V0).is_ok());
        assert_eq!(
            wildcard.validate_for(ProtocolVersion::V1),
            Err(UpdateError::WildcardTopic {
                index: 0,
                version: ProtocolVersion::V1
            })
        );
        let reserved = Update::builder("a").event_type("mercure").build().unwrap();
        assert!(reserved.validate_for(ProtocolVersion::V0).is_ok());
        assert!(matches!(
            reserved.validate_for(ProtocolVersion::V1),
            Err(UpdateError::ReservedType { .. })
        ));
    }

    #[test]
    fn form_leaves_absent_fields_out() {
        assert_eq!(
            Update::builder("a b").build().unwrap().to_form(),
            "topic=a+b"
        );
        assert_eq!(Update::new("a b", "").unwrap().to_form(), "topic=a+b&data=");
        let full = Update::builder("https://example.com/a?x=1&y=2")
            .alternate("/users/é")
            .data("a=b&c\nd")
            .private(true)
            .id("urn:uuid:1")
            .event_type("changed")
            .retry(Duration::from_millis(2500))
            .build()
            .unwrap();
        assert_eq!(
            full.to_form(),
            "topic=https%3A%2F%2Fexample.com%2Fa%3Fx%3D1%26y%3D2&topic=%2Fusers%2F%C3%A9\
             &data=a%3Db%26c%0Ad&private=on&id=urn%3Auuid%3A1&type=changed&retry=2500"
        );
    }
}
