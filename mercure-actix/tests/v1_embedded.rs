//! The actix adapter in Mercure 1.0 with its embedded hub: a handler sets
//! the `__Secure-mercure_access_token` cookie (an RFC 9068 access token
//! with `authorization_details`), the embedded hub, served on loopback,
//! delivers a private update to the subscriber presenting that cookie and
//! not to an anonymous one, and server-selected streams answer with the
//! 1.0 resume header.

#[allow(dead_code)]
#[path = "../../tests/v1_support/mod.rs"]
mod v1_support;

use std::pin::Pin;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, test, web};
use mercure_actix::client::token::{SigningKey, TokenFactory};
use mercure_actix::client::{ProtocolVersion, Update};
use mercure_actix::hub::{EmbeddedHub, HubConfig, VerificationKey};
use mercure_actix::{Mercure, MercureCookies, MercureResponseExt, ServerStream};
use serde_json::json;
use v1_support::{PATIENCE, RawConnection, percent_encode as encode};

const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
const HUB: &str = "https://example.com/.well-known/mercure";
const ISSUER: &str = "https://example.com";
const TOPIC: &str = "https://example.com/books/1";

fn embedded() -> EmbeddedHub {
    EmbeddedHub::new(
        HubConfig::builder()
            .url(HUB)
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .anonymous(true)
            .heartbeat(None)
            .build()
            .expect("config"),
    )
}

fn mercure(hub: &EmbeddedHub) -> Mercure {
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .protocol(ProtocolVersion::V1)
        .issuer(ISSUER)
        .audience(HUB)
        .lifetime(Duration::from_secs(600))
        .build()
        .expect("factory");
    Mercure::embedded(hub.clone(), factory).expect("mercure")
}

async fn book(
    id: web::Path<u32>,
    mut cookies: MercureCookies,
) -> mercure_actix::Result<HttpResponse> {
    cookies.subscribe([format!("https://example.com/books/{id}")])?;
    Ok(HttpResponse::Ok()
        .mercure_cookies(&cookies)
        .body(format!("book {id}")))
}

async fn book_events(
    id: web::Path<u32>,
    stream: ServerStream,
) -> mercure_actix::Result<HttpResponse> {
    stream
        .open(None, [format!("https://example.com/books/{id}")])
        .await
}

fn set_cookies<B>(response: &ServiceResponse<B>) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

/// Serves `hub`'s router on 127.0.0.1, port 0; its `http://` base URL.
async fn serve(hub: &EmbeddedHub) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let address = listener.local_addr().expect("address");
    tokio::spawn(mercure_actix::hub::serve(listener, hub.router()));
    format!("http://{address}")
}

#[actix_web::test]
async fn the_handlers_cookie_carries_a_1_0_token_that_the_embedded_hub_honours() {
    let hub = embedded();
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(mercure(&hub)))
            .route("/books/{id}", web::get().to(book)),
    )
    .await;
    let response = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/books/1")
            .insert_header((header::HOST, "www.example.com"))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let (pair, attributes) = cookies[0].split_once("; ").expect("attributes");
    let (name, token) = pair.split_once('=').expect("name=value");
    assert_eq!(name, "__Secure-mercure_access_token");
    let mut attributes: Vec<&str> = attributes.split("; ").collect();
    attributes.sort_unstable();
    assert_eq!(
        attributes,
        [
            "Domain=example.com",
            "HttpOnly",
            "Max-Age=600",
            "Path=/.well-known/mercure",
            "SameSite=Strict",
            "Secure"
        ]
    );

    // The value: an RFC 9068 access token for the hub, with draft-08 grants.
    mercure_core::crypto::install_default_provider();
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&[HUB]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET),
        &validation,
    )
    .expect("verifies")
    .claims;
    assert_eq!(
        claims["authorization_details"],
        json!([{
            "type": "https://mercure.rocks/authorization-detail",
            "actions": ["subscribe"],
            "topics": [{"match": TOPIC}],
        }])
    );
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        600
    );

    // The embedded hub, served on loopback: the cookie holder gets the
    // private update, an anonymous subscriber only the public one.
    let base = serve(&hub).await;
    let target = format!("/.well-known/mercure?match={}", encode(TOPIC));
    let cookie = format!("__Secure-mercure_access_token={token}");
    let (mut holder, head) =
        RawConnection::send(&base, "GET", &target, &[("Cookie", &cookie)], b"").await;
    assert_eq!(head.status(), 200);
    assert!(
        head.header("mercure-last-event-id").is_some(),
        "{:?}",
        head.headers
    );
    assert_eq!(head.header("last-event-id"), None);
    let (mut anonymous, head) = RawConnection::send(&base, "GET", &target, &[], b"").await;
    assert_eq!(head.status(), 200);

    hub.publish(
        &Update::builder(TOPIC)
            .data("private")
            .private(true)
            .build()
            .expect("update"),
    )
    .await
    .expect("publish");
    hub.publish(&Update::new(TOPIC, "public").expect("update"))
        .await
        .expect("publish");
    let seen = String::from_utf8(holder.read_until(b"data: public\n\n").await).expect("UTF-8");
    assert!(seen.contains("data: private\n"), "{seen:?}");
    let seen = String::from_utf8(anonymous.read_until(b"data: public\n\n").await).expect("UTF-8");
    assert!(!seen.contains("data: private"), "{seen:?}");
}

#[actix_web::test]
async fn a_server_selected_stream_resumes_with_the_1_0_header() {
    let hub = embedded();
    let first = hub
        .publish(&Update::new(TOPIC, "one").expect("update"))
        .await
        .expect("publish");
    hub.publish(&Update::new(TOPIC, "two").expect("update"))
        .await
        .expect("publish");
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(mercure(&hub)))
            .route("/books/{id}/events", web::get().to(book_events)),
    )
    .await;
    let response = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/books/1/events")
            .insert_header(("last-event-id", first.as_str()))
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("mercure-last-event-id")
            .map(|v| v.to_str().expect("ascii")),
        Some(first.as_str())
    );
    assert!(response.headers().get("last-event-id").is_none());
    let seen = read_until(&mut response.into_body(), "data: two\n").await;
    assert!(!seen.contains("data: one"), "{seen:?}");
}

/// The chunks of an event stream until `needle`, each within [`PATIENCE`].
async fn read_until<B: MessageBody + Unpin>(body: &mut B, needle: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        let next = tokio::time::timeout(
            PATIENCE,
            std::future::poll_fn(|cx| Pin::new(&mut *body).poll_next(cx)),
        )
        .await
        .expect("the stream answers in time")
        .expect("the stream goes on");
        let bytes = next.ok().expect("a chunk");
        seen.push_str(std::str::from_utf8(&bytes).expect("UTF-8"));
    }
    seen
}
