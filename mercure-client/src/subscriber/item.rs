//! What a subscription yields: updates and connection events.

use std::time::Duration;

use crate::sse::ReceivedUpdate;
use crate::{Error, EventId};

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
    /// The hub refused the credentials (401) or their scope (403): the
    /// token is refreshed and the hub asked again at once. A refusal of the
    /// refreshed token, or a refresh that gives the refused token back,
    /// ends the stream with the refusal instead (see
    /// [`Subscriber`](crate::Subscriber)).
    Refused(Error),
    /// The hub is overloaded or failing (408, 429, 5xx).
    Unavailable(Error),
    /// The hub could not be reached, or the connection broke.
    Network(Error),
}

impl std::fmt::Display for ReconnectReason {
    /// One line: the reason, then each cause of the error, if any.
    ///
    /// ```
    /// use mercure_client::subscriber::ReconnectReason;
    ///
    /// assert_eq!(ReconnectReason::ReadTimeout.to_string(), "nothing arrived within the read timeout");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, error) = match self {
            ReconnectReason::Ended => return f.write_str("the hub ended the stream"),
            ReconnectReason::ReadTimeout => {
                return f.write_str("nothing arrived within the read timeout");
            }
            ReconnectReason::Refused(error) => ("the hub refused the credentials", error),
            ReconnectReason::Unavailable(error) => ("the hub is unavailable", error),
            ReconnectReason::Network(error) => ("the hub cannot be reached", error),
        };
        write!(f, "{what}: {error}")?;
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
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
