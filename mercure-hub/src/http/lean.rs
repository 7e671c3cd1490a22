//! A lean HTTP/1.1 path for the most numerous requests a hub serves: plain
//! SSE subscriptions. hyper keeps two 8 KiB buffers for the life of every
//! connection; a subscriber that stays connected for hours needs neither,
//! so `serve_hub` answers `GET {hub path}` itself (head parsed with
//! `httparse`, chunked frames written as they come) and hands every other
//! connection, with the bytes already read, to hyper and the axum router.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::subscription::Direct;
use crate::{EmbeddedHub, Subscription};

/// Largest request head read before handing the connection to hyper.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a write may block before the subscriber is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves `app` (which should include [`EmbeddedHub::router`]) on
/// `listener` until `shutdown` completes, answering plain HTTP/1.1
/// subscriptions to `hub` on a lean path that keeps far less memory per
/// idle subscriber than hyper does. Every other request (publishing, the
/// subscriptions API, browsers' preflights, HTTP/2, refused subscriptions)
/// goes to `app` through hyper. Layers added to `app` (logging, rate
/// limits, extra authentication) therefore do not see the subscriptions
/// served on the lean path: use [`serve`](crate::serve) when they must.
/// `TCP_NODELAY` is set on every connection.
/// For many clients, create the listener with a long accept queue
/// (`tokio::net::TcpSocket::listen(4096)`, as the `mercure-hub` binary
/// does): `TcpListener::bind` asks for a short one.
///
/// # Errors
/// An I/O error of the listener.
pub async fn serve_hub<F>(
    listener: TcpListener,
    hub: EmbeddedHub,
    app: Router,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors or a connection reset before
                    // accept: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        tokio::spawn(connection(stream, hub.clone(), app.clone()));
    }
}

async fn connection(mut stream: TcpStream, hub: EmbeddedHub, app: Router) {
    let mut head = Vec::with_capacity(1024);
    let complete = tokio::time::timeout(HEAD_TIMEOUT, async {
        loop {
            if head.len() >= MAX_HEAD {
                return Ok(false);
            }
            let read = stream.read_buf(&mut head).await?;
            if read == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if head.starts_with(b"PRI ") {
                return Ok(false);
            }
            if find(&head, b"\r\n\r\n").is_some() {
                return Ok::<_, io::Error>(true);
            }
        }
    })
    .await;
    match complete {
        Ok(Ok(true)) => {
            if let Some(subscription) = lean_subscription(&hub, &head) {
                let cors = cors_headers(&hub, &head);
                // Free the request buffer: the stream may stay open for hours.
                drop(head);
                drop(app);
                stream_subscription(stream, subscription, cors).await;
                return;
            }
        }
        Ok(Ok(false)) => {}
        Ok(Err(_)) | Err(_) => return,
    }
    hand_off(stream, Bytes::from(head), app).await;
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The subscription a request head asks for, when it is a plain HTTP/1.1
/// `GET` of the hub that the hub accepts; `None` sends it to hyper (which
/// also writes the error responses).
fn lean_subscription(hub: &EmbeddedHub, head: &[u8]) -> Option<Subscription> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(length) = request.parse(head).ok()? else {
        return None;
    };
    if length != head.len() || request.method != Some("GET") || request.version != Some(1) {
        return None;
    }
    let target = request.path?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let hub_path = hub.config().path().trim_end_matches('/');
    if path != hub_path && !(hub_path.is_empty() && path == "/") {
        return None;
    }
    let mut map = HeaderMap::with_capacity(request.headers.len());
    for h in request.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        if name == header::UPGRADE
            || name == header::TRANSFER_ENCODING
            || (name == header::CONTENT_LENGTH && h.value != b"0")
        {
            return None;
        }
        map.append(name, HeaderValue::from_bytes(h.value).ok()?);
    }
    super::subscribe::handle(hub, query, &map).ok()
}

