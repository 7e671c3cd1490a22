//! `lean_head`: arbitrary bytes, split at arbitrary points, sent as the
//! start of a connection to `mercure_hub::serve_hub` on 127.0.0.1.
//!
//! `serve_hub` reads every request head itself (`mercure-hub/src/http/lean.rs`:
//! the blank-line search resumed across reads, the HTTP/2 `PRI` preface, the
//! 64 KiB bound), then serves a plain `GET` subscription on its lean path or
//! hands the connection, with the bytes read, to hyper. The target sends the
//! bytes piece by piece, letting the hub read each before the next, and
//! checks:
//!
//! - no panic anywhere in the hub (libFuzzer aborts on any panic, a spawned
//!   task's included), and an answer or a close within 20 seconds;
//! - a head with no blank line within 64 KiB is answered with exactly the
//!   431 response, then the connection is closed;
//! - a shorter head with no blank line, cut short by the client, gets no
//!   answer and a clean close;
//! - any other head gets the answer that the same app served by hyper
//!   alone (`mercure_hub::serve`) gives to the same bytes, read as the lean
//!   path hands them over: the status of the first answer, or its absence,
//!   or an HTTP/2 frame. The lean path serves only what hyper would.
//!
//! The input format is in `fuzz/README.md`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use mercure_hub::{EmbeddedHub, HubConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// The hub's bound on a request head (`MAX_HEAD` in `lean.rs`).
const MAX_HEAD: usize = 64 * 1024;
/// The hub's answer to a longer head (`REQUEST_HEAD_TOO_LARGE` in `lean.rs`).
const TOO_LARGE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
    content-type: text/plain; charset=utf-8\r\n\
    connection: close\r\n\
    content-length: 29\r\n\r\n\
    the request head is too long\n";
/// Filler bytes inserted when the growth byte is `g > 0`: `FILLER + g`.
const FILLER: usize = MAX_HEAD - 256;
/// The HTTP/2 connection preface (`PREFACE` in `lean.rs`).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// At most this many split points.
const MAX_SPLITS: usize = 7;
/// How long one exchange may take before the hub counts as hung.
const PATIENCE: Duration = Duration::from_secs(20);

struct Server {
    runtime: Runtime,
    /// `serve_hub`: the lean path, then hyper.
    lean: SocketAddr,
    /// `serve`: the same app behind hyper alone.
    hyper: SocketAddr,
}

/// One hub for the whole run, on a current-thread runtime that only runs
/// while an input is being tried.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        // libFuzzer's `main` is not Rust's: SIGPIPE is not ignored, and a
        // write (hyper's `writev`) to a connection the target already reset
        // would kill the process. A Rust program ignores it from the start.
        // SAFETY: setting a signal's disposition to SIG_IGN, before any
        // thread of the target exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (lean, hyper) = runtime.block_on(async {
            let lean = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let hyper = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let addr = lean.local_addr().expect("the bound address");
            let hub = EmbeddedHub::new(
                HubConfig::builder()
                    .url(format!("http://{addr}/.well-known/mercure"))
                    .anonymous(true)
                    .cors_origin("https://app.example.com")
                    // Connections of earlier inputs may still be winding
                    // down: no limit may turn an answer into a 429.
                    .max_connections(0)
                    .max_connections_per_address(0)
                    .build()
                    .expect("hub configuration"),
            );
            let app = hub.router().merge(hub.operations_router());
            let addrs = (addr, hyper.local_addr().expect("the bound address"));
            tokio::spawn(mercure_hub::serve(hyper, app.clone()));
            tokio::spawn(mercure_hub::serve_hub(
                lean,
                hub,
                app,
                std::future::pending(),
            ));
            addrs
        });
        Server {
            runtime,
            lean,
            hyper,
        }
    })
}

/// The bytes to send and where to cut them.
struct Case {
    stream: Vec<u8>,
    cuts: Vec<usize>,
}

