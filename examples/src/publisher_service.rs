//! A service that publishes from a backend job without ever making a
//! request handler wait on the hub.
//!
//! `POST /orders` (`item=`) answers `202 Accepted` at once: it enqueues an
//! `received` update on a [`PublishQueue`] and hands the order to a
//! backend job, which moves it through `preparing` and `shipped`,
//! enqueueing an update at each step. The queue's worker publishes in
//! order, retrying what may succeed later (timeouts, connection failures,
//! 5xx, 408, 429) with exponential backoff, and reports what it gives up on.
//! When the queue is full the handler answers `503` with `Retry-After`
//! instead of waiting. `GET /stats` shows the queue's counters.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use mercure_client::publish::{PublishQueue, QueueError};
use mercure_client::{Publisher, Update};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use url::Url;

/// The service's settings.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// The base of the order topics: `{base}orders/{id}`.
    pub topic_base: Url,
    /// How long each step of the backend job takes.
    pub step_delay: Duration,
    /// How many updates may wait for the hub.
    pub queue_capacity: usize,
    /// Attempts per update, the first included.
    pub max_attempts: u32,
    /// The first retry delay (doubling).
    pub initial_backoff: Duration,
    /// The longest retry delay.
    pub max_backoff: Duration,
}

impl ServiceSettings {
    /// Orders under `topic_base`, a second per step, room for 1024
    /// updates, 8 attempts from 200 ms up to 10 s apart (about half a
    /// minute of hub downtime survived).
    pub fn new(topic_base: Url) -> Self {
        Self {
            topic_base,
            step_delay: Duration::from_secs(1),
            queue_capacity: 1024,
            max_attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// The data of an order update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdate {
    /// The order's id.
    pub id: u64,
    /// What was ordered.
    pub item: String,
    /// `received`, `preparing` or `shipped`.
    pub status: String,
}

/// The answer to `POST /orders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The order's id.
    pub id: u64,
    /// The topic its updates are published to.
    pub topic: String,
}

/// The running service: the publish queue, the backend job, the routes.
/// Cheap to clone.
#[derive(Clone)]
pub struct OrderService {
    inner: Arc<Inner>,
}

struct Inner {
    queue: PublishQueue,
    jobs: mpsc::Sender<(u64, String)>,
    job: std::sync::Mutex<Option<JoinHandle<()>>>,
    next_id: AtomicU64,
    topic_base: Url,
}

impl fmt::Debug for OrderService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderService")
            .field("queue", &self.inner.queue)
            .field("topic_base", &self.inner.topic_base.as_str())
            .finish_non_exhaustive()
    }
}

fn topic(base: &Url, id: u64) -> String {
    format!("{base}orders/{id}")
}

fn order_update(base: &Url, id: u64, item: &str, status: &str) -> Update {
    let data = OrderUpdate {
        id,
        item: item.to_owned(),
        status: status.to_owned(),
    };
    // Serializing a struct of strings and numbers cannot fail, and the
    // topic is an absolute URL: the update is always valid.
    Update::builder(topic(base, id))
        .event_type("order")
        .json(&data)
        .expect("an order serializes")
        .build()
        .expect("an order update is valid")
}

impl OrderService {
    /// Starts the publish queue and the backend job on the current Tokio
    /// runtime, publishing to `publisher` (a [`mercure_client::Hub`]).
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(publisher: impl Publisher + 'static, settings: &ServiceSettings) -> Self {
        let queue = PublishQueue::builder()
            .capacity(settings.queue_capacity)
            .max_attempts(settings.max_attempts)
            .initial_backoff(settings.initial_backoff)
            .max_backoff(settings.max_backoff)
            .on_failure(|update, error| {
                eprintln!("gave up publishing to {}: {error}", update.topic());
            })
            .spawn(publisher)
            .expect("OrderService::start runs inside a Tokio runtime");
        let (jobs, mut pending) = mpsc::channel::<(u64, String)>(settings.queue_capacity);
        let job_queue = queue.clone();
        let base = settings.topic_base.clone();
        let step_delay = settings.step_delay;
        // The backend job: it may wait for room in the queue, never for
        // the hub.
        let job = tokio::spawn(async move {
            while let Some((id, item)) = pending.recv().await {
                for status in ["preparing", "shipped"] {
                    tokio::time::sleep(step_delay).await;
                    if let Err(error) = job_queue
                        .enqueue(order_update(&base, id, &item, status))
                        .await
                    {
                        eprintln!("order {id}: {error}");
                        return;
                    }
                }
            }
        });
        Self {
            inner: Arc::new(Inner {
                queue,
                jobs,
                job: std::sync::Mutex::new(Some(job)),
                next_id: AtomicU64::new(1),
                topic_base: settings.topic_base.clone(),
            }),
        }
    }

    /// The routes: `POST /orders`, `GET /stats`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/orders", post(create_order))
            .route("/stats", get(stats))
            .with_state(self.clone())
    }

    /// The topic of order `id`.
    pub fn topic(&self, id: u64) -> String {
        topic(&self.inner.topic_base, id)
    }

    /// The publish queue.
    pub fn queue(&self) -> &PublishQueue {
        &self.inner.queue
    }

    /// Takes an order: enqueues its `received` update and hands it to the
    /// backend job, without waiting.
    ///
    /// # Errors
    /// [`QueueError::Full`] when the queue or the job is saturated,
    /// [`QueueError::Closed`] after shutdown.
    pub fn take_order(&self, item: &str) -> Result<Accepted, QueueError> {
        // Reserve the job's slot first, so an order is either wholly
        // taken (its update queued and its job scheduled) or not at all.
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let received = order_update(&self.inner.topic_base, id, item, "received");
        let permit = match self.inner.jobs.try_reserve() {
            Ok(permit) => permit,
            Err(mpsc::error::TrySendError::Full(())) => return Err(QueueError::Full(received)),
            Err(mpsc::error::TrySendError::Closed(())) => {
                return Err(QueueError::Closed(received));
            }
        };
        self.inner.queue.try_enqueue(received)?;
        permit.send((id, item.to_owned()));
        Ok(Accepted {
            id,
            topic: self.topic(id),
        })
    }

    /// Stops the backend job, then publishes what is queued.
    pub async fn shutdown(self) {
        let job = self
            .inner
            .job
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(job) = job {
            job.abort();
            let _ = job.await;
        }
        self.inner.queue.clone().shutdown().await;
    }
}

#[derive(Debug, Deserialize)]
struct OrderForm {
    item: String,
}

async fn create_order(
    State(service): State<OrderService>,
    Form(form): Form<OrderForm>,
) -> Response {
    let item = form.item.trim();
    if item.is_empty() || item.chars().count() > 100 {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "item must be between 1 and 100 characters",
        )
            .into_response();
    }
    match service.take_order(item) {
        Ok(accepted) => (StatusCode::ACCEPTED, Json(accepted)).into_response(),
        Err(QueueError::Full(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(RETRY_AFTER, "1")],
            "too many updates are waiting for the hub; retry shortly",
        )
            .into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

#[derive(Debug, Serialize)]
struct Stats {
    published: u64,
    retries: u64,
    failed: u64,
    pending: usize,
}

async fn stats(State(service): State<OrderService>) -> Json<Stats> {
    let queue = service.queue();
    let stats = queue.stats();
    Json(Stats {
        published: stats.published,
        retries: stats.retries,
        failed: stats.failed,
        pending: queue.pending(),
    })
}
