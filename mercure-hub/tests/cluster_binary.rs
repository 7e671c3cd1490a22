//! Three `mercure-hub` binaries sharing one real `redis-server`
//! (`--transport redis://...?stream=KEY`): one cluster order on every
//! instance, subscribers of a SIGKILLed instance resuming on the others
//! with nothing lost, and a cut link to Redis (network namespaces) giving
//! 503s and losing nothing acknowledged.
//!
//! Needs `redis-server` (installed by `scripts/setup`); the cut-link test
//! needs iproute2 and the privilege to make network namespaces (it says it
//! did not run, and why, when `ip netns add` is refused; `CLUSTER_CUT_SECONDS`
//! sets the length of its cut, 5 s by default).
//!
//! Run with `cargo test -p mercure-hub --test cluster_binary -- --nocapture`.

#![cfg(feature = "redis")]

#[path = "support/netns.rs"]
mod netns;
#[path = "support/process.rs"]
mod process;
#[path = "support/redis.rs"]
mod redis_server;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use process::{Event, HubProcess, SseParser, TempDir};
use redis_server::RedisServer;
use tokio::sync::watch;

const TOPIC: &str = "https://example.com/cluster";
/// The data of the last update of a test: every stream is read up to it.
const END: &str = "end";
/// How long a stream may take to show what is expected.
const PATIENCE: Duration = Duration::from_secs(15);
/// The binary's append timeout (`RedisOptions::DEFAULT_APPEND_TIMEOUT`).
const APPEND_TIMEOUT: Duration = Duration::from_secs(2);

/// A stream key of this test run's own.
fn stream_key(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("mercure-test:{label}:{}:{nanos}", std::process::id())
}

/// A hub instance on the shared stream.
fn start_hub(dir: &TempDir, transport: &str) -> HubProcess {
    HubProcess::start(
        dir.path(),
        &["--transport", transport, "--anonymous", "--heartbeat", "0"],
    )
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// What a subscription received so far, and whether its stream ended.
#[derive(Default)]
struct Received {
    events: Vec<Event>,
    ended: bool,
}

/// A subscription read by a task of its own.
struct Subscriber {
    name: String,
    received: Arc<Mutex<Received>>,
    changed: watch::Receiver<u64>,
    /// The `Last-Event-ID` header of the response.
    resumed_from: Option<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    /// Subscribes to [`TOPIC`] on `hub_url` (with `Last-Event-ID: last`
    /// when given); returns once the response head arrived (the
    /// subscription is then registered: it gets every later update).
    async fn open(name: impl Into<String>, hub_url: &str, last: Option<&str>) -> Self {
        let name = name.into();
        let mut request = process::client().get(format!("{hub_url}?topic={}", encode(TOPIC)));
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        let response = tokio::time::timeout(PATIENCE, request.send())
            .await
            .unwrap_or_else(|_| panic!("{name}: the subscription was not answered in time"))
            .unwrap_or_else(|e| panic!("{name}: the subscription failed: {e}"));
        assert_eq!(response.status(), 200, "{name}: the subscription");
        let resumed_from = response
            .headers()
            .get("last-event-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let received = Arc::new(Mutex::new(Received::default()));
        let (notify, changed) = watch::channel(0u64);
        let task = tokio::spawn(read_into(response, Arc::clone(&received), notify));
        Self {
            name,
            received,
            changed,
            resumed_from,
            task,
        }
    }

    /// Subscribes to the whole history (`lastEventID=earliest`).
    async fn replay(name: impl Into<String>, hub_url: &str) -> Self {
        Self::open(name, hub_url, Some("earliest")).await
    }

    /// Waits (at most [`PATIENCE`]) until `done` holds for what was
    /// received.
    async fn wait_until(&mut self, what: &str, done: impl Fn(&Received) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            self.changed.borrow_and_update();
            {
                let received = self.received.lock().unwrap();
                if done(&received) {
                    return;
                }
                if received.ended {
                    panic!(
                        "{}: the stream ended before {what} ({} events received, the last {:?})",
                        self.name,
                        received.events.len(),
                        received.events.last()
                    );
                }
            }
            if tokio::time::timeout_at(deadline, self.changed.changed())
                .await
                .is_err()
            {
                let received = self.received.lock().unwrap();
                panic!(
                    "{}: not {what} within {PATIENCE:?} ({} events received, the last {:?})",
                    self.name,
                    received.events.len(),
                    received.events.last()
                );
            }
        }
    }

    /// Waits for the update [`END`]; returns every event received (the
    /// reading stops there).
    async fn until_end(mut self) -> Vec<Event> {
        self.wait_until("the final update", |r| {
            r.events.iter().any(|event| event.data == END)
        })
        .await;
        self.task.abort();
        std::mem::take(&mut self.received.lock().unwrap().events)
    }

    /// Waits for the stream to end (its hub was killed); returns every
    /// event received.
    async fn until_closed(mut self) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            self.changed.borrow_and_update();
            if self.received.lock().unwrap().ended {
                break;
            }
            tokio::time::timeout_at(deadline, self.changed.changed())
                .await
                .unwrap_or_else(|_| panic!("{}: the stream did not end", self.name))
                .ok();
        }
        std::mem::take(&mut self.received.lock().unwrap().events)
    }
}

