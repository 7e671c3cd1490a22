//! Replaying a 100 MB history to subscribers that never read keeps the
//! hub's memory bounded: each stalled subscriber holds at most one page of
//! history (256 KiB, or one larger event) besides its socket buffers, not
//! the history it has yet to send (the previous design grew by about the
//! size of the history, ~95 MB, per subscriber).
//!
//! Both histories are measured: a file (`--history h.redb`) and memory
//! (`--history memory`, whose 256 MiB default byte bound holds the
//! 100 MB). The resident set size (`VmRSS`) of the hub process is read
//! from /proc after publishing (the baseline) and while five subscribers
//! replaying `lastEventID=earliest` are stalled.

#[path = "support/process.rs"]
mod process;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use process::{HubProcess, SseParser, TempDir};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const TOPIC: &str = "https://example.com/big";
/// Updates published, and the size of each one's data.
const UPDATES: usize = 200;
const DATA_BYTES: usize = 500 * 1000;
/// Publishes in flight at once (the file history commits them together).
const PUBLISHERS: usize = 8;
/// Subscribers that never read.
const STALLED: usize = 5;
/// The receive buffer asked for each of them.
const RECEIVE_BUFFER: usize = 4096;
/// How much the hub's RSS may grow with the stalled subscribers: one page
/// (here one 500 KB event, copied once into the chunk being written) and
/// socket-side buffers each, plus room for the allocator and, for the
/// file, redb's page cache (bounded for the whole hub, 64 MiB by default,
/// already filled by the writes).
const GROWTH_BOUND_MIB: u64 = 40;
/// How long the stalled subscribers are watched.
const WATCH: Duration = Duration::from_secs(5);

/// The hubs of these tests are measured one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_subscribers_replaying_a_100_mb_history_file_keep_rss_bounded() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new("mercure-replay-memory");
    let file = dir.path().join("h.redb");
    let file = file.to_str().unwrap();
    scenario(
        "file",
        &dir,
        &[
            "--history",
            file,
            "--history-size",
            "1000",
            "--max-body",
            "1048576",
            "--anonymous",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_subscribers_replaying_a_100_mb_history_in_memory_keep_rss_bounded() {
    let _serial = SERIAL.lock().await;
    let dir = TempDir::new("mercure-replay-memory");
    scenario(
        "memory",
        &dir,
        &[
            "--history",
            "memory",
            "--history-size",
            "1000",
            "--max-body",
            "1048576",
            "--anonymous",
        ],
    )
    .await;
}

async fn scenario(history: &str, dir: &TempDir, args: &[&str]) {
    let started = Instant::now();
    let hub = HubProcess::start(dir.path(), args);
    let addr: SocketAddr = hub.addr.parse().unwrap();
    let token = Arc::new(process::publisher_token());
    let client = process::client();
    let idle_rss = hub.rss_kib();

    // About 100 MB of history.
    let publishing = Instant::now();
    let mut lanes = Vec::new();
    for lane in 0..PUBLISHERS {
        let (client, url, token) = (client.clone(), hub.url.clone(), Arc::clone(&token));
        lanes.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in (lane..UPDATES).step_by(PUBLISHERS) {
                let data = big_data(n);
                let response = client
                    .post(&url)
                    .bearer_auth(token.as_str())
                    .form(&[("topic", TOPIC), ("data", data.as_str())])
                    .timeout(Duration::from_secs(60))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("publishing update {n} failed: {e}"));
                let status = response.status();
                let body = response.text().await.unwrap();
                assert_eq!(status, 200, "publishing update {n}: {body}");
                ids.push(body);
            }
            ids
        }));
    }
    let mut published = HashSet::new();
    for lane in lanes {
        published.extend(lane.await.unwrap());
    }
    assert_eq!(published.len(), UPDATES, "ids are not unique");
    let publish_time = publishing.elapsed();
    let history_mb = (UPDATES * DATA_BYTES) as f64 / 1e6;

    // The baseline: the lowest of a few samples once publishing settled.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = sample(&hub, 4, Duration::from_millis(250)).await;
    let baseline = *baseline.iter().min().unwrap();

    // Subscribers replaying everything, never reading, small buffers.
    let request = format!(
        "GET /.well-known/mercure?topic={}&lastEventID=earliest HTTP/1.1\r\nHost: {addr}\r\n\
         Accept: text/event-stream\r\n\r\n",
        encode(TOPIC)
    );
    let mut stalled: Vec<TcpStream> = (0..STALLED)
        .map(|_| {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
            socket.set_recv_buffer_size(RECEIVE_BUFFER).unwrap();
            socket
                .connect_timeout(&SockAddr::from(addr), Duration::from_secs(5))
                .unwrap();
            let mut stream = TcpStream::from(socket);
            stream.write_all(request.as_bytes()).unwrap();
            stream
        })
        .collect();
    let samples = sample(&hub, 20, WATCH / 20).await;
    let peak = *samples.iter().max().unwrap();
    let growth = peak.saturating_sub(baseline);
    let mib = |kib: u64| kib as f64 / 1024.0;
    eprintln!(
        "replay_memory ({history} history): {UPDATES} updates of {DATA_BYTES} bytes \
         ({history_mb:.0} MB) published in {publish_time:.1?}; hub RSS idle {:.1} MiB, after \
         publishing {:.1} MiB (baseline), with {STALLED} stalled subscribers replaying from \
         earliest: peak {:.1} MiB, growth {:.1} MiB ({:.1} MiB per subscriber; bound \
         {GROWTH_BOUND_MIB} MiB in all); samples (MiB): {:?}",
        mib(idle_rss),
        mib(baseline),
        mib(peak),
        mib(growth),
        mib(growth) / STALLED as f64,
        samples
            .iter()
            .map(|&kib| (mib(kib) * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
    );
    assert!(
        growth < GROWTH_BOUND_MIB * 1024,
        "{history} history: the hub's RSS grew by {:.1} MiB with {STALLED} stalled \
         subscribers (bound {GROWTH_BOUND_MIB} MiB; baseline {:.1} MiB, peak {:.1} MiB)",
        mib(growth),
        mib(baseline),
        mib(peak)
    );

    // The hub still serves: a fresh subscriber gets a new update.
    let fresh = client
        .get(format!("{}?topic={}", hub.url, encode(TOPIC)))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200, "a fresh subscription");
    let response = client
        .post(&hub.url)
        .bearer_auth(token.as_str())
        .form(&[("topic", TOPIC), ("data", "still serving")])
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "a publish beside the stalled replays"
    );
    let id = response.text().await.unwrap();
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        let mut fresh = fresh;
        let mut parser = SseParser::default();
        loop {
            let chunk = fresh.chunk().await.unwrap().expect("the stream ended");
            if let Some(event) = parser.feed(&chunk).into_iter().next() {
                return event;
            }
        }
    })
    .await
    .expect("the fresh subscriber got nothing within 10 s");
    assert_eq!(received.id.as_deref(), Some(id.as_str()));
    assert_eq!(received.data, "still serving");

    // A stalled subscriber that starts reading gets the whole history,
    // then the new update.
    let mut draining = stalled.pop().unwrap();
    let last = id.clone();
    let drained = tokio::task::spawn_blocking(move || drain(&mut draining, &last))
        .await
        .unwrap();
    let drained_ids: HashSet<&String> = drained.iter().take(UPDATES).collect();
    assert_eq!(
        drained.len(),
        UPDATES + 1,
        "a stalled subscriber got {} events once it read",
        drained.len()
    );
    assert!(
        drained_ids == published.iter().collect(),
        "a stalled subscriber did not get the history it asked for"
    );
    // The others were answered, too.
    for stream in &mut stalled {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = [0; 15];
        stream.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 200 OK", "a stalled subscription");
    }
    eprintln!(
        "replay_memory ({history} history): a stalled subscriber, once reading, got the {UPDATES} \
         updates and the new one; the hub served a publish and a fresh subscriber meanwhile; \
         took {:.1?}",
        started.elapsed()
    );
}

