//! What the hub benchmarks (`load.rs`, `compare.rs`) share: raw HTTP/1.1
//! over loopback (connections from several source addresses, a keep-alive
//! publisher, a subscription), the one-thread reader of stamped events,
//! percentiles, and a process's memory and CPU time from /proc.
//!
//! Included by each benchmark with `#[path = "support/mod.rs"] mod
//! support;`: a benchmark uses only part of it.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mercure_core::ProtocolVersion;
use mercure_core::token::{Grants, SigningKey, TokenFactory};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The key `mercure-hub` runs with in the benchmarks (HS256).
pub(crate) const SECRET: &str = "!ChangeThisMercureHubJWTSecretKey!";
/// The hub's path (both hubs serve it).
pub(crate) const PATH: &str = "/.well-known/mercure";

/// The number in the environment variable `name`, or `default`.
pub(crate) fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `default` for a benchmark run, `small` for the smoke run of `cargo test`.
pub(crate) fn size(name: &str, default: u64, small: u64, smoke: bool) -> u64 {
    env(name, if smoke { small } else { default })
}

/// This process's open-files limit (the soft one, as `ulimit -n` set it).
pub(crate) fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(1024)
}

/// CPU time the process `pid` has used (user + system), in milliseconds.
pub(crate) fn process_cpu_ms(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which ends with ')'): utime and
    // stime are the 12th and 13th, in clock ticks of 10 ms.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) * 10
}

/// A field of a /proc status file in KiB (`VmRSS`, `VmHWM`); 0 if absent.
pub(crate) fn proc_status_kib(path: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(path).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resident memory of the process `pid`, in KiB.
pub(crate) fn process_rss_kib(pid: u32) -> u64 {
    proc_status_kib(&format!("/proc/{pid}/status"), "VmRSS")
}

/// Wall-clock time since the Unix epoch, in nanoseconds (the stamps of
/// the delivery phases).
pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A token allowed to publish on every topic of `mercure-hub` ([`SECRET`]).
pub(crate) fn publisher_token() -> String {
    token(SECRET, &Grants::publish_all(), ProtocolVersion::default())
}

/// A token signed with `secret` (HS256) carrying `grants` in the claims of
/// `dialect` (`mercure` for 0.x, `authorization_details` for 1.0).
pub(crate) fn token(secret: &str, grants: &Grants, dialect: ProtocolVersion) -> String {
    TokenFactory::builder(SigningKey::hs256(secret).expect("key"))
        .protocol(dialect)
        .build()
        .expect("factory")
        .mint(grants)
        .expect("token")
        .expose()
        .to_owned()
}

/// Number of loopback source addresses used (`BENCH_SOURCES`).
pub(crate) static SOURCES: AtomicU64 = AtomicU64::new(1);

/// Connects from 127.0.0.(1 + n % BENCH_SOURCES) so that many connections do not run
/// out of ephemeral ports.
pub(crate) async fn connect(addr: SocketAddr, n: usize) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    let sources = SOURCES.load(Ordering::Relaxed).max(1);
    if sources > 1 {
        let source = Ipv4Addr::new(127, 0, 0, 1 + (n as u64 % sources) as u8);
        socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A keep-alive publisher speaking raw HTTP/1.1.
pub(crate) struct Publisher {
    stream: TcpStream,
    head: String,
    buffer: Vec<u8>,
}

impl Publisher {
    pub(crate) async fn new(addr: SocketAddr, token: &str, n: usize) -> Self {
        Self::connect(addr, token, n, false).await.expect("connect")
    }

    /// A publisher on a new connection (the `n`th, for its source
    /// address); with `closing`, its requests ask the hub to close the
    /// connection after the response (`Connection: close`).
    pub(crate) async fn connect(
        addr: SocketAddr,
        token: &str,
        n: usize,
        closing: bool,
    ) -> std::io::Result<Self> {
        let connection = if closing { "Connection: close\r\n" } else { "" };
        Ok(Self {
            stream: connect(addr, n).await?,
            head: format!(
                "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
                 {connection}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
            ),
            buffer: Vec::with_capacity(4096),
        })
    }

    /// Publishes `body`; returns the response status.
    pub(crate) async fn publish(&mut self, body: &str) -> u16 {
        self.try_publish(body).await.expect("publish")
    }

    /// Publishes `body`; returns the response status, or the error of a
    /// connection that broke (the hub was killed).
    pub(crate) async fn try_publish(&mut self, body: &str) -> std::io::Result<u16> {
        let mut request = String::with_capacity(self.head.len() + body.len() + 16);
        request.push_str(&self.head);
        request.push_str(&body.len().to_string());
        request.push_str("\r\n\r\n");
        request.push_str(body);
        self.stream.write_all(request.as_bytes()).await?;
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buffer[..end]).expect("utf-8 head");
                let status: u16 = head[9..12].parse().expect("status");
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if self.buffer.len() >= end + 4 + length {
                    self.buffer.drain(..end + 4 + length);
                    return Ok(status);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the hub closed a publisher connection",
                ));
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Where `needle` first occurs in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Opens a connection and sends a subscription request for `query` (the
/// query string, already encoded) with the header lines `headers` (each
/// ending with CRLF), without waiting for the response: for a hub that
/// sends nothing until the first event.
pub(crate) async fn open_subscription(
    addr: SocketAddr,
    query: &str,
    headers: &str,
    n: usize,
) -> std::io::Result<TcpStream> {
    let mut stream = connect(addr, n).await?;
    let request = format!(
        "GET {PATH}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{headers}\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    Ok(stream)
}

/// Opens a subscription and waits for the response head and opening comment.
pub(crate) async fn subscribe(
    addr: SocketAddr,
    topic: &str,
    n: usize,
) -> std::io::Result<TcpStream> {
    let mut stream = connect(addr, n).await?;
    let request = format!(
        "GET {PATH}?topic={topic} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buffer = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed before the stream opened"));
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            assert!(
                buffer.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&buffer)
            );
            if find(&buffer[end..], b":\n\n").is_some() {
                return Ok(stream);
            }
        }
    }
}

