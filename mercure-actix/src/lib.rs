//! Mercure for [actix-web](https://docs.rs/actix-web) applications: what a
//! view mixin gives Django or Flask handlers, in actix-web's idiom. Thin
//! glue over [`mercure_web`] ([`web`](mod@web)) and [`mercure_client`] ([`client`]).
//!
//! * [`Mercure`]: the hubs, cookie settings and topic authorizer,
//!   registered as application data; `mercure.hub()` publishes.
//! * [`MercureCookies`]: an extractor minting authorization cookies for the
//!   topics a page subscribes to, set with [`MercureResponseExt`].
//! * [`AuthorizationCookieLayer`]: a middleware doing the same on every
//!   response of a scope or resource.
//! * [`DiscoveryLayer`]: a middleware adding `Link: <hub>; rel="mercure"`.
//! * `ServerStream` (feature `embedded-hub`): streams of topics the server
//!   chooses, from a hub embedded in the process.
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use mercure_actix::client::{Hub, token::{Grants, SigningKey, TokenFactory}};
//! use mercure_actix::{DiscoveryLayer, Mercure, MercureCookies, MercureResponseExt};
//!
//! async fn book(id: web::Path<u32>, mut cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
//!     cookies.subscribe([format!("https://example.com/books/{id}")])?;
//!     Ok(HttpResponse::Ok().mercure_cookies(&cookies).body(format!("<h1>Book {id}</h1>")))
//! }
//!
//! let factory = TokenFactory::builder(SigningKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!").unwrap());
//! let hub = Hub::builder("http://mercure:3000/.well-known/mercure")
//!     .public_url("https://example.com/.well-known/mercure")
//!     .token_factory(factory.build().unwrap(), Grants::publish_all())
//!     .build()
//!     .unwrap();
//! let mercure = Mercure::new(hub);
//! let app = App::new()
//!     .wrap(DiscoveryLayer::new(&mercure))
//!     .app_data(web::Data::new(mercure))
//!     .route("/books/{id}", web::get().to(book));
//! ```
//!
//! # Features
//! - `rustls` (default) / `native-tls`, `rust-crypto` (default) /
//!   `aws-lc-rs`: the client's TLS and JWT backends.
//! - `minijinja`, `askama`: the template helpers of [`MercureState`](mercure_web::MercureState).
//! - `embedded-hub`: a hub of `mercure-hub` (re-exported as `hub`) in the
//!   process, served alongside (`Mercure::embedded_alongside`), for
//!   `ServerStream` and `permission_changed`.

mod cookies;
mod error;
mod layers;
mod response_ext;
mod state;
#[cfg(feature = "embedded-hub")]
mod stream;

pub use cookies::MercureCookies;
pub use error::{Error, Result};
pub use layers::{AuthorizationCookieLayer, DiscoveryLayer, MercureMiddleware};
pub use mercure_client as client;
#[cfg(feature = "embedded-hub")]
pub use mercure_hub as hub;
pub use mercure_web as web;
pub use response_ext::MercureResponseExt;
pub use state::Mercure;
#[cfg(feature = "embedded-hub")]
pub use stream::ServerStream;
