//! Side-by-side benchmark: the `mercure-hub` binary against the hub of
//! flask-mercure-sse (Flask on gevent, installed by `scripts/setup` into
//! `.tools/venv`), on loopback, in alternation.
//!
//! Each round starts our hub (release binary, `--history memory`), runs
//! every phase on it, stops it, then does the same with flask's hub: A B,
//! A B, ... (`BENCH_ROUNDS`, default 3). Each hub process is pinned to one
//! core (`taskset -c 1`, `BENCH_HUB_CPU`) and this process, the client, to
//! the other (`BENCH_CLIENT_CPU`, default 0); `BENCH_PIN=0` pins nothing.
//! Per round, for each hub:
//!
//! 1. publish round trip on one keep-alive connection (p50, p99);
//! 2. publishes/s from 16 keep-alive connections;
//! 3. publish→receive latency with 100 subscribers (p50, p99, at the
//!    subscriber's socket: the kernel's receive timestamp);
//! 4. one update to 1,000 subscribers (p99 at the socket);
//! 5. publishes/s with `Connection: close` (a new connection for each),
//!    from 16 clients;
//! 6. subscriptions accepted/s (64 clients, each opening one subscription
//!    after the other, closing it once accepted);
//! 7. on a fresh hub: idle subscribers held, and the hub process's
//!    resident memory per subscriber (for flask, the Python process's).
//!
//! then the ratio of the two per figure, and at the end a summary against
//! the targets (20× flask's throughput, a tenth of its latency and memory).
//!
//! How flask's hub is driven (read from its source,
//! `flask_mercure_sse/hub.py`): anonymous subscribers are allowed and get
//! public updates; a publisher needs an HS256 token signed with the
//! publisher secret whose `mercure.publish` claim matches the topic
//! (`["*"]` here, in a 0.x `mercure` claim). Its subscription
//! response sends nothing, not even the head, until the first event
//! (gevent writes the head with the first chunk), so a subscription is
//! known to be registered only from the hub itself: the subscriptions API
//! (with a subscriber token) lists it, or its subscription event arrives
//! on `/.well-known/mercure/subscriptions/{topic}`. Phase 6 counts a flask
//! subscription as accepted when that event reaches the client (one
//! watcher stream per client), ours when the response head and opening
//! comment do. Its subscriber queues hold 5 events and a full queue drops
//! the subscriber, so every delivery phase is paced for both hubs alike:
//! the next update is published only when every subscriber has the
//! previous one (then 2 ms, or 50 ms after a fan-out, of pause).
//!
//! On a machine shared with other work, wake-ups wait for other
//! processes' time slices and the figures measure the scheduler (our hub
//! idled at 10-17 % of its core while publishing): `chrt -f 1 cargo bench
//! -p mercure-hub --bench compare` runs the hubs and the client in the
//! real-time class (BENCHMARKS.md).
//!
//! Every phase is bounded in count and in time (`BENCH_PHASE_SECONDS`);
//! flask's counts are smaller (`BENCH_FLASK_*`), rates are computed the
//! same way. An update lost fails the run. `cargo test --benches` runs a
//! small smoke version (one round, a few of everything); it is skipped,
//! saying why, when `.tools/venv` is missing.

#![allow(missing_docs)]

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mercure_core::ProtocolVersion;
use mercure_core::token::Grants;
use support::{
    Latencies, Publisher, SECRET, SOURCES, env, now_nanos, open_subscription, process_cpu_ms,
    process_rss_kib, publisher_token, read_stamps_counting, report_latencies, size, subscribe,
    token,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// flask's publisher secret (HS256).
const FLASK_PUBLISHER_SECRET: &str = "compare-bench-flask-publisher-secret-0123456789";
/// flask's subscriber secret (HS256): its subscriptions API and private
/// subscription events need a token signed with it.
const FLASK_SUBSCRIBER_SECRET: &str = "compare-bench-flask-subscriber-secret-0123456789";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ours,
    Flask,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Ours => "mercure-hub",
            Self::Flask => "flask-mercure-sse",
        }
    }
}

/// The counts of one hub's phases.
struct Sizes {
    publishes: u64,
    closing_publishes: u64,
    round_trips: usize,
    new_subscriptions: usize,
    idle_subscribers: usize,
    latency_updates: usize,
    fanout_updates: usize,
}

