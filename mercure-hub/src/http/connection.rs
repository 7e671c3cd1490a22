//! Connections served by hyper: every request but the lean path's
//! subscriptions, over HTTP/1.1 or HTTP/2 with prior knowledge (h2c).
//!
//! The bounds the lean path applies hold here too, whatever the protocol:
//! - HTTP/1.1: each request head within the head timeout (hyper's header
//!   read timeout; an idle keep-alive connection is closed after it).
//! - HTTP/2: the preface is read before hyper sees the connection (within
//!   the head timeout, by the caller); the client's SETTINGS and first
//!   request, and any later stretch without an open stream, within the head
//!   timeout too, or the connection is closed (GOAWAY, then dropped after
//!   [`CLOSE_GRACE`]). At most [`H2_MAX_CONCURRENT_STREAMS`] streams are
//!   open at once (more are reset with `REFUSED_STREAM`), and every stream
//!   beyond the first takes a connection slot of its source address, so
//!   that multiplexing does not multiply the per-address cap (beyond it:
//!   429, or 503 at the total cap). Keep-alive pings every
//!   [`H2_KEEP_ALIVE_INTERVAL`] drop a peer that stops answering within
//!   [`H2_KEEP_ALIVE_TIMEOUT`].
//! - Both: a write that cannot proceed for [`WRITE_TIMEOUT`] (a client that
//!   stopped reading) ends the connection.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::{http1, http2};
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, Sleep};

use super::admission::{Permit, Refused};
use super::client::Counted;

/// How long a write may wait for the client to read before the connection
/// (on the lean path: the subscriber) is dropped.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most streams open at once on one HTTP/2 connection (hyper's default is
/// 200); the client's next one is reset with `REFUSED_STREAM`.
pub(super) const H2_MAX_CONCURRENT_STREAMS: u32 = 16;
/// How often an HTTP/2 connection is pinged.
pub(super) const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long the answer to a ping may take before the connection is dropped.
pub(super) const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// The receive window of each HTTP/2 stream (the protocol's default): what
/// a client may send of a body before the hub reads it (hyper's default is
/// 1 MiB).
const H2_STREAM_WINDOW: u32 = 64 * 1024;
/// The receive window of an HTTP/2 connection, all streams together
/// (hyper's default is 1 MiB).
const H2_CONNECTION_WINDOW: u32 = 256 * 1024;
/// Bytes of a response buffered per HTTP/2 stream while the client grants
/// no window (hyper's default is 400 KiB).
const H2_MAX_SEND_BUFFER: usize = 64 * 1024;
/// How long an idle HTTP/2 connection told to go away (GOAWAY) has to close
/// before it is dropped.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The protocol of a connection, known from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// HTTP/1.x.
    Http1,
    /// HTTP/2 with prior knowledge: the preface was read.
    Http2,
}

/// An admitted connection.
#[derive(Debug)]
pub(super) struct Connection<S = TcpStream> {
    /// The socket (or the TLS stream over it).
    pub(super) stream: S,
    /// Its slot in the server's admission, held for its whole life.
    pub(super) permit: Permit,
    /// The client's address.
    pub(super) peer: SocketAddr,
    /// When it was accepted: the head timeout runs from there.
    pub(super) started: Instant,
}

/// Serves `connection` with hyper and `app`, replaying `prefix` (the bytes
/// already read from it), until it ends; `shutdown` (when given) asks for a
/// graceful close once it changes or its sender goes away. Every request
/// carries the client's address (axum's `ConnectInfo<SocketAddr>`), the
/// first also `counted` when given (the lean path's rate limit verdict).
pub(super) async fn serve<S>(
    connection: Connection<S>,
    prefix: Bytes,
    protocol: Protocol,
    app: Router,
    head_timeout: Duration,
    shutdown: Option<watch::Receiver<()>>,
    counted: Option<Counted>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Connection {
        stream,
        permit,
        peer,
        started,
    } = connection;
    let io = TokioIo::new(Io::new(stream, prefix));
    let service = WithClient {
        inner: TowerToHyperService::new(app),
        peer: ConnectInfo(peer),
        counted: Arc::new(Mutex::new(counted)),
    };
    match protocol {
        Protocol::Http1 => {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(head_timeout);
            let connection = builder.serve_connection(io, service).with_upgrades();
            drive(
                connection,
                http1::UpgradeableConnection::graceful_shutdown,
                None,
                shutdown,
            )
            .await;
            drop(permit);
        }
        Protocol::Http2 => {
            let streams = Arc::new(Streams::new(permit, started));
            let service = Tracked {
                inner: service,
                streams: Arc::clone(&streams),
            };
            let connection = h2_builder().serve_connection(io, service);
            let idle = Idle {
                streams,
                timeout: head_timeout,
            };
            drive(
                connection,
                http2::Connection::graceful_shutdown,
                Some(idle),
                shutdown,
            )
            .await;
        }
    }
}

