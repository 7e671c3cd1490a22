//! A live subscription: the server-sent events stream of one subscriber.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::Stream;
use sync_wrapper::SyncWrapper;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};

use crate::event::{Cursor, Event};
use crate::hub::Inner;
use crate::matcher::MatchMemo;
use crate::outbox::{Outbox, Wake};
use crate::subscriber::SubscriberEntry;
use crate::transport::{Page, TransportFuture};

/// Largest number of queued events written in one chunk.
const BATCH_EVENTS: usize = 64;
/// Size beyond which no more events are appended to a chunk.
const BATCH_BYTES: usize = 64 * 1024;
/// Events of history read at a time.
const PAGE_EVENTS: usize = 256;
/// Bytes of history read at a time (one event may be larger).
const PAGE_BYTES: usize = 256 * 1024;
/// Pages read in a row without finding an event for the subscriber before
/// its task yields to others.
const PAGES_PER_TURN: usize = 16;

/// The unit of the replay budget (the semaphore counts KiB).
const BUDGET_UNIT: usize = 1024;
/// What one page may take while read and encoded: the page, and the chunk
/// made of it.
const PAGE_UNITS: u32 = (2 * PAGE_BYTES / BUDGET_UNIT) as u32;

/// The permits of a replay budget of `bytes` (at least one page's).
pub(crate) fn replay_budget_units(bytes: usize) -> usize {
    (bytes / BUDGET_UNIT).clamp(PAGE_UNITS as usize, tokio::sync::Semaphore::MAX_PERMITS)
}

type Acquiring = Pin<
    Box<
        dyn Future<Output = Result<OwnedSemaphorePermit, tokio::sync::AcquireError>>
            + Send
            + 'static,
    >,
>;

/// The part of history a subscriber reads before its live events: after
/// a cursor (or from the oldest event held) up to where its live delivery
/// starts, one page at a time.
///
/// Every replay draws on the hub's replay budget
/// ([`HubConfigBuilder::replay_bytes`](crate::HubConfigBuilder::replay_bytes)):
/// a page is read once the budget has room for it and what it encodes to,
/// and the chunk sent keeps its share until it is written and dropped. So
/// however many subscribers replay, and however slowly they read, the
/// history they hold together stays within the budget (a single event
/// larger than a page may exceed its share).
pub(crate) struct Replay {
    after: Option<Cursor>,
    up_to: Cursor,
    acquiring: Option<SyncWrapper<Acquiring>>,
    permit: Option<OwnedSemaphorePermit>,
    reading: Option<SyncWrapper<TransportFuture<'static, Vec<Arc<Event>>>>>,
}

impl Replay {
    /// The history after `after` up to `up_to`; `None` when empty.
    pub(crate) fn new(after: Option<Cursor>, up_to: Cursor) -> Option<Self> {
        let empty = up_to == Cursor::ZERO || after.is_some_and(|after| after >= up_to);
        (!empty).then_some(Self {
            after,
            up_to,
            acquiring: None,
            permit: None,
            reading: None,
        })
    }
}

