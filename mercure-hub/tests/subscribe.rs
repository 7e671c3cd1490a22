//! Subscribing: SSE encoding, matching per dialect, private updates,
//! request validation, token presentation.

mod support;

use mercure_core::token::Grants;
use mercure_core::{ProtocolVersion, TopicSelector};
use support::{config, start};

const V0: ProtocolVersion = ProtocolVersion::V0;
const V1: ProtocolVersion = ProtocolVersion::V1;

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn the_stream_opens_at_once_with_sse_headers() {
    let hub = start(config().anonymous(true)).await;
    let mut reader = hub.stream("topic=t", None).await;
    assert_eq!(
        reader.header("content-type").as_deref(),
        Some("text/event-stream")
    );
    assert!(reader.header("cache-control").unwrap().contains("no-cache"));
    assert_eq!(reader.header("x-accel-buffering").as_deref(), Some("no"));
    // A first comment arrives before any update is published.
    assert_eq!(reader.next_block().await.as_deref(), Some(":"));
    assert_eq!(reader.header("last-event-id").as_deref(), Some("earliest"));
}

#[tokio::test]
async fn events_carry_id_type_retry_and_split_data() {
    let hub = start(config().anonymous(true)).await;
    let mut reader = hub.stream("topic=t", None).await;
    hub.publish_ok(
        V0,
        &[
            ("topic", "t"),
            ("data", "line 1\r\nline 2\rline 3\nid: forged\n"),
            ("id", "e1"),
            ("type", "changed"),
            ("retry", "2500"),
        ],
    )
    .await;
    let event = reader.next_event().await.unwrap();
    assert_eq!(event.id.as_deref(), Some("e1"));
    assert_eq!(event.event.as_deref(), Some("changed"));
    assert_eq!(event.retry.as_deref(), Some("2500"));
    assert_eq!(event.data, ["line 1", "line 2", "line 3", "id: forged", ""]);
    assert!(
        reader
            .raw
            .contains("id: e1\nevent: changed\nretry: 2500\ndata: line 1\ndata: line 2\n"),
        "{:?}",
        reader.raw
    );
}

/// Publishes each topic (public) then a sentinel, and returns the data of
/// the events received before the sentinel.
async fn received(hub: &support::TestHub, query: &str, topics: &[&str]) -> Vec<String> {
    let sentinel = if query.starts_with("topic") {
        "topic=sentinel"
    } else {
        "match=sentinel"
    };
    let mut reader = hub.stream(&format!("{query}&{sentinel}"), None).await;
    for topic in topics {
        hub.publish_ok(V0, &[("topic", topic), ("data", topic)])
            .await;
    }
    hub.publish_ok(V0, &[("topic", "sentinel"), ("data", "sentinel")])
        .await;
    let mut got = Vec::new();
    loop {
        let event = reader.next_event().await.expect("stream ended");
        if event.data() == "sentinel" {
            return got;
        }
        got.push(event.data());
    }
}

#[tokio::test]
async fn matching_table_for_both_dialects() {
    let hub = start(config().anonymous(true)).await;
    let topics = [
        "https://example.com/books/1",
        "https://example.com/books/1/reviews",
        "https://example.com/users/1",
        "/relative/1",
    ];
    let cases: &[(&str, &[&str])] = &[
        (
            "topic=https://example.com/books/1",
            &["https://example.com/books/1"],
        ),
        (
            "topic=https://example.com/books/{id}",
            &["https://example.com/books/1"],
        ),
        (
            "topic=https://example.com/books/{+rest}",
            &[
                "https://example.com/books/1",
                "https://example.com/books/1/reviews",
            ],
        ),
        (
            "topic=https://example.com/users/1&topic=/relative/1",
            &["https://example.com/users/1", "/relative/1"],
        ),
        (
            "match=https://example.com/books/1",
            &["https://example.com/books/1"],
        ),
        ("match_exact=https://example.com/books/{id}", &[]),
        (
            "match_urlpattern=https://example.com/books/:id",
            &["https://example.com/books/1"],
        ),
        (
            "match_urlpattern=https://example.com/books/*",
            &[
                "https://example.com/books/1",
                "https://example.com/books/1/reviews",
            ],
        ),
        ("match_urlpattern=/relative/:id", &["/relative/1"]),
        (
            "match=/relative/1&match_urlpattern=https://example.com/users/:id",
            &["https://example.com/users/1", "/relative/1"],
        ),
    ];
    for (query, expected) in cases {
        let query = query
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                format!("{k}={}", encode(v))
            })
            .collect::<Vec<_>>()
            .join("&");
        assert_eq!(received(&hub, &query, &topics).await, *expected, "{query}");
    }
    // `*` selects everything in both dialects.
    for query in ["topic=*", "match=*", "match_urlpattern=*"] {
        let got = received(&hub, query, &topics).await;
        assert_eq!(got, topics, "{query}");
    }
}

