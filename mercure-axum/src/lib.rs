//! Mercure for [axum](https://docs.rs/axum) applications: what a view mixin
//! gives Django or Flask handlers, in axum's idiom. Thin glue over
//! [`mercure_web`] (re-exported as [`web`]) and [`mercure_client`]
//! (re-exported as [`client`]).
//!
//! * [`Mercure`]: the hubs (their clients, to publish), cookie settings and
//!   topic authorizer, held in the application state; handlers can extract
//!   `State<Hub>` or `State<HubRegistry>` from it.
//! * [`MercureCookies`]: an extractor and response part setting the
//!   authorization cookie for the topics a page subscribes to.
//! * [`AuthorizationCookieLayer`]: the same for every response of a route,
//!   with fixed topics or topics computed from the request.
//! * [`DiscoveryLayer`]: the `Link: <hub>; rel="mercure"` header.
//! * `ServerStream` (feature `embedded-hub`): streams of topics the server
//!   chooses, from a hub embedded in the application.
//!
//! ```
//! use axum::{Router, extract::Path, response::Html, routing::get};
//! use mercure_axum::{DiscoveryLayer, Mercure, MercureCookies};
//! use mercure_axum::client::Hub;
//! use mercure_axum::client::token::{Grants, SigningKey, TokenFactory};
//!
//! async fn book(Path(id): Path<u32>, mut cookies: MercureCookies) -> mercure_axum::Result<(MercureCookies, Html<String>)> {
//!     cookies.subscribe([format!("https://example.com/books/{id}")])?;
//!     Ok((cookies, Html(format!("<h1>Book {id}</h1>"))))
//! }
//!
//! let factory = TokenFactory::builder(SigningKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!").unwrap())
//!     .build()
//!     .unwrap();
//! let hub = Hub::builder("http://mercure:3000/.well-known/mercure")
//!     .public_url("https://example.com/.well-known/mercure")
//!     .token_factory(factory, Grants::publish_all())
//!     .build()
//!     .unwrap();
//! let mercure = Mercure::new(hub);
//! let app: Router = Router::new()
//!     .route("/books/{id}", get(book))
//!     .layer(DiscoveryLayer::new(&mercure))
//!     .with_state(mercure);
//! ```
//!
//! # Features
//! - `rustls` (default) / `native-tls`, `rust-crypto` (default) /
//!   `aws-lc-rs`: the client's TLS and JWT backends.
//! - `minijinja`, `askama`: [`MercureState::add_to_minijinja`] and
//!   [`MercureState::hub_urls`], reached through [`Mercure`].
//! - `embedded-hub`: a hub of `mercure-hub` (re-exported as `hub`) embedded
//!   in the application (`Mercure::embedded`): `ServerStream`, and
//!   `permission_changed` closing the subscriptions of a subscriber who
//!   lost a permission.
//!
//! [`MercureState::add_to_minijinja`]: mercure_web::MercureState
//! [`MercureState::hub_urls`]: mercure_web::MercureState

mod cookie_layer;
mod cookies;
mod discovery;
mod error;
mod state;
#[cfg(feature = "embedded-hub")]
mod stream;

pub use cookie_layer::{AuthorizationCookieLayer, AuthorizationCookieService};
pub use cookies::MercureCookies;
pub use discovery::{DiscoveryLayer, DiscoveryService};
pub use error::{Error, Result};
pub use mercure_client as client;
#[cfg(feature = "embedded-hub")]
pub use mercure_hub as hub;
pub use mercure_web as web;
pub use state::Mercure;
#[cfg(feature = "embedded-hub")]
pub use stream::ServerStream;
