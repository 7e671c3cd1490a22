//! Mercure for [actix-web](https://docs.rs/actix-web) applications: what a
//! view mixin gives Django or Flask handlers, in actix-web's idiom.
//!
//! * [`Mercure`]: the hubs, cookie settings and topic authorizer, registered
//!   as application data.
//! * [`MercureCookies`]: an extractor minting authorization cookies for the
//!   topics a page subscribes to, set with [`MercureResponseExt`] on the
//!   response builder.
//! * [`SetAuthorizationCookie`]: a middleware doing the same for every
//!   response of a scope or resource, with fixed topics or topics computed
//!   from the request.
//! * [`Discovery`]: a middleware adding the `Link: <hub>; rel="mercure"` header.
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use mercure_actix::{Discovery, Mercure, MercureCookies, MercureResponseExt};
//! use mercure_actix::client::{Grants, Hub, SigningKey, TokenFactory};
//!
//! async fn book(id: web::Path<u32>, cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
//!     let cookies = cookies.subscribe([format!("https://example.com/books/{id}")])?;
//!     Ok(HttpResponse::Ok().mercure_cookies(&cookies).body(format!("<h1>Book {id}</h1>")))
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
//! let app = App::new()
//!     .wrap(Discovery::new(&mercure))
//!     .app_data(web::Data::new(mercure))
//!     .route("/books/{id}", web::get().to(book));
//! ```
//!
//! # Features
//! - `minijinja`: [`Mercure::add_to_minijinja`] registers a `mercure_hub_url`
//!   function, so that a template writes `{{ mercure_hub_url(["/books/1"]) }}`.
//! - `askama`: [`Mercure::hub_urls`] gives a value to put in template
//!   structs: `{{ mercure.hub_url(["/books/1"])? }}`.
//! - `embedded-hub`: a hub of `mercure-hub` in the same process
//!   ([`Mercure::embedded`]), its routes served alongside: `ServerStream`
//!   serves streams of topics the server chooses, and
//!   [`Mercure::permission_changed`] closes the subscriptions of a
//!   subscriber who lost a permission.

mod cookie;
mod cookie_middleware;
mod cookies;
mod discovery;
mod error;
mod host;
mod response_ext;
mod state;
#[cfg(feature = "embedded-hub")]
mod stream;

pub use cookie::actix_cookie;
pub use cookie_middleware::{SetAuthorizationCookie, SetAuthorizationCookieMiddleware};
pub use cookies::MercureCookies;
pub use discovery::{Discovery, DiscoveryMiddleware};
pub use error::{Error, Result};
pub use mercure_client as client;
pub use response_ext::MercureResponseExt;
pub use state::Mercure;
#[cfg(feature = "embedded-hub")]
pub use stream::ServerStream;