impl Sizes {
    /// Ours from `BENCH_*`, flask's from `BENCH_FLASK_*`.
    fn from_env(kind: Kind, smoke: bool) -> Self {
        let prefix = match kind {
            Kind::Ours => "BENCH_",
            Kind::Flask => "BENCH_FLASK_",
        };
        // (ours, flask) for a benchmark run, (ours, flask) for the smoke run.
        let get = |name: &str, run: (u64, u64), small: (u64, u64)| {
            let pick = |(ours, flask): (u64, u64)| match kind {
                Kind::Ours => ours,
                Kind::Flask => flask,
            };
            size(&format!("{prefix}{name}"), pick(run), pick(small), smoke)
        };
        Self {
            publishes: get("PUBLISHES", (100_000, 3_000), (400, 100)),
            closing_publishes: get("CLOSE_PUBLISHES", (20_000, 1_000), (100, 40)),
            round_trips: get("ROUND_TRIPS", (2_000, 200), (50, 20)) as usize,
            new_subscriptions: get("NEW_SUBSCRIPTIONS", (10_000, 500), (64, 16)) as usize,
            idle_subscribers: get("IDLE_SUBSCRIBERS", (10_000, 2_000), (100, 50)) as usize,
            latency_updates: get("LATENCY_UPDATES", (1_000, 100), (10, 5)) as usize,
            fanout_updates: get("FANOUT_UPDATES", (5, 3), (1, 1)) as usize,
        }
    }
}

struct Settings {
    rounds: usize,
    publish_connections: usize,
    new_clients: usize,
    latency_subscribers: usize,
    fanout_subscribers: usize,
    phase_limit: Duration,
    ours: Sizes,
    flask: Sizes,
    pinning: Pinning,
    smoke: bool,
}

impl Settings {
    fn from_env(smoke: bool) -> Self {
        let size = |name: &str, default, small| size(name, default, small, smoke);
        Self {
            rounds: size("BENCH_ROUNDS", 3, 1).max(1) as usize,
            publish_connections: size("BENCH_PUBLISH_CONNECTIONS", 16, 4).max(1) as usize,
            new_clients: size("BENCH_NEW_CLIENTS", 64, 8).max(1) as usize,
            latency_subscribers: size("BENCH_LATENCY_SUBSCRIBERS", 100, 10).max(1) as usize,
            fanout_subscribers: size("BENCH_FANOUT_SUBSCRIBERS", 1_000, 50).max(1) as usize,
            phase_limit: Duration::from_secs(size("BENCH_PHASE_SECONDS", 60, 20)),
            ours: Sizes::from_env(Kind::Ours, smoke),
            flask: Sizes::from_env(Kind::Flask, smoke),
            pinning: Pinning::detect(),
            smoke,
        }
    }

    fn sizes(&self, kind: Kind) -> &Sizes {
        match kind {
            Kind::Ours => &self.ours,
            Kind::Flask => &self.flask,
        }
    }
}

/// The cores of the hub under test and of this process.
#[derive(Clone, Copy)]
struct Pinning {
    hub: Option<usize>,
    client: Option<usize>,
}

impl Pinning {
    /// Both pinned when this process may run on the two cores and
    /// `taskset` is there (`BENCH_PIN=0`: neither).
    fn detect() -> Self {
        let none = Self {
            hub: None,
            client: None,
        };
        if std::env::var("BENCH_PIN").is_ok_and(|v| v == "0") {
            return none;
        }
        let hub = env("BENCH_HUB_CPU", 1) as usize;
        let client = env("BENCH_CLIENT_CPU", 0) as usize;
        let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok();
        let usable = |cpu: usize| {
            allowed
                .as_ref()
                .is_some_and(|set| set.is_set(cpu).unwrap_or(false))
        };
        let taskset = Command::new("taskset")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if hub == client || !usable(hub) || !usable(client) || !taskset {
            println!(
                "not pinned: cores {hub} (hub) and {client} (client) are not both available, or taskset is missing"
            );
            return none;
        }
        Self {
            hub: Some(hub),
            client: Some(client),
        }
    }

    /// Pins this thread (and the threads it starts afterwards) to the
    /// client's core.
    fn pin_client(self) {
        if let Some(cpu) = self.client {
            let mut set = nix::sched::CpuSet::new();
            set.set(cpu).expect("a core number");
            nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
                .expect("sched_setaffinity");
        }
    }

