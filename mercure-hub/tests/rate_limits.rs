//! Request rate limits per client over real loopback HTTP: a token bucket
//! per token subject, else per address (several source addresses of
//! 127.0.0.0/8), answered 429 with `Retry-After`, counted once (on the
//! lean path as through the router), in a table bounded in keys.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use mercure_core::token::Grants;
use mercure_core::{ProtocolVersion, Update};
use mercure_hub::RateLimit;
use support::{TestHub, config, start, start_router};

/// A client sending from the loopback address `127.0.0.{last}`.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap()
}

/// Publishes from `client` with `token`: status, `Retry-After`, body.
async fn publish_from(
    hub: &TestHub,
    client: &reqwest::Client,
    token: &str,
) -> (u16, Option<String>, String) {
    let response = client
        .post(&hub.url)
        .bearer_auth(token)
        .form(&[("topic", "https://example.com/t"), ("data", "x")])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, response.text().await.unwrap())
}

/// A publisher's token: 1.0 with `subject`, or 0.x without any (1.0
/// tokens always name a subject).
fn publisher(hub: &TestHub, subject: Option<&str>) -> String {
    match subject {
        Some(subject) => hub.token(
            ProtocolVersion::V1,
            &Grants::publish_all().with_subject(subject),
        ),
        None => hub.token(ProtocolVersion::V0, &Grants::publish_all()),
    }
}

/// Statuses of `n` publishes from `client` with `token`.
async fn statuses(hub: &TestHub, client: &reqwest::Client, token: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(publish_from(hub, client, token).await.0);
    }
    out
}

