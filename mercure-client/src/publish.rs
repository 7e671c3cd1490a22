//! Publishing in the background: request handlers enqueue and return at
//! once; a worker publishes in order, retrying what may succeed later.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::{Error, Publisher, Update};

/// Why an update was not accepted by a [`PublishQueue`]. The update is
/// handed back: nothing is dropped silently.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The queue holds `capacity` updates already.
    #[error("the publish queue is full")]
    Full(Update),
    /// The queue was shut down.
    #[error("the publish queue is closed")]
    Closed(Update),
}

impl QueueError {
    /// The update that was not enqueued.
    pub fn into_update(self) -> Update {
        match self {
            QueueError::Full(update) | QueueError::Closed(update) => update,
        }
    }
}

/// [`PublishQueueBuilder::spawn`] was called outside a Tokio runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a publish queue needs a Tokio runtime: call spawn inside one, or spawn_on with a handle")]
pub struct NoRuntime;

/// Counters of a [`PublishQueue`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Updates accepted by the hub.
    pub published: u64,
    /// Attempts retried after a retryable error.
    pub retries: u64,
    /// Updates given up on (non-retryable error or attempts exhausted);
    /// each was reported to the failure handler.
    pub failed: u64,
}

type FailureHandler = dyn Fn(&Update, &Error) + Send + Sync;

/// Configures a [`PublishQueue`]; see [`PublishQueue::builder`].
#[must_use]
pub struct PublishQueueBuilder {
    capacity: usize,
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    on_failure: Option<Arc<FailureHandler>>,
}

impl fmt::Debug for PublishQueueBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishQueueBuilder")
            .field("capacity", &self.capacity)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish_non_exhaustive()
    }
}

impl PublishQueueBuilder {
    /// How many updates may wait (default 1024).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Attempts per update, the first included (default 5).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Delay before the first retry, doubled after each (default 100 ms,
    /// capped by [`PublishQueueBuilder::max_backoff`]).
    pub fn initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// Longest delay between two attempts (default 10 s).
    pub fn max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// Called with every update given up on, and why (besides a
    /// `tracing` warning).
    pub fn on_failure(mut self, handler: impl Fn(&Update, &Error) + Send + Sync + 'static) -> Self {
        self.on_failure = Some(Arc::new(handler));
        self
    }

    /// Starts the worker on the current Tokio runtime.
    ///
    /// # Errors
    /// [`NoRuntime`] when called outside a Tokio runtime; use
    /// [`PublishQueueBuilder::spawn_on`] with a runtime handle there.
    pub fn spawn<P: Publisher + 'static>(self, publisher: P) -> Result<PublishQueue, NoRuntime> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| NoRuntime)?;
        Ok(self.spawn_on(&handle, publisher))
    }

    /// Starts the worker on the runtime behind `handle` (from any thread,
    /// inside a runtime or not).
    ///
    /// ```
    /// use mercure_client::publish::PublishQueue;
    /// use mercure_client::testing::RecordingHub;
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let queue = PublishQueue::builder().spawn_on(runtime.handle(), RecordingHub::new());
    /// assert_eq!(queue.stats().published, 0);
    /// ```
    pub fn spawn_on<P: Publisher + 'static>(
        self,
        handle: &tokio::runtime::Handle,
        publisher: P,
    ) -> PublishQueue {
        let (sender, receiver) = mpsc::channel(self.capacity);
        let counters = Arc::new(Counters::default());
        let shutdown = Arc::new(Notify::new());
        let worker = Worker {
            shutdown: Arc::clone(&shutdown),
            publisher,
            receiver,
            counters: Arc::clone(&counters),
            max_attempts: self.max_attempts,
            initial_backoff: self.initial_backoff,
            max_backoff: self.max_backoff,
            on_failure: self.on_failure,
        };
        let task = handle.spawn(worker.run());
        PublishQueue {
            sender,
            counters,
            shutdown,
            task: Arc::new(tokio::sync::Mutex::new(Some(task))),
        }
    }
}

/// A bounded queue of updates published in order by a background task.
///
/// `try_enqueue` never waits (a full queue hands the update back);
/// `enqueue` waits for room. Retryable errors
/// ([`Error::is_retryable`]) are retried with exponential backoff; an update
/// that cannot be published is reported to the failure handler and counted,
/// never dropped silently. Cheap to clone.
///
/// ```
/// use mercure_client::publish::PublishQueue;
/// use mercure_client::{Update, testing::RecordingHub};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let hub = RecordingHub::new();
/// let queue = PublishQueue::builder().spawn(hub.clone()).unwrap();
/// queue.try_enqueue(Update::new("https://example.com/books/1", "{}").unwrap()).unwrap();
/// queue.shutdown().await; // drains what is queued
/// assert_eq!(hub.published().len(), 1);
/// # }
/// ```
#[derive(Clone)]
pub struct PublishQueue {
    sender: mpsc::Sender<Update>,
    counters: Arc<Counters>,
    shutdown: Arc<Notify>,
    task: Arc<tokio::sync::Mutex<Option<JoinHandle<()>>>>,
}

impl fmt::Debug for PublishQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishQueue")
            .field("pending", &self.pending())
            .field("stats", &self.stats())
            .finish()
    }
}

impl PublishQueue {
    /// A builder with the defaults.
    pub fn builder() -> PublishQueueBuilder {
        PublishQueueBuilder {
            capacity: 1024,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            on_failure: None,
        }
    }

    /// Enqueues without waiting.
    ///
    /// # Errors
    /// [`QueueError::Full`] or [`QueueError::Closed`], with the update.
    pub fn try_enqueue(&self, update: Update) -> Result<(), QueueError> {
        self.sender.try_send(update).map_err(|error| match error {
            mpsc::error::TrySendError::Full(update) => QueueError::Full(update),
            mpsc::error::TrySendError::Closed(update) => QueueError::Closed(update),
        })
    }

