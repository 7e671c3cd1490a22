//! Test doubles for application code that publishes.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::BoxFuture;

use crate::{EventId, ProtocolVersion, Publisher, Result, Update};

type Responder = dyn Fn(&Update) -> Result<EventId> + Send + Sync;

/// A publisher answering with a closure: assert on the update, return an
/// id or any [`Error`](crate::Error) to exercise the caller's error paths.
///
/// ```
/// use mercure_client::{Error, EventId, Publisher, Update, testing::MockHub};
///
/// let hub = MockHub::new(|update| {
///     assert_eq!(update.topic(), "https://example.com/books/1");
///     Ok(EventId::new("id-1"))
/// });
/// let update = Update::new("https://example.com/books/1", "{}").unwrap();
/// let id = futures_util::FutureExt::now_or_never(hub.publish(&update)).unwrap().unwrap();
/// assert_eq!(id, "id-1");
/// ```
#[derive(Clone)]
pub struct MockHub {
    respond: Arc<Responder>,
    version: ProtocolVersion,
}

impl MockHub {
    /// A mock whose every publish calls `respond`.
    pub fn new<F>(respond: F) -> Self
    where
        F: Fn(&Update) -> Result<EventId> + Send + Sync + 'static,
    {
        Self {
            respond: Arc::new(respond),
            version: ProtocolVersion::default(),
        }
    }

    /// Validates updates against `version`'s rules, as a real hub would
    /// (default 0.x).
    #[must_use]
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.version = version;
        self
    }
}

impl fmt::Debug for MockHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockHub")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Publisher for MockHub {
    fn publish<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<EventId>> {
        let result = update
            .validate_for(self.version)
            .map_err(Into::into)
            .and_then(|()| (self.respond)(update));
        Box::pin(std::future::ready(result))
    }
}

/// A publisher that keeps every update it is given, for assertions, and
/// answers with sequential ids (or the update's own id). Clones share the
/// record.
///
/// ```
/// use mercure_client::{Publisher, Update, testing::RecordingHub};
///
/// let hub = RecordingHub::new();
/// let update = Update::new("https://example.com/books/1", "{}").unwrap();
/// futures_util::FutureExt::now_or_never(hub.publish(&update)).unwrap().unwrap();
/// assert_eq!(hub.published(), vec![update]);
/// assert_eq!(hub.published_to("https://example.com/books/1").len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct RecordingHub {
    record: Arc<Mutex<Vec<Update>>>,
    counter: Arc<AtomicU64>,
    version: ProtocolVersion,
}

impl RecordingHub {
    /// An empty recording hub.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates updates against `version`'s rules (default 0.x).
    #[must_use]
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.version = version;
        self
    }

    /// Everything published so far, in order.
    pub fn published(&self) -> Vec<Update> {
        self.lock().clone()
    }

    /// The updates whose topics include `topic`.
    pub fn published_to(&self, topic: &str) -> Vec<Update> {
        self.lock()
            .iter()
            .filter(|u| u.topics().iter().any(|t| t == topic))
            .cloned()
            .collect()
    }

    /// The last update published.
    pub fn last(&self) -> Option<Update> {
        self.lock().last().cloned()
    }

    /// Forgets the record.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Update>> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for RecordingHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingHub")
            .field("published", &self.lock().len())
            .field("version", &self.version)
            .finish()
    }
}

impl Publisher for RecordingHub {
    fn publish<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<EventId>> {
        let result = update
            .validate_for(self.version)
            .map_err(Into::into)
            .map(|()| {
                let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
                self.lock().push(update.clone());
                update.id().map_or_else(
                    || EventId::new(format!("urn:mercure-rs:recorded:{n}")),
                    EventId::new,
                )
            });
        Box::pin(std::future::ready(result))
    }
}
