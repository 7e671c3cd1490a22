//! A [Mercure](https://mercure.rocks) hub speaking both dialects of the
//! protocol (0.x, draft-07, and 1.0, draft-08): an axum [`Router`] to
//! mount inside any axum application, an in-process API for that
//! application (publish without HTTP, serve streams for topics it chooses,
//! close subscriptions when permissions change), and the standalone
//! `mercure-hub` binary.
//!
//! ```no_run
//! use mercure_hub::{EmbeddedHub, HubConfig, VerificationKey};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = EmbeddedHub::new(
//!     HubConfig::builder()
//!         .key(VerificationKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!")?)
//!         .anonymous(true)
//!         .build()?,
//! );
//! let app = axum::Router::new().merge(hub.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! mercure_hub::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! [`Router`]: axum::Router

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod auth;
mod chunk;
mod cluster;
mod config;
mod dispatch;
mod documents;
mod error;
mod event;
mod form;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod hub;
mod jwks;
mod key;
mod matcher;
mod metrics;
#[cfg(feature = "otlp")]
pub mod otlp;
mod outbox;
mod rate;
mod subscriber;
mod subscription;
mod template;
mod time;
mod transport;

pub use cluster::{Cluster, ClusterCommand, ClusterSubscriptions, Member, PresenceChange};
pub use config::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEAD_TIMEOUT, DEFAULT_HEARTBEAT, DEFAULT_HISTORY_SIZE,
    DEFAULT_HUB_URL, DEFAULT_MAX_BODY, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_MAX_TOPICS, DEFAULT_PUBLISH_RATE,
    DEFAULT_QUEUE_BYTES, DEFAULT_QUEUE_CAPACITY, DEFAULT_RATE_LIMIT_KEYS, DEFAULT_REPLAY_BYTES,
    DEFAULT_SUBSCRIBE_RATE, DialectSupport, HubConfig, HubConfigBuilder,
};
pub use error::{Error, Result};
pub use event::{Cursor, Event};
#[cfg(feature = "tls")]
pub use http::{TlsConfigSource, TlsError, serve_hub_tls};
pub use http::{serve, serve_hub, serve_with_shutdown};
pub use hub::EmbeddedHub;
pub use jwks::{
    DEFAULT_JWKS_MAX_AGE_BOUNDS, DEFAULT_JWKS_MAX_BYTES, DEFAULT_JWKS_MIN_INTERVAL,
    DEFAULT_JWKS_REFRESH, DEFAULT_JWKS_TIMEOUT, Jwks, JwksBuilder,
};
pub use key::VerificationKey;
pub use mercure_core::token::Algorithm;
pub use metrics::Metrics;
pub use rate::RateLimit;
pub use subscriber::{PrivateAccess, SubscribeRequest, SubscriptionInfo};
pub use subscription::Subscription;
#[cfg(feature = "durable")]
pub use transport::{DurableOptions, DurableTransport};
pub use transport::{Feed, MemoryTransport, Page, Transport, TransportError, TransportFuture};
#[cfg(feature = "redis")]
pub use transport::{RedisOptions, RedisTransport};

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<crate::EmbeddedHub>();
        assert_send_sync::<crate::Subscription>();
        assert_send_sync::<crate::HubConfig>();
        assert_send_sync::<crate::Error>();
        assert_send_sync::<crate::MemoryTransport>();
        assert_send_sync::<crate::Event>();
    }
}