/// hyper's HTTP/2 server, bounded as the module says.
fn h2_builder() -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT)
        .initial_stream_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONNECTION_WINDOW)
        .max_send_buf_size(H2_MAX_SEND_BUFFER);
    builder
}

/// When an HTTP/2 connection without open streams is closed.
struct Idle {
    streams: Arc<Streams>,
    timeout: Duration,
}

/// Polls `connection` to its end: closes it gracefully (`close`) when
/// `shutdown` says so, or when it has had no open stream for the idle
/// timeout (then drops it once it has had none for [`CLOSE_GRACE`] more).
async fn drive<C, F>(
    connection: C,
    close: F,
    idle: Option<Idle>,
    mut shutdown: Option<watch::Receiver<()>>,
) where
    C: Future<Output = hyper::Result<()>>,
    F: Fn(Pin<&mut C>),
{
    let mut connection = std::pin::pin!(connection);
    let mut closing = false;
    loop {
        let event = tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = idle_for(idle.as_ref(), closing) => Event::Idle,
            () = signalled(&mut shutdown) => Event::Shutdown,
        };
        match event {
            Event::Idle if closing => {
                tracing::debug!("idle HTTP/2 connection dropped");
                return;
            }
            Event::Idle => {
                tracing::debug!("idle HTTP/2 connection closed");
                close(connection.as_mut());
                closing = true;
                if let Some(idle) = &idle {
                    idle.streams.touch();
                }
            }
            Event::Shutdown => close(connection.as_mut()),
        }
    }
}

/// What interrupted a connection being served.
enum Event {
    Idle,
    Shutdown,
}

/// Completes once the connection has had no open stream for its idle
/// timeout ([`CLOSE_GRACE`] once `closing`); never without `idle`.
async fn idle_for(idle: Option<&Idle>, closing: bool) {
    match idle {
        Some(idle) => {
            let timeout = if closing { CLOSE_GRACE } else { idle.timeout };
            idle.streams.idle_for(timeout).await;
        }
        None => std::future::pending().await,
    }
}

/// Completes once `shutdown` changes or its sender is gone, then forgets it.
async fn signalled(shutdown: &mut Option<watch::Receiver<()>>) {
    match shutdown {
        Some(receiver) => {
            let _ = receiver.changed().await;
            *shutdown = None;
        }
        None => std::future::pending().await,
    }
}

/// The streams open on an HTTP/2 connection.
#[derive(Debug)]
struct Streams {
    /// The connection's admission slot: covers one stream at a time.
    permit: Permit,
    state: Mutex<StreamState>,
    /// Told when the last open stream ends.
    idle: Notify,
}

#[derive(Debug)]
struct StreamState {
    open: usize,
    /// Whether no stream holds the connection's own slot.
    slot_free: bool,
    /// Since when no stream has been open.
    idle_since: Instant,
}

impl Streams {
    fn new(permit: Permit, started: Instant) -> Self {
        Self {
            permit,
            state: Mutex::new(StreamState {
                open: 0,
                slot_free: true,
                idle_since: started,
            }),
            idle: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A stream opens: it takes the connection's slot if free, or another
    /// of the same source address, if there is room for it.
    fn open(self: &Arc<Self>) -> Result<StreamGuard, Refused> {
        let mut state = self.state();
        let extra = if state.slot_free {
            state.slot_free = false;
            None
        } else {
            Some(self.permit.another()?)
        };
        state.open += 1;
        Ok(StreamGuard {
            streams: Arc::clone(self),
            extra,
        })
    }

    /// A stream ended; `own_slot` if it held the connection's slot.
    fn close(&self, own_slot: bool) {
        let mut state = self.state();
        state.open = state.open.saturating_sub(1);
        if own_slot {
            state.slot_free = true;
        }
        if state.open == 0 {
            state.idle_since = Instant::now();
            drop(state);
            self.idle.notify_waiters();
        }
    }

    /// Restarts the idle time.
    fn touch(&self) {
        self.state().idle_since = Instant::now();
    }

    /// Completes once no stream has been open for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            // Created before the state is looked at: a stream ending in
            // between is not missed.
            let ended = self.idle.notified();
            let deadline = {
                let state = self.state();
                (state.open == 0).then(|| crate::time::deadline(state.idle_since, timeout))
            };
            match deadline {
                None => ended.await,
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => {
                    tokio::select! {
                        () = ended => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
            }
        }
    }
}

/// An open HTTP/2 stream: from its request to the end of its response.
#[derive(Debug)]
struct StreamGuard {
    streams: Arc<Streams>,
    /// The slot taken beyond the connection's own.
    extra: Option<Permit>,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        // The extra permit, if any, is released after this, outside the
        // streams' lock.
        self.streams.close(self.extra.is_none());
    }
}

/// The router, told who the client is on every request.
#[derive(Debug, Clone)]
struct WithClient {
    inner: TowerToHyperService<Router>,
    peer: ConnectInfo<SocketAddr>,
    /// For the first request only.
    counted: Arc<Mutex<Option<Counted>>>,
}

impl Service<Request<Incoming>> for WithClient {
    type Response = <TowerToHyperService<Router> as Service<Request<Incoming>>>::Response;
    type Error = <TowerToHyperService<Router> as Service<Request<Incoming>>>::Error;
    type Future = <TowerToHyperService<Router> as Service<Request<Incoming>>>::Future;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let extensions = request.extensions_mut();
        extensions.insert(self.peer);
        let counted = self
            .counted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(counted) = counted {
            extensions.insert(counted);
        }
        self.inner.call(request)
    }
}

