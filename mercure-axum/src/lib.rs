//! Mercure for [axum](https://docs.rs/axum) applications: what a view mixin
//! gives Django or Flask handlers, in axum's idiom. Thin glue over
//! [`mercure_web`] ([`web`]) and [`mercure_client`] ([`client`]).
//!
//! * [`Mercure`]: the hubs, cookie settings and topic authorizer, in the
//!   application state; handlers extract `State<Hub>` to publish.
//! * [`MercureCookies`]: an extractor and response part setting the
//!   authorization cookie for the topics a page subscribes to.
//! * [`AuthorizationCookieLayer`]: the same on every response of a route.
//! * [`DiscoveryLayer`]: the `Link: <hub>; rel="mercure"` header.
//! * `ServerStream` (feature `embedded-hub`): streams of topics the server
//!   chooses, from a hub embedded in the application.
//!
//! ```
//! use axum::{Router, routing::get};
//! use mercure_axum::{AuthorizationCookieLayer, DiscoveryLayer, Mercure, client::Hub};
//!
//! // `.token_factory(...)` to mint tokens, `.public_url(...)` behind a proxy.
//! let mercure = Mercure::new(Hub::builder("https://example.com/.well-known/mercure").build().unwrap());
//! let app: Router = Router::new()
//!     .route("/books", get(|| async { "books" }))
//!     .layer(AuthorizationCookieLayer::subscribe(mercure.clone(), ["https://example.com/books"]))
//!     .layer(DiscoveryLayer::new(&mercure))
//!     .with_state(mercure);
//! ```
//!
//! # Features
//! - `rustls` (default) / `native-tls`, `rust-crypto` (default) /
//!   `aws-lc-rs`: the client's TLS and JWT backends.
//! - `minijinja`, `askama`: the template helpers of [`MercureState`](web::MercureState).
//! - `embedded-hub`: a hub of `mercure-hub` (re-exported as `hub`) in the
//!   application (`Mercure::embedded`), for `ServerStream` and
//!   `permission_changed`.

mod cookies;
mod error;
mod layers;
mod state;
#[cfg(feature = "embedded-hub")]
mod stream;

pub use cookies::MercureCookies;
pub use error::{Error, Result};
pub use layers::{AuthorizationCookieLayer, DiscoveryLayer, MercureService};
pub use mercure_client as client;
#[cfg(feature = "embedded-hub")]
pub use mercure_hub as hub;
pub use mercure_web as web;
pub use state::Mercure;
#[cfg(feature = "embedded-hub")]
pub use stream::ServerStream;
