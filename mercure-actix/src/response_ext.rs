//! Mercure headers on actix-web's response builder.

use actix_web::HttpResponseBuilder;
use actix_web::http::header::{LINK, SET_COOKIE};
use mercure_web::{CookieJar, DiscoveryLink};

use crate::cookies::sensitive;

/// Adds Mercure's headers to an [`HttpResponseBuilder`] (see
/// [`MercureCookies`](crate::MercureCookies) for cookies).
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use mercure_actix::{Mercure, MercureResponseExt};
///
/// async fn book(mercure: web::Data<Mercure>) -> HttpResponse {
///     HttpResponse::Ok().mercure_link(&mercure.discovery_link()).body("a book")
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
        for value in cookies.set_cookie_headers() {
            // A value the builder refuses too makes the response an error.
            match sensitive(&value) {
                Ok(header) => self.append_header((SET_COOKIE, header)),
                Err(_) => self.append_header((SET_COOKIE, value)),
            };
        }
        self
    }

    fn mercure_link(&mut self, link: &DiscoveryLink) -> &mut Self {
        self.append_header((LINK, link.header_value()))
    }
}
