//! Mercure 1.0 behaviours no other test drove over HTTP: a token carried by
//! the `__Secure-mercure_access_token` cookie ending the stream at its
//! expiry and refused afterwards; the `QUERY` method on a hub speaking 0.x
//! only; `QUERY` in CORS preflights.

#[allow(dead_code)]
mod v1_support;

use std::time::Duration;

use mercure_client::ProtocolVersion;
use mercure_client::Update;
use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_hub::{DialectSupport, HubConfig, VerificationKey};
use mercure_integration_tests::served_hub::{ServedHub, encode_component, serve_hub};
use v1_support::{RawConnection, bearer_params, exchange, now_secs, path_of};

const SECRET: &str = "v1-gaps-secret-of-at-least-32-bytes-long";
const TOPIC: &str = "https://example.com/books/1";
const COOKIE: &str = "__Secure-mercure_access_token";
const ORIGIN: &str = "https://app.example.com";

fn key() -> VerificationKey {
    VerificationKey::hs256(SECRET).expect("key")
}

#[tokio::test]
async fn a_cookie_token_ends_the_stream_at_its_expiry_and_is_refused_after() {
    let served = serve_hub(HubConfig::builder().key(key()).heartbeat(None)).await;
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .protocol(ProtocolVersion::V1)
        .issuer("https://app.example.com")
        .audience(&served.url)
        .lifetime(Duration::from_secs(2))
        .build()
        .expect("factory");
    let token = factory
        .mint(&Grants::new().subscribe([TOPIC]))
        .expect("token");
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token.expose())
        .expect("claims")
        .claims;
    let exp = claims["exp"].as_u64().expect("exp");
    let cookie = format!("{COOKIE}={}", token.expose());
    let target = format!("{}?match={}", path_of(&served.url), encode_component(TOPIC));

    let (mut stream, head) =
        RawConnection::send(&served.url, "GET", &target, &[("Cookie", &cookie)], b"").await;
    assert_eq!(head.status(), 200, "the cookie authorizes the subscription");
    served
        .hub
        .publish(
            &Update::builder(TOPIC)
                .data("for the cookie holder")
                .private(true)
                .build()
                .expect("update"),
        )
        .await
        .expect("publish");
    stream.read_until(b"data: for the cookie holder\n\n").await;

    // The hub ends the stream by itself, at the token's expiry.
    stream.read_to_end(Duration::from_secs(10)).await;
    assert!(
        now_secs() >= exp,
        "the stream ended before the token expired ({} < {exp})",
        now_secs()
    );

    let refused = exchange(&served.url, "GET", &target, &[("Cookie", &cookie)], b"").await;
    assert_eq!(refused.status(), 401, "the expired cookie is refused");
    let challenge = refused.header("www-authenticate").expect("a challenge");
    assert!(
        bearer_params(challenge).contains(&("error".to_owned(), "invalid_token".to_owned())),
        "{challenge}"
    );
}

async fn hub_speaking(support: DialectSupport) -> ServedHub {
    serve_hub(
        HubConfig::builder()
            .key(key())
            .support(support)
            .anonymous(true)
            .cors_origin(ORIGIN)
            .heartbeat(None),
    )
    .await
}

fn form_type() -> (&'static str, &'static str) {
    ("Content-Type", "application/x-www-form-urlencoded")
}

#[tokio::test]
async fn query_is_refused_by_a_hub_speaking_0x_only() {
    let served = hub_speaking(DialectSupport::V0Only).await;
    for body in [
        format!("topic={}", encode_component(TOPIC)),
        format!("match={}", encode_component(TOPIC)),
    ] {
        let answer = exchange(
            &served.url,
            "QUERY",
            &path_of(&served.url),
            &[form_type()],
            body.as_bytes(),
        )
        .await;
        assert_eq!(answer.status(), 405, "{body}");
        assert_eq!(answer.header("allow"), Some("GET, POST"), "{body}");
        assert_eq!(
            answer
                .header("content-type")
                .map(|t| t.starts_with("text/event-stream")),
            Some(false)
        );
    }
    // The same hub still serves 0.x subscriptions by GET.
    let (_stream, head) = RawConnection::send(
        &served.url,
        "GET",
        &format!("{}?topic={}", path_of(&served.url), encode_component(TOPIC)),
        &[],
        b"",
    )
    .await;
    assert_eq!(head.status(), 200);
}

