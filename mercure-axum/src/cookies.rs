//! Authorization cookies as an extractor and a response part.

use std::convert::Infallible;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use mercure_client::{AuthorizationCookie, Grants, TopicSelector};

use crate::host::request_origin;
use crate::{Error, Mercure};

/// Sets Mercure authorization cookies on a response.
///
/// Extract it in a handler, add the grants the page needs and return it as
/// part of the response, like `axum-extra`'s cookie jar: the cookie carries a
/// token minted for the hub with the topics the page subscribes to, shaped
/// for the host the request was addressed to (see
/// [`AuthorizationCookie`]). The application state must provide a
/// [`Mercure`] (through [`FromRef`]); its topic authorizer, if any, is
/// consulted.
///
/// ```
/// use axum::{Router, extract::Path, response::Html, routing::get};
/// use mercure_axum::{Mercure, MercureCookies};
///
/// async fn book(Path(id): Path<u32>, cookies: MercureCookies) -> mercure_axum::Result<(MercureCookies, Html<String>)> {
///     let cookies = cookies.subscribe([format!("https://example.com/books/{id}")])?;
///     Ok((cookies, Html(format!("<h1>Book {id}</h1>"))))
/// }
///
/// # fn app(mercure: Mercure) -> Router {
/// Router::new().route("/books/{id}", get(book)).with_state(mercure)
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "the cookies are only set when returned as part of the response"]
pub struct MercureCookies {
    mercure: Mercure,
    host: Result<String, HostProblem>,
    cookies: Vec<AuthorizationCookie>,
}

#[derive(Debug, Clone, Copy)]
enum HostProblem {
    Missing,
    Invalid,
}

impl<S> FromRequestParts<S> for MercureCookies
where
    Mercure: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts, Mercure::from_ref(state)))
    }
}

impl MercureCookies {
    /// Cookies for a request described by `parts` (for middleware and
    /// custom extractors).
    pub fn from_parts(parts: &Parts, mercure: Mercure) -> Self {
        let host = match request_origin(parts, mercure.trusts_forwarded_host()) {
            Ok(host) => Ok(host),
            Err(Error::MissingHost) => Err(HostProblem::Missing),
            Err(_) => Err(HostProblem::Invalid),
        };
        Self {
            mercure,
            host,
            cookies: Vec::new(),
        }
    }

    fn host(&self) -> Result<&str, Error> {
        match &self.host {
            Ok(host) => Ok(host),
            Err(HostProblem::Missing) => Err(Error::MissingHost),
            Err(HostProblem::Invalid) => Err(Error::InvalidHost),
        }
    }

    /// Adds a cookie for the default hub whose token lets the browser
    /// receive the private updates of `topics`.
    ///
    /// # Errors
    /// [`Error::MissingHost`], [`Error::Cookie`].
    pub fn subscribe<I, T>(self, topics: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicSelector>,
    {
        self.authorize(&Grants::new().subscribe(topics))
    }

    /// Adds a cookie for the default hub carrying `grants` (subscribe and
    /// publish selectors, payload, subject).
    ///
    /// # Errors
    /// [`Error::MissingHost`], [`Error::Cookie`].
    pub fn authorize(mut self, grants: &Grants) -> Result<Self, Error> {
        let cookie = self.mercure.authorization().cookie(self.host()?, grants)?;
        self.cookies.push(cookie);
        Ok(self)
    }

    /// Adds a cookie for the hub registered as `hub`.
    ///
    /// # Errors
    /// [`Error::MissingHost`], [`Error::Cookie`] (also for an unknown hub).
    pub fn authorize_hub(mut self, hub: &str, grants: &Grants) -> Result<Self, Error> {
        let cookie = self
            .mercure
            .authorization()
            .cookie_for(hub, self.host()?, grants)?;
        self.cookies.push(cookie);
        Ok(self)
    }

    /// Adds a cookie removing the default hub's authorization cookie (on
    /// logout).
    ///
    /// # Errors
    /// [`Error::MissingHost`], [`Error::Cookie`].
    pub fn clear(mut self) -> Result<Self, Error> {
        let cookie = self.mercure.authorization().clear_cookie(self.host()?)?;
        self.cookies.push(cookie);
        Ok(self)
    }

    /// Adds a cookie removing the authorization cookie of the hub `hub`.
    ///
    /// # Errors
    /// [`Error::MissingHost`], [`Error::Cookie`] (also for an unknown hub).
    pub fn clear_hub(mut self, hub: &str) -> Result<Self, Error> {
        let cookie = self
            .mercure
            .authorization()
            .clear_cookie_for(hub, self.host()?)?;
        self.cookies.push(cookie);
        Ok(self)
    }

    /// Adds a cookie built elsewhere.
    pub fn with_cookie(mut self, cookie: AuthorizationCookie) -> Self {
        self.cookies.push(cookie);
        self
    }

    /// The cookies to set.
    pub fn cookies(&self) -> &[AuthorizationCookie] {
        &self.cookies
    }
}

/// Appends `cookie` as a `Set-Cookie` header, marked sensitive.
pub(crate) fn append_cookie(
    headers: &mut HeaderMap,
    cookie: &AuthorizationCookie,
) -> Result<(), Error> {
    let mut value = HeaderValue::from_str(&cookie.set_cookie_header())
        .map_err(|_| Error::InvalidHeaderValue("Set-Cookie"))?;
    value.set_sensitive(true);
    headers.append(SET_COOKIE, value);
    Ok(())
}

impl IntoResponseParts for MercureCookies {
    type Error = Error;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        for cookie in &self.cookies {
            append_cookie(res.headers_mut(), cookie)?;
        }
        Ok(res)
    }
}

impl IntoResponse for MercureCookies {
    fn into_response(self) -> Response {
        (self, ()).into_response()
    }
}
