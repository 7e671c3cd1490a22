//! Hub configuration.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use mercure_core::ProtocolVersion;
use mercure_core::clock::{Clock, SystemClock};
use url::Url;

use crate::matcher::MatcherLimits;
use crate::{Error, Jwks, MemoryTransport, RateLimit, Transport, VerificationKey};

/// Which dialects the hub speaks, like the official hub's
/// `protocol_version_compatibility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialectSupport {
    /// Mercure 0.x (draft-07) only.
    V0Only,
    /// Mercure 1.0 (draft-08) only.
    V1Only,
    /// Both at once: each request is served in the dialect it speaks.
    #[default]
    Both,
}

impl DialectSupport {
    /// Whether `version` is spoken.
    pub fn accepts(self, version: ProtocolVersion) -> bool {
        match self {
            DialectSupport::V0Only => version == ProtocolVersion::V0,
            DialectSupport::V1Only => version == ProtocolVersion::V1,
            DialectSupport::Both => true,
        }
    }
}

impl FromStr for DialectSupport {
    type Err = Error;

    /// `0`/`0.x`/`draft-07`, `1`/`1.0`/`draft-08`, or `both`.
    fn from_str(s: &str) -> Result<Self, Error> {
        if s.trim().eq_ignore_ascii_case("both") {
            return Ok(DialectSupport::Both);
        }
        match s.parse::<ProtocolVersion>() {
            Ok(ProtocolVersion::V0) => Ok(DialectSupport::V0Only),
            Ok(ProtocolVersion::V1) => Ok(DialectSupport::V1Only),
            Err(e) => Err(Error::InvalidConfig(format!("{e}, or both"))),
        }
    }
}

/// The default URL of the hub (its path is where [`crate::EmbeddedHub::router`] serves).
pub const DEFAULT_HUB_URL: &str = "http://localhost/.well-known/mercure";
/// Default number of events kept for reconciliation.
pub const DEFAULT_HISTORY_SIZE: usize = 1000;
/// Default number of events queued for one subscriber before it is dropped.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1000;
/// Default bytes of events queued for one subscriber before it is dropped
/// (4 MiB; an event larger than that is queued when nothing else is).
pub const DEFAULT_QUEUE_BYTES: usize = 4 << 20;
/// Default bytes of history the hub holds at once for all replays together
/// (256 MiB): read and not yet written to the subscribers' sockets.
pub const DEFAULT_REPLAY_BYTES: usize = 256 << 20;
/// Default interval of heartbeat comments.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(40);
/// Default maximum publish body size (1 MiB).
pub const DEFAULT_MAX_BODY: usize = 1 << 20;
/// Default maximum number of topics of one update (canonical and alternates).
pub const DEFAULT_MAX_TOPICS: usize = 100;
/// Default time a client has to send a request head, from the connection's
/// start or the end of its previous request.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a request body (publish, `QUERY`),
/// once its head is read.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default maximum number of connections served at once by
/// [`serve_hub`](crate::serve_hub).
pub const DEFAULT_MAX_CONNECTIONS: usize = 20_000;
/// Default maximum number of connections from one IP address served at
/// once by [`serve_hub`](crate::serve_hub).
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 512;
/// Default rate limit of publish requests per client (token subject, else
/// address): 100,000 a second, in bursts of up to 100,000; about what one
/// hub instance absorbs on two cores, so that it stops a flood without
/// ever slowing a real publisher.
pub const DEFAULT_PUBLISH_RATE: RateLimit = RateLimit::new(100_000.0, 100_000);
/// Default rate limit of subscribe requests (and subscriptions API
/// requests, which share it) per client: 1,000 a second, in bursts of up
/// to 5,000 (a crowd reconnecting behind one address at once).
pub const DEFAULT_SUBSCRIBE_RATE: RateLimit = RateLimit::new(1_000.0, 5_000);
/// Default number of clients whose rate limit state is kept, per limit;
/// past it the idlest are forgotten (and start with a full bucket).
pub const DEFAULT_RATE_LIMIT_KEYS: usize = 100_000;

