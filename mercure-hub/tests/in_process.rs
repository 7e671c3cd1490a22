//! The in-process API: subscriptions served without HTTP, bounded queues,
//! token expiry, closing subscriptions when permissions change.

use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use mercure_core::{ProtocolVersion, TopicSelector, Update};
use mercure_hub::{EmbeddedHub, HubConfig, PrivateAccess, SubscribeRequest, Subscription};

fn hub(builder: mercure_hub::HubConfigBuilder) -> EmbeddedHub {
    EmbeddedHub::new(builder.build().unwrap())
}

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(5);

/// The next chunk of the stream, waiting at most [`PATIENCE`].
async fn next_text(subscription: &mut Subscription) -> Option<String> {
    next_text_within(subscription, PATIENCE).await
}

/// The next chunk of the stream, waiting at most `bound` (of virtual time
/// in tests whose clock is paused); `None` at the end of the stream.
async fn next_text_within(subscription: &mut Subscription, bound: Duration) -> Option<String> {
    let chunk = tokio::time::timeout(bound, subscription.next())
        .await
        .expect("nothing from the stream in time")?
        .unwrap();
    Some(String::from_utf8(chunk.to_vec()).unwrap())
}

/// A bound of virtual time, for tests whose clock is paused.
const VIRTUAL_BOUND: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn server_selected_streams_receive_what_the_server_chose() {
    let hub = hub(HubConfig::builder());
    let mut stream = hub
        .subscribe(
            SubscribeRequest::new([TopicSelector::pattern("https://example.com/users/42/:rest")])
                .dialect(ProtocolVersion::V1)
                .private_access(PrivateAccess::Selectors(vec![TopicSelector::exact(
                    "https://example.com/users/42/inbox",
                )])),
        )
        .await
        .unwrap();
    assert_eq!(stream.resume_header(), "Mercure-Last-Event-ID");
    assert_eq!(next_text(&mut stream).await.as_deref(), Some(":\n\n"));
    let private = |topic: &str, data: &str| {
        Update::builder(topic)
            .data(data)
            .private(true)
            .build()
            .unwrap()
    };
    hub.publish(&private(
        "https://example.com/users/42/settings",
        "not granted",
    ))
    .await
    .unwrap();
    hub.publish(&private("https://example.com/users/42/inbox", "granted"))
        .await
        .unwrap();
    hub.publish(&Update::new("https://example.com/users/7/inbox", "other user").unwrap())
        .await
        .unwrap();
    let text = next_text(&mut stream).await.unwrap();
    assert!(text.ends_with("data: granted\n\n"), "{text}");
    assert_eq!(hub.subscriptions().len(), 1);
    drop(stream);
    assert_eq!(hub.subscriptions().len(), 0);
    assert_eq!(hub.metrics().subscribers_connected, 0);
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_closed_and_counted_without_slowing_publishers() {
    let hub = hub(HubConfig::builder().queue_capacity(4));
    let mut slow = hub.subscribe(SubscribeRequest::new(["t"])).await.unwrap();
    let mut fast = hub.subscribe(SubscribeRequest::new(["t"])).await.unwrap();
    assert!(next_text(&mut slow).await.is_some());
    assert!(next_text(&mut fast).await.is_some());
    let mut ids = Vec::new();
    for i in 0..5 {
        // Publishing never waits: five updates go out while `slow` reads nothing.
        ids.push(
            hub.publish(&Update::new("t", format!("u{i}")).unwrap())
                .await
                .unwrap(),
        );
        if i < 4 {
            let text = next_text(&mut fast).await.unwrap();
            assert!(text.contains(&format!("data: u{i}")), "{text}");
        }
    }
    assert_eq!(hub.metrics().subscribers_dropped, 1);
    // The slow stream ends at once, without the queued events: its client
    // resumes from history with the last id it saw.
    assert_eq!(next_text(&mut slow).await, None);
    let mut resumed = hub
        .subscribe(SubscribeRequest::new(["t"]).last_event_id(ids[0].as_str()))
        .await
        .unwrap();
    let replay = next_text(&mut resumed).await.unwrap();
    for i in 1..5 {
        assert!(replay.contains(&format!("data: u{i}")), "{replay}");
    }
    assert!(!replay.contains("data: u0"));
    // The fast one is still served.
    let text = next_text(&mut fast).await.unwrap();
    assert!(text.contains("data: u4"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn the_stream_ends_when_the_token_expires() {
    let hub = hub(HubConfig::builder().heartbeat(None));
    let mut stream = hub
        .subscribe(
            SubscribeRequest::new(["t"]).expires_at(SystemTime::now() + Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert!(next_text(&mut stream).await.is_some());
    let started = tokio::time::Instant::now();
    assert_eq!(next_text_within(&mut stream, VIRTUAL_BOUND).await, None);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(29) && elapsed <= Duration::from_secs(31),
        "{elapsed:?}"
    );
    assert!(
        hub.subscribe(
            SubscribeRequest::new(["t"]).expires_at(SystemTime::now() - Duration::from_secs(1))
        )
        .await
        .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn heartbeats_follow_the_configured_interval() {
    let hub = hub(HubConfig::builder().heartbeat(Some(Duration::from_secs(15))));
    let mut stream = hub.subscribe(SubscribeRequest::new(["t"])).await.unwrap();
    assert!(next_text(&mut stream).await.is_some());
    let started = tokio::time::Instant::now();
    assert_eq!(
        next_text_within(&mut stream, VIRTUAL_BOUND)
            .await
            .as_deref(),
        Some(":\n\n")
    );
    assert_eq!(started.elapsed(), Duration::from_secs(15));
}

#[tokio::test(start_paused = true)]
async fn far_future_times_never_overflow_a_timer() {
    // A heartbeat of u64::MAX seconds and an expiry past what `Instant`
    // holds: subscribing, streaming, publishing and a heartbeat reset
    // (each event resets it) must not panic.
    let hub = hub(HubConfig::builder().heartbeat(Some(Duration::MAX)));
    let far = [
        SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 2),
        SystemTime::now() + Duration::from_secs(u64::MAX / 4),
        SystemTime::UNIX_EPOCH + Duration::from_secs(mercure_core::token::LATEST_CLAIM_TIME),
    ];
    for at in far {
        let mut stream = hub
            .subscribe(SubscribeRequest::new(["t"]).expires_at(at))
            .await
            .unwrap();
        assert!(next_text(&mut stream).await.is_some());
        hub.publish(&Update::new("t", "x").unwrap()).await.unwrap();
        assert!(next_text(&mut stream).await.unwrap().contains("data: x"));
        // A year later (of virtual time): still open, nothing sent.
        assert!(
            tokio::time::timeout(Duration::from_secs(365 * 86_400), stream.next())
                .await
                .is_err()
        );
    }
    let config = HubConfig::builder()
        .head_timeout(Duration::MAX)
        .body_timeout(Duration::MAX)
        .build()
        .unwrap();
    assert!(format!("{config:?}").contains("head_timeout"));
}

#[tokio::test]
async fn permission_changes_close_the_affected_subscriptions() {
    let hub = hub(HubConfig::builder());
    let mut alice_books = hub
        .subscribe(SubscribeRequest::new(["https://example.com/books/{id}"]).subject("alice"))
        .await
        .unwrap();
    let mut alice_users = hub
        .subscribe(SubscribeRequest::new(["https://example.com/users/alice"]).subject("alice"))
        .await
        .unwrap();
    let mut bob_books = hub
        .subscribe(SubscribeRequest::new(["https://example.com/books/{id}"]).subject("bob"))
        .await
        .unwrap();
    for stream in [&mut alice_books, &mut alice_users, &mut bob_books] {
        assert!(next_text(stream).await.is_some());
    }
    assert_eq!(
        hub.permission_changed("alice", "https://example.com/books/1"),
        1
    );
    assert_eq!(next_text(&mut alice_books).await, None);
    hub.publish(&Update::new("https://example.com/books/1", "still here").unwrap())
        .await
        .unwrap();
    assert!(
        next_text(&mut bob_books)
            .await
            .unwrap()
            .contains("still here")
    );
    hub.publish(&Update::new("https://example.com/users/alice", "also").unwrap())
        .await
        .unwrap();
    assert!(next_text(&mut alice_users).await.unwrap().contains("also"));
    assert_eq!(hub.close_subscribers(|_| true), 2);
    assert_eq!(next_text(&mut bob_books).await, None);
}

#[tokio::test]
async fn subscribing_needs_a_valid_selector() {
    let hub = hub(HubConfig::builder());
    assert!(matches!(
        hub.subscribe(SubscribeRequest::new(Vec::<TopicSelector>::new()))
            .await,
        Err(mercure_hub::Error::InvalidSubscribe(_))
    ));
    assert!(matches!(
        hub.subscribe(
            SubscribeRequest::new([TopicSelector::pattern("https://a/((")])
                .dialect(ProtocolVersion::V1)
        )
        .await,
        Err(mercure_hub::Error::InvalidSelector { .. })
    ));
}

#[tokio::test]
async fn the_selection_closure_may_call_the_hub() {
    let hub = hub(HubConfig::builder());
    let _a = hub.subscribe(SubscribeRequest::new(["a"])).await.unwrap();
    let _b = hub.subscribe(SubscribeRequest::new(["b"])).await.unwrap();
    let closed = hub.close_subscribers(|info| {
        // Reading the hub from inside the closure must not deadlock.
        hub.subscriptions().len() == 2 && info.selector.expression() == "a"
    });
    assert_eq!(closed, 1);
    assert_eq!(hub.subscriptions().len(), 1);
}

/// Replays share one budget of bytes: a page of history is read only when
/// the budget has room, and a chunk sent holds its share until dropped
/// (written to the client). Subscribers that never read hold a page each,
/// at most the budget together; the others wait, holding nothing.
#[tokio::test]
async fn replays_wait_for_room_in_the_shared_budget() {
    let hub = hub(HubConfig::builder()
        .history_size(100)
        .replay_bytes(1 << 20)
        .queue_bytes(64 << 20));
    let data = "r".repeat(200 * 1024);
    for _ in 0..20 {
        hub.publish(&Update::new("t", data.as_str()).unwrap())
            .await
            .unwrap();
    }
    let earliest = || SubscribeRequest::new(["t"]).last_event_id("earliest");
    let mut first = hub.subscribe(earliest()).await.unwrap();
    let mut second = hub.subscribe(earliest()).await.unwrap();
    let mut third = hub.subscribe(earliest()).await.unwrap();
    // Each chunk is one page (two events here) and keeps its share.
    let held_first = tokio::time::timeout(PATIENCE, first.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(held_first.len() > 200 * 1024, "{}", held_first.len());
    let held_second = tokio::time::timeout(PATIENCE, second.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // The budget (1 MiB) cannot fit a third page (512 KiB) now: the third
    // stream opens (its opening comment goes out at once) and waits.
    let opening = tokio::time::timeout(PATIENCE, third.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(opening.len() < 16, "{}", opening.len());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), third.next())
            .await
            .is_err(),
        "a third page was read beyond the budget"
    );
    // Once the first chunk is written (dropped), the third goes on.
    let mut received = held_first.len();
    drop(held_first);
    let third_chunk = tokio::time::timeout(PATIENCE, third.next())
        .await
        .expect("the budget was freed")
        .unwrap()
        .unwrap();
    assert!(third_chunk.len() > 200 * 1024);
    drop(held_second);
    // Everyone still gets the whole history.
    while received < 20 * data.len() {
        let chunk = tokio::time::timeout(PATIENCE, first.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        received += chunk.len();
    }
}
