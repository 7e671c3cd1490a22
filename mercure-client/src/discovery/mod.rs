//! Discovery: finding a resource's hub from its `Link` headers, and the
//! hub's dialect from its protected resource metadata.

mod metadata;

pub use mercure_core::headers::LinkValue;
pub use metadata::{ResourceMetadata, detect_protocol, fetch_resource_metadata, metadata_url};

use std::time::Duration;

use reqwest::header::LINK;
use url::Url;

use crate::{Error, EventId, HubRejection, ProtocolVersion, Result};

/// How long a discovery request may take.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a body read during discovery.
const MAX_BODY: usize = 256 * 1024;

/// A hub advertised by `Link: <url>; rel="mercure"`, with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubLink {
    /// The hub's URL.
    pub url: Url,
    /// `last-event-id`: where to resume to get every update published
    /// since the resource was generated.
    pub last_event_id: Option<EventId>,
    /// `content-type`: the media type of the updates.
    pub content_type: Option<String>,
    /// `key-set` (0.x): the JWK set to encrypt updates with.
    pub key_set: Option<String>,
    /// `type` (1.0).
    pub link_type: Option<String>,
}

impl HubLink {
    fn from_link(link: &LinkValue) -> Self {
        let owned = |name: &str| link.param(name).map(str::to_owned);
        Self {
            url: link.target().clone(),
            last_event_id: link.param("last-event-id").map(EventId::from),
            content_type: owned("content-type"),
            key_set: owned("key-set"),
            link_type: owned("type"),
        }
    }
}

/// What a resource's `Link` headers say about its updates.
///
/// ```
/// use mercure_client::discovery::Discovery;
/// use url::Url;
///
/// let base = Url::parse("https://example.com/books/1").unwrap();
/// let discovery = Discovery::from_link_headers(
///     [
///         r#"<https://hub.example.com/.well-known/mercure>; rel="mercure"; last-event-id="urn:uuid:1""#,
///         r#"</books/1>; rel="self""#,
///     ],
///     &base,
/// );
/// let hub = discovery.hub().unwrap();
/// assert_eq!(hub.url.as_str(), "https://hub.example.com/.well-known/mercure");
/// assert_eq!(hub.last_event_id.as_ref().unwrap(), "urn:uuid:1");
/// assert_eq!(discovery.self_url.unwrap().as_str(), "https://example.com/books/1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Discovery {
    /// The hubs (`rel="mercure"`), in header order.
    pub hubs: Vec<HubLink>,
    /// The canonical URL of the resource (`rel="self"`), the topic to
    /// subscribe to.
    pub self_url: Option<Url>,
}

impl Discovery {
    /// Reads the values of every `Link` header of a response from `base`.
    pub fn from_link_headers<'a, I>(values: I, base: &Url) -> Self
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut discovery = Discovery::default();
        for value in values {
            for link in LinkValue::parse_all(value, base) {
                if link.has_rel("mercure") {
                    discovery.hubs.push(HubLink::from_link(&link));
                }
                if link.has_rel("self") && discovery.self_url.is_none() {
                    discovery.self_url = Some(link.target().clone());
                }
            }
        }
        discovery
    }

    /// The first hub.
    pub fn hub(&self) -> Option<&HubLink> {
        self.hubs.first()
    }

    /// The topic to subscribe to: the `self` link, else `resource`.
    pub fn topic<'a>(&'a self, resource: &'a Url) -> &'a Url {
        self.self_url.as_ref().unwrap_or(resource)
    }
}

/// Fetches `resource` (GET) and reads its `Link` headers; relative
/// targets resolve against the final URL (after redirects).
///
/// # Errors
/// [`Error::InvalidUrl`], [`Error::Transport`], [`Error::Timeout`], a
/// status error when the resource is refused (4xx, 5xx).
pub async fn discover(client: &reqwest::Client, resource: &str) -> Result<Discovery> {
    let url = Url::parse(resource).map_err(|source| Error::InvalidUrl {
        url: resource.to_owned(),
        source,
    })?;
    let response = client
        .get(url)
        .timeout(DISCOVERY_TIMEOUT)
        .send()
        .await
        .map_err(crate::hub::transport_error)?;
    let status = response.status().as_u16();
    let base = response.url().clone();
    let discovery = Discovery::from_link_headers(
        response
            .headers()
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        &base,
    );
    if status >= 400 {
        let body = crate::body::read_truncated(response, HubRejection::MAX_MESSAGE).await?;
        return Err(status_error(status, &body));
    }
    Ok(discovery)
}

/// A GET answering status, headers and (capped) body.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: Url,
    timeout: Duration,
) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
    let response = client
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(crate::hub::transport_error)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = crate::body::read_limited(response, MAX_BODY, "the answer").await?;
    Ok((status, headers, body))
}

/// The error for a refused request.
pub(crate) fn status_error(status: u16, body: &[u8]) -> Error {
    HubRejection::new(status, &String::from_utf8_lossy(body), None).into_error()
}

impl HubLink {
    /// The hub's dialect: the link's [hint](HubLink::protocol_hint) when
    /// it gives one, else the protected resource metadata probe
    /// ([`detect_protocol`]).
    ///
    /// ```no_run
    /// use mercure_client::Hub;
    /// use mercure_client::discovery::discover;
    ///
    /// # async fn run() -> mercure_client::Result<()> {
    /// let client = reqwest::Client::new();
    /// let discovery = discover(&client, "https://example.com/books/1").await?;
    /// if let Some(link) = discovery.hub() {
    ///     let hub = Hub::builder(link.url.as_str())
    ///         .protocol(link.detect_protocol(&client).await?)
    ///         .build()?;
    ///     # let _ = hub;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`fetch_resource_metadata`].
    pub async fn detect_protocol(&self, client: &reqwest::Client) -> Result<ProtocolVersion> {
        match self.protocol_hint() {
            Some(version) => Ok(version),
            None => detect_protocol(client, &self.url).await,
        }
    }

    /// The dialect the link's attributes point to: `type` is 1.0 only,
    /// `key-set` 0.x only; `None` when they say nothing.
    pub fn protocol_hint(&self) -> Option<ProtocolVersion> {
        match (&self.link_type, &self.key_set) {
            (Some(_), None) => Some(ProtocolVersion::V1),
            (None, Some(_)) => Some(ProtocolVersion::V0),
            _ => None,
        }
    }
}