/// The hub's settings; build with [`HubConfig::builder`].
#[derive(Clone)]
pub struct HubConfig {
    pub(crate) url: Url,
    pub(crate) support: DialectSupport,
    pub(crate) publisher_keys: Vec<VerificationKey>,
    pub(crate) subscriber_keys: Vec<VerificationKey>,
    pub(crate) publisher_jwks: Vec<Jwks>,
    pub(crate) subscriber_jwks: Vec<Jwks>,
    /// Issuers whose 1.0 access tokens the keys of their JWK set verify.
    pub(crate) issuer_jwks: Vec<(String, Jwks)>,
    pub(crate) anonymous: bool,
    pub(crate) issuers: Vec<String>,
    pub(crate) audience: Option<String>,
    pub(crate) authorization_servers: Vec<String>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) queue_capacity: usize,
    pub(crate) queue_bytes: usize,
    pub(crate) replay_bytes: usize,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) max_body: usize,
    pub(crate) cors_origins: Vec<String>,
    pub(crate) publish_origins: Vec<String>,
    pub(crate) subscriptions: bool,
    pub(crate) metrics: bool,
    /// The limits of the matcher cache and of pattern selectors (the field
    /// keeps the name the hub reads it by).
    pub(crate) matcher_cache_size: MatcherLimits,
    pub(crate) max_selectors: usize,
    pub(crate) max_selector_length: usize,
    pub(crate) max_topics: usize,
    pub(crate) head_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_address: usize,
    pub(crate) publish_rate: Option<RateLimit>,
    pub(crate) subscribe_rate: Option<RateLimit>,
    pub(crate) rate_limit_keys: usize,
    pub(crate) accept_v0_tokens_for_v1: bool,
    pub(crate) allow_missing_issuer: bool,
    pub(crate) accept_short_detail_type: bool,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubConfig")
            .field("url", &self.url.as_str())
            .field("support", &self.support)
            .field("publisher_keys", &self.publisher_keys)
            .field("subscriber_keys", &self.subscriber_keys)
            .field("publisher_jwks", &self.publisher_jwks)
            .field("subscriber_jwks", &self.subscriber_jwks)
            .field("issuer_jwks", &self.issuer_jwks)
            .field("anonymous", &self.anonymous)
            .field("issuers", &self.issuers)
            .field("audience", &self.audience)
            .field("transport", &self.transport)
            .field("queue_capacity", &self.queue_capacity)
            .field("queue_bytes", &self.queue_bytes)
            .field("replay_bytes", &self.replay_bytes)
            .field("heartbeat", &self.heartbeat)
            .field("max_body", &self.max_body)
            .field("cors_origins", &self.cors_origins)
            .field("publish_origins", &self.publish_origins)
            .field("subscriptions", &self.subscriptions)
            .field("metrics", &self.metrics)
            .field("matcher_limits", &self.matcher_cache_size)
            .field("max_selectors", &self.max_selectors)
            .field("max_selector_length", &self.max_selector_length)
            .field("max_topics", &self.max_topics)
            .field("head_timeout", &self.head_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_address",
                &self.max_connections_per_address,
            )
            .field("publish_rate", &self.publish_rate)
            .field("subscribe_rate", &self.subscribe_rate)
            .field("rate_limit_keys", &self.rate_limit_keys)
            .field("accept_v0_tokens_for_v1", &self.accept_v0_tokens_for_v1)
            .field("allow_missing_issuer", &self.allow_missing_issuer)
            .field("accept_short_detail_type", &self.accept_short_detail_type)
            .finish_non_exhaustive()
    }
}

impl HubConfig {
    /// The transport holding the hub's history.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// Every JWK set configured (publishers', subscribers', issuers'),
    /// each once: to fetch them before serving.
    pub fn jwks(&self) -> Vec<Jwks> {
        let mut all: Vec<Jwks> = Vec::new();
        let configured = self
            .publisher_jwks
            .iter()
            .chain(&self.subscriber_jwks)
            .chain(self.issuer_jwks.iter().map(|(_, jwks)| jwks));
        for jwks in configured {
            if !all.iter().any(|known| known.same(jwks)) {
                all.push(jwks.clone());
            }
        }
        all
    }

