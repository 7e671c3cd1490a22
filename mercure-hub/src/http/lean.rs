//! A lean HTTP/1.1 path for the most numerous requests a hub serves: plain
//! SSE subscriptions. hyper keeps two 8 KiB buffers for the life of every
//! connection; a subscriber that stays connected for hours needs neither,
//! so `serve_hub` answers `GET {hub path}` itself (head parsed with
//! `httparse`, chunked frames written as they come) and hands every other
//! connection, with the bytes already read, to hyper and the axum router.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::Watch;
use super::admission::{Admission, Limits};
use super::client::{Client, Counted};
use super::connection::{Connection, Protocol, WRITE_TIMEOUT};
use super::cors::Cors;
use crate::subscription::Direct;
use crate::{EmbeddedHub, Subscription};

/// Largest request head read; a longer one is answered 431.
const MAX_HEAD: usize = 64 * 1024;
/// The HTTP/2 connection preface (RFC 9113, section 3.4): read whole
/// within the head timeout before hyper sees the connection.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves `app` (which should include [`EmbeddedHub::router`]) on
/// `listener` until `shutdown` completes, answering plain HTTP/1.1
/// subscriptions to `hub` on a lean path that keeps far less memory per
/// idle subscriber than hyper does. Every other request (publishing, the
/// subscriptions API, browsers' preflights, HTTP/2, refused subscriptions)
/// goes to `app` through hyper. Layers added to `app` (logging, rate
/// limits, extra authentication) therefore do not see the subscriptions
/// served on the lean path: use [`serve`](crate::serve) when they must.
/// `TCP_NODELAY` is set on every connection.
///
/// The hub's configuration bounds every connection, on both paths: a
/// request head must arrive within
/// [`head_timeout`](crate::HubConfigBuilder::head_timeout) (or the
/// connection is answered 408 and closed; so is an idle keep-alive
/// connection), a head is at most 64 KiB (431), and at most
/// [`max_connections`](crate::HubConfigBuilder::max_connections) are served
/// at once, of which
/// [`max_connections_per_address`](crate::HubConfigBuilder::max_connections_per_address)
/// from one IPv4 address or IPv6 /64 network: beyond, a connection is
/// answered 503 or 429 with `Retry-After` and closed. Bodies are bounded by
/// the hub's handlers ([`body_timeout`](crate::HubConfigBuilder::body_timeout)).
/// HTTP/2 connections (prior knowledge) are held to the same bounds: the
/// preface, settings and first request within the head timeout, closed
/// once they have had no open stream for as long, at most 16 streams at
/// once, each beyond the first counted as a connection of its address
/// (429 or 503 beyond), and pinged to detect a peer gone silent. On every
/// path a client that stops reading for 60 s is disconnected.
///
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
    let admission = Admission::new(Limits::of(hub.config()));
    let cors = Cors::new(
        &hub.config().cors_origins,
        hub.config()
            .support
            .accepts(mercure_core::ProtocolVersion::V1),
    )
    .map(Arc::new);
    super::accept_until(listener, &admission, shutdown, |accepted, watch| {
        tokio::spawn(connection(
            accepted,
            Arc::clone(&admission),
            hub.clone(),
            app.clone(),
            cors.clone(),
            watch,
        ));
    })
    .await;
    Ok(())
}

/// What reading a request head gave.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Head {
    /// A complete HTTP/1 head (and maybe more bytes after it).
    Complete,
    /// The whole HTTP/2 connection preface (and maybe more bytes after
    /// it): for hyper.
    Http2,
    /// Longer than [`MAX_HEAD`].
    TooLarge,
    /// Not complete in time.
    TimedOut,
    /// The client went away, or the connection failed.
    Gone,
}

