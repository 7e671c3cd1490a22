//! What the official hub puts on the wire, as literal bytes, compared on a
//! raw HTTP/1.1 connection with what our hub sends: the headers of an event
//! stream, the framing of an update (`id:`, `event:`, `retry:`, one
//! `data:` line per line of data), the resume header of each dialect, and
//! the 1.0 `WWW-Authenticate: Bearer` challenges.
//!
//! Sources (dunglas/mercure, the 1.0 hub):
//! - `subscribe.go`, `sendHeaders`: `Content-Type: text/event-stream`,
//!   `Cache-Control: private, no-cache, no-store, must-revalidate, max-age=0`,
//!   `X-Accel-Buffering: no`, `Mercure-Last-Event-Id` when the request
//!   carried a last event id, then the comment `:\n`;
//! - `encoder_eventstream_test.go`, `TestEventStreamEncoderEncode`:
//!   `"id: a\ndata: hi\n\n"`, `"id: a\ndata: one\ndata: two\n\n"`,
//!   `"event: update\nretry: 5\nid: a\ndata: hi\n\n"`;
//! - `bearererror.go` / `bearererror_test.go`: the bare `Bearer` challenge
//!   with `resource_metadata` and no `error` when no token is presented,
//!   `error="invalid_token"` (401), `error="insufficient_scope"` (403);
//! - `docs/concepts/authorization.md`, "RFC 6750 error responses": "the hub
//!   never discloses _why_ a token failed".

#[allow(dead_code)]
mod v1_support;

use std::time::Duration;

use mercure_client::ProtocolVersion;
use mercure_client::Update;
use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_hub::{HubConfig, VerificationKey};
use mercure_integration_tests::served_hub::{ServedHub, encode_component, serve_hub};
use v1_support::{RawConnection, bearer_params, exchange, path_of};

const SECRET: &str = "wire-bytes-secret-of-at-least-32-bytes!!";
const ISSUER: &str = "https://app.example.com";
const TOPIC: &str = "https://example.com/books/1";

async fn anonymous_hub() -> ServedHub {
    serve_hub(
        HubConfig::builder()
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .anonymous(true)
            .heartbeat(None),
    )
    .await
}

fn subscribe_target(served: &ServedHub, query: &str) -> String {
    format!("{}?{query}", path_of(&served.url))
}

async fn publish(served: &ServedHub, update: Update) {
    served.hub.publish(&update).await.expect("publish");
}

#[tokio::test]
async fn a_stream_opens_with_the_official_hubs_headers_and_a_comment() {
    let served = anonymous_hub().await;
    for query in [
        format!("match={}", encode_component(TOPIC)),
        format!("topic={}", encode_component(TOPIC)),
    ] {
        let (mut connection, response) = RawConnection::send(
            &served.url,
            "GET",
            &subscribe_target(&served, &query),
            &[],
            b"",
        )
        .await;
        assert_eq!(response.status_line, "HTTP/1.1 200 OK", "{query}");
        assert_eq!(response.header("content-type"), Some("text/event-stream"));
        assert_eq!(
            response.header("cache-control"),
            Some("private, no-cache, no-store, must-revalidate, max-age=0")
        );
        assert_eq!(response.header("x-accel-buffering"), Some("no"));
        // The official hub's first body bytes: the comment line `:`.
        assert_eq!(connection.read_until(b"\n").await, b":\n", "{query}");
    }
}

