//! Publishing against a real HTTP server: exact requests per dialect and a
//! typed error for every refusal.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mercure_client::clock::ManualClock;
use mercure_client::token::{FnTokenProvider, Grants, SigningKey, Token, TokenError, TokenFactory};
use mercure_client::{Error, Hub, ProtocolVersion, Update, UpdateError};
use mercure_core::token::{VerificationKey, Verifier};
use mercure_integration_tests::{Scripted, TestServer};

const ID: &str = "urn:uuid:6c0f5a3e-3c3d-4b5e-9a39-8d9c2f6e1f10";
/// A publish time-out no exchange with a server on 127.0.0.1 comes near,
/// where time-outs are not what is tested.
const GENEROUS: Duration = Duration::from_secs(30);
/// Bounds a whole test step that should end at once.
const PATIENCE: Duration = Duration::from_secs(10);

async fn ok_server() -> TestServer {
    TestServer::start(|_, _| Scripted::new(200, ID).header("content-type", "text/plain")).await
}

fn hub(server: &TestServer, path: &str, version: ProtocolVersion) -> Hub {
    Hub::builder(server.url(path))
        .protocol(version)
        .token(Token::new("publisher.jwt.value"))
        .timeout(Some(GENEROUS))
        .build()
        .expect("hub")
}

/// A server on 127.0.0.1 that accepts connections and never answers
/// (nor closes them) until the task is aborted.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!("http://{}/hub", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (url, task)
}

#[tokio::test]
async fn request_bodies_and_headers_are_exact_for_both_dialects() {
    let cases: Vec<(Update, &str)> = vec![
        (
            Update::builder("https://example.com/books/1")
                .build()
                .unwrap(),
            "topic=https%3A%2F%2Fexample.com%2Fbooks%2F1",
        ),
        (
            Update::new("https://example.com/books/1", "").unwrap(),
            "topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&data=",
        ),
        (
            Update::builder("https://example.com/books/1")
                .alternate("https://example.com/users/42/books/1")
                .data("{\"a\": 1}\nsecond line")
                .private(true)
                .build()
                .unwrap(),
            "topic=https%3A%2F%2Fexample.com%2Fbooks%2F1\
             &topic=https%3A%2F%2Fexample.com%2Fusers%2F42%2Fbooks%2F1\
             &data=%7B%22a%22%3A+1%7D%0Asecond+line&private=on",
        ),
        (
            Update::builder("/relative/topic")
                .id("book-1-v2")
                .event_type("book.updated")
                .retry(Duration::from_secs(3))
                .build()
                .unwrap(),
            "topic=%2Frelative%2Ftopic&id=book-1-v2&type=book.updated&retry=3000",
        ),
    ];
    for version in ProtocolVersion::ALL {
        let server = ok_server().await;
        let hub = hub(&server, "/.well-known/mercure", version);
        for (update, _) in &cases {
            let id = hub.publish(update).await.expect("publish");
            assert_eq!(id, ID);
        }
        let requests = server.requests();
        assert_eq!(requests.len(), cases.len());
        for (request, (_, body)) in requests.iter().zip(&cases) {
            assert_eq!(request.method, "POST");
            assert_eq!(request.uri, "/.well-known/mercure");
            assert_eq!(request.text(), *body, "{version}");
            assert_eq!(
                request.header("content-type").as_deref(),
                Some("application/x-www-form-urlencoded")
            );
            assert_eq!(
                request.header("authorization").as_deref(),
                Some("Bearer publisher.jwt.value")
            );
        }
    }
}

#[tokio::test]
async fn dialect_rules_are_checked_before_sending() {
    let server = ok_server().await;
    let v1 = hub(&server, "/hub", ProtocolVersion::V1);
    let wildcard = Update::new("*", "x").unwrap();
    assert!(matches!(
        v1.publish(&wildcard).await,
        Err(Error::InvalidUpdate(UpdateError::WildcardTopic { .. }))
    ));
    assert!(server.requests().is_empty(), "nothing may be sent");
    let v0 = hub(&server, "/hub", ProtocolVersion::V0);
    v0.publish(&wildcard)
        .await
        .expect("0.x allows * as a topic");
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.requests()[0].text(), "topic=*&data=x");
}

