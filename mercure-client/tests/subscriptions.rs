//! The subscriptions API client against a scripted server: statuses,
//! token refresh, the 1.0 cursor in the `Link` header.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};

use mercure_client::subscriptions::SubscriptionsApi;
use mercure_client::token::{Token, TokenFuture, TokenProvider};
use mercure_client::{Error, Hub, ProtocolVersion, TopicSelector};
use support::{ScriptedHub, Step};

#[derive(Debug, Default)]
struct Rotating(AtomicU32);

impl TokenProvider for Rotating {
    fn token(&self) -> TokenFuture<'_> {
        TokenFuture::ready(Ok(Token::new(format!(
            "t{}",
            self.0.load(Ordering::SeqCst)
        ))))
    }

    fn refresh(&self) -> TokenFuture<'_> {
        TokenFuture::ready(Ok(Token::new(format!(
            "t{}",
            self.0.fetch_add(1, Ordering::SeqCst) + 1
        ))))
    }
}

const V1_LIST: &str = r#"{"id": "/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fa", "type": "subscriptions",
    "subscriptions": [{"type": "subscription", "match": "https://example.com/a", "match_type": "exact",
    "subscriber": "urn:uuid:1", "active": true, "payload": {"user": 7}}]}"#;

#[tokio::test]
async fn statuses_refresh_and_cursor() {
    let server = ScriptedHub::start(
        Vec::new(),
        vec![
            Step::status(401),
            Step::status_with(
                200,
                &[
                    ("Content-Type", "application/json"),
                    (
                        "Link",
                        r#"</.well-known/mercure>; rel="mercure"; last-event-id="urn:uuid:42""#,
                    ),
                ],
                V1_LIST,
            ),
            Step::status_with(404, &[], "not found"),
            Step::status_with(404, &[], "not found"),
            Step::status_with(403, &[], "insufficient_scope"),
        ],
        "Mercure-Last-Event-ID",
    )
    .await;
    let hub = Hub::builder(server.url())
        .protocol(ProtocolVersion::V1)
        .token_provider(Rotating::default())
        .build()
        .unwrap();
    let api = SubscriptionsApi::new(&hub);

    // 401, refresh, 200.
    let list = api.for_selector("https://example.com/a").await.unwrap();
    assert_eq!(list.subscriptions.len(), 1);
    assert_eq!(
        list.subscriptions[0].selector,
        TopicSelector::exact("https://example.com/a")
    );
    assert_eq!(list.last_event_id.as_ref().unwrap(), "urn:uuid:42");
    let seen = server.seen();
    assert_eq!(seen[0].header("authorization"), Some("Bearer t0"));
    assert_eq!(seen[1].header("authorization"), Some("Bearer t1"));
    assert_eq!(seen[1].header("accept"), Some("application/json"));
    assert_eq!(
        seen[1].target,
        "/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fa"
    );

    // One subscription that is not there.
    assert_eq!(
        api.get("https://example.com/a", "urn:uuid:2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        server.seen()[2].target,
        "/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fa/urn%3Auuid%3A2"
    );
    // A collection that is not there: no subscriptions API.
    assert!(matches!(
        api.all().await,
        Err(Error::UnexpectedStatus(r)) if r.status == 404
    ));
    // Refused.
    assert!(matches!(
        api.is_connected("https://example.com/a", None).await,
        Err(Error::Forbidden(r)) if r.message == "insufficient_scope"
    ));
}
