//! Authorization cookies as an extractor and a response part.

use std::convert::Infallible;
use std::ops::{Deref, DerefMut};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{ACCESS_CONTROL_REQUEST_METHOD, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, uri::Authority};
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use mercure_web::{CookieJar, RequestOrigin, WebError};

use crate::{Error, Mercure};

/// Sets Mercure authorization cookies on a response: extract it, add the
/// grants the page needs through the [`CookieJar`] it dereferences to, and
/// return it as part of the response. Each cookie carries a token for a hub
/// with the topics the page subscribes to, shaped for the host the request
/// was addressed to, as the state's [`Mercure`] and its topic authorizer
/// allow. `Set-Cookie` headers are marked sensitive.
///
/// ```
/// use axum::{Router, extract::Path, response::Html, routing::get};
/// use mercure_axum::{Mercure, MercureCookies};
///
/// async fn book(Path(id): Path<u32>, mut cookies: MercureCookies) -> mercure_axum::Result<(MercureCookies, Html<String>)> {
///     cookies.subscribe([format!("https://example.com/books/{id}")])?;
///     Ok((cookies, Html(format!("<h1>Book {id}</h1>"))))
/// }
///
/// # fn app(mercure: Mercure) -> Router {
/// Router::new().route("/books/{id}", get(book)).with_state(mercure)
/// # }
/// ```
///
/// # A hub on another origin
/// A browser sends the cookie to a hub on another port or host of the same
/// site only for `new EventSource(url, { withCredentials: true })`, and
/// lets the page read the stream only when the hub's CORS allowlist names
/// the page's origin (`HubConfigBuilder::cors_origin` of an embedded hub,
/// `--cors-origins` of `mercure-hub`, `cors_origins` of the official hub).
/// A hub merged into the application's router needs neither.
#[derive(Debug, Clone)]
#[must_use = "the cookies are only set when returned as part of the response"]
pub struct MercureCookies(CookieJar);

impl<S: Send + Sync> FromRequestParts<S> for MercureCookies
where
    Mercure: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        Ok(Self(
            Mercure::from_ref(state).cookie_jar_for(&request_origin(parts)),
        ))
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

impl IntoResponseParts for MercureCookies {
    type Error = Error;

    fn into_response_parts(self, mut parts: ResponseParts) -> Result<ResponseParts, Error> {
        append_cookies(parts.headers_mut(), &self.0)?;
        Ok(parts)
    }
}

impl IntoResponse for MercureCookies {
    fn into_response(self) -> Response {
        (self, ()).into_response()
    }
}

/// Appends the `Set-Cookie` headers of `jar`, marked sensitive.
pub(crate) fn append_cookies(headers: &mut HeaderMap, jar: &CookieJar) -> Result<(), Error> {
    for value in jar.set_cookie_headers() {
        let value = HeaderValue::try_from(value);
        let mut value = value.map_err(|_| WebError::InvalidHeaderValue("Set-Cookie"))?;
        value.set_sensitive(true);
        headers.append(SET_COOKIE, value);
    }
    Ok(())
}

/// Where the request was addressed, as `mercure-web` reads it.
pub(crate) fn request_origin(parts: &Parts) -> RequestOrigin<'_> {
    let header = |name: &str| parts.headers.get(name).map(HeaderValue::as_bytes);
    RequestOrigin::new(
        header,
        parts.uri.scheme_str(),
        parts.uri.authority().map(Authority::as_str),
    )
}

/// Whether the request is a CORS preflight.
pub(crate) fn is_preflight(parts: &Parts) -> bool {
    let requested = parts.headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    mercure_web::is_cors_preflight(parts.method.as_str(), requested)
}
