//! Middleware: the authorization cookie or the discovery link on every response.

use std::fmt;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::FromRequest;
use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue, LINK, SET_COOKIE};
use futures_util::future::{FutureExt as _, LocalBoxFuture};
use mercure_web::token::Grants;
use mercure_web::{DiscoveryLink, MercureState, TopicSelector};

use crate::cookies::{is_preflight, request_origin, sensitive};
use crate::{Error, Mercure};

/// Sets the authorization cookie on every response of the scope or
/// resource it wraps, like a view mixin. It is minted before the handler
/// runs: a configuration problem answers with [`Error`]'s response, an
/// extractor's error with its own. CORS preflights pass through. For a hub
/// on another origin, see [`MercureCookies`](crate::MercureCookies#a-hub-on-another-origin).
///
/// ```
/// use actix_web::{App, web};
/// use mercure_actix::{AuthorizationCookieLayer, Mercure, client::token::Grants};
///
/// # fn app(mercure: Mercure) {
/// let topic = |id: web::Path<u32>| Grants::new().subscribe([format!("https://example.com/books/{id}")]);
/// let book = web::resource("/books/{id}").wrap(AuthorizationCookieLayer::from_request(mercure, topic));
/// let app = App::new().service(book.to(|| async { "a book" }));
/// # }
/// ```
#[derive(Clone)]
pub struct AuthorizationCookieLayer {
    cookies: Mint,
    hub: Option<Arc<str>>,
}

/// Extracts the grants of a request and mints their cookie for a hub.
type Mint = Arc<dyn Fn(&mut ServiceRequest, Option<Arc<str>>) -> Prepared + Send + Sync>;

impl AuthorizationCookieLayer {
    /// A cookie allowing the private updates of `topics` on every response
    /// (`from_request(mercure, move |()| grants.clone())` for other grants).
    pub fn subscribe(
        mercure: Mercure,
        topics: impl IntoIterator<Item: Into<TopicSelector>>,
    ) -> Self {
        let grants = Grants::new().subscribe(topics);
        Self::from_request(mercure, move |()| grants.clone())
    }

    /// A cookie whose grants `grants` computes from `E`, any extractor (path
    /// parameters, the logged-in user...) run against the request. `E`
    /// should not read the body: the handler would find it consumed.
    pub fn from_request<E, F>(mercure: Mercure, grants: F) -> Self
    where
        E: FromRequest + 'static,
        F: Fn(E) -> Grants + Send + Sync + 'static,
    {
        let grants = Arc::new(grants);
        let cookies = move |request: &mut ServiceRequest, hub: Option<Arc<str>>| {
            let extracted = request.extract::<E>();
            let mut jar = mercure.cookie_jar_for(&request_origin(request.headers(), request.uri()));
            let grants = Arc::clone(&grants);
            async move {
                let extracted = extracted.await.map_err(Into::into)?;
                jar.authorize_for(hub.as_deref(), &grants(extracted))
                    .map_err(Error::from)?;
                let cookies = jar
                    .set_cookie_headers()
                    .map(|value| Ok((SET_COOKIE, sensitive(&value)?)));
                Ok(cookies.collect::<Result<_, Error>>()?)
            }
            .boxed_local()
        };
        let cookies = Arc::new(cookies);
        Self { cookies, hub: None }
    }

    /// Mints the cookie for the hub registered as `name` instead of the
    /// default hub.
    #[must_use]
    pub fn hub(self, name: impl Into<Arc<str>>) -> Self {
        let hub = Some(name.into());
        Self { hub, ..self }
    }

    fn prepare(&self) -> Prepare {
        let (cookies, hub) = (Arc::clone(&self.cookies), self.hub.clone());
        Arc::new(move |request| cookies(request, hub.clone()))
    }
}

impl fmt::Debug for AuthorizationCookieLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("AuthorizationCookieLayer");
        debug.field("hub", &self.hub).finish_non_exhaustive()
    }
}

/// Adds `Link: <hub>; rel="mercure"` to every response but CORS
/// preflights', so that clients discover where to subscribe to updates.
#[derive(Debug, Clone)]
pub struct DiscoveryLayer {
    link: HeaderValue,
}

impl DiscoveryLayer {
    /// Advertises the default hub's public URL.
    pub fn new(mercure: &MercureState) -> Self {
        Self::from_link(&mercure.discovery_link())
    }

    /// Advertises `link` (another hub, extra parameters such as
    /// `last-event-id` or `content-type`).
    pub fn from_link(link: &DiscoveryLink) -> Self {
        let link = HeaderValue::from_str(&link.header_value());
        Self {
            link: link.expect("a discovery link holds no control character"),
        }
    }

    fn prepare(&self) -> Prepare {
        let headers = vec![(LINK, self.link.clone())];
        Arc::new(move |_| ready(Ok(headers.clone())).boxed_local())
    }
}

/// Headers to append to a request's response, or why to refuse it.
type Prepared = LocalBoxFuture<'static, Result<Vec<(HeaderName, HeaderValue)>, actix_web::Error>>;
type Prepare = Arc<dyn Fn(&mut ServiceRequest) -> Prepared>;

macro_rules! transform {
    ($layer:ty) => {
        impl<S, B> Transform<S, ServiceRequest> for $layer
        where
            S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
            S: 'static,
            B: 'static,
        {
            type Response = ServiceResponse<EitherBody<B>>;
            type Error = actix_web::Error;
            type Transform = MercureMiddleware<S>;
            type InitError = ();
            type Future = Ready<Result<MercureMiddleware<S>, ()>>;

            fn new_transform(&self, service: S) -> Self::Future {
                let (service, prepare) = (Rc::new(service), self.prepare());
                ready(Ok(MercureMiddleware { service, prepare }))
            }
        }
    };
}

transform!(AuthorizationCookieLayer);
transform!(DiscoveryLayer);

/// The service of [`AuthorizationCookieLayer`] and [`DiscoveryLayer`].
pub struct MercureMiddleware<S> {
    service: Rc<S>,
    prepare: Prepare,
}

impl<S> fmt::Debug for MercureMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MercureMiddleware").finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for MercureMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let headers = match is_preflight(request.method(), request.headers()) {
            true => ready(Ok(Vec::new())).boxed_local(),
            false => (self.prepare)(&mut request),
        };
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let headers = match headers.await {
                Ok(headers) => headers,
                Err(error) => return Ok(request.error_response(error).map_into_right_body()),
            };
            let mut response = service.call(request).await?;
            for (name, value) in headers {
                response.headers_mut().append(name, value);
            }
            Ok(response.map_into_left_body())
        })
    }
}
