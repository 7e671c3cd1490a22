//! Framework-neutral [Mercure](https://mercure.rocks) helpers for web
//! applications: what a Django or Flask view mixin does for a handler,
//! without a framework type in sight. `mercure-axum` and `mercure-actix`
//! are thin glue over this crate.
//!
//! * [`Authorization`] mints the [`AuthorizationCookie`] a browser presents
//!   to the hub (its `Domain` derived with the Public Suffix List, `Secure`,
//!   `SameSite` and `Path` from the hub's URL), for one or several hubs,
//!   with a [`TopicAuthorizer`] deciding what each subscriber may be granted.
//! * [`HubUrl`]: subscription URLs in the hub's dialect, for pages and
//!   templates ([`templates`]).
//! * [`DiscoveryLink`]: the `Link: <hub>; rel="mercure"` value, and
//!   [`is_cors_preflight`] to skip preflights.
//! * [`RequestOrigin`]: the host and scheme a request addressed, behind a
//!   proxy or not.
//! * [`MercureState`]: everything an adapter keeps in application state,
//!   with the logic both adapters share (cookies per request,
//!   server-selected streams and permission changes on an embedded hub).
//!
//! A hub is described by a [`HubInfo`] (its URLs, dialect and token
//! factory); the client's `Hub` gives one with `Hub::info()`.
//!
//! ```
//! use mercure_web::{Authorization, HubInfo};
//! use mercure_web::token::{Grants, SigningKey, TokenFactory};
//!
//! let factory = TokenFactory::builder(SigningKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!").unwrap())
//!     .build()
//!     .unwrap();
//! let hub = HubInfo::parse("https://example.com/.well-known/mercure")
//!     .unwrap()
//!     .with_token_factory(factory);
//! let cookie = Authorization::for_hub(hub)
//!     .cookie("example.com", &Grants::new().subscribe(["https://example.com/books/1"]))
//!     .unwrap();
//! assert!(cookie.set_cookie_header().starts_with("mercureAuthorization="));
//! ```
//!
//! # Features
//! - `minijinja`: [`templates::add_minijinja_functions`] registers
//!   `mercure_hub_url` in templates.
//! - `askama`: [`templates::HubUrls`], subscription URLs for askama templates.
//! - `embedded-hub`: [`MercureState`] drives a hub of `mercure-hub`
//!   embedded in the application.

mod authorization;
mod authorizer;
mod cookie;
mod hub_url;
mod link;
mod preflight;
mod request;
mod state;
pub mod templates;

pub use authorization::Authorization;
pub use authorizer::{AuthorizedGrants, FnTopicAuthorizer, TopicAuthorizer};
pub use cookie::{AuthorizationCookie, CookieError, CookieOptions, SameSite, cookie_domain};
pub use hub_url::{HubUrl, HubUrlError};
pub use link::{DiscoveryLink, LinkError};
pub use mercure_core::{EventId, HubInfo, ProtocolVersion, TopicSelector, token};
pub use preflight::is_cors_preflight;
pub use request::RequestOrigin;
pub use state::{CookieJar, MercureState, WebError};

/// The hubs of an application by name: [`mercure_core::HubRegistry`]
/// holding [`HubInfo`]s.
pub type HubRegistry = mercure_core::HubRegistry<HubInfo>;

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<crate::Authorization>();
        assert_send_sync::<crate::HubUrl>();
        assert_send_sync::<crate::DiscoveryLink>();
        assert_send_sync::<crate::MercureState>();
    }
}
