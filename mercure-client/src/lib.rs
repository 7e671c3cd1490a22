//! A client for the [Mercure](https://mercure.rocks) protocol: publish
//! updates to a hub and mint the JWTs that authorize publishers and
//! subscribers, in both dialects of the protocol (0.x, draft-07, and 1.0,
//! draft-08).
//!
//! ```no_run
//! use mercure_client::{Grants, Hub, ProtocolVersion, SigningKey, TokenFactory, Update};
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
//! # For web applications
//! Framework-neutral pieces that the `mercure-axum` and `mercure-actix`
//! adapters build on: [`AuthorizationCookie`] (the cookie a browser presents
//! to the hub, its `Domain` derived with the Public Suffix List) minted by
//! [`Authorization`] for one or several hubs, with a [`TopicAuthorizer`]
//! deciding what each subscriber may be granted; [`HubUrl`] (subscription
//! URLs in the hub's dialect); [`DiscoveryLink`] (the `Link: <hub>;
//! rel="mercure"` value) and [`is_cors_preflight`].
//!
//! # Features
//! - `rustls` (default) / `native-tls`: the TLS backend of the HTTP client.
//! - `rust-crypto` (default) / `aws-lc-rs`: the JWT signature backend.
//! - `minijinja`: `add_minijinja_functions` registers `mercure_hub_url` in templates.
//! - `askama`: `HubUrls`, subscription URLs for askama templates.

mod authorization;
mod authorizer;
mod body;
mod challenge;
mod clock;
mod cookie;
pub mod crypto;
mod discovery;
mod error;
mod event_id;
mod forwarded;
mod hub;
mod hub_url;
mod link;
mod preflight;
mod protocol;
mod publish_queue;
mod publisher;
mod registry;
mod selector;
mod subscriber;
mod subscriptions;
mod templates;
pub mod testing;
mod text;
mod token;
mod update;

pub use authorization::Authorization;
pub use authorizer::{AuthorizedGrants, FnTopicAuthorizer, TopicAuthorizer};
pub use challenge::BearerChallenge;
pub use clock::{Clock, ManualClock, SystemClock};
pub use cookie::{AuthorizationCookie, CookieError, CookieOptions, SameSite, cookie_domain};
pub use discovery::{
    Discovery, HubLink, LinkValue, ResourceMetadata, detect_protocol, discover,
    fetch_resource_metadata, metadata_url,
};
pub use error::{Error, HubRejection, Result};
pub use event_id::EventId;
pub use forwarded::{forwarded_host, forwarded_proto};
pub use hub::{DEFAULT_PUBLISH_TIMEOUT, Hub, HubBuilder};
pub use hub_url::{HubUrl, HubUrlError};
pub use jsonwebtoken::Algorithm;
pub use link::{DiscoveryLink, LinkError};
pub use preflight::is_cors_preflight;
pub use protocol::{Dialect, ProtocolVersion, UnknownProtocolVersion};
pub use publish_queue::{PublishQueue, PublishQueueBuilder, QueueError, QueueStats};
pub use publisher::Publisher;
pub use registry::HubRegistry;
pub use selector::{MatchType, TopicSelector};
pub use subscriber::{
    AuthorizationMethod, Connected, DEFAULT_INITIAL_DELAY, DEFAULT_MAX_DELAY,
    DEFAULT_MAX_EVENT_SIZE, DEFAULT_MIN_RETRY, DEFAULT_READ_TIMEOUT, DEFAULT_RESET_AFTER,
    EventTooLarge, EventsLost, ExponentialBackoff, ManualTimer, ReceivedUpdate, ReconnectReason,
    Reconnecting, RetryStrategy, SseDecoder, Subscriber, SubscriberBuilder, SubscriberEvent, Timer,
    TokioTimer,
};
pub use subscriptions::{
    ActiveSubscription, SubscriptionEvents, SubscriptionList, SubscriptionsApi,
};
#[cfg(feature = "askama")]
pub use templates::HubUrls;
#[cfg(feature = "minijinja")]
pub use templates::add_minijinja_functions;
pub use token::{
    AUTHORIZATION_DETAIL_TYPE, CachedTokenProvider, DEFAULT_REFRESH_MARGIN, DEFAULT_TOKEN_LIFETIME,
    FnTokenProvider, Grants, SigningKey, Token, TokenError, TokenFactory, TokenFactoryBuilder,
    TokenProvider,
};
pub use update::{Update, UpdateBuilder, UpdateError};

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<crate::Hub>();
        assert_send_sync::<crate::HubRegistry>();
        assert_send_sync::<crate::Update>();
        assert_send_sync::<crate::TokenFactory>();
        assert_send_sync::<crate::CachedTokenProvider>();
        assert_send_sync::<crate::Error>();
        assert_send_sync::<crate::testing::MockHub>();
        assert_send_sync::<crate::testing::RecordingHub>();
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
