//! Mercure for [actix-web](https://docs.rs/actix-web) applications: what a
//! view mixin gives Django or Flask handlers, in actix-web's idiom. Thin
//! glue over [`mercure_web`] ([`web`](mod@web)) and [`mercure_client`] ([`client`]).
//!
//! * [`Mercure`]: the hubs, cookie settings and topic authorizer, as
//!   application data; `mercure.hub()` publishes.
//! * [`MercureCookies`]: an extractor minting authorization cookies for the
//!   topics a page subscribes to, set with [`MercureResponseExt`].
//! * [`AuthorizationCookieLayer`]: a middleware setting them on every
//!   response of a scope or resource.
//! * [`DiscoveryLayer`]: a middleware adding `Link: <hub>; rel="mercure"`.
//! * `ServerStream` (feature `embedded-hub`): streams of topics the server
//!   chooses, from a hub embedded in the process.
//!
//! ```
//! use actix_web::{App, web};
//! use mercure_actix::{AuthorizationCookieLayer, DiscoveryLayer, Mercure, client::Hub};
//!
//! // `.token_factory(...)` to mint tokens, `.public_url(...)` behind a proxy.
//! let mercure = Mercure::new(Hub::builder("https://example.com/.well-known/mercure").build().unwrap());
//! let books = web::resource("/books").wrap(AuthorizationCookieLayer::subscribe(mercure.clone(), ["/books"]));
//! let app = App::new().wrap(DiscoveryLayer::new(&mercure)).app_data(web::Data::new(mercure));
//! let app = app.service(books.to(|| async { "books" }));
//! ```
//!
//! # Features
//! `rustls` (default) or `native-tls`, `rust-crypto` (default) or
//! `aws-lc-rs`: the client's backends. `minijinja`, `askama`: the template
//! helpers of [`MercureState`](mercure_web::MercureState). `embedded-hub`: a
//! hub of `mercure-hub` (re-exported as `hub`) in the process
//! (`Mercure::embedded_alongside`), for `ServerStream` and `permission_changed`.

mod cookies;
mod error;
mod layers;
mod state;
#[cfg(feature = "embedded-hub")]
mod stream;

pub use cookies::{MercureCookies, MercureResponseExt};
pub use error::{Error, Result};
pub use layers::{AuthorizationCookieLayer, DiscoveryLayer, MercureMiddleware};
pub use mercure_client as client;
#[cfg(feature = "embedded-hub")]
pub use mercure_hub as hub;
pub use mercure_web as web;
pub use state::Mercure;
#[cfg(feature = "embedded-hub")]
pub use stream::ServerStream;
