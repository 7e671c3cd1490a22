//! Keys from JWK sets served over HTTP on 127.0.0.1: tokens chosen by
//! their `kid`, a rotation seen on an unknown `kid`, a removed key refused
//! after a refresh, a flood of random key ids costing one fetch, failed
//! fetches (unreachable, oversized, garbage, slow, no key) keeping the last
//! good set, issuers' sets verifying only their 1.0 tokens, and the binary's
//! flags; both dialects.

#[path = "support/process.rs"]
mod process;
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use mercure_core::ProtocolVersion;
use mercure_core::token::{Algorithm, Grants, SigningKey, TokenFactory};
use mercure_hub::{HubConfig, HubConfigBuilder, Jwks};
use serde_json::{Value, json};
use support::{PATIENCE, TestHub, start};

const V0: ProtocolVersion = ProtocolVersion::V0;
const V1: ProtocolVersion = ProtocolVersion::V1;
const IDP: &str = "https://idp.example.com";
const OTHER_ISSUER: &str = "https://other.example.com";
/// The audience of the binary's tokens (its URL names port 0).
const AUDIENCE: &str = "https://hub.example.com/.well-known/mercure";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Key A (RSA, RS256), key B (EC P-256, ES256) and key E (Ed25519, the
/// fastest to sign with) as JWKs with their kid.
fn jwk(which: char) -> Value {
    let file = match which {
        'a' => "rsa_public.jwk.json",
        'b' => "ec256_public.jwk.json",
        _ => "ed25519_public.jwk.json",
    };
    let mut key: Value = serde_json::from_slice(&read(file)).unwrap();
    key["kid"] = json!(which.to_string());
    key
}

fn signing_key(which: char) -> SigningKey {
    match which {
        'a' => SigningKey::from_pem(Algorithm::RS256, read("rsa_private.pem")),
        'b' => SigningKey::from_pem(Algorithm::ES256, read("ec256_private.pem")),
        _ => SigningKey::from_pem(Algorithm::EdDSA, read("ed25519_private.pem")),
    }
    .unwrap()
}

/// A token of `version` signed by key `which` with header `kid`, issued by
/// `issuer` (an `iss` claim in 0.x tokens too) to the hub at `audience`.
fn token(which: char, kid: &str, version: ProtocolVersion, issuer: &str, audience: &str) -> String {
    let builder = TokenFactory::builder(signing_key(which).with_key_id(kid))
        .protocol(version)
        .issuer(issuer);
    match version {
        V0 => builder,
        V1 => builder.audience(audience),
    }
    .build()
    .unwrap()
    .mint(&Grants::subscribe_all().publish(["*"]))
    .unwrap()
    .expose()
    .to_owned()
}

/// What the JWKS server answers.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: Vec<u8>,
    cache_control: Option<&'static str>,
    delay: Duration,
    /// Sent in chunks, without Content-Length.
    chunked: bool,
}

impl Answer {
    fn keys(keys: &[char]) -> Self {
        Self {
            status: 200,
            body: json!({ "keys": keys.iter().map(|k| jwk(*k)).collect::<Vec<_>>() })
                .to_string()
                .into_bytes(),
            cache_control: None,
            delay: Duration::ZERO,
            chunked: false,
        }
    }
}

