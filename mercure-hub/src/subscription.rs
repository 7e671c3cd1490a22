//! A live subscription: the server-sent events stream of one subscriber.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::net::TcpStream;
use tokio::time::{Instant, Interval, MissedTickBehavior, Sleep};

use crate::hub::Inner;
use crate::outbox::{Outbox, Wake};
use crate::subscriber::SubscriberEntry;

/// Largest number of queued events written in one chunk.
const BATCH_EVENTS: usize = 64;
/// Size beyond which no more events are appended to a chunk.
const BATCH_BYTES: usize = 64 * 1024;

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
    pub(crate) hub: Arc<Inner>,
    pub(crate) entry: Arc<SubscriberEntry>,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) initial: Option<Bytes>,
    pub(crate) resumed_from: String,
    pub(crate) heartbeat_every: Option<Duration>,
    pub(crate) heartbeat: Option<Interval>,
    pub(crate) expires_in: Option<Duration>,
    pub(crate) expiry: Option<Pin<Box<Sleep>>>,
    pub(crate) started: bool,
    pub(crate) done: bool,
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
    /// let hub = EmbeddedHub::new(HubConfig::builder().build().unwrap());
    /// let subscription = hub.subscribe(SubscribeRequest::new(["https://example.com/a"])).unwrap();
    /// let headers = subscription.response_headers();
    /// assert!(headers.contains(&("content-type", "text/event-stream".to_owned())));
    /// assert!(headers.contains(&("last-event-id", "earliest".to_owned())));
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
        if let Some(initial) = this.initial.take() {
            return Poll::Ready(Some(Ok(initial)));
        }
        if this.entry.is_closed() {
            this.done = true;
            return Poll::Ready(None);
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
                Poll::Ready(None)
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
    /// The opening bytes (opening comment and replayed events), once.
    pub(crate) fn take_initial(&mut self) -> Option<Bytes> {
        self.initial.take()
    }

    /// Direct mode: events are written to `sink` by their publishers from
    /// now on (after [`Subscription::take_initial`] was written).
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
    /// rest of a partly written event.
    pub(crate) fn finish(&mut self) -> Option<Bytes> {
        self.outbox.finish()
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
