//! Discovery: finding a resource's hub from its `Link` headers, and the
//! hub's dialect from its protected resource metadata.
//!
//! A resource is not trusted: at most [`MAX_LINK_BYTES`] of its `Link`
//! headers are read, at most [`MAX_HUB_LINKS`] distinct hubs are kept, and
//! a [`Discoverer`] probes them concurrently (at most
//! [`DEFAULT_CONCURRENCY`] at once) within one overall deadline
//! ([`DEFAULT_DEADLINE`]), so a resource that advertises many hubs that
//! never answer costs the deadline, not minutes.

mod metadata;

pub use mercure_core::headers::LinkValue;
pub use metadata::{ResourceMetadata, detect_protocol, fetch_resource_metadata, metadata_url};

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use reqwest::header::{HeaderMap, LINK};
use tokio::time::Instant;
use url::Url;

use crate::{Error, EventId, HubRejection, ProtocolVersion, Result};

/// How long one discovery request may take.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The overall deadline of a [`Discoverer`] unless configured otherwise:
/// 10 s for fetching the resource and probing every hub it advertises.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// How many hubs a [`Discoverer`] probes at once unless configured
/// otherwise: 4.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// The most hubs kept from one response: 16 distinct `rel="mercure"`
/// links, the first ones in header order; the rest are ignored.
pub const MAX_HUB_LINKS: usize = 16;

/// The most bytes of `Link` header values read from one response: 16 KiB.
/// Values past it are ignored; of the value that crosses it, the links
/// wholly within the bound are kept.
pub const MAX_LINK_BYTES: usize = 16 * 1024;

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
    /// Reads the values of every `Link` header of a response from `base`:
    /// the first [`MAX_LINK_BYTES`] of them, keeping the first
    /// [`MAX_HUB_LINKS`] hubs with distinct URLs (the first link of a URL
    /// wins, with its attributes) and the first `self` link.
    pub fn from_link_headers<'a, I>(values: I, base: &Url) -> Self
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut discovery = Discovery::default();
        let mut seen = HashSet::new();
        for link in bounded_links(values, base) {
            if link.has_rel("mercure")
                && discovery.hubs.len() < MAX_HUB_LINKS
                && seen.insert(link.target().clone())
            {
                discovery.hubs.push(HubLink::from_link(&link));
            }
            if link.has_rel("self") && discovery.self_url.is_none() {
                discovery.self_url = Some(link.target().clone());
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

/// The links of the `Link` header values among `values`, reading at most
/// [`MAX_LINK_BYTES`] of them. (The parser of `mercure-core` costs more
/// than linear time on some hostile values: the bound keeps it small.)
fn bounded_links<'a, I>(values: I, base: &Url) -> Vec<LinkValue>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut budget = MAX_LINK_BYTES;
    let mut links = Vec::new();
    for value in values {
        if value.len() <= budget {
            budget -= value.len();
            links.extend(LinkValue::parse_all(value, base));
            continue;
        }
        let mut end = budget;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        let mut cut = LinkValue::parse_all(&value[..end], base);
        // The last link may have lost its end (a parameter cut short).
        cut.pop();
        links.extend(cut);
        break;
    }
    links
}

/// The links of the `Link` headers of `headers`, within the same bounds as
/// [`Discovery::from_link_headers`].
pub(crate) fn links_of(headers: &HeaderMap, base: &Url) -> Vec<LinkValue> {
    bounded_links(
        headers.get_all(LINK).iter().filter_map(|v| v.to_str().ok()),
        base,
    )
}

/// Fetches `resource` (GET) and reads its `Link` headers; relative
/// targets resolve against the final URL (after redirects). Same as
/// [`Discoverer::discover`] with the default deadline.
///
/// # Errors
/// As [`Discoverer::discover`].
pub async fn discover(client: &reqwest::Client, resource: &str) -> Result<Discovery> {
    Discoverer::new(client.clone()).discover(resource).await
}

/// Discovery within an overall deadline: fetching a resource, reading its
/// hubs and telling each hub's dialect, concurrently.
///
/// The client is used as it is: discovery sends no credentials, so
/// following redirects (reqwest's default) is fine; a client from
/// [`http_client::builder`](crate::http_client::builder) follows fewer.
///
/// ```no_run
/// use std::time::Duration;
/// use mercure_client::discovery::Discoverer;
///
/// # async fn run() -> mercure_client::Result<()> {
/// let discoverer = Discoverer::new(reqwest::Client::new()).deadline(Duration::from_secs(5));
/// let (discovery, protocols) = discoverer.discover_hubs("https://example.com/books/1").await?;
/// for (hub, protocol) in discovery.hubs.iter().zip(&protocols) {
///     match protocol {
///         Ok(version) => println!("{} speaks {version}", hub.url),
///         Err(error) => println!("{}: {error}", hub.url),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Discoverer {
    client: reqwest::Client,
    deadline: Duration,
    concurrency: usize,
}

