//! RFC 9728 protected resource metadata, published by 1.0 hubs: its
//! presence tells a 1.0 hub from a 0.x one.

use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::{DISCOVERY_TIMEOUT, get};
use crate::{Error, ProtocolVersion, Result};

/// What a 1.0 hub says about itself at
/// `/.well-known/oauth-protected-resource{hub path}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ResourceMetadata {
    /// The resource identifier (the audience of access tokens).
    pub resource: String,
    /// Issuers of access tokens for the hub.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// How tokens may be presented (`header`, `query`...).
    #[serde(default)]
    pub bearer_methods_supported: Vec<String>,
    /// The matcher types the hub supports (`exact`, `urlpattern`...).
    #[serde(default, alias = "mercureMatcherTypesSupported")]
    pub mercure_matcher_types_supported: Vec<String>,
    /// Whether the subscriptions API and subscription events are enabled.
    #[serde(default)]
    pub mercure_subscriptions: Option<bool>,
    /// How the hub reads the authorization cookie, as published.
    #[serde(default)]
    pub mercure_cookie: Option<Value>,
    /// Every other member.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl ResourceMetadata {
    /// Parses a metadata document.
    ///
    /// # Errors
    /// [`Error::InvalidResponse`] when it is not a JSON object with a
    /// string `resource` (and well-typed known members).
    pub fn from_json(body: &[u8]) -> Result<Self> {
        serde_json::from_slice(body).map_err(|e| {
            Error::InvalidResponse(format!("invalid protected resource metadata: {e}"))
        })
    }
}

/// Where the RFC 9728 metadata of the hub at `hub` lives:
/// `/.well-known/oauth-protected-resource` inserted before the path.
///
/// ```
/// use url::Url;
///
/// let hub = Url::parse("https://example.com/.well-known/mercure").unwrap();
/// assert_eq!(
///     mercure_client::discovery::metadata_url(&hub).as_str(),
///     "https://example.com/.well-known/oauth-protected-resource/.well-known/mercure"
/// );
/// ```
pub fn metadata_url(hub: &Url) -> Url {
    let mut url = hub.clone();
    let path = hub.path().trim_end_matches('/');
    url.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Fetches the hub's protected resource metadata: `None` when the hub
/// publishes none (404, 405, 410: a 0.x hub).
///
/// # Errors
/// [`Error::Transport`], [`Error::Timeout`], [`Error::InvalidResponse`]
/// for a malformed document, a status error for other refusals.
pub async fn fetch_resource_metadata(
    client: &reqwest::Client,
    hub: &Url,
) -> Result<Option<ResourceMetadata>> {
    let (status, _, body) = get(client, metadata_url(hub), DISCOVERY_TIMEOUT).await?;
    match status {
        200..=299 => ResourceMetadata::from_json(&body).map(Some),
        404 | 405 | 410 => Ok(None),
        _ => Err(super::status_error(status, &body)),
    }
}

/// Tells which dialect the hub at `hub` speaks: 1.0 when it publishes
/// protected resource metadata, 0.x otherwise.
///
/// ```no_run
/// use mercure_client::Hub;
/// use mercure_client::discovery::detect_protocol;
///
/// # async fn run() -> mercure_client::Result<()> {
/// let url = url::Url::parse("https://example.com/.well-known/mercure").unwrap();
/// let version = detect_protocol(&reqwest::Client::new(), &url).await?;
/// let hub = Hub::builder(url.as_str()).protocol(version).build()?;
/// # let _ = hub; Ok(()) }
/// ```
///
/// # Errors
/// As [`fetch_resource_metadata`].
pub async fn detect_protocol(client: &reqwest::Client, hub: &Url) -> Result<ProtocolVersion> {
    Ok(match fetch_resource_metadata(client, hub).await? {
        Some(_) => ProtocolVersion::V1,
        None => ProtocolVersion::V0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls() {
        for (hub, expected) in [
            (
                "https://example.com/.well-known/mercure",
                "https://example.com/.well-known/oauth-protected-resource/.well-known/mercure",
            ),
            (
                "https://example.com:8443/hub/?x=1#f",
                "https://example.com:8443/.well-known/oauth-protected-resource/hub",
            ),
            (
                "https://example.com/",
                "https://example.com/.well-known/oauth-protected-resource",
            ),
        ] {
            assert_eq!(metadata_url(&Url::parse(hub).unwrap()).as_str(), expected);
        }
    }

    #[test]
    fn parses_documents() {
        let metadata = ResourceMetadata::from_json(
            br#"{"resource": "https://example.com/.well-known/mercure",
                 "bearer_methods_supported": ["header"],
                 "mercure_matcher_types_supported": ["exact", "urlpattern"],
                 "mercure_subscriptions": true, "mercure_cookie": true, "mercure_version": 8}"#,
        )
        .unwrap();
        assert_eq!(metadata.resource, "https://example.com/.well-known/mercure");
        assert_eq!(
            metadata.mercure_matcher_types_supported,
            ["exact", "urlpattern"]
        );
        assert_eq!(metadata.mercure_subscriptions, Some(true));
        assert_eq!(metadata.other["mercure_version"], 8);
        for bad in [&b"[]"[..], b"{}", b"{\"resource\": 1}", b"<html>"] {
            assert!(matches!(
                ResourceMetadata::from_json(bad),
                Err(Error::InvalidResponse(_))
            ));
        }
    }
}
