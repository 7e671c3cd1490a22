//! Mercure for [axum](https://docs.rs/axum) applications: what a view mixin
//! gives Django or Flask handlers, in axum's idiom.
//!
//! * [`Mercure`]: the hubs, cookie settings and topic authorizer, held in
//!   the application state (handlers can extract `State<Hub>` or
//!   `State<HubRegistry>` from it).
//! * [`MercureCookies`]: an extractor and response part that sets the
//!   authorization cookie for the topics a page subscribes to.
//! * [`AuthorizationCookieLayer`]: the same for every response of a route,
//!   with fixed topics or topics computed from the request.
//! * [`DiscoveryLayer`]: the `Link: <hub>; rel="mercure"` header.
//!
//! ```
//! use axum::{Router, extract::Path, response::Html, routing::get};
//! use mercure_axum::{DiscoveryLayer, Mercure, MercureCookies};
//! use mercure_axum::client::{Grants, Hub, SigningKey, TokenFactory};
//!
//! async fn book(Path(id): Path<u32>, cookies: MercureCookies) -> mercure_axum::Result<(MercureCookies, Html<String>)> {
//!     let topic = format!("https://example.com/books/{id}");
//!     let cookies = cookies.subscribe([topic.as_str()])?;
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
//! - `minijinja`: [`Mercure::add_to_minijinja`] registers a `mercure_hub_url`
//!   function, so that a template writes `{{ mercure_hub_url(["/books/1"]) }}`.
//! - `askama`: [`Mercure::hub_urls`] gives a value to put in template
//!   structs: `{{ mercure.hub_url(["/books/1"])? }}`.
//! - `embedded-hub`: a hub of `mercure-hub` embedded in the application
//!   ([`Mercure::embedded`]): `ServerStream` serves streams of topics the
//!   server chooses, and [`Mercure::permission_changed`] closes the
//!   subscriptions of a subscriber who lost a permission.

mod cookie_layer;
mod cookies;
mod discovery;
mod error;
mod host;
mod state;
#[cfg(feature = "embedded-hub")]
mod stream;

pub use cookie_layer::{AuthorizationCookieLayer, AuthorizationCookieService};
pub use cookies::MercureCookies;
pub use discovery::{Discovery, DiscoveryLayer};
pub use error::{Error, Result};
pub use mercure_client as client;
pub use state::Mercure;
#[cfg(feature = "embedded-hub")]
pub use stream::ServerStream;