/// The data of update `n`: its number, then letters (nothing to encode).
fn big_data(n: usize) -> String {
    let mut data = format!("{n:05}:");
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    while data.len() < DATA_BYTES {
        data.push(letters[(data.len() + n) % letters.len()] as char);
    }
    data
}

/// `count` samples of the hub's RSS (KiB), `every` apart.
async fn sample(hub: &HubProcess, count: usize, every: Duration) -> Vec<u64> {
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        if i > 0 {
            tokio::time::sleep(every).await;
        }
        samples.push(hub.rss_kib());
    }
    samples
}

/// Reads a subscription's response (chunked) until the event `last`;
/// returns the ids of its events.
fn drain(stream: &mut TcpStream, last: &str) -> Vec<String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut head = Vec::new();
    let mut body = ChunkedBody::default();
    let mut parser = SseParser::default();
    let mut ids = Vec::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        assert!(
            Instant::now() < deadline,
            "draining a stalled subscriber took too long"
        );
        let n = stream
            .read(&mut buffer)
            .expect("reading a stalled subscription");
        assert!(
            n > 0,
            "a stalled subscription ended after {} events",
            ids.len()
        );
        let mut bytes = &buffer[..n];
        if !body.started {
            head.extend_from_slice(bytes);
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let text = String::from_utf8_lossy(&head[..end]).into_owned();
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
            assert!(
                text.to_ascii_lowercase()
                    .contains("transfer-encoding: chunked"),
                "{text}"
            );
            body.started = true;
            let rest = head.split_off(end + 4);
            body.feed(&rest);
            bytes = &[];
        }
        body.feed(bytes);
        for event in parser.feed(&std::mem::take(&mut body.decoded)) {
            let id = event.id.expect("an event without an id");
            let done = id == last;
            ids.push(id);
            if done {
                return ids;
            }
        }
    }
}

/// A `transfer-encoding: chunked` body, decoded as it comes.
#[derive(Default)]
struct ChunkedBody {
    started: bool,
    pending: Vec<u8>,
    /// Bytes left of the current chunk.
    left: usize,
    /// The CRLF after a chunk is still to come.
    trailer: bool,
    decoded: Vec<u8>,
}

impl ChunkedBody {
    fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        loop {
            let rest = &self.pending[at..];
            if self.left > 0 {
                let take = self.left.min(rest.len());
                if take == 0 {
                    break;
                }
                self.decoded.extend_from_slice(&rest[..take]);
                self.left -= take;
                at += take;
                self.trailer = self.left == 0;
            } else if self.trailer {
                if rest.len() < 2 {
                    break;
                }
                assert_eq!(&rest[..2], b"\r\n", "a malformed chunk");
                at += 2;
                self.trailer = false;
            } else {
                let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
                    break;
                };
                let line = std::str::from_utf8(&rest[..end]).unwrap();
                let size = line.split(';').next().unwrap().trim();
                self.left = usize::from_str_radix(size, 16)
                    .unwrap_or_else(|_| panic!("a malformed chunk size {line:?}"));
                assert!(self.left > 0, "the subscription's body ended");
                at += end + 2;
            }
        }
        self.pending.drain(..at);
    }
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
