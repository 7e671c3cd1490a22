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
async fn honours_a_supplied_id_and_is_idempotent_on_retry() {
    let hub = start(config()).await;
    let mut reader = hub
        .stream("topic=t", Some(&hub.token(V0, &Grants::subscribe_all())))
        .await;
    let form = [("topic", "t"), ("data", "first"), ("id", "my-id")];
    assert_eq!(hub.publish_ok(V0, &form).await, "my-id");
    // The retry is answered like the first publish and not delivered again.
    assert_eq!(
        hub.publish_ok(V0, &[("topic", "t"), ("data", "retry"), ("id", "my-id")])
            .await,
        "my-id"
    );
    hub.publish_ok(V0, &[("topic", "t"), ("data", "sentinel")])
        .await;
    let first = reader.next_event().await.unwrap();
    assert_eq!(
        (first.id.as_deref(), first.data().as_str()),
        (Some("my-id"), "first")
    );
    assert_eq!(reader.next_event().await.unwrap().data(), "sentinel");
    assert_eq!(hub.hub.metrics().updates_deduplicated, 1);
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
async fn applies_the_extra_rules_of_1_0() {
    let hub = start(config()).await;
    let cases: &[(Form<'_>, u16, u16)] = &[
        // form, status with a 0.x token, status with a 1.0 token
        (&[("topic", "*")], 200, 400),
        (&[("topic", "t"), ("type", "mercure")], 200, 400),
        (&[("topic", "/.well-known/mercure")], 200, 400),
        (
            &[("topic", "/.well-known/mercure/subscriptions/x/y")],
            200,
            400,
        ),
        (&[("topic", "/.well-known/mercure-not-the-hub")], 200, 200),
        (
            &[("topic", "t"), ("topic", "/.well-known/mercure/x")],
            200,
            400,
        ),
    ];
    for (form, v0, v1) in cases {
        let (status, body) = hub
            .publish(&hub.token(V0, &Grants::publish_all()), form)
            .await;
        assert_eq!(status, *v0, "0.x {form:?}: {body}");
        let (status, body) = hub
            .publish(&hub.token(V1, &Grants::publish_all()), form)
            .await;
        assert_eq!(status, *v1, "1.0 {form:?}: {body}");
    }
    // The absolute form of the hub's own namespace is reserved too.
    let reserved = format!("{}/subscriptions/x", hub.url);
    let (status, _) = hub
        .publish(
            &hub.token(V1, &Grants::publish_all()),
            &[("topic", &reserved)],
        )
        .await;
    assert_eq!(status, 400);
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
    assert_eq!(hub.hub.publish(&update).unwrap().as_str(), "p-1");
    let event = reader.next_event().await.unwrap();
    assert_eq!(
        (event.id.as_deref(), event.data().as_str()),
        (Some("p-1"), "in-process")
    );
    // The embedding application is held to the protocol's rules too.
    let reserved = mercure_core::Update::new("/.well-known/mercure/x", "").unwrap();
    assert!(matches!(
        hub.hub.publish(&reserved),
        Err(mercure_hub::Error::ReservedTopic { .. })
    ));
}