/// A JWKS server on 127.0.0.1 counting its requests.
struct JwksServer {
    url: String,
    answer: Arc<Mutex<Answer>>,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    async fn start(answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let answer = Arc::new(Mutex::new(answer));
        let requests = Arc::new(AtomicU64::new(0));
        let (shared, counted) = (Arc::clone(&answer), Arc::clone(&requests));
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let answer = shared.lock().unwrap().clone();
                counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    tokio::time::sleep(answer.delay).await;
                    let body = if answer.chunked {
                        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                            answer.body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
                        Body::from_stream(futures_util::stream::iter(chunks))
                    } else {
                        Body::from(answer.body)
                    };
                    let mut response = Response::builder()
                        .status(answer.status)
                        .header("content-type", "application/jwk-set+json");
                    if let Some(value) = answer.cache_control {
                        response = response.header("cache-control", value);
                    }
                    response.body(body).unwrap()
                }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            answer,
            requests,
            task,
        }
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A JWK set of `server`, fetched for unknown kids at most once an hour
/// (so that counts are exact), read within 1 s.
fn jwks(server: &JwksServer) -> Jwks {
    Jwks::builder(&server.url)
        .min_interval(Duration::from_secs(3600))
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

/// A hub with `builder`'s JWK sets and no other key.
async fn hub(builder: HubConfigBuilder) -> TestHub {
    start(builder).await
}

fn query(version: ProtocolVersion) -> &'static str {
    match version {
        V0 => "topic=t",
        V1 => "match=t",
    }
}

/// The status of a subscription with `token`, and of a publish.
async fn statuses(hub: &TestHub, version: ProtocolVersion, token: &str) -> (u16, u16) {
    let subscribed = hub
        .subscribe(query(version), Some(token))
        .await
        .status()
        .as_u16();
    let (published, _) = hub.publish(token, &[("topic", "t"), ("data", "d")]).await;
    (subscribed, published)
}

