//! Verification keys published as a JWK set (RFC 7517) at an HTTPS URL or
//! in a file, fetched, cached and refreshed.
//!
//! The rules (see [`Jwks`]): fetched once before serving (or on the first
//! token), refreshed when the cached set is older than the response's
//! `Cache-Control: max-age` (within bounds), and when a token names a `kid`
//! the set lacks, at most once per [`JwksBuilder::min_interval`]; every
//! fetch is bounded in size and time, and a failed one keeps the last good
//! set.

use std::fmt;
use std::hash::{Hash as _, Hasher as _};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::header::{self, HeaderMap};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mercure_core::token::{JwksOptions, KeySet};
use tokio::io::AsyncReadExt as _;
use tokio::time::Instant;
use url::Url;

use crate::Error;

/// Default largest JWKS document read (1 MiB).
pub const DEFAULT_JWKS_MAX_BYTES: usize = 1 << 20;
/// Default time one fetch may take, connection and body included.
pub const DEFAULT_JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// Default shortest time between two fetches the hub starts on its own
/// (for a token of an unknown `kid`, or to retry a failed fetch).
pub const DEFAULT_JWKS_MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Default time a set is used when its response sets no `max-age` (and for
/// a file).
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(300);
/// Default bounds of the `max-age` honored.
pub const DEFAULT_JWKS_MAX_AGE_BOUNDS: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(24 * 3600));

/// Verification keys published as a JWK set (RFC 7517), at an `https://`
/// URL (plain `http://` only on a loopback address, or when
/// [`JwksBuilder::allow_http`] says so) or in a `file://` path.
///
/// Give it to [`HubConfigBuilder::jwks`](crate::HubConfigBuilder::jwks)
/// (publishers' and subscribers' tokens, either dialect), its publisher or
/// subscriber variants, or
/// [`HubConfigBuilder::issuer_jwks`](crate::HubConfigBuilder::issuer_jwks)
/// (the 1.0 access tokens of one issuer). The set is fetched by
/// [`Jwks::refresh`] (the binary does it before serving; otherwise the
/// first token does), then:
///
/// - when a token is verified after the set's time is up (the response's
///   `Cache-Control: max-age`, within [`JwksBuilder::max_age_bounds`], or
///   [`JwksBuilder::refresh_interval`] without one), it is verified with
///   the set held and a fetch starts in the background;
/// - when a token's `kid` is in no set of keys it may be verified with, a
///   fetch starts and the token waits for it, unless one was started for
///   an unknown `kid` less than [`JwksBuilder::min_interval`] ago (10 s by
///   default): a flood of tokens with random key ids costs the JWKS server
///   one request per interval;
/// - a fetch reads at most [`JwksBuilder::max_bytes`] within
///   [`JwksBuilder::timeout`], follows no redirect, and must answer 200
///   with a JWK set holding at least one usable key; otherwise it fails,
///   the last good set is kept, and it is retried no sooner than the
///   minimum interval.
///
/// Cheap to clone: the clones share the set. The URL's query never
/// appears in `Debug` output or logs; a URL with credentials is refused.
///
/// ```
/// use mercure_hub::Jwks;
///
/// let jwks = Jwks::new("https://auth.example.com/.well-known/jwks.json").unwrap();
/// assert_eq!(jwks.url(), "https://auth.example.com/.well-known/jwks.json");
/// assert!(jwks.keys().is_empty()); // not fetched yet
/// assert!(Jwks::new("http://auth.example.com/jwks.json").is_err());
/// assert!(Jwks::new("http://127.0.0.1:8080/jwks.json").is_ok());
/// assert!(Jwks::new("file:///etc/mercure/jwks.json").is_ok());
/// ```
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<Source>,
}

struct Source {
    location: Location,
    /// The URL without its query, for logs.
    shown: String,
    options: JwksOptions,
    timeout: Duration,
    max_bytes: usize,
    min_interval: Duration,
    refresh_interval: Duration,
    max_age_bounds: (Duration, Duration),
    state: std::sync::Mutex<State>,
    /// Held by the one fetch running.
    fetching: tokio::sync::Mutex<()>,
    /// Bumped whenever the keys change.
    generation: AtomicU64,
    fetches: AtomicU64,
    background: AtomicBool,
}

struct State {
    keys: KeySet,
    /// A hash of the document the keys were read from.
    document: Option<u64>,
    /// When the set's time is up (`None`: never fetched).
    stale_at: Option<Instant>,
    /// When the last fetch for an unknown `kid` started.
    unknown_kid_fetch: Option<Instant>,
    /// When the last fetch failed.
    failed: Option<Instant>,
}