    /// Default number of compiled topic matchers kept in the cache.
    pub const DEFAULT_MATCHER_CACHE_SIZE: usize = MatcherLimits::CACHE_ENTRIES;
    /// Default estimated bytes the cached topic matchers may take together
    /// (64 MiB).
    pub const DEFAULT_MATCHER_CACHE_BYTES: usize = MatcherLimits::CACHE_BYTES;
    /// Default number of selectors of one subscription.
    pub const DEFAULT_MAX_SELECTORS: usize = 256;
    /// Default length of one selector, in bytes.
    pub const DEFAULT_MAX_SELECTOR_LENGTH: usize = 4096;
    /// Default number of pattern selectors (0.x URI templates, 1.0 URL
    /// patterns) of one subscription.
    pub const DEFAULT_MAX_PATTERN_SELECTORS: usize = MatcherLimits::MAX_PATTERNS;
    /// Default length of one pattern selector, in bytes.
    pub const DEFAULT_MAX_PATTERN_LENGTH: usize = MatcherLimits::MAX_PATTERN_LENGTH;
    /// Default compiled size of one pattern selector, in bytes (32 KiB).
    pub const DEFAULT_MAX_PATTERN_SIZE: usize = MatcherLimits::MAX_PATTERN_SIZE;

    /// Starts a configuration with the defaults: both dialects, no keys,
    /// anonymous subscribers refused, 1000 events of history, queues of
    /// 1000 events, heartbeats every 40 s, 1 MiB publish bodies of at most
    /// 100 topics, request heads within 10 s and bodies within 30 s,
    /// 20,000 connections of which 512 per IP address, request rate limits
    /// per client of [`DEFAULT_PUBLISH_RATE`] and [`DEFAULT_SUBSCRIBE_RATE`],
    /// the selector and
    /// pattern limits of [`HubConfigBuilder::selector_limits`] and
    /// [`HubConfigBuilder::pattern_limits`], no CORS, no
    /// subscriptions API, no metrics, and the strict token rules (see
    /// [`HubConfigBuilder::accept_v0_tokens_for_v1`],
    /// [`HubConfigBuilder::allow_missing_issuer`],
    /// [`HubConfigBuilder::accept_short_detail_type`]).
    pub fn builder() -> HubConfigBuilder {
        HubConfigBuilder {
            url: DEFAULT_HUB_URL.to_owned(),
            support: DialectSupport::default(),
            publisher_keys: Vec::new(),
            subscriber_keys: Vec::new(),
            publisher_jwks: Vec::new(),
            subscriber_jwks: Vec::new(),
            issuer_jwks: Vec::new(),
            anonymous: false,
            issuers: Vec::new(),
            audience: None,
            authorization_servers: Vec::new(),
            transport: None,
            history_size: DEFAULT_HISTORY_SIZE,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            replay_bytes: DEFAULT_REPLAY_BYTES,
            heartbeat: Some(DEFAULT_HEARTBEAT),
            max_body: DEFAULT_MAX_BODY,
            cors_origins: Vec::new(),
            publish_origins: Vec::new(),
            subscriptions: false,
            metrics: false,
            matcher_cache_size: Self::DEFAULT_MATCHER_CACHE_SIZE,
            matcher_cache_bytes: Self::DEFAULT_MATCHER_CACHE_BYTES,
            max_selectors: Self::DEFAULT_MAX_SELECTORS,
            max_selector_length: Self::DEFAULT_MAX_SELECTOR_LENGTH,
            max_pattern_selectors: Self::DEFAULT_MAX_PATTERN_SELECTORS,
            max_pattern_length: Self::DEFAULT_MAX_PATTERN_LENGTH,
            max_pattern_size: Self::DEFAULT_MAX_PATTERN_SIZE,
            max_topics: DEFAULT_MAX_TOPICS,
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            publish_rate: Some(DEFAULT_PUBLISH_RATE),
            subscribe_rate: Some(DEFAULT_SUBSCRIBE_RATE),
            rate_limit_keys: DEFAULT_RATE_LIMIT_KEYS,
            accept_v0_tokens_for_v1: false,
            allow_missing_issuer: false,
            accept_short_detail_type: false,
            clock: Arc::new(SystemClock),
        }
    }

