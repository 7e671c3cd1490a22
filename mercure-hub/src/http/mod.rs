//! The HTTP face of the hub: routes, CORS, serving.

mod admission;
mod body;
mod cors;
mod errors;
mod lean;
mod metadata;
mod operations;
mod publish;
mod subscribe;
mod subscriptions;
mod token;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use mercure_core::ProtocolVersion;
use tokio::net::{TcpListener, TcpStream};

use self::admission::{Admission, Limits, Permit};
use crate::EmbeddedHub;

pub use lean::serve_hub;

impl EmbeddedHub {
    /// The hub's routes, to merge into an application's router: the hub
    /// at its URL's path (`GET`, or `QUERY` in 1.0, subscribes; `POST`
    /// publishes), the
    /// subscriptions API under it when enabled, and the 1.0 protected
    /// resource metadata at `/.well-known/oauth-protected-resource{path}`.
    /// CORS follows the configured origins. Request bodies are read within
    /// the hub's body size and time limits, whatever serves the router.
    ///
    /// ```
    /// use mercure_hub::{EmbeddedHub, HubConfig};
    ///
    /// let hub = EmbeddedHub::new(HubConfig::builder().anonymous(true).build().unwrap());
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/", axum::routing::get(|| async { "hello" }))
    ///     .merge(hub.router());
    /// # let _ = app;
    /// ```
    pub fn router(&self) -> Router {
        let config = self.config();
        let path = config.path().trim_end_matches('/').to_owned();
        let hub_path = if path.is_empty() {
            "/".to_owned()
        } else {
            path.clone()
        };
        let mut router = Router::new().route(
            &hub_path,
            get(subscribe::subscribe)
                .post(publish::publish)
                .fallback(subscribe::query_method)
                .layer(DefaultBodyLimit::max(config.max_body)),
        );
        if config.subscriptions {
            router = router
                .route(
                    &format!("{path}/subscriptions"),
                    get(subscriptions::subscriptions),
                )
                .route(
                    &format!("{path}/subscriptions/{{*rest}}"),
                    get(subscriptions::subscriptions),
                );
        }
        if config.support.accepts(ProtocolVersion::V1) {
            router = router.route(&metadata::metadata_path(&path), get(metadata::metadata));
        }
        let router = router.with_state(self.clone());
        match cors::Cors::new(
            &config.cors_origins,
            config.support.accepts(ProtocolVersion::V1),
        ) {
            Some(cors) => {
                router.layer(axum::middleware::from_fn_with_state(cors, cors::middleware))
            }
            None => router,
        }
    }

    /// Operational routes: `GET /healthz` (liveness) and, when metrics are
    /// enabled, `GET /metrics` (Prometheus text format).
    pub fn operations_router(&self) -> Router {
        let mut router = Router::new().route("/healthz", get(operations::health));
        if self.config().metrics {
            router = router.route("/metrics", get(operations::metrics));
        }
        router.with_state(self.clone())
    }
}

/// Serves `router` on `listener` with `TCP_NODELAY` set on every accepted
/// connection (so small responses are never held back by Nagle's
/// algorithm and the peer's delayed ACK).
///
/// Connections are bounded by the defaults of [`HubConfig`](crate::HubConfig)
/// (request heads within [`DEFAULT_HEAD_TIMEOUT`](crate::DEFAULT_HEAD_TIMEOUT),
/// [`DEFAULT_MAX_CONNECTIONS`](crate::DEFAULT_MAX_CONNECTIONS) at once, of
/// which [`DEFAULT_MAX_CONNECTIONS_PER_ADDRESS`](crate::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)
/// per address, answered 503 or 429 beyond); [`serve_hub`] applies a hub's
/// own configuration.
///
/// # Errors
/// An I/O error of the listener.
pub async fn serve(listener: TcpListener, router: Router) -> io::Result<()> {
    serve_with_shutdown(listener, router, std::future::pending()).await
}

/// As [`serve`], stopping to accept connections when `shutdown` completes
/// and returning once open connections have ended (close the hub's
/// subscribers with [`EmbeddedHub::close_subscribers`] to end theirs).
///
/// # Errors
/// An I/O error of the listener.
pub async fn serve_with_shutdown<F>(
    listener: TcpListener,
    router: Router,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let admission = Admission::new(Limits::default());
    let builder = hyper_builder(admission.limits().head_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, permit) = tokio::select! {
            accepted = accept(&listener, &admission) => accepted,
            () = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = graceful.watch(
            builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned(),
        );
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The next connection admitted by `admission`, with `TCP_NODELAY` set;
/// connections beyond its limits are answered and closed meanwhile.
async fn accept(listener: &TcpListener, admission: &Arc<Admission>) -> (TcpStream, Permit) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors or a connection reset before
                // accept: wait a little rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match admission.admit(peer.ip()) {
            Ok(permit) => {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "cannot set TCP_NODELAY");
                }
                return (stream, permit);
            }
            Err(why) => {
                tracing::debug!(peer = %peer.ip(), ?why, "connection refused");
                admission.refuse(stream, why);
            }
        }
    }
}

/// hyper's server for the connections it serves: HTTP/1.1 (each request
/// head within `head_timeout`, an idle keep-alive connection closed after
/// it) and HTTP/2.
fn hyper_builder(head_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    builder
}