enum Location {
    File(PathBuf),
    Http(hyper::Uri, Client<HttpConnector, Empty<Bytes>>),
    Https(
        hyper::Uri,
        Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    ),
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.inner.shown)
            .field("keys", &self.keys().len())
            .field("fetches", &self.fetches())
            .finish_non_exhaustive()
    }
}

/// Configures a [`Jwks`]; see [`Jwks::builder`].
#[derive(Debug)]
#[must_use]
pub struct JwksBuilder {
    url: String,
    allow_http: bool,
    options: JwksOptions,
    timeout: Duration,
    max_bytes: usize,
    min_interval: Duration,
    refresh_interval: Duration,
    max_age_bounds: (Duration, Duration),
}

impl Jwks {
    /// The key set at `url`, with the default limits.
    ///
    /// # Errors
    /// As [`JwksBuilder::build`].
    pub fn new(url: &str) -> Result<Self, Error> {
        Self::builder(url).build()
    }

    /// Starts configuring the key set at `url`.
    pub fn builder(url: impl Into<String>) -> JwksBuilder {
        JwksBuilder {
            url: url.into(),
            allow_http: false,
            options: JwksOptions::new(),
            timeout: DEFAULT_JWKS_TIMEOUT,
            max_bytes: DEFAULT_JWKS_MAX_BYTES,
            min_interval: DEFAULT_JWKS_MIN_INTERVAL,
            refresh_interval: DEFAULT_JWKS_REFRESH,
            max_age_bounds: DEFAULT_JWKS_MAX_AGE_BOUNDS,
        }
    }

    /// The URL, without its query.
    pub fn url(&self) -> &str {
        &self.inner.shown
    }

    /// The keys held now (empty until a fetch succeeded).
    pub fn keys(&self) -> KeySet {
        self.current().0
    }

    /// How many fetches were started.
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Fetches the set now, whatever the limits on refreshes (after the
    /// fetch running, if any), and returns the number of keys held.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when the fetch fails (unreachable, not 200,
    /// too large, too slow, not a JWK set, no usable key): the keys held
    /// before are kept.
    pub async fn refresh(&self) -> Result<usize, Error> {
        let _fetching = self.inner.fetching.lock().await;
        self.inner.fetch_and_store().await
    }

    /// Whether `other` is this set (a clone of it).
    pub(crate) fn same(&self, other: &Jwks) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The keys and their generation.
    pub(crate) fn current(&self) -> (KeySet, u64) {
        let state = self.inner.lock();
        (
            state.keys.clone(),
            self.inner.generation.load(Ordering::Acquire),
        )
    }

    /// The generation of the keys: it changes whenever they do.
    pub(crate) fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Starts a fetch in the background if the set's time is up (or it was
    /// never fetched) and none is running.
    pub(crate) fn refresh_if_stale(&self) {
        let stale = self
            .inner
            .lock()
            .stale_at
            .is_none_or(|at| Instant::now() >= at);
        if !stale || self.inner.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.background.store(false, Ordering::Release);
            return;
        };
        let source = Arc::clone(&self.inner);
        runtime.spawn(async move {
            {
                let _fetching = source.fetching.lock().await;
                let still_stale = source.lock().stale_at.is_none_or(|at| Instant::now() >= at);
                if still_stale {
                    let _ = source.fetch_and_store().await;
                }
            }
            source.background.store(false, Ordering::Release);
        });
    }

    /// For a token whose `kid` was not in the keys of generation `seen`:
    /// waits for the fetch running, or starts one unless one was started
    /// for an unknown `kid` within the minimum interval. Whether the keys
    /// changed since `seen` (the token is worth another try).
    pub(crate) async fn refresh_for_unknown_kid(&self, seen: u64) -> bool {
        if self.generation() != seen {
            return true;
        }
        let _fetching = self.inner.fetching.lock().await;
        if self.generation() != seen {
            return true;
        }
        {
            let now = Instant::now();
            let recent = |at: Option<Instant>| {
                at.is_some_and(|at| now.saturating_duration_since(at) < self.inner.min_interval)
            };
            let mut state = self.inner.lock();
            if state.document.is_none() {
                // Never fetched: retried once the last failure is old enough.
                if recent(state.failed) {
                    return false;
                }
            } else {
                if recent(state.unknown_kid_fetch) {
                    return false;
                }
                state.unknown_kid_fetch = Some(now);
            }
        }
        let _ = self.inner.fetch_and_store().await;
        self.generation() != seen
    }
}

