//! Server-selected streams and `permission_changed` on the embedded hub,
//! driven with `actix_web::test`.

use std::pin::Pin;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use mercure_actix::client::Update;
use mercure_actix::client::token::{SigningKey, TokenFactory};
use mercure_actix::hub::{EmbeddedHub, HubConfig, VerificationKey};
use mercure_actix::web::{FnTopicAuthorizer, TopicSelector, WebError};
use mercure_actix::{Mercure, ServerStream};

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
    id: web::Path<u32>,
    request: HttpRequest,
    stream: ServerStream,
) -> mercure_actix::Result<HttpResponse> {
    let user = request
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok());
    stream
        .open(user, [format!("https://example.com/objects/{id}")])
        .await
}

macro_rules! app {
    ($mercure:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($mercure))
                .route("/objects/{id}/events", web::get().to(object_events)),
        )
        .await
    };
}

fn request(uri: &str, user: Option<&str>) -> test::TestRequest {
    let request = test::TestRequest::get().uri(uri);
    match user {
        Some(user) => request.insert_header(("x-user", user)),
        None => request,
    }
}

/// The next chunk of an event stream, within a bounded wait.
async fn next_chunk<B: MessageBody + Unpin>(body: &mut B) -> Option<String> {
    let next = tokio::time::timeout(
        Duration::from_secs(5),
        std::future::poll_fn(|cx| Pin::new(&mut *body).poll_next(cx)),
    )
    .await
    .expect("the stream answers within 5 s")?;
    let bytes = next.ok().expect("a chunk");
    Some(String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

async fn read_until<B: MessageBody + Unpin>(body: &mut B, needle: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        seen.push_str(&next_chunk(body).await.expect("the stream goes on"));
    }
    seen
}

#[actix_web::test]
async fn a_handler_streams_the_topics_it_chooses_private_updates_included() {
    let hub = embedded();
    let app = app!(mercure(&hub));
    let response =
        test::call_service(&app, request("/objects/1/events", Some("ada")).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        *response
            .headers()
            .get(header::CONTENT_TYPE)
            .expect("content type"),
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

#[actix_web::test]
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
    let app = app!(mercure(&hub));
    let response = test::call_service(
        &app,
        request("/objects/1/events", None)
            .insert_header(("last-event-id", first.as_str()))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        *response
            .headers()
            .get("last-event-id")
            .expect("resume header"),
        first.as_str()
    );
    let seen = read_until(&mut response.into_body(), "data: two").await;
    assert!(!seen.contains("data: one"), "{seen}");
}

#[actix_web::test]
async fn the_authorizer_may_refuse_a_server_selected_stream() {
    let hub = embedded();
    let mercure = mercure(&hub).authorizer(FnTopicAuthorizer::new(
        |user: Option<&str>, topic: &TopicSelector| {
            user == Some("ada") || topic.expression().ends_with("/objects/1")
        },
    ));
    let app = app!(mercure);
    let response =
        test::call_service(&app, request("/objects/2/events", Some("bob")).to_request()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(hub.subscriptions().is_empty());
    let response =
        test::call_service(&app, request("/objects/2/events", Some("ada")).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[actix_web::test]
async fn permission_changed_closes_the_affected_subscriptions() {
    let hub = embedded();
    let mercure = mercure(&hub);
    let app = app!(mercure.clone());
    let mut ada = test::call_service(&app, request("/objects/1/events", Some("ada")).to_request())
        .await
        .into_body();
    let mut ada_elsewhere =
        test::call_service(&app, request("/objects/2/events", Some("ada")).to_request())
            .await
            .into_body();
    let mut bob = test::call_service(&app, request("/objects/1/events", Some("bob")).to_request())
        .await
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

#[actix_web::test]
async fn without_an_embedded_hub() {
    let hub = mercure_actix::client::Hub::builder("https://example.com/.well-known/mercure")
        .build()
        .expect("hub");
    let mercure = Mercure::new(hub);
    assert!(matches!(
        mercure.permission_changed("ada", "/x"),
        Err(WebError::NoEmbeddedHub)
    ));
    let app = app!(mercure);
    let response = test::call_service(&app, request("/objects/1/events", None).to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