#[tokio::test]
async fn an_update_reaches_a_subscriber_through_any_of_its_topics() {
    let hub = start(config().anonymous(true)).await;
    let mut reader = hub.stream("topic=alternate", None).await;
    hub.publish_ok(
        V0,
        &[
            ("topic", "canonical"),
            ("topic", "alternate"),
            ("data", "x"),
        ],
    )
    .await;
    let event = reader.next_event().await.unwrap();
    assert_eq!(event.data(), "x");
}

#[tokio::test]
async fn private_updates_need_a_grant_for_one_of_their_topics() {
    let hub = start(config().anonymous(true)).await;
    let user = "https://example.com/users/42";
    for version in [V0, V1] {
        let query = match version {
            V0 => "topic=*".to_owned(),
            V1 => "match=*".to_owned(),
        };
        let grant = match version {
            V0 => TopicSelector::exact("https://example.com/users/{id}"),
            V1 => TopicSelector::pattern("https://example.com/users/:id"),
        };
        let granted = hub.token(version, &Grants::new().subscribe([grant]));
        let other = hub.token(
            version,
            &Grants::new().subscribe(["https://example.com/other"]),
        );
        let mut authorized = hub.stream(&query, Some(&granted)).await;
        let mut unauthorized = hub.stream(&query, Some(&other)).await;
        let mut anonymous = hub.stream(&query, None).await;
        // Private, allowed through its alternate topic only.
        hub.publish_ok(
            V0,
            &[
                ("topic", "https://example.com/books/1"),
                ("topic", user),
                ("data", "private"),
                ("private", "on"),
            ],
        )
        .await;
        hub.publish_ok(
            V0,
            &[("topic", "https://example.com/books/1"), ("data", "public")],
        )
        .await;
        assert_eq!(
            authorized.next_event().await.unwrap().data(),
            "private",
            "{version}"
        );
        assert_eq!(authorized.next_event().await.unwrap().data(), "public");
        assert_eq!(
            unauthorized.next_event().await.unwrap().data(),
            "public",
            "{version}"
        );
        assert_eq!(
            anonymous.next_event().await.unwrap().data(),
            "public",
            "{version}"
        );
    }
}

#[tokio::test]
async fn invalid_subscribe_requests_get_400() {
    let hub = start(config().anonymous(true).selector_limits(3, 64)).await;
    for query in [
        "",
        "foo=bar",
        "matchFoo=x",
        "match_regex=x",
        "MATCH=x",
        "topic=a&match=b",
        "topic=a%0Ab",
        "match=a%C2%85b",
        "topic=",
        "topic=a&topic=b&topic=c&topic=d",
        &format!("topic={}", "x".repeat(65)),
        "topic=https://example.com/{unterminated",
        "match_urlpattern=https://example.com/((",
        // Not a matcher parameter (and not a panic on a multi-byte name).
        "matc%C3%A9=x",
        "%C3%A9%C3%A9%C3%A9=x",
    ] {
        let response = hub.subscribe(query, None).await;
        assert_eq!(response.status(), 400, "{query}");
    }
}

#[tokio::test]
async fn selectors_follow_the_character_rules_of_topics() {
    let hub = start(config().anonymous(true)).await;
    for query in [
        // Unicode format characters: zero-width space, right-to-left
        // override, byte order mark, word joiner.
        "topic=a%E2%80%8Bb",
        "match=a%E2%80%8Bb",
        "topic=a%E2%80%AEb",
        "match_urlpattern=%2Fa%2F%E2%80%AE%3Aid",
        "match=%EF%BB%BFa",
        "match=a%E2%81%A0",
        // Not UTF-8 once decoded, in a selector or in another parameter.
        "topic=%FF",
        "match=%FF",
        "match=a%C3",
        "match=%ED%A0%80",
        "match=a&lastEventID=%FF",
        "match=a&%FF=1",
        // Control characters, C0 and C1.
        "match=a%00b",
        "topic=a%7Fb",
        "match=a%C2%9Fb",
    ] {
        let response = hub.subscribe(query, None).await;
        assert_eq!(response.status(), 400, "{query}");
    }
    // Their valid neighbours are accepted.
    for query in ["topic=caf%C3%A9", "match=%F0%9F%98%80", "match=a%C2%A0b"] {
        assert_eq!(hub.subscribe(query, None).await.status(), 200, "{query}");
    }
}