/// CORS headers for an allowed `Origin` (the same rules as the router's layer).
fn cors_headers(hub: &EmbeddedHub, head: &[u8]) -> String {
    let origins = &hub.config().cors_origins;
    if origins.is_empty() {
        return String::new();
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    if request.parse(head).is_err() {
        return String::new();
    }
    let origin = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("origin"))
        .and_then(|h| std::str::from_utf8(h.value).ok());
    let mut out = String::from("vary: origin\r\n");
    let Some(origin) = origin else { return out };
    if origins.iter().any(|o| o == "*") {
        out.push_str("access-control-allow-origin: *\r\n");
    } else if origins.iter().any(|o| o.trim_end_matches('/') == origin) {
        out.push_str("access-control-allow-origin: ");
        out.push_str(origin);
        out.push_str("\r\naccess-control-allow-credentials: true\r\n");
    } else {
        return out;
    }
    out.push_str(
        "access-control-expose-headers: last-event-id,mercure-last-event-id,link,www-authenticate\r\n",
    );
    out
}

/// Writes the response head and the opening chunk, then hands the socket
/// to the subscription's outbox (publishers write events to it directly)
/// and watches it: waits for a full socket to drain, sends heartbeats,
/// ends the stream when the hub closes it or the token expires, and
/// notices the client going away.
async fn stream_subscription(stream: TcpStream, mut subscription: Subscription, cors: String) {
    let mut head = String::with_capacity(256);
    head.push_str("HTTP/1.1 200 OK\r\n");
    for (name, value) in subscription.response_headers() {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(&value);
        head.push_str("\r\n");
    }
    head.push_str(&cors);
    head.push_str("transfer-encoding: chunked\r\n\r\n");
    let mut opening = head.into_bytes();
    if let Some(initial) = subscription.take_initial() {
        crate::chunk::put_http_chunk(&mut opening, &initial);
    }
    let mut stream = stream;
    match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&opening)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) | Err(_) => return,
    }
    drop(opening);
    let stream = Arc::new(stream);
    subscription.attach(Arc::clone(&stream));
    let mut probe = [0u8; 64];
    loop {
        tokio::select! {
            direct = std::future::poll_fn(|cx| subscription.poll_direct(cx)) => match direct {
                Direct::Stalled => {
                    match tokio::time::timeout(WRITE_TIMEOUT, stream.writable()).await {
                        Ok(Ok(())) => {
                            if subscription.resume().is_err() {
                                return;
                            }
                        }
                        // Nothing could be written for WRITE_TIMEOUT: drop
                        // the subscriber.
                        Ok(Err(_)) | Err(_) => return,
                    }
                }
                Direct::End => {
                    // Complete a partly written event, then the last chunk,
                    // so the client sees a clean end (and resumes from the
                    // last event it received).
                    let partial = subscription.finish().unwrap_or_default();
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
                        write_shared(&stream, &partial).await?;
                        write_shared(&stream, b"0\r\n\r\n").await
                    })
                    .await;
                    // The response is complete: say so at once, whoever
                    // still holds the socket.
                    let _ = socket2::SockRef::from(&*stream).shutdown(std::net::Shutdown::Write);
                    return;
                }
                Direct::Broken => return,
            },
            readable = stream.readable() => {
                if readable.is_err() {
                    return;
                }
                match stream.try_read(&mut probe) {
                    // The client closed or broke the connection; bytes it
                    // sends (it should send none) are ignored.
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            },
        }
    }
}

/// Writes all of `bytes` to a socket shared with the outbox.
async fn write_shared(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Serves the connection with hyper, replaying the bytes already read.
async fn hand_off(stream: TcpStream, prefix: Bytes, app: Router) {
    let io = hyper_util::rt::TokioIo::new(Rewind {
        prefix,
        inner: stream,
    });
    let service = hyper_util::service::TowerToHyperService::new(app);
    let builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    if let Err(error) = builder.serve_connection_with_upgrades(io, service).await {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// A stream that first yields bytes already read from it.
struct Rewind {
    prefix: Bytes,
    inner: TcpStream,
}

impl AsyncRead for Rewind {
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

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
