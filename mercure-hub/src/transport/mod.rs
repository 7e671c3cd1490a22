//! Where the hub's events live: the transport owns the hub-wide order of
//! events (it gives each its [`Cursor`]), keeps their history, replays it
//! in pages, and feeds every appended event, in order, to the hub's
//! delivery ([`Feed`]).
//!
//! [`MemoryTransport`] keeps a bounded history in memory (the default of
//! an embedded hub); [`DurableTransport`] keeps it in a file (the default
//! of the standalone binary).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use crate::dispatch::Feed;
use crate::event::{Cursor, Event};

#[cfg(feature = "durable")]
mod durable;
mod memory;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "durable")]
pub use durable::{DurableOptions, DurableTransport};
pub use memory::MemoryTransport;
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisTransport};

/// The future a [`Transport`] method returns.
pub type TransportFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, TransportError>> + Send + 'a>>;

/// Storage and ordering of the hub's events.
///
/// The contract, which the hub's delivery relies on:
/// - [`Transport::append`] gives the event a cursor greater than every
///   cursor given before, stores it (once it resolves, the event survives
///   whatever the transport promises to survive: a durable transport has
///   it on disk), pushes it to every [`Feed`] it was started with, and
///   then calls [`Feed::deliver`] on each, holding none of its own locks.
///   Events are pushed in cursor order, each once, and only once stored.
/// - Events appended elsewhere (another hub sharing the storage) are
///   pushed and delivered the same way, in the same order.
/// - [`Transport::find`] and [`Transport::page`] only see stored events.
/// - Nothing is held in memory per call beyond what a page returns.
///
/// Methods are called concurrently, from any task, never under a lock of
/// the hub.
pub trait Transport: Send + Sync + fmt::Debug + 'static {
    /// Hands the transport the feed of a hub's delivery; returns the
    /// newest event already stored (the hub's live delivery starts after
    /// it). Called by each hub the transport serves, before it appends.
    fn start(&self, feed: Feed) -> Option<Arc<Event>>;

    /// Appends `event` (its cursor is [`Cursor::ZERO`]); resolves to the
    /// event at its cursor once stored.
    fn append(&self, event: Event) -> TransportFuture<'_, Arc<Event>>;

    /// The earliest stored event with this id.
    fn find(&self, id: &str) -> TransportFuture<'_, Option<Arc<Event>>>;

    /// The stored events of `page`, oldest first.
    fn page(&self, page: Page) -> TransportFuture<'_, Vec<Arc<Event>>>;

    /// Finishes the appends under way and releases the storage cleanly
    /// (the standalone hub calls it as it shuts down); later appends fail.
    /// Nothing to do by default.
    fn close(&self) -> TransportFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// The operations across the hub instances sharing this transport's
    /// storage (presence, commands), when it is shared; `None` (the
    /// default): the hubs it serves are the only ones, and the hub's
    /// cluster-wide operations are its local ones.
    fn cluster(&self) -> Option<&dyn crate::Cluster> {
        None
    }
}

/// A page of history to read: the events with `after < cursor <= up_to`,
/// oldest first, at most `max_events` of them and, past the first, at most
/// `max_bytes` of [`Event::size`] in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// Where the page starts (exclusive); `None`: at the oldest event held.
    pub after: Option<Cursor>,
    /// Where it ends (inclusive).
    pub up_to: Cursor,
    /// Most events returned.
    pub max_events: usize,
    /// Most bytes returned, unless a single event is larger.
    pub max_bytes: usize,
}

impl Page {
    /// The page of at most `max_events` events and `max_bytes` bytes
    /// after `after`, up to `up_to`.
    pub fn new(after: Option<Cursor>, up_to: Cursor, max_events: usize, max_bytes: usize) -> Self {
        Self {
            after,
            up_to,
            max_events: max_events.max(1),
            max_bytes,
        }
    }

    /// Whether `event` lies in the page's range.
    pub fn contains(&self, cursor: Cursor) -> bool {
        self.after.is_none_or(|after| cursor > after) && cursor <= self.up_to
    }

    /// Takes events while the page has room: call with each candidate in
    /// order and the bytes taken so far; false once the page is full.
    pub fn has_room(&self, taken: usize, bytes: usize) -> bool {
        taken == 0 || (taken < self.max_events && bytes < self.max_bytes)
    }
}

/// Why a transport failed. Publishing answers 503 and nothing is
/// acknowledged; a subscriber's stream ends (it resumes from its last
/// event id).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// An error described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error described by `message`, caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

impl From<TransportError> for crate::Error {
    fn from(error: TransportError) -> Self {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        crate::Error::Unavailable(message)
    }
}
