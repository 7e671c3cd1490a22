//! One decoded server-sent event: an update as a subscriber receives it.

use std::time::Duration;

use bytestring::ByteString;
use serde::de::DeserializeOwned;

use crate::EventId;

/// An update received from a hub (one dispatched server-sent event).
///
/// ```
/// use mercure_core::sse::SseDecoder;
///
/// #[derive(serde::Deserialize)]
/// struct Book { title: String }
///
/// let mut decoder = SseDecoder::new();
/// decoder.feed(b"id: urn:uuid:1\ndata: {\"title\": \"Dune\"}\n\n").unwrap();
/// let update = decoder.next_update().unwrap();
/// assert_eq!(update.event_type(), "message");
/// assert_eq!(update.json::<Book>().unwrap().title, "Dune");
/// ```
///
/// # Memory
///
/// Decoding does not copy an update's data or type when each came on one
/// line: the update shares the network chunk it arrived in (reference
/// counted [`bytes::Bytes`]) and keeps that chunk's buffer alive until it
/// is dropped. With reqwest that buffer is the connection's read buffer of
/// the moment (kilobytes, more under sustained load), shared by every
/// update read into it. Updates handled and dropped as they arrive hold
/// nothing for long; to keep updates for a long time (a cache, a history),
/// keep their [`ReceivedUpdate::into_owned`] copies, which hold only their
/// own bytes. Multi-line data and the id are always copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedUpdate {
    id: Option<EventId>,
    /// `None` for the default type, `message`.
    event_type: Option<ByteString>,
    data: ByteString,
    retry: Option<Duration>,
}

impl ReceivedUpdate {
    /// An update from its decoded parts.
    pub fn from_parts(
        id: Option<EventId>,
        event_type: Option<ByteString>,
        data: ByteString,
        retry: Option<Duration>,
    ) -> Self {
        Self {
            id,
            event_type,
            data,
            retry,
        }
    }

    /// The event id (the last id the stream set), if any.
    pub fn id(&self) -> Option<&EventId> {
        self.id.as_ref()
    }

    /// The event type: the update's `type`, `"message"` when it has none.
    pub fn event_type(&self) -> &str {
        self.event_type.as_deref().unwrap_or("message")
    }

    /// The data (lines joined with LF).
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The `retry` the event block carried, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Deserializes the data as JSON.
    ///
    /// # Errors
    /// The JSON error when the data is not a valid `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.data)
    }

    /// Takes the data.
    pub fn into_data(self) -> String {
        // Moves the buffer out when the update owns it alone, copies
        // otherwise.
        String::from(self.data)
    }

    /// The same update holding copies of its data and type, so that it no
    /// longer keeps the network chunk it was decoded from alive (see
    /// [Memory](ReceivedUpdate#memory)).
    ///
    /// ```
    /// use mercure_core::sse::SseDecoder;
    ///
    /// let mut decoder = SseDecoder::new();
    /// decoder.feed(b"event: book\ndata: {}\n\n").unwrap();
    /// let update = decoder.next_update().unwrap();
    /// let kept = update.clone().into_owned();
    /// assert_eq!(kept, update);
    /// ```
    #[must_use]
    pub fn into_owned(self) -> Self {
        Self {
            id: self.id,
            event_type: self.event_type.map(|ty| ByteString::from(&*ty)),
            data: ByteString::from(&*self.data),
            retry: self.retry,
        }
    }
}