#[tokio::test]
async fn query_on_a_hub_speaking_both_serves_1_0_and_explains_0x() {
    let served = hub_speaking(DialectSupport::Both).await;
    let legacy = format!("topic={}", encode_component(TOPIC));
    let answer = exchange(
        &served.url,
        "QUERY",
        &path_of(&served.url),
        &[form_type()],
        legacy.as_bytes(),
    )
    .await;
    assert_eq!(answer.status(), 400);
    assert!(
        answer
            .text()
            .contains("QUERY method is a Mercure 1.0 feature"),
        "{}",
        answer.text()
    );

    let body = format!("match={}", encode_component(TOPIC));
    let (mut stream, head) = RawConnection::send(
        &served.url,
        "QUERY",
        &path_of(&served.url),
        &[form_type(), ("Origin", ORIGIN)],
        body.as_bytes(),
    )
    .await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.header("content-type"), Some("text/event-stream"));
    assert_eq!(head.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        head.header("access-control-allow-credentials"),
        Some("true")
    );
    let exposed = head
        .header("access-control-expose-headers")
        .expect("exposed headers");
    assert!(
        exposed
            .split(',')
            .any(|h| h.trim().eq_ignore_ascii_case("mercure-last-event-id")),
        "{exposed}"
    );
    served
        .hub
        .publish(&Update::new(TOPIC, "by QUERY").expect("update"))
        .await
        .expect("publish");
    stream.read_until(b"data: by QUERY\n\n").await;
}

fn methods(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

async fn preflight(served: &ServedHub, origin: &str) -> v1_support::RawResponse {
    exchange(
        &served.url,
        "OPTIONS",
        &path_of(&served.url),
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "QUERY"),
            (
                "Access-Control-Request-Headers",
                "content-type, last-event-id",
            ),
        ],
        b"",
    )
    .await
}

#[tokio::test]
async fn a_cors_preflight_allows_query_for_an_allowed_origin_only() {
    let served = hub_speaking(DialectSupport::Both).await;
    let allowed = preflight(&served, ORIGIN).await;
    assert_eq!(allowed.status(), 204);
    assert_eq!(allowed.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        methods(allowed.header("access-control-allow-methods")).contains(&"QUERY".to_owned()),
        "{:?}",
        allowed.header("access-control-allow-methods")
    );
    let headers = methods(allowed.header("access-control-allow-headers"));
    for name in ["content-type", "last-event-id"] {
        assert!(
            headers.iter().any(|h| h.eq_ignore_ascii_case(name)),
            "{name}: {headers:?}"
        );
    }

    let refused = preflight(&served, "https://evil.example.net").await;
    assert_eq!(refused.header("access-control-allow-origin"), None);
    assert_eq!(refused.header("access-control-allow-methods"), None);
    assert_eq!(refused.header("access-control-allow-credentials"), None);
}

#[tokio::test]
async fn a_0x_only_hubs_preflight_does_not_offer_query() {
    // Such a hub answers QUERY with 405 (above): a preflight allowing it
    // sends the browser to a method the resource refuses.
    let served = hub_speaking(DialectSupport::V0Only).await;
    let answer = preflight(&served, ORIGIN).await;
    assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
    let allowed = methods(answer.header("access-control-allow-methods"));
    assert!(allowed.contains(&"GET".to_owned()), "{allowed:?}");
    assert!(!allowed.contains(&"QUERY".to_owned()), "{allowed:?}");
}