impl Case {
    fn decode(data: &[u8]) -> Self {
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        let splits = usize::from(byte(0)) % (MAX_SPLITS + 1);
        let grow = usize::from(byte(1));
        let at = usize::from(byte(2));
        let payload = &data[(3 + 2 * splits).min(data.len())..];
        let mut stream = payload.to_vec();
        if grow > 0 {
            let at = at % (payload.len() + 1);
            stream.splice(at..at, std::iter::repeat_n(b'a', FILLER + grow));
        }
        // The hub never reads past its bound: bytes beyond it would only
        // turn its close into a reset.
        stream.truncate(MAX_HEAD);
        let mut cuts: Vec<usize> = if stream.len() > 1 {
            (0..splits)
                .map(|i| u16::from_le_bytes([byte(3 + 2 * i), byte(4 + 2 * i)]))
                .map(|cut| 1 + usize::from(cut) % (stream.len() - 1))
                .collect()
        } else {
            Vec::new()
        };
        cuts.sort_unstable();
        cuts.dedup();
        Self { stream, cuts }
    }

    fn pieces(&self) -> Vec<&[u8]> {
        let mut pieces = Vec::with_capacity(self.cuts.len() + 1);
        let mut start = 0;
        for &cut in &self.cuts {
            pieces.push(&self.stream[start..cut]);
            start = cut;
        }
        pieces.push(&self.stream[start..]);
        pieces
    }

    /// The pieces as the lean path hands them to hyper: those it read to
    /// find the end of the head (or the whole HTTP/2 preface) as one, then
    /// the others.
    fn handed_over(&self) -> Vec<&[u8]> {
        let pieces = self.pieces();
        let mut read = 0;
        for (i, piece) in pieces.iter().enumerate() {
            read += piece.len();
            let head = &self.stream[..read];
            if head.starts_with(PREFACE) || complete(head) {
                let mut handed = vec![head];
                handed.extend_from_slice(&pieces[i + 1..]);
                return handed;
            }
        }
        vec![&self.stream[..]]
    }

    /// The input, for failure messages.
    fn describe(&self) -> String {
        let shown = &self.stream[..self.stream.len().min(512)];
        let mut text = String::new();
        for &byte in shown {
            let _ = write!(text, "{}", std::ascii::escape_default(byte));
        }
        format!(
            "{} bytes cut at {:?}: \"{text}\"{}",
            self.stream.len(),
            self.cuts,
            if shown.len() < self.stream.len() {
                "..."
            } else {
                ""
            }
        )
    }
}

/// What the hub answered first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// An HTTP/1 status line with this code.
    Status(u16),
    /// Bytes that are not an HTTP/1 response (HTTP/2 frames).
    NotHttp1,
    /// Nothing, then a clean close.
    Silent,
    /// Nothing, then a reset: the hub closed with bytes unread, and the
    /// kernel may have dropped its answer. Compares with nothing.
    Reset,
}

/// What one connection gave back.
struct Answer {
    bytes: Vec<u8>,
    /// Whether it ended with a clean close (not a reset, not cut short by
    /// the reader).
    closed: bool,
}

impl Answer {
    fn verdict(&self) -> Verdict {
        let bytes = &self.bytes;
        if bytes.starts_with(b"HTTP/1.") && bytes.len() >= 12 {
            let code = std::str::from_utf8(&bytes[9..12])
                .ok()
                .and_then(|code| code.parse().ok());
            if let Some(code) = code {
                return Verdict::Status(code);
            }
        }
        if bytes.is_empty() || b"HTTP/1.".starts_with(&bytes[..bytes.len().min(7)]) {
            // Nothing, or less than a status line.
            return if self.closed {
                if bytes.is_empty() {
                    Verdict::Silent
                } else {
                    Verdict::NotHttp1
                }
            } else {
                Verdict::Reset
            };
        }
        Verdict::NotHttp1
    }
}

/// Yields until the runtime has polled its I/O driver a few times, so that
/// the hub reads what was just written before the next piece is.
async fn settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

/// Sends `pieces` one by one, then ends the request side; reads until the
/// hub closes (`to_end`) or until its first answer is known.
async fn exchange(addr: SocketAddr, pieces: &[&[u8]], to_end: bool) -> Answer {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect to the hub on 127.0.0.1");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    settle().await;
    for piece in pieces {
        if stream.write_all(piece).await.is_err() {
            // The hub has answered and closed already.
            break;
        }
        settle().await;
    }
    let _ = stream.shutdown().await;
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut buffer).await {
            Ok(0) => break true,
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(_) => break false,
        }
        let known = bytes.len() >= 12 || !b"HTTP/1.".starts_with(&bytes[..bytes.len().min(7)]);
        if !to_end && known {
            // A subscription's answer never ends: enough is known.
            break false;
        }
    };
    // A reset, not a close: no TIME_WAIT left behind per input.
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    Answer { bytes, closed }
}