/// The router, counting the streams of an HTTP/2 connection.
#[derive(Debug, Clone)]
struct Tracked {
    inner: WithClient,
    streams: Arc<Streams>,
}

impl Service<Request<Incoming>> for Tracked {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        match self.streams.open() {
            Ok(guard) => {
                let response = self.inner.call(request);
                Box::pin(async move {
                    let response = response.await?;
                    Ok(response.map(|body| TrackedBody {
                        body,
                        _guard: Some(guard),
                    }))
                })
            }
            Err(why) => {
                tracing::debug!(?why, "HTTP/2 stream refused");
                let response = why
                    .into_response()
                    .map(|body| TrackedBody { body, _guard: None });
                Box::pin(std::future::ready(Ok(response)))
            }
        }
    }
}

/// A response body holding its stream open until it is dropped.
struct TrackedBody {
    body: Body,
    _guard: Option<StreamGuard>,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A socket that first yields bytes already read from it, and fails a
/// write that cannot proceed for [`WRITE_TIMEOUT`].
struct Io<S = TcpStream> {
    prefix: Bytes,
    inner: S,
    /// The write deadline, kept between stalls.
    stalled: Option<Pin<Box<Sleep>>>,
    /// Whether `stalled` runs for the current stall.
    armed: bool,
}

impl<S> Io<S> {
    fn new(inner: S, prefix: Bytes) -> Self {
        Self {
            prefix,
            inner,
            stalled: None,
            armed: false,
        }
    }

    /// `poll` of a write, its stall timed: the first `Pending` arms the
    /// deadline, bytes written (`wrote`, when ready) disarm it. A flush
    /// that is ready says nothing of the client reading, so it leaves the
    /// deadline as it is.
    fn timed<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
        wrote: bool,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            if wrote {
                self.armed = false;
            }
            return poll;
        }
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_TIMEOUT)));
        if !self.armed {
            sleep.as_mut().reset(Instant::now() + WRITE_TIMEOUT);
            self.armed = true;
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Io<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let chunk = self.prefix.split_to(n);
            buf.put_slice(&chunk);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Io<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.timed(cx, poll, true)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.timed(cx, poll, true)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.timed(cx, poll, false)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.timed(cx, poll, false)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_client_that_does_not_read_is_cut_at_the_write_timeout() {
        let (server, mut client) = tokio::io::duplex(1024);
        let mut io = Io::new(server, Bytes::from_static(b"GET"));
        // The bytes read before come first.
        let mut first = [0u8; 3];
        io.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"GET");
        // The client reads a little, then stops: the write stalls, and
        // fails once stalled for the timeout (not from its start).
        let writing = tokio::spawn(async move {
            let started = Instant::now();
            let mut result = Ok(());
            // Flushes in between (ready at once) do not restart the clock.
            for _ in 0..64 {
                result = io.write_all(&[0u8; 1024]).await;
                if result.is_err() {
                    break;
                }
                io.flush().await.unwrap();
            }
            (result, started.elapsed())
        });
        let mut read = vec![0u8; 4096];
        client.read_exact(&mut read).await.unwrap();
        tokio::time::sleep(WRITE_TIMEOUT / 2).await;
        client.read_exact(&mut read).await.unwrap();
        let (result, elapsed) = writing.await.unwrap();
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert!(
            elapsed >= WRITE_TIMEOUT + WRITE_TIMEOUT / 2 && elapsed < WRITE_TIMEOUT * 2,
            "{elapsed:?}"
        );
    }
}
