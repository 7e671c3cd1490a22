//! Our subscriber and our hub with a proxy between them that breaks
//! connections on purpose (`support/fault_proxy`): a thousand cuts, and
//! stalls, delays and split writes, lose, duplicate and reorder no update;
//! a cut in the middle of an event is discarded by our decoder and the
//! event redelivered whole after resuming. The proxy prints its seed;
//! `FAULT_PROXY_SEED` replays it (tests/README.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mercure_client::subscriber::{ExponentialBackoff, ReconnectReason};
use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_client::{EventId, Hub, ProtocolVersion, Subscriber, SubscriberEvent, Update};
use mercure_core::sse::SseDecoder;
use mercure_hub::{HubConfig, HubConfigBuilder, VerificationKey};
use mercure_integration_tests::fault_proxy::{FaultCounts, FaultProxy, Faults};
use mercure_integration_tests::served_hub::{
    ServedHub, encode_component, serve_hub, serve_hub_lean,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
const ISSUER: &str = "https://app.example.com";
const TOPIC: &str = "https://example.com/faults";
/// The longest wait for the next subscriber event.
const PATIENCE: Duration = Duration::from_secs(20);
/// The longest a whole run may take.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// A hub that serves anonymous subscribers and keeps every update of a
/// run in its history.
fn config() -> HubConfigBuilder {
    HubConfig::builder()
        .key(VerificationKey::hs256(SECRET).unwrap())
        .anonymous(true)
        .history_size(1_000_000)
}

/// A client publishing straight to `served` (not through a proxy).
fn publisher(served: &ServedHub) -> Hub {
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
        .protocol(ProtocolVersion::V1)
        .issuer(ISSUER)
        .audience(&served.url)
        .build()
        .unwrap();
    Hub::builder(&served.url)
        .token_factory(factory, Grants::publish_all())
        .build()
        .unwrap()
}

/// What a run saw.
#[derive(Debug, Clone, Copy)]
struct Run {
    published: usize,
    counts: FaultCounts,
    connected: u64,
    reconnects: u64,
    read_timeouts: u64,
    /// The backoff delays of the reconnections, summed.
    backoff: Duration,
    /// From each reconnection's announcement to the next connection,
    /// summed (backoff included).
    reconnecting: Duration,
    elapsed: Duration,
}

impl Run {
    fn print(&self, what: &str) {
        eprintln!(
            "{what}: {} updates in {:.1} s, {} connections opened, {} reconnections \
             ({} after a read timeout) taking {:.1} s in all, of which {:.1} s of backoff; \
             proxy: {:?}",
            self.published,
            self.elapsed.as_secs_f64(),
            self.connected,
            self.reconnects,
            self.read_timeouts,
            self.reconnecting.as_secs_f64(),
            self.backoff.as_secs_f64(),
            self.counts
        );
    }
}

/// The data of update `n`: its number, then `pad` bytes.
fn numbered(n: usize, pad: usize) -> String {
    format!("{n} {}", "x".repeat(pad))
}

/// Publishes updates `0`, `1`, `2`... (padded with `pad` bytes) to
/// `served` every `pace` while a resilient subscriber reads them through
/// `proxy`, until `enough` says so; then stops the publisher and the
/// faults of new connections (a subscriber that fell behind catches up in
/// bounded time), reads on until the subscriber has every update, and
/// checks that each arrived exactly once, in publication order.
async fn exactly_once(
    served: &ServedHub,
    proxy: &FaultProxy,
    read_timeout: Option<Duration>,
    (pace, pad): (Duration, usize),
    enough: impl Fn(&FaultCounts, usize) -> bool,
) -> Run {
    let seed = proxy.seed();
    let started = Instant::now();
    // The floor and the backoff are the builder's to set: a millisecond
    // keeps a thousand reconnections short (the defaults stay 250 ms and
    // 1 s).
    let mut subscriber = Subscriber::builder(proxy.url(&served.url))
        .protocol(ProtocolVersion::V1)
        .topic(TOPIC)
        .last_event_id(EventId::earliest())
        .min_retry(Duration::from_millis(1))
        .retry_strategy(
            ExponentialBackoff::new()
                .initial(Duration::from_millis(1))
                .max(Duration::from_millis(20))
                .seed(seed),
        )
        .read_timeout(read_timeout)
        .build()
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicUsize::new(0));
    let publishing = tokio::spawn({
        let hub = publisher(served);
        let stop = Arc::clone(&stop);
        let published = Arc::clone(&published);
        async move {
            let mut ids = Vec::new();
            let mut ticks = tokio::time::interval(pace);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::SeqCst) {
                ticks.tick().await;
                let n = ids.len();
                let update = Update::new(TOPIC, numbered(n, pad)).unwrap();
                let id = hub
                    .publish(&update)
                    .await
                    .unwrap_or_else(|e| panic!("publishing update {n}: {e}"));
                ids.push(id);
                published.store(ids.len(), Ordering::SeqCst);
            }
            ids
        }
    });

    let mut publishing = Some(publishing);
    let mut ids: Option<Vec<EventId>> = None;
    let mut received: Vec<(Option<EventId>, String)> = Vec::new();
    let (mut connected, mut reconnects, mut read_timeouts) = (0, 0, 0);
    let (mut backoff, mut reconnecting) = (Duration::ZERO, Duration::ZERO);
    let mut reconnecting_since = None;
    loop {
        // (A publisher that stopped by itself failed: its panic shows.)
        if let Some(task) = publishing.take_if(|task| {
            task.is_finished() || enough(&proxy.counts(), published.load(Ordering::SeqCst))
        }) {
            stop.store(true, Ordering::SeqCst);
            ids = Some(task.await.expect("the publisher"));
            proxy.set_faults(Faults::none());
        }
        if ids.as_ref().is_some_and(|ids| received.len() >= ids.len()) {
            break;
        }
        let left = RUN_LIMIT.saturating_sub(started.elapsed());
        assert!(
            !left.is_zero(),
            "seed {seed}: not done within {RUN_LIMIT:?}: {} received, {} published, {:?}",
            received.len(),
            published.load(Ordering::SeqCst),
            proxy.counts()
        );
        let wait = left.min(PATIENCE);
        let event = tokio::time::timeout(wait, subscriber.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "seed {seed}: no subscriber event within {wait:?} after {} updates \
                     ({} published): {:?}",
                    received.len(),
                    published.load(Ordering::SeqCst),
                    proxy.counts()
                )
            })
            .expect("the subscription goes on")
            .unwrap_or_else(|e| panic!("seed {seed}: the subscriber failed: {e}"));
        match event {
            SubscriberEvent::Update(update) => {
                received.push((update.id().cloned(), update.data().to_owned()));
            }
            SubscriberEvent::Connected(_) => {
                connected += 1;
                if let Some(since) = reconnecting_since.take() {
                    reconnecting += Instant::elapsed(&since);
                }
            }
            SubscriberEvent::Reconnecting(next) => {
                reconnects += 1;
                backoff += next.delay;
                reconnecting_since.get_or_insert_with(Instant::now);
                if matches!(next.reason, ReconnectReason::ReadTimeout) {
                    read_timeouts += 1;
                }
            }
            SubscriberEvent::EventsLost(lost) => {
                panic!("seed {seed}: the history holds every update, yet {lost:?}")
            }
            _ => {}
        }
    }
    drop(subscriber);

    let ids = ids.unwrap_or_default();
    for (n, (id, data)) in received.iter().enumerate() {
        assert!(
            n < ids.len() && id.as_ref() == Some(&ids[n]) && *data == numbered(n, pad),
            "seed {seed}: update {n} of {} published arrived as {id:?} {data:?} \
             (expected {:?} \"{n} ...\"); around it: {:?}",
            ids.len(),
            ids.get(n),
            &received[n.saturating_sub(3)..(n + 3).min(received.len())],
        );
    }
    assert_eq!(received.len(), ids.len(), "seed {seed}");
    Run {
        published: ids.len(),
        counts: proxy.counts(),
        connected,
        reconnects,
        read_timeouts,
        backoff,
        reconnecting,
        elapsed: started.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_cuts_lose_duplicate_and_reorder_no_update() {
    const CUTS: u64 = 1_000;
    // Served as the binary serves: the lean HTTP/1.1 subscription path.
    let served = serve_hub_lean(config()).await;
    // Every connection is cut within its first 1,500 bytes (response head
    // included): in the head, in an event, between events; half with a
    // reset, half cleanly.
    let proxy =
        FaultProxy::to_url(&served.url, Faults::none().cut(1.0, 0..=1_500).resets(0.5)).await;
    // Updates of some 270 bytes on the wire: a connection's share of the
    // response is a couple of them.
    let run = exactly_once(
        &served,
        &proxy,
        None,
        (Duration::from_millis(1), 200),
        |counts, _| counts.cuts >= CUTS,
    )
    .await;
    run.print("a thousand cuts");
    let counts = run.counts;
    assert!(counts.cuts >= CUTS, "{counts:?}");
    assert!(
        counts.resets > 0 && counts.resets < counts.cuts,
        "both kinds: {counts:?}"
    );
    assert_eq!(counts.upstream_failures, 0);
    // Every reconnection follows a cut (the last cut may not have been
    // read yet when the run ended).
    assert!(
        run.reconnects <= counts.cuts && counts.cuts <= run.reconnects + 1,
        "{run:?}"
    );
    assert_eq!(run.read_timeouts, 0, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalls_delays_and_split_writes_lose_duplicate_and_reorder_no_update() {
    // Both ways of serving: the lean path and hyper (what `serve` uses).
    for lean in [true, false] {
        let served = if lean {
            serve_hub_lean(config()).await
        } else {
            serve_hub(config()).await
        };
        // Every chunk written in pieces of 1 to 7 bytes, so that events,
        // lines, chunk frames and the response head are split everywhere;
        // a chunk in 30 held back for up to 400 ms (longer than the
        // subscriber's read timeout, 200 ms, which then reconnects); every
        // chunk delayed up to 2 ms; half the connections cut.
        let faults = Faults::none()
            .cut(0.5, 0..=2_000)
            .resets(0.5)
            .stall(0.03, Duration::from_millis(10)..=Duration::from_millis(400))
            .delay(Duration::ZERO..=Duration::from_millis(2))
            .split(7);
        let proxy = FaultProxy::to_url(&served.url, faults).await;
        let run = exactly_once(
            &served,
            &proxy,
            Some(Duration::from_millis(200)),
            (Duration::from_millis(10), 0),
            |counts, published| published >= 300 && counts.cuts >= 5 && counts.stalls >= 5,
        )
        .await;
        run.print(if lean { "lean path" } else { "hyper" });
        let counts = run.counts;
        assert!(counts.cuts >= 5 && counts.stalls >= 5, "{counts:?}");
        assert!(counts.delays > 0, "{counts:?}");
        // Pieces of at most 7 bytes.
        assert!(
            counts.pieces >= (counts.request_bytes + counts.response_bytes).div_ceil(7),
            "{counts:?}"
        );
        assert_eq!(counts.upstream_failures, 0);
    }
}

/// One event's data: several lines of varying length, 0.5 to 3 KB.
fn event_data(n: usize) -> String {
    (0..5 + n % 23)
        .map(|line| format!("{n}:{line}:{}", "x".repeat(40 + (n * 37 + line * 11) % 80)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads `url` from `last_event_id` through `decoder` until the stream
/// ends, fails, or (with `first_only`) yields its first update; returns
/// the body bytes read and the updates decoded. `None` when no response
/// head came (the proxy cut before or within it).
async fn read_stream(
    url: &str,
    last_event_id: &str,
    decoder: &mut SseDecoder,
    first_only: bool,
) -> Option<(Vec<u8>, Vec<(Option<EventId>, String)>)> {
    let client = mercure_integration_tests::stream_client();
    let response = tokio::time::timeout(
        PATIENCE,
        client
            .get(url)
            .header("Last-Event-ID", last_event_id)
            .send(),
    )
    .await
    .expect("a response head or a failure in time")
    .ok()?;
    assert_eq!(response.status(), 200);
    let mut body = Vec::new();
    let mut updates = Vec::new();
    let mut chunks = response.bytes_stream();
    loop {
        let chunk = tokio::time::timeout(PATIENCE, chunks.next())
            .await
            .expect("a chunk, the end or a failure in time");
        let Some(Ok(chunk)) = chunk else { break };
        body.extend_from_slice(&chunk);
        decoder.feed_bytes(chunk).expect("events within the limit");
        while let Some(update) = decoder.next_update() {
            updates.push((update.id().cloned(), update.data().to_owned()));
        }
        if first_only && !updates.is_empty() {
            break;
        }
    }
    Some((body, updates))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_event_is_discarded_by_the_decoder_and_redelivered_after_resume() {
    const EVENTS: usize = 40;
    const MID_EVENT_CUTS: usize = 10;
    const MAX_ROUNDS: usize = 60;
    let served = serve_hub_lean(config()).await;
    let hub = publisher(&served);
    let mut published = Vec::new();
    let mut bytes = 0;
    for n in 0..EVENTS {
        let data = event_data(n);
        bytes += data.len();
        let id = hub
            .publish(&Update::new(TOPIC, &data).unwrap())
            .await
            .unwrap();
        published.push((Some(id), data));
    }
    let proxy = FaultProxy::to_url(&served.url, Faults::none()).await;
    let seed = proxy.seed();
    // A plain 0.x subscription, read from the start of the history.
    let url = format!(
        "{}?topic={}",
        proxy.url(&served.url),
        encode_component(TOPIC)
    );
    // Cuts within the first half of the history's bytes.
    let cutting = Faults::none().cut(1.0, 0..=(bytes / 2) as u64).resets(0.5);

    let (mut mid_event, mut after_id_line, mut rounds) = (0, 0, 0);
    while mid_event < MID_EVENT_CUTS {
        assert!(
            rounds < MAX_ROUNDS,
            "seed {seed}: {mid_event} cuts in an event in {MAX_ROUNDS} rounds"
        );
        rounds += 1;
        let cuts = proxy.counts().cuts;
        proxy.set_faults(cutting.clone());
        let mut decoder = SseDecoder::new();
        let cut_read = read_stream(&url, EventId::EARLIEST, &mut decoder, false).await;
        proxy.wait_cuts(cuts + 1, PATIENCE).await;
        proxy.set_faults(Faults::none());
        let Some((body, decoded)) = cut_read else {
            // Cut before the response head was whole.
            continue;
        };

        // The decoder gave exactly the events that arrived whole...
        let whole = body
            .windows(2)
            .rposition(|w| w == b"\n\n")
            .map_or(0, |end| end + 2);
        let blocks = body[..whole]
            .split(|&b| b == b'\n')
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[1].is_empty() && !w[0].is_empty())
            .count();
        let k = decoded.len();
        assert!(k < EVENTS, "seed {seed}: the cut came after the history");
        assert_eq!(decoded, published[..k], "seed {seed}, round {rounds}");
        let comments = body[..whole]
            .split(|&b| b == b'\n')
            .filter(|line| line.starts_with(b":"))
            .count();
        assert_eq!(blocks, k + comments, "seed {seed}, round {rounds}");
        // ... and the partial one left the last event id alone.
        let resume_from = published[..k]
            .last()
            .and_then(|(id, _)| id.clone())
            .map_or(String::new(), |id| id.as_str().to_owned());
        assert_eq!(decoder.last_event_id(), resume_from, "seed {seed}");
        let tail = &body[whole..];
        let in_event = !tail.is_empty() && !tail.starts_with(b":");
        if tail.starts_with(b"id: ") && tail.contains(&b'\n') {
            after_id_line += 1;
        }

        // Resumed as the subscriber does: the decoder restarted, its last
        // event id sent back; the partial event comes first, whole.
        decoder.restart();
        let resume = if resume_from.is_empty() {
            EventId::EARLIEST.to_owned()
        } else {
            resume_from
        };
        let (body, decoded) = read_stream(&url, &resume, &mut decoder, true)
            .await
            .expect("a stream without faults");
        // (What came in the same read as it, in order after it.)
        assert!(!decoded.is_empty());
        assert_eq!(
            decoded,
            published[k..k + decoded.len()],
            "seed {seed}, round {rounds}"
        );
        assert_eq!(
            Some(decoder.last_event_id()),
            decoded
                .last()
                .and_then(|(id, _)| id.as_ref().map(EventId::as_str)),
            "seed {seed}, round {rounds}"
        );
        if in_event {
            let id = published[k].0.as_ref().unwrap();
            let start = body
                .windows(id.as_str().len() + 5)
                .position(|w| w == format!("id: {id}\n").as_bytes())
                .expect("the event's id line");
            assert!(
                body[start..].starts_with(tail),
                "seed {seed}: the cut event's bytes were {:?}",
                String::from_utf8_lossy(tail)
            );
            mid_event += 1;
        }
    }
    eprintln!(
        "{rounds} rounds, {mid_event} cut in an event ({after_id_line} after its id line): {:?}",
        proxy.counts()
    );
}

/// The proxy itself: a clean cut at an exact offset, pieces that add up,
/// and every connection closed when it is dropped.
#[tokio::test]
async fn the_proxy_cuts_at_its_offset_splits_faithfully_and_stops_when_dropped() {
    const SENT: usize = 100_000;
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = upstream.local_addr().unwrap();
    // An upstream that answers each connection with SENT bytes, then
    // waits for the client to close.
    let serving = tokio::spawn(async move {
        loop {
            let (mut stream, _) = upstream.accept().await.unwrap();
            tokio::spawn(async move {
                let data: Vec<u8> = (0..SENT).map(|i| (i % 251) as u8).collect();
                let _ = stream.write_all(&data).await;
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest).await;
            });
        }
    });
    let read_all = |mut stream: TcpStream| async move {
        let mut got = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut got))
            .await
            .expect("the end in time")
            .map(|_| got)
    };

    // A clean cut after exactly 1,234 bytes.
    let proxy = FaultProxy::start(addr, Faults::none().cut(1.0, 1_234..=1_234)).await;
    let got = read_all(TcpStream::connect(proxy.addr()).await.unwrap())
        .await
        .expect("a clean end");
    assert_eq!(got.len(), 1_234);
    assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    let counts = proxy.wait_cuts(1, PATIENCE).await;
    assert_eq!((counts.cuts, counts.resets), (1, 0));

    // Split and delayed, every byte arrives, in order.
    proxy.set_faults(
        Faults::none()
            .split(5)
            .delay(Duration::ZERO..=Duration::from_micros(200)),
    );
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut got = vec![0; SENT];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut got))
        .await
        .expect("every byte in time")
        .unwrap();
    assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert!(proxy.counts().pieces >= (SENT / 5) as u64);

    // Dropping the proxy closes the connection still open.
    drop(proxy);
    let mut rest = Vec::new();
    let end = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
        .await
        .expect("closed when the proxy is dropped");
    assert!(end.is_err() || rest.is_empty(), "{end:?}");
    serving.abort();
}