/// Replayed bytes holding their share of the replay budget until dropped.
struct Budgeted {
    bytes: Bytes,
    _permit: Option<OwnedSemaphorePermit>,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// The event stream of one subscriber, as bytes ready to write to an HTTP
/// response body (`text/event-stream`).
///
/// It yields, in order: an opening comment (so the response starts at
/// once) followed by the replayed events, then live events as they are
/// published, with heartbeat comments in between. It ends when the token
/// that authorized it expires, when the hub closes it (its queue
/// overflowed, or [`EmbeddedHub::permission_changed`] was called), or when
/// the hub shuts down. Dropping it unsubscribes.
///
/// Framework-neutral: any server that streams `Result<Bytes, E>` can serve
/// it (axum through its [`IntoResponse`](axum::response::IntoResponse)
/// implementation).
///
/// [`EmbeddedHub::permission_changed`]: crate::EmbeddedHub::permission_changed
pub struct Subscription {
    hub: Arc<Inner>,
    entry: Arc<SubscriberEntry>,
    outbox: Arc<Outbox>,
    /// The opening comment is still to be sent.
    opening: bool,
    replay: Option<Replay>,
    resumed_from: String,
    heartbeat_every: Option<Duration>,
    heartbeat: Option<Interval>,
    expires_in: Option<Duration>,
    expiry: Option<Pin<Box<Sleep>>>,
    started: bool,
    done: bool,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("subscriber", &self.entry.id)
            .field("resumed_from", &self.resumed_from)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(
        hub: Arc<Inner>,
        entry: Arc<SubscriberEntry>,
        outbox: Arc<Outbox>,
        replay: Option<Replay>,
        resumed_from: String,
        expires_in: Option<Duration>,
    ) -> Self {
        let heartbeat_every = hub.config.heartbeat;
        Self {
            hub,
            entry,
            outbox,
            opening: true,
            replay,
            resumed_from,
            heartbeat_every,
            heartbeat: None,
            expires_in,
            expiry: None,
            started: false,
            done: false,
        }
    }

    /// The subscriber's identifier (`urn:uuid:...`).
    pub fn subscriber(&self) -> &str {
        &self.entry.id
    }

    /// Where the stream resumed: the requested id when the history holds
    /// it, `earliest` when it does not (events may have been lost) or
    /// none was held, else the id of the newest event held when the stream
    /// opened. This is the value of the dialect's resume header.
    pub fn resumed_from(&self) -> &str {
        &self.resumed_from
    }

    /// The name of the response header reporting [`Subscription::resumed_from`]
    /// in the subscriber's dialect (`Last-Event-ID` or `Mercure-Last-Event-ID`).
    pub fn resume_header(&self) -> &'static str {
        self.entry.dialect.dialect().resume_header
    }

    /// The headers of the streaming response, framework-neutral: the
    /// content type, caching and proxy-buffering directives, and the
    /// resume header of the subscriber's dialect (lower-case names).
    ///
    /// ```
    /// use mercure_hub::{EmbeddedHub, HubConfig, SubscribeRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let hub = EmbeddedHub::new(HubConfig::builder().build().unwrap());
    /// let request = SubscribeRequest::new(["https://example.com/a"]);
    /// let subscription = hub.subscribe(request).await.unwrap();
    /// let headers = subscription.response_headers();
    /// assert!(headers.contains(&("content-type", "text/event-stream".to_owned())));
    /// assert!(headers.contains(&("last-event-id", "earliest".to_owned())));
    /// # }
    /// ```
    pub fn response_headers(&self) -> Vec<(&'static str, String)> {
        let resume = if self.resume_header() == "Last-Event-ID" {
            "last-event-id"
        } else {
            "mercure-last-event-id"
        };
        vec![
            ("content-type", "text/event-stream".to_owned()),
            (
                "cache-control",
                "private, no-cache, no-store, must-revalidate, max-age=0".to_owned(),
            ),
            ("x-accel-buffering", "no".to_owned()),
            (resume, self.resumed_from.clone()),
        ]
    }

    fn start_timers(&mut self) {
        self.started = true;
        let now = Instant::now();
        // Both durations are clamped (the heartbeat by the configuration,
        // the expiry by the hub), so later ticks (`now + every`) cannot
        // overflow either.
        if let Some(every) = self.heartbeat_every.map(crate::time::clamp) {
            let mut interval = tokio::time::interval_at(crate::time::deadline(now, every), every);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            self.heartbeat = Some(interval);
        }
        if let Some(expires_in) = self.expires_in {
            self.expiry = Some(Box::pin(tokio::time::sleep_until(crate::time::deadline(
                now, expires_in,
            ))));
        }
    }
}

