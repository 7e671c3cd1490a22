//! Several hubs sharing one Redis (`RedisTransport`), in-process, against
//! a real `redis-server` (installed by `scripts/setup`): one cluster-wide
//! order, resuming on another instance, privacy across instances, a Redis
//! crash and restart under publishing load, and the transport's history
//! semantics.
//!
//! Cluster-wide operations: presence (every instance lists the
//! subscribers of every instance, a crashed instance's expire) and
//! commands (a permission change or a close issued on one instance
//! reaches the subscribers of the others).
//!
//! Run with `cargo test -p mercure-hub --features redis --test redis_cluster`.

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;
mod support;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mercure_core::ProtocolVersion;
use mercure_core::token::Grants;
use mercure_core::{TopicSelector, Update};
use mercure_hub::{
    Cursor, EmbeddedHub, Error, Event, Feed, HubConfig, Page, PrivateAccess, RedisOptions,
    RedisTransport, SubscribeRequest, Subscription, SubscriptionInfo, Transport,
};
use redis_server::{RedisServer, RedisServerOptions};
use serde_json::{Value, json};

const TOPIC_A: &str = "https://example.com/a";
const TOPIC_B: &str = "https://example.com/b";
/// How long a stream may stay silent before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

async fn connect(server: &RedisServer, options: RedisOptions) -> RedisTransport {
    RedisTransport::connect(&server.url(), options)
        .await
        .expect("connected to the test Redis")
}

async fn hub_with(server: &RedisServer, options: RedisOptions) -> EmbeddedHub {
    let transport = connect(server, options).await;
    EmbeddedHub::new(
        HubConfig::builder()
            .transport(Arc::new(transport))
            .queue_capacity(100_000)
            .build()
            .unwrap(),
    )
}

async fn hubs(server: &RedisServer, count: usize) -> Vec<EmbeddedHub> {
    let mut hubs = Vec::new();
    for _ in 0..count {
        hubs.push(hub_with(server, RedisOptions::new()).await);
    }
    hubs
}

fn update(topics: &[&str], id: &str, private: bool) -> Update {
    Update::builder(topics[0])
        .alternates(topics[1..].iter().copied())
        .id(id)
        .data(format!("data of {id}"))
        .private(private)
        .build()
        .unwrap()
}

async fn subscribe(hub: &EmbeddedHub, request: SubscribeRequest) -> Ids {
    Ids::new(hub.subscribe(request).await.unwrap())
}

fn on(topic: &str) -> SubscribeRequest {
    SubscribeRequest::new([TopicSelector::exact(topic)])
}

/// The event ids of a subscription's stream.
struct Ids {
    subscription: Subscription,
    text: String,
    ready: VecDeque<String>,
}

impl Ids {
    fn new(subscription: Subscription) -> Self {
        Self {
            subscription,
            text: String::new(),
            ready: VecDeque::new(),
        }
    }

    /// The next event id.
    async fn next(&mut self) -> String {
        loop {
            if let Some(id) = self.ready.pop_front() {
                return id;
            }
            let chunk = tokio::time::timeout(PATIENCE, self.subscription.next())
                .await
                .expect("the stream stalled")
                .expect("the stream ended early")
                .unwrap();
            self.text.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(at) = self.text.find("\n\n") {
                let block: String = self.text.drain(..at + 2).collect();
                if let Some(id) = block.lines().find_map(|line| line.strip_prefix("id: ")) {
                    self.ready.push_back(id.to_owned());
                }
            }
        }
    }

    /// The ids up to the event `end` (left out).
    async fn until(mut self, end: &str) -> Vec<String> {
        let mut ids = Vec::new();
        loop {
            let id = self.next().await;
            if id == end {
                return ids;
            }
            ids.push(id);
        }
    }
}

fn spawn_until(ids: Ids, end: &'static str) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move { ids.until(end).await })
}

/// The history as a subscriber resuming from the earliest event on `hub`
/// reads it, up to `end`.
async fn history(hub: &EmbeddedHub, topic: &str, end: &str) -> Vec<String> {
    subscribe(hub, on(topic).last_event_id("earliest"))
        .await
        .until(end)
        .await
}

