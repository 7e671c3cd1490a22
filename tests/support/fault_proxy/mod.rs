//! A loopback TCP proxy that breaks connections on purpose: it listens on
//! `127.0.0.1:0`, forwards every connection to an upstream address, and
//! under a seeded generator cuts connections (reset or clean close) at a
//! random byte offset of the response, stalls them, delays and splits
//! what it writes; see [`Faults`].
//!
//! # Reproducing a run
//!
//! Every proxy prints its seed to stderr as it starts (shown by the test
//! harness when a test fails, or with `--nocapture`):
//!
//! ```text
//! fault proxy 127.0.0.1:41873 -> 127.0.0.1:40121, seed 1234567 (FAULT_PROXY_SEED=1234567 replays it)
//! ```
//!
//! Setting [`SEED_VAR`] (`FAULT_PROXY_SEED`) to that number gives every
//! proxy of the process that seed. Each connection draws its faults from
//! a generator seeded with the proxy's seed and the connection's index,
//! so the n-th connection gets the same cut, kind, stalls, delays and
//! pieces again. The operating system's timing is not replayed (how reads
//! group bytes into chunks, and so what a per-chunk fault applies to,
//! varies), so a failure that depends on it may need a few runs.
//!
//! # Bounds
//!
//! At most [`MAX_CONNECTIONS`] connections are served at once (more wait
//! to be accepted), each direction holds one buffer of 16 KiB, connecting
//! upstream is bounded by [`CONNECT_TIMEOUT`](crate::CONNECT_TIMEOUT), and
//! dropping the [`FaultProxy`] ends the listener and every connection's
//! task.

mod connection;
mod counts;
mod cut;
mod faults;
mod pipe;
mod plan;
mod seed;

pub use counts::FaultCounts;
pub use cut::CutKind;
pub use faults::Faults;
pub use seed::SEED_VAR;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use counts::Counters;
use plan::Plan;

/// The most connections a proxy serves at once.
pub const MAX_CONNECTIONS: usize = 256;

/// A running fault proxy; see the [module](self) documentation. Dropping
/// it closes the listener and every connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    seed: u64,
    faults: Arc<Mutex<Faults>>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` with `faults`, seeded from
    /// [`SEED_VAR`] or at random, and prints its seed.
    ///
    /// # Panics
    /// When `127.0.0.1:0` cannot be bound, or [`SEED_VAR`] is not a
    /// number.
    pub async fn start(upstream: SocketAddr, faults: Faults) -> Self {
        Self::start_seeded(upstream, faults, seed::choose()).await
    }

    /// Starts a proxy with this seed (whatever [`SEED_VAR`] says).
    ///
    /// # Panics
    /// When `127.0.0.1:0` cannot be bound.
    pub async fn start_seeded(upstream: SocketAddr, faults: Faults, seed: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        eprintln!("fault proxy {addr} -> {upstream}, seed {seed} ({SEED_VAR}={seed} replays it)");
        let faults = Arc::new(Mutex::new(faults));
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(accept(
            listener,
            upstream,
            seed,
            Arc::clone(&faults),
            Arc::clone(&counters),
        ));
        Self {
            addr,
            seed,
            faults,
            counters,
            task,
        }
    }

    /// Starts a proxy to the host and port of `url` (an `http://127.0.0.1:PORT/...` URL).
    ///
    /// # Panics
    /// When `url` names no IP address and port.
    pub async fn to_url(url: &str, faults: Faults) -> Self {
        Self::start(socket_addr(url), faults).await
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// `url` with its host and port replaced by the proxy's: the same
    /// resource, reached through the proxy.
    ///
    /// # Panics
    /// When `url` is not an absolute http(s) URL.
    pub fn url(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).expect("absolute URL");
        url.set_ip_host(self.addr.ip()).expect("http(s) URL");
        url.set_port(Some(self.addr.port())).expect("http(s) URL");
        url.into()
    }

    /// Applies `faults` to the connections accepted from now on
    /// (connections already open keep their plan).
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner) = faults;
    }

    /// What it did so far.
    pub fn counts(&self) -> FaultCounts {
        self.counters.snapshot()
    }

    /// Waits until it has cut `cuts` connections in all, polling every few
    /// milliseconds, for at most `timeout`; returns the counts then.
    ///
    /// # Panics
    /// When the cuts are not reached in time.
    pub async fn wait_cuts(&self, cuts: u64, timeout: Duration) -> FaultCounts {
        let deadline = Instant::now() + timeout;
        loop {
            let counts = self.counts();
            if counts.cuts >= cuts {
                return counts;
            }
            assert!(
                Instant::now() < deadline,
                "{cuts} cuts not reached within {timeout:?}: {counts:?} (seed {})",
                self.seed
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Aborting the accept task drops its `JoinSet`, which aborts every
        // connection's task.
        self.task.abort();
    }
}

/// The socket address of an `http://IP:PORT/...` URL.
fn socket_addr(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).expect("absolute URL");
    let host = url.host_str().expect("a host").trim_matches(['[', ']']);
    let port = url.port_or_known_default().expect("a port");
    SocketAddr::new(host.parse().expect("an IP address"), port)
}

/// Accepts connections and serves each in a task of its own, within
/// [`MAX_CONNECTIONS`].
async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    seed: u64,
    faults: Arc<Mutex<Faults>>,
    counters: Arc<Counters>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut tasks = JoinSet::new();
    let mut index: u64 = 0;
    loop {
        // Finished tasks are reaped as they end, so the set stays small.
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => permit,
            Some(_) = tasks.join_next() => continue,
        };
        let Ok(permit) = permit else { return };
        let client = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = tasks.join_next() => continue,
        };
        let Ok((client, _)) = client else {
            // Out of descriptors or a reset before accept: try again soon.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        counters.connection();
        let faults = faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let plan = Plan::draw(&faults, seed::for_connection(seed, index));
        index = index.wrapping_add(1);
        let counters = Arc::clone(&counters);
        tasks.spawn(async move {
            connection::serve(client, upstream, plan, &counters).await;
            drop(permit);
        });
    }
}
