//! The HTTP face of the hub: routes, CORS, serving.

mod admission;
mod body;
mod client;
mod connection;
mod cors;
mod debugger;
mod errors;
mod front;
mod lean;
mod metadata;
mod operations;
mod publish;
mod subscribe;
mod subscriptions;
#[cfg(feature = "tls")]
mod tls;
mod token;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use bytes::Bytes;
use mercure_core::ProtocolVersion;
use tokio::net::TcpListener;
use tokio::sync::watch;

use self::admission::{Admission, Limits};
use self::connection::Connection;
use crate::EmbeddedHub;

pub use lean::serve_hub;
pub(crate) use publish::parse_form;
#[cfg(feature = "tls")]
pub use tls::{TlsConfigSource, TlsError, serve_hub_tls};

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
/// algorithm and the peer's delayed ACK), over HTTP/1.1 or HTTP/2 with
/// prior knowledge (h2c).
///
/// Connections are bounded by the defaults of [`HubConfig`](crate::HubConfig)
/// (request heads within [`DEFAULT_HEAD_TIMEOUT`](crate::DEFAULT_HEAD_TIMEOUT),
/// [`DEFAULT_MAX_CONNECTIONS`](crate::DEFAULT_MAX_CONNECTIONS) at once, of
/// which [`DEFAULT_MAX_CONNECTIONS_PER_ADDRESS`](crate::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)
/// per address, answered 503 or 429 beyond); [`serve_hub`] applies a hub's
/// own configuration. An HTTP/2 connection is held to the same bounds: its
/// preface, settings and first request within the head timeout, closed
/// once it has had no open stream for as long, at most 16 streams at once,
/// each beyond the first counted against its address's connections (429
/// or 503 beyond), and pinged to detect a peer gone silent. On both
/// protocols a client that stops reading for 60 s is disconnected.
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
    let head_timeout = admission.limits().head_timeout;
    // Told to every connection at shutdown.
    let (closing, _) = watch::channel(());
    // Held by every connection's task: all gone once `recv` says so.
    let (alive, mut all_gone) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let connection = tokio::select! {
            accepted = accept(&listener, &admission) => accepted,
            () = &mut shutdown => break,
        };
        let app = router.clone();
        let mut signal = closing.subscribe();
        let alive = alive.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let mut connection = connection;
            let mut head = Vec::with_capacity(1024);
            // The first head is read here, to tell HTTP/2 from HTTP/1 with
            // the same bounds as on the lean path.
            let read = tokio::select! {
                read = lean::read_head(&mut connection.stream, &mut head, head_timeout) => read,
                _ = signal.changed() => return,
            };
            let Some(protocol) = lean::protocol_of(read, &mut connection.stream).await else {
                return;
            };
            connection::serve(
                connection,
                Bytes::from(head),
                protocol,
                app,
                head_timeout,
                Some(signal),
                None,
            )
            .await;
        });
    }
    drop(listener);
    let _ = closing.send(());
    drop(alive);
    let _ = all_gone.recv().await;
    Ok(())
}

/// What a connection's task holds of the server: the shutdown signal, and
/// its share of the count of open connections (dropped when it ends).
#[derive(Debug)]
struct Watch {
    signal: tokio::sync::watch::Receiver<()>,
    _alive: tokio::sync::mpsc::Sender<()>,
}

/// Accepts connections within `admission` and hands each to `spawn` with
/// its [`Watch`], until `shutdown`; then accepts no more, tells every
/// connection, and waits until their tasks are all gone. (`spawn` spawns
/// the connection's future as is: a wrapping `async` block would hold it
/// twice, kilobytes per subscriber.)
async fn accept_until<F>(
    listener: TcpListener,
    admission: &Arc<Admission>,
    shutdown: F,
    mut spawn: impl FnMut(Connection, Watch),
) where
    F: Future<Output = ()>,
{
    let mut shutdown = std::pin::pin!(shutdown);
    // Told to every connection at shutdown.
    let (closing, _) = tokio::sync::watch::channel(());
    // Held by every connection's task: all gone once `recv` says so.
    let (alive, mut all_gone) = tokio::sync::mpsc::channel::<()>(1);
    loop {
        let accepted = tokio::select! {
            accepted = accept(&listener, admission) => accepted,
            () = &mut shutdown => break,
        };
        spawn(
            accepted,
            Watch {
                signal: closing.subscribe(),
                _alive: alive.clone(),
            },
        );
    }
    // No new connection; requests in flight are answered, keep-alive
    // connections closed after them, streams ended (with their `retry:`
    // field when the hub was drained).
    drop(listener);
    let _ = closing.send(());
    drop(alive);
    let _ = all_gone.recv().await;
}

/// The next connection admitted by `admission`, with `TCP_NODELAY` set;
/// connections beyond its limits are answered and closed meanwhile.
async fn accept(listener: &TcpListener, admission: &Arc<Admission>) -> Connection {
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
                return Connection {
                    stream,
                    permit,
                    peer,
                    started: tokio::time::Instant::now(),
                };
            }
            Err(why) => {
                tracing::debug!(peer = %peer.ip(), ?why, "connection refused");
                admission.refuse(stream, why);
            }
        }
    }
}