/// Reads from `stream` into `head` until a request head is complete, within
/// `timeout` in all.
pub(super) async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    head: &mut Vec<u8>,
    timeout: Duration,
) -> Head {
    let read = async {
        // Where the search for the blank line resumes: each byte is looked
        // at a bounded number of times, however the head is split.
        let mut searched = 0;
        loop {
            if head.len() >= MAX_HEAD {
                return Head::TooLarge;
            }
            let room = MAX_HEAD - head.len();
            let mut chunk = [0u8; 4096];
            let n = match stream.read(&mut chunk[..room.min(4096)]).await {
                Ok(0) | Err(_) => return Head::Gone,
                Ok(n) => n,
            };
            head.extend_from_slice(&chunk[..n]);
            if head.starts_with(PREFACE) {
                return Head::Http2;
            }
            if PREFACE.starts_with(head) {
                // Maybe the preface, not whole yet.
                continue;
            }
            // The blank line ending a head: CRLF CRLF, or bare LF line
            // ends, which httparse (and hyper) accept too.
            let rest = &head[searched..];
            if find(rest, b"\n\r\n").is_some() || find(rest, b"\n\n").is_some() {
                return Head::Complete;
            }
            searched = head.len().saturating_sub(2);
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Head::TimedOut)
}

async fn connection(
    mut connection: Connection,
    admission: Arc<Admission>,
    hub: EmbeddedHub,
    app: Router,
    cors: Option<Arc<Cors>>,
    watch: Watch,
) {
    let Watch {
        mut signal,
        _alive: alive,
    } = watch;
    let head_timeout = admission.limits().head_timeout;
    let mut head = Vec::with_capacity(1024);
    let read = tokio::select! {
        read = read_head(&mut connection.stream, &mut head, head_timeout) => read,
        _ = signal.changed() => return,
    };
    let mut client = Client::at(connection.peer.ip());
    if read == Head::Complete
        && let Some(subscription) = lean_subscription(&hub, &head, &mut client).await
    {
        let cors = cors_headers(cors.as_deref(), &head);
        // Free the request buffer: the stream may stay open for hours.
        drop(head);
        drop(app);
        let Connection { stream, permit, .. } = connection;
        stream_subscription(stream, subscription, cors, signal).await;
        drop(permit);
        drop(alive);
        return;
    }
    let Some(protocol) = protocol_of(read, &mut connection.stream).await else {
        return;
    };
    super::connection::serve(
        connection,
        Bytes::from(head),
        protocol,
        app,
        head_timeout,
        Some(signal),
        // A subscription refused here is answered by the router, with
        // the rate limit verdict reached here (counted once).
        client.verdict.map(Counted),
    )
    .await;
    drop(alive);
}

/// The protocol hyper serves a connection with, from what reading its
/// first head gave; `None` once the connection is answered (431, 408) or
/// gone, to be closed.
pub(super) async fn protocol_of<S: AsyncWrite + Unpin>(
    read: Head,
    stream: &mut S,
) -> Option<Protocol> {
    match read {
        Head::Complete => Some(Protocol::Http1),
        Head::Http2 => Some(Protocol::Http2),
        Head::TooLarge => {
            answer_and_close(stream, REQUEST_HEAD_TOO_LARGE).await;
            None
        }
        Head::TimedOut => {
            answer_and_close(stream, REQUEST_TIMEOUT).await;
            None
        }
        Head::Gone => None,
    }
}

const REQUEST_HEAD_TOO_LARGE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
    content-type: text/plain; charset=utf-8\r\n\
    connection: close\r\n\
    content-length: 29\r\n\r\n\
    the request head is too long\n";

const REQUEST_TIMEOUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\n\
    content-type: text/plain; charset=utf-8\r\n\
    connection: close\r\n\
    content-length: 42\r\n\r\n\
    the request head was not received in time\n";

/// Writes `response` if the socket takes it within [`ANSWER_TIME`], and
/// closes.
async fn answer_and_close<S: AsyncWrite + Unpin>(stream: &mut S, response: &[u8]) {
    // A client that stalls its own reading gets nothing: the answer is a
    // courtesy, never a wait.
    let _ = tokio::time::timeout(ANSWER_TIME, async {
        stream.write_all(response).await?;
        stream.shutdown().await
    })
    .await;
}

/// How long writing a last answer (408, 431) and closing may take.
const ANSWER_TIME: Duration = Duration::from_millis(100);

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The subscription a request head asks for, when it is a plain HTTP/1.1
/// `GET` of the hub that the hub accepts; `None` sends it to hyper (which
/// also writes the error responses).
async fn lean_subscription(
    hub: &EmbeddedHub,
    head: &[u8],
    client: &mut Client,
) -> Option<Subscription> {
    let (query, map) = lean_request(hub, head)?;
    // Boxed: the subscribing future is large and short-lived, and the
    // connection's task, which lives as long as the stream, would
    // otherwise keep room for it (kilobytes per idle subscriber).
    Box::pin(super::subscribe::handle(
        hub,
        query.as_bytes(),
        &map,
        client,
    ))
    .await
    .ok()
}

/// The query and headers of a request head that may take the lean path
/// (see [`lean_subscription`]).
fn lean_request<'h>(hub: &EmbeddedHub, head: &'h [u8]) -> Option<(&'h str, HeaderMap)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(length) = request.parse(head).ok()? else {
        return None;
    };
    if length != head.len() || request.method != Some("GET") || request.version != Some(1) {
        return None;
    }
    let target = request.path?;
    // What hyper would refuse (httparse accepts more bytes in a target than
    // `http::Uri`, such as `<`, `>` and `"`) goes to the router, which
    // refuses it the same way.
    axum::http::Uri::try_from(target).ok()?;
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
    Some((query, map))
}

