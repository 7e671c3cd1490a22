//! Several hubs sharing one Redis (`RedisTransport`), in-process, against
//! a real `redis-server` (installed by `scripts/setup`): one cluster-wide
//! order, resuming on another instance, privacy across instances, a Redis
//! crash and restart under publishing load, and the transport's history
//! semantics.
//!
//! Run with `cargo test -p mercure-hub --features redis --test redis_cluster`.

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mercure_core::{TopicSelector, Update};
use mercure_hub::{
    Cursor, EmbeddedHub, Error, Event, Feed, HubConfig, Page, PrivateAccess, RedisOptions,
    RedisTransport, SubscribeRequest, Subscription, Transport,
};
use redis_server::{RedisServer, RedisServerOptions};

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