#[tokio::test]
async fn a_burst_over_the_publish_limit_gets_429_and_other_addresses_do_not() {
    // One request every 100 s: nothing refills during the test.
    let hub = start(
        config()
            .anonymous(true)
            .metrics(true)
            .publish_rate(Some(RateLimit::new(0.01, 3))),
    )
    .await;
    let token = publisher(&hub, None);
    let one = client_from(1);
    assert_eq!(statuses(&hub, &one, &token, 3).await, [200, 200, 200]);
    let (status, retry, body) = publish_from(&hub, &one, &token).await;
    assert_eq!(status, 429);
    assert_eq!(retry.as_deref(), Some("100"));
    assert_eq!(body, "too many requests: try again in 100 s\n");
    // Another address has its own bucket.
    let two = client_from(2);
    assert_eq!(statuses(&hub, &two, &token, 3).await, [200, 200, 200]);
    assert_eq!(statuses(&hub, &two, &token, 1).await, [429]);
    let metrics = hub.hub.metrics();
    assert_eq!(metrics.publishes_rate_limited, 2);
    assert_eq!(metrics.subscribes_rate_limited, 0);
    assert_eq!(metrics.updates_published, 6);
    // And the Prometheus endpoint says so.
    let text = hub
        .client
        .get(format!("{}/metrics", hub.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("\nmercure_publish_rate_limited_total 2\n"),
        "{text}"
    );
    assert!(text.contains("\nmercure_rate_limit_keys 2\n"), "{text}");
    // The in-process API is never limited.
    for i in 0..10 {
        hub.hub
            .publish(
                &Update::builder("https://example.com/t")
                    .data(i.to_string())
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn tokens_refill_at_the_rate() {
    // One token every 500 ms, one at a time.
    let hub = start(config().publish_rate(Some(RateLimit::new(2.0, 1)))).await;
    let token = publisher(&hub, None);
    let client = client_from(1);
    assert_eq!(publish_from(&hub, &client, &token).await.0, 200);
    let (status, retry, _) = publish_from(&hub, &client, &token).await;
    assert_eq!((status, retry.as_deref()), (429, Some("1")));
    // Retry-After is rounded up: by then a token is there.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(publish_from(&hub, &client, &token).await.0, 200);
}

#[tokio::test]
async fn the_token_subject_is_the_key_before_the_address() {
    let hub = start(
        config()
            .metrics(true)
            .publish_rate(Some(RateLimit::new(0.01, 2))),
    )
    .await;
    let alice = publisher(&hub, Some("alice"));
    let bob = publisher(&hub, Some("bob"));
    let nobody = publisher(&hub, None);
    let one = client_from(1);
    let two = client_from(2);
    assert_eq!(statuses(&hub, &one, &alice, 3).await, [200, 200, 429]);
    // Alice's bucket follows her to another address...
    assert_eq!(statuses(&hub, &two, &alice, 1).await, [429]);
    // ...and her address is not the worse for it: Bob and a token
    // without a subject from the same address have buckets of their own.
    assert_eq!(statuses(&hub, &one, &bob, 2).await, [200, 200]);
    assert_eq!(statuses(&hub, &one, &nobody, 2).await, [200, 200]);
    assert_eq!(statuses(&hub, &one, &nobody, 1).await, [429]);
    assert_eq!(hub.hub.metrics().publishes_rate_limited, 3);
}

#[tokio::test]
async fn a_subject_naming_only_the_issuer_keys_by_address() {
    // A 1.0 factory given no subject puts its issuer in `sub`: that names
    // every user of the application, so their addresses key the limits.
    let hub = start(
        config()
            .metrics(true)
            .publish_rate(Some(RateLimit::new(0.01, 2))),
    )
    .await;
    let shared = hub.token(ProtocolVersion::V1, &Grants::publish_all());
    let one = client_from(1);
    let two = client_from(2);
    assert_eq!(statuses(&hub, &one, &shared, 3).await, [200, 200, 429]);
    assert_eq!(statuses(&hub, &two, &shared, 3).await, [200, 200, 429]);
    assert_eq!(hub.hub.metrics().publishes_rate_limited, 2);
}

#[tokio::test]
async fn requests_refused_for_their_token_cost_their_address() {
    // Checking a signature is work: a client sending bad tokens is limited
    // by its address like any other.
    let hub = start(
        config()
            .metrics(true)
            .publish_rate(Some(RateLimit::new(0.01, 2))),
    )
    .await;
    let forged = format!("{}x", publisher(&hub, Some("alice")));
    let one = client_from(1);
    assert_eq!(statuses(&hub, &one, &forged, 3).await, [401, 401, 429]);
    // Another address, and Alice's own bucket, are untouched.
    let two = client_from(2);
    assert_eq!(statuses(&hub, &two, &forged, 1).await, [401]);
    let alice = publisher(&hub, Some("alice"));
    assert_eq!(statuses(&hub, &one, &alice, 2).await, [200, 200]);
}

/// Status and `Retry-After` of a subscription request from `client`.
async fn subscribe_from(
    hub: &TestHub,
    client: &reqwest::Client,
    token: Option<&str>,
) -> (u16, Option<String>, reqwest::Response) {
    let mut request = client.get(format!("{}?topic=https://example.com/t", hub.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), retry, response)
}

async fn subscriptions_are_limited(hub: TestHub) {
    let one = client_from(1);
    let mut open = Vec::new();
    for _ in 0..2 {
        let (status, _, response) = subscribe_from(&hub, &one, None).await;
        assert_eq!(status, 200);
        open.push(response);
    }
    let (status, retry, response) = subscribe_from(&hub, &one, None).await;
    assert_eq!((status, retry.as_deref()), (429, Some("100")));
    assert_eq!(
        response.text().await.unwrap(),
        "too many requests: try again in 100 s\n"
    );
    // Counted once, though the lean path hands the refusal to the router.
    assert_eq!(hub.hub.metrics().subscribes_rate_limited, 1);
    // The subscriptions API shares the subscriber's bucket: a subject's.
    let reader = hub.token(
        ProtocolVersion::V1,
        &Grants::subscribe_all().with_subject("reader"),
    );
    let api = |token: String| {
        let one = one.clone();
        let url = format!("{}/subscriptions", hub.url);
        async move {
            one.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(api(reader.clone()).await, 200);
    let (status, _, response) = subscribe_from(&hub, &one, Some(&reader)).await;
    assert_eq!(status, 200);
    open.push(response);
    assert_eq!(api(reader.clone()).await, 429);
    // Another address subscribes anonymously.
    let (status, _, _) = subscribe_from(&hub, &client_from(2), None).await;
    assert_eq!(status, 200);
    assert_eq!(hub.hub.metrics().subscribes_rate_limited, 2);
    assert_eq!(hub.hub.metrics().publishes_rate_limited, 0);
}

fn subscribe_limited() -> mercure_hub::HubConfigBuilder {
    config()
        .anonymous(true)
        .subscriptions(true)
        .subscribe_rate(Some(RateLimit::new(0.01, 2)))
}

#[tokio::test]
async fn subscriptions_are_limited_on_the_lean_path() {
    subscriptions_are_limited(start(subscribe_limited()).await).await;
}

#[tokio::test]
async fn subscriptions_are_limited_through_the_router() {
    subscriptions_are_limited(start_router(subscribe_limited()).await).await;
}

#[tokio::test]
async fn the_key_table_stays_bounded() {
    let hub = start(
        config()
            .anonymous(true)
            .rate_limit_keys(32)
            .publish_rate(Some(RateLimit::new(0.01, 1)))
            .subscribe_rate(Some(RateLimit::new(0.01, 1))),
    )
    .await;
    // 400 subjects, each publishing once (a full bucket each).
    let client = client_from(1);
    for i in 0..400 {
        let token = publisher(&hub, Some(&format!("user-{i}")));
        assert_eq!(publish_from(&hub, &client, &token).await.0, 200, "{i}");
    }
    // 100 addresses, each subscribing once.
    for last in 1..=100 {
        let (status, _, _) = subscribe_from(&hub, &client_from(last), None).await;
        assert_eq!(status, 200, "{last}");
    }
    let keys = hub.hub.metrics().rate_limit_keys;
    // At most 32 for each of the two limits.
    assert!(keys > 0 && keys <= 64, "{keys} keys held");
}