#[tokio::test]
async fn only_the_1_0_matcher_parameters_of_the_dialect_are_known() {
    let hub = start(config().anonymous(true)).await;
    for query in [
        "matchExact=t",
        "matchURLPattern=t",
        "matchexact=t",
        "Match=t",
        "match_Exact=t",
        "match=t&matchExact=u",
    ] {
        let response = hub.subscribe(query, None).await;
        assert_eq!(response.status(), 400, "{query}");
        let body = response.text().await.unwrap();
        assert!(body.contains("unknown topic matcher parameter"), "{body}");
    }
    for query in ["match=t", "match_exact=t", "match_urlpattern=/t/:id"] {
        assert_eq!(hub.subscribe(query, None).await.status(), 200, "{query}");
    }
}

#[tokio::test]
async fn a_0_x_token_does_not_authorize_1_0_subscriptions() {
    for accept in [false, true] {
        let hub = start(
            config()
                .issuer(support::ISSUER)
                .accept_v0_tokens_for_v1(accept),
        )
        .await;
        // A 0.x token: no typ, exp, iss or aud.
        let legacy = hub
            .factory(V0)
            .sign(&serde_json::json!({"mercure": {"subscribe": ["*"]}}))
            .unwrap();
        let response = hub.subscribe("match=t", Some(legacy.expose())).await;
        if !accept {
            assert_eq!(response.status(), 401);
            let challenge = response.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.contains("invalid_token"), "{challenge}");
            // The same token still serves a 0.x subscription.
            let mut reader = hub.stream("topic=t", Some(legacy.expose())).await;
            hub.publish_ok(V0, &[("topic", "t"), ("data", "p"), ("private", "on")])
                .await;
            assert_eq!(reader.next_event().await.unwrap().data(), "p");
            continue;
        }
        // Configured otherwise, the old behaviour: private updates too.
        assert_eq!(response.status(), 200);
        let mut reader = support::SseReader::new(response).await;
        hub.publish_ok(V1, &[("topic", "t"), ("data", "p"), ("private", "on")])
            .await;
        assert_eq!(reader.next_event().await.unwrap().data(), "p");
    }
}

#[tokio::test]
async fn a_1_0_token_is_refused_in_the_authorization_query_parameter() {
    let hub = start(config()).await;
    let v1 = hub.token(V1, &Grants::subscribe_all());
    let response = hub
        .subscribe(&format!("topic=t&authorization={v1}"), None)
        .await;
    assert_eq!(response.status(), 401);
    let v0 = hub.token(V0, &Grants::subscribe_all());
    let response = hub
        .subscribe(&format!("topic=t&authorization={v0}"), None)
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_hub_speaking_one_dialect_refuses_the_other() {
    let v0 = start(
        config()
            .anonymous(true)
            .support(mercure_hub::DialectSupport::V0Only),
    )
    .await;
    assert_eq!(v0.subscribe("match=t", None).await.status(), 400);
    assert_eq!(v0.subscribe("topic=t", None).await.status(), 200);
    let v1 = start(
        config()
            .anonymous(true)
            .support(mercure_hub::DialectSupport::V1Only),
    )
    .await;
    assert_eq!(v1.subscribe("topic=t", None).await.status(), 400);
    assert_eq!(v1.subscribe("match=t", None).await.status(), 200);
}

#[tokio::test]
async fn anonymous_subscribers_are_refused_unless_enabled() {
    let hub = start(config()).await;
    let response = hub.subscribe("match=t", None).await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let hub = start(config().support(mercure_hub::DialectSupport::V0Only)).await;
    let response = hub.subscribe("topic=t", None).await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers().get("www-authenticate").is_none(),
        "no 1.0 challenge from a 0.x hub"
    );
}

