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
//!    (on a fresh hub);
//! 8. `durable`: publish throughput with the history in memory and in a
//!    file (group-committed, fsynced), alternated on fresh hubs;
//! 9. `restart`: a large history file written in this process, then the
//!    time until a new hub serves a resuming subscriber, after a clean
//!    close and after a SIGKILL under load;
//! 10. `replay`: one new subscriber reading a whole history
//!     (`lastEventID=earliest`), from a file and from memory, with the
//!     hub's peak memory;
//! 11. `cluster`: three hubs sharing one `redis-server` (started here on a
//!     free loopback port, AOF fsynced at every write, stopped by PID):
//!     publish→receive latency across instances (publisher on A,
//!     subscribers on B and C) beside a single memory-history hub's,
//!     publish throughput spread over the three, and idle subscribers
//!     held across three fresh instances (as many as this process's
//!     open-files limit allows: it holds the client side of all of them),
//!     with each hub's memory per subscriber and Redis's;
//! 12. `soak` (`scripts/soak`): 1,000 subscribers under steady publishing
//!     (20 updates/s: 20,000 deliveries/s) for 10 minutes, the hub's resident memory sampled
//!     every 10 s and printed as a curve; passes if it stays within 10 %
//!     after the warm-up and every subscriber gets every update, in order
//!     (the process exits with status 1 otherwise).
//!
//! Phases 1-7 run on hubs keeping their history in memory (`--history
//! memory`, unless `BENCH_HUB_ARGS` gives `--history`), as before the
//! history file; the history phases' hubs get a file in a directory of
//! their own under the system's temporary directory, removed afterwards.
//! `BENCH_PHASES` chooses the phases (default: 1-8; the smoke run of
//! `cargo test` does all, small; `restart`, `replay`, `cluster` and `soak`
//! run only when named).
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

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mercure_hub::{Cursor, DurableOptions, DurableTransport, Event, Feed, Transport};
use support::{
    Latencies, PATH, Publisher, SECRET, SOURCES, connect, env, find, now_nanos, open_files_limit,
    proc_status_kib, process_cpu_ms, publisher_token, read_stamps, report_latencies, size,
    subscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    durable_rounds: usize,
    restart_events: u64,
    replay_events: u64,
    crash_publishing: Duration,
    /// `cluster`: rounds of the latency comparison (single hub, cluster).
    cluster_rounds: usize,
    /// `cluster`: idle subscribers per instance (default: as many as the
    /// open-files limit of this process allows across three).
    cluster_idle_per_instance: usize,
    /// `cluster`: Redis's `appendfsync` (`BENCH_REDIS_FSYNC`, default
    /// `always`).
    redis_fsync: String,
    /// `soak`: subscribers held throughout.
    soak_subscribers: usize,
    /// `soak`: updates published per second.
    soak_rate: u64,
    /// `soak`: how long it publishes.
    soak_duration: Duration,
    /// `soak`: the interval of the memory samples.
    soak_sample: Duration,
    /// `soak`: the samples before this are not judged (the history and
    /// the allocator's pools filling up).
    soak_warmup: Duration,
    /// The small run of `cargo test`: targets are not judged.
    smoke: bool,
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
            // The smoke run also exercises the history phases that a
            // benchmark run only does when asked (they write large files).
            phases: std::env::var("BENCH_PHASES").unwrap_or_else(|_| {
                let phases = "publish,rtt,latency,fanout,floor,new,idle,durable";
                if smoke {
                    format!("{phases},restart,replay,cluster,soak")
                } else {
                    phases.into()
                }
            }),
            durable_rounds: size("BENCH_DURABLE_ROUNDS", 3, 1) as usize,
            restart_events: size("BENCH_RESTART_EVENTS", 1_000_000, 2_000),
            replay_events: size("BENCH_REPLAY_EVENTS", 100_000, 1_000),
            crash_publishing: Duration::from_millis(size("BENCH_CRASH_PUBLISH_MS", 1000, 300)),
            cluster_rounds: size("BENCH_CLUSTER_ROUNDS", 2, 1) as usize,
            cluster_idle_per_instance: size(
                "BENCH_CLUSTER_IDLE_PER_INSTANCE",
                // What is left of the open-files limit once this process's
                // own descriptors (a few dozen) are set aside, in three.
                open_files_limit().saturating_sub(600) / 3,
                50,
            ) as usize,
            redis_fsync: std::env::var("BENCH_REDIS_FSYNC").unwrap_or_else(|_| "always".into()),
            soak_subscribers: size("BENCH_SOAK_SUBSCRIBERS", 1_000, 20).max(1) as usize,
            soak_rate: size("BENCH_SOAK_RATE", 20, 50).max(1),
            soak_duration: Duration::from_secs(size("BENCH_SOAK_SECONDS", 600, 3)),
            soak_sample: Duration::from_secs(size("BENCH_SOAK_SAMPLE_SECONDS", 10, 1).max(1)),
            soak_warmup: Duration::from_secs(size("BENCH_SOAK_WARMUP_SECONDS", 60, 1)),
            smoke,
        }
    }
}

/// The hub under test, killed (SIGKILL, by its process id) on drop.
struct HubProcess {
    child: Child,
    addr: SocketAddr,
    /// When the process was spawned.
    spawned_at: Instant,
    /// From the spawn to the "listening" log line.
    listening_after: Duration,
    /// The log lines before the "listening" one.
    startup_log: Vec<String>,
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The history flags of the hub's command line.
const HISTORY_FLAGS: [&str; 3] = ["--history", "--history-size", "--history-max-age"];

fn has_flag(words: &[String], flag: &str) -> bool {
    words
        .iter()
        .any(|w| w == flag || w.strip_prefix(flag).is_some_and(|r| r.starts_with('=')))
}

/// `words` without the history flags (and their values).
fn without_history_flags(words: Vec<String>) -> Vec<String> {
    let mut kept = Vec::with_capacity(words.len());
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        if HISTORY_FLAGS.contains(&word.as_str()) {
            words.next();
        } else if !HISTORY_FLAGS
            .iter()
            .any(|f| word.strip_prefix(f).is_some_and(|r| r.starts_with('=')))
        {
            kept.push(word);
        }
    }
    kept
}

impl HubProcess {
    /// A hub keeping its history in memory (the figures of the phases
    /// that use it are compared with those from before the history file),
    /// unless `BENCH_HUB_ARGS` chooses the history.
    fn spawn(queue_capacity: usize) -> Self {
        Self::spawn_with(queue_capacity, None)
    }