fn assert_unique(ids: &[String]) {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(seen.insert(id), "{id} delivered twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_delivers_every_update_once_in_one_cluster_order() {
    let server = RedisServer::start();
    let hubs = hubs(&server, 3).await;
    let started = Instant::now();
    // On each instance: a subscriber of topic A, and one of every topic.
    let mut on_a = Vec::new();
    let mut on_all = Vec::new();
    for hub in &hubs {
        on_a.push(spawn_until(subscribe(hub, on(TOPIC_A)).await, "end"));
        on_all.push(spawn_until(
            subscribe(hub, SubscribeRequest::new([TopicSelector::all()])).await,
            "end",
        ));
    }
    let each = 150;
    let publishers: Vec<_> = hubs
        .iter()
        .enumerate()
        .map(|(h, hub)| {
            let hub = hub.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    let topic = if i % 2 == 0 { TOPIC_A } else { TOPIC_B };
                    hub.publish(&update(&[topic], &format!("h{h}-{i}"), false))
                        .await
                        .unwrap();
                    if i % 10 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.await.unwrap();
    }
    hubs[1]
        .publish(&update(&[TOPIC_A, TOPIC_B], "end", false))
        .await
        .unwrap();

    let order = history(&hubs[2], "*", "end").await;
    assert_eq!(order.len(), 3 * each);
    assert_unique(&order);
    // Each publisher's updates in the order it published them.
    for h in 0..3 {
        let mine: Vec<&String> = order
            .iter()
            .filter(|id| id.starts_with(&format!("h{h}-")))
            .collect();
        let expected: Vec<String> = (0..each).map(|i| format!("h{h}-{i}")).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>());
    }
    // The publishers interleaved: the order is the cluster's, not one
    // instance's.
    assert!(
        order[..each].iter().any(|id| !id.starts_with("h0-")),
        "the publishers did not run concurrently"
    );
    let on_topic_a: Vec<String> = order
        .iter()
        .filter(|id| {
            let i: usize = id.rsplit('-').next().unwrap().parse().unwrap();
            i.is_multiple_of(2)
        })
        .cloned()
        .collect();
    for (instance, task) in on_all.into_iter().enumerate() {
        assert_eq!(
            task.await.unwrap(),
            order,
            "every topic, instance {instance}"
        );
    }
    for (instance, task) in on_a.into_iter().enumerate() {
        assert_eq!(
            task.await.unwrap(),
            on_topic_a,
            "topic A, instance {instance}"
        );
    }
    eprintln!("cluster order: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_moving_to_another_instance_gets_exactly_what_it_missed() {
    let server = RedisServer::start();
    let hubs = hubs(&server, 3).await;
    let mut first = subscribe(&hubs[0], on(TOPIC_A)).await;
    for i in 0..10 {
        hubs[2]
            .publish(&update(&[TOPIC_A], &format!("m{i}"), false))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(first.next().await);
    }
    assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4"]);
    drop(first);
    for i in 10..20 {
        hubs[i % 3]
            .publish(&update(&[TOPIC_A], &format!("m{i}"), false))
            .await
            .unwrap();
    }
    // Onto an instance that was running, and onto one started now (a new
    // instance joining the cluster starts after the newest event).
    let late = hub_with(&server, RedisOptions::new()).await;
    let moved = spawn_until(
        subscribe(&hubs[1], on(TOPIC_A).last_event_id("m4")).await,
        "end",
    );
    let moved_late = spawn_until(
        subscribe(&late, on(TOPIC_A).last_event_id("m4")).await,
        "end",
    );
    let live_late = spawn_until(subscribe(&late, on(TOPIC_A)).await, "end");
    hubs[0]
        .publish(&update(&[TOPIC_A], "m20", false))
        .await
        .unwrap();
    late.publish(&update(&[TOPIC_A], "end", false))
        .await
        .unwrap();
    let missed: Vec<String> = (5..=20).map(|i| format!("m{i}")).collect();
    assert_eq!(moved.await.unwrap(), missed);
    assert_eq!(moved_late.await.unwrap(), missed);
    assert_eq!(live_late.await.unwrap(), ["m20"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_updates_stay_private_across_instances() {
    let server = RedisServer::start();
    let hubs = hubs(&server, 3).await;
    let anonymous = spawn_until(subscribe(&hubs[1], on(TOPIC_A)).await, "end");
    let other_topic = spawn_until(
        subscribe(
            &hubs[1],
            on(TOPIC_A).private_access(PrivateAccess::Selectors(vec![TopicSelector::exact(
                TOPIC_B,
            )])),
        )
        .await,
        "end",
    );
    let granted = spawn_until(
        subscribe(
            &hubs[2],
            on(TOPIC_A).private_access(PrivateAccess::Selectors(vec![TopicSelector::exact(
                TOPIC_A,
            )])),
        )
        .await,
        "end",
    );
    let all = spawn_until(
        subscribe(&hubs[0], on(TOPIC_A).private_access(PrivateAccess::All)).await,
        "end",
    );
    for (i, private) in [false, true, false, true, true, false]
        .into_iter()
        .enumerate()
    {
        hubs[i % 3]
            .publish(&update(&[TOPIC_A], &format!("p{i}"), private))
            .await
            .unwrap();
    }
    hubs[2]
        .publish(&update(&[TOPIC_A], "end", false))
        .await
        .unwrap();
    let public = ["p0", "p2", "p5"];
    let everything = ["p0", "p1", "p2", "p3", "p4", "p5"];
    assert_eq!(anonymous.await.unwrap(), public);
    assert_eq!(other_topic.await.unwrap(), public);
    assert_eq!(granted.await.unwrap(), everything);
    assert_eq!(all.await.unwrap(), everything);
    // Replayed from history on another instance: the same rules.
    assert_eq!(history(&hubs[0], TOPIC_A, "end").await, public);
    let replayed = subscribe(
        &hubs[1],
        on(TOPIC_A)
            .last_event_id("earliest")
            .private_access(PrivateAccess::All),
    )
    .await
    .until("end")
    .await;
    assert_eq!(replayed, everything);
}

/// What one publisher saw.
#[derive(Default)]
struct Published {
    acknowledged: Vec<String>,
    /// The longest a failed publish took.
    slowest_failure: Duration,
    failures: usize,
    /// Acknowledged after the restart.
    after_restart: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_under_load_loses_no_acknowledged_update() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_millis(1000);
    let mut hubs = Vec::new();
    for _ in 0..3 {
        hubs.push(hub_with(&server, RedisOptions::new().with_append_timeout(timeout)).await);
    }
    let mut live = Vec::new();
    for hub in &hubs {
        live.push(spawn_until(subscribe(hub, on(TOPIC_A)).await, "end"));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    let publishers: Vec<_> = hubs
        .iter()
        .enumerate()
        .map(|(h, hub)| {
            let hub = hub.clone();
            let stop = Arc::clone(&stop);
            let restarted = Arc::clone(&restarted);
            tokio::spawn(async move {
                let mut seen = Published::default();
                let mut i = 0;
                // Bounded: at most 4,000 attempts each.
                while !stop.load(Ordering::Acquire) && i < 4000 {
                    let id = format!("h{h}-{i}");
                    i += 1;
                    let attempt = Instant::now();
                    match hub.publish(&update(&[TOPIC_A], &id, false)).await {
                        Ok(published) => {
                            assert_eq!(published.as_str(), id);
                            seen.acknowledged.push(id);
                            if restarted.load(Ordering::Acquire) {
                                seen.after_restart += 1;
                            }
                        }
                        Err(error) => {
                            assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
                            seen.failures += 1;
                            seen.slowest_failure = seen.slowest_failure.max(attempt.elapsed());
                            // No busy loop while Redis is down.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                seen
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(700)).await;
    server.kill();
    let down = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server = tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .unwrap();
    restarted.store(true, Ordering::Release);
    eprintln!("Redis was down for {:?}", down.elapsed());
    // Until every publisher got through again a few times.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Release);
    let mut acknowledged = Vec::new();
    let mut failures = 0;
    for publisher in publishers {
        let seen = publisher.await.unwrap();
        assert!(
            seen.after_restart >= 10,
            "a publisher recovered only {} times",
            seen.after_restart
        );
        // The publish itself: one append bounded by the timeout (its
        // duplicate check, a read, is bounded by it too).
        assert!(
            seen.slowest_failure <= 2 * timeout + Duration::from_millis(500),
            "a failed publish took {:?}",
            seen.slowest_failure
        );
        failures += seen.failures;
        acknowledged.extend(seen.acknowledged);
    }
    assert!(failures > 0, "no publish failed while Redis was down");
    // Published after every other: its position tells nothing was missed.
    let mut end_published = false;
    for _ in 0..50 {
        if hubs[0]
            .publish(&update(&[TOPIC_A], "end", false))
            .await
            .is_ok()
        {
            end_published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(end_published);

    let history = history(&hubs[1], TOPIC_A, "end").await;
    assert_unique(&history);
    let held: HashSet<&String> = history.iter().collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !held.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    // Each publisher's stored updates in its order.
    let mut positions: HashMap<usize, i64> = HashMap::new();
    for id in &history {
        let (h, i) = id[1..].split_once('-').unwrap();
        let (h, i): (usize, i64) = (h.parse().unwrap(), i.parse().unwrap());
        let previous = positions.insert(h, i).unwrap_or(-1);
        assert!(i > previous, "{id} after h{h}-{previous}");
    }
    // The live subscribers went on after the outage: each got the whole
    // history, once, in order.
    for (instance, task) in live.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), history, "live on instance {instance}");
    }
    eprintln!(
        "{} acknowledged, {} held, {failures} failed publishes",
        acknowledged.len(),
        history.len()
    );
    drop(server);
}

fn event(id: &str, topic: &str, data: &str) -> Event {
    let frame = format!("id: {id}\ndata: {data}\n\n");
    Event::from_parts(
        Cursor::ZERO,
        id,
        vec![topic.to_owned()],
        false,
        bytes::Bytes::from(frame),
    )
}

fn summary(events: &[Arc<Event>]) -> Vec<(u64, String, Vec<String>)> {
    events
        .iter()
        .map(|e| (e.cursor().get(), e.id().to_owned(), e.topics().to_vec()))
        .collect()
}

/// Waits until `feed` was pushed `count` events; returns them.
async fn pushed(feed: &Feed, count: usize) -> Vec<Arc<Event>> {
    let deadline = Instant::now() + PATIENCE;
    let mut events = Vec::new();
    while events.len() < count {
        assert!(Instant::now() < deadline, "only {} pushed", events.len());
        events.extend(feed.take_pushed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    events
}

fn all(after: Option<Cursor>, up_to: Cursor) -> Page {
    Page::new(after, up_to, 1000, usize::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_and_page_follow_the_transport_contract() {
    let server = RedisServer::start_with(
        // Small stream nodes: approximate trimming shows with few events.
        RedisServerOptions::default().arg("stream-node-max-entries", "4"),
    );
    let one = connect(&server, RedisOptions::new()).await;
    let other = connect(&server, RedisOptions::new()).await;
    let (feed, other_feed) = (Feed::detached(), Feed::detached());
    assert!(one.start(feed.clone()).is_none());
    assert!(other.start(other_feed.clone()).is_none());

    let mut appended = Vec::new();
    for i in 0..10 {
        let id = if i == 2 || i == 6 {
            "dup".to_owned()
        } else {
            format!("e{i}")
        };
        let topic = format!("https://example.com/{i}");
        let by = if i % 2 == 0 { &one } else { &other };
        appended.push(by.append(event(&id, &topic, "d")).await.unwrap());
    }
    let cursors: Vec<Cursor> = appended.iter().map(|e| e.cursor()).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]));
    // Both transports push every event, whoever appended it, in order.
    assert_eq!(summary(&pushed(&feed, 10).await), summary(&appended));
    assert_eq!(summary(&pushed(&other_feed, 10).await), summary(&appended));

    // A duplicate id resolves to the earliest.
    let found = other.find("dup").await.unwrap().unwrap();
    assert_eq!(summary(&[found]), summary(&appended[2..3]));
    assert!(one.find("missing").await.unwrap().is_none());
    assert_eq!(
        one.find("e9").await.unwrap().unwrap().frame(),
        appended[9].frame()
    );

    let max = Cursor::new(u64::MAX);
    let page = |after, up_to, events, bytes| one.page(Page::new(after, up_to, events, bytes));
    assert_eq!(
        summary(&page(None, max, 100, usize::MAX).await.unwrap()),
        summary(&appended)
    );
    assert_eq!(
        summary(
            &page(Some(cursors[2]), cursors[5], 100, usize::MAX)
                .await
                .unwrap()
        ),
        summary(&appended[3..=5]),
        "after is exclusive, up to inclusive"
    );
    // Just before the next event: between two events when their cursors
    // leave room, on the earlier one when they follow each other.
    let before = |i: usize| Cursor::new(cursors[i].get() - 1);
    assert_eq!(
        summary(
            &page(Some(before(3)), before(6), 100, usize::MAX)
                .await
                .unwrap()
        ),
        summary(&appended[3..=5]),
        "bounds between events"
    );
    assert_eq!(
        summary(&page(None, max, 3, usize::MAX).await.unwrap()),
        summary(&appended[..3])
    );
    let size = appended[0].size();
    assert_eq!(
        summary(
            &page(Some(cursors[0]), max, 100, size * 5 / 2)
                .await
                .unwrap()
        ),
        summary(&appended[1..4]),
        "past the first event, at most max_bytes"
    );
    assert_eq!(
        summary(&page(None, max, 100, 1).await.unwrap()),
        summary(&appended[..1]),
        "one event even past max_bytes"
    );
    assert!(
        page(Some(cursors[9]), max, 100, usize::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        page(Some(cursors[5]), cursors[3], 100, usize::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        page(None, Cursor::ZERO, 100, usize::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        page(Some(max), max, 100, usize::MAX)
            .await
            .unwrap()
            .is_empty()
    );

    // A transport connecting now starts after the newest event.
    let late = connect(&server, RedisOptions::new()).await;
    assert_eq!(late.start(Feed::detached()).unwrap().cursor(), cursors[9]);
    assert!(format!("{late:?}").contains("RedisTransport"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trimming_keeps_the_bounds_and_the_index_consistent() {
    let server =
        RedisServer::start_with(RedisServerOptions::default().arg("stream-node-max-entries", "4"));
    // By count: about 4 events (whole nodes of 4).
    let small = connect(
        &server,
        RedisOptions::new().with_key("small").with_max_events(4),
    )
    .await;
    small.start(Feed::detached());
    let again = small.append(event("again", "t", "first")).await.unwrap();
    let mut appended = Vec::new();
    for i in 0..20 {
        appended.push(
            small
                .append(event(&format!("s{i}"), "t", "d"))
                .await
                .unwrap(),
        );
    }
    let held = small.page(all(None, Cursor::new(u64::MAX))).await.unwrap();
    assert!(held.len() >= 4 && held.len() <= 8, "{} held", held.len());
    assert_eq!(
        summary(&held),
        summary(&appended[appended.len() - held.len()..])
    );
    assert!(small.find("again").await.unwrap().is_none(), "trimmed");
    assert!(small.find("s0").await.unwrap().is_none(), "trimmed");
    // An id whose earliest event was trimmed names the new one.
    let republished = small.append(event("again", "t", "second")).await.unwrap();
    assert!(republished.cursor() > again.cursor());
    assert_eq!(
        small.find("again").await.unwrap().unwrap().frame(),
        republished.frame()
    );
    // The index forgets trimmed events.
    small.trim().await.unwrap();
    let held = small.page(all(None, Cursor::new(u64::MAX))).await.unwrap();
    let ids: HashSet<&str> = held.iter().map(|e| e.id()).collect();
    assert_eq!(server.cli(&["HLEN", "small:ids"]), ids.len().to_string());
    for event in &held {
        assert_eq!(
            small.find(event.id()).await.unwrap().unwrap().cursor(),
            event.cursor()
        );
    }

    // By age: events older than the bound go, in whole nodes; the newest
    // stays whatever its age.
    let aged = connect(
        &server,
        RedisOptions::new()
            .with_key("aged")
            .with_max_age(Duration::from_millis(500)),
    )
    .await;
    aged.start(Feed::detached());
    let mut old = Vec::new();
    for i in 0..6 {
        old.push(
            aged.append(event(&format!("old{i}"), "t", "d"))
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let new = aged.append(event("new", "t", "d")).await.unwrap();
    aged.trim().await.unwrap();
    let held = aged.page(all(None, Cursor::new(u64::MAX))).await.unwrap();
    assert_eq!(
        summary(&held),
        summary(&[&old[4..], &[new]].concat()),
        "the first node went"
    );
    assert!(aged.find("old0").await.unwrap().is_none());
    assert_eq!(server.cli(&["HLEN", "aged:ids"]), "3");
    tokio::time::sleep(Duration::from_millis(700)).await;
    aged.trim().await.unwrap();
    let held = aged.page(all(None, Cursor::new(u64::MAX))).await.unwrap();
    assert_eq!(held.last().unwrap().id(), "new", "the newest is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_fails_clearly_and_shows_no_secret() {
    let server =
        RedisServer::start_with(RedisServerOptions::default().arg("requirepass", "s3cret-pw"));
    let port = server.port();
    let error = |result: Result<RedisTransport, Error>| result.unwrap_err();

    let bad = error(RedisTransport::connect("not a url", RedisOptions::new()).await);
    assert!(matches!(bad, Error::InvalidConfig(_)), "{bad:?}");
    assert!(bad.to_string().contains("Redis URL"), "{bad}");
    let scheme = error(RedisTransport::connect("http://127.0.0.1/", RedisOptions::new()).await);
    assert!(matches!(scheme, Error::InvalidConfig(_)), "{scheme:?}");

    // Nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = free.local_addr().unwrap().port();
    drop(free);
    let started = Instant::now();
    let unreachable = error(
        RedisTransport::connect(
            &format!("redis://:s3cret-pw@127.0.0.1:{closed}/0"),
            RedisOptions::new(),
        )
        .await,
    );
    assert!(
        matches!(unreachable, Error::Unavailable(_)),
        "{unreachable:?}"
    );
    assert!(
        unreachable.to_string().contains("cannot connect"),
        "{unreachable}"
    );
    assert!(
        !unreachable.to_string().contains("s3cret-pw"),
        "{unreachable}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    let refused = error(
        RedisTransport::connect(
            &format!("redis://:wrong-pw@127.0.0.1:{port}/0"),
            RedisOptions::new(),
        )
        .await,
    );
    assert!(matches!(refused, Error::InvalidConfig(_)), "{refused:?}");
    assert!(!refused.to_string().contains("wrong-pw"), "{refused}");

    let zero =
        error(RedisTransport::connect(&server.url(), RedisOptions::new().with_max_events(0)).await);
    assert!(zero.to_string().contains("at least one event"), "{zero}");

    let url = format!("redis://:s3cret-pw@127.0.0.1:{port}/0");
    server.cli(&[
        "-a",
        "s3cret-pw",
        "--no-auth-warning",
        "SET",
        "taken",
        "a string",
    ]);
    let wrong_type =
        error(RedisTransport::connect(&url, RedisOptions::new().with_key("taken")).await);
    assert!(
        matches!(wrong_type, Error::InvalidConfig(_)),
        "{wrong_type:?}"
    );
    assert!(
        wrong_type.to_string().contains("holds a string"),
        "{wrong_type}"
    );

    let transport = RedisTransport::connect(&url, RedisOptions::new())
        .await
        .unwrap();
    let shown = format!("{transport:?}");
    assert!(!shown.contains("s3cret-pw"), "{shown}");
    assert!(shown.contains("127.0.0.1"), "{shown}");
    transport.start(Feed::detached());
    let stored = transport.append(event("x", "t", "d")).await.unwrap();
    assert_eq!(
        transport.find("x").await.unwrap().unwrap().cursor(),
        stored.cursor()
    );
}

/// A hub served over HTTP, on a transport of its own connected with
/// `options`, with the subscriptions API and subscription events.
async fn served(
    server: &RedisServer,
    options: RedisOptions,
) -> (support::TestHub, Arc<RedisTransport>) {
    let transport = Arc::new(connect(server, options).await);
    let hub = support::start(
        support::config()
            .subscriptions(true)
            .transport(Arc::clone(&transport) as Arc<dyn Transport>),
    )
    .await;
    (hub, transport)
}

/// The subscriptions API of `hub` at `path` (0.x), with a token allowed
/// to read it all: the status, the `Mercure-Truncated` header and the body.
async fn listing(hub: &support::TestHub, path: &str) -> (u16, Option<String>, Value) {
    let token = hub.token(
        ProtocolVersion::V0,
        &Grants::new().subscribe(["/.well-known/mercure/subscriptions{/topic}{/subscriber}"]),
    );
    let response = hub
        .client
        .get(format!("{}{path}", hub.origin))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let truncated = response
        .headers()
        .get("mercure-truncated")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    (
        status,
        truncated,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

/// The subscriber ids the subscriptions API of `hub` lists.
async fn listed(hub: &support::TestHub) -> Vec<String> {
    let (status, _, body) = listing(hub, "/.well-known/mercure/subscriptions").await;
    assert_eq!(status, 200, "{body}");
    body["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subscriber"].as_str().unwrap().to_owned())
        .collect()
}

/// The id of the only subscriber `hub` serves.
fn only_subscriber(hub: &EmbeddedHub) -> String {
    let infos = hub.subscriptions();
    assert_eq!(infos.len(), 1, "{infos:?}");
    infos[0].subscriber.clone()
}

/// Waits, polling, until `check` holds; returns how long it took.
async fn eventually<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < PATIENCE, "never true: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// Waits until the stream of `subscription` ends (the hub closed it).
async fn ends(subscription: &mut Subscription) -> Duration {
    let started = Instant::now();
    tokio::time::timeout(PATIENCE, async {
        while let Some(chunk) = subscription.next().await {
            chunk.unwrap();
        }
    })
    .await
    .expect("the stream was not closed");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_lists_the_subscribers_of_every_instance() {
    let server = RedisServer::start();
    let (a, _) = served(&server, RedisOptions::new()).await;
    let (b, _) = served(&server, RedisOptions::new()).await;
    let (c, _) = served(&server, RedisOptions::new()).await;
    assert_eq!(listed(&a).await, Vec::<String>::new());

    let on_c = c
        .hub
        .subscribe(on(TOPIC_A).subject("alice").payload(json!({"user": 42})))
        .await
        .unwrap();
    let on_a = a.hub.subscribe(on(TOPIC_B)).await.unwrap();
    let far = only_subscriber(&c.hub);
    let near = only_subscriber(&a.hub);
    // Stored before the subscription was acknowledged (its subscription
    // event waits for it): listed at once, here first.
    assert_eq!(listed(&a).await, [near.clone(), far.clone()]);
    let (status, _, body) = listing(&a, "/.well-known/mercure/subscriptions").await;
    assert_eq!(status, 200);
    let remote = &body["subscriptions"][1];
    assert_eq!(remote["topic"], TOPIC_A);
    assert_eq!(remote["payload"], json!({"user": 42}));
    assert_eq!(remote["active"], true);
    // One subscription of another instance, by its URL, on a third.
    let encoded_topic = TOPIC_A.replace(':', "%3A").replace('/', "%2F");
    let one = format!(
        "/.well-known/mercure/subscriptions/{encoded_topic}/{}",
        far.replace(':', "%3A")
    );
    let (status, _, body) = listing(&b, &one).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subscriber"], far.as_str());
    assert_eq!(body["payload"], json!({"user": 42}));

    // In process, with the instance of each.
    let everywhere = b.hub.cluster_subscriptions().await.unwrap();
    assert!(!everywhere.truncated);
    let instances: HashMap<&str, Option<&str>> = everywhere
        .subscriptions
        .iter()
        .map(|info: &SubscriptionInfo| (info.subscriber.as_str(), info.instance.as_deref()))
        .collect();
    assert_eq!(instances.len(), 2);
    assert_eq!(instances[far.as_str()], c.hub.instance_id());
    assert_eq!(instances[near.as_str()], a.hub.instance_id());
    let far_info = everywhere
        .subscriptions
        .iter()
        .find(|info| info.subscriber == far)
        .unwrap();
    assert_eq!(far_info.subject.as_deref(), Some("alice"));
    assert_eq!(far_info.selector, TopicSelector::exact(TOPIC_A));
    // The local listing stays local.
    assert_eq!(b.hub.subscriptions(), Vec::new());

    // Gone from every listing once it disconnects.
    drop(on_c);
    let took = eventually("the subscriber of C leaves A's listing", || async {
        listed(&a).await == [near.clone()]
    })
    .await;
    eprintln!("a disconnection reached the other instances' listings in {took:?}");
    drop(on_a);
    eventually("the subscriber of A leaves C's listing", || async {
        listed(&c).await.is_empty()
    })
    .await;

    // Metrics name the instance.
    let id = a.hub.instance_id().unwrap().to_owned();
    assert_ne!(Some(id.as_str()), c.hub.instance_id());
    let text = a.hub.metrics().to_prometheus();
    assert!(
        text.contains(&format!("mercure_instance_info{{instance=\"{id}\"}} 1\n")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_instance_is_listed_until_its_presence_expires() {
    let server = RedisServer::start();
    let ttl = Duration::from_millis(1200);
    let (a, _) = served(&server, RedisOptions::new()).await;
    let (b, b_transport) = served(&server, RedisOptions::new()).await;
    let (c, c_transport) = served(&server, RedisOptions::new().with_presence_ttl(ttl)).await;
    let on_b = b.hub.subscribe(on(TOPIC_A)).await.unwrap();
    let on_c = c.hub.subscribe(on(TOPIC_A)).await.unwrap();
    let from_b = only_subscriber(&b.hub);
    let from_c = only_subscriber(&c.hub);
    let mut both = listed(&a).await;
    both.sort();
    let mut expected = vec![from_b.clone(), from_c.clone()];
    expected.sort();
    assert_eq!(both, expected);
    let hash = format!("mercure:presence:{}", c_transport.instance_id());
    assert_eq!(server.cli(&["EXISTS", &hash]), "1");

    // C dies: no goodbye, and its subscription outlives its tasks.
    c_transport.simulate_crash();
    let crashed = Instant::now();
    drop(on_c);
    assert!(listed(&a).await.contains(&from_c), "gone before its TTL");
    eventually("the crashed instance's subscriber expires", || async {
        !listed(&a).await.contains(&from_c)
    })
    .await;
    let expired = crashed.elapsed();
    eprintln!("a crashed instance's presence (TTL {ttl:?}) expired after {expired:?}");
    assert!(
        expired >= ttl / 2,
        "expired after {expired:?}, before its TTL could run out"
    );
    // The hash itself goes with its TTL (Redis expires keys lazily or in
    // its periodic sweep, a moment after the listing stops showing it).
    eventually("the crashed instance's presence hash expires", || async {
        server.cli(&["EXISTS", &hash]) == "0"
    })
    .await;

    // B stops cleanly: forgotten at once, without waiting for its TTL.
    b_transport.close().await.unwrap();
    assert_eq!(listed(&a).await, Vec::<String>::new());
    drop(on_b);
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_change_on_one_instance_closes_the_subscribers_of_every_instance() {
    let server = RedisServer::start();
    let hubs = hubs(&server, 3).await;
    let alice = |topic: &str| on(topic).subject("alice");
    let mut alice_on_c = hubs[2].subscribe(alice(TOPIC_A)).await.unwrap();
    let mut alice_on_b = hubs[1]
        .subscribe(
            SubscribeRequest::new([TopicSelector::pattern("https://example.com/{x}")])
                .subject("alice"),
        )
        .await
        .unwrap();
    let mut alice_on_a = hubs[0].subscribe(alice(TOPIC_A)).await.unwrap();
    let bob_on_c = spawn_until(
        subscribe(&hubs[2], on(TOPIC_A).subject("bob")).await,
        "after",
    );
    let alice_elsewhere = spawn_until(subscribe(&hubs[2], alice(TOPIC_B)).await, "after");
    let anonymous_on_b = spawn_until(subscribe(&hubs[1], on(TOPIC_A)).await, "after");

    let sent = Instant::now();
    let closed_here = hubs[0]
        .cluster_permission_changed("alice", TOPIC_A)
        .await
        .unwrap();
    assert_eq!(closed_here, 1, "the issuing instance's own subscriber");
    ends(&mut alice_on_a).await;
    ends(&mut alice_on_c).await;
    ends(&mut alice_on_b).await;
    eprintln!(
        "a permission change closed the subscribers of 3 instances in {:?}",
        sent.elapsed()
    );
    // The others were left alone.
    hubs[0]
        .publish(&update(&[TOPIC_A, TOPIC_B], "after", false))
        .await
        .unwrap();
    assert_eq!(bob_on_c.await.unwrap(), Vec::<String>::new());
    assert_eq!(alice_elsewhere.await.unwrap(), Vec::<String>::new());
    assert_eq!(anonymous_on_b.await.unwrap(), Vec::<String>::new());
    // The local variant stays local.
    let again_on_c = subscribe(&hubs[2], alice(TOPIC_A)).await;
    assert_eq!(hubs[0].permission_changed("alice", TOPIC_A), 0);
    let again = spawn_until(again_on_c, "still-open");
    hubs[0]
        .publish(&update(&[TOPIC_A], "still-open", false))
        .await
        .unwrap();
    assert_eq!(again.await.unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_is_closed_by_its_id_on_whichever_instance_serves_it() {
    let server = RedisServer::start();
    let hubs = hubs(&server, 3).await;
    let mut first = hubs[2].subscribe(on(TOPIC_A)).await.unwrap();
    let first_id = only_subscriber(&hubs[2]);
    let second = spawn_until(subscribe(&hubs[2], on(TOPIC_A)).await, "after");
    let mut local = hubs[0].subscribe(on(TOPIC_A)).await.unwrap();
    let local_id = only_subscriber(&hubs[0]);
    // Without subscription events, presence is stored in the background.
    eventually("instance A lists C's subscribers", || async {
        let listed = hubs[0].cluster_subscriptions().await.unwrap();
        listed
            .subscriptions
            .iter()
            .filter(|info| info.instance.as_deref() == hubs[2].instance_id())
            .count()
            == 2
    })
    .await;
    let sent = Instant::now();
    assert!(!hubs[0].close_subscriber(&first_id).await.unwrap());
    let took = ends(&mut first).await;
    eprintln!(
        "closing a subscriber of another instance by id took {:?}",
        sent.elapsed().max(took)
    );
    assert!(hubs[0].close_subscriber(&local_id).await.unwrap());
    ends(&mut local).await;
    assert!(
        !hubs[1]
            .close_subscriber("urn:uuid:00000000-0000-0000-0000-000000000000")
            .await
            .unwrap()
    );
    hubs[1]
        .publish(&update(&[TOPIC_A], "after", false))
        .await
        .unwrap();
    assert_eq!(second.await.unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_past_its_bound_says_it_is_truncated() {
    let server = RedisServer::start();
    let (a, _) = served(&server, RedisOptions::new().with_presence_limit(3)).await;
    let (c, _) = served(&server, RedisOptions::new()).await;
    let mut held = Vec::new();
    held.push(a.hub.subscribe(on(TOPIC_A)).await.unwrap());
    for _ in 0..2 {
        held.push(c.hub.subscribe(on(TOPIC_A)).await.unwrap());
    }
    let (status, truncated, body) = listing(&a, "/.well-known/mercure/subscriptions").await;
    assert_eq!(status, 200);
    assert_eq!(truncated, None);
    assert_eq!(body["subscriptions"].as_array().unwrap().len(), 3);
    // Two subscriptions (two selectors) for one more subscriber.
    held.push(
        c.hub
            .subscribe(SubscribeRequest::new([
                TopicSelector::exact(TOPIC_A),
                TopicSelector::exact(TOPIC_B),
            ]))
            .await
            .unwrap(),
    );
    let (status, truncated, body) = listing(&a, "/.well-known/mercure/subscriptions").await;
    assert_eq!(status, 200);
    assert_eq!(truncated.as_deref(), Some("true"));
    assert_eq!(body["subscriptions"].as_array().unwrap().len(), 3);
    let listed = a.hub.cluster_subscriptions().await.unwrap();
    assert!(listed.truncated);
    assert_eq!(listed.subscriptions.len(), 3);
    assert_eq!(
        listed.subscriptions[0].instance.as_deref(),
        a.hub.instance_id(),
        "this instance's first"
    );
}

/// The ACL `docs/deployment.md` gives the hubs' Redis user (stream key
/// `mercure`).
const ACL: &[&str] = &[
    "on",
    ">s3cret-for-tests",
    "resetkeys",
    "~mercure",
    "~mercure:*",
    "resetchannels",
    "&mercure:control",
    "-@all",
    "+@read",
    "+@write",
    "+@scripting",
    "+@transaction",
    "+@pubsub",
    "+@connection",
    "+time",
    "-@dangerous",
    "+info",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_acl_is_all_the_hubs_need() {
    let server = RedisServer::start();
    let mut setuser = vec!["ACL", "SETUSER", "mercure"];
    setuser.extend_from_slice(ACL);
    assert_eq!(server.cli(&setuser), "OK");
    let url = format!(
        "redis://mercure:s3cret-for-tests@127.0.0.1:{}/0",
        server.port()
    );
    let mut transports = Vec::new();
    let mut hubs = Vec::new();
    for _ in 0..2 {
        let transport = Arc::new(
            RedisTransport::connect(
                &url,
                RedisOptions::new()
                    .with_presence_ttl(Duration::from_millis(300))
                    .with_max_age(Duration::from_secs(1)),
            )
            .await
            .expect("connected with the documented ACL"),
        );
        hubs.push(EmbeddedHub::new(
            HubConfig::builder()
                .subscriptions(true)
                .transport(Arc::clone(&transport) as Arc<dyn Transport>)
                .build()
                .unwrap(),
        ));
        transports.push(transport);
    }
    let mut alice = hubs[1]
        .subscribe(on(TOPIC_A).subject("alice"))
        .await
        .unwrap();
    let listed = hubs[0].cluster_subscriptions().await.unwrap();
    assert_eq!(listed.subscriptions.len(), 1);
    // Several heartbeats, maintenance runs: no permission error shows.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    hubs[0]
        .publish(&update(&[TOPIC_A], "granted", false))
        .await
        .unwrap();
    assert_eq!(
        hubs[0]
            .cluster_subscriptions()
            .await
            .unwrap()
            .subscriptions
            .len(),
        1
    );
    transports[0].trim().await.unwrap();
    assert_eq!(
        hubs[0]
            .cluster_permission_changed("alice", TOPIC_A)
            .await
            .unwrap(),
        0
    );
    ends(&mut alice).await;
    for transport in &transports {
        transport.close().await.unwrap();
    }
    // Nothing was refused.
    let refused = server.cli(&["ACL", "LOG"]);
    assert!(refused.is_empty(), "ACL LOG: {refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_and_commands_come_back_after_redis_lost_everything() {
    // No persistence: a restart empties Redis.
    let mut server = RedisServer::start_with(RedisServerOptions {
        append_only: false,
        ..RedisServerOptions::default()
    });
    let options = || RedisOptions::new().with_presence_ttl(Duration::from_millis(600));
    let a = hub_with(&server, options()).await;
    let c = hub_with(&server, options()).await;
    let mut on_c = c.subscribe(on(TOPIC_A).subject("alice")).await.unwrap();
    let id = only_subscriber(&c);
    let lists_it = || async {
        a.cluster_subscriptions().await.is_ok_and(|listed| {
            listed
                .subscriptions
                .iter()
                .any(|info| info.subscriber == id)
        })
    };
    eventually("A lists C's subscriber", lists_it).await;

    server.kill();
    assert!(
        a.cluster_subscriptions().await.is_err(),
        "listed without Redis"
    );
    server.restart();
    assert_eq!(server.cli(&["DBSIZE"]), "0");
    let took = eventually("C's presence is rewritten after the restart", lists_it).await;
    eprintln!("presence back {took:?} after Redis restarted empty");
    // Both follow the control channel again.
    eventually("both instances resubscribed", || async {
        server
            .cli(&["PUBSUB", "NUMSUB", "mercure:control"])
            .ends_with('2')
    })
    .await;
    assert_eq!(
        a.cluster_permission_changed("alice", TOPIC_A)
            .await
            .unwrap(),
        0
    );
    ends(&mut on_c).await;
}