    /// The hub's URL (its resource identifier in 1.0).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The path the hub is served at (`/.well-known/mercure` by default).
    pub fn path(&self) -> &str {
        self.url.path()
    }

    /// The dialects spoken.
    pub fn support(&self) -> DialectSupport {
        self.support
    }

    /// The dialect whose publishing rules every update follows: 1.0
    /// whenever the hub speaks it (its reserved namespace and event type
    /// are then the hub's own, whatever the publisher's token looks like),
    /// 0.x on a hub speaking 0.x only.
    pub fn publish_rules(&self) -> ProtocolVersion {
        if self.support.accepts(ProtocolVersion::V1) {
            ProtocolVersion::V1
        } else {
            ProtocolVersion::V0
        }
    }
}

/// Builds a [`HubConfig`]; see [`HubConfig::builder`].
#[must_use]
pub struct HubConfigBuilder {
    url: String,
    support: DialectSupport,
    publisher_keys: Vec<VerificationKey>,
    subscriber_keys: Vec<VerificationKey>,
    publisher_jwks: Vec<Jwks>,
    subscriber_jwks: Vec<Jwks>,
    issuer_jwks: Vec<(String, Jwks)>,
    anonymous: bool,
    issuers: Vec<String>,
    audience: Option<String>,
    authorization_servers: Vec<String>,
    transport: Option<Arc<dyn Transport>>,
    history_size: usize,
    queue_capacity: usize,
    queue_bytes: usize,
    replay_bytes: usize,
    heartbeat: Option<Duration>,
    max_body: usize,
    cors_origins: Vec<String>,
    publish_origins: Vec<String>,
    subscriptions: bool,
    metrics: bool,
    matcher_cache_size: usize,
    matcher_cache_bytes: usize,
    max_selectors: usize,
    max_selector_length: usize,
    max_pattern_selectors: usize,
    max_pattern_length: usize,
    max_pattern_size: usize,
    max_topics: usize,
    head_timeout: Duration,
    body_timeout: Duration,
    max_connections: usize,
    max_connections_per_address: usize,
    publish_rate: Option<RateLimit>,
    subscribe_rate: Option<RateLimit>,
    rate_limit_keys: usize,
    accept_v0_tokens_for_v1: bool,
    allow_missing_issuer: bool,
    accept_short_detail_type: bool,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for HubConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubConfigBuilder")
            .field("url", &self.url)
            .field("support", &self.support)
            .finish_non_exhaustive()
    }
}

impl HubConfigBuilder {
    /// The hub's public URL, e.g. `https://example.com/.well-known/mercure`:
    /// its path is where the router serves, it is the base of relative URL
    /// patterns and topics, and (unless [`HubConfigBuilder::audience`] says
    /// otherwise) the audience 1.0 tokens must name.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// The dialects spoken (default both).
    pub fn support(mut self, support: DialectSupport) -> Self {
        self.support = support;
        self
    }

    /// A key verifying publisher tokens (and subscriber tokens, unless
    /// subscriber keys are set).
    pub fn publisher_key(mut self, key: VerificationKey) -> Self {
        self.publisher_keys.push(key);
        self
    }

    /// A key verifying subscriber tokens.
    pub fn subscriber_key(mut self, key: VerificationKey) -> Self {
        self.subscriber_keys.push(key);
        self
    }

    /// One key for both publishers and subscribers.
    pub fn key(self, key: VerificationKey) -> Self {
        self.publisher_key(key.clone()).subscriber_key(key)
    }

