//! Reconciliation: Last-Event-ID header and query parameters, `earliest`,
//! unknown ids, the resume headers, re-authorization of replayed events.

mod support;

use mercure_core::ProtocolVersion;
use mercure_core::token::Grants;
use support::{config, start};

const V0: ProtocolVersion = ProtocolVersion::V0;
const V1: ProtocolVersion = ProtocolVersion::V1;

async fn publish_three(hub: &support::TestHub) -> Vec<String> {
    let mut ids = Vec::new();
    for data in ["one", "two", "three"] {
        ids.push(
            hub.publish_ok(
                V0,
                &[
                    ("topic", "t"),
                    ("data", data),
                    ("id", &format!("id-{data}")),
                ],
            )
            .await,
        );
    }
    ids
}

async fn datas(reader: &mut support::SseReader, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(reader.next_event().await.unwrap().data());
    }
    got
}

#[tokio::test]
async fn resumes_after_a_known_id_in_both_dialects() {
    let hub = start(config().anonymous(true)).await;
    publish_three(&hub).await;
    let mut v0 = hub.stream("topic=t&lastEventID=id-one", None).await;
    assert_eq!(v0.header("last-event-id").as_deref(), Some("id-one"));
    assert_eq!(datas(&mut v0, 2).await, ["two", "three"]);
    let mut v1 = hub.stream("match=t&last_event_id=id-two", None).await;
    assert_eq!(
        v1.header("mercure-last-event-id").as_deref(),
        Some("id-two")
    );
    assert!(v1.header("last-event-id").is_none());
    assert_eq!(datas(&mut v1, 1).await, ["three"]);
    // Live events follow the replay, with nothing lost or repeated.
    hub.publish_ok(V0, &[("topic", "t"), ("data", "four")])
        .await;
    assert_eq!(datas(&mut v0, 1).await, ["four"]);
    assert_eq!(datas(&mut v1, 1).await, ["four"]);
}

#[tokio::test]
async fn the_header_wins_over_the_query_parameter() {
    let hub = start(config().anonymous(true)).await;
    publish_three(&hub).await;
    let response = hub
        .client
        .get(format!("{}?topic=t&lastEventID=id-one", hub.url))
        .header("Last-Event-ID", "id-two")
        .send()
        .await
        .unwrap();
    let mut reader = support::SseReader::new(response).await;
    assert_eq!(reader.header("last-event-id").as_deref(), Some("id-two"));
    assert_eq!(datas(&mut reader, 1).await, ["three"]);
}

#[tokio::test]
async fn earliest_and_unknown_ids_replay_everything_held() {
    let hub = start(config().anonymous(true)).await;
    publish_three(&hub).await;
    let mut earliest = hub.stream("match=t&last_event_id=earliest", None).await;
    assert_eq!(
        earliest.header("mercure-last-event-id").as_deref(),
        Some("earliest")
    );
    assert_eq!(datas(&mut earliest, 3).await, ["one", "two", "three"]);
    // An id the hub does not know: it says so with `earliest`.
    let mut unknown = hub
        .stream("topic=t&lastEventID=never-published", None)
        .await;
    assert_eq!(unknown.header("last-event-id").as_deref(), Some("earliest"));
    assert_eq!(datas(&mut unknown, 3).await, ["one", "two", "three"]);
}

#[tokio::test]
async fn without_a_cursor_the_header_names_the_newest_event() {
    let hub = start(config().anonymous(true)).await;
    let mut empty = hub.stream("topic=t", None).await;
    assert_eq!(empty.header("last-event-id").as_deref(), Some("earliest"));
    publish_three(&hub).await;
    assert_eq!(datas(&mut empty, 3).await, ["one", "two", "three"]);
    let fresh = hub.stream("match=t", None).await;
    assert_eq!(
        fresh.header("mercure-last-event-id").as_deref(),
        Some("id-three")
    );
}

#[tokio::test]
async fn the_history_is_bounded_and_evicted_ids_become_unknown() {
    let hub = start(config().anonymous(true).history_size(2)).await;
    publish_three(&hub).await;
    let mut evicted = hub.stream("topic=t&lastEventID=id-one", None).await;
    assert_eq!(evicted.header("last-event-id").as_deref(), Some("earliest"));
    assert_eq!(datas(&mut evicted, 2).await, ["two", "three"]);
}

#[tokio::test]
async fn replayed_events_are_authorized_against_the_current_token() {
    let hub = start(config().anonymous(true)).await;
    hub.publish_ok(V0, &[("topic", "t"), ("data", "secret"), ("private", "on")])
        .await;
    hub.publish_ok(V0, &[("topic", "t"), ("data", "public")])
        .await;
    let mut anonymous = hub.stream("topic=t&lastEventID=earliest", None).await;
    assert_eq!(datas(&mut anonymous, 1).await, ["public"]);
    let token = hub.token(V1, &Grants::subscribe_all());
    let mut authorized = hub
        .stream("match=t&last_event_id=earliest", Some(&token))
        .await;
    assert_eq!(datas(&mut authorized, 2).await, ["secret", "public"]);
}