impl Stream for Subscription {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if !this.started {
            this.start_timers();
        }
        match this.poll_opening(cx) {
            Poll::Ready(Some(bytes)) => return Poll::Ready(Some(Ok(bytes))),
            Poll::Ready(None) => {}
            Poll::Pending => return Poll::Pending,
        }
        if this.entry.is_closed() {
            this.done = true;
            return Poll::Ready(this.entry.farewell().map(Ok));
        }
        if let Some(expiry) = &mut this.expiry
            && expiry.as_mut().poll(cx).is_ready()
        {
            tracing::debug!(subscriber = %this.entry.id, "token expired, closing the stream");
            this.done = true;
            return Poll::Ready(None);
        }
        match this.outbox.poll_pop(cx, BATCH_EVENTS, BATCH_BYTES) {
            Poll::Ready(Some(events)) => {
                if let Some(heartbeat) = &mut this.heartbeat {
                    heartbeat.reset();
                }
                if let [only] = events.as_slice() {
                    return Poll::Ready(Some(Ok(only.frame().clone())));
                }
                let size = events.iter().map(|e| e.frame().len()).sum();
                let mut chunk = BytesMut::with_capacity(size);
                for event in &events {
                    chunk.extend_from_slice(event.frame());
                }
                Poll::Ready(Some(Ok(chunk.freeze())))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(this.entry.farewell().map(Ok))
            }
            Poll::Pending => {
                if let Some(heartbeat) = &mut this.heartbeat
                    && heartbeat.poll_tick(cx).is_ready()
                {
                    return Poll::Ready(Some(Ok(Bytes::from_static(crate::chunk::HEARTBEAT))));
                }
                Poll::Pending
            }
        }
    }
}

/// What the task of a subscription in direct mode must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Direct {
    /// Wait until the socket is writable, then [`Subscription::resume`].
    Stalled,
    /// End the stream (closed by the hub, or the token expired).
    End,
    /// The connection is gone.
    Broken,
}

impl Subscription {
    /// The subscriber's id.
    pub(crate) fn subscriber_id(&self) -> &str {
        &self.entry.id
    }

    /// The bytes sent before live events, a piece at a time: the opening
    /// comment, then the history the subscriber asked for, read one page
    /// at a time (nothing more of it is held). `None` once all are sent,
    /// or when history cannot be read (the stream then ends, and the
    /// client resumes from the last event it received).
    pub(crate) fn poll_opening(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut chunk = BytesMut::new();
        if std::mem::take(&mut self.opening) {
            chunk.put_slice(crate::chunk::OPENING);
        }
        // The opening comment goes with the first page when it is at hand.
        let opening = chunk.len();
        let mut permit = None;
        let mut pages = 0;
        while let Some(replay) = &mut self.replay {
            if chunk.len() > opening {
                break;
            }
            if replay.permit.is_none() {
                let budget = &self.hub.replay_budget;
                let acquiring = replay.acquiring.get_or_insert_with(|| {
                    SyncWrapper::new(Box::pin(Arc::clone(budget).acquire_many_owned(PAGE_UNITS)))
                });
                match acquiring.get_mut().as_mut().poll(cx) {
                    Poll::Pending if chunk.is_empty() => return Poll::Pending,
                    Poll::Pending => break,
                    Poll::Ready(acquired) => {
                        replay.acquiring = None;
                        // The semaphore is never closed.
                        replay.permit = acquired.ok();
                    }
                }
            }
            let reading = replay.reading.get_or_insert_with(|| {
                let transport = Arc::clone(&self.hub.config.transport);
                let page = Page::new(replay.after, replay.up_to, PAGE_EVENTS, PAGE_BYTES);
                let span = tracing::debug_span!(
                    "mercure.transport.history",
                    subscriber_id = %self.entry.id,
                    events = tracing::field::Empty,
                );
                SyncWrapper::new(Box::pin(tracing::Instrument::instrument(
                    async move {
                        let events = transport.page(page).await;
                        if let Ok(events) = &events {
                            tracing::Span::current().record("events", events.len());
                        }
                        events
                    },
                    span,
                )))
            });
            let events = match reading.get_mut().as_mut().poll(cx) {
                Poll::Pending if chunk.is_empty() => return Poll::Pending,
                Poll::Pending => break,
                Poll::Ready(Ok(events)) => events,
                Poll::Ready(Err(error)) => {
                    tracing::warn!(subscriber = %self.entry.id, %error, "history could not be read, closing the stream");
                    self.replay = None;
                    self.entry.close(crate::subscriber::CloseReason::Closed);
                    break;
                }
            };
            replay.reading = None;
            let Some(last) = events.last().map(|e| e.cursor()) else {
                self.replay = None;
                break;
            };
            replay.after = Some(last);
            for event in &events {
                if event.cursor() > Cursor::ZERO
                    && self
                        .entry
                        .wants(event, &mut MatchMemo::new(self.hub.matchers.base()))
                {
                    chunk.put_slice(event.frame());
                }
            }
            drop(events);
            if chunk.len() > opening {
                // The chunk keeps the share of the budget its size needs;
                // the rest goes back now.
                if let Some(mut held) = replay.permit.take() {
                    let units = chunk.len().div_ceil(BUDGET_UNIT);
                    let keep = u32::try_from(units)
                        .unwrap_or(u32::MAX)
                        .min(held.num_permits() as u32);
                    permit = held.split(keep as usize);
                }
            }
            if last >= replay.up_to {
                self.replay = None;
            }
            pages += 1;
            if chunk.len() == opening && pages >= PAGES_PER_TURN {
                // A long stretch of history for others: let other tasks run.
                cx.waker().wake_by_ref();
                return if chunk.is_empty() {
                    Poll::Pending
                } else {
                    Poll::Ready(Some(chunk.freeze()))
                };
            }
        }
        if chunk.is_empty() {
            Poll::Ready(None)
        } else if permit.is_some() {
            Poll::Ready(Some(Bytes::from_owner(Budgeted {
                bytes: chunk.freeze(),
                _permit: permit,
            })))
        } else {
            Poll::Ready(Some(chunk.freeze()))
        }
    }

