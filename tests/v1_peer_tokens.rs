//! Mercure 1.0 access tokens checked by a JWT library nobody on this
//! project wrote (PyJWT, in the peer venv): tokens our `TokenFactory` mints
//! verify there, with the RFC 9068 header and claims and the
//! `authorization_details` of draft-08; and tokens PyJWT mints, as another
//! issuer's library would, are accepted by our hub for publishing and
//! subscribing, while a wrong `typ`, `aud`, `iss` or `exp` is refused with
//! `401 invalid_token`.
//!
//! RS256 in the peer: PyJWT's optional `cryptography` backend is not in the
//! venv, so `tests/peers/pyjwt_tokens.py` registers a pure-Python
//! RSASSA-PKCS1-v1_5 SHA-256 with PyJWT (its signatures are byte-identical
//! to OpenSSL's); everything else is PyJWT's.

#[allow(dead_code)]
mod v1_support;

use std::sync::Arc;
use std::time::Duration;

use mercure_client::ProtocolVersion;
use mercure_client::clock::ManualClock;
use mercure_client::token::{Algorithm, Grants, SigningKey, TokenFactory};
use mercure_core::TopicSelector;
use mercure_hub::{HubConfig, VerificationKey};
use mercure_integration_tests::raw_sse::RawStream;
use mercure_integration_tests::served_hub::{ServedHub, encode_component, serve_hub};
use serde_json::{Value, json};
use v1_support::{PATIENCE, bearer_params, is_uuid, now_secs, pem_key, pyjwt, secret_key};

const SECRET: &str = "v1-peer-tokens-secret-of-at-least-32-bytes!";
const ISSUER: &str = "https://app.example.com";
const DETAIL_TYPE: &str = "https://mercure.rocks/authorization-detail";
const LIFETIME: u64 = 600;

/// One way of signing: our key, the peer's key description, the `alg`.
struct Keys {
    alg: &'static str,
    signing: SigningKey,
    verification: VerificationKey,
    /// What PyJWT verifies with.
    peer_public: Value,
    /// What PyJWT signs with.
    peer_private: Value,
}

fn hs256() -> Keys {
    Keys {
        alg: "HS256",
        signing: SigningKey::hs256(SECRET).expect("key"),
        verification: VerificationKey::hs256(SECRET).expect("key"),
        peer_public: secret_key(SECRET),
        peer_private: secret_key(SECRET),
    }
}

fn rs256() -> Keys {
    Keys {
        alg: "RS256",
        signing: SigningKey::from_pem(Algorithm::RS256, v1_support::key_file("rsa_private.pem"))
            .expect("key"),
        verification: VerificationKey::from_pem(
            Algorithm::RS256,
            v1_support::key_file("rsa_public.pem"),
        )
        .expect("key"),
        peer_public: pem_key("rsa_public.pem"),
        peer_private: pem_key("rsa_private.pem"),
    }
}

fn detail(action: &str, topics: Value) -> Value {
    json!({"type": DETAIL_TYPE, "actions": [action], "topics": topics})
}

fn verify_job(token: &str, keys: &Keys, audience: &str, issuer: &str) -> Value {
    json!({
        "op": "verify", "token": token, "alg": keys.alg, "key": keys.peer_public,
        "audience": audience, "issuer": issuer,
        // RFC 9068 §2.2: every one of these is REQUIRED in a JWT access token.
        "require": ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"],
    })
}