    /// Enqueues, waiting for room.
    ///
    /// # Errors
    /// [`QueueError::Closed`], with the update.
    pub async fn enqueue(&self, update: Update) -> Result<(), QueueError> {
        self.sender
            .send(update)
            .await
            .map_err(|error| QueueError::Closed(error.0))
    }

    /// Updates waiting to be published.
    pub fn pending(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    /// The counters so far.
    pub fn stats(&self) -> QueueStats {
        QueueStats {
            published: self.counters.published.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting updates (in every clone), publishes what is
    /// queued, and waits for the worker to finish.
    pub async fn shutdown(self) {
        self.shutdown.notify_one();
        let task = self.task.lock().await.take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::warn!(%error, "the publish queue worker ended abnormally");
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    retries: AtomicU64,
    failed: AtomicU64,
}

struct Worker<P> {
    shutdown: Arc<Notify>,
    publisher: P,
    receiver: mpsc::Receiver<Update>,
    counters: Arc<Counters>,
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    on_failure: Option<Arc<FailureHandler>>,
}

impl<P: Publisher> Worker<P> {
    async fn run(mut self) {
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.notified() => {
                    // No new updates; drain what is buffered.
                    self.receiver.close();
                    while let Some(update) = self.receiver.recv().await {
                        self.publish(&update).await;
                    }
                    return;
                }
                next = self.receiver.recv() => match next {
                    Some(update) => self.publish(&update).await,
                    None => return,
                },
            }
        }
    }

    async fn publish(&self, update: &Update) {
        let mut delay = self.initial_backoff;
        let mut attempt = 1;
        loop {
            match self.publisher.publish(update).await {
                Ok(_) => {
                    self.counters.published.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(error) if error.is_retryable() && attempt < self.max_attempts => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(topic = update.topic(), attempt, %error, "publish failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.max_backoff);
                    attempt += 1;
                }
                Err(error) => {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(topic = update.topic(), attempt, %error, "giving up on an update");
                    if let Some(handler) = &self.on_failure {
                        handler(update, &error);
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::testing::{MockHub, RecordingHub};
    use crate::{EventId, HubRejection};

    fn update(n: usize) -> Update {
        Update::new(format!("https://example.com/{n}"), "x").unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retryable_errors_with_backoff_then_publishes() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let hub = MockHub::new(move |_| {
            if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(Error::ServerError(HubRejection::new(503, "draining", None)))
            } else {
                Ok(EventId::new("id"))
            }
        });
        let started = tokio::time::Instant::now();
        let queue = PublishQueue::builder()
            .initial_backoff(Duration::from_millis(100))
            .spawn(hub)
            .unwrap();
        queue.try_enqueue(update(1)).unwrap();
        queue.clone().shutdown().await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            queue.stats(),
            QueueStats {
                published: 1,
                retries: 2,
                failed: 0
            }
        );
        // 100 ms then 200 ms of (virtual) backoff.
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_reported_never_silent() {
        let reported = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&reported);
        let hub = MockHub::new(|update| {
            if update.topic().ends_with("/1") {
                Err(Error::Forbidden(HubRejection::new(403, "no", None)))
            } else {
                Err(Error::ServerError(HubRejection::new(500, "boom", None)))
            }
        });
        let queue = PublishQueue::builder()
            .max_attempts(3)
            .on_failure(move |update, error| {
                sink.lock()
                    .unwrap()
                    .push((update.topic().to_owned(), error.status()));
            })
            .spawn(hub)
            .unwrap();
        queue.try_enqueue(update(1)).unwrap();
        queue.try_enqueue(update(2)).unwrap();
        queue.clone().shutdown().await;
        assert_eq!(
            *reported.lock().unwrap(),
            vec![
                ("https://example.com/1".to_owned(), Some(403)),
                ("https://example.com/2".to_owned(), Some(500)),
            ]
        );
        assert_eq!(
            queue.stats(),
            QueueStats {
                published: 0,
                retries: 2,
                failed: 2
            }
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_or_closed_queue_hands_the_update_back() {
        let hub = RecordingHub::new();
        let queue = PublishQueue::builder()
            .capacity(1)
            .spawn(hub.clone())
            .unwrap();
        // On a current-thread runtime the worker cannot run before this
        // test yields, so the single slot stays taken.
        queue.try_enqueue(update(0)).unwrap();
        let Err(QueueError::Full(update)) = queue.try_enqueue(update(1)) else {
            panic!("a capacity-1 queue must be full");
        };
        assert_eq!(update.topic(), "https://example.com/1");
        queue.enqueue(update.clone()).await.unwrap();
        let clone = queue.clone();
        queue.shutdown().await;
        assert!(matches!(
            clone.try_enqueue(update.clone()),
            Err(QueueError::Closed(_))
        ));
        assert!(matches!(
            clone.enqueue(update).await,
            Err(QueueError::Closed(_))
        ));
        // Everything accepted was published, in order.
        let topics: Vec<_> = hub
            .published()
            .iter()
            .map(|u| u.topic().to_owned())
            .collect();
        assert_eq!(topics, ["https://example.com/0", "https://example.com/1"]);
        assert_eq!(clone.stats().published, 2);
        assert_eq!(clone.pending(), 0);
    }

    #[test]
    fn spawning_outside_a_runtime_is_an_error_not_a_panic() {
        let result = PublishQueue::builder().spawn(RecordingHub::new());
        assert!(matches!(result, Err(super::NoRuntime)));
    }
}