/// Whether the lean path reads `head` as a whole request head: a blank
/// line, CRLF CRLF or with bare LF line ends (`\n\r\n` or `\n\n`), as
/// httparse and hyper accept, in what is not the start of the HTTP/2
/// preface (which the lean path waits for whole).
fn complete(head: &[u8]) -> bool {
    !PREFACE.starts_with(head) && (find(head, b"\n\r\n").is_some() || find(head, b"\n\n").is_some())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether the request line's target holds a raw `<`, `>` or `"`: the lean
/// path serves such a subscription (httparse takes these bytes) where hyper
/// answers 400 (`http::Uri` refuses them). Found by this target, reported
/// (see `fuzz/README.md`, "Findings") and left out of the comparison so
/// that a run goes on looking for something else; `LEAN_HEAD_STRICT=1`
/// compares them too.
fn known_divergence(stream: &[u8]) -> bool {
    let line = &stream[..find(stream, b"\n").unwrap_or(stream.len())];
    let mut parts = line.split(|&b| b == b' ');
    let target = parts.nth(1).unwrap_or_default();
    target.iter().any(|b| b"<>\"".contains(b))
}

/// [`exchange`], within [`PATIENCE`].
async fn exchange_within(
    addr: SocketAddr,
    pieces: &[&[u8]],
    to_end: bool,
    how: &str,
    case: &Case,
) -> Answer {
    tokio::time::timeout(PATIENCE, exchange(addr, pieces, to_end))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no answer and no close within {PATIENCE:?} ({how}): {}",
                case.describe()
            )
        })
}

fn check(case: &Case) {
    let server = server();
    let http2 = case.stream.starts_with(PREFACE);
    let blank_line = complete(&case.stream);
    // Without a blank line the lean path answers by itself, in full: read
    // to the end.
    let alone = !http2 && !blank_line;
    let lean = server.runtime.block_on(exchange_within(
        server.lean,
        &case.pieces(),
        alone,
        "lean path",
        case,
    ));
    if alone {
        if std::env::var_os("LEAN_HEAD_TRACE").is_some() {
            eprintln!("lean path {:?}: {}", lean.verdict(), case.describe());
        }
        if case.stream.len() >= MAX_HEAD {
            assert!(
                lean.bytes == TOO_LARGE && lean.closed,
                "a head without a blank line in {MAX_HEAD} bytes was answered {:?} \
                 (closed: {}) instead of 431: {}",
                String::from_utf8_lossy(&lean.bytes),
                lean.closed,
                case.describe()
            );
        } else {
            assert!(
                lean.bytes.is_empty() && lean.closed,
                "an incomplete head cut short by the client was answered {:?} \
                 (closed: {}) instead of a silent close: {}",
                String::from_utf8_lossy(&lean.bytes),
                lean.closed,
                case.describe()
            );
        }
        return;
    }
    let hyper = server.runtime.block_on(exchange_within(
        server.hyper,
        &case.handed_over(),
        false,
        "hyper alone",
        case,
    ));
    let (a, b) = (lean.verdict(), hyper.verdict());
    if std::env::var_os("LEAN_HEAD_TRACE").is_some() {
        eprintln!("lean path {a:?}, hyper alone {b:?}: {}", case.describe());
    }
    if known_divergence(&case.stream) && std::env::var_os("LEAN_HEAD_STRICT").is_none() {
        return;
    }
    if a != Verdict::Reset && b != Verdict::Reset {
        assert_eq!(
            a,
            b,
            "the lean path and hyper alone answer differently: {:?} and {:?}: {}",
            String::from_utf8_lossy(&lean.bytes[..lean.bytes.len().min(200)]),
            String::from_utf8_lossy(&hyper.bytes[..hyper.bytes.len().min(200)]),
            case.describe()
        );
    }
}

/// Runs one input (the format is in `fuzz/README.md`).
pub fn run(data: &[u8]) {
    check(&Case::decode(data));
}