#[tokio::test]
async fn every_refusal_has_its_typed_error() {
    let server = TestServer::start(|request, _| {
        let path = request.uri.as_str();
        match path {
            "/400" => Scripted::new(400, "Missing \"topic\" field"),
            "/401" => Scripted::new(401, "Unauthorized").header(
                "www-authenticate",
                r#"Bearer realm="mercure", error="invalid_token", error_description="token expired""#,
            ),
            "/403" => Scripted::new(403, "").header(
                "www-authenticate",
                r#"Bearer error="insufficient_scope", error_description="no publish grant for topic""#,
            ),
            "/413" => Scripted::new(413, "Request Entity Too Large"),
            "/500" => Scripted::new(500, "boom"),
            "/503" => Scripted::new(503, "draining"),
            "/429" => Scripted::new(429, "slow down"),
            "/empty" => Scripted::new(200, ""),
            "/blank" => Scripted::new(200, " \n"),
            _ => Scripted::new(404, "not found"),
        }
    })
    .await;
    let update = Update::new("https://example.com/books/1", "x").unwrap();
    let publish = |path: &'static str| {
        let hub = hub(&server, path, ProtocolVersion::V1);
        let update = update.clone();
        async move { hub.publish(&update).await.expect_err(path) }
    };

    let error = publish("/400").await;
    assert!(matches!(&error, Error::BadRequest(r) if r.message == "Missing \"topic\" field"));
    assert_eq!(error.status(), Some(400));
    assert!(!error.is_retryable());

    let error = publish("/401").await;
    let Error::Unauthorized(rejection) = &error else {
        panic!("{error:?}")
    };
    let challenge = rejection.challenge.as_ref().expect("challenge parsed");
    assert_eq!(challenge.error.as_deref(), Some("invalid_token"));
    assert_eq!(
        challenge.error_description.as_deref(),
        Some("token expired")
    );
    assert_eq!(challenge.realm.as_deref(), Some("mercure"));
    assert!(error.to_string().contains("invalid_token: token expired"));

    let error = publish("/403").await;
    assert!(matches!(&error, Error::Forbidden(r)
        if r.challenge.as_ref().and_then(|c| c.error.as_deref()) == Some("insufficient_scope")));

    assert!(matches!(publish("/413").await, Error::PayloadTooLarge(_)));

    let error = publish("/500").await;
    assert!(matches!(&error, Error::ServerError(r) if r.status == 500 && r.message == "boom"));
    assert!(error.is_retryable());
    assert!(matches!(publish("/503").await, Error::ServerError(r) if r.status == 503));

    let error = publish("/429").await;
    assert!(matches!(&error, Error::UnexpectedStatus(r) if r.status == 429));
    assert!(error.is_retryable());
    assert!(matches!(publish("/404").await, Error::UnexpectedStatus(r) if r.status == 404));

    assert!(matches!(
        publish("/empty").await,
        Error::EmptyEventId { status: 200 }
    ));
    assert!(matches!(
        publish("/blank").await,
        Error::EmptyEventId { status: 200 }
    ));
    // One request per path, and nothing retried.
    assert_eq!(server.requests().len(), 10);
}

/// A hub that never answers: the publish gives up at its time-out, with a
/// retryable time-out error. The server never answering, the outcome does
/// not depend on how fast anything runs.
#[tokio::test]
async fn a_hub_that_never_answers_times_out() {
    let (url, server) = silent_server().await;
    let timeout = Duration::from_millis(200);
    let hub = Hub::builder(&url)
        .token(Token::new("publisher.jwt.value"))
        .timeout(Some(timeout))
        .build()
        .expect("hub");
    let started = tokio::time::Instant::now();
    let error = tokio::time::timeout(
        PATIENCE,
        hub.publish(&Update::new("https://example.com/books/1", "x").unwrap()),
    )
    .await
    .expect("the publish gives up within its time-out, far below 10 s")
    .expect_err("nothing answers");
    assert!(error.is_timeout(), "{error:?}");
    assert!(error.is_retryable());
    assert!(
        started.elapsed() >= timeout,
        "gave up after {:?}, before its time-out",
        started.elapsed()
    );
    server.abort();
}