/// One subscription read by [`read_stamps`].
struct Reader {
    stream: mio::net::TcpStream,
    pending: Vec<u8>,
    seen: usize,
}

/// Publish→receive latencies, two ways.
#[derive(Default)]
pub(crate) struct Latencies {
    /// Until the event was in the subscriber's socket: the kernel's
    /// receive timestamp (`SO_TIMESTAMPNS`) of the bytes carrying it.
    pub(crate) arrived: Vec<u64>,
    /// Until the subscriber process had read it.
    pub(crate) read: Vec<u64>,
}

/// Reads every subscription in `streams` on one thread with one `epoll`
/// loop until each has delivered `expected` events (or `limit` passes),
/// recording one latency per `data: <nanos>` line.
///
/// A load generator must cost far less than what it measures: the hub
/// and this process share two cores, and a task per subscription on a
/// work-stealing runtime (wake-ups, a shared result list) added up to
/// 200 ms to the tail of a 10,000-subscriber fan-out (docs/decisions.md).
pub(crate) fn read_stamps(streams: Vec<TcpStream>, expected: usize, limit: Duration) -> Latencies {
    read_stamps_counting(streams, expected, limit, None)
}

/// [`read_stamps`], adding 1 to `progress` for every event read (so that a
/// publisher can wait until every subscriber has an update before it
/// sends the next).
pub(crate) fn read_stamps_counting(
    streams: Vec<TcpStream>,
    expected: usize,
    limit: Duration,
    progress: Option<&AtomicU64>,
) -> Latencies {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
    use std::os::fd::AsRawFd;

    let poll = mio::Poll::new().expect("poll");
    let mut readers: Vec<Reader> = streams
        .into_iter()
        .enumerate()
        .map(|(i, stream)| {
            let std = stream.into_std().expect("std stream");
            setsockopt(&std, sockopt::ReceiveTimestampns, &true).expect("SO_TIMESTAMPNS");
            let mut stream = mio::net::TcpStream::from_std(std);
            poll.registry()
                .register(&mut stream, mio::Token(i), mio::Interest::READABLE)
                .expect("register");
            Reader {
                stream,
                pending: Vec::with_capacity(256),
                seen: 0,
            }
        })
        .collect();
    let mut poll = poll;
    let mut latencies = Latencies {
        arrived: Vec::with_capacity(readers.len() * expected),
        read: Vec::with_capacity(readers.len() * expected),
    };
    let mut remaining = readers.len();
    let mut events = mio::event::Events::with_capacity(1024);
    let mut chunk = vec![0u8; 4096];
    let mut control = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let deadline = Instant::now() + limit;
    while remaining > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || poll.poll(&mut events, Some(left)).is_err() {
            break;
        }
        for event in events.iter() {
            let reader = &mut readers[event.token().0];
            // Edge-triggered: read until the socket is drained.
            while reader.seen < expected {
                let mut iov = [std::io::IoSliceMut::new(&mut chunk)];
                let (n, arrived) = match recvmsg::<()>(
                    reader.stream.as_raw_fd(),
                    &mut iov,
                    Some(&mut control),
                    MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(message) => (
                        message.bytes,
                        message.cmsgs().ok().and_then(|mut c| {
                            c.find_map(|c| match c {
                                ControlMessageOwned::ScmTimestampns(at) => {
                                    Some(at.tv_sec() as u64 * 1_000_000_000 + at.tv_nsec() as u64)
                                }
                                _ => None,
                            })
                        }),
                    ),
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break,
                };
                if n == 0 {
                    reader.seen = expected;
                    remaining -= 1;
                    break;
                }
                let read = now_nanos();
                reader.pending.extend_from_slice(&chunk[..n]);
                let Some(last_newline) = reader.pending.iter().rposition(|&b| b == b'\n') else {
                    continue;
                };
                for line in reader.pending[..last_newline].split(|&b| b == b'\n') {
                    if let Some(value) = line.strip_prefix(b"data: ")
                        && let Ok(text) = std::str::from_utf8(value)
                        && let Ok(sent) = text.trim().parse::<u64>()
                    {
                        latencies.read.push(read.saturating_sub(sent));
                        if let Some(arrived) = arrived {
                            latencies.arrived.push(arrived.saturating_sub(sent));
                        }
                        reader.seen += 1;
                        if let Some(progress) = progress {
                            progress.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                reader.pending.drain(..=last_newline);
                if reader.seen >= expected {
                    remaining -= 1;
                }
                // A read that did not fill the buffer drained the socket:
                // new bytes raise a new edge, so skip the read that would
                // only say EAGAIN (one system call per event saved).
                if n < chunk.len() && reader.pending.is_empty() {
                    break;
                }
            }
        }
    }
    if remaining > 0 {
        println!("  {remaining} subscribers did not receive every update in time");
    }
    latencies
}

/// The `p` quantile (0 to 1) of `sorted` nanoseconds, in ms.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1e6
}

/// Prints the count, median, 99th percentile and maximum; returns the
/// median and the 99th percentile, in ms.
pub(crate) fn report_latencies(name: &str, mut nanos: Vec<u64>) -> (f64, f64) {
    nanos.sort_unstable();
    let (p50, p99) = (percentile(&nanos, 0.50), percentile(&nanos, 0.99));
    println!(
        "{name}: n={} p50={p50:.3} ms p99={p99:.3} ms max={:.3} ms",
        nanos.len(),
        percentile(&nanos, 1.0)
    );
    (p50, p99)
}