/// `token` with the first character of its signature changed (still
/// base64url, so only the signature check can refuse it).
fn tampered(token: &str) -> String {
    let at = token.rfind('.').expect("three segments") + 1;
    let replacement = if token[at..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    format!("{}{replacement}{}", &token[..at], &token[at + 1..])
}

/// Removes `jti` from `claims` and checks it is a fresh UUID.
fn take_jti(claims: &mut Value) -> String {
    let jti = claims
        .as_object_mut()
        .expect("an object")
        .remove("jti")
        .expect("a jti");
    let jti = jti.as_str().expect("a string").to_owned();
    assert!(is_uuid(&jti), "jti {jti:?} is a UUID");
    jti
}

async fn our_tokens_verify_under_pyjwt(keys: Keys) {
    let audience = "https://hub.example.com/.well-known/mercure";
    let now = now_secs();
    let factory = |client_id: Option<&str>| {
        let mut builder = TokenFactory::builder(keys.signing.clone())
            .protocol(ProtocolVersion::V1)
            .issuer(ISSUER)
            .audience(audience)
            .lifetime(Duration::from_secs(LIFETIME))
            .clock(Arc::new(ManualClock::at_unix(now)));
        if let Some(client_id) = client_id {
            builder = builder.client_id(client_id);
        }
        builder.build().expect("factory")
    };
    let publisher = factory(Some("billing-service"))
        .mint(&Grants::new().publish([
            TopicSelector::pattern("https://example.com/books/:id"),
            TopicSelector::exact("https://example.com/announcements"),
        ]))
        .expect("publisher token");
    let subscriber_grants = Grants::new()
        .subscribe([
            TopicSelector::exact("https://example.com/users/42/notifications"),
            TopicSelector::pattern("https://example.com/books/:id"),
        ])
        .with_payload(json!({"user": "https://example.com/users/42"}))
        .with_subject("https://example.com/users/42");
    let subscriber_factory = factory(None);
    let subscriber = subscriber_factory
        .mint(&subscriber_grants)
        .expect("subscriber token");
    let again = subscriber_factory
        .mint(&subscriber_grants)
        .expect("subscriber token");

    let results = pyjwt(vec![
        verify_job(publisher.expose(), &keys, audience, ISSUER),
        verify_job(subscriber.expose(), &keys, audience, ISSUER),
        verify_job(again.expose(), &keys, audience, ISSUER),
        // Controls: PyJWT really checks what it is given.
        verify_job(
            publisher.expose(),
            &keys,
            "https://other.example.com/",
            ISSUER,
        ),
        verify_job(
            publisher.expose(),
            &keys,
            audience,
            "https://other.example.com",
        ),
        verify_job(&tampered(publisher.expose()), &keys, audience, ISSUER),
    ])
    .await;

    for result in &results[..3] {
        assert_eq!(result["ok"], true, "{} {result}", keys.alg);
        assert_eq!(
            result["header"],
            json!({"alg": keys.alg, "typ": "at+jwt"}),
            "RFC 9068 §2.1: typ at+jwt"
        );
    }
    let mut publisher_claims = results[0]["claims"].clone();
    take_jti(&mut publisher_claims);
    assert_eq!(
        publisher_claims,
        json!({
            "iss": ISSUER,
            "aud": audience,
            // RFC 9068 §2.2: without a resource owner, `sub` names the client.
            "sub": "billing-service",
            "client_id": "billing-service",
            "iat": now,
            "exp": now + LIFETIME,
            "authorization_details": [detail("publish", json!([
                {"match": "https://example.com/books/:id", "match_type": "urlpattern"},
                {"match": "https://example.com/announcements"},
            ]))],
        }),
        "{}",
        keys.alg
    );
    let mut subscriber_claims = results[1]["claims"].clone();
    let first_jti = take_jti(&mut subscriber_claims);
    let mut expected_subscriber = detail(
        "subscribe",
        json!([
            {"match": "https://example.com/users/42/notifications"},
            {"match": "https://example.com/books/:id", "match_type": "urlpattern"},
        ]),
    );
    expected_subscriber["payload"] = json!({"user": "https://example.com/users/42"});
    assert_eq!(
        subscriber_claims,
        json!({
            "iss": ISSUER,
            "aud": audience,
            "sub": "https://example.com/users/42",
            // No client_id configured: the issuer is the client.
            "client_id": ISSUER,
            "iat": now,
            "exp": now + LIFETIME,
            "authorization_details": [expected_subscriber],
        }),
        "{}",
        keys.alg
    );
    let mut again_claims = results[2]["claims"].clone();
    assert_ne!(
        take_jti(&mut again_claims),
        first_jti,
        "each token its own jti"
    );

    assert_eq!(
        results[3]["error"], "InvalidAudienceError",
        "{}",
        results[3]
    );
    assert_eq!(results[4]["error"], "InvalidIssuerError", "{}", results[4]);
    assert_eq!(
        results[5]["error"], "InvalidSignatureError",
        "{}",
        results[5]
    );
}

#[tokio::test]
async fn our_hs256_access_tokens_verify_under_pyjwt() {
    our_tokens_verify_under_pyjwt(hs256()).await;
}

#[tokio::test]
async fn our_rs256_access_tokens_verify_under_pyjwt() {
    our_tokens_verify_under_pyjwt(rs256()).await;
}

async fn start_hub(keys: &Keys) -> ServedHub {
    serve_hub(
        HubConfig::builder()
            .key(keys.verification.clone())
            .issuer(ISSUER),
    )
    .await
}

/// Claims of a well-formed access token for `hub`, granting `details`.
fn claims(hub: &str, subject: &str, details: Value) -> Value {
    let now = now_secs();
    json!({
        "iss": ISSUER, "aud": hub, "sub": subject, "client_id": "peer-issuer",
        "iat": now, "exp": now + LIFETIME, "jti": "urn:uuid:3f1c7a52-0b7e-4c1e-9d6f-2a8b5c4d3e21",
        "authorization_details": details,
    })
}

fn mint_job(keys: &Keys, headers: Value, claims: Value) -> Value {
    json!({"op": "mint", "alg": keys.alg, "key": keys.peer_private, "headers": headers, "claims": claims})
}

async fn mint(jobs: Vec<Value>) -> Vec<String> {
    pyjwt(jobs)
        .await
        .into_iter()
        .map(|result| {
            assert_eq!(result["ok"], true, "{result}");
            result["token"].as_str().expect("a token").to_owned()
        })
        .collect()
}

async fn publish(hub: &str, token: &str, form: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(hub)
        .bearer_auth(token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .expect("publish")
}

async fn pyjwt_tokens_publish_and_subscribe(keys: Keys) {
    let served = start_hub(&keys).await;
    let hub = served.url.as_str();
    let topic = "https://example.com/books/1";
    let tokens = mint(vec![
        mint_job(
            &keys,
            json!({"typ": "at+jwt"}),
            claims(
                hub,
                "publisher",
                json!([detail(
                    "publish",
                    json!([{"match": "https://example.com/books/:id", "match_type": "urlpattern"}])
                )]),
            ),
        ),
        mint_job(
            &keys,
            json!({"typ": "at+jwt"}),
            // `aud` as an array holding the hub (RFC 7519 §4.1.3).
            {
                let mut claims = claims(
                    hub,
                    "https://example.com/users/42",
                    json!([detail("subscribe", json!([{"match": topic}]))]),
                );
                claims["aud"] = json!(["https://api.example.com", hub]);
                claims
            },
        ),
    ])
    .await;
    let (publisher, subscriber) = (&tokens[0], &tokens[1]);

    let url = format!("{hub}?match={}", encode_component(topic));
    let mut stream = RawStream::open(&url, Some(subscriber), None)
        .await
        .expect("a PyJWT token subscribes");
    let response = publish(
        hub,
        publisher,
        &format!(
            "topic={}&data=private+for+42&private=on&id=peer-1",
            encode_component(topic)
        ),
    )
    .await;
    assert_eq!(response.status(), 200, "a PyJWT token publishes");
    assert_eq!(response.text().await.expect("body"), "peer-1");
    let event = stream
        .next_event(PATIENCE)
        .await
        .expect("the private update");
    assert_eq!(event.id.as_deref(), Some("peer-1"));
    assert_eq!(event.data, "private for 42");

    let response = publish(
        hub,
        publisher,
        "topic=https%3A%2F%2Fexample.com%2Fauthors%2F1&data=x",
    )
    .await;
    assert_eq!(response.status(), 403, "outside the grant");
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        bearer_params(&challenge).contains(&("error".to_owned(), "insufficient_scope".to_owned())),
        "{challenge}"
    );
}

#[tokio::test]
async fn pyjwt_hs256_tokens_publish_and_subscribe_on_our_hub() {
    pyjwt_tokens_publish_and_subscribe(hs256()).await;
}

#[tokio::test]
async fn pyjwt_rs256_tokens_publish_and_subscribe_on_our_hub() {
    pyjwt_tokens_publish_and_subscribe(rs256()).await;
}

#[tokio::test]
async fn pyjwt_tokens_with_a_wrong_typ_aud_iss_or_exp_are_refused() {
    let keys = hs256();
    let served = start_hub(&keys).await;
    let hub = served.url.as_str();
    let both = json!([
        detail("publish", json!([{"match": "*"}])),
        detail("subscribe", json!([{"match": "*"}]))
    ]);
    let good = claims(hub, "peer", both.clone());
    let with = |name: &str, value: Value| {
        let mut claims = good.clone();
        claims[name] = value;
        claims
    };
    let mut without_exp = good.clone();
    without_exp.as_object_mut().expect("object").remove("exp");
    let cases: Vec<(&str, Value, Value, u16)> = vec![
        (
            "control: a good token",
            json!({"typ": "at+jwt"}),
            good.clone(),
            200,
        ),
        (
            "typ JWT (an ID token, say)",
            json!({"typ": "JWT"}),
            good.clone(),
            401,
        ),
        ("no typ", json!({"typ": null}), good.clone(), 401),
        (
            "aud of another hub",
            json!({"typ": "at+jwt"}),
            with(
                "aud",
                json!("https://other.example.com/.well-known/mercure"),
            ),
            401,
        ),
        (
            "iss not trusted",
            json!({"typ": "at+jwt"}),
            with("iss", json!("https://evil.example.net")),
            401,
        ),
        ("no exp", json!({"typ": "at+jwt"}), without_exp, 401),
        (
            "expired",
            json!({"typ": "at+jwt"}),
            with("exp", json!(now_secs() - 60)),
            401,
        ),
    ];
    let tokens = mint(
        cases
            .iter()
            .map(|(_, headers, claims, _)| mint_job(&keys, headers.clone(), claims.clone()))
            .collect(),
    )
    .await;
    let client = reqwest::Client::new();
    for ((name, _, _, expected), token) in cases.iter().zip(&tokens) {
        let published = publish(hub, token, "topic=https%3A%2F%2Fexample.com%2Fa&data=x").await;
        let subscribed = client
            .get(format!("{hub}?match=https%3A%2F%2Fexample.com%2Fa"))
            .bearer_auth(token)
            .send()
            .await
            .expect("subscribe");
        for (what, response) in [("publish", published), ("subscribe", subscribed)] {
            assert_eq!(response.status(), *expected, "{what}: {name}");
            if *expected == 401 {
                let challenge = response.headers()["www-authenticate"]
                    .to_str()
                    .expect("ASCII")
                    .to_owned();
                assert!(
                    bearer_params(&challenge)
                        .contains(&("error".to_owned(), "invalid_token".to_owned())),
                    "{what}: {name}: {challenge}"
                );
            }
        }
    }
}
