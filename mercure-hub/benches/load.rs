//! Load benchmark of the `mercure-hub` binary on loopback.
//!
//! Spawns the release binary as a child process (so its memory can be read
//! from /proc), then drives it with raw HTTP/1.1 over TCP from this process:
//!
//! 1. publish throughput: keep-alive publishers on several connections;
//! 2. publish round trip on one keep-alive connection (no delayed-ACK stall);
//! 3. publish→receive latency with 100 subscribers;
//! 4. one update fanned out to many subscribers (delivery latency spread);
//! 5. the floor: 3 and 4 again with a bare writer process in place of the
//!    hub (no HTTP, no queues: blocking writes from two threads), what
//!    this machine's loopback allows;
//! 6. new subscriptions per second;
//! 7. idle subscribers held, and the hub's resident memory per subscriber
//!    (on a fresh hub).
//!
//! Delivery latencies are given twice: until the event is in the
//! subscriber's socket (the kernel's receive timestamp, what the hub
//! controls) and until the subscriber process has read it (which adds the
//! reader's own wake-up on a machine it shares with the hub).
//!
//! Every phase is bounded in count and in time. Sizes come from
//! environment variables (see `Settings`); `benches/load.sh` raises the
//! open-files limit and runs it.

#![allow(missing_docs)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mercure_core::token::{Grants, SigningKey, TokenFactory};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const SECRET: &str = "!ChangeThisMercureHubJWTSecretKey!";
const PATH: &str = "/.well-known/mercure";