/// Reads the stream until it ends, appending events.
async fn read_into(
    mut response: reqwest::Response,
    received: Arc<Mutex<Received>>,
    notify: watch::Sender<u64>,
) {
    let mut parser = SseParser::default();
    while let Ok(Some(chunk)) = response.chunk().await {
        let events = parser.feed(&chunk);
        if !events.is_empty() {
            received.lock().unwrap().events.extend(events);
            notify.send_modify(|n| *n += 1);
        }
    }
    received.lock().unwrap().ended = true;
    notify.send_modify(|n| *n += 1);
}

/// Publishes `data` to [`TOPIC`] on `hub_url`: the status and body (the
/// id when 200), or the error of a failed request.
async fn publish(
    client: &reqwest::Client,
    hub_url: &str,
    data: &str,
) -> Result<(u16, String), String> {
    publish_as(client, hub_url, None, data).await
}

/// [`publish`], with the update's `id` when given (else the hub makes one).
async fn publish_as(
    client: &reqwest::Client,
    hub_url: &str,
    id: Option<&str>,
    data: &str,
) -> Result<(u16, String), String> {
    let mut form = vec![("topic", TOPIC), ("data", data)];
    if let Some(id) = id {
        form.push(("id", id));
    }
    let sent = async {
        let response = client
            .post(hub_url)
            .bearer_auth(process::publisher_token())
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| format!("{e:?}"))?;
        Ok((status, body))
    };
    tokio::time::timeout(PATIENCE, sent)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {PATIENCE:?}")))
}

/// Publishes `data`; panics unless it is acknowledged (200). Returns the id.
async fn publish_ok(client: &reqwest::Client, hub_url: &str, data: &str) -> String {
    match publish(client, hub_url, data).await {
        Ok((200, id)) if !id.is_empty() => id,
        other => panic!("publishing {data:?} on {hub_url}: {other:?}"),
    }
}

fn ids(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|event| event.id.clone().expect("an event without an id"))
        .collect()
}

