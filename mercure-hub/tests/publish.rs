//! Publishing: form fields, validation per dialect, ids, authorization.

mod support;

use mercure_core::token::Grants;
use mercure_core::{ProtocolVersion, TopicSelector};
use support::{config, start};

const V0: ProtocolVersion = ProtocolVersion::V0;
const V1: ProtocolVersion = ProtocolVersion::V1;

type Form<'a> = &'a [(&'a str, &'a str)];

#[tokio::test]
async fn answers_the_id_as_text_plain_and_generates_urn_uuids() {
    let hub = start(config()).await;
    let token = hub.token(V0, &Grants::publish_all());
    let response = hub
        .client
        .post(&hub.url)
        .bearer_auth(&token)
        .form(&[("topic", "https://example.com/books/1"), ("data", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let id = response.text().await.unwrap();
    let uuid = id.strip_prefix("urn:uuid:").expect("urn:uuid id");
    assert_eq!(uuid.len(), 36);
    assert_eq!(
        hub.hub
            .last_event_id()
            .as_ref()
            .map(mercure_core::EventId::as_str),
        Some(id.as_str())
    );
}

#[tokio::test]
async fn honours_a_supplied_id_an_exact_retry_is_idempotent_and_a_reuse_is_delivered() {
    for dialect in [V0, V1] {
        let hub = start(config()).await;
        let (topic, id) = ("https://example.com/t", "urn:example:my-id");
        let mut reader = hub
            .stream(
                &format!("{}={topic}", if dialect == V0 { "topic" } else { "match" }),
                Some(&hub.token(dialect, &Grants::subscribe_all())),
            )
            .await;
        let first = [("topic", topic), ("data", "first"), ("id", id)];
        assert_eq!(hub.publish_ok(dialect, &first).await, id);
        // The exact retry is answered like the first publish and not
        // delivered again.
        assert_eq!(hub.publish_ok(dialect, &first).await, id);
        // Another update reusing the id is delivered, never dropped.
        let reuse = [("topic", topic), ("data", "reuse"), ("id", id)];
        assert_eq!(hub.publish_ok(dialect, &reuse).await, id);
        hub.publish_ok(dialect, &[("topic", topic), ("data", "sentinel")])
            .await;
        let mut received = Vec::new();
        for _ in 0..3 {
            let event = reader.next_event().await.unwrap();
            received.push((event.id.clone().unwrap_or_default(), event.data()));
        }
        assert_eq!(
            received[0],
            (id.to_owned(), "first".to_owned()),
            "{dialect}"
        );
        assert_eq!(
            received[1],
            (id.to_owned(), "reuse".to_owned()),
            "{dialect}"
        );
        assert_eq!(received[2].1, "sentinel", "{dialect}");
        assert_eq!(hub.hub.metrics().updates_deduplicated, 1, "{dialect}");
        // Resuming from the shared id starts after the earliest update that
        // has it: the reuse is sent again, the first is not.
        let mut resumed = hub
            .stream(
                &format!(
                    "{}={topic}&lastEventID={id}",
                    if dialect == V0 { "topic" } else { "match" }
                ),
                Some(&hub.token(dialect, &Grants::subscribe_all())),
            )
            .await;
        assert_eq!(resumed.next_event().await.unwrap().data(), "reuse");
        assert_eq!(resumed.next_event().await.unwrap().data(), "sentinel");
    }
}

#[tokio::test]
async fn rejects_invalid_updates_in_both_dialects() {
    let hub = start(config()).await;
    let cases: &[(Form<'_>, u16)] = &[
        (&[("data", "no topic")], 400),
        (&[("topic", "")], 400),
        (&[("topic", "t"), ("id", "#hub")], 400),
        (&[("topic", "t"), ("id", "earliest")], 400),
        (&[("topic", "t"), ("retry", "10s")], 400),
        (&[("topic", "t"), ("retry", "-5")], 400),
        (&[("topic", "t"), ("type", "a\nb")], 400),
        (&[("topic", "t"), ("id", "a\rb")], 400),
        (&[("topic", "a\u{7}b")], 400),
        (&[("topic", "t\u{200B}")], 400),
        (&[("topic", "t"), ("retry", "1500")], 200),
    ];
    for version in [V0, V1] {
        for (form, expected) in cases {
            let token = hub.token(version, &Grants::publish_all());
            let (status, body) = hub.publish(&token, form).await;
            assert_eq!(status, *expected, "{version} {form:?}: {body}");
        }
    }
}

#[tokio::test]
async fn a_hub_speaking_1_0_applies_its_rules_to_every_publisher() {
    // Validation follows what the hub serves, not the token's shape: on a
    // hub speaking both dialects, a 0.x publisher is held to the 1.0 rules
    // too (its namespace and event type are the hub's own).
    let both = start(config()).await;
    let v0_only = start(config().support(mercure_hub::DialectSupport::V0Only)).await;
    let cases: &[(Form<'_>, u16)] = &[
        // form, status on a 0.x-only hub
        (&[("topic", "*")], 200),
        (&[("topic", "t"), ("type", "mercure")], 200),
        (&[("topic", "/.well-known/mercure")], 200),
        (&[("topic", "/.well-known/mercure/subscriptions/x/y")], 200),
        (&[("topic", "t"), ("topic", "/.well-known/mercure/x")], 200),
    ];
    for (form, on_v0_only) in cases {
        for version in [V0, V1] {
            let (status, body) = both
                .publish(&both.token(version, &Grants::publish_all()), form)
                .await;
            assert_eq!(status, 400, "both, {version} token, {form:?}: {body}");
        }
        let (status, body) = v0_only
            .publish(&v0_only.token(V0, &Grants::publish_all()), form)
            .await;
        assert_eq!(status, *on_v0_only, "0.x only, {form:?}: {body}");
    }
    for version in [V0, V1] {
        let (status, body) = both
            .publish(
                &both.token(version, &Grants::publish_all()),
                &[("topic", "/.well-known/mercure-not-the-hub")],
            )
            .await;
        assert_eq!(status, 200, "{version}: {body}");
    }
    // The absolute form of the hub's own namespace is reserved too.
    let reserved = format!("{}/subscriptions/x", both.url);
    let (status, _) = both
        .publish(
            &both.token(V1, &Grants::publish_all()),
            &[("topic", &reserved)],
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn percent_encoded_unreserved_characters_do_not_hide_the_reserved_namespace() {
    let hub = start(config()).await;
    let absolute = format!("{}/.well-known/%6dercure/subscriptions/y", hub.origin);
    for topic in [
        "/.well-known/%6Dercure/subscriptions/y",
        "/.well-known/%6dercure",
        "/%2Ewell-known/mercure/subscriptions/exact/x/y",
        "/.well-known/m%65rcur%65/x",
        "https://elsewhere.example.org/.well-known/%6Dercure/x",
        &absolute,
    ] {
        for version in [V0, V1] {
            let token = hub.token(version, &Grants::publish_all());
            let (status, body) = hub.publish(&token, &[("topic", topic)]).await;
            assert_eq!(status, 400, "{version} {topic}: {body}");
            assert!(body.contains("reserved namespace"), "{body}");
            // As an alternate topic too.
            let (status, _) = hub
                .publish(
                    &token,
                    &[("topic", "https://example.com/a"), ("topic", topic)],
                )
                .await;
            assert_eq!(status, 400, "{version} alternate {topic}");
        }
    }
    // Escapes of reserved characters are not decoded: not the namespace.
    let (status, body) = hub
        .publish(
            &hub.token(V1, &Grants::publish_all()),
            &[("topic", "/.well-known%2Fmercure/x")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_0_x_token_cannot_forge_1_0_subscription_events() {
    let hub = start(config().subscriptions(true)).await;
    // A 1.0 watcher of subscription events, and of a sentinel topic.
    let watcher = hub.token(V1, &Grants::subscribe_all());
    let mut reader = hub
        .stream(
            "match_urlpattern=%2F.well-known%2Fmercure%2Fsubscriptions%2F*&match=sentinel",
            Some(&watcher),
        )
        .await;
    let forged = "/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fa/forged";
    let document = r#"{"id":"forged","type":"subscription","active":true}"#;
    for version in [V0, V1] {
        for form in [
            &[
                ("topic", forged),
                ("data", document),
                ("type", "mercure"),
                ("private", "on"),
            ][..],
            &[("topic", forged), ("data", document)],
            &[("topic", "t"), ("data", document), ("type", "mercure")],
        ] {
            let (status, body) = hub
                .publish(&hub.token(version, &Grants::publish_all()), form)
                .await;
            assert_eq!(status, 400, "{version} {form:?}: {body}");
        }
    }
    hub.publish_ok(V0, &[("topic", "sentinel"), ("data", "sentinel")])
        .await;
    loop {
        let event = reader.next_event().await.expect("stream ended");
        if event.data() == "sentinel" {
            break;
        }
        // Only the hub's own events (the watcher's subscriptions) came first.
        assert!(!event.data().contains("forged"), "{event:?}");
    }
}

#[tokio::test]
async fn publishing_refuses_bytes_that_are_not_utf8_and_empty_ids() {
    let hub = start(config()).await;
    let token = hub.token(V0, &Grants::publish_all());
    let send = |body: &'static [u8]| {
        hub.client
            .post(&hub.url)
            .bearer_auth(&token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    for body in [
        &b"topic=t&data=%FF"[..],
        b"topic=%FF",
        b"topic=t&data=caf%C3",
        b"topic=t&data=\xff\xfe",
        b"topic=\xc3(",
        b"topic=t&id=%ED%A0%80",
        b"topic=t&%FF=x",
        b"topic=t&id=",
    ] {
        let response = send(body).await.unwrap();
        assert_eq!(response.status(), 400, "{}", String::from_utf8_lossy(body));
    }
    // The valid counterparts are accepted, and an empty id is not echoed.
    let response = send(b"topic=t&data=caf%C3%A9").await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(!response.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_number_of_topics_of_an_update_is_limited() {
    let default = start(config()).await;
    let topics: Vec<String> = (0..=mercure_hub::DEFAULT_MAX_TOPICS)
        .map(|i| format!("https://example.com/{i}"))
        .collect();
    let form = |n: usize| -> Vec<(&str, &str)> {
        topics[..n].iter().map(|t| ("topic", t.as_str())).collect()
    };
    let token = default.token(V0, &Grants::publish_all());
    let (status, body) = default
        .publish(&token, &form(mercure_hub::DEFAULT_MAX_TOPICS))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = default
        .publish(&token, &form(mercure_hub::DEFAULT_MAX_TOPICS + 1))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("at most 100 topics"), "{body}");
    // Configurable, in-process publishing included.
    let small = start(config().max_topics(2)).await;
    let token = small.token(V1, &Grants::publish_all());
    assert_eq!(small.publish(&token, &form(2)).await.0, 200);
    assert_eq!(small.publish(&token, &form(3)).await.0, 400);
    let update = mercure_core::Update::builder("a")
        .alternates(["b", "c"])
        .build()
        .unwrap();
    assert!(matches!(
        small.hub.publish(&update).await,
        Err(mercure_hub::Error::InvalidPublish(_))
    ));
}

#[tokio::test]
async fn a_1_0_token_cannot_publish_from_the_query_string() {
    let hub = start(config()).await;
    for (version, expected) in [(V0, 200), (V1, 401)] {
        let token = hub.token(version, &Grants::publish_all());
        let response = hub
            .client
            .post(format!("{}?authorization={token}", hub.url))
            .form(&[("topic", "t")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{version}");
    }
}

#[tokio::test]
async fn a_hub_speaking_only_1_0_applies_its_rules_and_refuses_0_x_tokens() {
    let hub = start(config().support(mercure_hub::DialectSupport::V1Only)).await;
    let (status, _) = hub
        .publish(&hub.token(V0, &Grants::publish_all()), &[("topic", "t")])
        .await;
    assert_eq!(status, 401);
    let (status, _) = hub
        .publish(&hub.token(V1, &Grants::publish_all()), &[("topic", "*")])
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_publisher_must_be_allowed_for_every_topic() {
    let hub = start(config()).await;
    for version in [V0, V1] {
        let pattern = match version {
            V0 => TopicSelector::exact("https://example.com/books/{id}"),
            V1 => TopicSelector::pattern("https://example.com/books/:id"),
        };
        let token = hub.token(version, &Grants::new().publish([pattern]));
        let allowed = [
            ("topic", "https://example.com/books/1"),
            ("topic", "https://example.com/books/2"),
        ];
        assert_eq!(hub.publish(&token, &allowed).await.0, 200, "{version}");
        let one_forbidden = [
            ("topic", "https://example.com/books/1"),
            ("topic", "https://example.com/users/1"),
        ];
        assert_eq!(
            hub.publish(&token, &one_forbidden).await.0,
            403,
            "{version}"
        );
        let subscriber_only = hub.token(version, &Grants::subscribe_all());
        assert_eq!(
            hub.publish(
                &subscriber_only,
                &[("topic", "https://example.com/books/1")]
            )
            .await
            .0,
            403
        );
    }
    assert!(hub.hub.metrics().updates_rejected >= 4);
}

#[tokio::test]
async fn refuses_publishing_without_a_valid_token() {
    let hub = start(config()).await;
    let response = hub
        .client
        .post(&hub.url)
        .form(&[("topic", "t")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("resource_metadata=\""), "{challenge}");
    let (status, _) = hub.publish("not.a.token", &[("topic", "t")]).await;
    assert_eq!(status, 401);
    let response = hub
        .client
        .post(&hub.url)
        .bearer_auth("garbage")
        .form(&[("topic", "t")])
        .send()
        .await
        .unwrap();
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[tokio::test]
async fn refuses_bodies_over_the_limit_with_413() {
    let hub = start(config().max_body(1024)).await;
    let token = hub.token(V0, &Grants::publish_all());
    let big = "x".repeat(2048);
    let (status, _) = hub.publish(&token, &[("topic", "t"), ("data", &big)]).await;
    assert_eq!(status, 413);
    let (status, _) = hub
        .publish(&token, &[("topic", "t"), ("data", "small")])
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refuses_other_content_types() {
    let hub = start(config()).await;
    let response = hub
        .client
        .post(&hub.url)
        .bearer_auth(hub.token(V0, &Grants::publish_all()))
        .header("content-type", "application/json")
        .body(r#"{"topic":"t"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn cookie_publishing_needs_an_allowed_origin() {
    let hub = start(config().publish_origin("https://app.example.com")).await;
    let token = hub.token(V0, &Grants::publish_all());
    let send = |origin: Option<&'static str>| {
        let mut request = hub
            .client
            .post(&hub.url)
            .header("cookie", format!("mercureAuthorization={token}"))
            .form(&[("topic", "t")]);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    assert_eq!(
        send(Some("https://app.example.com"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(Some("https://evil.example.net"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(send(None).await.unwrap().status(), 403);
}

#[tokio::test]
async fn in_process_publishing_shares_the_delivery_path() {
    let hub = start(config()).await;
    let mut reader = hub
        .stream("topic=t", Some(&hub.token(V0, &Grants::subscribe_all())))
        .await;
    let update = mercure_core::Update::builder("t")
        .data("in-process")
        .id("p-1")
        .build()
        .unwrap();
    assert_eq!(hub.hub.publish(&update).await.unwrap().as_str(), "p-1");
    let event = reader.next_event().await.unwrap();
    assert_eq!(
        (event.id.as_deref(), event.data().as_str()),
        (Some("p-1"), "in-process")
    );
    // The embedding application is held to the protocol's rules too.
    let reserved = mercure_core::Update::new("/.well-known/mercure/x", "").unwrap();
    assert!(matches!(
        hub.hub.publish(&reserved).await,
        Err(mercure_hub::Error::ReservedTopic { .. })
    ));
}