impl Source {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fetches the document, and keeps its keys if it is a usable set; the
    /// caller holds `fetching`.
    async fn fetch_and_store(&self) -> Result<usize, Error> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = match tokio::time::timeout(self.timeout, self.fetch()).await {
            Ok(fetched) => fetched,
            Err(_) => Err(format!("no complete answer within {:?}", self.timeout)),
        };
        let now = Instant::now();
        let read = fetched.and_then(|(document, max_age)| {
            let keys = KeySet::from_jwks(&document, self.options).map_err(|e| e.to_string())?;
            if keys.is_empty() {
                return Err("the JWK set holds no usable signature key".into());
            }
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            document.hash(&mut hasher);
            Ok((keys, hasher.finish(), max_age))
        });
        let mut state = self.lock();
        match read {
            Ok((keys, document, max_age)) => {
                for skipped in keys.skipped() {
                    tracing::warn!(jwks = %self.shown, kid = ?skipped.key_id, reason = %skipped.reason, "JWK skipped");
                }
                let lifetime = match max_age {
                    Some(age) => age.clamp(self.max_age_bounds.0, self.max_age_bounds.1),
                    None => self.refresh_interval,
                };
                state.stale_at = Some(now + lifetime);
                let count = keys.len();
                if state.document != Some(document) {
                    tracing::info!(jwks = %self.shown, keys = count, "JWK set loaded");
                    state.keys = keys;
                    state.document = Some(document);
                    self.generation.fetch_add(1, Ordering::AcqRel);
                }
                Ok(count)
            }
            Err(reason) => {
                tracing::warn!(jwks = %self.shown, %reason, keys = state.keys.len(), "JWK set fetch failed: the keys held are kept");
                state.stale_at = Some(now + self.min_interval);
                state.failed = Some(now);
                Err(Error::InvalidKey(format!(
                    "cannot load the JWK set {}: {reason}",
                    self.shown
                )))
            }
        }
    }

    /// The document and its `max-age`, if any.
    async fn fetch(&self) -> Result<(Bytes, Option<Duration>), String> {
        match &self.location {
            Location::File(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| format!("cannot open it: {e}"))?;
                let mut document = Vec::new();
                file.take(
                    u64::try_from(self.max_bytes)
                        .unwrap_or(u64::MAX)
                        .saturating_add(1),
                )
                .read_to_end(&mut document)
                .await
                .map_err(|e| format!("cannot read it: {e}"))?;
                if document.len() > self.max_bytes {
                    return Err(format!("larger than {} bytes", self.max_bytes));
                }
                Ok((Bytes::from(document), None))
            }
            Location::Http(uri, client) => self.get(client, uri).await,
            Location::Https(uri, client) => self.get(client, uri).await,
        }
    }

    async fn get<C>(
        &self,
        client: &Client<C, Empty<Bytes>>,
        uri: &hyper::Uri,
    ) -> Result<(Bytes, Option<Duration>), String>
    where
        C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
    {
        let request = hyper::Request::get(uri.clone())
            .header(header::ACCEPT, "application/jwk-set+json, application/json")
            .header(
                header::USER_AGENT,
                concat!("mercure-hub/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        let response = client.request(request).await.map_err(|e| {
            // The connector's error says why (refused, DNS, TLS).
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                reason.push_str(": ");
                reason.push_str(&cause.to_string());
                source = cause.source();
            }
            reason
        })?;
        let status = response.status();
        if status != hyper::StatusCode::OK {
            return Err(format!("answered {status}"));
        }
        let max_age = max_age(response.headers());
        let declared = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_bytes as u64) {
            return Err(format!("larger than {} bytes", self.max_bytes));
        }
        let body = Limited::new(response.into_body(), self.max_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    format!("larger than {} bytes", self.max_bytes)
                } else {
                    format!("the body was cut: {e}")
                }
            })?;
        Ok((body.to_bytes(), max_age))
    }
}

/// The `max-age` of `Cache-Control` (`no-cache` and `no-store` read as 0).
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found = None;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                return Some(Duration::ZERO);
            }
            if let Some(seconds) = lower.strip_prefix("max-age=")
                && let Ok(seconds) = seconds.trim_matches('"').parse::<u64>()
            {
                found = Some(Duration::from_secs(seconds));
            }
        }
    }
    found
}

impl JwksBuilder {
    /// Accepts a plain `http://` URL on any host (default: only on a
    /// loopback address, `localhost`, 127.0.0.0/8 or `::1`). Keys fetched
    /// over plain HTTP can be replaced by anyone on the path: for tests.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Reads symmetric (`oct`) keys as HMAC secrets (default `false`).
    pub fn allow_hmac(mut self, allow: bool) -> Self {
        self.options = self.options.allow_hmac(allow);
        self
    }

