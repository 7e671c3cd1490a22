//! The subscriptions API and subscription events, in both dialects.

mod support;

use mercure_core::token::Grants;
use mercure_core::{ProtocolVersion, TopicSelector};
use serde_json::{Value, json};
use support::{config, start};

const V0: ProtocolVersion = ProtocolVersion::V0;
const V1: ProtocolVersion = ProtocolVersion::V1;

async fn get(
    hub: &support::TestHub,
    path: &str,
    token: &str,
) -> (u16, Option<String>, Option<String>, Value) {
    let response = hub
        .client
        .get(format!("{}{path}", hub.origin))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let link = response
        .headers()
        .get("link")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    (
        status,
        content_type,
        link,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn lists_subscriptions_as_json_ld_in_0_x() {
    let hub = start(config().subscriptions(true)).await;
    let subscriber = hub.token(
        V0,
        &Grants::subscribe_all().with_payload(json!({"user": 42})),
    );
    let _stream = hub
        .stream(
            "topic=https%3A%2F%2Fexample.com%2Fbooks%2F1",
            Some(&subscriber),
        )
        .await;
    // The newest event, with an id of our choosing: the cursor to expect.
    let last = "urn:example:newest-0";
    hub.publish_ok(V0, &[("topic", "https://example.com/other"), ("id", last)])
        .await;
    let admin = hub.token(
        V0,
        &Grants::new().subscribe(["/.well-known/mercure/subscriptions{/topic}{/subscriber}"]),
    );
    let (status, content_type, _, body) =
        get(&hub, "/.well-known/mercure/subscriptions", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("application/ld+json"));
    assert_eq!(body["@context"], "https://mercure.rocks/");
    assert_eq!(body["id"], "/.well-known/mercure/subscriptions");
    assert_eq!(body["type"], "Subscriptions");
    assert_eq!(body["lastEventID"], last);
    let subscriptions = body["subscriptions"].as_array().unwrap();
    assert_eq!(subscriptions.len(), 1);
    let subscription = &subscriptions[0];
    let subscriber_id = subscription["subscriber"].as_str().unwrap().to_owned();
    assert!(subscriber_id.starts_with("urn:uuid:"));
    let encoded_subscriber = subscriber_id.replace(':', "%3A");
    let id = format!(
        "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fbooks%2F1/{encoded_subscriber}"
    );
    assert_eq!(
        subscription,
        &json!({
            "id": id,
            "type": "Subscription",
            "topic": "https://example.com/books/1",
            "subscriber": subscriber_id,
            "active": true,
            "payload": {"user": 42},
        })
    );
    // One topic's collection, then one subscription.
    let (status, _, _, body) = get(
        &hub,
        "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fbooks%2F1",
        &admin,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["subscriptions"].as_array().unwrap().len(), 1);
    let (status, _, _, body) = get(&hub, &id, &admin).await;
    assert_eq!(status, 200);
    assert_eq!(body["@context"], "https://mercure.rocks/");
    assert_eq!(body["subscriber"], subscriber_id.as_str());
    assert_eq!(body["lastEventID"], last);
    let (status, _, _, _) =
        get(&hub, "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fbooks%2F1/urn%3Auuid%3Anope", &admin)
            .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn lists_subscriptions_as_json_in_1_0() {
    let hub = start(config().subscriptions(true)).await;
    let subscriber = hub.token(
        V1,
        &Grants::subscribe_all().with_payload(json!({"user": 7})),
    );
    let _stream = hub
        .stream(
            "match_urlpattern=https%3A%2F%2Fexample.com%2Fbooks%2F%3Aid",
            Some(&subscriber),
        )
        .await;
    let last = "urn:example:newest-1";
    hub.publish_ok(V1, &[("topic", "https://example.com/other"), ("id", last)])
        .await;
    let admin = hub.token(
        V1,
        &Grants::new().subscribe([TopicSelector::pattern(
            "/.well-known/mercure/subscriptions{/*}?",
        )]),
    );
    let path =
        "/.well-known/mercure/subscriptions/urlpattern/https%3A%2F%2Fexample.com%2Fbooks%2F%3Aid";
    let (status, content_type, link, body) = get(&hub, path, &admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(
        link.unwrap(),
        format!("<{}>; rel=\"mercure\"; last-event-id=\"{last}\"", hub.url)
    );
    assert_eq!(body["type"], "subscriptions");
    assert!(body.get("@context").is_none());
    let subscription = &body["subscriptions"][0];
    assert_eq!(subscription["type"], "subscription");
    assert_eq!(subscription["match"], "https://example.com/books/:id");
    assert_eq!(subscription["match_type"], "urlpattern");
    assert_eq!(subscription["active"], true);
    assert_eq!(subscription["payload"], json!({"user": 7}));
    // The exact collection of the same expression is empty.
    let (_, _, _, body) = get(
        &hub,
        "/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fbooks%2F%3Aid",
        &admin,
    )
    .await;
    assert_eq!(body["subscriptions"], json!([]));
}

#[tokio::test]
async fn the_api_needs_a_grant_for_the_requested_url() {
    let hub = start(config().subscriptions(true)).await;
    let response = hub
        .client
        .get(format!("{}/subscriptions", hub.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let narrow = hub.token(
        V0,
        &Grants::new().subscribe(["/.well-known/mercure/subscriptions/a"]),
    );
    assert_eq!(
        get(&hub, "/.well-known/mercure/subscriptions", &narrow)
            .await
            .0,
        403
    );
    assert_eq!(
        get(&hub, "/.well-known/mercure/subscriptions/a", &narrow)
            .await
            .0,
        200
    );
    let disabled = start(config()).await;
    let all = disabled.token(V0, &Grants::subscribe_all());
    assert_eq!(
        get(&disabled, "/.well-known/mercure/subscriptions", &all)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn subscription_events_announce_connections_and_disconnections() {
    let hub = start(config().subscriptions(true)).await;
    for version in [V0, V1] {
        let (query, watch_query) = match version {
            V0 => (
                "topic=https%3A%2F%2Fexample.com%2Fa",
                "topic=%2F.well-known%2Fmercure%2Fsubscriptions%7B%2Ftopic%7D%7B%2Fsubscriber%7D",
            ),
            V1 => (
                "match=https%3A%2F%2Fexample.com%2Fa",
                "match_urlpattern=%2F.well-known%2Fmercure%2Fsubscriptions%2Fexact%2F%3Amatch%2F%3Asubscriber",
            ),
        };
        let watcher_token = hub.token(version, &Grants::subscribe_all());
        let mut watcher = hub.stream(watch_query, Some(&watcher_token)).await;
        let unprivileged_token = hub.token(version, &Grants::new().subscribe(["x"]));
        let sentinel_selector = match version {
            V0 => "topic=sentinel",
            V1 => "match=sentinel",
        };
        let mut unprivileged = hub
            .stream(
                &format!("{watch_query}&{sentinel_selector}"),
                Some(&unprivileged_token),
            )
            .await;
        // In 1.0 a payload describes the subscriptions its detail's topics
        // match: grant the subscribed topic.
        let subscriber = hub.token(
            version,
            &Grants::new()
                .subscribe(["x", "https://example.com/a"])
                .with_payload(json!({"n": 1})),
        );
        let stream = hub.stream(query, Some(&subscriber)).await;
        // The watcher's own connection is announced too: skip it.
        let (connected, connected_doc) = next_about(&mut watcher, "https://example.com/a").await;
        drop(stream);
        let (_, disconnected_doc) = next_about(&mut watcher, "https://example.com/a").await;
        assert_eq!(connected_doc["active"], true, "{version}");
        assert_eq!(disconnected_doc["active"], false, "{version}");
        assert_eq!(connected_doc["payload"], json!({"n": 1}));
        assert_eq!(connected_doc["subscriber"], disconnected_doc["subscriber"]);
        match version {
            V0 => {
                assert_eq!(connected.event, None);
                assert_eq!(connected_doc["@context"], "https://mercure.rocks/");
                assert_eq!(connected_doc["type"], "Subscription");
                assert_eq!(connected_doc["topic"], "https://example.com/a");
            }
            V1 => {
                assert_eq!(connected.event.as_deref(), Some("mercure"));
                assert_eq!(connected_doc["type"], "subscription");
                assert_eq!(connected_doc["match"], "https://example.com/a");
                assert_eq!(connected_doc["match_type"], "exact");
            }
        }
        assert!(
            connected_doc["id"]
                .as_str()
                .unwrap()
                .starts_with("/.well-known/mercure/subscriptions/")
        );
        // Subscription events are private: a watcher without the grant
        // gets the public sentinel published after them, and nothing before
        // (no publisher may write to the hub's namespace itself).
        hub.publish_ok(
            V0,
            &[("topic", "sentinel"), ("data", "{\"topic\": \"sentinel\"}")],
        )
        .await;
        let first = unprivileged.next_event().await.unwrap();
        assert_eq!(first.data(), "{\"topic\": \"sentinel\"}", "{version}");
    }
}

/// The next subscription event about the selector `expression`.
async fn next_about(reader: &mut support::SseReader, expression: &str) -> (support::Sse, Value) {
    loop {
        let event = reader.next_event().await.unwrap();
        let doc: Value = serde_json::from_str(&event.data()).unwrap();
        let selector = doc.get("topic").or_else(|| doc.get("match")).unwrap();
        if selector == expression {
            return (event, doc);
        }
    }
}

#[tokio::test]
async fn the_first_matching_detail_gives_a_subscription_its_payload() {
    let hub = start(config().subscriptions(true)).await;
    let detail = |topics: serde_json::Value, payload: serde_json::Value| {
        json!({
            "type": "https://mercure.rocks/authorization-detail",
            "actions": ["subscribe"], "topics": topics, "payload": payload,
        })
    };
    // Specific first, then a pattern, then the `*` default.
    let token = support::factory(V1, &hub.url)
        .sign(&json!({
            "iss": support::ISSUER, "aud": hub.url, "exp": 4_000_000_000u64,
            "authorization_details": [
                detail(json!([{"match": "https://example.com/a"}]), json!({"n": "a"})),
                detail(
                    json!([{"match": "https://example.com/books/:id", "match_type": "urlpattern"}]),
                    json!({"n": "books"}),
                ),
                detail(json!([{"match": "*"}]), json!({"n": "default"})),
            ],
        }))
        .unwrap();
    let admin = hub.token(V1, &Grants::subscribe_all());
    let mut watcher = hub
        .stream(
            "match_urlpattern=%2F.well-known%2Fmercure%2Fsubscriptions%2F*",
            Some(&admin),
        )
        .await;
    let _stream = hub
        .stream(
            "match=https%3A%2F%2Fexample.com%2Fa\
             &match_urlpattern=https%3A%2F%2Fexample.com%2Fbooks%2F%3Aid\
             &match=https%3A%2F%2Fexample.com%2Fb",
            Some(token.expose()),
        )
        .await;
    let expected = [
        ("https://example.com/a", json!({"n": "a"})),
        ("https://example.com/books/:id", json!({"n": "books"})),
        ("https://example.com/b", json!({"n": "default"})),
    ];
    // In the subscriptions API...
    let (status, _, _, body) = get(&hub, "/.well-known/mercure/subscriptions", &admin).await;
    assert_eq!(status, 200, "{body}");
    for (selector, payload) in &expected {
        let found = body["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["match"] == *selector)
            .unwrap_or_else(|| panic!("{selector} not listed: {body}"));
        assert_eq!(found["payload"], *payload, "{selector}");
    }
    // ... and in subscription events.
    for (selector, payload) in &expected {
        let (_, doc) = next_about(&mut watcher, selector).await;
        assert_eq!(doc["payload"], *payload, "{selector}");
    }
}

#[tokio::test]
async fn the_1_0_api_needs_a_1_0_token() {
    let hub = start(config().subscriptions(true)).await;
    let path = "/.well-known/mercure/subscriptions/exact/t";
    let v0 = hub.token(V0, &Grants::subscribe_all());
    assert_eq!(get(&hub, path, &v0).await.0, 401);
    // The 0.x collection of the same hub still takes it.
    assert_eq!(
        get(&hub, "/.well-known/mercure/subscriptions/t", &v0)
            .await
            .0,
        200
    );
    let v1 = hub.token(V1, &Grants::subscribe_all());
    assert_eq!(get(&hub, path, &v1).await.0, 200);
}
