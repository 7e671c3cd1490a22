//! Layers: the authorization cookie or the discovery link on every response.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRef, FromRequestParts, Request};
use axum::http::header::LINK;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, FutureExt as _, ready};
use mercure_web::token::Grants;
use mercure_web::{DiscoveryLink, MercureState, TopicSelector};
use tower_layer::Layer;
use tower_service::Service;

use crate::cookies::{append_cookies, is_preflight, request_origin};
use crate::{Error, Mercure};

/// Sets the authorization cookie on every response of the routes it wraps,
/// like a view mixin. It is minted before the handler runs: a
/// configuration problem answers with [`Error`]'s response, an extractor's
/// rejection with itself. CORS preflights pass through. For a hub on
/// another origin, see [`MercureCookies`](crate::MercureCookies#a-hub-on-another-origin).
///
/// ```
/// use axum::{Router, extract::Path, routing::get};
/// use mercure_axum::{AuthorizationCookieLayer, Mercure, client::token::Grants};
///
/// # fn app(mercure: Mercure) -> Router {
/// let topic = |Path(id): Path<u32>| Grants::new().subscribe([format!("https://example.com/books/{id}")]);
/// Router::new()
///     .route("/books/{id}", get(|| async { "a book" }))
///     // The topic depends on a path parameter: a route layer.
///     .route_layer(AuthorizationCookieLayer::from_request(mercure.clone(), topic))
///     .with_state(mercure)
/// # }
/// ```
#[derive(Clone)]
pub struct AuthorizationCookieLayer {
    cookies: Mint,
    hub: Option<Arc<str>>,
}

/// Extracts the grants of a request and mints their cookie for a hub.
type Mint = Arc<dyn Fn(Parts, Option<Arc<str>>) -> Prepared + Send + Sync>;

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
    /// parameters, the logged-in user...) run against the request and
    /// `state` (the application state, providing a [`Mercure`]).
    pub fn from_request<S, E, F>(state: S, grants: F) -> Self
    where
        S: Clone + Send + Sync + 'static,
        E: FromRequestParts<S> + 'static,
        F: Fn(E) -> Grants + Send + Sync + 'static,
        Mercure: FromRef<S>,
    {
        let grants = Arc::new(grants);
        let cookies = move |mut parts: Parts, hub: Option<Arc<str>>| {
            let (state, grants) = (state.clone(), Arc::clone(&grants));
            async move {
                let extracted = E::from_request_parts(&mut parts, &state).await;
                let mut jar = Mercure::from_ref(&state).cookie_jar_for(&request_origin(&parts));
                let mut headers = HeaderMap::new();
                let minted = match extracted {
                    Ok(extracted) => jar
                        .authorize_for(hub.as_deref(), &grants(extracted))
                        .map_err(Error::from)
                        .and_then(|jar| append_cookies(&mut headers, jar))
                        .map_err(IntoResponse::into_response),
                    Err(rejection) => Err(rejection.into_response()),
                };
                (minted.map(|()| headers), parts)
            }
            .boxed()
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
}

impl fmt::Debug for AuthorizationCookieLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("AuthorizationCookieLayer");
        debug.field("hub", &self.hub).finish_non_exhaustive()
    }
}

impl<I> Layer<I> for AuthorizationCookieLayer {
    type Service = MercureService<I>;

    fn layer(&self, inner: I) -> MercureService<I> {
        let (cookies, hub) = (Arc::clone(&self.cookies), self.hub.clone());
        let prepare: Prepare = Arc::new(move |parts| cookies(parts, hub.clone()));
        MercureService { inner, prepare }
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
        let link = HeaderValue::try_from(link.header_value());
        Self {
            link: link.expect("a discovery link holds no control character"),
        }
    }
}

impl<I> Layer<I> for DiscoveryLayer {
    type Service = MercureService<I>;

    fn layer(&self, inner: I) -> MercureService<I> {
        let headers = HeaderMap::from_iter([(LINK, self.link.clone())]);
        let prepare: Prepare = Arc::new(move |parts| ready((Ok(headers.clone()), parts)).boxed());
        MercureService { inner, prepare }
    }
}

/// Headers to append to a request's response, or the response refusing it.
type Prepared = BoxFuture<'static, (Result<HeaderMap, Response>, Parts)>;
type Prepare = Arc<dyn Fn(Parts) -> Prepared + Send + Sync>;

/// The service of [`AuthorizationCookieLayer`] and [`DiscoveryLayer`].
#[derive(Clone)]
pub struct MercureService<I> {
    inner: I,
    prepare: Prepare,
}

impl<I: fmt::Debug> fmt::Debug for MercureService<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("MercureService");
        debug.field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<I> Service<Request> for MercureService<I>
where
    I: Service<Request> + Clone + Send + 'static,
    I::Response: IntoResponse,
    I::Future: Send,
{
    type Response = Response;
    type Error = I::Error;
    type Future = BoxFuture<'static, Result<Response, I::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was driven to readiness serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let prepare = Arc::clone(&self.prepare);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let (headers, parts) = match is_preflight(&parts) {
                true => (Ok(HeaderMap::new()), parts),
                false => prepare(parts).await,
            };
            let headers = match headers {
                Ok(headers) => headers,
                Err(refusal) => return Ok(refusal),
            };
            let response = inner.call(Request::from_parts(parts, body)).await?;
            let mut response = response.into_response();
            for (name, value) in &headers {
                response.headers_mut().append(name, value.clone());
            }
            Ok(response)
        })
    }
}