    /// Direct mode: events are written to `sink` by their publishers from
    /// now on (after [`Subscription::poll_opening`] ended).
    pub(crate) fn attach(&mut self, sink: Arc<TcpStream>) {
        self.outbox.attach(sink);
    }

    /// Direct mode: resolves when the task must act; sends heartbeats.
    pub(crate) fn poll_direct(&mut self, cx: &mut Context<'_>) -> Poll<Direct> {
        if !self.started {
            self.start_timers();
        }
        if self.entry.is_closed() {
            return Poll::Ready(Direct::End);
        }
        if let Some(expiry) = &mut self.expiry
            && expiry.as_mut().poll(cx).is_ready()
        {
            tracing::debug!(subscriber = %self.entry.id, "token expired, closing the stream");
            return Poll::Ready(Direct::End);
        }
        if let Some(heartbeat) = &mut self.heartbeat {
            while heartbeat.poll_tick(cx).is_ready() {
                self.outbox.heartbeat();
            }
        }
        self.outbox.poll_wake(cx).map(|wake| match wake {
            Wake::Stalled => Direct::Stalled,
            Wake::Closed => Direct::End,
            Wake::Broken => Direct::Broken,
        })
    }

    /// Direct mode, at the end: stops publishers' writes and returns the
    /// rest of a partly written event, followed by the `retry:` field of a
    /// drain, as chunks.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let mut out = self.outbox.finish().map(|b| b.to_vec()).unwrap_or_default();
        if let Some(farewell) = self.entry.farewell() {
            crate::chunk::put_http_chunk(&mut out, &farewell);
        }
        out
    }

    /// Direct mode: writes on once the socket is writable; `Ok(false)`
    /// while it is still full.
    ///
    /// # Errors
    /// The write's error: the connection is gone.
    pub(crate) fn resume(&mut self) -> std::io::Result<bool> {
        self.outbox.resume()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unregister(&self.entry);
    }
}