    /// A hub with the history flags `history` (these replace any in
    /// `BENCH_HUB_ARGS`), or with the default of [`HubProcess::spawn`].
    fn spawn_with(queue_capacity: usize, history: Option<&[String]>) -> Self {
        use std::io::{BufRead, BufReader};
        // BENCH_HUB_ARGS: more flags for the hub, e.g. "--workers 1".
        let mut extra: Vec<String> = std::env::var("BENCH_HUB_ARGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let history: Vec<String> = match history {
            // Clap refuses a repeated flag.
            None if has_flag(&extra, "--history") => Vec::new(),
            None => vec!["--history".into(), "memory".into()],
            Some(history) => {
                extra = without_history_flags(extra);
                history.to_vec()
            }
        };
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
        command
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
            // Tens of thousands of subscriptions a second from one address
            // (the new and idle phases): no subscribe rate limit. Publishes
            // keep the default limit, far above what one hub absorbs here,
            // so the publish phases pay for its check.
            .args(["--subscribe-rate", "0"])
            .args(&history)
            .env("MERCURE_JWT_KEY", SECRET)
            .args(&extra)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .expect("cannot start the mercure-hub binary");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut startup_log = Vec::new();
        let addr = loop {
            let line = lines.next().expect("the hub exited").expect("log line");
            if let Some(start) = line.find("addr=") {
                let addr = line[start + 5..].split_whitespace().next().expect("addr");
                break addr.parse().expect("socket address");
            }
            startup_log.push(line);
        };
        let listening_after = spawned_at.elapsed();
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            addr,
            spawned_at,
            listening_after,
            startup_log,
        }
    }

    /// The value of the field `name` in the startup log (e.g.
    /// `opened_in_ms` of "history file opened").
    fn log_field(&self, name: &str) -> Option<u64> {
        let key = format!(" {name}=");
        self.startup_log.iter().find_map(|line| {
            let start = line.find(&key)? + key.len();
            line[start..].split_whitespace().next()?.parse().ok()
        })
    }

    /// A field of /proc/<pid>/status in KiB (`VmRSS`, `VmHWM`).
    fn status_kib(&self, field: &str) -> u64 {
        proc_status_kib(&format!("/proc/{}/status", self.child.id()), field)
    }

    /// Bytes the hub caused to be sent to storage (/proc/<pid>/io
    /// `write_bytes`).
    fn storage_write_bytes(&self) -> Option<u64> {
        std::fs::read_to_string(format!("/proc/{}/io", self.child.id()))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))?
            .trim()
            .parse()
            .ok()
    }

    /// CPU time the hub has used (user + system), in milliseconds.
    fn cpu_ms(&self) -> u64 {
        process_cpu_ms(self.child.id())
    }

    /// Resident memory of the hub, in KiB.
    fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS")
    }
}

/// Publishes from `publish_connections` keep-alive connections; prints
/// and returns the rate (publishes/s).
async fn publish_throughput(
    settings: &Settings,
    addr: SocketAddr,
    token: &str,
    label: &str,
) -> f64 {
    publish_throughput_across(settings, &[addr], token, label).await
}

/// [`publish_throughput`] with the connections spread over `addrs` (the
/// `n`th on `addrs[n % addrs.len()]`).
async fn publish_throughput_across(
    settings: &Settings,
    addrs: &[SocketAddr],
    token: &str,
    label: &str,
) -> f64 {
    let per_connection = settings.publishes / settings.publish_connections as u64;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + settings.phase_limit;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..settings.publish_connections {
        let token = token.to_owned();
        let done = Arc::clone(&done);
        let addr = addrs[n % addrs.len()];
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
    let rate = count as f64 / elapsed;
    println!(
        "{label}: {count} publishes on {} keep-alive connections in {elapsed:.2} s = {rate:.0} publishes/s",
        settings.publish_connections,
    );
    rate
}

async fn publish_round_trips(
    settings: &Settings,
    addr: SocketAddr,
    token: &str,
    label: &str,
) -> (f64, f64) {
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
    report_latencies(label, nanos)
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
    let mut failed = None;
    while held.len() < settings.idle_subscribers && Instant::now() < deadline && failed.is_none() {
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
                // The rest of the batch is still awaited: no task holds a
                // connection once the figure is read.
                Err(error) => failed = Some(error),
            }
        }
    }
    if let Some(error) = failed {
        println!("idle subscribers: stopped at {} ({error})", held.len());
        // At the open-files limit, this process could not even open the
        // hub's /proc file: a few connections go.
        held.truncate(held.len().saturating_sub(64));
        tokio::time::sleep(Duration::from_millis(500)).await;
        return report_idle(before, hub, held.len());
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
    let placement = Placement {
        publisher: hub.addr,
        subscribers: vec![hub.addr],
        processes: vec![("hub", hub.child.id())],
    };
    fanout_across(
        settings,
        &placement,
        token,
        subscribers,
        updates,
        topic,
        label,
    )
    .await;
}

