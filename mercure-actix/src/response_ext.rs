//! Mercure headers on actix-web's response builder.

use actix_web::HttpResponseBuilder;
use actix_web::http::header::LINK;
use mercure_client::{AuthorizationCookie, DiscoveryLink};

use crate::{MercureCookies, actix_cookie};

/// Adds Mercure's headers to an [`HttpResponseBuilder`].
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use mercure_actix::{Mercure, MercureCookies, MercureResponseExt};
///
/// async fn book(mercure: web::Data<Mercure>, cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
///     let cookies = cookies.subscribe(["https://example.com/books/1"])?;
///     Ok(HttpResponse::Ok()
///         .mercure_cookies(&cookies)
///         .mercure_link(&mercure.discovery_link())
///         .body("a book"))
/// }
/// ```
pub trait MercureResponseExt {
    /// Sets every cookie of `cookies`.
    fn mercure_cookies(&mut self, cookies: &MercureCookies) -> &mut Self;

    /// Sets one authorization cookie.
    fn mercure_cookie(&mut self, cookie: &AuthorizationCookie) -> &mut Self;

    /// Appends the discovery `Link` header.
    fn mercure_link(&mut self, link: &DiscoveryLink) -> &mut Self;
}

impl MercureResponseExt for HttpResponseBuilder {
    fn mercure_cookies(&mut self, cookies: &MercureCookies) -> &mut Self {
        for cookie in cookies.cookies() {
            self.mercure_cookie(cookie);
        }
        self
    }

    fn mercure_cookie(&mut self, cookie: &AuthorizationCookie) -> &mut Self {
        self.cookie(actix_cookie(cookie))
    }

    fn mercure_link(&mut self, link: &DiscoveryLink) -> &mut Self {
        self.append_header((LINK, link.header_value()))
    }
}