struct Settings {
    publishes: u64,
    publish_connections: usize,
    round_trips: usize,
    new_subscriptions: usize,
    idle_subscribers: usize,
    fanout_subscribers: usize,
    fanout_updates: usize,
    latency_subscribers: usize,
    latency_updates: usize,
    phase_limit: Duration,
    phases: String,
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `default` for a benchmark run, `small` for the smoke run of `cargo test`.
fn size(name: &str, default: u64, small: u64, smoke: bool) -> u64 {
    env(name, if smoke { small } else { default })
}

impl Settings {
    fn from_env(smoke: bool) -> Self {
        let size = |name: &str, default, small| size(name, default, small, smoke);
        Self {
            publishes: size("BENCH_PUBLISHES", 200_000, 400),
            publish_connections: size("BENCH_PUBLISH_CONNECTIONS", 16, 4) as usize,
            round_trips: size("BENCH_ROUND_TRIPS", 2_000, 50) as usize,
            new_subscriptions: size("BENCH_NEW_SUBSCRIPTIONS", 20_000, 128) as usize,
            idle_subscribers: size("BENCH_IDLE_SUBSCRIBERS", 50_000, 200) as usize,
            fanout_subscribers: size("BENCH_FANOUT_SUBSCRIBERS", 10_000, 100) as usize,
            fanout_updates: size("BENCH_FANOUT_UPDATES", 5, 2) as usize,
            latency_subscribers: size("BENCH_LATENCY_SUBSCRIBERS", 100, 10) as usize,
            latency_updates: size("BENCH_LATENCY_UPDATES", 2_000, 20) as usize,
            phase_limit: Duration::from_secs(size("BENCH_PHASE_SECONDS", 60, 20)),
            phases: std::env::var("BENCH_PHASES")
                .unwrap_or_else(|_| "publish,rtt,latency,fanout,floor,new,idle".into()),
        }
    }
}

/// The hub under test, killed on drop.
struct HubProcess {
    child: Child,
    addr: SocketAddr,
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HubProcess {
    fn spawn(queue_capacity: usize) -> Self {
        use std::io::{BufRead, BufReader};
        // BENCH_HUB_WRAPPER runs the hub through a launcher that execs it
        // (so the process id stays the hub's), e.g. "chrt --batch 0".
        let wrapper = std::env::var("BENCH_HUB_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut command = match words.next() {
            Some(launcher) => {
                let mut command = Command::new(launcher);
                command.args(words).arg(env!("CARGO_BIN_EXE_mercure-hub"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_mercure-hub")),
        };
        let mut child = command
            .args([
                "--addr",
                "127.0.0.1:0",
                "--anonymous",
                "--heartbeat",
                "0",
                "--log",
                "warn,mercure_hub=info",
            ])
            .args(["--queue-capacity", &queue_capacity.to_string()])
            // Every client of the benchmark has the same loopback address,
            // and the phases hold tens of thousands of connections: no caps.
            .args([
                "--max-connections",
                "0",
                "--max-connections-per-address",
                "0",
            ])
            .env("MERCURE_JWT_KEY", SECRET)
            // BENCH_HUB_ARGS: more flags for the hub, e.g. "--workers 1".
            .args(
                std::env::var("BENCH_HUB_ARGS")
                    .unwrap_or_default()
                    .split_whitespace(),
            )
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the mercure-hub binary");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = loop {
            let line = lines.next().expect("the hub exited").expect("log line");
            if let Some(start) = line.find("addr=") {
                let addr = line[start + 5..].split_whitespace().next().expect("addr");
                break addr.parse().expect("socket address");
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr }
    }

    /// CPU time the hub has used (user + system), in milliseconds.
    fn cpu_ms(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
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

    /// Resident memory of the hub, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn publisher_token() -> String {
    TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .build()
        .expect("factory")
        .mint(&Grants::publish_all())
        .expect("token")
        .expose()
        .to_owned()
}

/// Number of loopback source addresses used (`BENCH_SOURCES`).
static SOURCES: AtomicU64 = AtomicU64::new(1);

/// Connects from 127.0.0.(1 + n % BENCH_SOURCES) so that many connections do not run
/// out of ephemeral ports.
async fn connect(addr: SocketAddr, n: usize) -> std::io::Result<TcpStream> {
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
struct Publisher {
    stream: TcpStream,
    head: String,
    buffer: Vec<u8>,
}

impl Publisher {
    async fn new(addr: SocketAddr, token: &str, n: usize) -> Self {
        Self {
            stream: connect(addr, n).await.expect("connect"),
            head: format!(
                "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
            ),
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Publishes `body`; returns the response status.
    async fn publish(&mut self, body: &str) -> u16 {
        let mut request = String::with_capacity(self.head.len() + body.len() + 16);
        request.push_str(&self.head);
        request.push_str(&body.len().to_string());
        request.push_str("\r\n\r\n");
        request.push_str(body);
        self.stream
            .write_all(request.as_bytes())
            .await
            .expect("write");
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
                    return status;
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the hub closed a publisher connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Opens a subscription and waits for the response head and opening comment.
async fn subscribe(addr: SocketAddr, topic: &str, n: usize) -> std::io::Result<TcpStream> {
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
struct Latencies {
    /// Until the event was in the subscriber's socket: the kernel's
    /// receive timestamp (`SO_TIMESTAMPNS`) of the bytes carrying it.
    arrived: Vec<u64>,
    /// Until the subscriber process had read it.
    read: Vec<u64>,
}

/// Reads every subscription in `streams` on one thread with one `epoll`
/// loop until each has delivered `expected` events (or `limit` passes),
/// recording one latency per `data: <nanos>` line.
///
/// A load generator must cost far less than what it measures: the hub
/// and this process share two cores, and a task per subscription on a
/// work-stealing runtime (wake-ups, a shared result list) added up to
/// 200 ms to the tail of a 10,000-subscriber fan-out (docs/decisions.md).
fn read_stamps(streams: Vec<TcpStream>, expected: usize, limit: Duration) -> Latencies {
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

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1e6
}

fn report_latencies(name: &str, mut nanos: Vec<u64>) {
    nanos.sort_unstable();
    println!(
        "{name}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
        nanos.len(),
        percentile(&nanos, 0.50),
        percentile(&nanos, 0.99),
        percentile(&nanos, 1.0)
    );
}

async fn publish_throughput(settings: &Settings, addr: SocketAddr, token: &str) {
    let per_connection = settings.publishes / settings.publish_connections as u64;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + settings.phase_limit;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..settings.publish_connections {
        let token = token.to_owned();
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            let mut publisher = Publisher::new(addr, &token, n).await;
            for i in 0..per_connection {
                if i % 256 == 0 && Instant::now() > deadline {
                    break;
                }
                let status = publisher
                    .publish("topic=https%3A%2F%2Fexample.com%2Fbench&data=x")
                    .await;
                assert_eq!(status, 200);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("publisher task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let count = done.load(Ordering::Relaxed);
    println!(
        "publish throughput: {count} publishes on {} keep-alive connections in {elapsed:.2} s = {:.0} publishes/s",
        settings.publish_connections,
        count as f64 / elapsed
    );
}

async fn publish_round_trips(settings: &Settings, addr: SocketAddr, token: &str) {
    let mut publisher = Publisher::new(addr, token, 0).await;
    let mut nanos = Vec::with_capacity(settings.round_trips);
    let deadline = Instant::now() + settings.phase_limit;
    for _ in 0..settings.round_trips {
        if Instant::now() > deadline {
            break;
        }
        let started = Instant::now();
        assert_eq!(publisher.publish("topic=rtt&data=x").await, 200);
        nanos.push(started.elapsed().as_nanos() as u64);
    }
    report_latencies("publish round trip, one keep-alive connection", nanos);
}

async fn new_subscriptions(settings: &Settings, addr: SocketAddr) {
    let concurrency = 64;
    let per_task = settings.new_subscriptions / concurrency;
    let deadline = Instant::now() + settings.phase_limit;
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                if Instant::now() > deadline {
                    break;
                }
                // Each subscription is opened, confirmed, then closed.
                let stream = subscribe(addr, "new", t * per_task + i)
                    .await
                    .expect("subscribe");
                drop(stream);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("subscriber task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let count = done.load(Ordering::Relaxed);
    println!(
        "new subscriptions: {count} opened (connect, request, response head and first chunk) by {concurrency} clients in {elapsed:.2} s = {:.0}/s",
        count as f64 / elapsed
    );
}

async fn idle_subscribers(settings: &Settings, hub: &HubProcess) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = hub.rss_kib();
    let started = Instant::now();
    let mut setup = Vec::with_capacity(settings.idle_subscribers);
    let deadline = Instant::now() + settings.phase_limit;
    let mut held = Vec::with_capacity(settings.idle_subscribers);
    let concurrency = 256;
    let addr = hub.addr;
    let mut n = 0;
    while held.len() < settings.idle_subscribers && Instant::now() < deadline {
        let batch = concurrency.min(settings.idle_subscribers - held.len());
        let mut tasks = Vec::with_capacity(batch);
        for _ in 0..batch {
            n += 1;
            let i = n;
            tasks.push(tokio::spawn(async move {
                let started = Instant::now();
                subscribe(addr, "idle", i)
                    .await
                    .map(|s| (s, started.elapsed().as_nanos() as u64))
            }));
        }
        for task in tasks {
            match task.await.expect("task") {
                Ok((stream, nanos)) => {
                    held.push(stream);
                    setup.push(nanos);
                }
                Err(error) => {
                    println!("idle subscribers: stopped at {} ({error})", held.len());
                    return report_idle(before, hub, held.len());
                }
            }
        }
    }
    println!(
        "idle subscribers: {} connected in {:.2} s",
        held.len(),
        started.elapsed().as_secs_f64()
    );
    report_latencies("idle subscribers: time to open each", setup);
    tokio::time::sleep(Duration::from_millis(500)).await;
    report_idle(before, hub, held.len());
    drop(held);
}

fn report_idle(before: u64, hub: &HubProcess, count: usize) {
    let after = hub.rss_kib();
    println!(
        "idle subscribers: {count} held; hub RSS {before} KiB -> {after} KiB = {:.2} KiB per subscriber",
        (after.saturating_sub(before)) as f64 / count.max(1) as f64
    );
}

async fn fanout(
    settings: &Settings,
    hub: &HubProcess,
    token: &str,
    subscribers: usize,
    updates: usize,
    topic: &str,
    label: &str,
) {
    let addr = hub.addr;
    let deadline = Instant::now() + settings.phase_limit;
    let mut streams = Vec::with_capacity(subscribers);
    for chunk_start in (0..subscribers).step_by(256) {
        let batch = 256.min(subscribers - chunk_start);
        let mut tasks = Vec::with_capacity(batch);
        for i in 0..batch {
            let topic = topic.to_owned();
            tasks.push(tokio::spawn(async move {
                subscribe(addr, &topic, chunk_start + i).await
            }));
        }
        for task in tasks {
            streams.push(task.await.expect("task").expect("subscribe"));
        }
        if Instant::now() > deadline {
            println!(
                "{label}: stopped connecting at {} subscribers (time limit)",
                streams.len()
            );
            break;
        }
    }
    let count = streams.len();
    let limit = settings.phase_limit;
    let readers = std::thread::spawn(move || read_stamps(streams, updates, limit));
    let pause = if subscribers >= 1000 {
        Duration::from_millis(300)
    } else {
        Duration::from_millis(2)
    };
    let cpu_before = hub.cpu_ms();
    // The publisher gets a thread and a single-threaded runtime of its
    // own: driven from the shared runtime, each update cost two more
    // thread wake-ups on the cores the hub delivers with (timer, then the
    // response), which moved the 100-subscriber median from 0.37 ms to
    // 0.57-0.68 ms.
    let token = token.to_owned();
    let topic_owned = topic.to_owned();
    let publishing = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("publisher runtime");
        runtime.block_on(async {
            let mut publisher = Publisher::new(addr, &token, 0).await;
            for _ in 0..updates {
                tokio::time::sleep(pause).await;
                let stamp = now_nanos();
                assert_eq!(
                    publisher
                        .publish(&format!("topic={topic_owned}&data={stamp}"))
                        .await,
                    200
                );
            }
        });
    });
    tokio::task::spawn_blocking(move || publishing.join().expect("publisher thread"))
        .await
        .expect("join");
    let latencies = tokio::task::spawn_blocking(move || readers.join().expect("reader thread"))
        .await
        .expect("join");
    println!(
        "  hub CPU time while delivering {updates} updates to {count} subscribers: {} ms",
        hub.cpu_ms().saturating_sub(cpu_before)
    );
    report_delivery(label, count, updates, latencies);
}

/// Set in the environment of this benchmark's own binary when it runs as
/// the bare writer of the `floor` phase (value: writer threads).
const FLOOR_WRITER: &str = "BENCH_FLOOR_WRITER";

/// The `floor` phase's writer process: accepts connections on a loopback
/// port it prints, then, for each line read from stdin, writes one event
/// (stamped at that moment, framed as the hub frames it) to every
/// connection with blocking writes from `threads` threads. No HTTP, no
/// queues, no runtime: what this machine's loopback costs by itself.
fn floor_writer(threads: usize) {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("addr={}", listener.local_addr().expect("address"));
    let mut lines = std::io::stdin().lock().lines();
    // The first line gives the number of connections to accept.
    let count: usize = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let mut sockets = Vec::with_capacity(count);
    while sockets.len() < count {
        let (socket, _) = listener.accept().expect("accept");
        socket.set_nodelay(true).expect("TCP_NODELAY");
        sockets.push(socket);
    }
    let threads = threads.clamp(1, 16);
    let per_thread = count.div_ceil(threads).max(1);
    let mut senders = Vec::new();
    let mut workers = Vec::new();
    let mut sockets = sockets.into_iter();
    loop {
        let mut group: Vec<std::net::TcpStream> = sockets.by_ref().take(per_thread).collect();
        if group.is_empty() {
            break;
        }
        let (sender, receiver) = std::sync::mpsc::channel::<Arc<Vec<u8>>>();
        senders.push(sender);
        workers.push(std::thread::spawn(move || {
            for chunk in receiver {
                for socket in &mut group {
                    if socket.write_all(&chunk).is_err() {
                        return;
                    }
                }
            }
        }));
    }
    println!("ready");
    for _ in lines {
        let frame = format!(
            "id: urn:uuid:00000000-0000-4000-8000-000000000000\ndata: {}\n\n",
            now_nanos()
        );
        let chunk = Arc::new(format!("{:x}\r\n{frame}\r\n", frame.len()).into_bytes());
        for sender in &senders {
            let _ = sender.send(Arc::clone(&chunk));
        }
    }
    drop(senders);
    for worker in workers {
        let _ = worker.join();
    }
}

/// The `floor` phase: the same delivery measurements with a bare writer in
/// place of the hub (see [`floor_writer`]), for `subscribers`
/// connections and `updates` events.
async fn floor(settings: &Settings, subscribers: usize, updates: usize, label: &str) {
    use std::io::{BufRead, BufReader, Write};
    let threads = env("BENCH_FLOOR_THREADS", 2);
    let mut child = Command::new(std::env::current_exe().expect("own binary"))
        .env(FLOOR_WRITER, threads.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("floor writer");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next_line = move || lines.next().and_then(Result::ok).unwrap_or_default();
    let addr: SocketAddr = next_line()
        .strip_prefix("addr=")
        .and_then(|a| a.parse().ok())
        .expect("floor writer address");
    writeln!(stdin, "{subscribers}").expect("count");
    let mut streams = Vec::with_capacity(subscribers);
    for n in 0..subscribers {
        streams.push(connect(addr, n).await.expect("connect"));
    }
    assert_eq!(next_line(), "ready");
    let limit = settings.phase_limit;
    let readers = std::thread::spawn(move || read_stamps(streams, updates, limit));
    let pause = if subscribers >= 1000 {
        Duration::from_millis(300)
    } else {
        Duration::from_millis(2)
    };
    for _ in 0..updates {
        std::thread::sleep(pause);
        writeln!(stdin, "go").expect("trigger");
    }
    let latencies = tokio::task::spawn_blocking(move || readers.join().expect("reader thread"))
        .await
        .expect("join");
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    report_delivery(
        &format!("{label}, bare writer with {threads} threads"),
        subscribers,
        updates,
        latencies,
    );
}

/// Prints both latencies of a delivery phase, after checking that every
/// subscriber received every update (a loss is a bug, whatever the figures).
fn report_delivery(label: &str, count: usize, updates: usize, latencies: Latencies) {
    assert_eq!(
        latencies.read.len(),
        count * updates,
        "{label}: updates were lost"
    );
    assert_eq!(latencies.arrived.len(), latencies.read.len());
    report_latencies(
        &format!("{label} ({count} subscribers x {updates} updates), in the subscriber's socket"),
        latencies.arrived,
    );
    report_latencies(
        &format!("{label} ({count} subscribers x {updates} updates), read by the subscriber"),
        latencies.read,
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` does not: then
    // a small smoke version runs, so the benchmark code stays exercised.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let settings = Settings::from_env(smoke);
    SOURCES.store(env("BENCH_SOURCES", 8).clamp(1, 250), Ordering::Relaxed);
    if let Ok(threads) = std::env::var(FLOOR_WRITER) {
        return floor_writer(threads.parse().unwrap_or(2));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let token = publisher_token();
    runtime.block_on(async {
        let hub = HubProcess::spawn(1000);
        let addr = hub.addr;
        println!(
            "hub: {} (pid {}), RSS {} KiB at start",
            addr,
            hub.child.id(),
            hub.rss_kib()
        );
        let run = |phase: &str| settings.phases.split(',').any(|p| p.trim() == phase);
        let cpu = |label: &str, before: u64| {
            println!(
                "  hub CPU time during {label}: {} ms",
                hub.cpu_ms().saturating_sub(before)
            );
        };
        if run("publish") {
            let before = hub.cpu_ms();
            publish_throughput(&settings, addr, &token).await;
            cpu("publish", before);
        }
        if run("rtt") {
            let before = hub.cpu_ms();
            publish_round_trips(&settings, addr, &token).await;
            cpu("rtt", before);
        }
        if run("latency") {
            fanout(
                &settings,
                &hub,
                &token,
                settings.latency_subscribers,
                settings.latency_updates,
                "latency",
                "publish->receive latency",
            )
            .await;
        }
        if run("fanout") {
            fanout(
                &settings,
                &hub,
                &token,
                settings.fanout_subscribers,
                settings.fanout_updates,
                "fanout",
                "one update to many subscribers",
            )
            .await;
        }
        // The same two deliveries from a bare writer: this machine's floor.
        if run("floor") {
            floor(
                &settings,
                settings.latency_subscribers,
                settings.latency_updates,
                "publish->receive latency",
            )
            .await;
            floor(
                &settings,
                settings.fanout_subscribers,
                settings.fanout_updates,
                "one update to many subscribers",
            )
            .await;
        }
        // Opening and closing 20,000 connections leaves as many sockets in
        // TIME_WAIT in this machine's one TCP table, which slowed the
        // fan-out measured after it by 10-40 % (a real hub's clients keep
        // theirs on their own machines): connection churn runs last.
        if run("new") {
            let before = hub.cpu_ms();
            new_subscriptions(&settings, addr).await;
            cpu("new", before);
        }
        drop(hub);
        if !run("idle") {
            return;
        }
        // A fresh hub, so the memory figure is not mixed with the phases above.
        let hub = HubProcess::spawn(1000);
        idle_subscribers(&settings, &hub).await;
    });
}