impl Discoverer {
    /// Discovers with `client`, within [`DEFAULT_DEADLINE`], probing
    /// [`DEFAULT_CONCURRENCY`] hubs at once.
    pub fn new(client: reqwest::Client) -> Self {
        Self {
            client,
            deadline: DEFAULT_DEADLINE,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// The overall deadline of each call (default [`DEFAULT_DEADLINE`]).
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// How many hubs are probed at once (default [`DEFAULT_CONCURRENCY`],
    /// at least 1).
    #[must_use]
    pub fn concurrency(mut self, probes: usize) -> Self {
        self.concurrency = probes.max(1);
        self
    }

    /// Fetches `resource` (GET) and reads its `Link` headers (see
    /// [`Discovery::from_link_headers`]); relative targets resolve against
    /// the final URL (after redirects).
    ///
    /// # Errors
    /// [`Error::InvalidUrl`], [`Error::Transport`], [`Error::Timeout`],
    /// [`Error::DeadlineExceeded`], a status error when the resource is
    /// refused (4xx, 5xx).
    pub async fn discover(&self, resource: &str) -> Result<Discovery> {
        let deadline = self.deadline_from_now();
        self.fetch(resource, deadline).await
    }

    /// The dialect of each of `hubs`, in order: the link's
    /// [hint](HubLink::protocol_hint) when it gives one, else the protected
    /// resource metadata probe ([`detect_protocol`]), once per distinct
    /// URL, a bounded number at once, all within the deadline: a probe
    /// unfinished by then is an [`Error::DeadlineExceeded`].
    pub async fn detect_protocols(&self, hubs: &[HubLink]) -> Vec<Result<ProtocolVersion>> {
        let deadline = self.deadline_from_now();
        self.probe(hubs, deadline).await
    }

    /// [`Discoverer::discover`] then [`Discoverer::detect_protocols`] for
    /// every hub found, all within one deadline: the discovery and one
    /// result per hub of `discovery.hubs`.
    ///
    /// # Errors
    /// As [`Discoverer::discover`]; the probes' errors are in the list.
    pub async fn discover_hubs(
        &self,
        resource: &str,
    ) -> Result<(Discovery, Vec<Result<ProtocolVersion>>)> {
        let deadline = self.deadline_from_now();
        let discovery = self.fetch(resource, deadline).await?;
        let protocols = self.probe(&discovery.hubs, deadline).await;
        Ok((discovery, protocols))
    }

    fn deadline_from_now(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.deadline)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
    }

    async fn fetch(&self, resource: &str, deadline: Instant) -> Result<Discovery> {
        let url = Url::parse(resource).map_err(|source| Error::InvalidUrl {
            url: resource.to_owned(),
            source,
        })?;
        let work = async {
            let response = self
                .client
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
        };
        tokio::time::timeout_at(deadline, work)
            .await
            .unwrap_or(Err(Error::DeadlineExceeded(self.deadline)))
    }

    async fn probe(&self, hubs: &[HubLink], deadline: Instant) -> Vec<Result<ProtocolVersion>> {
        // One probe per distinct URL that has no hint.
        let mut index: HashMap<&Url, usize> = HashMap::new();
        let mut urls = Vec::new();
        for hub in hubs {
            if hub.protocol_hint().is_none() {
                index.entry(&hub.url).or_insert_with(|| {
                    urls.push(&hub.url);
                    urls.len() - 1
                });
            }
        }
        let mut probed: Vec<Result<ProtocolVersion>> = stream::iter(urls)
            .map(|url| async move {
                if Instant::now() >= deadline {
                    return Err(Error::DeadlineExceeded(self.deadline));
                }
                tokio::time::timeout_at(deadline, detect_protocol(&self.client, url))
                    .await
                    .unwrap_or(Err(Error::DeadlineExceeded(self.deadline)))
            })
            .buffered(self.concurrency)
            .collect()
            .await;
        hubs.iter()
            .map(|hub| match hub.protocol_hint() {
                Some(version) => Ok(version),
                None => {
                    let slot = &mut probed[index[&hub.url]];
                    match slot {
                        Ok(version) => Ok(*version),
                        // A later hub of the same URL gets the error's text.
                        Err(error) => Err(std::mem::replace(
                            error,
                            Error::InvalidResponse(error.to_string()),
                        )),
                    }
                }
            })
            .collect()
    }
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
