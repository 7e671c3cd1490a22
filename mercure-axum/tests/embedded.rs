//! Server-selected streams and `permission_changed` on the embedded hub,
//! driven with `tower::ServiceExt::oneshot`.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use http_body_util::BodyExt as _;
use mercure_axum::client::Update;
use mercure_axum::client::token::{SigningKey, TokenFactory};
use mercure_axum::hub::{EmbeddedHub, HubConfig, Subscription, VerificationKey};
use mercure_axum::web::{FnTopicAuthorizer, TopicSelector, WebError};
use mercure_axum::{Mercure, ServerStream};
use tower::ServiceExt as _;

const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";

fn embedded() -> EmbeddedHub {
    EmbeddedHub::new(
        HubConfig::builder()
            .url("https://example.com/.well-known/mercure")
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .heartbeat(None)
            .build()
            .expect("config"),
    )
}

fn mercure(hub: &EmbeddedHub) -> Mercure {
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .build()
        .expect("factory");
    Mercure::embedded(hub.clone(), factory).expect("mercure")
}

/// `/objects/{id}/events`: the stream of one object, for the user named
/// in `x-user`.
async fn object_events(
    Path(id): Path<u32>,
    headers: axum::http::HeaderMap,
    stream: ServerStream,
) -> mercure_axum::Result<Subscription> {
    let user = headers.get("x-user").and_then(|v| v.to_str().ok());
    stream
        .open(user, [format!("https://example.com/objects/{id}")])
        .await
}

fn app(mercure: Mercure) -> Router {
    Router::new()
        .route("/objects/{id}/events", get(object_events))
        .with_state(mercure)
}

/// The next chunk of an event stream, within a bounded wait.
async fn next_chunk(body: &mut Body) -> Option<String> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("the stream answers within 5 s")?
            .expect("a frame");
        if let Ok(data) = frame.into_data() {
            return Some(String::from_utf8(data.to_vec()).expect("utf-8"));
        }
    }
}

/// Reads until a chunk contains `needle`.
async fn read_until(body: &mut Body, needle: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        let chunk = next_chunk(body).await.expect("the stream goes on");
        seen.push_str(&chunk);
    }
    seen
}

fn request(uri: &str, user: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(uri);
    if let Some(user) = user {
        builder = builder.header("x-user", user);
    }
    builder.body(Body::empty()).expect("request")
}

#[tokio::test]
async fn a_handler_streams_the_topics_it_chooses_private_updates_included() {
    let hub = embedded();
    let response = app(mercure(&hub))
        .oneshot(request("/objects/1/events", Some("ada")))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();
    let _opening = next_chunk(&mut body).await;

    hub.publish(
        &Update::builder("https://example.com/objects/2")
            .data("other")
            .build()
            .expect("update"),
    )
    .await
    .expect("publish");
    hub.publish(
        &Update::builder("https://example.com/objects/1")
            .data("secret")
            .private(true)
            .build()
            .expect("update"),
    )
    .await
    .expect("publish");
    let seen = read_until(&mut body, "data: secret").await;
    assert!(!seen.contains("data: other"), "{seen}");
}

#[tokio::test]
async fn a_reconnecting_client_resumes_after_its_last_event_id() {
    let hub = embedded();
    let first = hub
        .publish(
            &Update::builder("https://example.com/objects/1")
                .data("one")
                .build()
                .expect("update"),
        )
        .await
        .expect("publish");
    hub.publish(
        &Update::builder("https://example.com/objects/1")
            .data("two")
            .build()
            .expect("update"),
    )
    .await
    .expect("publish");
    let mut request = request("/objects/1/events", None);
    request
        .headers_mut()
        .insert("last-event-id", first.as_str().parse().expect("header"));
    let response = app(mercure(&hub)).oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["last-event-id"], first.as_str());
    let seen = read_until(&mut response.into_body(), "data: two").await;
    assert!(!seen.contains("data: one"), "{seen}");
}

#[tokio::test]
async fn the_authorizer_may_refuse_a_server_selected_stream() {
    let hub = embedded();
    let mercure = mercure(&hub).authorizer(FnTopicAuthorizer::new(
        |user: Option<&str>, topic: &TopicSelector| {
            user == Some("ada") || topic.expression().ends_with("/objects/1")
        },
    ));
    let app = app(mercure);
    let response = app
        .clone()
        .oneshot(request("/objects/2/events", Some("bob")))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(hub.subscriptions().is_empty());
    let response = app
        .oneshot(request("/objects/2/events", Some("ada")))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn permission_changed_closes_the_affected_subscriptions() {
    let hub = embedded();
    let mercure = mercure(&hub);
    let app = app(mercure.clone());
    let mut ada = app
        .clone()
        .oneshot(request("/objects/1/events", Some("ada")))
        .await
        .expect("ok")
        .into_body();
    let mut ada_elsewhere = app
        .clone()
        .oneshot(request("/objects/2/events", Some("ada")))
        .await
        .expect("ok")
        .into_body();
    let mut bob = app
        .oneshot(request("/objects/1/events", Some("bob")))
        .await
        .expect("ok")
        .into_body();
    for body in [&mut ada, &mut ada_elsewhere, &mut bob] {
        let _opening = next_chunk(body).await;
    }

    assert_eq!(
        mercure
            .permission_changed("ada", "https://example.com/objects/1")
            .expect("embedded"),
        1
    );
    assert_eq!(
        next_chunk(&mut ada).await,
        None,
        "ada's stream of object 1 ends"
    );

    hub.publish(
        &Update::builder("https://example.com/objects/1")
            .data("still")
            .build()
            .expect("update"),
    )
    .await
    .expect("publish");
    hub.publish(
        &Update::builder("https://example.com/objects/2")
            .data("also")
            .build()
            .expect("update"),
    )
    .await
    .expect("publish");
    read_until(&mut bob, "data: still").await;
    read_until(&mut ada_elsewhere, "data: also").await;
}

#[tokio::test]
async fn without_an_embedded_hub() {
    let hub = mercure_axum::client::Hub::builder("https://example.com/.well-known/mercure")
        .build()
        .expect("hub");
    let mercure = Mercure::new(hub);
    assert!(matches!(
        mercure.permission_changed("ada", "/x"),
        Err(WebError::NoEmbeddedHub)
    ));
    let response = app(mercure)
        .oneshot(request("/objects/1/events", None))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