    /// `program`, through `taskset -c HUB` when pinned (taskset execs it:
    /// the process id stays the hub's).
    fn command(self, program: &Path) -> Command {
        match self.hub {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.args(["-c", &cpu.to_string()]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }
}

/// A hub under test, killed (SIGKILL, by its process id) on drop.
struct Hub {
    kind: Kind,
    child: Child,
    addr: SocketAddr,
    publisher_token: String,
    /// flask's: for its subscriptions API and subscription events.
    subscriber_token: String,
    /// flask's stderr (a request log line each), removed on drop.
    log: Option<PathBuf>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(log) = &self.log {
            let _ = std::fs::remove_file(log);
        }
    }
}

fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/python")
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("free port")
}

impl Hub {
    fn start(kind: Kind, pinning: Pinning) -> Self {
        match kind {
            Kind::Ours => Self::start_ours(pinning),
            Kind::Flask => Self::start_flask(pinning),
        }
    }

    /// The release `mercure-hub` binary, history in memory, no caps on
    /// connections (every client has a loopback address), no heartbeat.
    fn start_ours(pinning: Pinning) -> Self {
        use std::io::{BufRead, BufReader};
        let mut command = pinning.command(Path::new(env!("CARGO_BIN_EXE_mercure-hub")));
        command
            .args(["--addr", "127.0.0.1:0", "--anonymous", "--heartbeat", "0"])
            .args(["--log", "warn,mercure_hub=info", "--history", "memory"])
            .args(["--queue-capacity", "1000"])
            .args([
                "--max-connections",
                "0",
                "--max-connections-per-address",
                "0",
            ])
            // Thousands of subscriptions a second from one address.
            .args(["--subscribe-rate", "0"])
            .env("MERCURE_JWT_KEY", SECRET)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
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
        Self {
            kind: Kind::Ours,
            child,
            addr,
            publisher_token: publisher_token(),
            subscriber_token: String::new(),
            log: None,
        }
    }

    /// `python -m flask_mercure_sse.server` on a free port (its defaults:
    /// anonymous subscribers allowed, subscriptions API on, a ping every
    /// 15 s, a request log line on stderr, kept in a temporary file).
    fn start_flask(pinning: Pinning) -> Self {
        let mut failures = String::new();
        // The port is free when chosen, but another process may take it
        // before the hub binds it: three attempts.
        for _ in 0..3 {
            match Self::try_start_flask(pinning) {
                Ok(hub) => return hub,
                Err(why) => failures.push_str(&why),
            }
        }
        panic!("flask-mercure-sse did not start:\n{failures}");
    }

