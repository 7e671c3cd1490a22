//! What a subscription yields: updates and connection events.

use std::time::Duration;

use bytestring::ByteString;
use serde::de::DeserializeOwned;

use crate::{Error, EventId};

/// An update received from a hub (one dispatched server-sent event).
///
/// ```
/// use mercure_client::SseDecoder;
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
    pub(crate) fn from_parts(
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
    /// use mercure_client::SseDecoder;
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

/// One item of a [`Subscriber`](crate::Subscriber) stream.
#[derive(Debug)]
#[non_exhaustive]
pub enum SubscriberEvent {
    /// An update.
    Update(ReceivedUpdate),
    /// A connection to the hub was established.
    Connected(Connected),
    /// The connection is lost or was refused; the next attempt starts after
    /// `delay`.
    Reconnecting(Reconnecting),
    /// The hub's history did not reach back to the id asked for: updates
    /// published meanwhile may be missing (re-fetch the resources).
    EventsLost(EventsLost),
}

impl SubscriberEvent {
    /// The update, if this is one.
    pub fn as_update(&self) -> Option<&ReceivedUpdate> {
        match self {
            SubscriberEvent::Update(update) => Some(update),
            _ => None,
        }
    }

    /// The update, if this is one.
    pub fn into_update(self) -> Option<ReceivedUpdate> {
        match self {
            SubscriberEvent::Update(update) => Some(update),
            _ => None,
        }
    }
}

/// A connection was established (status 200, `text/event-stream`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Connected {
    /// The number of the attempt that connected, counted from 1 since the
    /// previous connection.
    pub attempt: u32,
    /// The id sent in `Last-Event-ID`, if any.
    pub requested: Option<EventId>,
    /// What the hub reported in its resume header (`Last-Event-ID` in 0.x,
    /// `Mercure-Last-Event-ID` in 1.0): the id the stream resumes after, or
    /// `earliest`.
    pub resumed_from: Option<EventId>,
}

/// A reconnection is scheduled.
#[derive(Debug)]
#[non_exhaustive]
pub struct Reconnecting {
    /// How long until the next attempt.
    pub delay: Duration,
    /// Why.
    pub reason: ReconnectReason,
    /// How many attempts in a row have failed (0 when a healthy stream ended).
    pub failures: u32,
}

/// Why a subscriber reconnects.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReconnectReason {
    /// The hub ended the stream (token expiry, write timeout, restart).
    Ended,
    /// Nothing, not even a heartbeat, arrived within the read timeout.
    ReadTimeout,
    /// The hub refused the credentials (401) or their scope (403); the
    /// token has been refreshed once.
    Refused(Error),
    /// The hub is overloaded or failing (408, 429, 5xx).
    Unavailable(Error),
    /// The hub could not be reached, or the connection broke.
    Network(Error),
}

/// The hub could not resume from the id asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventsLost {
    /// The id sent in `Last-Event-ID`.
    pub requested: EventId,
    /// The id the hub resumed after (`earliest` when its history no longer
    /// holds the requested one).
    pub resumed_from: EventId,
}
