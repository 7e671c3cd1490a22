//! RFC 9728 protected resource metadata (1.0).

use axum::Json;
use axum::extract::State;
use mercure_core::ProtocolVersion;
use serde_json::{Value, json};

use crate::EmbeddedHub;

/// `/.well-known/oauth-protected-resource` followed by the hub's path.
pub(super) fn metadata_path(hub_path: &str) -> String {
    format!("/.well-known/oauth-protected-resource{hub_path}")
}

/// The metadata URL advertised in challenges.
pub(super) fn metadata_url(hub: &EmbeddedHub) -> String {
    let url = &hub.config().url;
    let mut origin = url.origin().ascii_serialization();
    origin.push_str(&metadata_path(url.path().trim_end_matches('/')));
    origin
}

pub(super) async fn metadata(State(hub): State<EmbeddedHub>) -> Json<Value> {
    let config = hub.config();
    let mut methods = vec!["header"];
    if config.support.accepts(ProtocolVersion::V0) {
        methods.push("query");
    }
    let mut doc = json!({
        "resource": config.audience.clone().unwrap_or_else(|| config.url.to_string()),
        "bearer_methods_supported": methods,
        "mercure_cookie": true,
        "mercure_cookie_name": ProtocolVersion::V1.dialect().cookie_name,
        "mercure_matcher_types_supported": ["exact", "urlpattern"],
        "mercure_subscriptions": config.subscriptions,
        "mercure_version": 8,
    });
    if !config.authorization_servers.is_empty()
        && let Some(map) = doc.as_object_mut()
    {
        map.insert(
            "authorization_servers".into(),
            json!(config.authorization_servers),
        );
    }
    Json(doc)
}
