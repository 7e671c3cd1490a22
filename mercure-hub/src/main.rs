//! `mercure-hub`: a standalone Mercure hub (0.x and 1.0 dialects).
//!
//! Every setting can also be made with the `MERCURE_*` environment
//! variable shown by `mercure-hub --help`. Keys come from the environment
//! or from files, never from the command line (where other users of the
//! machine can read them). `--completions SHELL` and `--man` print a shell
//! completion script or the manual page and exit.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use mercure_core::ProtocolVersion;
use mercure_core::token::{Grants, SigningKey, TokenFactory};
use mercure_hub::{
    DialectSupport, DurableOptions, DurableTransport, EmbeddedHub, HubConfig, Jwks,
    MemoryTransport, RateLimit, RedisOptions, RedisTransport, Transport, VerificationKey,
};
use tracing_subscriber::EnvFilter;

/// A Mercure hub: real-time updates pushed over server-sent events.
#[derive(Debug, Parser)]
#[command(
    name = "mercure-hub",
    version,
    about,
    after_help = "Keys never come from the command line: set MERCURE_JWT_KEY, \
MERCURE_PUBLISHER_JWT_KEY or MERCURE_SUBSCRIBER_JWT_KEY in the environment, \
or name a file with --jwt-key-file, --publisher-jwt-key-file or --subscriber-jwt-key-file."
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "MERCURE_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// PEM file of the TLS certificate chain (server certificate first):
    /// serve HTTPS, HTTP/2 and HTTP/1.1 by ALPN. Needs --tls-key. The pair
    /// is read again on SIGHUP and when either file changes.
    #[arg(
        long,
        env = "MERCURE_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM file of the TLS private key (PKCS#8, PKCS#1 or SEC1). Needs
    /// --tls-cert.
    #[arg(
        long,
        env = "MERCURE_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    tls_key: Option<PathBuf>,
    /// Public URL of the hub (default: http://ADDR/.well-known/mercure, or
    /// https:// with TLS).
    #[arg(long, env = "MERCURE_URL")]
    url: Option<String>,
    /// Dialects spoken: 0.x, 1.0 or both.
    #[arg(long, env = "MERCURE_PROTOCOL", default_value = "both")]
    protocol: String,
    /// File holding the key verifying publisher and subscriber tokens: the
    /// HMAC secret, or a PEM public key for RS*/PS*/ES*/EdDSA (or set the
    /// key itself in MERCURE_JWT_KEY).
    #[arg(long, env = "MERCURE_JWT_KEY_FILE")]
    jwt_key_file: Option<PathBuf>,
    /// Algorithm of the key.
    #[arg(long, env = "MERCURE_JWT_ALGORITHM", default_value = "HS256")]
    jwt_algorithm: String,
    /// File holding the key verifying publisher tokens only (or set
    /// MERCURE_PUBLISHER_JWT_KEY).
    #[arg(long, env = "MERCURE_PUBLISHER_JWT_KEY_FILE")]
    publisher_jwt_key_file: Option<PathBuf>,
    /// Algorithm of the publisher key (default: --jwt-algorithm).
    #[arg(long, env = "MERCURE_PUBLISHER_JWT_ALGORITHM")]
    publisher_jwt_algorithm: Option<String>,
    /// File holding the key verifying subscriber tokens only (or set
    /// MERCURE_SUBSCRIBER_JWT_KEY).
    #[arg(long, env = "MERCURE_SUBSCRIBER_JWT_KEY_FILE")]
    subscriber_jwt_key_file: Option<PathBuf>,
    /// Algorithm of the subscriber key (default: --jwt-algorithm).
    #[arg(long, env = "MERCURE_SUBSCRIBER_JWT_ALGORITHM")]
    subscriber_jwt_algorithm: Option<String>,
    /// JWK set (RFC 7517) whose keys verify publisher and subscriber
    /// tokens, beside the key above: an https:// URL (http:// only on a
    /// loopback address) or a file:// path. Fetched before serving, then
    /// refreshed (see --jwks-min-interval).
    #[arg(long, env = "MERCURE_JWKS_URL", value_name = "URL")]
    jwks_url: Option<String>,
    /// JWK set verifying publisher tokens only.
    #[arg(long, env = "MERCURE_PUBLISHER_JWKS_URL", value_name = "URL")]
    publisher_jwks_url: Option<String>,
    /// JWK set verifying subscriber tokens only.
    #[arg(long, env = "MERCURE_SUBSCRIBER_JWKS_URL", value_name = "URL")]
    subscriber_jwks_url: Option<String>,
    /// ISSUER=URL: the JWK set of a trusted issuer of 1.0 access tokens
    /// (repeatable, or comma-separated); its keys verify only the 1.0
    /// tokens whose iss is ISSUER, which is trusted as --issuer is.
    #[arg(
        long,
        env = "MERCURE_ISSUER_JWKS",
        value_delimiter = ',',
        value_name = "ISSUER=URL"
    )]
    issuer_jwks: Vec<String>,
    /// Seconds between two JWKS fetches for tokens naming an unknown kid
    /// (and before a failed fetch is retried).
    #[arg(long, env = "MERCURE_JWKS_MIN_INTERVAL", default_value_t = mercure_hub::DEFAULT_JWKS_MIN_INTERVAL.as_secs())]
    jwks_min_interval: u64,
    /// Seconds a JWK set is used when its response sets no
    /// Cache-Control max-age (max-age is honored between 1 minute and 1 day).
    #[arg(long, env = "MERCURE_JWKS_REFRESH", default_value_t = mercure_hub::DEFAULT_JWKS_REFRESH.as_secs())]
    jwks_refresh: u64,
    /// Fetch JWK sets over plain http:// from any host (tests only: anyone
    /// on the path can replace the keys).
    #[arg(long, env = "MERCURE_JWKS_ALLOW_HTTP")]
    jwks_allow_http: bool,
    /// Read symmetric (oct) keys of JWK sets as HMAC secrets.
    #[arg(long, env = "MERCURE_JWKS_ALLOW_HMAC")]
    jwks_allow_hmac: bool,
    /// Serve subscribers without a token (public updates only).
    #[arg(long, env = "MERCURE_ANONYMOUS")]
    anonymous: bool,
    /// Trusted issuer of 1.0 tokens (repeatable; any when none).
    #[arg(long, env = "MERCURE_ISSUERS", value_delimiter = ',')]
    issuer: Vec<String>,
    /// Audience 1.0 tokens must name (default: the hub URL).
    #[arg(long, env = "MERCURE_AUDIENCE")]
    audience: Option<String>,
    /// Where the history replayed to reconnecting subscribers is kept: a
    /// file (created when missing; a file that is locked by another hub,
    /// unreadable or corrupt stops the hub), or `memory` (lost on restart).
    #[arg(long, env = "MERCURE_HISTORY", default_value = DEFAULT_HISTORY_FILE)]
    history: String,
    /// Share history and delivery with other hub instances through Redis:
    /// `redis://[user:password@]host[:port][/db]` (or `unix://`; TLS,
    /// `rediss://`, is not built in), with `?stream=KEY` (default `mercure`). Replaces
    /// `--history`; `--history-size` and `--history-max-age` bound the
    /// stream.
    #[arg(long, env = "MERCURE_TRANSPORT")]
    transport: Option<String>,
    /// Most events kept in history (default: 1,000,000 in a file, 1000 in
    /// memory).
    #[arg(long, env = "MERCURE_HISTORY_SIZE")]
    history_size: Option<usize>,
    /// Seconds an event stays in a history file (default: 7 days).
    #[arg(long, env = "MERCURE_HISTORY_MAX_AGE")]
    history_max_age: Option<u64>,
    /// Events queued per subscriber before it is disconnected.
    #[arg(long, env = "MERCURE_QUEUE_CAPACITY", default_value_t = mercure_hub::DEFAULT_QUEUE_CAPACITY)]
    queue_capacity: usize,
    /// Bytes of events queued per subscriber before it is disconnected.
    #[arg(long, env = "MERCURE_QUEUE_BYTES", default_value_t = mercure_hub::DEFAULT_QUEUE_BYTES)]
    queue_bytes: usize,
    /// Bytes of history held at once for all replays together (pages read
    /// and not yet written to subscribers).
    #[arg(long, env = "MERCURE_REPLAY_BYTES", default_value_t = mercure_hub::DEFAULT_REPLAY_BYTES)]
    replay_bytes: usize,
    /// On SIGTERM or SIGINT, subscribers are told to reconnect at random
    /// times within this many seconds (their streams end with a `retry:`
    /// field), so a restart does not bring them all back at once.
    #[arg(long, env = "MERCURE_DRAIN_WINDOW", default_value_t = 5)]
    drain_window: u64,
    /// Seconds after SIGTERM or SIGINT by which the hub exits, whatever is
    /// still in flight.
    #[arg(long, env = "MERCURE_SHUTDOWN_TIMEOUT", default_value_t = 15)]
    shutdown_timeout: u64,
    /// Seconds between heartbeat comments (0: none).
    #[arg(long, env = "MERCURE_HEARTBEAT", default_value_t = 40)]
    heartbeat: u64,
    /// Largest publish body, in bytes.
    #[arg(long, env = "MERCURE_MAX_BODY", default_value_t = mercure_hub::DEFAULT_MAX_BODY)]
    max_body: usize,
    /// Most topics of one update (canonical and alternates); more: 400.
    #[arg(long, env = "MERCURE_MAX_TOPICS", default_value_t = mercure_hub::DEFAULT_MAX_TOPICS)]
    max_topics: usize,
    /// Most topic selectors of one subscription; more: 400.
    #[arg(long, env = "MERCURE_MAX_SELECTORS", default_value_t = HubConfig::DEFAULT_MAX_SELECTORS)]
    max_selectors: usize,
    /// Longest topic selector, in bytes; longer: 400.
    #[arg(long, env = "MERCURE_MAX_SELECTOR_LENGTH", default_value_t = HubConfig::DEFAULT_MAX_SELECTOR_LENGTH)]
    max_selector_length: usize,
    /// Most pattern selectors (0.x URI templates, 1.0 URL patterns) of one
    /// subscription; more: 400 (0: patterns refused).
    #[arg(long, env = "MERCURE_MAX_PATTERN_SELECTORS", default_value_t = HubConfig::DEFAULT_MAX_PATTERN_SELECTORS)]
    max_pattern_selectors: usize,
    /// Longest pattern selector, in bytes; longer: 400.
    #[arg(long, env = "MERCURE_MAX_PATTERN_LENGTH", default_value_t = HubConfig::DEFAULT_MAX_PATTERN_LENGTH)]
    max_pattern_length: usize,
    /// Most bytes one pattern selector may compile to (estimated; compiling
    /// stops past it); more: 400.
    #[arg(long, env = "MERCURE_MAX_PATTERN_SIZE", default_value_t = HubConfig::DEFAULT_MAX_PATTERN_SIZE)]
    max_pattern_size: usize,
    /// Most compiled topic matchers kept in the cache.
    #[arg(long, env = "MERCURE_MATCHER_CACHE_SIZE", default_value_t = HubConfig::DEFAULT_MATCHER_CACHE_SIZE)]
    matcher_cache_size: usize,
    /// Most bytes (estimated) the cached topic matchers take together.
    #[arg(long, env = "MERCURE_MATCHER_CACHE_BYTES", default_value_t = HubConfig::DEFAULT_MATCHER_CACHE_BYTES)]
    matcher_cache_bytes: usize,
    /// Seconds a client has to send a request head (then 408 and closed;
    /// idle keep-alive connections are closed after it too).
    #[arg(long, env = "MERCURE_HEAD_TIMEOUT", default_value_t = mercure_hub::DEFAULT_HEAD_TIMEOUT.as_secs())]
    head_timeout: u64,
    /// Seconds a client has to send a request body once its head is read
    /// (then 408 and closed).
    #[arg(long, env = "MERCURE_BODY_TIMEOUT", default_value_t = mercure_hub::DEFAULT_BODY_TIMEOUT.as_secs())]
    body_timeout: u64,
    /// Most connections served at once (0: no limit); more: 503.
    #[arg(long, env = "MERCURE_MAX_CONNECTIONS", default_value_t = mercure_hub::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Most connections served at once from one IPv4 address or IPv6 /64
    /// (0: no limit; behind a reverse proxy, raise it or set 0); more: 429.
    #[arg(long, env = "MERCURE_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = mercure_hub::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)]
    max_connections_per_address: usize,
    /// Publish requests a second one client may send (its token's subject,
    /// else its IPv4 address or IPv6 /64; fractions allowed; 0: no limit);
    /// more: 429 with Retry-After.
    #[arg(long, env = "MERCURE_PUBLISH_RATE", default_value_t = mercure_hub::DEFAULT_PUBLISH_RATE.per_second(), help_heading = "Rate limits")]
    publish_rate: f64,
    /// Publish requests one client may send at once, beyond its rate.
    #[arg(long, env = "MERCURE_PUBLISH_BURST", default_value_t = mercure_hub::DEFAULT_PUBLISH_RATE.burst(), help_heading = "Rate limits")]
    publish_burst: u32,
    /// Subscribe and subscriptions API requests a second one client may
    /// send (keyed as --publish-rate; 0: no limit); more: 429.
    #[arg(long, env = "MERCURE_SUBSCRIBE_RATE", default_value_t = mercure_hub::DEFAULT_SUBSCRIBE_RATE.per_second(), help_heading = "Rate limits")]
    subscribe_rate: f64,
    /// Subscribe requests one client may send at once, beyond its rate.
    #[arg(long, env = "MERCURE_SUBSCRIBE_BURST", default_value_t = mercure_hub::DEFAULT_SUBSCRIBE_RATE.burst(), help_heading = "Rate limits")]
    subscribe_burst: u32,
    /// Clients whose rate limit state is kept, per limit (the idlest are
    /// forgotten beyond).
    #[arg(long, env = "MERCURE_RATE_LIMIT_KEYS", default_value_t = mercure_hub::DEFAULT_RATE_LIMIT_KEYS, help_heading = "Rate limits")]
    rate_limit_keys: usize,
    /// Let 0.x tokens (no typ, aud, iss or exp checked) authorize 1.0
    /// requests (match= subscriptions, the 1.0 subscriptions API).
    #[arg(long, env = "MERCURE_ACCEPT_V0_TOKENS_FOR_V1")]
    accept_v0_tokens_for_v1: bool,
    /// Accept 1.0 tokens without an iss claim when no --issuer is set.
    #[arg(long, env = "MERCURE_ALLOW_MISSING_ISSUER")]
    allow_missing_issuer: bool,
    /// Take authorization details typed `mercure` (latest drafts) as
    /// Mercure grants, beside https://mercure.rocks/authorization-detail.
    #[arg(long, env = "MERCURE_ACCEPT_SHORT_DETAIL_TYPE")]
    accept_short_detail_type: bool,
    /// Origins allowed by CORS (comma-separated; `*` for any, without credentials).
    #[arg(long, env = "MERCURE_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Origins allowed to publish with a cookie (comma-separated).
    #[arg(long, env = "MERCURE_PUBLISH_ORIGINS", value_delimiter = ',')]
    publish_origins: Vec<String>,
    /// Enable subscription events and the subscriptions API.
    #[arg(long, env = "MERCURE_SUBSCRIPTIONS")]
    subscriptions: bool,
    /// Serve the debugger page at <hub path>/ui/ (subscribe and watch,
    /// publish with a pasted token; it holds no secret and can do nothing
    /// a token does not allow).
    #[arg(long, env = "MERCURE_UI")]
    ui: bool,
    /// Serve Prometheus metrics at /metrics.
    #[arg(long, env = "MERCURE_METRICS")]
    metrics: bool,
    /// Length of the queue of connections waiting to be accepted (capped by
    /// the kernel's net.core.somaxconn).
    #[arg(long, env = "MERCURE_BACKLOG", default_value_t = 4096)]
    backlog: u32,
    /// Worker threads of the runtime (default: one per CPU).
    #[arg(long, env = "MERCURE_WORKERS")]
    workers: Option<usize>,
    /// Log output: `text`, or `json` (one object per line).
    #[arg(long, env = "MERCURE_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "MERCURE_LOG", default_value = "info")]
    log: String,
    /// Export the hub's spans (mercure.publish, mercure.subscribe,
    /// mercure.subscriptions, mercure.transport.history) to this OTLP/HTTP
    /// collector, e.g. http://localhost:4318 (binaries built with the
    /// `otlp` feature).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// Print tokens and curl commands to try the hub (needs an HMAC key).
    #[arg(long, env = "MERCURE_DEMO")]
    demo: bool,
    /// Print a completion script for SHELL and exit (see the README for
    /// where each shell reads it).
    #[arg(long, value_name = "SHELL", help_heading = "Documentation")]
    completions: Option<clap_complete::Shell>,
    /// Print the manual page (roff) and exit: `mercure-hub --man | man -l -`.
    #[arg(long, help_heading = "Documentation")]
    man: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(code) = documentation(&args) {
        return code;
    }
    let filter = EnvFilter::try_new(&args.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let mut telemetry = match telemetry::start(&args, filter) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("mercure-hub: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(filter) = telemetry.log_filter.take() {
        logs(&args, filter);
    }
    let code = serve(args);
    telemetry.flush();
    code
}