#[tokio::test]
async fn updates_are_framed_as_the_official_hub_frames_them() {
    let served = anonymous_hub().await;
    let (mut connection, response) = RawConnection::send(
        &served.url,
        "GET",
        &subscribe_target(&served, &format!("match={}", encode_component(TOPIC))),
        &[],
        b"",
    )
    .await;
    assert_eq!(response.status(), 200);
    // The opening comment, whatever its blank line.
    let opening = connection.read_until(b":\n").await;
    assert_eq!(opening, b":\n");

    publish(
        &served,
        Update::builder(TOPIC)
            .id("a")
            .data("hi")
            .build()
            .expect("update"),
    )
    .await;
    publish(
        &served,
        Update::builder(TOPIC)
            .id("b")
            .data("one\ntwo")
            .build()
            .expect("update"),
    )
    .await;
    publish(
        &served,
        Update::builder(TOPIC)
            .id("c")
            .data("hi")
            .event_type("update")
            .retry(Duration::from_millis(5))
            .build()
            .expect("update"),
    )
    .await;

    let mut first = connection.read_until(b"id: a\n").await;
    // Anything before the first event is a comment block (the opening's
    // blank line, for instance), never a field.
    first.truncate(first.len() - b"id: a\n".len());
    assert!(
        first.iter().all(|b| *b == b'\n'),
        "only blank lines before the first event: {:?}",
        String::from_utf8_lossy(&first)
    );
    let mut first = b"id: a\n".to_vec();
    first.extend(connection.read_until(b"\n\n").await);
    assert_eq!(
        String::from_utf8(first).expect("UTF-8"),
        "id: a\ndata: hi\n\n"
    );
    assert_eq!(
        String::from_utf8(connection.read_until(b"\n\n").await).expect("UTF-8"),
        "id: b\ndata: one\ndata: two\n\n",
        "one data line per line of data"
    );
    // The official hub writes `event: update\nretry: 5\nid: c\ndata: hi\n\n`;
    // SSE does not order the fields of an event (only `data:` lines among
    // themselves), so the same lines in another order are the same event.
    let third = String::from_utf8(connection.read_until(b"\n\n").await).expect("UTF-8");
    let official = "event: update\nretry: 5\nid: c\ndata: hi\n\n";
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text
            .trim_end_matches('\n')
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(sorted(&third), sorted(official), "{third:?}");
    assert!(third.ends_with("data: hi\n\n"), "{third:?}");
}

#[tokio::test]
async fn the_resume_header_of_each_dialect() {
    let served = anonymous_hub().await;
    for id in ["r1", "r2", "r3"] {
        publish(
            &served,
            Update::builder(TOPIC)
                .id(id)
                .data(id)
                .build()
                .expect("update"),
        )
        .await;
    }
    let exact = format!("match={}", encode_component(TOPIC));
    let legacy = format!("topic={}", encode_component(TOPIC));
    // (query, Last-Event-ID request header, resume header, its value, first id sent)
    let cases = [
        (
            exact.clone(),
            Some("r1"),
            "mercure-last-event-id",
            "r1",
            "r2",
        ),
        (
            format!("{exact}&last_event_id=r2"),
            None,
            "mercure-last-event-id",
            "r2",
            "r3",
        ),
        // The header wins over the query parameter.
        (
            format!("{exact}&last_event_id=r1"),
            Some("r2"),
            "mercure-last-event-id",
            "r2",
            "r3",
        ),
        // An id the hub does not hold: `earliest`, everything it has.
        (
            exact.clone(),
            Some("urn:uuid:00000000-0000-4000-8000-000000000000"),
            "mercure-last-event-id",
            "earliest",
            "r1",
        ),
        (legacy.clone(), Some("r1"), "last-event-id", "r1", "r2"),
        (
            format!("{legacy}&lastEventID=r2"),
            None,
            "last-event-id",
            "r2",
            "r3",
        ),
    ];
    for (query, header, name, value, first) in cases {
        let headers: Vec<(&str, &str)> = header.iter().map(|id| ("Last-Event-ID", *id)).collect();
        let (mut connection, response) = RawConnection::send(
            &served.url,
            "GET",
            &subscribe_target(&served, &query),
            &headers,
            b"",
        )
        .await;
        assert_eq!(response.status(), 200, "{query}");
        assert_eq!(response.header(name), Some(value), "{query} {header:?}");
        let other = if name == "last-event-id" {
            "mercure-last-event-id"
        } else {
            "last-event-id"
        };
        assert_eq!(
            response.header(other),
            None,
            "{query}: one dialect's header only"
        );
        let seen = String::from_utf8(connection.read_until(b"id: r3\n").await).expect("UTF-8");
        let first_id = seen
            .lines()
            .find_map(|line| line.strip_prefix("id: "))
            .expect("an event");
        assert_eq!(first_id, first, "{query} {header:?}: {seen:?}");
    }
}

fn factory(audience: &str) -> TokenFactory {
    TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .protocol(ProtocolVersion::V1)
        .issuer(ISSUER)
        .audience(audience)
        .build()
        .expect("factory")
}

async fn private_hub() -> ServedHub {
    serve_hub(
        HubConfig::builder()
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .heartbeat(None),
    )
    .await
}

