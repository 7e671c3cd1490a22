//! Authorization cookies and the discovery link on a handler's response.

use std::future::{Ready, ready};
use std::ops::{Deref, DerefMut};

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, Uri, uri::Authority};
use actix_web::{FromRequest, HttpRequest, HttpResponseBuilder};
use mercure_web::{CookieJar, DiscoveryLink, RequestOrigin, WebError};

use crate::{Error, Mercure};

/// Authorization cookies to set on a response: extract it, add the grants
/// the page needs through the [`CookieJar`] it dereferences to, and set it
/// with [`MercureResponseExt::mercure_cookies`]. Each cookie carries a
/// token for a hub with the topics the page subscribes to, shaped for the
/// host the request was addressed to, as the [`Mercure`] of the
/// application data and its topic authorizer allow.
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use mercure_actix::{Mercure, MercureCookies, MercureResponseExt};
///
/// async fn book(id: web::Path<u32>, mercure: web::Data<Mercure>, mut cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
///     cookies.subscribe([format!("https://example.com/books/{id}")])?;
///     let mut response = HttpResponse::Ok();
///     response.mercure_cookies(&cookies).mercure_link(&mercure.discovery_link());
///     Ok(response.body(format!("<h1>Book {id}</h1>")))
/// }
/// ```
///
/// # A hub on another origin
/// The browser sends the cookie to a hub on another port or host of the
/// site (an embedded hub served alongside) only for
/// `new EventSource(url, { withCredentials: true })`, and shows the page
/// the stream only if the hub's CORS allowlist names the page's origin:
/// [`Mercure::embedded_alongside`] allows the application's; configure a
/// standalone hub yourself (`--cors-origins` of `mercure-hub`,
/// `cors_origins` of the official hub).
#[derive(Debug, Clone)]
#[must_use = "the cookies are only set when added to the response"]
pub struct MercureCookies(CookieJar);

impl FromRequest for MercureCookies {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let origin = request_origin(request.headers(), request.uri());
        ready(Mercure::of(request).map(|mercure| Self(mercure.cookie_jar_for(&origin))))
    }
}

impl Deref for MercureCookies {
    type Target = CookieJar;

    fn deref(&self) -> &CookieJar {
        &self.0
    }
}

impl DerefMut for MercureCookies {
    fn deref_mut(&mut self) -> &mut CookieJar {
        &mut self.0
    }
}

/// Adds Mercure's headers to an [`HttpResponseBuilder`] (see
/// [`MercureCookies`]).
pub trait MercureResponseExt {
    /// Sets the cookies of `cookies` (`Set-Cookie` headers marked sensitive).
    fn mercure_cookies(&mut self, cookies: &CookieJar) -> &mut Self;

    /// Appends the discovery `Link` header.
    fn mercure_link(&mut self, link: &DiscoveryLink) -> &mut Self;
}

impl MercureResponseExt for HttpResponseBuilder {
    fn mercure_cookies(&mut self, cookies: &CookieJar) -> &mut Self {
        for value in cookies.set_cookie_headers() {
            // A value the builder refuses too makes the response an error.
            match sensitive(&value) {
                Ok(header) => self.append_header((header::SET_COOKIE, header)),
                Err(_) => self.append_header((header::SET_COOKIE, value)),
            };
        }
        self
    }

    fn mercure_link(&mut self, link: &DiscoveryLink) -> &mut Self {
        self.append_header((header::LINK, link.header_value()))
    }
}

/// A `Set-Cookie` header value, marked sensitive.
pub(crate) fn sensitive(value: &str) -> Result<HeaderValue, Error> {
    let invalid = |_| WebError::InvalidHeaderValue("Set-Cookie");
    let mut value = HeaderValue::from_str(value).map_err(invalid)?;
    value.set_sensitive(true);
    Ok(value)
}

/// Where the request was addressed, as `mercure-web` reads it.
pub(crate) fn request_origin<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> RequestOrigin<'a> {
    let header = |name: &str| headers.get(name).map(HeaderValue::as_bytes);
    RequestOrigin::new(
        header,
        uri.scheme_str(),
        uri.authority().map(Authority::as_str),
    )
}

/// Whether the request is a CORS preflight.
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    let requested = headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    mercure_web::is_cors_preflight(method.as_str(), requested)
}
