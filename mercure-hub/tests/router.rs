//! The same flows served by the axum router alone (`mercure_hub::serve`),
//! as an application embedding the hub serves them, and by the lean path
//! of `mercure_hub::serve_hub`.

mod support;

use mercure_core::ProtocolVersion;
use mercure_core::token::Grants;
use support::{TestHub, config, start, start_router};

async fn flows(hub: TestHub) {
    let token = hub.token(ProtocolVersion::V1, &Grants::subscribe_all());
    let mut reader = hub
        .stream("match=t&last_event_id=earliest", Some(&token))
        .await;
    assert_eq!(
        reader.header("content-type").as_deref(),
        Some("text/event-stream")
    );
    assert_eq!(
        reader.header("mercure-last-event-id").as_deref(),
        Some("earliest")
    );
    assert_eq!(reader.next_block().await.as_deref(), Some(":"));
    for i in 0..3 {
        hub.publish_ok(
            ProtocolVersion::V1,
            &[
                ("topic", "t"),
                ("data", &format!("a\nb{i}")),
                ("private", "on"),
            ],
        )
        .await;
        let event = reader.next_event().await.unwrap();
        assert_eq!(event.data, ["a", &format!("b{i}")]);
    }
    hub.wait_subscribers(1).await;
    // A client going away unsubscribes.
    drop(reader);
    hub.wait_subscribers(0).await;
    // Refusals are answered the same way.
    assert_eq!(hub.subscribe("match=t", None).await.status(), 401);
    assert_eq!(hub.subscribe("nothing=1", Some(&token)).await.status(), 400);
    // Closing a subscriber from the application ends its stream cleanly.
    let mut reader = hub.stream("match=t", Some(&token)).await;
    assert_eq!(reader.next_block().await.as_deref(), Some(":"));
    hub.wait_subscribers(1).await;
    assert_eq!(hub.hub.close_subscribers(|_| true), 1);
    assert_eq!(reader.next_event().await, None);
    assert!(reader.ended);
}

#[tokio::test]
async fn through_the_router() {
    flows(start_router(config()).await).await;
}

#[tokio::test]
async fn through_the_lean_path() {
    flows(start(config()).await).await;
}

#[tokio::test]
async fn the_lean_path_hands_other_requests_to_the_router_on_the_same_connection() {
    let hub = start(config().metrics(true)).await;
    // reqwest reuses its keep-alive connection: a publish, a health check
    // and a metrics read, all replayed into hyper by the lean front.
    for _ in 0..3 {
        hub.publish_ok(ProtocolVersion::V0, &[("topic", "t")]).await;
        let health = hub
            .client
            .get(format!("{}/healthz", hub.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    }
    let metrics = hub
        .client
        .get(format!("{}/metrics", hub.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("mercure_updates_total 3"), "{metrics}");
}