#[tokio::test]
async fn tokens_never_appear_in_errors_or_debug_output() {
    let server = TestServer::start(|_, _| {
        Scripted::new(401, "").header("www-authenticate", r#"Bearer error="invalid_token""#)
    })
    .await;
    let secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWNsYWltcw.c2lnbmF0dXJl";
    let hub = Hub::builder(server.url("/hub"))
        .token(Token::new(secret))
        .timeout(Some(GENEROUS))
        .build()
        .unwrap();
    let error = hub
        .publish(&Update::new("a", "b").unwrap())
        .await
        .unwrap_err();
    for text in [
        format!("{error}"),
        format!("{error:?}"),
        format!("{hub:?}"),
        format!("{:?}", Token::new(secret)),
    ] {
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains("c2lnbmF0dXJl"), "{text}");
    }
}

#[tokio::test]
async fn a_401_refreshes_the_token_once() {
    let server = TestServer::start(|request, _| {
        if request.header("authorization").as_deref() == Some("Bearer fresh") {
            Scripted::new(200, ID)
        } else {
            Scripted::new(401, "").header("www-authenticate", r#"Bearer error="invalid_token""#)
        }
    })
    .await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let provider = FnTokenProvider::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(Token::new(if n == 0 { "stale" } else { "fresh" })))
    });
    let hub = Hub::builder(server.url("/hub"))
        .token_provider(provider)
        .timeout(Some(GENEROUS))
        .build()
        .unwrap();
    let id = hub
        .publish(&Update::new("a", "b").unwrap())
        .await
        .expect("retried with a fresh token");
    assert_eq!(id, ID);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(server.requests().len(), 2);

    // A provider that cannot do better is not retried in a loop.
    let hub = hub_with_static(&server, "still-stale");
    assert!(matches!(
        hub.publish(&Update::new("a", "b").unwrap()).await,
        Err(Error::Unauthorized(_))
    ));
    assert_eq!(server.requests().len(), 3);
}

