//! The examples of the Mercure specification (draft-08) and of the official
//! hub's 1.0 documentation, kept as fixtures under `tests/fixtures/spec/`
//! (each names its source, commit and section and quotes the example), used
//! to drive our hub; its answers are compared with them structurally, ids
//! masked.
//!
//! Where the fixture's source and this project's dialect table
//! (`../shared/PROTOCOL.md`) disagree on purpose, the fixture lists the key
//! under `project_dialect_differences` with the project's value, and that
//! value is asserted exactly instead: nothing is skipped.

#[allow(dead_code)]
mod v1_support;

use std::sync::Arc;
use std::time::Duration;

use mercure_client::ProtocolVersion;
use mercure_client::Update;
use mercure_client::clock::ManualClock;
use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_core::TopicSelector;
use mercure_hub::{HubConfig, VerificationKey};
use mercure_integration_tests::served_hub::{ServedHub, encode_component, serve_hub};
use serde_json::{Map, Value, json};
use v1_support::{RawConnection, bearer_params, exchange, mask_ids, now_secs, path_of};

const SECRET: &str = "spec-examples-secret-of-at-least-32-bytes";
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn fixture(name: &str) -> Value {
    let path = v1_support::crate_dir().join("fixtures/spec").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Signs `claims` (a 1.0 access token) with the hub's key, as the issuer
/// of the examples would: `jsonwebtoken`, not our factory.
fn sign(header_typ: &str, claims: &Value) -> String {
    mercure_client::crypto::install_default_provider();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some(header_typ.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

/// A hub served on loopback whose resource identifier is the examples'
/// hub, trusting the examples' issuer.
async fn hub(audience: &str, issuer: &str, subscriptions: bool) -> ServedHub {
    serve_hub(
        HubConfig::builder()
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .audience(audience)
            .issuer(issuer)
            .subscriptions(subscriptions)
            .heartbeat(None),
    )
    .await
}

/// The media type of a `Content-Type` value, without parameters.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// An HTTP message of an example: start line, headers (names lower-cased),
/// body.
fn parse_message(text: &str) -> (String, Vec<(String, String)>, String) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let start = lines.next().expect("a start line").to_owned();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("name: value");
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    (start, headers, body.to_owned())
}

#[tokio::test]
async fn the_publication_example_of_the_spec() {
    let example = fixture("publication.json");
    let quoted = example["quoted"].as_str().expect("quoted");
    // Request head and body, then response head and body, as the spec writes them.
    let (request, response) = quoted.split_at(quoted.find("\n\n200 OK").expect("a response") + 2);
    let (request_line, request_headers, request_body) = parse_message(request.trim_end());
    let (status_line, response_headers, response_body) = parse_message(response);
    assert_eq!(request_line, "POST /.well-known/mercure");

    let served = hub(
        "https://example.com/.well-known/mercure",
        "https://example.com",
        false,
    )
    .await;
    let now = now_secs();
    let token = sign(
        "at+jwt",
        &json!({
            "iss": "https://example.com", "aud": "https://example.com/.well-known/mercure",
            "sub": "publisher", "client_id": "publisher", "iat": now, "exp": now + 600,
            "jti": "example-publisher",
            "authorization_details": [{"type": "https://mercure.rocks/authorization-detail",
                "actions": ["publish", "subscribe"], "topics": [{"match": "*"}]}],
        }),
    );
    let bearer = format!("Bearer {token}");
    let mut stream = RawConnection::send(
        &served.url,
        "GET",
        &format!(
            "{}?match={}",
            path_of(&served.url),
            encode_component("https://example.com/foo")
        ),
        &[("Authorization", &bearer)],
        b"",
    )
    .await
    .0;

    let headers: Vec<(&str, &str)> = request_headers
        .iter()
        .filter(|(name, _)| name != "host")
        .map(|(name, value)| {
            if name == "authorization" {
                assert_eq!(value, "Bearer [snip]");
                ("authorization", bearer.as_str())
            } else {
                (name.as_str(), value.as_str())
            }
        })
        .collect();
    let answer = exchange(
        &served.url,
        "POST",
        &path_of(&served.url),
        &headers,
        request_body.as_bytes(),
    )
    .await;

    assert_eq!(status_line, "200 OK");
    assert_eq!(answer.status(), 200);
    let expected_type = response_headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| essence(value))
        .expect("a content type");
    assert_eq!(
        essence(answer.header("content-type").expect("a content type")),
        expected_type
    );
    // The body is the id the hub generated: a `urn:uuid:` like the example's.
    assert_eq!(mask_ids(&answer.text()), mask_ids(&response_body));
    assert_eq!(mask_ids(&response_body), "urn:uuid:<uuid>");

    let event =
        String::from_utf8(stream.read_until(b"data: the content\n\n").await).expect("UTF-8");
    assert!(
        event.ends_with(&format!("id: {}\ndata: the content\n\n", answer.text())),
        "{event:?}"
    );
}

#[tokio::test]
async fn the_access_token_example_is_what_our_factory_mints_and_what_our_hub_accepts() {
    let example = fixture("access_token.json");
    let payload = &example["payload"];
    let text = |name: &str| payload[name].as_str().expect("a string").to_owned();
    let iat = payload["iat"].as_u64().expect("iat");
    let exp = payload["exp"].as_u64().expect("exp");

    // Our factory, configured as the example's issuer, mints the same token.
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .protocol(ProtocolVersion::V1)
        .issuer(text("iss"))
        .audience(text("aud"))
        .client_id(text("client_id"))
        .lifetime(Duration::from_secs(exp - iat))
        .clock(Arc::new(ManualClock::at_unix(iat)))
        .build()
        .expect("factory");
    let token = factory
        .mint(
            &Grants::publish_all()
                .subscribe([
                    TopicSelector::exact("https://example.com/users/42/notifications"),
                    TopicSelector::pattern("https://example.com/books/:id"),
                ])
                .with_payload(json!({"user": "https://example.com/users/42"}))
                .with_subject(text("sub")),
        )
        .expect("token");
    mercure_client::crypto::install_default_provider();
    let header = jsonwebtoken::decode_header(token.expose()).expect("header");
    assert_eq!(
        json!({"alg": format!("{:?}", header.alg), "typ": header.typ}),
        example["header"]
    );
    let mut minted = jsonwebtoken::dangerous::insecure_decode::<Value>(token.expose())
        .expect("claims")
        .claims;
    // `jti` is unique by nature: both are non-empty strings, then masked.
    let mut expected = payload.clone();
    for claims in [&mut minted, &mut expected] {
        assert!(
            claims["jti"].as_str().is_some_and(|jti| !jti.is_empty()),
            "{claims}"
        );
        claims["jti"] = json!("<jti>");
    }
    assert_eq!(minted, expected);

    // The example's claims, signed, work on our hub (its exp is in 2100).
    let served = hub(&text("aud"), &text("iss"), false).await;
    let token = sign("at+jwt", payload);
    let bearer = format!("Bearer {token}");
    let (mut stream, head) = RawConnection::send(
        &served.url,
        "GET",
        &format!("{}?match=*", path_of(&served.url)),
        &[("Authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(head.status(), 200);
    for (topic, id) in [
        ("https://example.com/users/43/notifications", "not-granted"),
        ("https://example.com/books/7", "granted-by-pattern"),
        (
            "https://example.com/users/42/notifications",
            "granted-exactly",
        ),
    ] {
        let form = format!(
            "topic={}&data={id}&id={id}&private=on",
            encode_component(topic)
        );
        let answer = exchange(
            &served.url,
            "POST",
            &path_of(&served.url),
            &[("Authorization", &bearer), FORM],
            form.as_bytes(),
        )
        .await;
        assert_eq!(answer.status(), 200, "publish {{match: *}} allows {topic}");
    }
    let seen =
        String::from_utf8(stream.read_until(b"data: granted-exactly\n\n").await).expect("UTF-8");
    let ids: Vec<&str> = seen
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    assert_eq!(ids, ["granted-by-pattern", "granted-exactly"], "{seen:?}");
}

#[tokio::test]
async fn the_publisher_grant_example_covers_every_topic_or_nothing() {
    let example = fixture("publisher_grant.json");
    let served = hub(
        "https://hub.example.com/.well-known/mercure",
        "https://example.com",
        false,
    )
    .await;
    let now = now_secs();
    let mut claims = example["claims"].clone();
    for (name, value) in [
        ("iss", json!("https://example.com")),
        ("aud", json!("https://hub.example.com/.well-known/mercure")),
        ("sub", json!("publisher")),
        ("client_id", json!("publisher")),
        ("iat", json!(now)),
        ("exp", json!(now + 600)),
        ("jti", json!("publisher-grant")),
    ] {
        claims[name] = value;
    }
    let bearer = format!("Bearer {}", sign("at+jwt", &claims));
    for case in example["cases"].as_array().expect("cases") {
        let form = case["form"].as_str().expect("form");
        let answer = exchange(
            &served.url,
            "POST",
            &path_of(&served.url),
            &[("Authorization", &bearer), FORM],
            form.as_bytes(),
        )
        .await;
        assert_eq!(
            u64::from(answer.status()),
            case["status"].as_u64().expect("status"),
            "{form}"
        );
        if let Some(error) = case["error"].as_str() {
            let challenge = answer.header("www-authenticate").expect("a challenge");
            assert!(
                bearer_params(challenge).contains(&("error".to_owned(), error.to_owned())),
                "{form}: {challenge}"
            );
        }
    }
}

/// A 1.0 subscriber of `/.well-known/mercure/subscriptions/...` topics and
/// of the subscriptions API.
fn observer_token(audience: &str, pattern: &str) -> String {
    let now = now_secs();
    sign(
        "at+jwt",
        &json!({
            "iss": "https://example.com", "aud": audience, "sub": "observer", "client_id": "observer",
            "iat": now, "exp": now + 600, "jti": "observer",
            "authorization_details": [{"type": "https://mercure.rocks/authorization-detail",
                "actions": ["subscribe"], "topics": [
                    {"match": pattern, "match_type": "urlpattern"},
                    {"match": "/.well-known/mercure/subscriptions"},
                ]}],
        }),
    )
}

/// Alice: subscribes to `match_urlpattern=https://example.com/:selector`
/// with the payload of the examples.
fn alice_token(audience: &str) -> String {
    let now = now_secs();
    sign(
        "at+jwt",
        &json!({
            "iss": "https://example.com", "aud": audience, "sub": "alice", "client_id": "alice",
            "iat": now, "exp": now + 600, "jti": "alice",
            "authorization_details": [{"type": "https://mercure.rocks/authorization-detail",
                "actions": ["subscribe"], "topics": [{"match": "*"}],
                "payload": {"username": "alice"}}],
        }),
    )
}

/// A subscription document with its subscriber's identifier (in
/// `subscriber` and at the end of `id`, percent-encoded) replaced by
/// `<subscriber>`: examples abbreviate it, hubs make it up.
fn mask_subscriber(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let subscriber = doc["subscriber"].as_str().expect("a subscriber").to_owned();
    let encoded = encode_component(&subscriber);
    let id = doc["id"].as_str().expect("an id");
    let prefix = id
        .strip_suffix(&encoded)
        .unwrap_or_else(|| panic!("{id} ends with {encoded}"));
    doc["id"] = json!(format!("{prefix}<subscriber>"));
    doc["subscriber"] = json!("<subscriber>");
    doc
}

/// `ours` against `example`, key by key: the keys listed in `differences`
/// must have the project's value (`null`: absent), every other key of
/// either document must be equal.
fn compare(ours: &Value, example: &Value, differences: &Map<String, Value>) {
    let ours = ours.as_object().expect("an object");
    let example = example.as_object().expect("an object");
    for (key, value) in differences.iter().filter(|(k, _)| k.as_str() != "why") {
        if !example.contains_key(key) {
            continue;
        }
        match value {
            Value::Null => assert!(!ours.contains_key(key), "{key} present: {ours:?}"),
            value => assert_eq!(ours.get(key), Some(value), "{key}"),
        }
    }
    let keys = |doc: &Map<String, Value>| {
        let mut keys: Vec<String> = doc
            .keys()
            .filter(|k| !differences.contains_key(*k))
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(ours), keys(example), "the same keys");
    for key in keys(example) {
        assert_eq!(ours[&key], example[&key], "{key}");
    }
}

#[tokio::test]
async fn the_subscription_event_example() {
    let example = fixture("subscription_event.json");
    let audience = "https://example.com/.well-known/mercure";
    let served = hub(audience, "https://example.com", true).await;
    let listener = example["listener_match_urlpattern"]
        .as_str()
        .expect("pattern");
    let observer = format!("Bearer {}", observer_token(audience, listener));
    let (mut events, head) = RawConnection::send(
        &served.url,
        "GET",
        &format!(
            "{}?match_urlpattern={}",
            path_of(&served.url),
            encode_component(listener)
        ),
        &[("Authorization", &observer)],
        b"",
    )
    .await;
    assert_eq!(head.status(), 200);
    events.read_until(b":\n").await;

    let alice = format!("Bearer {}", alice_token(audience));
    let (_alice_stream, alice_head) = RawConnection::send(
        &served.url,
        "GET",
        &format!(
            "{}?match_urlpattern={}",
            path_of(&served.url),
            encode_component("https://example.com/:selector")
        ),
        &[("Authorization", &alice)],
        b"",
    )
    .await;
    assert_eq!(alice_head.status(), 200);

    // The observer may see its own subscription's event first: the event
    // of Alice's is the one whose match is hers.
    let (event, data) = loop {
        let event = String::from_utf8(events.read_until(b"\n\n").await).expect("UTF-8");
        let event = event.trim_start_matches('\n').to_owned();
        let data: String = event
            .lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .collect::<Vec<_>>()
            .join("\n");
        let doc: Value = serde_json::from_str(&data).expect("JSON data");
        if doc["match"] == "https://example.com/:selector" {
            break (event, data);
        }
    };
    assert!(
        event.lines().any(|line| line == "event: mercure"),
        "{event:?}"
    );
    let ours: Value = serde_json::from_str(&data).expect("JSON data");
    let expected = &example["data"];
    let differences = example["project_dialect_differences"]
        .as_object()
        .expect("differences");
    compare(
        &mask_subscriber(&ours),
        &mask_subscriber(expected),
        differences,
    );
    // The event's topic pattern, expanded: its id.
    let pattern = example["topic_pattern"].as_str().expect("pattern");
    assert_eq!(
        mask_subscriber(&ours)["id"],
        pattern
            .replace("{match_type}", "urlpattern")
            .replace(
                "{match}",
                &encode_component("https://example.com/:selector")
            )
            .replace("{subscriber}", "<subscriber>")
    );
    let subscriber = ours["subscriber"].as_str().expect("subscriber");
    assert_eq!(mask_ids(subscriber), "urn:uuid:<uuid>", "hub-assigned");
}

#[tokio::test]
async fn the_subscriptions_api_example() {
    let example = fixture("subscriptions_api.json");
    let audience = "https://example.com/.well-known/mercure";
    let served = hub(audience, "https://example.com", true).await;
    let alice = format!("Bearer {}", alice_token(audience));
    let (_alice_stream, alice_head) = RawConnection::send(
        &served.url,
        "GET",
        &format!(
            "{}?match_urlpattern={}",
            path_of(&served.url),
            encode_component("https://example.com/:selector")
        ),
        &[("Authorization", &alice)],
        b"",
    )
    .await;
    assert_eq!(alice_head.status(), 200);
    let published = served
        .hub
        .publish(&Update::new("https://example.com/books/1", "x").expect("update"))
        .await
        .expect("publish");

    let observer = format!(
        "Bearer {}",
        observer_token(
            audience,
            "/.well-known/mercure/subscriptions/:match_type/:match/:subscriber"
        )
    );
    let answer = exchange(
        &served.url,
        "GET",
        &format!("{}/subscriptions", path_of(&served.url)),
        &[("Authorization", &observer)],
        b"",
    )
    .await;
    assert_eq!(answer.status(), 200, "{}", answer.text());
    let differences = example["project_dialect_differences"]
        .as_object()
        .expect("differences");
    assert_eq!(
        answer.header("content-type"),
        differences["content_type"].as_str(),
        "the spec's example says application/ld+json"
    );
    // Headers of the spec's example: Link to the hub, the cursor as ETag,
    // must-revalidate.
    let (_, spec_headers, _) = parse_message(
        example["headers_source"]["quoted"]
            .as_str()
            .expect("quoted"),
    );
    let spec = |name: &str| {
        spec_headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .expect(name)
    };
    let link = answer.header("link").expect("a Link header");
    let spec_link = spec("link").replace("https://example.com/.well-known/mercure", &served.url);
    assert!(link.starts_with(&spec_link), "{link} after {spec_link}");
    assert_eq!(link, format!("{spec_link}; last-event-id=\"{published}\""));
    assert_eq!(mask_ids(&spec("etag")), "\"urn:uuid:<uuid>\"");
    assert_eq!(
        answer.header("etag"),
        Some(format!("\"{published}\"").as_str())
    );
    assert_eq!(
        answer.header("cache-control"),
        Some(spec("cache-control").as_str())
    );

    let ours: Value = serde_json::from_str(&answer.text()).expect("JSON");
    let expected = &example["body"];
    assert_eq!(
        ours["last_event_id"],
        published.as_str(),
        "the newest event"
    );
    let mut ours_root = ours.clone();
    let mut expected_root = expected.clone();
    for root in [&mut ours_root, &mut expected_root] {
        root["last_event_id"] = json!("<id>");
        root["subscriptions"] = json!("<compared below>");
    }
    compare(&ours_root, &expected_root, differences);
    let ours_list = ours["subscriptions"].as_array().expect("a list");
    let expected_list = expected["subscriptions"].as_array().expect("a list");
    assert_eq!(ours_list.len(), expected_list.len(), "{ours}");
    let mut item_differences = differences.clone();
    item_differences.insert("type".into(), differences["subscription_type"].clone());
    for (ours, expected) in ours_list.iter().zip(expected_list) {
        compare(
            &mask_subscriber(ours),
            &mask_subscriber(expected),
            &item_differences,
        );
    }
}
