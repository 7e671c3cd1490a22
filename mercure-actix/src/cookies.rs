//! Authorization cookies for a handler's response.

use std::future::{Ready, ready};
use std::ops::{Deref, DerefMut};

use actix_web::dev::Payload;
use actix_web::http::header::{ACCESS_CONTROL_REQUEST_METHOD, HeaderMap, HeaderValue};
use actix_web::http::{Method, Uri, uri::Authority};
use actix_web::{FromRequest, HttpRequest};
use mercure_web::{CookieJar, MercureState, RequestOrigin, WebError};

use crate::{Error, Mercure};

/// Authorization cookies to set on a response.
///
/// Extract it, add the grants the page needs through the [`CookieJar`] it
/// dereferences to, and put it on the response with
/// [`MercureResponseExt::mercure_cookies`](crate::MercureResponseExt::mercure_cookies).
/// Each cookie carries a token minted for a hub with the topics the page
/// subscribes to, shaped for the host the request was addressed to, as the
/// [`Mercure`] registered as application data and its topic authorizer
/// allow.
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use mercure_actix::{MercureCookies, MercureResponseExt};
///
/// async fn book(id: web::Path<u32>, mut cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
///     cookies.subscribe([format!("https://example.com/books/{id}")])?;
///     Ok(HttpResponse::Ok().mercure_cookies(&cookies).body(format!("<h1>Book {id}</h1>")))
/// }
///
/// async fn logout(mut cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
///     cookies.clear()?;
///     Ok(HttpResponse::Ok().mercure_cookies(&cookies).body("bye"))
/// }
/// ```
///
/// # A hub on another origin
/// The browser sends the cookie to a hub on another port or host of the
/// same site (as an embedded hub served alongside) only for
/// `new EventSource(url, { withCredentials: true })`, and lets the page
/// read the stream only when the hub's CORS allowlist names the page's
/// origin: [`Mercure::embedded_alongside`] allows the application's, a
/// standalone hub needs it configured (`cors_origins` of Caddy's).
#[derive(Debug, Clone)]
#[must_use = "the cookies are only set when added to the response"]
pub struct MercureCookies(CookieJar);

impl FromRequest for MercureCookies {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Mercure::of(request).map(|mercure| Self::for_request(request, mercure)))
    }
}

impl MercureCookies {
    /// Cookies for `request` (for middleware and custom extractors).
    pub fn for_request(request: &HttpRequest, mercure: &MercureState) -> Self {
        Self(mercure.cookie_jar_for(&request_origin(request.headers(), request.uri())))
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
    let requested = headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    mercure_web::is_cors_preflight(method.as_str(), requested)
}
