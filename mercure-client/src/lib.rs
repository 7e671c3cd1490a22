//! A client for the [Mercure](https://mercure.rocks) protocol: publish
//! updates to a hub, subscribe to it with a resilient stream, discover hubs
//! and query the subscriptions API, in both dialects of the protocol (0.x,
//! draft-07, and 1.0, draft-08).
//!
//! ```no_run
//! use mercure_client::token::{Grants, SigningKey, TokenFactory};
//! use mercure_client::{Hub, Update};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let factory = TokenFactory::builder(SigningKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!")?)
//!     .build()?;
//! let hub = Hub::builder("http://127.0.0.1:3000/.well-known/mercure")
//!     .token_factory(factory, Grants::publish_all())
//!     .build()?;
//! let update = Update::builder("https://example.com/books/1")
//!     .data(r#"{"status": "available"}"#)
//!     .build()?;
//! let id = hub.publish(&update).await?;
//! # let _ = id; Ok(()) }
//! ```
//!
//! The protocol's data types (updates, selectors, ids, tokens, the SSE
//! decoder) live in [`mercure_core`] and are re-exported here; web
//! application helpers (cookies, hub URLs for templates) are in
//! `mercure-web`.
//!
//! # Modules
//! - [`token`]: minting tokens and supplying them to requests.
//! - [`subscriber`]: what a [`Subscriber`] stream yields and how it reconnects.
//! - [`discovery`]: finding a resource's hub and the hub's dialect.
//! - [`subscriptions`]: the subscriptions API.
//! - [`publish`]: ordered background publishing ([`PublishQueue`](publish::PublishQueue)).
//! - [`http_client`]: the HTTP clients this crate builds: no `Referer`,
//!   redirects only within the hub's origin, so that no token or update
//!   reaches another origin.
//! - [`testing`]: test doubles for code that publishes.
//!
//! # Hostile hubs
//! Every byte from the network is bounded: answers ([`MAX_PUBLISH_ANSWER`],
//! [`HubRejection::MAX_MESSAGE`], [`HubRejection::MAX_CHALLENGE_FIELD`]),
//! events ([`subscriber::DEFAULT_MAX_EVENT_SIZE`]), event ids
//! ([`MAX_EVENT_ID_LEN`]), `Link` headers ([`discovery::MAX_LINK_BYTES`],
//! [`discovery::MAX_HUB_LINKS`]), waits (timeouts, discovery's overall
//! deadline, a capped `Retry-After`). Errors never contain a token, and
//! text from a hub is stripped of control characters before it reaches
//! one.
//!
//! # Features
//! - `rustls` (default) / `native-tls`: the TLS backend of the HTTP client.
//! - `rust-crypto` (default) / `aws-lc-rs`: the JWT signature backend.
//! - `embedded-hub`: [`Publisher`] for `mercure_hub::EmbeddedHub`.

mod body;
pub mod discovery;
#[cfg(feature = "embedded-hub")]
mod embedded;
mod error;
pub mod http_client;
mod hub;
mod provider;
pub mod publish;
mod publisher;
mod registry;
pub mod subscriber;
pub mod subscriptions;
pub mod testing;

pub use error::{Error, HubRejection, Result};
pub use hub::{DEFAULT_PUBLISH_TIMEOUT, Hub, HubBuilder, MAX_PUBLISH_ANSWER};

/// The longest event id this client takes from a hub: a publish answer
/// with a longer id is an [`Error::InvalidEventId`], and a subscriber does
/// not send back (in `Last-Event-ID`) an id longer than this: it resumes
/// from the last id that fit instead. 1 KiB (ids are usually URNs of about
/// 45 bytes).
pub const MAX_EVENT_ID_LEN: usize = 1024;
pub use mercure_core::{
    EventId, HubInfo, MatchType, ProtocolVersion, TopicSelector, Update, UpdateBuilder,
    UpdateError, clock, crypto, headers, sse,
};
pub use publisher::Publisher;
pub use registry::HubRegistry;
pub use subscriber::{Subscriber, SubscriberBuilder, SubscriberEvent};

/// Tokens: what they grant and minting them (from [`mercure_core::token`]),
/// and supplying them to requests ([`TokenProvider`]).
pub mod token {
    pub use crate::provider::{
        CachedTokenProvider, DEFAULT_REFRESH_MARGIN, FnTokenProvider, TokenFuture, TokenProvider,
    };
    pub use mercure_core::token::{
        AUTHORIZATION_DETAIL_TYPE, Algorithm, DEFAULT_TOKEN_LIFETIME, Grants, SigningKey, Token,
        TokenError, TokenFactory, TokenFactoryBuilder,
    };
}

// Short paths for this crate's own modules.
pub(crate) use mercure_core::headers::BearerChallenge;
pub(crate) use mercure_core::token::{Grants, Token, TokenError, TokenFactory};
pub(crate) use provider::{CachedTokenProvider, TokenProvider};

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<crate::Hub>();
        assert_send_sync::<crate::HubRegistry>();
        assert_send_sync::<crate::Update>();
        assert_send_sync::<crate::token::TokenFactory>();
        assert_send_sync::<crate::token::CachedTokenProvider>();
        assert_send_sync::<crate::Error>();
        assert_send_sync::<crate::testing::MockHub>();
        assert_send_sync::<crate::testing::RecordingHub>();
    }
}