fn hub_with_static(server: &TestServer, token: &str) -> Hub {
    Hub::builder(server.url("/hub"))
        .token(Token::new(token))
        .timeout(Some(GENEROUS))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_factory_backed_hub_presents_a_verifiable_cached_token() {
    const NOW: u64 = 1_800_000_000;
    const SECRET: &[u8] = b"publisher-secret";
    let server = ok_server().await;
    let clock = ManualClock::at_unix(NOW);
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
        .protocol(ProtocolVersion::V1)
        .issuer("https://app.example.com")
        .audience(server.url("/hub"))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let hub = Hub::builder(server.url("/hub"))
        .token_factory(factory, Grants::publish_all())
        .timeout(Some(GENEROUS))
        .build()
        .unwrap();
    assert_eq!(hub.protocol(), ProtocolVersion::V1);
    let update = Update::new("https://example.com/a", "1").unwrap();
    hub.publish(&update).await.unwrap();
    hub.publish(&update).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let first = requests[0].header("authorization").unwrap();
    assert_eq!(
        first,
        requests[1].header("authorization").unwrap(),
        "cached"
    );
    let token = first.strip_prefix("Bearer ").unwrap();

    // Its signature verifies with the publisher's key, and its claims are
    // those configured, valid for the default hour from the clock's time.
    let verifier = |now: u64, secret: &[u8]| {
        Verifier::new([VerificationKey::hs256(secret).unwrap()])
            .with_clock(Arc::new(ManualClock::at_unix(now)))
    };
    let claims = verifier(NOW, SECRET).verify(token).unwrap();
    assert_eq!(claims.dialect(), ProtocolVersion::V1);
    assert_eq!(claims.token_type(), Some("at+jwt"));
    assert_eq!(claims.issuer(), Some("https://app.example.com"));
    assert_eq!(claims.audience(), [server.url("/hub")]);
    assert_eq!(claims.issued_at(), Some(NOW));
    assert_eq!(claims.expires_at(), Some(NOW + 3600));
    // Without a subject of its own, a 1.0 token's `sub` is its issuer.
    assert_eq!(
        claims.grants(),
        &Grants::publish_all().with_subject("https://app.example.com")
    );
    // Signed with that key only, and valid until `exp` excluded.
    assert_eq!(
        verifier(NOW, b"another-secret").verify(token).unwrap_err(),
        TokenError::InvalidSignature
    );
    assert!(verifier(NOW + 3599, SECRET).verify(token).is_ok());
    assert_eq!(
        verifier(NOW + 3600, SECRET).verify(token).unwrap_err(),
        TokenError::Expired
    );
}

/// Nothing listens on the hub's port: the publish fails at once with a
/// retryable transport error.
#[tokio::test]
async fn unreachable_hub_is_a_transport_error() {
    // A socket bound but not listening: its port refuses connections, and
    // no other process can take it while the test holds it.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    let hub = Hub::builder(format!("http://127.0.0.1:{port}/hub"))
        .timeout(Some(GENEROUS))
        .build()
        .unwrap();
    let error = tokio::time::timeout(PATIENCE, hub.publish(&Update::new("a", "b").unwrap()))
        .await
        .expect("a refused connection fails at once")
        .unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert!(error.is_retryable());
    drop(socket);
}

#[test]
fn invalid_configuration_is_typed() {
    assert!(matches!(
        Hub::builder("not a url").build(),
        Err(Error::InvalidUrl { .. })
    ));
    assert!(matches!(
        Hub::builder("ftp://example.com/hub").build(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Hub::builder("https://example.com/hub")
            .public_url("::bad")
            .build(),
        Err(Error::InvalidUrl { .. })
    ));
    let hub = Hub::builder("http://hub:3000/.well-known/mercure")
        .public_url("https://example.com/.well-known/mercure")
        .build()
        .unwrap();
    assert_eq!(hub.url().as_str(), "http://hub:3000/.well-known/mercure");
    assert_eq!(
        hub.public_url().as_str(),
        "https://example.com/.well-known/mercure"
    );
}

/// A token provider that awaits a network call (as an OAuth
/// client-credentials grant would) before every publish, against our hub.
#[tokio::test]
async fn a_provider_may_fetch_its_token_over_the_network() {
    use mercure_client::token::{TokenError, TokenProvider};

    const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
    let hub = mercure_integration_tests::served_hub::serve_hub(
        mercure_hub::HubConfig::builder().key(mercure_hub::VerificationKey::hs256(SECRET).unwrap()),
    )
    .await;
    // The token service: mints a publisher token per request.
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
        .build()
        .unwrap();
    let issued = Arc::new(AtomicUsize::new(0));
    let service_count = Arc::clone(&issued);
    let service = axum::Router::new().route(
        "/token",
        axum::routing::post(move || {
            let factory = factory.clone();
            let issued = Arc::clone(&service_count);
            async move {
                issued.fetch_add(1, Ordering::SeqCst);
                factory
                    .mint(&Grants::publish_all())
                    .unwrap()
                    .expose()
                    .to_owned()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token_url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, service).await });

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let provider = FnTokenProvider::new(move || {
        let (http, url) = (http.clone(), token_url.clone());
        async move {
            let response = http
                .post(url)
                .send()
                .await
                .map_err(|e| TokenError::Provider(format!("token service: {e}")))?;
            let text = response
                .text()
                .await
                .map_err(|e| TokenError::Provider(format!("token service: {e}")))?;
            Ok(Token::new(text))
        }
    });
    assert!(provider.token().await.is_ok());
    let client = Hub::builder(&hub.url)
        .token_provider(provider)
        .timeout(Some(GENEROUS))
        .build()
        .unwrap();
    for n in 0..3 {
        let id = client
            .publish(&Update::new("https://example.com/books/1", format!("{n}")).unwrap())
            .await
            .expect("published with a fetched token");
        // The id the hub gave this update: the newest in its history.
        assert_eq!(Some(id), hub.hub.last_event_id(), "update {n}");
    }
    // Once for the check above, once per publish.
    assert_eq!(issued.load(Ordering::SeqCst), 4);
}
