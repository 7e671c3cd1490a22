//! The HTTP face of the hub: routes, CORS, serving.

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

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::serve::ListenerExt;
use mercure_core::ProtocolVersion;
use tokio::net::TcpListener;

use crate::EmbeddedHub;

pub use lean::serve_hub;

impl EmbeddedHub {
    /// The hub's routes, to merge into an application's router: the hub
    /// at its URL's path (`GET`, or `QUERY` in 1.0, subscribes; `POST`
    /// publishes), the
    /// subscriptions API under it when enabled, and the 1.0 protected
    /// resource metadata at `/.well-known/oauth-protected-resource{path}`.
    /// CORS follows the configured origins.
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
        match cors::layer(&config.cors_origins) {
            Some(layer) => router.layer(layer),
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
/// # Errors
/// An I/O error of the listener.
pub async fn serve(listener: TcpListener, router: Router) -> io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router).await
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
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