/// Where a delivery phase runs.
struct Placement {
    /// The hub the updates are published on.
    publisher: SocketAddr,
    /// The hubs the subscribers are spread over (the `n`th on
    /// `subscribers[n % len]`).
    subscribers: Vec<SocketAddr>,
    /// The processes whose CPU time is reported: name, process id.
    processes: Vec<(&'static str, u32)>,
}

/// [`fanout`] with the publisher and the subscribers where `placement`
/// puts them; returns the median and 99th percentile (ms) in the
/// subscriber's socket and read by it.
async fn fanout_across(
    settings: &Settings,
    placement: &Placement,
    token: &str,
    subscribers: usize,
    updates: usize,
    topic: &str,
    label: &str,
) -> [(f64, f64); 2] {
    let deadline = Instant::now() + settings.phase_limit;
    let mut streams = Vec::with_capacity(subscribers);
    for chunk_start in (0..subscribers).step_by(256) {
        let batch = 256.min(subscribers - chunk_start);
        let mut tasks = Vec::with_capacity(batch);
        for i in 0..batch {
            let topic = topic.to_owned();
            let n = chunk_start + i;
            let addr = placement.subscribers[n % placement.subscribers.len()];
            tasks.push(tokio::spawn(
                async move { subscribe(addr, &topic, n).await },
            ));
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
    let cpu = || -> Vec<u64> {
        placement
            .processes
            .iter()
            .map(|(_, pid)| process_cpu_ms(*pid))
            .collect()
    };
    let cpu_before = cpu();
    let addr = placement.publisher;
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
    let used: Vec<String> = cpu()
        .iter()
        .zip(&cpu_before)
        .zip(&placement.processes)
        .map(|((after, before), (name, _))| {
            let ms = after.saturating_sub(*before);
            if placement.processes.len() == 1 {
                format!("{ms} ms")
            } else {
                format!("{name} {ms} ms")
            }
        })
        .collect();
    let whose = if placement.processes.len() == 1 {
        placement.processes[0].0
    } else {
        "processes'"
    };
    println!(
        "  {whose} CPU time while delivering {updates} updates to {count} subscribers: {}",
        used.join(", ")
    );
    report_delivery(label, count, updates, latencies)
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
    let label = format!("{label}, bare writer with {threads} threads");
    let expected = subscribers * updates;
    if latencies.read.len() < expected {
        // The floor measures this machine, not the hub: a shortfall (seen
        // once in a smoke run on a machine loaded by other builds) is
        // reported, and the figures are of what was read, instead of
        // failing the run as a hub's loss does.
        println!(
            "  {label}: {} of {expected} deliveries read; the figures below are of those",
            latencies.read.len()
        );
        report_latencies(
            &format!(
                "{label} ({subscribers} subscribers x {updates} updates), in the subscriber's socket"
            ),
            latencies.arrived,
        );
        report_latencies(
            &format!(
                "{label} ({subscribers} subscribers x {updates} updates), read by the subscriber"
            ),
            latencies.read,
        );
        return;
    }
    report_delivery(&label, subscribers, updates, latencies);
}

/// Prints both latencies of a delivery phase, after checking that every
/// subscriber received every update (a loss is a bug, whatever the
/// figures); returns the median and 99th percentile (ms) of both.
fn report_delivery(
    label: &str,
    count: usize,
    updates: usize,
    latencies: Latencies,
) -> [(f64, f64); 2] {
    assert_eq!(
        latencies.read.len(),
        count * updates,
        "{label}: updates were lost"
    );
    assert_eq!(latencies.arrived.len(), latencies.read.len());
    [
        report_latencies(
            &format!(
                "{label} ({count} subscribers x {updates} updates), in the subscriber's socket"
            ),
            latencies.arrived,
        ),
        report_latencies(
            &format!("{label} ({count} subscribers x {updates} updates), read by the subscriber"),
            latencies.read,
        ),
    ]
}

/// The phases run on one hub (history in memory), in this order.
async fn shared_hub_phases(settings: &Settings, token: &str) {
    let run = |phase: &str| settings.phases.split(',').any(|p| p.trim() == phase);
    let hub = HubProcess::spawn(1000);
    let addr = hub.addr;
    println!(
        "hub: {} (pid {}), RSS {} KiB at start",
        addr,
        hub.child.id(),
        hub.rss_kib()
    );
    let cpu = |label: &str, before: u64| {
        println!(
            "  hub CPU time during {label}: {} ms",
            hub.cpu_ms().saturating_sub(before)
        );
    };
    if run("publish") {
        let before = hub.cpu_ms();
        publish_throughput(settings, addr, token, "publish throughput").await;
        cpu("publish", before);
    }
    if run("rtt") {
        let before = hub.cpu_ms();
        publish_round_trips(
            settings,
            addr,
            token,
            "publish round trip, one keep-alive connection",
        )
        .await;
        cpu("rtt", before);
    }
    if run("latency") {
        fanout(
            settings,
            &hub,
            token,
            settings.latency_subscribers,
            settings.latency_updates,
            "latency",
            "publish->receive latency",
        )
        .await;
    }
    if run("fanout") {
        fanout(
            settings,
            &hub,
            token,
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
            settings,
            settings.latency_subscribers,
            settings.latency_updates,
            "publish->receive latency",
        )
        .await;
        floor(
            settings,
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
        new_subscriptions(settings, addr).await;
        cpu("new", before);
    }
}

/// A directory of its own under the system's temporary directory,
/// removed (with what it holds) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "mercure-bench-{}-{}-{label}-{}",
            std::process::id(),
            now_nanos(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).expect("cannot create a temporary directory");
        Self(path)
    }

    fn history_file(&self) -> PathBuf {
        self.0.join("history.redb")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The hub's flags for a history in `file` (at most `events` events; the
/// binary's default when `None`).
fn file_history(file: &Path, events: Option<u64>) -> Vec<String> {
    let mut args = vec!["--history".to_owned(), file.display().to_string()];
    if let Some(events) = events {
        args.extend(["--history-size".to_owned(), events.to_string()]);
    }
    args
}

/// The hub's flags for a history in memory (at most `events` events; the
/// binary's default when `None`).
fn memory_history(events: Option<u64>) -> Vec<String> {
    let mut args = vec!["--history".to_owned(), "memory".to_owned()];
    if let Some(events) = events {
        args.extend(["--history-size".to_owned(), events.to_string()]);
    }
    args
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn verdict(settings: &Settings, met: bool) -> &'static str {
    match (settings.smoke, met) {
        (true, _) => "not judged (smoke run)",
        (false, true) => "met",
        (false, false) => "MISSED",
    }
}

/// The topic of the history phases, and as a query parameter.
const HISTORY_TOPIC: &str = "https://example.com/bench/history";
const HISTORY_TOPIC_QUERY: &str = "https%3A%2F%2Fexample.com%2Fbench%2Fhistory";

/// The id of the `n`th event written by [`write_history`] (as long as
/// the ids the hub gives).
fn history_id(n: u64) -> String {
    format!("urn:uuid:00000000-0000-4000-8000-{n:012x}")
}

/// The data of the `n`th event of a history phase: 140 bytes that a form
/// body needs not escape, so that the frame (`id:` and `data:` lines) is
/// about 200 bytes.
fn history_data(n: u64) -> String {
    format!("event-{n:012}-{}", "x".repeat(121))
}

/// The publish body of the `n`th event of a history phase.
fn history_body(n: u64) -> String {
    format!("topic={HISTORY_TOPIC_QUERY}&data={}", history_data(n))
}

/// Writes `count` events (ids [`history_id`], data [`history_data`]) into
/// a new history file at `file`, through a [`DurableTransport`] in this
/// process, with 8192 appends in flight (group commit stores up to 4096
/// per transaction), then closes it cleanly. Returns how many were written
/// (fewer if `limit` passed): event `n` has cursor order `n`.
async fn write_history(file: &Path, count: u64, max_events: u64, limit: Duration) -> u64 {
    use futures_util::StreamExt;
    use futures_util::stream::FuturesUnordered;

    let transport = DurableTransport::open(
        file,
        DurableOptions::new().with_max_events(max_events.max(1)),
    )
    .expect("cannot open the history file");
    // The transport pushes every stored event to its feeds; a detached
    // feed keeps them until taken: taken (and dropped) as it goes, or this
    // process would hold every event written.
    let feed = Feed::detached();
    transport.start(feed.clone());
    let own_rss = || proc_status_kib("/proc/self/status", "VmRSS");
    let rss_before = own_rss();
    let mut rss_peak = rss_before;
    let started = Instant::now();
    let deadline = started + limit;
    let data_len = history_data(0).len();
    let mut in_flight = FuturesUnordered::new();
    let mut sent: u64 = 0;
    while sent < count {
        if sent.is_multiple_of(4096) {
            drop(feed.take_pushed());
            rss_peak = rss_peak.max(own_rss());
            if Instant::now() > deadline {
                println!("  history writing stopped at {sent} events (time limit)");
                break;
            }
        }
        if in_flight.len() >= 8192 {
            let appended: Result<Arc<Event>, _> = in_flight.next().await.expect("an append");
            appended.expect("append failed");
        }
        let id = history_id(sent);
        let frame = mercure_core::sse::encode_event(&id, None, None, &history_data(sent));
        in_flight.push(transport.append(Event::from_parts(
            Cursor::ZERO,
            id,
            vec![HISTORY_TOPIC.to_owned()],
            false,
            frame,
        )));
        sent += 1;
    }
    while let Some(appended) = in_flight.next().await {
        appended.expect("append failed");
    }
    drop(in_flight);
    drop(feed.take_pushed());
    let elapsed = started.elapsed().as_secs_f64();
    transport.close().expect("the history file closes");
    let frame_len =
        mercure_core::sse::encode_event(&history_id(0), None, None, &"x".repeat(data_len)).len();
    println!(
        "  history written in this process: {sent} events ({frame_len}-byte frames) in {elapsed:.2} s = {:.0} events/s, closed; file {:.1} MiB; this process's RSS {rss_before} KiB -> peak {rss_peak} KiB",
        sent as f64 / elapsed,
        mib(file_size(file)),
    );
    sent
}

/// A subscription read from the raw HTTP/1.1 response: counts the events
/// (their `id:` lines).
struct SseStream {
    stream: TcpStream,
    pending: Vec<u8>,
    head_read: bool,
}

impl SseStream {
    /// Sends the subscription request `query`, with a `Last-Event-ID`
    /// header if `last_event_id`.
    async fn open(
        addr: SocketAddr,
        query: &str,
        last_event_id: Option<&str>,
    ) -> std::io::Result<Self> {
        let mut stream = connect(addr, 0).await?;
        let header =
            last_event_id.map_or_else(String::new, |id| format!("Last-Event-ID: {id}\r\n"));
        let request = format!(
            "GET {PATH}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{header}\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        Ok(Self {
            stream,
            pending: Vec::with_capacity(1 << 16),
            head_read: false,
        })
    }

    /// A subscription already opened by [`subscribe`].
    fn opened(stream: TcpStream) -> Self {
        Self {
            stream,
            pending: Vec::with_capacity(1 << 16),
            head_read: true,
        }
    }

    /// Reads until `expected` events have arrived, the stream ends or
    /// `deadline` passes; gives each event's id to `on_id`; returns how
    /// many arrived. An error only before the response head.
    async fn read_events(
        &mut self,
        expected: usize,
        deadline: Instant,
        mut on_id: impl FnMut(&str),
    ) -> std::io::Result<usize> {
        let mut count = 0;
        let mut chunk = vec![0u8; 1 << 16];
        while count < expected {
            let n = match tokio::time::timeout_at(deadline.into(), self.stream.read(&mut chunk))
                .await
            {
                Ok(Ok(n)) if n > 0 => n,
                Ok(Err(error)) if !self.head_read => return Err(error),
                // The end of the stream, a broken connection, the time limit.
                _ => break,
            };
            self.pending.extend_from_slice(&chunk[..n]);
            if !self.head_read {
                let Some(end) = find(&self.pending, b"\r\n\r\n") else {
                    continue;
                };
                if !self.pending.starts_with(b"HTTP/1.1 200") {
                    return Err(std::io::Error::other(
                        String::from_utf8_lossy(&self.pending[..end]).into_owned(),
                    ));
                }
                self.pending.drain(..end + 4);
                self.head_read = true;
            }
            let Some(last) = self.pending.iter().rposition(|&b| b == b'\n') else {
                continue;
            };
            // Whole lines: `id:` lines, and the chunk sizes of the
            // transfer coding, comments, `data:` lines, which are skipped.
            for line in self.pending[..last].split(|&b| b == b'\n') {
                if let Some(id) = line.strip_prefix(b"id: ") {
                    count += 1;
                    on_id(std::str::from_utf8(id).unwrap_or_default());
                }
            }
            self.pending.drain(..=last);
        }
        Ok(count)
    }
}

/// Publishes `body(n)` for n = 0, 1, ... from `connections` keep-alive
/// connections until `count` are acknowledged, `stop` is set or `deadline`
/// passes; a connection stops at its first error (the hub was killed) or
/// refusal. Returns how many were acknowledged (answered 200).
async fn publish_stream(
    addr: SocketAddr,
    token: &str,
    connections: usize,
    count: u64,
    deadline: Instant,
    stop: Arc<AtomicBool>,
    body: fn(u64) -> String,
) -> u64 {
    let next = Arc::new(AtomicU64::new(0));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let token = token.to_owned();
        let next = Arc::clone(&next);
        let acknowledged = Arc::clone(&acknowledged);
        let stop = Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            let mut publisher = Publisher::new(addr, &token, c).await;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    break;
                }
                match publisher.try_publish(&body(n)).await {
                    Ok(200) => {
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(status) => {
                        println!("  a publish was answered {status}");
                        break;
                    }
                    Err(_) => break,
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("publisher task");
    }
    acknowledged.load(Ordering::Relaxed)
}

/// Counts a process's `fsync` and `fdatasync` calls with `perf stat`
/// (kernel tracepoint counters: nothing is traced per call), when `perf`
/// is installed and allowed (`BENCH_PERF=0`: not tried).
struct SyncCounter(Option<Child>);

impl SyncCounter {
    fn start(pid: u32) -> Self {
        if std::env::var("BENCH_PERF").is_ok_and(|v| v == "0") {
            return Self(None);
        }
        let child = Command::new("perf")
            .args([
                "stat",
                "-x,",
                "-e",
                "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync",
                "-p",
                &pid.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .ok();
        if child.is_some() {
            // Time to attach.
            std::thread::sleep(Duration::from_millis(200));
        }
        Self(child)
    }

    /// Stops `perf` (SIGINT, by its process id: it then prints its
    /// counts); the calls counted, if it could count them.
    fn stop(&mut self) -> Option<u64> {
        let child = self.0.take()?;
        let stopped = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let output = child.wait_with_output().ok()?;
        stopped.ok().filter(|s| s.success())?;
        let counts: Vec<u64> = String::from_utf8_lossy(&output.stderr)
            .lines()
            .filter(|l| l.contains("syscalls:sys_enter_f"))
            .map(|l| l.split(',').next().and_then(|n| n.trim().parse().ok()))
            .collect::<Option<_>>()?;
        (counts.len() == 2).then(|| counts.iter().sum())
    }
}

impl Drop for SyncCounter {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `durable` phase: publish throughput (as in `publish`) on a hub
/// keeping its history in memory (A) and on one keeping it in a file (B),
/// alternated A B, each on a fresh hub.
async fn durable(settings: &Settings, token: &str) {
    let mut memory_rates = Vec::new();
    let mut durable_rates = Vec::new();
    let mut ratios = Vec::new();
    for round in 1..=settings.durable_rounds {
        let hub = HubProcess::spawn_with(1000, Some(&memory_history(None)));
        let before = hub.cpu_ms();
        let memory = publish_throughput(
            settings,
            hub.addr,
            token,
            &format!("durable round {round}: memory history"),
        )
        .await;
        let memory_cpu = hub.cpu_ms().saturating_sub(before);
        drop(hub);

        let dir = TempDir::new("durable");
        let file = dir.history_file();
        let hub = HubProcess::spawn_with(1000, Some(&file_history(&file, None)));
        let mut syncs = SyncCounter::start(hub.child.id());
        let written_before = hub.storage_write_bytes();
        let before = hub.cpu_ms();
        let durable = publish_throughput(
            settings,
            hub.addr,
            token,
            &format!("durable round {round}: file history"),
        )
        .await;
        let durable_cpu = hub.cpu_ms().saturating_sub(before);
        let syncs = syncs.stop();
        let written = hub
            .storage_write_bytes()
            .zip(written_before)
            .map(|(after, before)| after.saturating_sub(before));
        drop(hub);
        let ratio = durable / memory;
        println!(
            "durable round {round}: memory {memory:.0}/s (hub CPU {memory_cpu} ms), file {durable:.0}/s (hub CPU {durable_cpu} ms): file/memory = {ratio:.2}; history file {:.1} MiB, {} sent to storage by the hub, {} fsync/fdatasync calls",
            mib(file_size(&file)),
            written.map_or_else(|| "unknown".into(), |w| format!("{:.1} MiB", mib(w))),
            syncs.map_or_else(|| "unknown".into(), |n| n.to_string()),
        );
        memory_rates.push(memory);
        durable_rates.push(durable);
        ratios.push(ratio);
    }
    let (memory, durable, ratio) = (median(memory_rates), median(durable_rates), median(ratios));
    println!(
        "durable: medians of {} rounds: memory {memory:.0}/s, file {durable:.0}/s, file/memory {ratio:.2}; targets: file >= 20000/s {}, >= 50 % of memory {}",
        settings.durable_rounds,
        verdict(settings, durable >= 20_000.0),
        verdict(settings, ratio >= 0.5),
    );
}

/// Spawns a hub on `history`, subscribes with `Last-Event-ID: after` and
/// waits for the events `expected` (the ones stored after it, in order).
/// Returns the hub and the time from its spawn until the last of them
/// arrived.
async fn serve_again(
    settings: &Settings,
    history: &[String],
    after: &str,
    expected: &[String],
) -> (HubProcess, Duration) {
    let hub = HubProcess::spawn_with(1000, Some(history));
    let deadline = Instant::now() + settings.phase_limit;
    let mut stream = SseStream::open(
        hub.addr,
        &format!("topic={HISTORY_TOPIC_QUERY}"),
        Some(after),
    )
    .await
    .expect("subscribe");
    let mut ids = Vec::new();
    stream
        .read_events(expected.len(), deadline, |id| ids.push(id.to_owned()))
        .await
        .expect("resumed subscription");
    let serving = hub.spawned_at.elapsed();
    assert!(
        ids.len() >= expected.len() && ids[..expected.len()] == *expected,
        "resumed after {after}: expected {expected:?}, received {ids:?}"
    );
    (hub, serving)
}

fn report_restart(settings: &Settings, label: &str, hub: &HubProcess, serving: Duration) {
    let field = |name| {
        hub.log_field(name)
            .map_or_else(|| "?".into(), |v| v.to_string())
    };
    println!(
        "restart, {label}: {} events in the file; opened in {} ms (logged), listening {:.0} ms after the spawn, serving again (the 10 events after a Last-Event-ID received) {:.0} ms after the spawn; target <= 1000 ms {}",
        field("events"),
        field("opened_in_ms"),
        hub.listening_after.as_secs_f64() * 1e3,
        serving.as_secs_f64() * 1e3,
        verdict(settings, serving <= Duration::from_secs(1)),
    );
}

/// The `restart` phase: a history file written in this process and closed
/// cleanly, served by a new hub; then the same hub killed (SIGKILL) while
/// publishes stream in, and served again.
async fn restart(settings: &Settings, token: &str) {
    let dir = TempDir::new("restart");
    let file = dir.history_file();
    let count = settings.restart_events.max(11);
    // Room for the events published before the crash too: none is trimmed.
    let size = count * 2 + 100_000;
    let written = write_history(&file, count, size, settings.phase_limit).await;
    assert!(written >= 11, "too few events written");
    let history = file_history(&file, Some(size));
    let last: Vec<String> = (written - 11..written).map(history_id).collect();
    let (hub, serving) = serve_again(settings, &history, &last[0], &last[1..]).await;
    report_restart(settings, "after a clean close", &hub, serving);

    // The crash: a live subscriber records the order the hub stores
    // events in (it delivers each once stored), publishers stream in on
    // `publish_connections` connections, then SIGKILL.
    let mut hub = hub;
    let addr = hub.addr;
    let deadline = Instant::now() + settings.phase_limit;
    let mut live = SseStream::opened(
        subscribe(addr, HISTORY_TOPIC_QUERY, 0)
            .await
            .expect("subscribe"),
    );
    let reader = tokio::spawn(async move {
        let mut ids = Vec::new();
        let _ = live
            .read_events(usize::MAX, deadline, |id| ids.push(id.to_owned()))
            .await;
        ids
    });
    let stop = Arc::new(AtomicBool::new(false));
    let token = token.to_owned();
    let connections = settings.publish_connections;
    let publishing = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            publish_stream(
                addr,
                &token,
                connections,
                u64::MAX,
                deadline,
                stop,
                history_body,
            )
            .await
        }
    });
    tokio::time::sleep(settings.crash_publishing).await;
    let before_kill = hub.rss_kib();
    hub.child.kill().expect("SIGKILL"); // Child::kill: SIGKILL, by process id.
    let _ = hub.child.wait();
    stop.store(true, Ordering::Relaxed);
    let acknowledged = publishing.await.expect("publishers");
    let received = reader.await.expect("live subscriber");
    drop(hub);
    let in_order: Vec<String> = last.into_iter().chain(received.iter().cloned()).collect();
    let tail = &in_order[in_order.len() - 11..];
    let (hub, serving) = serve_again(settings, &history, &tail[0], &tail[1..]).await;
    let in_file = hub.log_field("events").unwrap_or(0);
    println!(
        "restart, crash: {acknowledged} publishes acknowledged on {connections} connections in {:.1} s, {} received by a live subscriber, then SIGKILL (hub RSS {before_kill} KiB); after it the file holds {in_file} events (at least {} expected)",
        settings.crash_publishing.as_secs_f64(),
        received.len(),
        written + acknowledged,
    );
    assert!(
        in_file >= written + acknowledged,
        "acknowledged events were lost in the crash"
    );
    report_restart(settings, "after SIGKILL", &hub, serving);
    drop(hub);
}

/// Resets the hub's peak resident memory (VmHWM) to its current one.
fn reset_peak_rss(hub: &HubProcess) -> bool {
    std::fs::write(format!("/proc/{}/clear_refs", hub.child.id()), "5").is_ok()
}

/// One new subscriber reads the whole history (`lastEventID=earliest`)
/// as fast as it can; prints the time and the hub's memory.
async fn measure_replay(settings: &Settings, hub: &HubProcess, events: u64, label: &str) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = hub.rss_kib();
    let peak_before = hub.status_kib("VmHWM");
    let reset = reset_peak_rss(hub);
    let cpu_before = hub.cpu_ms();
    let started = Instant::now();
    let deadline = started + settings.phase_limit;
    let mut stream = SseStream::open(
        hub.addr,
        &format!("topic={HISTORY_TOPIC_QUERY}&lastEventID=earliest"),
        None,
    )
    .await
    .expect("subscribe");
    let received = stream
        .read_events(events as usize, deadline, |_| {})
        .await
        .expect("replay");
    let elapsed = started.elapsed().as_secs_f64();
    let peak = hub.status_kib("VmHWM");
    println!(
        "{label}: {received} of {events} events to one new subscriber (lastEventID=earliest) in {elapsed:.3} s = {:.0} events/s; hub CPU {} ms; hub RSS before {rss_before} KiB, peak during the replay {peak} KiB{}, after {} KiB",
        received as f64 / elapsed,
        hub.cpu_ms().saturating_sub(cpu_before),
        if reset {
            String::new()
        } else {
            format!(" (since the start: the peak could not be reset; {peak_before} KiB before)")
        },
        hub.rss_kib(),
    );
    assert_eq!(received as u64, events, "{label}: events were missing");
}

/// The `replay` phase: a new subscriber reading a whole history, from a
/// file and from memory.
async fn replay(settings: &Settings, token: &str) {
    let count = settings.replay_events.max(1);
    {
        let dir = TempDir::new("replay");
        let file = dir.history_file();
        let written = write_history(&file, count, count * 2, settings.phase_limit).await;
        let hub = HubProcess::spawn_with(1000, Some(&file_history(&file, Some(count * 2))));
        measure_replay(settings, &hub, written, "replay, file history").await;
    }
    let hub = HubProcess::spawn_with(1000, Some(&memory_history(Some(count))));
    let rss = hub.rss_kib();
    let started = Instant::now();
    let published = publish_stream(
        hub.addr,
        token,
        settings.publish_connections,
        count,
        started + settings.phase_limit,
        Arc::new(AtomicBool::new(false)),
        history_body,
    )
    .await;
    println!(
        "  memory history: {published} events published over HTTP in {:.2} s; hub RSS {rss} KiB before them",
        started.elapsed().as_secs_f64()
    );
    measure_replay(settings, &hub, published, "replay, memory history").await;
}

/// A `redis-server` for the `cluster` phase: a free loopback port, a
/// directory of its own (under the system's temporary directory) for its
/// append-only file, no snapshots; killed (SIGKILL, by its process id)
/// and its directory removed on drop.
struct RedisProcess {
    child: Child,
    port: u16,
    version: String,
    dir: TempDir,
}

impl RedisProcess {
    /// Starts it with `appendonly yes` and `appendfsync` = `fsync`; waits
    /// until it answers (it, not another process that took the port).
    fn spawn(fsync: &str) -> Self {
        let dir = TempDir::new("redis");
        let patience = Duration::from_secs(20);
        let mut last_error = String::new();
        // A free port may be taken between the probe and the bind: retry.
        for _ in 0..10 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free loopback port")
                .port();
            let mut child = match Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .arg("--dir")
                .arg(&dir.0)
                .args(["--save", "", "--appendonly", "yes"])
                .args(["--appendfsync", fsync])
                .args(["--daemonize", "no", "--logfile", "redis.log"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(child) => child,
                Err(error) => panic!(
                    "cannot run redis-server ({error}): the cluster phase needs it; run \
                     scripts/setup (it installs the redis-server Debian package)"
                ),
            };
            let started = Instant::now();
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!("redis-server exited ({status}) on port {port}");
                    break;
                }
                if let Some(info) = redis_info(port)
                    && info_field(&info, "process_id") == Some(child.id().to_string().as_str())
                {
                    let version = info_field(&info, "redis_version").unwrap_or("?").to_owned();
                    return Self {
                        child,
                        port,
                        version,
                        dir,
                    };
                }
                if started.elapsed() > patience {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("redis-server did not answer within {patience:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    /// The hub's `--transport` for the stream `key`.
    fn transport(&self, key: &str) -> Vec<String> {
        vec![
            "--transport".to_owned(),
            format!("redis://127.0.0.1:{}/0?stream={key}", self.port),
        ]
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A number of its `INFO` (e.g. `used_memory`).
    fn info_number(&self, name: &str) -> Option<u64> {
        info_field(&redis_info(self.port)?, name)?.parse().ok()
    }

    fn rss_kib(&self) -> u64 {
        proc_status_kib(&format!("/proc/{}/status", self.pid()), "VmRSS")
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The answer of `INFO` from the Redis on `port` (`None` if it does not
/// answer, or answers an error such as `-LOADING`).
fn redis_info(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.write_all(b"INFO\r\n").ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        answer.extend_from_slice(&chunk[..n]);
        if answer[0] != b'$' {
            return None;
        }
        if let Some(end) = find(&answer, b"\r\n") {
            let length: usize = std::str::from_utf8(&answer[1..end]).ok()?.parse().ok()?;
            if answer.len() >= end + 2 + length {
                return Some(
                    String::from_utf8_lossy(&answer[end + 2..end + 2 + length]).into_owned(),
                );
            }
        }
    }
}

/// The value of `name` in an `INFO` answer.
fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':').map(str::trim))
}

/// Three hubs sharing the Redis stream `key`.
fn cluster_hubs(redis: &RedisProcess, key: &str) -> Vec<HubProcess> {
    let transport = redis.transport(key);
    (0..3)
        .map(|_| HubProcess::spawn_with(1000, Some(&transport)))
        .collect()
}

/// The CPU time (ms) of each of `pids`.
fn cpu_of(pids: &[u32]) -> Vec<u64> {
    pids.iter().map(|pid| process_cpu_ms(*pid)).collect()
}

/// `A 120 ms, B 80 ms, ...`: the CPU time used since `before`.
fn cpu_used(names: &[&str], pids: &[u32], before: &[u64]) -> (String, u64) {
    let after = cpu_of(pids);
    let used: Vec<u64> = after
        .iter()
        .zip(before)
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    let text = names
        .iter()
        .zip(&used)
        .map(|(name, ms)| format!("{name} {ms} ms"))
        .collect::<Vec<_>>()
        .join(", ");
    (text, used.iter().sum())
}

/// The `cluster` phase: three hubs on one Redis. Publish→receive latency
/// across instances beside a single memory-history hub's, publish
/// throughput spread over the three, then idle subscribers held across
/// three fresh instances.
async fn cluster(settings: &Settings, token: &str) {
    let redis = RedisProcess::spawn(&settings.redis_fsync);
    let run = std::process::id();
    let hubs = cluster_hubs(&redis, &format!("mercure-bench-{run}"));
    let names = ["A", "B", "C", "redis"];
    let pids: Vec<u32> = hubs
        .iter()
        .map(|hub| hub.child.id())
        .chain([redis.pid()])
        .collect();
    println!(
        "cluster: redis-server {} on 127.0.0.1:{} (pid {}, appendonly yes, appendfsync {}, its \
         file under {}), hubs A {} B {} C {} (--transport redis://...?stream=KEY)",
        redis.version,
        redis.port,
        redis.pid(),
        settings.redis_fsync,
        redis.dir.0.display(),
        hubs[0].addr,
        hubs[1].addr,
        hubs[2].addr,
    );

    // 1. Publish -> receive, the same shape on a single hub (history in
    // memory) and across the cluster (publisher on A, subscribers on B
    // and C), alternated.
    let (subscribers, updates) = (settings.latency_subscribers, settings.latency_updates);
    let mut single_p99 = Vec::new();
    let mut cluster_p50 = Vec::new();
    let mut cluster_p99 = Vec::new();
    for round in 1..=settings.cluster_rounds {
        let single = HubProcess::spawn(1000);
        let [(_, p99), _] = fanout_across(
            settings,
            &Placement {
                publisher: single.addr,
                subscribers: vec![single.addr],
                processes: vec![("hub", single.child.id())],
            },
            token,
            subscribers,
            updates,
            "latency",
            &format!("cluster round {round}: single hub (memory history), publish->receive"),
        )
        .await;
        single_p99.push(p99);
        drop(single);
        let [(p50, p99), _] = fanout_across(
            settings,
            &Placement {
                publisher: hubs[0].addr,
                subscribers: vec![hubs[1].addr, hubs[2].addr],
                processes: names.iter().copied().zip(pids.iter().copied()).collect(),
            },
            token,
            subscribers,
            updates,
            "latency",
            &format!("cluster round {round}: 3 hubs on Redis, publish on A -> receive on B and C"),
        )
        .await;
        cluster_p50.push(p50);
        cluster_p99.push(p99);
    }
    let worst = cluster_p99.iter().copied().fold(0.0, f64::max);
    println!(
        "cluster latency: in the subscriber's socket, p50 {} ms, p99 {} ms across instances \
         (single hub p99 {} ms); target p99 <= 5 ms {}",
        list_ms(&cluster_p50),
        list_ms(&cluster_p99),
        list_ms(&single_p99),
        verdict(settings, worst <= 5.0),
    );

    // 2. Publish throughput: the keep-alive connections spread over the
    // three instances, every update appended to Redis and read back by
    // each instance's reader; then a single memory-history hub's. First
    // the round trip of one publish through Redis, one at a time: with
    // `c` connections, the rate cannot pass c / round trip.
    let (rtt_p50, _) = publish_round_trips(
        settings,
        hubs[0].addr,
        token,
        "cluster: publish round trip through Redis, one keep-alive connection to A",
    )
    .await;
    println!(
        "  so {} connections publishing one update at a time each reach at most about {:.0}/s",
        settings.publish_connections,
        settings.publish_connections as f64 / (rtt_p50 / 1e3),
    );
    let before = cpu_of(&pids);
    let addrs: Vec<SocketAddr> = hubs.iter().map(|hub| hub.addr).collect();
    let memory_before = redis.info_number("used_memory").unwrap_or(0);
    let rate = publish_throughput_across(
        settings,
        &addrs,
        token,
        "cluster: publish throughput, 3 hubs on Redis",
    )
    .await;
    let (used, total) = cpu_used(&names, &pids, &before);
    println!(
        "  CPU time during the cluster publish: {used} (total {total} ms); Redis used_memory \
         {:.1} -> {:.1} MiB, stream length {}",
        mib(memory_before),
        mib(redis.info_number("used_memory").unwrap_or(0)),
        stream_length(redis.port, &format!("mercure-bench-{run}"))
            .map_or_else(|| "?".into(), |n| n.to_string()),
    );
    let single = HubProcess::spawn(1000);
    let single_rate = publish_throughput(
        settings,
        single.addr,
        token,
        "cluster: publish throughput, single hub (memory history)",
    )
    .await;
    drop(single);
    println!(
        "cluster throughput: {rate:.0} publishes/s through Redis with 3 instances ({:.2} of a \
         single memory-history hub's {single_rate:.0}/s); target >= 20000/s {}",
        rate / single_rate,
        verdict(settings, rate >= 20_000.0),
    );
    drop(hubs);

    // 3. Idle subscribers: a fresh single memory-history hub holding as
    // many as one instance, then three fresh instances (a stream of their
    // own): the memory figures are not mixed with the phases above.
    let single = HubProcess::spawn(1000);
    let single_kib = cluster_idle(
        settings,
        "cluster idle, single hub (memory history)",
        &[("single hub", &single)],
        None,
    )
    .await;
    drop(single);
    let hubs = cluster_hubs(&redis, &format!("mercure-bench-{run}-idle"));
    let named: Vec<(&str, &HubProcess)> = names.iter().copied().zip(&hubs).collect();
    let cluster_kib = cluster_idle(
        settings,
        "cluster idle, 3 hubs on Redis",
        &named,
        Some(&redis),
    )
    .await;
    println!(
        "cluster idle: {} subscribers per instance, hub RSS per subscriber {} KiB on A / B / C \
         (single memory-history hub: {} KiB)",
        settings.cluster_idle_per_instance,
        list_kib(&cluster_kib),
        list_kib(&single_kib),
    );
}

/// `11.30 / 11.29` KiB values, for a line.
fn list_kib(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.2}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// `[0.123, 0.456]` ms values, for a line.
fn list_ms(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.3}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// `XLEN key` on the Redis at `port`.
fn stream_length(port: u16, key: &str) -> Option<u64> {
    use std::io::{Read, Write};
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let command = format!("*2\r\n$4\r\nXLEN\r\n${}\r\n{key}\r\n", key.len());
    stream.write_all(command.as_bytes()).ok()?;
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer).ok()?;
    let text = std::str::from_utf8(&answer[..n]).ok()?;
    text.strip_prefix(':')?.trim().parse().ok()
}

/// Idle subscribers opened round robin over `hubs` (in batches of 256,
/// `settings.cluster_idle_per_instance` each), held, then each hub's
/// resident memory per subscriber, and Redis's when the hubs share one
/// (each instance lists its subscribers there). Returns the KiB per
/// subscriber of each hub.
async fn cluster_idle(
    settings: &Settings,
    label: &str,
    hubs: &[(&str, &HubProcess)],
    redis: Option<&RedisProcess>,
) -> Vec<f64> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before: Vec<u64> = hubs.iter().map(|(_, hub)| hub.rss_kib()).collect();
    let redis_memory = |redis: &RedisProcess| {
        (
            redis.info_number("used_memory").unwrap_or(0),
            redis.rss_kib(),
        )
    };
    let redis_before = redis.map(redis_memory);
    let wanted = settings.cluster_idle_per_instance * hubs.len();
    let addrs: Vec<SocketAddr> = hubs.iter().map(|(_, hub)| hub.addr).collect();
    let deadline = Instant::now() + settings.phase_limit;
    let started = Instant::now();
    let mut held: Vec<Vec<TcpStream>> = hubs.iter().map(|_| Vec::new()).collect();
    let mut setup = Vec::with_capacity(wanted);
    let mut n = 0;
    let mut failed = None;
    while n < wanted && Instant::now() < deadline && failed.is_none() {
        let batch = 256.min(wanted - n);
        let mut tasks = Vec::with_capacity(batch);
        for _ in 0..batch {
            let i = n;
            n += 1;
            let addr = addrs[i % addrs.len()];
            tasks.push(tokio::spawn(async move {
                let started = Instant::now();
                subscribe(addr, "idle", i)
                    .await
                    .map(|s| (i, s, started.elapsed().as_nanos() as u64))
            }));
        }
        for task in tasks {
            match task.await.expect("task") {
                Ok((i, stream, nanos)) => {
                    held[i % addrs.len()].push(stream);
                    setup.push(nanos);
                }
                // The rest of the batch is still awaited.
                Err(error) => failed = Some(error),
            }
        }
    }
    let total: usize = held.iter().map(Vec::len).sum();
    if let Some(error) = &failed {
        println!("{label}: stopped at {total} idle subscribers ({error})");
        // At the open-files limit, this process could not even open the
        // hubs' /proc files: a few connections go.
        for streams in &mut held {
            streams.truncate(streams.len().saturating_sub(32));
        }
    } else {
        println!(
            "{label}: {total} idle subscribers connected in {:.2} s (open-files limit of this \
             process, which holds the client side of all: {})",
            started.elapsed().as_secs_f64(),
            open_files_limit(),
        );
        report_latencies(&format!("{label}: time to open each"), setup);
    }
    // Instances on Redis write their subscribers' presence there in
    // batches.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut per_subscriber = Vec::new();
    for (((name, hub), streams), before) in hubs.iter().zip(&held).zip(&before) {
        let after = hub.rss_kib();
        let each = after.saturating_sub(*before) as f64 / streams.len().max(1) as f64;
        per_subscriber.push(each);
        println!(
            "  {name}: {} idle subscribers held; hub RSS {before} KiB -> {after} KiB = {each:.2} \
             KiB per subscriber",
            streams.len()
        );
    }
    let total: usize = held.iter().map(Vec::len).sum();
    if let (Some(redis), Some(before)) = (redis, redis_before) {
        let after = redis_memory(redis);
        println!(
            "  Redis (every instance lists its subscribers there): used_memory {:.1} -> {:.1} \
             MiB = {:.0} bytes per subscriber; RSS {} -> {} KiB",
            mib(before.0),
            mib(after.0),
            after.0.saturating_sub(before.0) as f64 / total.max(1) as f64,
            before.1,
            after.1,
        );
    }
    drop(held);
    per_subscriber
}

/// The topic of the `soak` phase.
const SOAK_TOPIC: &str = "soak";

/// What one subscription of the `soak` phase received.
struct SoakReader {
    stream: mio::net::TcpStream,
    pending: Vec<u8>,
    /// The sequence number of the next update due (= updates received in
    /// order so far).
    next: u64,
    /// Why it stopped early: a gap, a repeat, an update out of order, the
    /// stream closed.
    failed: Option<String>,
}

/// Reads every `soak` subscription on one thread with one `epoll` loop,
/// checking that subscriber by subscriber the updates (`data: <n>`) come
/// as 0, 1, 2, ...; adds each to `received`; stops once every subscriber
/// has `last` (set by the publisher when it is done; `u64::MAX` until
/// then) updates or has failed, or at `deadline` (set with `last`).
/// Returns every subscriber's count and failure.
fn read_sequences(
    streams: Vec<TcpStream>,
    received: Arc<AtomicU64>,
    last: Arc<AtomicU64>,
    deadline: Arc<std::sync::Mutex<Option<Instant>>>,
) -> Vec<(u64, Option<String>)> {
    use std::io::Read;
    let poll = mio::Poll::new().expect("poll");
    let mut readers: Vec<SoakReader> = streams
        .into_iter()
        .enumerate()
        .map(|(i, stream)| {
            let mut stream = mio::net::TcpStream::from_std(stream.into_std().expect("std stream"));
            poll.registry()
                .register(&mut stream, mio::Token(i), mio::Interest::READABLE)
                .expect("register");
            SoakReader {
                stream,
                pending: Vec::with_capacity(512),
                next: 0,
                failed: None,
            }
        })
        .collect();
    let mut poll = poll;
    let mut events = mio::event::Events::with_capacity(1024);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let last = last.load(Ordering::Relaxed);
        if readers.iter().all(|r| r.failed.is_some() || r.next >= last) {
            break;
        }
        let stop = *deadline.lock().expect("deadline");
        if stop.is_some_and(|stop| Instant::now() > stop) {
            break;
        }
        // Woken at least every 100 ms to see `last` and the deadline.
        if poll
            .poll(&mut events, Some(Duration::from_millis(100)))
            .is_err()
        {
            continue;
        }
        for event in events.iter() {
            let reader = &mut readers[event.token().0];
            // Edge-triggered: read until the socket is drained.
            while reader.failed.is_none() {
                let n = match reader.stream.read(&mut chunk) {
                    Ok(0) => {
                        reader.failed = Some(format!("stream closed after {}", reader.next));
                        break;
                    }
                    Ok(n) => n,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                reader.pending.extend_from_slice(&chunk[..n]);
                let Some(last_newline) = reader.pending.iter().rposition(|&b| b == b'\n') else {
                    continue;
                };
                let before = reader.next;
                for line in reader.pending[..last_newline].split(|&b| b == b'\n') {
                    let Some(value) = line.strip_prefix(b"data: ") else {
                        continue;
                    };
                    let number = std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    if number == Some(reader.next) {
                        reader.next += 1;
                    } else {
                        reader.failed = Some(format!(
                            "update {} expected, got {:?}",
                            reader.next,
                            String::from_utf8_lossy(value)
                        ));
                        break;
                    }
                }
                reader.pending.drain(..=last_newline);
                received.fetch_add(reader.next - before, Ordering::Relaxed);
                if n < chunk.len() && reader.pending.is_empty() {
                    break;
                }
            }
        }
    }
    readers.into_iter().map(|r| (r.next, r.failed)).collect()
}

/// The `soak` phase: `soak_subscribers` subscribers held while one
/// publisher sends `soak_rate` updates per second (paced on a fixed
/// schedule) for `soak_duration`; the hub's RSS every `soak_sample`.
/// Returns whether it passed: no update lost, duplicated or out of order
/// for any subscriber, and (not judged in the smoke run) the RSS after the
/// warm-up within 10 % (largest sample ≤ 1.1 × smallest).
async fn soak(settings: &Settings, token: &str) -> bool {
    let hub = HubProcess::spawn(1000);
    let subscribers = settings.soak_subscribers;
    println!(
        "soak: {subscribers} subscribers, {} updates/s for {} s, RSS every {} s (hub pid {}, RSS {} KiB at start)",
        settings.soak_rate,
        settings.soak_duration.as_secs(),
        settings.soak_sample.as_secs(),
        hub.child.id(),
        hub.rss_kib()
    );
    let mut streams = Vec::with_capacity(subscribers);
    let connect_deadline = Instant::now() + settings.phase_limit;
    while streams.len() < subscribers {
        assert!(
            Instant::now() < connect_deadline,
            "soak: {} of {subscribers} subscribers connected in the time limit",
            streams.len()
        );
        let batch = 256.min(subscribers - streams.len());
        let mut tasks = Vec::with_capacity(batch);
        for i in 0..batch {
            let (addr, n) = (hub.addr, streams.len() + i);
            tasks.push(tokio::spawn(
                async move { subscribe(addr, SOAK_TOPIC, n).await },
            ));
        }
        for task in tasks {
            streams.push(task.await.expect("task").expect("subscribe"));
        }
    }
    let received = Arc::new(AtomicU64::new(0));
    let last = Arc::new(AtomicU64::new(u64::MAX));
    let deadline = Arc::new(std::sync::Mutex::new(None));
    let reader = {
        let (received, last, deadline) = (
            Arc::clone(&received),
            Arc::clone(&last),
            Arc::clone(&deadline),
        );
        std::thread::spawn(move || read_sequences(streams, received, last, deadline))
    };
    let published = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let publishing = {
        let (addr, token, published) = (hub.addr, token.to_owned(), Arc::clone(&published));
        let (rate, duration) = (settings.soak_rate, settings.soak_duration);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("publisher runtime");
            runtime.block_on(async {
                let mut publisher = Publisher::new(addr, &token, 0).await;
                let interval = Duration::from_secs(1) / rate as u32;
                let mut n: u64 = 0;
                loop {
                    let due = started + interval * n as u32;
                    if due.duration_since(started) >= duration {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    let status = publisher
                        .publish(&format!("topic={SOAK_TOPIC}&data={n}"))
                        .await;
                    assert_eq!(status, 200, "soak: publish {n} refused");
                    n += 1;
                    published.store(n, Ordering::Relaxed);
                }
            });
        })
    };
    // The samples: seconds since the start, RSS (KiB), updates published,
    // deliveries.
    let mut samples: Vec<(u64, u64, u64, u64)> = Vec::new();
    println!("  time    hub RSS  published  delivered (of published x subscribers)");
    let mut next_sample = started;
    while next_sample.duration_since(started) <= settings.soak_duration {
        tokio::time::sleep_until(next_sample.into()).await;
        let sample = (
            next_sample.duration_since(started).as_secs(),
            hub.rss_kib(),
            published.load(Ordering::Relaxed),
            received.load(Ordering::Relaxed),
        );
        println!(
            "  {:>4} s {:>7} KiB {:>9} {:>10} ({:.1} %)",
            sample.0,
            sample.1,
            sample.2,
            sample.3,
            100.0 * sample.3 as f64 / (sample.2 * subscribers as u64).max(1) as f64
        );
        samples.push(sample);
        next_sample += settings.soak_sample;
    }
    tokio::task::spawn_blocking(move || publishing.join().expect("publisher thread"))
        .await
        .expect("join");
    let total = published.load(Ordering::Relaxed);
    let scheduled = settings.soak_rate * settings.soak_duration.as_secs();
    println!(
        "soak: {total} of {scheduled} scheduled updates published ({:.1}/s){}",
        total as f64 / settings.soak_duration.as_secs_f64().max(1.0),
        if total < scheduled * 99 / 100 {
            ": the publisher fell behind its schedule (each publish waited for its response)"
        } else {
            ""
        }
    );
    *deadline.lock().expect("deadline") = Some(Instant::now() + Duration::from_secs(30));
    last.store(total, Ordering::Relaxed);
    let results = tokio::task::spawn_blocking(move || reader.join().expect("reader thread"))
        .await
        .expect("join");
    let complete = results
        .iter()
        .filter(|(count, failed)| failed.is_none() && *count == total)
        .count();
    for (i, (count, failed)) in results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.0 != total || r.1.is_some())
        .take(5)
    {
        println!(
            "  subscriber {i}: {count} of {total} in order{}",
            failed
                .as_ref()
                .map_or_else(String::new, |why| format!(", then {why}"))
        );
    }
    let judged: Vec<u64> = samples
        .iter()
        .filter(|s| Duration::from_secs(s.0) >= settings.soak_warmup)
        .map(|s| s.1)
        .collect();
    let (low, high) = (
        judged.iter().copied().min().unwrap_or(0),
        judged.iter().copied().max().unwrap_or(0),
    );
    let spread = if low == 0 {
        f64::NAN
    } else {
        (high - low) as f64 / low as f64
    };
    // The curve: one bar per sample, from the smallest sample up.
    let floor = samples.iter().map(|s| s.1).min().unwrap_or(0);
    let top = samples.iter().map(|s| s.1).max().unwrap_or(0);
    println!("  hub RSS over time (bar: from {floor} KiB to {top} KiB):");
    for (at, rss, _, _) in &samples {
        let width = if top > floor {
            ((rss - floor) * 50 / (top - floor)) as usize
        } else {
            0
        };
        println!("  {at:>4} s {rss:>7} KiB |{}", "#".repeat(width));
    }
    let lossless = complete == subscribers;
    let flat = judged.len() >= 2 && spread <= 0.10;
    println!(
        "soak: {total} updates to {subscribers} subscribers: {complete} received every one in order{}",
        if lossless { "" } else { " (UPDATES LOST)" }
    );
    println!(
        "soak: RSS after the {} s warm-up: {low}-{high} KiB over {} samples, spread {:.1} % (limit 10 %): {}",
        settings.soak_warmup.as_secs(),
        judged.len(),
        spread * 100.0,
        match (settings.smoke, flat) {
            (true, _) => "not judged (smoke run)",
            (false, true) => "flat",
            (false, false) => "NOT FLAT",
        }
    );
    let passed = lossless && (settings.smoke || flat);
    println!("soak: {}", if passed { "PASSED" } else { "FAILED" });
    passed
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
    let run = |phase: &str| settings.phases.split(',').any(|p| p.trim() == phase);
    runtime.block_on(async {
        if ["publish", "rtt", "latency", "fanout", "floor", "new"]
            .iter()
            .any(|phase| run(phase))
        {
            shared_hub_phases(&settings, &token).await;
        }
        if run("idle") {
            // A fresh hub, so the memory figure is not mixed with the phases above.
            let hub = HubProcess::spawn(1000);
            idle_subscribers(&settings, &hub).await;
        }
        if run("durable") {
            durable(&settings, &token).await;
        }
        if run("restart") {
            restart(&settings, &token).await;
        }
        if run("replay") {
            replay(&settings, &token).await;
        }
        if run("cluster") {
            cluster(&settings, &token).await;
        }
        if run("soak") && !soak(&settings, &token).await {
            std::process::exit(1);
        }
    });
}
