//! Discovery metadata, CORS, health and metrics.

mod support;

use mercure_core::ProtocolVersion;
use mercure_core::token::Grants;
use support::{config, start};

#[tokio::test]
async fn serves_protected_resource_metadata_in_1_0() {
    let hub = start(
        config()
            .subscriptions(true)
            .authorization_server("https://auth.example.com"),
    )
    .await;
    let response = hub
        .client
        .get(format!(
            "{}/.well-known/oauth-protected-resource/.well-known/mercure",
            hub.origin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let doc: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(doc["resource"], hub.url.as_str());
    assert_eq!(
        doc["authorization_servers"],
        serde_json::json!(["https://auth.example.com"])
    );
    assert_eq!(
        doc["bearer_methods_supported"],
        serde_json::json!(["header", "query"])
    );
    assert_eq!(doc["mercure_cookie"], true);
    assert_eq!(
        doc["mercure_matcher_types_supported"],
        serde_json::json!(["exact", "urlpattern"])
    );
    assert_eq!(doc["mercure_subscriptions"], true);
    let v0 = start(config().support(mercure_hub::DialectSupport::V0Only)).await;
    let response = v0
        .client
        .get(format!(
            "{}/.well-known/oauth-protected-resource/.well-known/mercure",
            v0.origin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404, "a 0.x hub has no metadata");
}

#[tokio::test]
async fn cors_allows_listed_origins_with_credentials_only() {
    let hub = start(
        config()
            .anonymous(true)
            .cors_origin("https://app.example.com"),
    )
    .await;
    let preflight = |origin: &'static str| {
        hub.client
            .request(reqwest::Method::OPTIONS, &hub.url)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header(
                "access-control-request-headers",
                "last-event-id, authorization",
            )
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let allowed_headers = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("last-event-id"),
        "{allowed_headers}"
    );
    let refused = preflight("https://evil.example.net").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let response = hub
        .client
        .get(format!("{}?topic=t", hub.url))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("last-event-id"), "{exposed}");
}

#[tokio::test]
async fn health_and_metrics() {
    let hub = start(config().metrics(true).anonymous(true)).await;
    let health = hub
        .client
        .get(format!("{}/healthz", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let _stream = hub.stream("topic=t", None).await;
    hub.publish_ok(ProtocolVersion::V0, &[("topic", "t")]).await;
    hub.publish(
        &hub.token(ProtocolVersion::V0, &Grants::new()),
        &[("topic", "t")],
    )
    .await;
    let metrics = hub
        .client
        .get(format!("{}/metrics", hub.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "mercure_subscribers_connected 1\n",
        "mercure_subscribers_total 1\n",
        "mercure_updates_total 1\n",
        "mercure_updates_rejected_total 1\n",
        "mercure_subscribers_dropped_total 0\n",
    ] {
        assert!(metrics.contains(line), "{line} missing in {metrics}");
    }
    let disabled = start(config()).await;
    let response = disabled
        .client
        .get(format!("{}/metrics", disabled.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_wildcard_cors_origin_never_allows_credentials() {
    for lean in [true, false] {
        let builder = config().anonymous(true).cors_origin("*");
        let hub = if lean {
            start(builder).await
        } else {
            support::start_router(builder).await
        };
        let response = hub
            .client
            .get(format!("{}?topic=t", hub.url))
            .header("origin", "https://anywhere.example.org")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], "*", "lean: {lean}");
        assert!(
            headers.get("access-control-allow-credentials").is_none(),
            "lean: {lean}"
        );
        let preflight = hub
            .client
            .request(reqwest::Method::OPTIONS, &hub.url)
            .header("origin", "https://anywhere.example.org")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
        assert!(
            preflight
                .headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
    }
}
