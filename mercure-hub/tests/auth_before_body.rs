//! Tokens are checked before request bodies are read: a client without the
//! right to publish (or to subscribe) is answered from its request head,
//! before it sends a byte of its body, whatever length it declares; and
//! `QUERY` bodies, which only carry selectors, are held to a small limit.
//! On loopback, bounded in count and time.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use mercure_core::ProtocolVersion::{V0, V1};
use mercure_core::token::Grants;
use support::{TestHub, config, start, start_router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest any step of these tests may take.
const BOUND: Duration = Duration::from_secs(10);
/// The `QUERY` body limit.
const MAX_QUERY_BODY: usize = 64 * 1024;

fn address(hub: &TestHub) -> SocketAddr {
    hub.origin.trim_start_matches("http://").parse().unwrap()
}

/// Sends a request head declaring a body of `length` bytes, sends none of
/// it, and returns the hub's answer (up to its close), or `None` when the
/// hub says nothing within `wait`.
async fn head_only(
    hub: &TestHub,
    method: &str,
    token: Option<&str>,
    length: usize,
    wait: Duration,
) -> Option<String> {
    let mut stream = TcpStream::connect(address(hub)).await.unwrap();
    let authorization = token
        .map(|token| format!("authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} /.well-known/mercure HTTP/1.1\r\nhost: x\r\n{authorization}\
         content-type: application/x-www-form-urlencoded\r\n\
         content-length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // The first bytes within `wait`, the rest until the status line and
    // headers are in.
    match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
        Err(_) => return None,
        Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
        Ok(Err(error)) => panic!("{error}"),
    }
    let _ = tokio::time::timeout(BOUND, async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    Some(String::from_utf8_lossy(&answer).into_owned())
}

fn status(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("")
}

#[tokio::test]
async fn publishers_without_the_right_are_answered_before_their_body() {
    for lean in [true, false] {
        let hub = if lean {
            start(config()).await
        } else {
            start_router(config()).await
        };
        let megabyte = 1 << 20;
        let subscriber = hub.token(V0, &Grants::subscribe_all());
        let publisher = hub.token(V0, &Grants::publish_all());
        for (token, expected) in [
            // No token, a forged one, one without any publishing right.
            (None, "401"),
            (Some("garbage.garbage.garbage"), "401"),
            (Some(subscriber.as_str()), "403"),
            // A publisher's token, but a body over the limit.
            (Some(publisher.as_str()), "413"),
        ] {
            let answer = head_only(&hub, "POST", token, megabyte + 1, BOUND)
                .await
                .expect("no answer");
            assert_eq!(status(&answer), expected, "lean: {lean}: {answer}");
        }
        // With the declared length within the limit, the same refusals
        // come at once.
        for (token, expected) in [(None, "401"), (Some(subscriber.as_str()), "403")] {
            let answer = head_only(&hub, "POST", token, megabyte - 1, BOUND)
                .await
                .expect("no answer");
            assert_eq!(status(&answer), expected, "lean: {lean}: {answer}");
        }
        // A publisher's body within the limit is waited for.
        assert_eq!(
            head_only(
                &hub,
                "POST",
                Some(&publisher),
                100,
                Duration::from_millis(300)
            )
            .await,
            None,
            "lean: {lean}"
        );
        assert_eq!(hub.hub.metrics().updates_published, 0);
    }
}

#[tokio::test]
async fn many_unauthenticated_large_publishes_are_refused_at_once() {
    let hub = start(config()).await;
    let answers = futures_util::future::join_all(
        (0..50).map(|_| head_only(&hub, "POST", None, 1 << 20, BOUND)),
    )
    .await;
    for answer in answers {
        let answer = answer.expect("no answer");
        assert_eq!(status(&answer), "401", "{answer}");
    }
}

#[tokio::test]
async fn query_subscribers_without_a_token_are_answered_before_their_body() {
    let hub = start(config()).await;
    let answer = head_only(&hub, "QUERY", None, MAX_QUERY_BODY, BOUND)
        .await
        .expect("no answer");
    assert_eq!(status(&answer), "401", "{answer}");
    // A 0.x token is not enough for a 1.0 request.
    let legacy = hub.token(V0, &Grants::subscribe_all());
    let answer = head_only(&hub, "QUERY", Some(&legacy), MAX_QUERY_BODY, BOUND)
        .await
        .expect("no answer");
    assert_eq!(status(&answer), "401", "{answer}");
}

#[tokio::test]
async fn query_bodies_over_their_limit_get_413() {
    let hub = start(config()).await;
    let token = hub.token(V1, &Grants::subscribe_all());
    let query = reqwest::Method::from_bytes(b"QUERY").unwrap();
    // Declared too long: refused before it is read.
    let answer = head_only(&hub, "QUERY", Some(&token), MAX_QUERY_BODY + 1, BOUND)
        .await
        .expect("no answer");
    assert_eq!(status(&answer), "413", "{answer}");
    // Sent too long, chunked, without a declared length: refused while read.
    let long = format!("match=t&pad={}", "x".repeat(MAX_QUERY_BODY));
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = long
        .as_bytes()
        .chunks(8192)
        .map(|chunk| Ok(bytes::Bytes::copy_from_slice(chunk)))
        .collect();
    let response = hub
        .client
        .request(query.clone(), &hub.url)
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // A body of exactly the limit is read and served.
    let prefix = "match=t&pad=";
    let exact = format!("{prefix}{}", "x".repeat(MAX_QUERY_BODY - prefix.len()));
    assert_eq!(exact.len(), MAX_QUERY_BODY);
    let response = hub
        .client
        .request(query, &hub.url)
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(exact)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