fn challenge(response: &v1_support::RawResponse) -> Vec<(String, String)> {
    let value = response
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("a challenge on {}", response.status_line));
    assert!(value.starts_with("Bearer"), "{value}");
    bearer_params(value)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn bearer_challenges_of_1_0() {
    let served = private_hub().await;
    let metadata = served.url.replace(
        "/.well-known/mercure",
        "/.well-known/oauth-protected-resource/.well-known/mercure",
    );
    let subscribe = subscribe_target(&served, &format!("match={}", encode_component(TOPIC)));
    let form = format!("topic={}&data=x", encode_component(TOPIC));
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");

    // No token: a bare challenge (no error code), pointing at the metadata.
    for (method, body) in [("GET", ""), ("POST", form.as_str())] {
        let target = if method == "GET" {
            subscribe.clone()
        } else {
            path_of(&served.url)
        };
        let response = exchange(&served.url, method, &target, &[form_type], body.as_bytes()).await;
        assert_eq!(response.status(), 401, "{method}");
        let params = challenge(&response);
        assert_eq!(param(&params, "error"), None, "{method}: {params:?}");
        assert_eq!(
            param(&params, "resource_metadata"),
            Some(metadata.as_str()),
            "{method}"
        );
    }
    let document = exchange(&served.url, "GET", &path_of(&metadata), &[], b"").await;
    assert_eq!(document.status(), 200);
    let document: serde_json::Value = serde_json::from_str(&document.text()).expect("JSON");
    assert_eq!(document["resource"], served.url.as_str());

    // A token that fails verification: invalid_token.
    let other_key = TokenFactory::builder(
        SigningKey::hs256("another-secret-of-32-bytes-or-more!!").expect("key"),
    )
    .protocol(ProtocolVersion::V1)
    .issuer(ISSUER)
    .audience(&served.url)
    .build()
    .expect("factory")
    .mint(&Grants::publish_all())
    .expect("token");
    let bearer = format!("Bearer {}", other_key.expose());
    for (method, target) in [("GET", subscribe.clone()), ("POST", path_of(&served.url))] {
        let response = exchange(
            &served.url,
            method,
            &target,
            &[("Authorization", &bearer), form_type],
            form.as_bytes(),
        )
        .await;
        assert_eq!(response.status(), 401, "{method}");
        let params = challenge(&response);
        assert_eq!(param(&params, "error"), Some("invalid_token"), "{method}");
        assert_eq!(param(&params, "resource_metadata"), Some(metadata.as_str()));
    }

    // A valid token without the grant: insufficient_scope.
    let narrow = factory(&served.url)
        .mint(&Grants::new().publish(["https://example.com/other"]))
        .expect("token");
    let bearer = format!("Bearer {}", narrow.expose());
    let response = exchange(
        &served.url,
        "POST",
        &path_of(&served.url),
        &[("Authorization", &bearer), form_type],
        form.as_bytes(),
    )
    .await;
    assert_eq!(response.status(), 403);
    let params = challenge(&response);
    assert_eq!(param(&params, "error"), Some("insufficient_scope"));
    assert_eq!(param(&params, "resource_metadata"), Some(metadata.as_str()));
}

#[tokio::test]
async fn invalid_token_answers_do_not_tell_why_the_token_failed() {
    let served = private_hub().await;
    let subscribe = subscribe_target(&served, &format!("match={}", encode_component(TOPIC)));
    let wrong_key = TokenFactory::builder(
        SigningKey::hs256("another-secret-of-32-bytes-or-more!!").expect("key"),
    )
    .protocol(ProtocolVersion::V1)
    .issuer(ISSUER)
    .audience(&served.url)
    .build()
    .expect("factory")
    .mint(&Grants::subscribe_all())
    .expect("token");
    let wrong_audience = factory("https://other.example.com/.well-known/mercure")
        .mint(&Grants::subscribe_all())
        .expect("token");
    let mut answers = Vec::new();
    for token in [wrong_key, wrong_audience] {
        let bearer = format!("Bearer {}", token.expose());
        let response = exchange(
            &served.url,
            "GET",
            &subscribe,
            &[("Authorization", &bearer)],
            b"",
        )
        .await;
        assert_eq!(response.status(), 401);
        answers.push((
            response.header("www-authenticate").map(str::to_owned),
            response.text(),
        ));
    }
    // Draft-08 §Error Responses: one `invalid_token` for every failure of a
    // presented token "avoids disclosing why validation failed"; the
    // official hub's challenge is the same for both.
    assert_eq!(
        answers[0], answers[1],
        "the answers differ, so they tell why"
    );
}
