//! Mercure headers on actix-web's response builder.

use actix_web::HttpResponseBuilder;
use actix_web::http::header::{LINK, SET_COOKIE};
use mercure_web::{CookieJar, DiscoveryLink};

use crate::cookies::set_cookies;

/// Adds Mercure's headers to an [`HttpResponseBuilder`].
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use mercure_actix::{Mercure, MercureCookies, MercureResponseExt};
///
/// async fn book(mercure: web::Data<Mercure>, mut cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
///     cookies.subscribe(["https://example.com/books/1"])?;
///     Ok(HttpResponse::Ok()
///         .mercure_cookies(&cookies)
///         .mercure_link(&mercure.discovery_link())
///         .body("a book"))
/// }
/// ```
pub trait MercureResponseExt {
    /// Sets every cookie of `cookies` (`Set-Cookie` headers marked sensitive).
    fn mercure_cookies(&mut self, cookies: &CookieJar) -> &mut Self;

    /// Appends the discovery `Link` header.
    fn mercure_link(&mut self, link: &DiscoveryLink) -> &mut Self;
}

impl MercureResponseExt for HttpResponseBuilder {
    fn mercure_cookies(&mut self, cookies: &CookieJar) -> &mut Self {
        for value in set_cookies(cookies) {
            // A value the builder refuses turns the response into an error.
            match value {
                Ok(value) => self.append_header((SET_COOKIE, value)),
                Err(value) => self.append_header((SET_COOKIE, value)),
            };
        }
        self
    }

    fn mercure_link(&mut self, link: &DiscoveryLink) -> &mut Self {
        self.append_header((LINK, link.header_value()))
    }
}