/// Logs to standard output, through `filter`.
fn logs(args: &Args, filter: EnvFilter) {
    if args.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_ansi(
                std::io::IsTerminal::is_terminal(&std::io::stdout())
                    && std::env::var_os("NO_COLOR").is_none(),
            )
            .with_env_filter(filter)
            .init();
    }
}

fn serve(args: Args) -> ExitCode {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = args.workers {
        runtime.worker_threads(workers.max(1));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mercure-hub: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("mercure-hub: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let url = args.url.clone().unwrap_or_else(|| {
        let scheme = if args.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/.well-known/mercure", args.addr)
    });
    let support: DialectSupport = args.protocol.parse()?;
    let mut builder = HubConfig::builder()
        .url(&url)
        .support(support)
        .anonymous(args.anonymous)
        .queue_capacity(args.queue_capacity)
        .queue_bytes(args.queue_bytes)
        .replay_bytes(args.replay_bytes)
        .heartbeat((args.heartbeat > 0).then(|| Duration::from_secs(args.heartbeat)))
        .max_body(args.max_body)
        .max_topics(args.max_topics)
        .selector_limits(args.max_selectors, args.max_selector_length)
        .pattern_limits(
            args.max_pattern_selectors,
            args.max_pattern_length,
            args.max_pattern_size,
        )
        .matcher_cache_size(args.matcher_cache_size)
        .matcher_cache_bytes(args.matcher_cache_bytes)
        .head_timeout(Duration::from_secs(args.head_timeout))
        .body_timeout(Duration::from_secs(args.body_timeout))
        .max_connections(args.max_connections)
        .max_connections_per_address(args.max_connections_per_address)
        .publish_rate(
            (args.publish_rate != 0.0)
                .then(|| RateLimit::new(args.publish_rate, args.publish_burst)),
        )
        .subscribe_rate(
            (args.subscribe_rate != 0.0)
                .then(|| RateLimit::new(args.subscribe_rate, args.subscribe_burst)),
        )
        .rate_limit_keys(args.rate_limit_keys)
        .accept_v0_tokens_for_v1(args.accept_v0_tokens_for_v1)
        .allow_missing_issuer(args.allow_missing_issuer)
        .accept_short_detail_type(args.accept_short_detail_type)
        .subscriptions(args.subscriptions)
        .metrics(args.metrics);
    let shared_key = secret("MERCURE_JWT_KEY", args.jwt_key_file.as_deref())?;
    let publisher_key = secret(
        "MERCURE_PUBLISHER_JWT_KEY",
        args.publisher_jwt_key_file.as_deref(),
    )?
    .or_else(|| shared_key.clone());
    let subscriber_key = secret(
        "MERCURE_SUBSCRIBER_JWT_KEY",
        args.subscriber_jwt_key_file.as_deref(),
    )?
    .or_else(|| shared_key.clone());
    if let Some(key) = &publisher_key {
        let algorithm = args
            .publisher_jwt_algorithm
            .as_deref()
            .unwrap_or(&args.jwt_algorithm);
        builder = builder.publisher_key(VerificationKey::from_config(algorithm, key)?);
    } else if args.jwks_url.is_none()
        && args.publisher_jwks_url.is_none()
        && args.issuer_jwks.is_empty()
    {
        tracing::warn!("no publisher key configured: publishing over HTTP is refused");
    }
    if let Some(key) = &subscriber_key {
        let algorithm = args
            .subscriber_jwt_algorithm
            .as_deref()
            .unwrap_or(&args.jwt_algorithm);
        builder = builder.subscriber_key(VerificationKey::from_config(algorithm, key)?);
    }
    for issuer in &args.issuer {
        builder = builder.issuer(issuer);
    }
    builder = key_sets(&args, builder)?;
    if args.issuer.is_empty() && args.issuer_jwks.is_empty() && support.accepts(ProtocolVersion::V1)
    {
        tracing::warn!("no --issuer: 1.0 tokens from any issuer are accepted");
    }
    if let Some(audience) = &args.audience {
        builder = builder.audience(audience);
    }
    for origin in &args.cors_origins {
        builder = builder.cors_origin(origin);
    }
    for origin in &args.publish_origins {
        builder = builder.publish_origin(origin);
    }
    builder = builder.transport(match &args.transport {
        Some(url) => shared_history(url, &args).await?,
        None => history(&args)?,
    });
    let config = builder.build()?;
    // Every JWK set is fetched before serving: a wrong URL stops the hub.
    for loaded in futures_util::future::join_all(config.jwks().iter().map(Jwks::refresh)).await {
        loaded?;
    }
    let hub = EmbeddedHub::new(config);
    // The front page at `/` (none when the hub itself is served there).
    let mut app = hub
        .router()
        .merge(hub.operations_router())
        .merge(hub.front_page_router(true));
    if args.ui {
        app = app.merge(hub.debugger_router());
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls(cert, key)?),
        _ => None,
    };
    let socket = if args.addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(args.addr)?;
    let listener = socket.listen(args.backlog)?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, url = %url, protocol = %args.protocol, "Mercure hub listening");
    if args.demo {
        print_demo(&args, &url, shared_key.as_deref(), support)?;
    }
    let closer = hub.clone();
    let window = Duration::from_secs(args.drain_window);
    let (stopping, stopped) = tokio::sync::oneshot::channel();
    let shutdown = async move {
        let signal = termination().await;
        tracing::info!(%signal, "shutting down: no new connection, subscribers told when to come back");
        closer.drain(window);
        let _ = stopping.send(());
    };
    let served = match tls {
        Some(tls) => futures_util::future::Either::Left(mercure_hub::serve_hub_tls(
            listener,
            hub.clone(),
            app,
            tls,
            shutdown,
        )),
        None => futures_util::future::Either::Right(mercure_hub::serve_hub(
            listener,
            hub.clone(),
            app,
            shutdown,
        )),
    };
    let deadline = Duration::from_secs(args.shutdown_timeout);
    tokio::select! {
        served = served => served?,
        () = async {
            let _ = stopped.await;
            tokio::time::sleep(deadline).await;
        } => tracing::warn!(seconds = args.shutdown_timeout, "connections still open at the shutdown deadline: closing them"),
    }
    // Every publish answered was stored; the history is closed cleanly.
    hub.config().transport().close().await?;
    tracing::info!("stopped");
    Ok(())
}