    /// A JWK set whose keys verify publisher tokens of either dialect (and
    /// subscriber tokens, unless subscriber keys or sets are set), beside
    /// the keys of [`HubConfigBuilder::publisher_key`]. See [`Jwks`] for
    /// how it is fetched and refreshed, and
    /// [`KeySet`](mercure_core::token::KeySet) for how a token's `kid`
    /// chooses its keys.
    pub fn publisher_jwks(mut self, jwks: Jwks) -> Self {
        self.publisher_jwks.push(jwks);
        self
    }

    /// A JWK set whose keys verify subscriber tokens of either dialect.
    pub fn subscriber_jwks(mut self, jwks: Jwks) -> Self {
        self.subscriber_jwks.push(jwks);
        self
    }

    /// One JWK set for both publishers and subscribers.
    pub fn jwks(self, jwks: Jwks) -> Self {
        self.publisher_jwks(jwks.clone()).subscriber_jwks(jwks)
    }

    /// Trusts the 1.0 access tokens of `issuer` (as
    /// [`HubConfigBuilder::issuer`]) signed by a key of its JWK set, for
    /// publishing and subscribing. Those keys verify only 1.0 tokens whose
    /// `iss` is `issuer` (the token's claimed issuer chooses the set, and
    /// is checked again once verified); the other keys of the hub still
    /// verify that issuer's tokens too.
    pub fn issuer_jwks(mut self, issuer: impl Into<String>, jwks: Jwks) -> Self {
        let issuer = issuer.into();
        if !self.issuers.contains(&issuer) {
            self.issuers.push(issuer.clone());
        }
        self.issuer_jwks.push((issuer, jwks));
        self
    }

    /// Whether subscribers without a token are served (public updates only).
    pub fn anonymous(mut self, anonymous: bool) -> Self {
        self.anonymous = anonymous;
        self
    }

    /// Trusts 1.0 tokens from this issuer (`iss`). The issuers trusted are
    /// these and the [authorization servers](HubConfigBuilder::authorization_server)
    /// advertised; when there is none, any issuer is accepted, but a 1.0
    /// token must still name one unless
    /// [`HubConfigBuilder::allow_missing_issuer`] says otherwise.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// The audience 1.0 tokens must name (default: the hub URL).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// An authorization server advertised in the 1.0 protected resource
    /// metadata; its tokens are trusted (the `iss` of 1.0 tokens must then
    /// be one of these or of [`HubConfigBuilder::issuer`]'s).
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The history storage (default: a [`MemoryTransport`] of
    /// [`HubConfigBuilder::history_size`] events).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Events kept in the default in-memory history (default 1000; 0 keeps none).
    pub fn history_size(mut self, size: usize) -> Self {
        self.history_size = size;
        self
    }

    /// Events queued for one subscriber; a subscriber that falls this far
    /// behind is disconnected (it resumes from history). Default 1000.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// Bytes of events ([`Event::size`](crate::Event::size)) queued for one
    /// subscriber; a subscriber that falls this far behind is disconnected
    /// (it resumes from history). Default [`DEFAULT_QUEUE_BYTES`].
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// Bytes of history held at once for every replay together: a
    /// subscriber reads its next page of history only once it fits, and
    /// the bytes are freed when written to its socket. Default
    /// [`DEFAULT_REPLAY_BYTES`]; at least one page (512 KiB) is allowed.
    pub fn replay_bytes(mut self, bytes: usize) -> Self {
        self.replay_bytes = bytes;
        self
    }

    /// Interval of heartbeat comments (`None` sends none). Default 40 s;
    /// longer than 30 years is read as 30 years.
    pub fn heartbeat(mut self, interval: Option<Duration>) -> Self {
        self.heartbeat = interval;
        self
    }

    /// Largest publish body accepted (default 1 MiB; larger → 413).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// An origin allowed to use the hub from a browser (CORS, with
    /// credentials). `*` allows every origin, without credentials.
    pub fn cors_origin(mut self, origin: impl Into<String>) -> Self {
        self.cors_origins.push(origin.into());
        self
    }

    /// An origin allowed to publish with a cookie token (`*` for any).
    pub fn publish_origin(mut self, origin: impl Into<String>) -> Self {
        self.publish_origins.push(origin.into());
        self
    }

    /// Enables subscription events and the subscriptions API.
    pub fn subscriptions(mut self, enabled: bool) -> Self {
        self.subscriptions = enabled;
        self
    }

    /// Enables the Prometheus metrics endpoint.
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.metrics = enabled;
        self
    }

