//! Authorization cookies for a handler's response.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use mercure_client::{AuthorizationCookie, Grants, TopicSelector};

use crate::host::request_origin;
use crate::{Error, Mercure};

/// Authorization cookies to set on a response.
///
/// Extract it in a handler, add the grants the page needs and put it on
/// the response with [`MercureResponseExt::mercure_cookies`](crate::MercureResponseExt::mercure_cookies):
/// the cookie carries a token minted for the hub with the topics the page
/// subscribes to, shaped for the host the request was addressed to (see
/// [`AuthorizationCookie`]). The [`Mercure`] configuration is taken from the
/// application data (`web::Data<Mercure>` or `Mercure`); its topic
/// authorizer, if any, is consulted.
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use mercure_actix::{MercureCookies, MercureResponseExt};
///
/// async fn book(id: web::Path<u32>, cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
///     let cookies = cookies.subscribe([format!("https://example.com/books/{id}")])?;
///     Ok(HttpResponse::Ok().mercure_cookies(&cookies).body(format!("<h1>Book {id}</h1>")))
/// }
/// ```
#[derive(Debug, Clone)]
#[must_use = "the cookies are only set when added to the response"]
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

impl FromRequest for MercureCookies {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mercure = request
            .app_data::<web::Data<Mercure>>()
            .map(|data| data.get_ref().clone())
            .or_else(|| request.app_data::<Mercure>().cloned());
        ready(match mercure {
            Some(mercure) => Ok(Self::for_request(request, mercure)),
            None => Err(Error::NotConfigured),
        })
    }
}

impl MercureCookies {
    /// Cookies for `request` (for middleware and custom extractors).
    pub fn for_request(request: &HttpRequest, mercure: Mercure) -> Self {
        let host = match request_origin(
            request.headers(),
            request.uri(),
            mercure.trusts_forwarded_host(),
        ) {
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

    /// Adds a cookie for the default hub carrying `grants`.
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

    /// Adds a cookie removing the default hub's authorization cookie.
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
