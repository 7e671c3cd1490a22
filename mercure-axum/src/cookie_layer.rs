//! A route layer that sets the authorization cookie on every response.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRef, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use mercure_client::TopicSelector;
use mercure_web::token::Grants;
use tower_layer::Layer;
use tower_service::Service;

use crate::Mercure;
use crate::cookies::{append_cookies, is_preflight, request_origin};

/// Sets the authorization cookie on every response of the routes it wraps,
/// like a view mixin: with fixed grants ([`AuthorizationCookieLayer::new`],
/// [`AuthorizationCookieLayer::subscribe`]) or grants computed from the
/// request by any extractor `E` (path parameters, the logged-in user...)
/// ([`AuthorizationCookieLayer::from_request`]).
///
/// The cookie is minted before the handler runs, so a configuration
/// problem (a hub on another site, no token factory) answers with
/// [`Error`](crate::Error)'s response instead of running the handler; an
/// extractor's rejection is answered likewise. CORS preflights pass through
/// untouched. For a hub on another origin, see
/// [`MercureCookies`](crate::MercureCookies#a-hub-on-another-origin).
///
/// Use it with [`Router::route_layer`](axum::Router::route_layer) when the
/// extractor reads path parameters.
///
/// ```
/// use axum::{Router, extract::Path, routing::get};
/// use mercure_axum::{AuthorizationCookieLayer, Mercure};
/// use mercure_axum::client::token::Grants;
///
/// # fn app(mercure: Mercure) -> Router {
/// Router::new()
///     // Every response of /books carries a cookie for the "books" topic.
///     .route("/books", get(|| async { "books" }))
///     .route_layer(AuthorizationCookieLayer::subscribe(mercure.clone(), ["https://example.com/books"]))
///     // The topic of /books/{id} depends on the path.
///     .merge(
///         Router::new()
///             .route("/books/{id}", get(|| async { "a book" }))
///             .route_layer(AuthorizationCookieLayer::from_request(
///                 mercure.clone(),
///                 |Path(id): Path<u32>| Grants::new().subscribe([format!("https://example.com/books/{id}")]),
///             )),
///     )
///     .with_state(mercure)
/// # }
/// ```
pub struct AuthorizationCookieLayer<S = Mercure, E = ()> {
    state: S,
    grants: Arc<dyn Fn(E) -> Grants + Send + Sync>,
    hub: Option<Arc<str>>,
}

impl AuthorizationCookieLayer {
    /// A cookie carrying `grants` on every response.
    pub fn new(mercure: Mercure, grants: Grants) -> Self {
        Self::from_request(mercure, move |()| grants.clone())
    }

    /// A cookie allowing the private updates of `topics` on every response.
    pub fn subscribe<I, T>(mercure: Mercure, topics: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicSelector>,
    {
        Self::new(mercure, Grants::new().subscribe(topics))
    }
}

impl<S, E> AuthorizationCookieLayer<S, E> {
    /// A cookie whose grants `grants` computes from `E`, an extractor run
    /// against the request and `state` (the application state, or anything
    /// providing a [`Mercure`] through [`FromRef`]).
    pub fn from_request<F>(state: S, grants: F) -> Self
    where
        F: Fn(E) -> Grants + Send + Sync + 'static,
    {
        let grants = Arc::new(grants);
        Self {
            state,
            grants,
            hub: None,
        }
    }

    /// Mints the cookie for the hub registered as `name` instead of the
    /// default hub.
    #[must_use]
    pub fn hub(self, name: impl Into<Arc<str>>) -> Self {
        let hub = Some(name.into());
        Self { hub, ..self }
    }
}

impl<S: Clone, E> Clone for AuthorizationCookieLayer<S, E> {
    fn clone(&self) -> Self {
        let (state, hub) = (self.state.clone(), self.hub.clone());
        Self {
            state,
            grants: Arc::clone(&self.grants),
            hub,
        }
    }
}

impl<S: fmt::Debug, E> fmt::Debug for AuthorizationCookieLayer<S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCookieLayer")
            .field("state", &self.state)
            .field("extractor", &std::any::type_name::<E>())
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

impl<I, S: Clone, E> Layer<I> for AuthorizationCookieLayer<S, E> {
    type Service = AuthorizationCookieService<I, S, E>;

    fn layer(&self, inner: I) -> Self::Service {
        AuthorizationCookieService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`AuthorizationCookieLayer`].
pub struct AuthorizationCookieService<I, S, E> {
    inner: I,
    layer: AuthorizationCookieLayer<S, E>,
}

impl<I: Clone, S: Clone, E> Clone for AuthorizationCookieService<I, S, E> {
    fn clone(&self) -> Self {
        let (inner, layer) = (self.inner.clone(), self.layer.clone());
        Self { inner, layer }
    }
}

impl<I: fmt::Debug, S: fmt::Debug, E> fmt::Debug for AuthorizationCookieService<I, S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCookieService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<I, S, E> Service<Request> for AuthorizationCookieService<I, S, E>
where
    I: Service<Request> + Clone + Send + 'static,
    I::Response: IntoResponse,
    I::Future: Send,
    S: Clone + Send + Sync + 'static,
    E: FromRequestParts<S> + 'static,
    Mercure: FromRef<S>,
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
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if is_preflight(&parts) {
                let response = inner.call(Request::from_parts(parts, body)).await?;
                return Ok(response.into_response());
            }
            let grants = match E::from_request_parts(&mut parts, &layer.state).await {
                Ok(extracted) => (layer.grants)(extracted),
                Err(rejection) => return Ok(rejection.into_response()),
            };
            let mut jar = Mercure::from_ref(&layer.state).cookie_jar_for(&request_origin(&parts));
            if let Err(error) = jar.authorize_for(layer.hub.as_deref(), &grants) {
                return Ok(crate::Error::from(error).into_response());
            }
            let request = Request::from_parts(parts, body);
            let mut response = inner.call(request).await?.into_response();
            match append_cookies(response.headers_mut(), &jar) {
                Ok(()) => Ok(response),
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}