    /// How long one fetch may take, from connecting to the body's end
    /// (default [`DEFAULT_JWKS_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest document read (default [`DEFAULT_JWKS_MAX_BYTES`]).
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The shortest time between two fetches for tokens of unknown key
    /// ids, and before a failed fetch is retried (default
    /// [`DEFAULT_JWKS_MIN_INTERVAL`]).
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// How long a set is used when its response has no `max-age`, and for
    /// a file (default [`DEFAULT_JWKS_REFRESH`]).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The bounds of the `Cache-Control: max-age` honored (default
    /// [`DEFAULT_JWKS_MAX_AGE_BOUNDS`], one minute to one day).
    pub fn max_age_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.max_age_bounds = (min, max.max(min));
        self
    }

    /// Checks the URL and builds the key set (not fetched yet).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a URL that is not `https://`,
    /// `file://` or an allowed `http://`, for a zero timeout or size, or
    /// when the system's root certificates cannot be loaded for an
    /// `https://` URL.
    pub fn build(self) -> Result<Jwks, Error> {
        let invalid = |reason: &str| Error::InvalidConfig(format!("JWKS URL: {reason}"));
        let url = Url::parse(&self.url).map_err(|e| invalid(&e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            // They would travel in the Host header; and never in logs.
            return Err(invalid("credentials in the URL are not supported"));
        }
        let mut shown = url.clone();
        shown.set_query(None);
        shown.set_fragment(None);
        let shown = shown.to_string();
        if self.timeout.is_zero() || self.max_bytes == 0 {
            return Err(invalid("the timeout and size limit must not be zero"));
        }
        let location = match url.scheme() {
            "file" => Location::File(
                url.to_file_path()
                    .map_err(|()| invalid("a file:// URL must name an absolute local path"))?,
            ),
            "http" | "https" => {
                let https = url.scheme() == "https";
                if !https && !self.allow_http && !is_loopback(&url) {
                    return Err(invalid(
                        "plain http:// is accepted only on a loopback address: use https://",
                    ));
                }
                let uri: hyper::Uri = url
                    .as_str()
                    .parse()
                    .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?;
                let mut http = HttpConnector::new();
                http.set_connect_timeout(Some(self.timeout));
                http.enforce_http(!https);
                let mut client = Client::builder(TokioExecutor::new());
                client.pool_max_idle_per_host(0);
                if https {
                    let connector = hyper_rustls::HttpsConnectorBuilder::new()
                        .with_provider_and_native_roots(
                            rustls::crypto::aws_lc_rs::default_provider(),
                        )
                        .map_err(|e| invalid(&format!("no root certificates for HTTPS: {e}")))?
                        .https_only()
                        .enable_http1()
                        .wrap_connector(http);
                    Location::Https(uri, client.build(connector))
                } else {
                    Location::Http(uri, client.build(http))
                }
            }
            _ => return Err(invalid("use an https:// or file:// URL")),
        };
        Ok(Jwks {
            inner: Arc::new(Source {
                location,
                shown,
                options: self.options,
                timeout: self.timeout,
                max_bytes: self.max_bytes,
                min_interval: self.min_interval,
                refresh_interval: self.refresh_interval,
                max_age_bounds: self.max_age_bounds,
                state: std::sync::Mutex::new(State {
                    keys: KeySet::default(),
                    document: None,
                    stale_at: None,
                    unknown_kid_fetch: None,
                    failed: None,
                }),
                fetching: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                fetches: AtomicU64::new(0),
                background: AtomicBool::new(false),
            }),
        })
    }
}

/// Whether `url` names this machine: `localhost` or a loopback address.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_shown_without_credentials() {
        for refused in [
            "http://auth.example.com/jwks",
            "ftp://auth.example.com/jwks",
            "not a url",
            "file://relative",
        ] {
            assert!(Jwks::new(refused).is_err(), "{refused}");
        }
        for loopback in [
            "http://127.0.0.1:1/jwks",
            "http://127.9.9.9/jwks",
            "http://[::1]:8080/jwks",
            "http://localhost/jwks",
        ] {
            assert!(Jwks::new(loopback).is_ok(), "{loopback}");
        }
        assert!(
            Jwks::builder("http://auth.example.com/jwks")
                .allow_http(true)
                .build()
                .is_ok()
        );
        let error = Jwks::new("https://user:secret@auth.example.com/jwks")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("secret"), "{error}");
        let jwks = Jwks::new("http://127.0.0.1/jwks?token=hidden").unwrap();
        let shown = format!("{jwks:?} {}", jwks.url());
        assert!(!shown.contains("hidden"), "{shown}");
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        let headers = |values: &[&str]| {
            let mut map = HeaderMap::new();
            for value in values {
                map.append(header::CACHE_CONTROL, value.parse().unwrap());
            }
            map
        };
        assert_eq!(max_age(&headers(&[])), None);
        assert_eq!(
            max_age(&headers(&["public, max-age=3600, must-revalidate"])),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            max_age(&headers(&["public", "Max-Age=20"])),
            Some(Duration::from_secs(20))
        );
        assert_eq!(max_age(&headers(&["max-age=x"])), None);
        assert_eq!(
            max_age(&headers(&["max-age=60, no-store"])),
            Some(Duration::ZERO)
        );
    }
}