    /// Compiled topic matchers kept in the cache (default
    /// [`HubConfig::DEFAULT_MATCHER_CACHE_SIZE`]); the least recently used
    /// are evicted past it or past [`HubConfigBuilder::matcher_cache_bytes`].
    pub fn matcher_cache_size(mut self, size: usize) -> Self {
        self.matcher_cache_size = size;
        self
    }

    /// Estimated bytes the cached topic matchers may take together (default
    /// [`HubConfig::DEFAULT_MATCHER_CACHE_BYTES`]); the least recently used
    /// are evicted past it. Matchers of active subscriptions stay in memory
    /// as long as their subscribers, cached or not. 0 caches nothing.
    pub fn matcher_cache_bytes(mut self, bytes: usize) -> Self {
        self.matcher_cache_bytes = bytes;
        self
    }

    /// Limits on one subscribe request: number of selectors (default
    /// [`HubConfig::DEFAULT_MAX_SELECTORS`]) and length of each (default
    /// [`HubConfig::DEFAULT_MAX_SELECTOR_LENGTH`] bytes); beyond them, 400.
    pub fn selector_limits(mut self, max_selectors: usize, max_length: usize) -> Self {
        self.max_selectors = max_selectors;
        self.max_selector_length = max_length;
        self
    }

    /// Limits on pattern selectors (0.x URI templates, 1.0 URL patterns),
    /// which compile to regular expressions, bounding what one costs to
    /// compile and to keep:
    ///
    /// - `max_patterns`: pattern selectors of one subscription (default
    ///   [`HubConfig::DEFAULT_MAX_PATTERN_SELECTORS`]);
    /// - `max_length`: bytes of one pattern selector (default
    ///   [`HubConfig::DEFAULT_MAX_PATTERN_LENGTH`]);
    /// - `max_size`: estimated bytes one pattern selector may compile to,
    ///   which also limits every automaton built for it, so compiling stops
    ///   as soon as it is exceeded (default
    ///   [`HubConfig::DEFAULT_MAX_PATTERN_SIZE`]).
    ///
    /// A selector beyond them is refused with 400 (`InvalidSelector`, or
    /// `InvalidSubscribe` for too many), a token granting one with 401;
    /// `*` and exact selectors are not patterns. 0 refuses every pattern
    /// selector.
    pub fn pattern_limits(
        mut self,
        max_patterns: usize,
        max_length: usize,
        max_size: usize,
    ) -> Self {
        self.max_pattern_selectors = max_patterns;
        self.max_pattern_length = max_length;
        self.max_pattern_size = max_size;
        self
    }

    /// Most topics one update may have, canonical and alternates (default
    /// [`DEFAULT_MAX_TOPICS`]); a publish with more gets 400. It bounds the
    /// matching work each update costs per subscriber.
    pub fn max_topics(mut self, topics: usize) -> Self {
        self.max_topics = topics;
        self
    }