#[tokio::test]
async fn a_rotation_is_seen_on_an_unknown_kid_and_a_removed_key_refused_after_a_refresh() {
    let server = JwksServer::start(Answer::keys(&['a'])).await;
    let jwks = jwks(&server);
    assert_eq!(jwks.refresh().await, Ok(1));
    let hub = hub(HubConfig::builder().jwks(jwks.clone())).await;
    let a = |version| token('a', "a", version, IDP, &hub.url);
    let b = |version| token('b', "b", version, IDP, &hub.url);
    for version in [V0, V1] {
        assert_eq!(
            statuses(&hub, version, &a(version)).await,
            (200, 200),
            "{version}"
        );
    }
    assert_eq!(server.requests(), 1);

    // Key B is published: its first token makes the hub fetch the set.
    server.set(Answer::keys(&['a', 'b']));
    for version in [V0, V1] {
        assert_eq!(
            statuses(&hub, version, &b(version)).await,
            (200, 200),
            "{version}"
        );
    }
    assert_eq!(server.requests(), 2);
    assert_eq!(jwks.keys().len(), 2);

    // Key A is withdrawn: it verifies until the set is refreshed.
    server.set(Answer::keys(&['b']));
    let old = a(V0);
    assert_eq!(statuses(&hub, V0, &old).await, (200, 200));
    assert_eq!(jwks.refresh().await, Ok(1));
    assert_eq!(server.requests(), 3);
    for version in [V0, V1] {
        assert_eq!(
            statuses(&hub, version, &a(version)).await,
            (401, 401),
            "{version}"
        );
        assert_eq!(
            statuses(&hub, version, &b(version)).await,
            (200, 200),
            "{version}"
        );
    }
    // The token verified before is not taken from the hub's memory.
    assert_eq!(statuses(&hub, V0, &old).await, (401, 401));
    // A's unknown kid was not worth another fetch within the interval.
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_stale_set_is_refreshed_in_the_background() {
    let mut answer = Answer::keys(&['a']);
    answer.cache_control = Some("public, max-age=0");
    let server = JwksServer::start(answer).await;
    let jwks = Jwks::builder(&server.url)
        .min_interval(Duration::from_secs(3600))
        .max_age_bounds(Duration::ZERO, Duration::from_secs(60))
        .build()
        .unwrap();
    jwks.refresh().await.unwrap();
    let hub = hub(HubConfig::builder().jwks(jwks.clone())).await;
    server.set(Answer::keys(&['b']));
    // Verified with the set held, while a fetch starts.
    let a = token('a', "a", V0, IDP, &hub.url);
    assert_eq!(statuses(&hub, V0, &a).await.0, 200);
    tokio::time::timeout(PATIENCE, async {
        while jwks.keys().contains_key_id("a") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the stale set was never refreshed");
    assert_eq!(statuses(&hub, V0, &a).await, (401, 401));
    let b = token('b', "b", V1, IDP, &hub.url);
    assert_eq!(statuses(&hub, V1, &b).await, (200, 200));
}

#[tokio::test]
async fn a_flood_of_random_kids_costs_one_fetch() {
    let server = JwksServer::start(Answer::keys(&['e'])).await;
    let jwks = jwks(&server);
    jwks.refresh().await.unwrap();
    let hub = hub(HubConfig::builder().jwks(jwks.clone())).await;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let tokens: Vec<(ProtocolVersion, String)> = (0..1000)
        .map(|i| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let version = if i % 2 == 0 { V0 } else { V1 };
            (
                version,
                token('e', &format!("{seed:016x}"), version, IDP, &hub.url),
            )
        })
        .collect();
    let mut refused = 0;
    for batch in tokens.chunks(50) {
        let answers = futures_util::future::join_all(batch.iter().map(|(version, token)| {
            let hub = &hub;
            async move { hub.subscribe(query(*version), Some(token)).await.status() }
        }))
        .await;
        refused += answers
            .iter()
            .filter(|status| status.as_u16() == 401)
            .count();
    }
    assert_eq!(refused, 1000);
    assert_eq!(
        server.requests(),
        2,
        "one fetch at start, one for the flood"
    );
    let e = token('e', "e", V1, IDP, &hub.url);
    assert_eq!(statuses(&hub, V1, &e).await, (200, 200));
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn failed_fetches_keep_the_last_good_set() {
    let server = JwksServer::start(Answer::keys(&['a'])).await;
    let jwks = Jwks::builder(&server.url)
        .min_interval(Duration::from_secs(3600))
        .timeout(Duration::from_millis(500))
        .max_bytes(64 * 1024)
        .build()
        .unwrap();
    jwks.refresh().await.unwrap();
    let hub = hub(HubConfig::builder().jwks(jwks.clone())).await;
    // A valid set padded past the size limit, with and without a length.
    let mut big = Answer::keys(&['a', 'b']);
    big.body = format!(
        r#"{{"padding": "{}", "keys": [{}, {}]}}"#,
        "x".repeat(100 * 1024),
        jwk('a'),
        jwk('b')
    )
    .into_bytes();
    let mut big_chunked = big.clone();
    big_chunked.chunked = true;
    let mut failing = Answer::keys(&['b']);
    failing.status = 500;
    let mut garbage = Answer::keys(&['b']);
    garbage.body = b"<html>not a key set</html>".to_vec();
    let mut empty = Answer::keys(&[]);
    empty.body = br#"{"keys": [{"kty": "oct", "kid": "b", "k": "c2VjcmV0"}]}"#.to_vec();
    let mut slow = Answer::keys(&['b']);
    slow.delay = Duration::from_secs(3);
    for (name, answer) in [
        ("500", failing),
        ("garbage", garbage),
        ("oversized", big),
        ("oversized, chunked", big_chunked),
        ("no usable key", empty),
        ("slow", slow),
    ] {
        server.set(answer);
        let requests = server.requests();
        let error = jwks.refresh().await.unwrap_err().to_string();
        assert!(
            error.starts_with("invalid verification key: cannot load the JWK set"),
            "{name}: {error}"
        );
        assert_eq!(server.requests(), requests + 1, "{name}");
        // A token of an unknown kid is refused (the first makes the hub
        // try again, and fail).
        let b = token('b', "b", V1, IDP, &hub.url);
        assert_eq!(statuses(&hub, V1, &b).await, (401, 401), "{name}");
        for version in [V0, V1] {
            let a = token('a', "a", version, IDP, &hub.url);
            assert_eq!(
                statuses(&hub, version, &a).await,
                (200, 200),
                "{name} {version}"
            );
        }
        assert_eq!(jwks.keys().len(), 1, "{name}");
    }
    // The server gone.
    drop(server);
    tokio::task::yield_now().await;
    assert!(jwks.refresh().await.is_err());
    let a = token('a', "a", V0, IDP, &hub.url);
    assert_eq!(statuses(&hub, V0, &a).await, (200, 200));
}

#[tokio::test]
async fn an_issuers_set_verifies_only_its_own_1_0_tokens() {
    let server = JwksServer::start(Answer::keys(&['a'])).await;
    let jwks = jwks(&server);
    let hub = hub(HubConfig::builder()
        .issuer(OTHER_ISSUER)
        .issuer_jwks(IDP, jwks.clone()))
    .await;
    // Never fetched: the first token waits for the fetch.
    let own = token('a', "a", V1, IDP, &hub.url);
    assert_eq!(statuses(&hub, V1, &own).await, (200, 200));
    assert_eq!(server.requests(), 1);
    // The same key, for another trusted issuer, or in a 0.x token.
    let other = token('a', "a", V1, OTHER_ISSUER, &hub.url);
    assert_eq!(statuses(&hub, V1, &other).await, (401, 401));
    let legacy = token('a', "a", V0, IDP, &hub.url);
    assert_eq!(statuses(&hub, V0, &legacy).await, (401, 401));
    // The issuer rotates its keys.
    server.set(Answer::keys(&['a', 'b']));
    let rotated = token('b', "b", V1, IDP, &hub.url);
    assert_eq!(statuses(&hub, V1, &rotated).await, (200, 200));
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn a_file_set_is_read() {
    let dir = std::env::temp_dir().join(format!("mercure-jwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("jwks.json");
    std::fs::write(&path, json!({"keys": [jwk('e')]}).to_string()).unwrap();
    let url = url::Url::from_file_path(&path).unwrap();
    let jwks = Jwks::new(url.as_str()).unwrap();
    assert_eq!(jwks.refresh().await, Ok(1));
    let hub = hub(HubConfig::builder().subscriber_jwks(jwks)).await;
    for version in [V0, V1] {
        let token = token('e', "e", version, IDP, &hub.url);
        // Subscribers only: no publisher key.
        assert_eq!(
            statuses(&hub, version, &token).await,
            (200, 401),
            "{version}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// Two threads: the JWKS servers answer while the test waits for the
// binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_takes_jwks_urls_from_its_flags() {
    let server = JwksServer::start(Answer::keys(&['a'])).await;
    let issuer_server = JwksServer::start(Answer::keys(&['b'])).await;
    let dir = process::TempDir::new("jwks");
    let issuer = format!("{IDP}={}", issuer_server.url);
    let process = process::HubProcess::start(
        dir.path(),
        &[
            "--history",
            "memory",
            "--jwks-url",
            &server.url,
            "--issuer-jwks",
            &issuer,
            "--jwks-min-interval",
            "3600",
            "--audience",
            AUDIENCE,
        ],
    );
    let client = reqwest::Client::new();
    let status = |token: String, version: ProtocolVersion| {
        let request = client
            .get(format!("{}?{}", process.url, query(version)))
            .bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    for version in [V0, V1] {
        assert_eq!(
            status(token('a', "a", version, IDP, AUDIENCE), version).await,
            200
        );
    }
    assert_eq!(status(token('b', "b", V1, IDP, AUDIENCE), V1).await, 200);
    assert_eq!(status(token('b', "b", V0, IDP, AUDIENCE), V0).await, 401);
    assert_eq!((server.requests(), issuer_server.requests()), (1, 1));

    // A URL the hub may not fetch, or cannot, stops it at start.
    for (flag, url) in [
        ("--jwks-url", "http://example.com/jwks.json".to_owned()),
        ("--jwks-url", "http://127.0.0.1:1/jwks.json".to_owned()),
        ("--issuer-jwks", "no-equals-sign".to_owned()),
    ] {
        let status = process::command(dir.path(), &["--history", "memory", flag, &url])
            .status()
            .unwrap();
        assert!(!status.success(), "{flag} {url}");
    }
}