    /// One attempt: the hub, or what it wrote before it exited.
    fn try_start_flask(pinning: Pinning) -> Result<Self, String> {
        let port = free_port();
        let log = std::env::temp_dir().join(format!(
            "mercure-compare-flask-{}-{port}.log",
            std::process::id()
        ));
        let stderr = std::fs::File::create(&log).expect("flask's log file");
        let mut command = pinning.command(&venv_python());
        command
            .args(["-m", "flask_mercure_sse.server", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .args(["--publisher-secret", FLASK_PUBLISHER_SECRET])
            .args(["--subscriber-secret", FLASK_SUBSCRIBER_SECRET])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // Its app reads every MERCURE_* variable as configuration.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MERCURE_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("cannot start flask-mercure-sse");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let why = format!(
                    "exited with {status}: {}\n",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                let _ = std::fs::remove_file(&log);
                return Err(why);
            }
            if std::net::TcpStream::connect(addr).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_file(&log);
                panic!("flask-mercure-sse did not listen within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self {
            kind: Kind::Flask,
            child,
            addr,
            publisher_token: token(
                FLASK_PUBLISHER_SECRET,
                &Grants::publish_all(),
                ProtocolVersion::V0,
            ),
            subscriber_token: token(
                FLASK_SUBSCRIBER_SECRET,
                &Grants::subscribe_all(),
                ProtocolVersion::V0,
            ),
            log: Some(log),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn cpu_ms(&self) -> u64 {
        process_cpu_ms(self.pid())
    }

    fn rss_kib(&self) -> u64 {
        process_rss_kib(self.pid())
    }

    /// The topics of flask's current subscriptions to `topic` (a path
    /// segment: its subscriptions API routes no `/` in a topic, and
    /// answers 500 to a listing of every topic).
    async fn flask_subscriptions(&self, topic: &str) -> Vec<String> {
        let path = format!("/.well-known/mercure/subscriptions/{topic}");
        let (status, body) = http_get(self.addr, &path, &self.subscriber_token).await;
        match status {
            404 => Vec::new(),
            200 => {
                let document: serde_json::Value =
                    serde_json::from_slice(&body).expect("the subscriptions document");
                document["subscriptions"]
                    .as_array()
                    .expect("a subscriptions list")
                    .iter()
                    .map(|s| s["topic"].as_str().unwrap_or_default().to_owned())
                    .collect()
            }
            status => panic!("the subscriptions API answered {status}"),
        }
    }

    /// Waits until flask lists `count` subscriptions to `topic`; false if
    /// `deadline` passed first.
    async fn flask_wait_registered(&self, topic: &str, count: usize, deadline: Instant) -> bool {
        loop {
            let listed = self.flask_subscriptions(topic).await;
            if listed.iter().filter(|t| *t == topic).count() >= count {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A GET with a bearer token and `Connection: close`: the status and the
/// body (read until the hub closes, at most 10 s).
async fn http_get(addr: SocketAddr, path: &str, token: &str) -> (u16, Vec<u8>) {
    let read = async {
        let mut stream = support::connect(addr, 0).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a GET answered within 10 s")
        .expect("a GET");
    let end = support::find(&response, b"\r\n\r\n").expect("a response head");
    let status = std::str::from_utf8(&response[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, response[end + 4..].to_vec())
}

/// Opens `count` subscriptions to `topic`, 64 at a time, and returns them
/// once the hub has registered every one (ours: its response head and
/// opening comment arrived; flask: its subscriptions API lists them).
async fn open_subscribers(
    hub: &Hub,
    topic: &str,
    count: usize,
    deadline: Instant,
) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(count);
    let addr = hub.addr;
    let kind = hub.kind;
    while streams.len() < count {
        assert!(
            Instant::now() < deadline,
            "{}: {} of {count} subscriptions opened in the time limit",
            kind.name(),
            streams.len()
        );
        let batch = 64.min(count - streams.len());
        let mut tasks = Vec::with_capacity(batch);
        for i in 0..batch {
            let n = streams.len() + i;
            let topic = topic.to_owned();
            tasks.push(tokio::spawn(async move {
                match kind {
                    Kind::Ours => subscribe(addr, &topic, n).await,
                    Kind::Flask => open_subscription(addr, &format!("topic={topic}"), "", n).await,
                }
            }));
        }
        for task in tasks {
            streams.push(task.await.expect("task").expect("subscribe"));
        }
    }
    if kind == Kind::Flask {
        assert!(
            hub.flask_wait_registered(topic, count, deadline).await,
            "flask-mercure-sse did not register {count} subscriptions in the time limit"
        );
    }
    streams
}

/// The figures of one hub in one round.
#[derive(Clone, Copy, Default)]
struct Figures([f64; METRICS.len()]);

struct Metric {
    name: &'static str,
    /// How a value is printed: "/s", "ms", "KiB".
    unit: &'static str,
    higher_is_better: bool,
    /// The ratio to flask aimed at (ours / flask for a rate, flask / ours
    /// for a latency or a memory figure).
    target: f64,
}

const METRICS: [Metric; 9] = [
    Metric {
        name: "publishes/s, keep-alive connections",
        unit: "/s",
        higher_is_better: true,
        target: 20.0,
    },
    Metric {
        name: "publishes/s, `Connection: close`",
        unit: "/s",
        higher_is_better: true,
        target: 20.0,
    },
    Metric {
        name: "publish round trip, one keep-alive connection, p50",
        unit: "ms",
        higher_is_better: false,
        target: 10.0,
    },
    Metric {
        name: "publish round trip, one keep-alive connection, p99",
        unit: "ms",
        higher_is_better: false,
        target: 10.0,
    },
    Metric {
        name: "subscriptions accepted/s",
        unit: "/s",
        higher_is_better: true,
        target: 20.0,
    },
    Metric {
        name: "idle RSS per subscriber",
        unit: "KiB",
        higher_is_better: false,
        target: 10.0,
    },
    Metric {
        name: "publish→receive, p50",
        unit: "ms",
        higher_is_better: false,
        target: 10.0,
    },
    Metric {
        name: "publish→receive, p99",
        unit: "ms",
        higher_is_better: false,
        target: 10.0,
    },
    Metric {
        name: "one update to many subscribers (fan-out), p99",
        unit: "ms",
        higher_is_better: false,
        target: 10.0,
    },
];

const KEEP_ALIVE: usize = 0;
const CLOSING: usize = 1;
const RTT_P50: usize = 2;
const RTT_P99: usize = 3;
const ACCEPTED: usize = 4;
const IDLE_KIB: usize = 5;
const LATENCY_P50: usize = 6;
const LATENCY_P99: usize = 7;
const FANOUT_P99: usize = 8;

fn format_value(metric: &Metric, value: f64) -> String {
    match metric.unit {
        "/s" => format!("{value:.0}/s"),
        "ms" => format!("{value:.3} ms"),
        _ => format!("{value:.2} KiB"),
    }
}

/// How many times better ours is than flask's on `metric`.
fn ratio(metric: &Metric, ours: f64, flask: f64) -> f64 {
    if metric.higher_is_better {
        ours / flask
    } else {
        flask / ours
    }
}

/// Publishes `count` updates from `connections` clients: on keep-alive
/// connections, or (`closing`) each on a new connection that the hub
/// closes after its response. Returns the rate (publishes/s).
async fn publish_rate(
    settings: &Settings,
    hub: &Hub,
    count: u64,
    closing: bool,
    label: &str,
) -> f64 {
    let connections = settings.publish_connections;
    let per_connection = count / connections as u64;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + settings.phase_limit;
    let cpu_before = hub.cpu_ms();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let token = hub.publisher_token.clone();
        let done = Arc::clone(&done);
        let addr = hub.addr;
        tasks.push(tokio::spawn(async move {
            let body = "topic=bench&data=x";
            let mut publisher = if closing {
                None
            } else {
                Some(Publisher::new(addr, &token, c).await)
            };
            for i in 0..per_connection {
                if i % 16 == 0 && Instant::now() > deadline {
                    break;
                }
                let status = match &mut publisher {
                    Some(publisher) => publisher.publish(body).await,
                    None => {
                        let n = c + connections * i as usize;
                        let mut once = Publisher::connect(addr, &token, n, true)
                            .await
                            .expect("connect");
                        once.publish(body).await
                    }
                };
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
    let cpu = hub.cpu_ms().saturating_sub(cpu_before);
    println!(
        "  {label}: {count} publishes from {connections} clients in {elapsed:.2} s = {rate:.0}/s; hub CPU {cpu} ms ({:.0} % of its core)",
        cpu as f64 / (elapsed * 10.0),
    );
    rate
}

/// One keep-alive connection publishing one update after the other:
/// median and 99th percentile of the round trip, in ms.
async fn round_trips(settings: &Settings, hub: &Hub, count: usize) -> (f64, f64) {
    let mut publisher = Publisher::new(hub.addr, &hub.publisher_token, 0).await;
    let mut nanos = Vec::with_capacity(count);
    let deadline = Instant::now() + settings.phase_limit;
    for _ in 0..count {
        if Instant::now() > deadline {
            break;
        }
        let started = Instant::now();
        assert_eq!(publisher.publish("topic=rtt&data=x").await, 200);
        nanos.push(started.elapsed().as_nanos() as u64);
    }
    report_latencies("  publish round trip, one keep-alive connection", nanos)
}

/// `subscribers` subscribers of `topic`, `updates` updates stamped with
/// the time of sending, each published once every subscriber has the
/// previous one (then `pause`). Fails if an update is lost. Returns the
/// median and 99th percentile (ms) at the subscriber's socket.
async fn delivery(
    settings: &Settings,
    hub: &Hub,
    topic: &'static str,
    subscribers: usize,
    updates: usize,
    pause: Duration,
) -> (f64, f64) {
    let deadline = Instant::now() + settings.phase_limit;
    let streams = open_subscribers(hub, topic, subscribers, deadline).await;
    let count = streams.len();
    let limit = deadline.saturating_duration_since(Instant::now());
    let progress = Arc::new(AtomicU64::new(0));
    let readers = {
        let progress = Arc::clone(&progress);
        std::thread::spawn(move || read_stamps_counting(streams, updates, limit, Some(&progress)))
    };
    let cpu_before = hub.cpu_ms();
    let (addr, token) = (hub.addr, hub.publisher_token.clone());
    // Its own thread and runtime: no wake-up of the shared runtime in
    // the path of an update (see load.rs).
    let publishing = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("publisher runtime");
        runtime.block_on(async {
            let mut publisher = Publisher::new(addr, &token, 0).await;
            for k in 1..=updates as u64 {
                tokio::time::sleep(pause).await;
                let body = format!("topic={topic}&data={}", now_nanos());
                assert_eq!(publisher.publish(&body).await, 200);
                while progress.load(Ordering::Relaxed) < k * count as u64 {
                    if Instant::now() > deadline {
                        return;
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        });
    });
    tokio::task::spawn_blocking(move || publishing.join().expect("publisher thread"))
        .await
        .expect("join");
    let latencies: Latencies =
        tokio::task::spawn_blocking(move || readers.join().expect("reader thread"))
            .await
            .expect("join");
    let cpu = hub.cpu_ms().saturating_sub(cpu_before);
    assert_eq!(
        latencies.read.len(),
        count * updates,
        "{}: updates were lost ({count} subscribers x {updates} updates)",
        hub.kind.name()
    );
    println!("  hub CPU while delivering {updates} updates to {count} subscribers: {cpu} ms");
    report_latencies(
        &format!("  {count} subscribers x {updates} updates, read by the subscriber"),
        latencies.read,
    );
    report_latencies(
        &format!("  {count} subscribers x {updates} updates, at the subscriber's socket"),
        latencies.arrived,
    )
}

/// Reads a flask subscription stream line by line.
struct LineReader {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl LineReader {
    /// The next `data:` line's value, or `None` at the end of the stream
    /// or at `deadline`.
    async fn next_data(&mut self, deadline: Instant) -> Option<String> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                if let Some(value) = line.strip_prefix(b"data: ") {
                    return Some(String::from_utf8_lossy(value).trim().to_owned());
                }
                continue;
            }
            match tokio::time::timeout_at(deadline.into(), self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.pending.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }
}

/// Subscriptions accepted per second: `clients` clients, each opening a
/// subscription, waiting until the hub has accepted it, closing it, and
/// again, `count` in all.
async fn new_subscriptions(settings: &Settings, hub: &Hub, count: usize) -> f64 {
    let clients = settings.new_clients.min(count.max(1));
    let per_client = count / clients;
    let deadline = Instant::now() + settings.phase_limit;
    // flask: a watcher per client, of the subscription events of the
    // client's topic, registered before the clock starts.
    let mut watchers = Vec::new();
    if hub.kind == Kind::Flask {
        let header = format!("Authorization: Bearer {}\r\n", hub.subscriber_token);
        for c in 0..clients {
            // Also on `watch`, a topic whose listing shows it registered
            // (flask lists a topic without `/` only).
            let query =
                format!("topic=%2F.well-known%2Fmercure%2Fsubscriptions%2Fnew-{c}&topic=watch");
            let stream = open_subscription(hub.addr, &query, &header, c)
                .await
                .expect("a watcher");
            watchers.push(Some(LineReader {
                stream,
                pending: Vec::new(),
            }));
        }
        let registered = hub.flask_wait_registered("watch", clients, deadline).await;
        assert!(registered, "flask's watchers were not registered in time");
    } else {
        watchers.resize_with(clients, || None);
    }
    let done = Arc::new(AtomicU64::new(0));
    let cpu_before = hub.cpu_ms();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, mut watcher) in watchers.into_iter().enumerate() {
        let done = Arc::clone(&done);
        let addr = hub.addr;
        tasks.push(tokio::spawn(async move {
            for i in 0..per_client {
                if Instant::now() > deadline {
                    break;
                }
                let n = c * per_client + i;
                let stream = match &mut watcher {
                    None => subscribe(addr, "new", n).await.expect("subscribe"),
                    Some(watcher) => {
                        let topic = format!("new-{c}");
                        let stream = open_subscription(addr, &format!("topic={topic}"), "", n)
                            .await
                            .expect("subscribe");
                        // Its subscription event; a closed subscription's
                        // (`active: false`, once flask notices) is skipped.
                        let accepted = loop {
                            let Some(data) = watcher.next_data(deadline).await else {
                                break false;
                            };
                            let event: serde_json::Value =
                                serde_json::from_str(&data).expect("a subscription event");
                            if event["active"] == true && event["topic"] == topic.as_str() {
                                break true;
                            }
                        };
                        if !accepted {
                            println!("  client {c}: no subscription event in the time limit");
                            break;
                        }
                        stream
                    }
                };
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
    let rate = count as f64 / elapsed;
    let cpu = hub.cpu_ms().saturating_sub(cpu_before);
    println!(
        "  subscriptions accepted: {count} by {clients} clients in {elapsed:.2} s = {rate:.0}/s; hub CPU {cpu} ms"
    );
    rate
}

/// Waits until the process's CPU time has not moved for 600 ms (it has
/// handled every request sent), at most until `deadline`.
async fn wait_idle(hub: &Hub, deadline: Instant) {
    let mut last = hub.cpu_ms();
    let mut still = 0;
    while still < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = hub.cpu_ms();
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
}

/// On a fresh hub: `count` idle subscribers, and the hub process's
/// resident memory per subscriber (KiB).
async fn idle(settings: &Settings, kind: Kind, count: usize) -> f64 {
    let hub = Hub::start(kind, settings.pinning);
    let deadline = Instant::now() + settings.phase_limit;
    // Start-up done (Python's imports) and settled.
    wait_idle(&hub, deadline).await;
    let before = hub.rss_kib();
    let started = Instant::now();
    let held = open_subscribers_unconfirmed(&hub, "idle", count, deadline).await;
    let opened_in = started.elapsed().as_secs_f64();
    // Every request handled (ours: confirmed one by one already).
    wait_idle(&hub, deadline).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = hub.rss_kib();
    if kind == Kind::Flask {
        // Checked after the reading: the listing costs memory too.
        let listed = hub.flask_subscriptions("idle").await.len();
        assert_eq!(
            listed, count,
            "flask-mercure-sse holds {listed} of {count} idle subscribers"
        );
    }
    let per_subscriber = after.saturating_sub(before) as f64 / count.max(1) as f64;
    println!(
        "  idle subscribers (fresh hub): {} held, opened in {opened_in:.2} s; RSS {before} KiB -> {after} KiB = {per_subscriber:.2} KiB per subscriber",
        held.len()
    );
    drop(held);
    per_subscriber
}

/// [`open_subscribers`] without flask's listing (which costs memory):
/// ours are confirmed one by one, flask's are only sent.
async fn open_subscribers_unconfirmed(
    hub: &Hub,
    topic: &str,
    count: usize,
    deadline: Instant,
) -> Vec<TcpStream> {
    if hub.kind == Kind::Ours {
        return open_subscribers(hub, topic, count, deadline).await;
    }
    let mut streams = Vec::with_capacity(count);
    while streams.len() < count && Instant::now() < deadline {
        let batch = 64.min(count - streams.len());
        let mut tasks = Vec::with_capacity(batch);
        for i in 0..batch {
            let (addr, n) = (hub.addr, streams.len() + i);
            let query = format!("topic={topic}");
            tasks.push(tokio::spawn(async move {
                open_subscription(addr, &query, "", n).await
            }));
        }
        for task in tasks {
            streams.push(task.await.expect("task").expect("subscribe"));
        }
    }
    streams
}

/// Every phase on one hub: its figures.
async fn run_hub(settings: &Settings, kind: Kind) -> Figures {
    let sizes = settings.sizes(kind);
    let mut figures = Figures::default();
    let hub = Hub::start(kind, settings.pinning);
    println!(
        "{} (pid {}, {}), RSS {} KiB at start",
        kind.name(),
        hub.pid(),
        hub.addr,
        hub.rss_kib()
    );
    let values = &mut figures.0;
    (values[RTT_P50], values[RTT_P99]) = round_trips(settings, &hub, sizes.round_trips).await;
    values[KEEP_ALIVE] = publish_rate(settings, &hub, sizes.publishes, false, "keep-alive").await;
    (values[LATENCY_P50], values[LATENCY_P99]) = delivery(
        settings,
        &hub,
        "latency",
        settings.latency_subscribers,
        sizes.latency_updates,
        Duration::from_millis(2),
    )
    .await;
    (_, values[FANOUT_P99]) = delivery(
        settings,
        &hub,
        "fanout",
        settings.fanout_subscribers,
        sizes.fanout_updates,
        Duration::from_millis(50),
    )
    .await;
    // Connection churn last (TIME_WAIT sockets slow what follows them).
    values[CLOSING] = publish_rate(
        settings,
        &hub,
        sizes.closing_publishes,
        true,
        "Connection: close",
    )
    .await;
    values[ACCEPTED] = new_subscriptions(settings, &hub, sizes.new_subscriptions).await;
    drop(hub);
    values[IDLE_KIB] = idle(settings, kind, sizes.idle_subscribers).await;
    figures
}

fn print_round(round: usize, ours: &Figures, flask: &Figures) {
    println!("round {round}: ours / flask, and how many times better ours is");
    for (i, metric) in METRICS.iter().enumerate() {
        println!(
            "  {}: {} / {} = {:.1}x",
            metric.name,
            format_value(metric, ours.0[i]),
            format_value(metric, flask.0[i]),
            ratio(metric, ours.0[i], flask.0[i])
        );
    }
}

/// The summary, as a Markdown table: every round's figures and ratio, the
/// smallest ratio against the target.
fn print_summary(settings: &Settings, ours: &[Figures], flask: &[Figures]) {
    println!(
        "\nsummary ({} rounds, A B alternated; {} publishing clients, {} clients opening subscriptions, {} subscribers for publish→receive, {} for the fan-out):\n",
        ours.len(),
        settings.publish_connections,
        settings.new_clients,
        settings.latency_subscribers,
        settings.fanout_subscribers,
    );
    println!("| figure | mercure-hub | flask-mercure-sse | ours better by | target | verdict |");
    println!("|---|---|---|---|---|---|");
    for (i, metric) in METRICS.iter().enumerate() {
        let list = |figures: &[Figures]| {
            figures
                .iter()
                .map(|f| format_value(metric, f.0[i]))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ratios: Vec<f64> = ours
            .iter()
            .zip(flask)
            .map(|(o, f)| ratio(metric, o.0[i], f.0[i]))
            .collect();
        let least = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let verdict = match (settings.smoke, least >= metric.target) {
            (true, _) => "not judged (smoke run)",
            (false, true) => "met in every round",
            (false, false) if ratios.iter().any(|r| *r >= metric.target) => "met in some rounds",
            (false, false) => "MISSED",
        };
        let ratios = ratios
            .iter()
            .map(|r| format!("{r:.1}x"))
            .collect::<Vec<_>>()
            .join(", ");
        let target = if metric.higher_is_better {
            format!("≥ {:.0}x", metric.target)
        } else {
            format!("≥ {:.0}x lower", metric.target)
        };
        println!(
            "| {} | {} | {} | {ratios} | {target} | {verdict} |",
            metric.name,
            list(ours),
            list(flask)
        );
    }
}

/// Raises this process's open-files limit to the hard one (children
/// inherit it): the idle phase holds thousands of connections.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` does not: then
    // a small smoke version runs, so the benchmark code stays exercised.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let python = venv_python();
    if !python.exists() {
        let why = format!(
            "{} is missing: run scripts/setup to install flask-mercure-sse",
            python.display()
        );
        assert!(smoke, "{why}");
        println!("compare: skipped, {why}");
        return;
    }
    raise_open_files_limit();
    let settings = Settings::from_env(smoke);
    settings.pinning.pin_client();
    SOURCES.store(env("BENCH_SOURCES", 8).clamp(1, 250), Ordering::Relaxed);
    match (settings.pinning.hub, settings.pinning.client) {
        (Some(hub), Some(client)) => {
            println!("hubs pinned to core {hub}, this client to core {client}");
        }
        _ => println!("nothing pinned"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(if settings.pinning.client.is_some() {
            1
        } else {
            2
        })
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut ours = Vec::new();
        let mut flask = Vec::new();
        for round in 1..=settings.rounds {
            for kind in [Kind::Ours, Kind::Flask] {
                println!("round {round}, {}:", kind.name());
                let figures = run_hub(&settings, kind).await;
                match kind {
                    Kind::Ours => ours.push(figures),
                    Kind::Flask => flask.push(figures),
                }
            }
            print_round(round, &ours[round - 1], &flask[round - 1]);
        }
        print_summary(&settings, &ours, &flask);
    });
}