/// How often the TLS certificate and key files are looked at for a change.
const TLS_POLL: Duration = Duration::from_secs(5);

/// The TLS certificate of `--tls-cert` and `--tls-key`, reloaded when the
/// files change and on SIGHUP (a pair that cannot be used is logged and the
/// previous one kept).
fn tls(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<mercure_hub::TlsConfigSource, Box<dyn std::error::Error>> {
    let source = mercure_hub::TlsConfigSource::from_pem_files(cert, key)?;
    tokio::spawn(source.clone().watch(TLS_POLL));
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Installed before the hub listens: SIGHUP never kills it.
        let mut hangup = signal(SignalKind::hangup())?;
        let reloaded = source.clone();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                match reloaded.reload() {
                    Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                    Err(error) => tracing::warn!(
                        %error,
                        "SIGHUP: the TLS certificate cannot be used: the previous one is kept"
                    ),
                }
            }
        });
    }
    tracing::info!(cert = %cert.display(), "TLS: HTTP/2 and HTTP/1.1 over rustls");
    Ok(source)
}

/// Prints what `--completions` or `--man` asks for, if either is given,
/// and tells how it went.
fn documentation(args: &Args) -> Option<ExitCode> {
    let mut text = Vec::new();
    if let Some(shell) = args.completions {
        clap_complete::generate(shell, &mut Args::command(), "mercure-hub", &mut text);
    } else if args.man {
        if let Err(error) = clap_mangen::Man::new(Args::command()).render(&mut text) {
            eprintln!("mercure-hub: cannot render the manual page: {error}");
            return Some(ExitCode::FAILURE);
        }
    } else {
        return None;
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(&text).and_then(|()| out.flush()) {
        Ok(()) => Some(ExitCode::SUCCESS),
        Err(error) => {
            eprintln!("mercure-hub: cannot write to standard output: {error}");
            Some(ExitCode::FAILURE)
        }
    }
}

/// Waits for SIGTERM or SIGINT (Ctrl-C); returns its name.
async fn termination() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

fn print_demo(
    args: &Args,
    url: &str,
    key: Option<&str>,
    support: DialectSupport,
) -> Result<(), Box<dyn std::error::Error>> {
    let Some(key) = key.filter(|_| args.jwt_algorithm.to_ascii_uppercase().starts_with("HS"))
    else {
        println!("--demo needs an HMAC key (MERCURE_JWT_KEY) to mint tokens");
        return Ok(());
    };
    let algorithm = args.jwt_algorithm.parse()?;
    let topic = "https://example.com/books/1";
    let mut out = String::from("\nTry it in two terminals:\n");
    for version in ProtocolVersion::ALL {
        if !support.accepts(version) {
            continue;
        }
        let mut builder =
            TokenFactory::builder(SigningKey::hmac(algorithm, key.as_bytes())?).protocol(version);
        if version == ProtocolVersion::V1 {
            builder = builder
                .issuer("https://mercure-hub.demo")
                .audience(args.audience.as_deref().unwrap_or(url));
        }
        let factory = builder.build()?;
        let subscriber = factory.mint(&Grants::subscribe_all())?;
        let publisher = factory.mint(&Grants::publish_all())?;
        let selector = version.dialect().exact_selector_param;
        out.push_str(&format!(
            "\n# Mercure {version}\n\
             curl -N '{url}?{selector}={topic}' -H 'Authorization: Bearer {}'\n\
             curl -X POST '{url}' -H 'Authorization: Bearer {}' -d 'topic={topic}' -d 'data={{\"status\":\"available\"}}'\n",
            subscriber.expose(),
            publisher.expose()
        ));
    }
    println!("{out}");
    Ok(())
}

/// The history file used when `--history` is not given, in the working
/// directory.
const DEFAULT_HISTORY_FILE: &str = "mercure-history.redb";

/// The Redis transport `--transport` names.
async fn shared_history(
    url: &str,
    args: &Args,
) -> Result<Arc<dyn Transport>, Box<dyn std::error::Error>> {
    let mut parsed = url::Url::parse(url).map_err(|_| "--transport must be a redis:// URL")?;
    let mut options = RedisOptions::new();
    let mut rest = Vec::new();
    for (name, value) in parsed.query_pairs() {
        match &*name {
            "stream" => options = options.with_key(value.into_owned()),
            _ => rest.push((name.into_owned(), value.into_owned())),
        }
    }
    parsed.set_query(None);
    if !rest.is_empty() {
        parsed.query_pairs_mut().extend_pairs(rest);
    }
    if let Some(size) = args.history_size {
        options = options.with_max_events(u64::try_from(size)?);
    }
    if let Some(seconds) = args.history_max_age {
        options = options.with_max_age(Duration::from_secs(seconds));
    }
    let transport = RedisTransport::connect(parsed.as_str(), options).await?;
    tracing::info!(transport = ?transport, "history shared through Redis");
    Ok(Arc::new(transport))
}

/// The transport `--history` names.
fn history(args: &Args) -> Result<Arc<dyn Transport>, Box<dyn std::error::Error>> {
    if args.history == "memory" {
        if args.history_max_age.is_some() {
            return Err("--history-max-age applies to a history file, not to memory".into());
        }
        let size = args
            .history_size
            .unwrap_or(mercure_hub::DEFAULT_HISTORY_SIZE);
        tracing::info!(
            events = size,
            "history kept in memory: it is lost on restart"
        );
        return Ok(Arc::new(MemoryTransport::new(size)));
    }
    let mut options = DurableOptions::new();
    if let Some(size) = args.history_size {
        options = options.with_max_events(u64::try_from(size)?);
    }
    if let Some(seconds) = args.history_max_age {
        options = options.with_max_age(Duration::from_secs(seconds));
    }
    let started = std::time::Instant::now();
    let transport = DurableTransport::open(&args.history, options)?;
    tracing::info!(
        path = %args.history,
        events = transport.count().unwrap_or_default(),
        opened_in_ms = started.elapsed().as_millis(),
        "history file opened"
    );
    Ok(Arc::new(transport))
}

/// The JWK sets of `--jwks-url`, `--publisher-jwks-url`,
/// `--subscriber-jwks-url` and `--issuer-jwks`, added to `builder`.
fn key_sets(
    args: &Args,
    mut builder: mercure_hub::HubConfigBuilder,
) -> Result<mercure_hub::HubConfigBuilder, Box<dyn std::error::Error>> {
    let jwks = |url: &str| {
        Jwks::builder(url)
            .allow_http(args.jwks_allow_http)
            .allow_hmac(args.jwks_allow_hmac)
            .min_interval(Duration::from_secs(args.jwks_min_interval))
            .refresh_interval(Duration::from_secs(args.jwks_refresh))
            .build()
    };
    if let Some(url) = &args.jwks_url {
        builder = builder.jwks(jwks(url)?);
    }
    if let Some(url) = &args.publisher_jwks_url {
        builder = builder.publisher_jwks(jwks(url)?);
    }
    if let Some(url) = &args.subscriber_jwks_url {
        builder = builder.subscriber_jwks(jwks(url)?);
    }
    for pair in &args.issuer_jwks {
        let (issuer, url) = pair
            .split_once('=')
            .filter(|(issuer, url)| !issuer.is_empty() && !url.is_empty())
            .ok_or("--issuer-jwks takes ISSUER=URL")?;
        builder = builder.issuer_jwks(issuer, jwks(url)?);
    }
    Ok(builder)
}

/// A key from the environment variable `variable` or from `file`, not both.
fn secret(
    variable: &str,
    file: Option<&std::path::Path>,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let from_env = std::env::var(variable).ok().filter(|key| !key.is_empty());
    match (from_env, file) {
        (Some(_), Some(_)) => {
            Err(format!("set either {variable} or its key file, not both").into())
        }
        (Some(key), None) => Ok(Some(key)),
        (None, Some(path)) => std::fs::read_to_string(path).map(Some).map_err(|error| {
            format!("cannot read the key file {}: {error}", path.display()).into()
        }),
        (None, None) => Ok(None),
    }
}

/// OpenTelemetry export of the hub's spans (`--otlp-endpoint`).
mod telemetry {
    use tracing_subscriber::EnvFilter;

    use super::Args;

    /// What [`start`] set up.
    pub(super) struct Telemetry {
        /// The log filter, when the logs are still to be set up.
        pub(super) log_filter: Option<EnvFilter>,
        #[cfg(feature = "otlp")]
        provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    }

    impl Telemetry {
        /// Sends the spans not exported yet.
        pub(super) fn flush(self) {
            #[cfg(feature = "otlp")]
            if let Some(provider) = self.provider
                && let Err(error) = provider.shutdown()
            {
                eprintln!("mercure-hub: the last spans could not be exported: {error}");
            }
        }
    }

    /// Sets up the logs and the span exporter together when
    /// `--otlp-endpoint` is given; otherwise leaves the logs to the caller.
    #[cfg(feature = "otlp")]
    pub(super) fn start(args: &Args, filter: EnvFilter) -> Result<Telemetry, String> {
        use tracing_subscriber::Layer;
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;

        let Some(endpoint) = args.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) else {
            return Ok(Telemetry {
                log_filter: Some(filter),
                provider: None,
            });
        };
        let service = std::env::var("OTEL_SERVICE_NAME")
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "mercure-hub".to_owned());
        let provider =
            mercure_hub::otlp::exporter(endpoint, &service).map_err(|e| e.to_string())?;
        let fmt = tracing_subscriber::fmt::layer();
        let fmt = if args.log_format == "json" {
            fmt.json().boxed()
        } else {
            fmt.with_ansi(
                std::io::IsTerminal::is_terminal(&std::io::stdout())
                    && std::env::var_os("NO_COLOR").is_none(),
            )
            .boxed()
        };
        tracing_subscriber::registry()
            .with(fmt.with_filter(filter))
            .with(mercure_hub::otlp::layer(&provider))
            .init();
        tracing::info!(endpoint, service, "exporting spans over OTLP");
        Ok(Telemetry {
            log_filter: None,
            provider: Some(provider),
        })
    }

    /// Without the `otlp` feature: says that `--otlp-endpoint` is ignored
    /// (the variable may be set for every process of a host).
    #[cfg(not(feature = "otlp"))]
    pub(super) fn start(args: &Args, filter: EnvFilter) -> Result<Telemetry, String> {
        if args.otlp_endpoint.as_deref().is_some_and(|e| !e.is_empty()) {
            eprintln!(
                "mercure-hub: --otlp-endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) ignored: \
                 this binary was built without the otlp feature"
            );
        }
        Ok(Telemetry {
            log_filter: Some(filter),
        })
    }
}