/// The CORS header lines of the response to the request `head` (the
/// router's rules, from [`Cors`]).
fn cors_headers(cors: Option<&Cors>, head: &[u8]) -> String {
    let Some(cors) = cors else {
        return String::new();
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    if request.parse(head).is_err() {
        return String::new();
    }
    let origin = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("origin"))
        .map(|h| h.value);
    let mut out = String::new();
    for (name, value) in cors.response_headers(origin) {
        // Values are visible ASCII: the allowed origin was listed in the
        // configuration and compared byte for byte.
        if let Ok(value) = value.to_str() {
            out.push_str(name.as_str());
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
    }
    out
}

/// Writes the response head, the opening chunk and the history asked for,
/// then hands the socket
/// to the subscription's outbox (publishers write events to it directly)
/// and watches it: waits for a full socket to drain, sends heartbeats,
/// ends the stream when the hub closes it or the token expires, and
/// notices the client going away.
async fn stream_subscription(
    stream: TcpStream,
    mut subscription: Subscription,
    cors: String,
    mut signal: watch::Receiver<()>,
) {
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
    let mut out = head.into_bytes();
    let mut stream = stream;
    // The head with the opening comment, then history a page at a time,
    // each written (from the page's own buffer, which holds its share of
    // the replay budget until then) before the next is read.
    while let Some(piece) = std::future::poll_fn(|cx| subscription.poll_opening(cx)).await {
        let mut size = Vec::with_capacity(out.len() + 16);
        size.append(&mut out);
        size.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        let mut whole = Bytes::from(size).chain(piece).chain(&b"\r\n"[..]);
        match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all_buf(&mut whole)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return,
        }
    }
    if !out.is_empty() {
        match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&out)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return,
        }
    }
    drop(out);
    let stream = Arc::new(stream);
    subscription.attach(Arc::clone(&stream));
    let mut probe = [0u8; 64];
    let mut signal_seen = false;
    loop {
        let direct = tokio::select! {
            direct = std::future::poll_fn(|cx| subscription.poll_direct(cx)) => Some(direct),
            // The server stops: the stream ends as when the hub closes it.
            _ = signal.changed(), if !signal_seen => {
                signal_seen = true;
                Some(Direct::End)
            }
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
                None
            },
        };
        if let Some(direct) = direct {
            match direct {
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
                    let partial = subscription.finish();
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
            }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;
    use crate::HubConfig;

    /// A client side writing `pieces` `every` apart, and the server side.
    fn client(pieces: Vec<Vec<u8>>, every: Duration) -> DuplexStream {
        let (mut client, server) = tokio::io::duplex(MAX_HEAD * 2);
        tokio::spawn(async move {
            for piece in pieces {
                if client.write_all(&piece).await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
            // Keep the connection open: a stalled client.
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        server
    }

    async fn head_of(pieces: &[&[u8]], timeout: Duration) -> (Head, Vec<u8>) {
        let mut server = client(
            pieces.iter().map(|p| p.to_vec()).collect(),
            Duration::from_millis(5),
        );
        let mut head = Vec::new();
        let result = read_head(&mut server, &mut head, timeout).await;
        (result, head)
    }

    const GET: &[u8] = b"GET /.well-known/mercure?topic=t HTTP/1.1\r\nhost: x\r\n\r\n";

    #[tokio::test]
    async fn heads_split_anywhere_are_read_whole() {
        for split in [
            1,
            2,
            10,
            GET.len() - 4,
            GET.len() - 3,
            GET.len() - 2,
            GET.len() - 1,
        ] {
            let (result, head) =
                head_of(&[&GET[..split], &GET[split..]], Duration::from_secs(5)).await;
            assert_eq!(result, Head::Complete, "split at {split}");
            assert_eq!(head, GET, "split at {split}");
        }
        let bytes: Vec<&[u8]> = GET.chunks(1).collect();
        let (result, head) = head_of(&bytes, Duration::from_secs(5)).await;
        assert_eq!((result, head.as_slice()), (Head::Complete, GET));
        // The bytes after the head (a body) are kept for hyper.
        let post = b"POST /x HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc";
        let (result, head) = head_of(&[post], Duration::from_secs(5)).await;
        assert_eq!((result, head.as_slice()), (Head::Complete, &post[..]));
        // Bare LF line ends, which hyper accepts too, end a head as well.
        let bare = b"GET /.well-known/mercure?topic=t HTTP/1.1\nhost: x\n\n";
        for split in 1..bare.len() {
            let (result, head) =
                head_of(&[&bare[..split], &bare[split..]], Duration::from_secs(5)).await;
            assert_eq!(
                (result, head.as_slice()),
                (Head::Complete, &bare[..]),
                "{split}"
            );
        }
    }

    #[tokio::test]
    async fn the_http2_preface_goes_to_hyper_once_whole() {
        let mut preface = PREFACE.to_vec();
        // The client's first SETTINGS frame (empty), read along.
        preface.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        for split in [0, 2, 4, 10, 17, 18, 23, 24] {
            let (result, head) = head_of(
                &[&preface[..split], &preface[split..]],
                Duration::from_secs(5),
            )
            .await;
            assert_eq!(result, Head::Http2, "split at {split}");
            assert!(head.starts_with(PREFACE), "split at {split}");
        }
        let bytes: Vec<&[u8]> = PREFACE.chunks(1).collect();
        let (result, head) = head_of(&bytes, Duration::from_secs(5)).await;
        assert_eq!((result, head.as_slice()), (Head::Http2, PREFACE));
        // A method that only starts like the preface is HTTP/1.
        let (result, _) = head_of(&[b"PRIX / HTTP/1.1\r\n\r\n"], Duration::from_secs(5)).await;
        assert_eq!(result, Head::Complete);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_preface_times_out() {
        // The preface up to its blank line (which would end an HTTP/1
        // head), then nothing.
        for part in [&b"PRI "[..], &PREFACE[..18], &PREFACE[..23]] {
            let started = tokio::time::Instant::now();
            let (result, _) = head_of(&[part], Duration::from_secs(10)).await;
            assert_eq!(result, Head::TimedOut, "{part:?}");
            assert_eq!(started.elapsed(), Duration::from_secs(10));
        }
    }

    #[tokio::test]
    async fn heads_are_bounded_in_size() {
        let mut long = b"GET / HTTP/1.1\r\nx: ".to_vec();
        long.resize(MAX_HEAD + 4096, b'a');
        let (result, head) = head_of(&[&long], Duration::from_secs(5)).await;
        assert_eq!(result, Head::TooLarge);
        assert_eq!(head.len(), MAX_HEAD, "nothing read past the limit");
        // A head of exactly the limit is still read.
        let mut exact = b"GET / HTTP/1.1\r\nx: ".to_vec();
        exact.resize(MAX_HEAD - 4, b'a');
        exact.extend_from_slice(b"\r\n\r\n");
        let (result, _) = head_of(&[&exact], Duration::from_secs(5)).await;
        assert_eq!(result, Head::Complete);
    }

    #[tokio::test(start_paused = true)]
    async fn heads_are_bounded_in_time_as_a_whole() {
        // A byte every second never completes within ten seconds, though
        // each byte arrives well within it.
        let mut server = client(
            GET.chunks(1).map(<[u8]>::to_vec).collect(),
            Duration::from_secs(1),
        );
        let started = tokio::time::Instant::now();
        let mut head = Vec::new();
        let result = read_head(&mut server, &mut head, Duration::from_secs(10)).await;
        assert_eq!(result, Head::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        // A client that goes away.
        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        assert_eq!(
            read_head(&mut server, &mut Vec::new(), Duration::from_secs(10)).await,
            Head::Gone
        );
    }

    #[test]
    fn refusals_are_complete_responses() {
        for (response, status) in [(REQUEST_HEAD_TOO_LARGE, 431), (REQUEST_TIMEOUT, 408)] {
            let mut headers = [httparse::EMPTY_HEADER; 8];
            let mut parsed = httparse::Response::new(&mut headers);
            let httparse::Status::Complete(head) = parsed.parse(response).unwrap() else {
                panic!("incomplete head");
            };
            assert_eq!(parsed.code, Some(status));
            let length: usize = parsed
                .headers
                .iter()
                .find(|h| h.name == "content-length")
                .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                .unwrap();
            assert_eq!(response.len() - head, length, "{status}");
        }
    }

    fn hub() -> EmbeddedHub {
        EmbeddedHub::new(
            HubConfig::builder()
                .anonymous(true)
                .cors_origin("https://app.example.com")
                .build()
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn only_plain_http_1_1_subscriptions_take_the_lean_path() {
        let hub = hub();
        assert!(
            lean_subscription(&hub, GET, &mut Client::default())
                .await
                .is_some()
        );
        for head in [
            &b"GET /.well-known/mercure?topic=t HTTP/1.0\r\n\r\n"[..],
            b"POST /.well-known/mercure?topic=t HTTP/1.1\r\n\r\n",
            b"GET /.well-known/mercure/subscriptions?topic=t HTTP/1.1\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\n\r\n",
            b"GET /.well-known/mercure?topic=t HTTP/1.1\r\nupgrade: websocket\r\n\r\n",
            b"GET /.well-known/mercure?topic=t HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
            b"GET /.well-known/mercure?topic=t HTTP/1.1\r\ncontent-length: 3\r\n\r\n",
            // Bytes hyper refuses in a target: the router answers them.
            b"GET /.well-known/mercure?topic=a>b HTTP/1.1\r\n\r\n",
            b"GET /.well-known/mercure?topic=a\"b HTTP/1.1\r\n\r\n",
            // Bytes after the head: a pipelined request, for hyper.
            b"GET /.well-known/mercure?topic=t HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            // Refused subscriptions are answered by the router.
            b"GET /.well-known/mercure?topic=%FF HTTP/1.1\r\n\r\n",
            b"GET /.well-known/mercure HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ] {
            assert!(
                lean_subscription(&hub, head, &mut Client::default())
                    .await
                    .is_none(),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn cors_headers_follow_the_shared_policy() {
        let cors = Cors::new(&["https://app.example.com".to_owned()], true).unwrap();
        let allowed = cors_headers(
            Some(&cors),
            b"GET / HTTP/1.1\r\norigin: https://app.example.com\r\n\r\n",
        );
        assert_eq!(
            allowed,
            "vary: origin\r\n\
             access-control-allow-origin: https://app.example.com\r\n\
             access-control-allow-credentials: true\r\n\
             access-control-expose-headers: last-event-id,mercure-last-event-id,link,www-authenticate\r\n"
        );
        let other = cors_headers(
            Some(&cors),
            b"GET / HTTP/1.1\r\norigin: https://evil.example.net\r\n\r\n",
        );
        assert_eq!(other, "vary: origin\r\n");
        assert_eq!(cors_headers(None, GET), "");
    }

    /// Everything the server sends until it closes, within five seconds.
    async fn exchange(addr: std::net::SocketAddr, pieces: &[&[u8]], read: usize) -> Vec<u8> {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        for piece in pieces {
            stream.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buffer = [0u8; 4096];
            while answer.len() < read {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => answer.extend_from_slice(&buffer[..n]),
                }
            }
        })
        .await;
        answer
    }

    #[tokio::test]
    async fn other_requests_are_handed_to_the_router_with_the_bytes_read() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hub = hub();
        let app = hub.router().merge(hub.operations_router());
        let server = tokio::spawn(serve_hub(listener, hub, app, std::future::pending()));
        // A head split in two, handed to hyper with its first part.
        let health = exchange(
            addr,
            &[
                b"GET /heal",
                b"thz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            ],
            usize::MAX,
        )
        .await;
        let health = String::from_utf8_lossy(&health);
        assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
        assert!(health.ends_with("ok\n"), "{health}");
        // A subscription split in two stays on the lean path (chunked).
        let stream = exchange(addr, &[&GET[..20], &GET[20..]], 1).await;
        let stream = String::from_utf8_lossy(&stream);
        assert!(stream.starts_with("HTTP/1.1 200 OK\r\n"), "{stream}");
        assert!(
            stream.contains("transfer-encoding: chunked\r\n"),
            "{stream}"
        );
        // A refused subscription is answered by the router.
        let refused = exchange(
            addr,
            &[b"GET /.well-known/mercure?matchExact=t HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"],
            usize::MAX,
        )
        .await;
        assert!(refused.starts_with(b"HTTP/1.1 400 "));
        // HTTP/2 with prior knowledge: hyper answers with its SETTINGS frame.
        let h2 = exchange(addr, &[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"], 9).await;
        assert!(h2.len() >= 9, "{h2:?}");
        assert_eq!(h2[3], 0x4, "a SETTINGS frame: {h2:?}");
        // A head too long is refused at once.
        let mut long = b"GET / HTTP/1.1\r\nx: ".to_vec();
        long.resize(MAX_HEAD + 10, b'a');
        let answer = exchange(addr, &[&long], usize::MAX).await;
        assert!(
            answer.starts_with(b"HTTP/1.1 431 "),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
        server.abort();
    }
}