#[tokio::test]
async fn token_precedence_header_then_query_then_cookie() {
    let hub = start(config()).await;
    let good = hub.token(V0, &Grants::subscribe_all());
    let send = |query: String, header: Option<&str>, cookie: Option<String>| {
        let mut request = hub.client.get(format!("{}?{query}", hub.url));
        if let Some(header) = header {
            request = request.bearer_auth(header);
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    // A bad header wins over a good query parameter and cookie.
    let response = send(
        format!("topic=t&authorization={good}"),
        Some("bad"),
        Some(format!("mercureAuthorization={good}")),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 401);
    // A bad query parameter wins over a good cookie (0.x).
    let response = send(
        "topic=t&authorization=bad".into(),
        None,
        Some(format!("mercureAuthorization={good}")),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 401);
    // Each alone is accepted.
    assert_eq!(
        send(format!("topic=t&authorization={good}"), None, None)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(
            "topic=t".into(),
            None,
            Some(format!("mercureAuthorization={good}"))
        )
        .await
        .unwrap()
        .status(),
        200
    );
    // 1.0 has no query parameter: it is ignored, so the request is anonymous.
    assert_eq!(
        send(format!("match=t&authorization={good}"), None, None)
            .await
            .unwrap()
            .status(),
        401
    );
    let v1 = hub.token(V1, &Grants::subscribe_all());
    assert_eq!(
        send(
            "match=t".into(),
            None,
            Some(format!("__Secure-mercure_access_token={v1}"))
        )
        .await
        .unwrap()
        .status(),
        200
    );
}

#[tokio::test]
async fn heartbeats_are_sent_between_events() {
    let hub = start(
        config()
            .anonymous(true)
            .heartbeat(Some(std::time::Duration::from_millis(50))),
    )
    .await;
    let mut reader = hub.stream("topic=t", None).await;
    assert_eq!(
        reader.next_block().await.as_deref(),
        Some(":"),
        "opening comment"
    );
    assert_eq!(reader.next_block().await.as_deref(), Some(":"), "heartbeat");
    assert_eq!(reader.next_block().await.as_deref(), Some(":"), "heartbeat");
}

#[tokio::test]
async fn the_connection_closes_when_the_token_expires() {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};
    let issued = 1_900_000_000;
    // The hub's clock stands 200 ms before the token's expiry.
    let hub_clock = mercure_core::clock::ManualClock::new(
        UNIX_EPOCH + Duration::from_millis((issued + 60) * 1000 - 200),
    );
    let hub = start(config().clock(Arc::new(hub_clock))).await;
    let token = mercure_core::token::TokenFactory::builder(
        mercure_core::token::SigningKey::hs256(support::SECRET).unwrap(),
    )
    .lifetime(Duration::from_secs(60))
    .clock(Arc::new(mercure_core::clock::ManualClock::at_unix(issued)))
    .build()
    .unwrap()
    .mint(&Grants::subscribe_all())
    .unwrap();
    let mut reader = hub.stream("topic=t", Some(token.expose())).await;
    assert_eq!(reader.next_block().await.as_deref(), Some(":"));
    assert_eq!(
        reader.next_event().await,
        None,
        "the hub ends the stream at expiry"
    );
    assert!(reader.ended);
    hub.wait_subscribers(0).await;
}

#[tokio::test]
async fn a_slow_client_is_cut_off_and_loses_nothing_when_it_resumes() {
    for lean in [true, false] {
        let builder = config().anonymous(true).queue_capacity(4);
        let hub = if lean {
            start(builder).await
        } else {
            support::start_router(builder).await
        };
        let mut slow = hub.stream("topic=t", None).await;
        // The client reads nothing while 400 updates of 64 KiB go out: the
        // socket buffers fill, then its queue, and the hub cuts it off.
        let data = "x".repeat(64 * 1024);
        let total = 400;
        for i in 0..total {
            hub.publish_ok(
                V0,
                &[("topic", "t"), ("data", &data), ("id", &format!("u{i}"))],
            )
            .await;
        }
        assert_eq!(hub.hub.metrics().subscribers_dropped, 1, "lean: {lean}");
        // Everything the hub had written arrives, then the stream ends.
        let mut ids = Vec::new();
        while let Some(event) = slow.next_event().await {
            assert_eq!(event.data(), data);
            ids.push(event.id.unwrap());
        }
        assert!(
            ids.len() < total,
            "lean: {lean}: the stream should have been cut"
        );
        // Resuming from the last id received delivers the rest from history.
        let last = ids.last().cloned().unwrap();
        let response = hub
            .client
            .get(format!("{}?topic=t", hub.url))
            .header("Last-Event-ID", &last)
            .send()
            .await
            .unwrap();
        let mut resumed = support::SseReader::new(response).await;
        assert_eq!(
            resumed.header("last-event-id").as_deref(),
            Some(last.as_str())
        );
        while ids.len() < total {
            ids.push(resumed.next_event().await.unwrap().id.unwrap());
        }
        let expected: Vec<String> = (0..total).map(|i| format!("u{i}")).collect();
        assert_eq!(ids, expected, "lean: {lean}");
    }
}

#[tokio::test]
async fn the_query_method_subscribes_with_a_form_body_in_1_0() {
    let hub = start(config()).await;
    let token = hub.token(V1, &Grants::subscribe_all());
    let query = reqwest::Method::from_bytes(b"QUERY").unwrap();
    let response = hub
        .client
        .request(query.clone(), &hub.url)
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("match=t&last_event_id=earliest")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = support::SseReader::new(response).await;
    assert_eq!(
        reader.header("mercure-last-event-id").as_deref(),
        Some("earliest")
    );
    hub.publish_ok(V1, &[("topic", "t"), ("data", "via QUERY")])
        .await;
    assert_eq!(reader.next_event().await.unwrap().data(), "via QUERY");
    // 0.x selectors, unknown matchers and other methods are refused.
    let refused = |body: &'static str, method: reqwest::Method| {
        hub.client
            .request(method, &hub.url)
            .bearer_auth(&token)
            .body(body)
            .send()
    };
    assert_eq!(
        refused("topic=t", query.clone()).await.unwrap().status(),
        400
    );
    assert_eq!(refused("matchFoo=t", query).await.unwrap().status(), 400);
    assert_eq!(
        refused("match=t", reqwest::Method::PUT)
            .await
            .unwrap()
            .status(),
        405
    );
}