    /// How long a client may take to send a request head, from its
    /// connection's start or the end of its previous request (default
    /// [`DEFAULT_HEAD_TIMEOUT`]); the connection is closed then. Applies to
    /// connections served by [`serve_hub`](crate::serve_hub), on the lean
    /// path and through hyper. Longer than 30 years is read as 30 years.
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.head_timeout = timeout;
        self
    }

    /// How long a client may take to send a request body, once its head is
    /// read (default [`DEFAULT_BODY_TIMEOUT`]): a publish or `QUERY` whose
    /// body is not complete by then gets 408 and its connection is closed,
    /// whatever serves the router. Longer than 30 years is read as 30 years.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Most connections [`serve_hub`](crate::serve_hub) serves at once
    /// (default [`DEFAULT_MAX_CONNECTIONS`]; 0: no limit). Beyond it, a new
    /// connection is answered 503 with `Retry-After` and closed.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Most connections from one IP address [`serve_hub`](crate::serve_hub)
    /// serves at once (default [`DEFAULT_MAX_CONNECTIONS_PER_ADDRESS`]; 0:
    /// no limit). Beyond it, a new connection from that address is answered
    /// 429 with `Retry-After` and closed. Behind a reverse proxy every
    /// client has the proxy's address: raise it, or set 0 and let the
    /// proxy limit its clients.
    pub fn max_connections_per_address(mut self, connections: usize) -> Self {
        self.max_connections_per_address = connections;
        self
    }

    /// The rate of publish requests one client may send (default
    /// [`DEFAULT_PUBLISH_RATE`]; `None`: no limit). A client is its token's
    /// subject (`sub`) when its token has one, else its IPv4 address or
    /// IPv6 /64 network; beyond its limit a request is answered 429 with
    /// `Retry-After`. The token is verified first (an invalid one gets 401
    /// and takes nothing from a bucket), the body is read after. Applies
    /// to HTTP requests (the address is known when the router is served by
    /// [`serve_hub`](crate::serve_hub) or [`serve`](crate::serve), or with
    /// axum's `ConnectInfo<SocketAddr>`), never to the in-process API.
    pub fn publish_rate(mut self, limit: Option<RateLimit>) -> Self {
        self.publish_rate = limit;
        self
    }

    /// The rate of subscribe requests one client may send, subscriptions
    /// API requests included (default [`DEFAULT_SUBSCRIBE_RATE`]; `None`:
    /// no limit); keyed and answered as [`HubConfigBuilder::publish_rate`]
    /// says, on the lean path as through the router.
    pub fn subscribe_rate(mut self, limit: Option<RateLimit>) -> Self {
        self.subscribe_rate = limit;
        self
    }

    /// Clients whose rate limit state is kept, for each limit (default
    /// [`DEFAULT_RATE_LIMIT_KEYS`], about 100 bytes each): past it the
    /// idlest are forgotten, so a client rotating addresses cannot grow
    /// the table (a forgotten client starts again with a full bucket).
    pub fn rate_limit_keys(mut self, keys: usize) -> Self {
        self.rate_limit_keys = keys;
        self
    }

    /// Whether 0.x tokens (the `mercure` claim: no `typ`, `aud`, `iss` or
    /// `exp` checked) authorize 1.0 requests: `match=` subscriptions and the
    /// 1.0 subscriptions API. Default `false`: a 1.0 request needs a 1.0
    /// access token, held to every 1.0 check. Enable it for applications
    /// that moved their subscribers to `match=` before their tokens.
    pub fn accept_v0_tokens_for_v1(mut self, accept: bool) -> Self {
        self.accept_v0_tokens_for_v1 = accept;
        self
    }

    /// Whether 1.0 tokens without an `iss` claim are accepted when no
    /// issuer is trusted explicitly (see [`HubConfigBuilder::issuer`]).
    /// Default `false`: RFC 9068 requires `iss`. Enable it for self-issued
    /// tokens minted without one. With trusted issuers, `iss` is always
    /// required.
    pub fn allow_missing_issuer(mut self, allow: bool) -> Self {
        self.allow_missing_issuer = allow;
        self
    }

    /// Whether authorization details typed `mercure` (the short type of
    /// the latest drafts) grant Mercure rights, beside those typed
    /// `https://mercure.rocks/authorization-detail`. Default `false`: a
    /// `mercure` detail is another application's (RFC 9396 types are not
    /// registered, and a short name may mean something else to another
    /// resource server) and grants nothing. Enable it for issuers that
    /// follow the latest drafts.
    pub fn accept_short_detail_type(mut self, accept: bool) -> Self {
        self.accept_short_detail_type = accept;
        self
    }

    /// The clock judging token expiry (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an unparsable URL, a zero queue
    /// capacity, a zero heartbeat, body size, topic limit or timeout.
    pub fn build(self) -> Result<HubConfig, Error> {
        let url = Url::parse(&self.url)
            .map_err(|e| Error::InvalidConfig(format!("invalid hub URL {:?}: {e}", self.url)))?;
        if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
            return Err(Error::InvalidConfig(format!(
                "the hub URL {:?} must be an http(s) URL",
                self.url
            )));
        }
        if self.queue_capacity == 0 {
            return Err(Error::InvalidConfig(
                "the queue capacity must be at least 1".into(),
            ));
        }
        if self.heartbeat.is_some_and(|h| h.is_zero()) {
            return Err(Error::InvalidConfig(
                "the heartbeat interval must not be zero".into(),
            ));
        }
        if self.max_body == 0 {
            return Err(Error::InvalidConfig(
                "the maximum body size must not be zero".into(),
            ));
        }
        if self.max_topics == 0 {
            return Err(Error::InvalidConfig(
                "the maximum number of topics must not be zero".into(),
            ));
        }
        if self.head_timeout.is_zero() || self.body_timeout.is_zero() {
            return Err(Error::InvalidConfig(
                "the head and body timeouts must not be zero".into(),
            ));
        }
        for limit in [self.publish_rate, self.subscribe_rate]
            .into_iter()
            .flatten()
        {
            limit.quota()?;
        }
        if self.rate_limit_keys == 0 {
            return Err(Error::InvalidConfig(
                "the rate limit table must hold at least one key".into(),
            ));
        }
        let (subscriber_keys, subscriber_jwks) =
            if self.subscriber_keys.is_empty() && self.subscriber_jwks.is_empty() {
                (self.publisher_keys.clone(), self.publisher_jwks.clone())
            } else {
                (self.subscriber_keys, self.subscriber_jwks)
            };
        let audience = self.audience.or_else(|| Some(url.as_str().to_owned()));
        Ok(HubConfig {
            transport: self
                .transport
                .unwrap_or_else(|| Arc::new(MemoryTransport::new(self.history_size))),
            url,
            support: self.support,
            publisher_keys: self.publisher_keys,
            subscriber_keys,
            publisher_jwks: self.publisher_jwks,
            subscriber_jwks,
            issuer_jwks: self.issuer_jwks,
            anonymous: self.anonymous,
            issuers: self.issuers,
            audience,
            authorization_servers: self.authorization_servers,
            queue_capacity: self.queue_capacity,
            queue_bytes: self.queue_bytes,
            replay_bytes: self.replay_bytes,
            heartbeat: self.heartbeat.map(crate::time::clamp),
            max_body: self.max_body,
            cors_origins: self.cors_origins,
            publish_origins: self.publish_origins,
            subscriptions: self.subscriptions,
            metrics: self.metrics,
            matcher_cache_size: MatcherLimits {
                cache_entries: self.matcher_cache_size,
                cache_bytes: self.matcher_cache_bytes,
                max_patterns: self.max_pattern_selectors,
                max_pattern_length: self.max_pattern_length,
                max_pattern_size: self.max_pattern_size,
            },
            max_selectors: self.max_selectors,
            max_selector_length: self.max_selector_length,
            max_topics: self.max_topics,
            head_timeout: crate::time::clamp(self.head_timeout),
            body_timeout: crate::time::clamp(self.body_timeout),
            max_connections: self.max_connections,
            max_connections_per_address: self.max_connections_per_address,
            publish_rate: self.publish_rate,
            subscribe_rate: self.subscribe_rate,
            rate_limit_keys: self.rate_limit_keys,
            accept_v0_tokens_for_v1: self.accept_v0_tokens_for_v1,
            allow_missing_issuer: self.allow_missing_issuer,
            accept_short_detail_type: self.accept_short_detail_type,
            clock: self.clock,
        })
    }
}