/// Panics if an id appears twice.
fn assert_unique(what: &str, events: &[Event]) {
    let mut seen = HashSet::new();
    for event in events {
        assert!(
            seen.insert(event.id.clone()),
            "{what} received {event:?} twice"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_deliver_every_update_once_in_one_order() {
    let started = Instant::now();
    let redis = RedisServer::start();
    let transport = format!("{}?stream={}", redis.url(), stream_key("order"));
    let dir = TempDir::new("mercure-cluster-order");
    let hubs: Vec<HubProcess> = (0..3).map(|_| start_hub(&dir, &transport)).collect();
    let names = ["A", "B", "C"];

    // Two live subscribers on each instance.
    let mut subscribers = Vec::new();
    for (hub, name) in hubs.iter().zip(names) {
        for n in 0..2 {
            subscribers
                .push(Subscriber::open(format!("subscriber {name}{n}"), &hub.url, None).await);
        }
    }

    // Three concurrent publishers, each one update at a time, its k-th
    // update on instance (lane + k) % 3: every instance appends from
    // three connections at once.
    const LANES: usize = 3;
    const PER_LANE: usize = 100;
    let urls: Arc<Vec<String>> = Arc::new(hubs.iter().map(|hub| hub.url.clone()).collect());
    let lanes: Vec<_> = (0..LANES)
        .map(|lane| {
            let urls = Arc::clone(&urls);
            tokio::spawn(async move {
                let client = process::client();
                let mut acked = Vec::with_capacity(PER_LANE);
                for k in 0..PER_LANE {
                    let url = &urls[(lane + k) % urls.len()];
                    let data = format!("{lane}-{k}");
                    acked.push((publish_ok(&client, url, &data).await, data));
                }
                acked
            })
        })
        .collect();
    // id -> data, and each lane's ids in the order it published them.
    let mut data_of = HashMap::new();
    let mut lane_orders = Vec::new();
    for lane in lanes {
        let acked = lane.await.unwrap();
        lane_orders.push(acked.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>());
        data_of.extend(acked);
    }
    let published = started.elapsed();
    let end_id = publish_ok(&process::client(), &hubs[0].url, END).await;
    data_of.insert(end_id.clone(), END.to_owned());
    assert_eq!(data_of.len(), LANES * PER_LANE + 1, "ids were given twice");

    let mut streams = Vec::new();
    for subscriber in subscribers {
        let name = subscriber.name.clone();
        streams.push((name, subscriber.until_end().await));
    }
    // The whole history, replayed by each instance.
    for (hub, name) in hubs.iter().zip(names) {
        let replay = Subscriber::replay(format!("replay on {name}"), &hub.url).await;
        streams.push((format!("replay on {name}"), replay.until_end().await));
    }

    let (reference_name, reference) = &streams[0];
    let reference_ids = ids(reference);
    for (name, events) in &streams {
        assert_unique(name, events);
        for event in events {
            let id = event.id.as_deref().unwrap();
            assert_eq!(
                data_of.get(id).map(String::as_str),
                Some(event.data.as_str()),
                "{name}: event {id} was not published with this data"
            );
        }
        assert_eq!(
            events.len(),
            data_of.len(),
            "{name}: {} events received, {} published",
            events.len(),
            data_of.len()
        );
        assert!(
            ids(events) == reference_ids,
            "{name} received the updates in another order than {reference_name}:\n{:?}\n{:?}",
            ids(events),
            reference_ids
        );
    }
    // One order that keeps each publisher's own order.
    let position: HashMap<&str, usize> = reference_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    for (lane, order) in lane_orders.iter().enumerate() {
        assert!(
            order
                .windows(2)
                .all(|w| position[w[0].as_str()] < position[w[1].as_str()]),
            "publisher {lane}'s updates are out of its order"
        );
    }
    assert_eq!(reference_ids.last(), Some(&end_id));
    eprintln!(
        "cluster order: {} updates published by {LANES} concurrent publishers alternating over 3 \
         instances in {published:.2?}; 6 live subscribers (2 per instance) and 3 replays got each \
         once in the same order; took {:.2?}",
        LANES * PER_LANE,
        started.elapsed()
    );
}

/// One publisher publishing on `url`, one update at a time, until told to
/// stop; every publish must be acknowledged.
struct Stream {
    stop: Arc<AtomicBool>,
    acked: watch::Receiver<Vec<(String, String)>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stream {
    fn start(url: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (sender, acked) = watch::channel(Vec::new());
        let task = tokio::spawn({
            let stop = Arc::clone(&stop);
            async move {
                let client = process::client();
                let mut seq = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    seq += 1;
                    let data = seq.to_string();
                    let id = publish_ok(&client, &url, &data).await;
                    sender.send_modify(|acked| acked.push((id, data)));
                }
            }
        });
        Self { stop, acked, task }
    }

    /// Waits until `count` publishes were acknowledged.
    async fn until_acked(&mut self, count: usize) {
        tokio::time::timeout(PATIENCE, self.acked.wait_for(|acked| acked.len() >= count))
            .await
            .unwrap_or_else(|_| panic!("{count} publishes were not acknowledged in time"))
            .expect("the publisher stopped");
    }

    fn acked_count(&self) -> usize {
        self.acked.borrow().len()
    }

    /// Stops; returns every (id, data) acknowledged, in order.
    async fn stop(self) -> Vec<(String, String)> {
        self.stop.store(true, Ordering::SeqCst);
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the publisher did not stop")
            .expect("a publish failed");
        self.acked.borrow().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_its_subscribers_resume_on_another_with_nothing_lost() {
    let started = Instant::now();
    let redis = RedisServer::start();
    let transport = format!("{}?stream={}", redis.url(), stream_key("resume"));
    let dir = TempDir::new("mercure-cluster-resume");
    let mut a = start_hub(&dir, &transport);
    let b = start_hub(&dir, &transport);
    let c = start_hub(&dir, &transport);

    // Always connected, on C: the reference.
    let reference = Subscriber::open("the reference on C", &c.url, None).await;
    const ON_A: usize = 4;
    let mut on_a = Vec::new();
    for n in 0..ON_A {
        on_a.push(Subscriber::open(format!("subscriber {n} on A"), &a.url, None).await);
    }

    let mut stream = Stream::start(b.url.clone());
    for subscriber in &mut on_a {
        subscriber
            .wait_until("20 updates", |r| r.events.len() >= 20)
            .await;
    }
    let acked_at_kill = stream.acked_count();
    let pid = a.pid();
    a.kill(); // SIGKILL, by PID.
    let mut before_kill = Vec::new();
    for subscriber in on_a {
        let name = subscriber.name.clone();
        before_kill.push((name, subscriber.until_closed().await));
    }
    // Publishes go on while they are away.
    stream.until_acked(acked_at_kill + 50).await;
    let mut resumed = Vec::new();
    for (n, (name, events)) in before_kill.iter().enumerate() {
        let (hub, hub_name) = if n % 2 == 0 { (&b, "B") } else { (&c, "C") };
        let last = events
            .last()
            .and_then(|e| e.id.clone())
            .expect("events before the kill");
        let subscriber = Subscriber::open(
            format!("{name}, resumed on {hub_name}"),
            &hub.url,
            Some(&last),
        )
        .await;
        assert_eq!(
            subscriber.resumed_from.as_deref(),
            Some(last.as_str()),
            "{}: the hub did not resume after the subscriber's last event id",
            subscriber.name
        );
        resumed.push(subscriber);
    }
    // And go on after they are back.
    let at_return = stream.acked_count();
    stream.until_acked(at_return + 50).await;
    let acked = stream.stop().await;
    let end_id = publish_ok(&process::client(), &c.url, END).await;

    let reference = reference.until_end().await;
    let replay = Subscriber::replay("a replay on B", &b.url)
        .await
        .until_end()
        .await;
    let mut expected: Vec<String> = acked.iter().map(|(id, _)| id.clone()).collect();
    expected.push(end_id);
    assert_unique("the reference", &reference);
    assert!(
        ids(&reference) == expected,
        "the reference subscriber on C did not receive every acknowledged update once, in \
         publishing order:\nreceived {:?}\nacknowledged {expected:?}",
        ids(&reference)
    );
    assert!(
        ids(&replay) == expected,
        "the history differs from the reference"
    );
    let mut missed_counts = Vec::new();
    for ((name, before), subscriber) in before_kill.into_iter().zip(resumed) {
        let after = subscriber.until_end().await;
        let held = before.len();
        // What it missed: everything after its last event, up to the end.
        let missed = &expected[held..];
        missed_counts.push(missed.len() - 1);
        assert!(
            ids(&before) == expected[..held],
            "{name}: before the kill it received {:?}, not the first {held} updates",
            ids(&before)
        );
        assert!(
            ids(&after) == missed,
            "{name}: resumed after {:?}, it received {:?}, not exactly what it missed: {missed:?}",
            before.last(),
            ids(&after)
        );
    }
    eprintln!(
        "resume: instance A (pid {pid}) SIGKILLed after {acked_at_kill} acknowledged updates \
         (published on B); its {ON_A} subscribers resumed on B and C with their Last-Event-ID \
         and got exactly the {missed_counts:?} updates they missed (of {} acknowledged), the \
         same as an always-connected subscriber on C and the history; took {:.2?}",
        acked.len(),
        started.elapsed()
    );
}

/// One publish of the cut-link test.
#[derive(Debug)]
struct Attempt {
    seq: u64,
    /// Whether it repeated a refused publish (same id and data).
    retry: bool,
    /// The id when acknowledged, or the status / error.
    outcome: Result<String, String>,
    sent: Instant,
    answered: Instant,
}

/// The id the publisher gives its update `seq`: odd ones only (the hub
/// makes the others').
fn cut_id(seq: u64) -> Option<String> {
    (seq % 2 == 1).then(|| format!("urn:mercure-test:cut:{seq}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_to_redis_gives_503_and_loses_nothing_acknowledged() {
    let started = Instant::now();
    let redis = match netns::NetnsRedis::start() {
        Ok(redis) => redis,
        Err(reason) => {
            let message = format!(
                "NOT RUN: a_cut_link_to_redis_gives_503_and_loses_nothing_acknowledged needs \
                 network namespaces: {reason}. Nothing was checked."
            );
            // Straight to the standard error, past the test harness's
            // capture: seen without --nocapture too.
            let _ = writeln!(std::io::stderr(), "{message}");
            return;
        }
    };
    let transport = format!("{}?stream={}", redis.url(), stream_key("cut"));
    let dir = TempDir::new("mercure-cluster-cut");
    let hub = HubProcess::start(
        dir.path(),
        &[
            "--transport",
            &transport,
            "--anonymous",
            "--heartbeat",
            "0",
            "--metrics",
        ],
    );
    let mut live = Subscriber::open("the live subscriber", &hub.url, None).await;
    let client = process::client();
    // One publish at a time. The publisher gives the odd updates their
    // ids, so that it can retry them when refused (a retry with the same
    // id and data is acknowledged without a duplicate); the hub makes the
    // even ones' (a refused one is not retried: it may have been stored
    // all the same, then once).
    let publish_seq = async |seq: u64, retry: bool| {
        let sent = Instant::now();
        let id = cut_id(seq);
        let data = seq.to_string();
        let outcome = match publish_as(&client, &hub.url, id.as_deref(), &data).await {
            Ok((200, given)) if !given.is_empty() && id.as_ref().is_none_or(|id| *id == given) => {
                Ok(given)
            }
            Ok((status, body)) => Err(format!("{status} {body}")),
            Err(error) => Err(error),
        };
        Attempt {
            seq,
            retry,
            outcome,
            sent,
            answered: Instant::now(),
        }
    };
    let mut next = 0u64;
    let mut new_seq = || {
        next += 1;
        next
    };

    // Before the cut: acknowledged.
    const BEFORE: usize = 30;
    let mut before = Vec::new();
    for _ in 0..BEFORE {
        let done = publish_seq(new_seq(), false).await;
        assert!(done.outcome.is_ok(), "before the cut: {done:?}");
        before.push(done);
    }
    live.wait_until("the updates published before the cut", |r| {
        r.events.len() >= BEFORE
    })
    .await;

    // The cut, for 5 s (CLUSTER_CUT_SECONDS: another length, to
    // explore); publishes go on, one at a time.
    let cut_for = Duration::from_secs(
        std::env::var("CLUSTER_CUT_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    redis.cut();
    let cut_at = Instant::now();
    let restored: Arc<Mutex<Option<Instant>>> = Arc::default();
    let redis = Arc::new(redis);
    let restorer = tokio::task::spawn_blocking({
        let redis = Arc::clone(&redis);
        let restored = Arc::clone(&restored);
        move || {
            std::thread::sleep(cut_for);
            // Noted before the link is up: a publish answered before it
            // was answered during the cut.
            *restored.lock().unwrap() = Some(Instant::now());
            redis.restore();
            Instant::now()
        }
    });
    let mut during = Vec::new();
    while restored.lock().unwrap().is_none() {
        during.push(publish_seq(new_seq(), false).await);
    }
    let restore_at = restored.lock().unwrap().unwrap();
    let reachable_at = restorer.await.unwrap();

    // After: new publishes until one is acknowledged (the one straddling
    // the restore may have been), then every refused one that has its
    // own id again, then new ones: all acknowledged.
    let mut first_ok = during
        .last()
        .filter(|a| a.outcome.is_ok())
        .map(|a| a.answered);
    let mut after = Vec::new();
    // (Longer for a longer cut: the hub's connection to Redis comes back
    // when the kernel retransmits on it, later the longer it was down.)
    let patience = Duration::from_secs(15).max(cut_for * 3);
    while first_ok.is_none() {
        assert!(
            reachable_at.elapsed() < patience,
            "no publish was acknowledged within {patience:?} of the link coming back: {after:?}"
        );
        let done = publish_seq(new_seq(), false).await;
        if done.outcome.is_ok() {
            first_ok = Some(done.answered);
        }
        after.push(done);
    }
    let refused: Vec<u64> = during
        .iter()
        .chain(&after)
        .filter(|a| a.outcome.is_err())
        .map(|a| a.seq)
        .collect();
    let retried: Vec<u64> = refused
        .iter()
        .copied()
        .filter(|seq| cut_id(*seq).is_some())
        .collect();
    for &seq in &retried {
        let done = publish_seq(seq, true).await;
        assert!(
            done.outcome.is_ok(),
            "retrying the refused update {seq} after the link came back: {done:?}"
        );
        after.push(done);
    }
    const AFTER: usize = 30;
    for _ in 0..AFTER {
        let done = publish_seq(new_seq(), false).await;
        assert!(
            done.outcome.is_ok(),
            "after the link came back and a publish was acknowledged: {done:?}"
        );
        after.push(done);
    }
    let end_id = publish_ok(&client, &hub.url, END).await;
    let published = next;

    // During the cut: 503 within the append timeout (and a margin). (The
    // first is sent as the link goes down: refused within them, it is
    // answered during the cut.)
    let cut_answered: Vec<&Attempt> = during.iter().filter(|a| a.answered < restore_at).collect();
    assert!(
        !cut_answered.is_empty(),
        "no publish was answered during the {cut_for:?} cut: {during:?}"
    );
    let margin = Duration::from_millis(1500);
    for done in &cut_answered {
        let took = done.answered - done.sent;
        assert!(
            done.outcome.as_ref().is_err_and(|e| e.starts_with("503")),
            "a publish answered while the link to Redis was cut was not a 503: {done:?}"
        );
        assert!(
            took <= APPEND_TIMEOUT + margin,
            "a publish during the cut took {took:?} to be refused (append timeout {APPEND_TIMEOUT:?})"
        );
    }
    let slowest_503 = cut_answered
        .iter()
        .map(|a| a.answered - a.sent)
        .max()
        .unwrap_or_default();
    for done in during.iter().chain(&after) {
        if let Err(error) = &done.outcome {
            assert!(
                error.starts_with("503"),
                "a publish failed with {error}, not 503: {done:?}"
            );
        }
    }

    // Every acknowledged update (a refused one with its own id was, by
    // its retry) is in history once, in acknowledgement order (an update
    // acknowledged before another was first sent comes before it), and
    // was delivered live in the same order; a refused one the hub named
    // may be there too, once.
    let all: Vec<&Attempt> = before.iter().chain(&during).chain(&after).collect();
    let first_sent: HashMap<u64, Instant> = all
        .iter()
        .filter(|a| !a.retry)
        .map(|a| (a.seq, a.sent))
        .collect();
    let acked: HashMap<u64, (&str, Instant)> = all
        .iter()
        .filter_map(|a| Some((a.seq, (a.outcome.as_deref().ok()?, a.answered))))
        .collect();
    let unacked: HashSet<u64> = (1..=published)
        .filter(|seq| !acked.contains_key(seq))
        .collect();
    assert!(
        unacked.iter().all(|seq| cut_id(*seq).is_none()),
        "an update with its own id was never acknowledged: {unacked:?}"
    );
    let history = Subscriber::replay("the history", &hub.url)
        .await
        .until_end()
        .await;
    let delivered = live.until_end().await;
    let check = |what: &str, events: &[Event]| -> Vec<u64> {
        assert_unique(what, events);
        assert_eq!(
            events.last().and_then(|e| e.id.as_deref()),
            Some(end_id.as_str()),
            "{what}: the final update is not last"
        );
        let mut seqs = Vec::new();
        let mut held = HashSet::new();
        for event in &events[..events.len() - 1] {
            let seq: u64 = event
                .data
                .parse()
                .unwrap_or_else(|_| panic!("{what}: {event:?}"));
            assert!(held.insert(seq), "{what} holds update {seq} twice");
            match acked.get(&seq) {
                Some((id, _)) => {
                    assert_eq!(event.id.as_deref(), Some(*id), "{what}: update {seq}'s id");
                }
                None => assert!(
                    unacked.contains(&seq),
                    "{what} holds update {seq}, never published"
                ),
            }
            seqs.push(seq);
        }
        let mut missing: Vec<u64> = acked
            .keys()
            .copied()
            .filter(|seq| !held.contains(seq))
            .collect();
        missing.sort_unstable();
        assert!(
            missing.is_empty(),
            "{what} lacks the acknowledged updates {missing:?}"
        );
        // From the end: the earliest acknowledgement among later updates.
        let mut earliest_later_ack: Option<(Instant, u64)> = None;
        for &seq in seqs.iter().rev() {
            if let Some((at, later)) = earliest_later_ack {
                assert!(
                    at >= first_sent[&seq],
                    "{what} is out of order: update {later} comes after update {seq} but was \
                     acknowledged before {seq} was sent: {seqs:?}"
                );
            }
            if let Some((_, acked_at)) = acked.get(&seq)
                && earliest_later_ack.is_none_or(|(at, _)| *acked_at < at)
            {
                earliest_later_ack = Some((*acked_at, seq));
            }
        }
        seqs
    };
    let history_order = check("the history", &history);
    let live_order = check("the live subscriber", &delivered);
    assert!(
        history_order == live_order,
        "the live subscriber's order differs from the history's:\n{live_order:?}\n{history_order:?}"
    );
    let stored_unacked: Vec<u64> = history_order
        .iter()
        .copied()
        .filter(|seq| unacked.contains(seq))
        .collect();
    // How many retries found their refused update stored (it reached
    // Redis when the link came back).
    let metrics = process::client()
        .get(format!("http://{}/metrics", hub.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let deduplicated = metrics
        .lines()
        .find_map(|line| line.strip_prefix("mercure_updates_deduplicated_total "))
        .map_or_else(|| "?".to_owned(), |n| n.trim().to_owned());

    let recovery = first_ok.unwrap().saturating_duration_since(reachable_at);
    let at = |instant: Instant| instant.saturating_duration_since(cut_at).as_secs_f64();
    let timeline: Vec<String> = during
        .iter()
        .chain(after.iter().take_while(|a| a.outcome.is_err()))
        .chain(after.iter().find(|a| a.outcome.is_ok()))
        .map(|a| {
            let outcome = match &a.outcome {
                Ok(_) => "200".to_owned(),
                Err(error) => error.chars().take(3).collect(),
            };
            let named = if cut_id(a.seq).is_some() {
                "own id"
            } else {
                "hub's id"
            };
            format!(
                "#{} ({named}) sent {:+.2} s answered {:+.2} s: {outcome}",
                a.seq,
                at(a.sent),
                at(a.answered)
            )
        })
        .collect();
    let refused_after = during
        .iter()
        .chain(&after)
        .filter(|a| a.outcome.is_err() && a.answered >= restore_at)
        .count();
    eprintln!(
        "cut link: Redis in network namespace {} behind veth {}; {BEFORE} publishes \
         acknowledged, link down {:.2?}: {} publishes answered during the cut, all 503 (slowest \
         in {slowest_503:.2?}); link up, Redis reachable {:.0?} later; first publish \
         acknowledged {recovery:.2?} after that ({refused_after} more 503s after the link came \
         back); of the {} refused, the {} with their own ids retried: all acknowledged, \
         {deduplicated} of them found already stored; of the {} named by the hub (not retried) \
         {stored_unacked:?} stored all the same; then {AFTER} more acknowledged; history and the \
         live subscriber: the {} acknowledged updates once each, in acknowledgement order; took \
         {:.2?}\n  timeline from the cut: {}",
        redis.namespace(),
        redis.host_link(),
        restore_at - cut_at,
        cut_answered.len(),
        reachable_at - restore_at,
        refused.len(),
        retried.len(),
        unacked.len(),
        acked.len(),
        started.elapsed(),
        timeline.join("; "),
    );
}