#[tokio::test]
async fn the_query_method_subscribes_to_the_union_of_query_string_and_body() {
    let hub = start(config()).await;
    let token = hub.token(V1, &Grants::subscribe_all());
    let query = reqwest::Method::from_bytes(b"QUERY").unwrap();
    let response = hub
        .client
        .request(query.clone(), format!("{}?match=from-query", hub.url))
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("match=from-body")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = support::SseReader::new(response).await;
    for topic in ["from-query", "from-body", "neither", "sentinel-query"] {
        hub.publish_ok(V1, &[("topic", topic), ("data", topic)])
            .await;
    }
    hub.publish_ok(V1, &[("topic", "from-query"), ("data", "end")])
        .await;
    let mut got = Vec::new();
    while got.last().map(String::as_str) != Some("end") {
        got.push(reader.next_event().await.unwrap().data());
    }
    assert_eq!(got, ["from-query", "from-body", "end"]);
    // The union is checked as one request: mixing dialects, invalid
    // selectors or too many of them in either part is refused.
    let hub = start(config().selector_limits(2, 64)).await;
    let token = hub.token(V1, &Grants::subscribe_all());
    for (query_string, body) in [
        ("topic=a", "match=b"),
        ("match=a", "topic=b"),
        ("match=a", "match=%FF"),
        ("match=a%E2%80%8B", "match=b"),
        ("match=a&match=b", "match=c"),
        ("", "matchExact=b"),
    ] {
        let response = hub
            .client
            .request(query.clone(), format!("{}?{query_string}", hub.url))
            .bearer_auth(&token)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query_string} + {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_reach_every_subscriber_in_history_order() {
    for lean in [true, false] {
        let builder = config().anonymous(true);
        let hub = if lean {
            start(builder).await
        } else {
            support::start_router(builder).await
        };
        // More subscribers than one batch of publisher-side writes.
        let count = 40;
        let mut readers = Vec::new();
        for _ in 0..count {
            readers.push(hub.stream("topic=t", None).await);
        }
        hub.wait_subscribers(count).await;
        // Four threads publish at once, in-process, each on a runtime of
        // its own; each update carries its own id.
        let publishers = 4;
        let each = 50;
        let data = "d".repeat(2048);
        let threads: Vec<_> = (0..publishers)
            .map(|p| {
                let hub = hub.hub.clone();
                let data = data.clone();
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    for i in 0..each {
                        let update = mercure_core::Update::builder("t")
                            .data(data.as_str())
                            .id(format!("p{p}-{i}"))
                            .build()
                            .unwrap();
                        runtime.block_on(hub.publish(&update)).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let total = publishers * each;
        // History order, as a replay from the earliest event gives it.
        let mut replay = hub.stream("topic=t&lastEventID=earliest", None).await;
        let mut history = Vec::new();
        while history.len() < total {
            history.push(replay.next_event().await.unwrap().id.unwrap());
        }
        for reader in &mut readers {
            let mut ids = Vec::new();
            while ids.len() < total {
                let event = reader.next_event().await.unwrap();
                assert_eq!(event.data(), data);
                ids.push(event.id.unwrap());
            }
            assert_eq!(ids, history, "lean: {lean}");
        }
    }
}
