//! A layer that advertises the hub with a `Link` header.

use std::task::{Context, Poll};

use axum::http::header::{ACCESS_CONTROL_REQUEST_METHOD, LINK};
use axum::http::{HeaderValue, Request, Response};
use futures_util::future::{BoxFuture, FutureExt as _};
use mercure_web::{DiscoveryLink, MercureState, WebError};
use tower_layer::Layer;
use tower_service::Service;

/// Adds `Link: <hub>; rel="mercure"` to every response, so that clients
/// discover where to subscribe to the resource's updates. CORS preflight
/// responses are left alone.
///
/// ```
/// use axum::{Router, routing::get};
/// use mercure_axum::{DiscoveryLayer, Mercure};
///
/// # fn app(mercure: Mercure) -> Router {
/// let link = mercure.discovery_link().parameter("content-type", "application/ld+json").unwrap();
/// Router::new()
///     .route("/books/{id}", get(|| async { "a book" }))
///     .layer(DiscoveryLayer::from_link(&link).unwrap())
///     .route("/", get(|| async { "home" }))
///     .layer(DiscoveryLayer::new(&mercure))
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DiscoveryLayer {
    value: HeaderValue,
}

impl DiscoveryLayer {
    /// Advertises the default hub's public URL.
    pub fn new(mercure: &MercureState) -> Self {
        let value = HeaderValue::try_from(mercure.discovery_link().header_value());
        Self {
            value: value.expect("a parsed URL is a valid header value"),
        }
    }

    /// Advertises `link` (another hub, extra parameters such as
    /// `last-event-id` or `content-type`).
    ///
    /// # Errors
    /// [`WebError::InvalidHeaderValue`] if the link cannot be sent in a header.
    pub fn from_link(link: &DiscoveryLink) -> Result<Self, crate::Error> {
        match HeaderValue::try_from(link.header_value()) {
            Ok(value) => Ok(Self { value }),
            Err(_) => Err(WebError::InvalidHeaderValue("Link").into()),
        }
    }
}

impl<I> Layer<I> for DiscoveryLayer {
    type Service = DiscoveryService<I>;

    fn layer(&self, inner: I) -> Self::Service {
        let value = self.value.clone();
        DiscoveryService { inner, value }
    }
}

/// The service of [`DiscoveryLayer`].
#[derive(Debug, Clone)]
pub struct DiscoveryService<I> {
    inner: I,
    value: HeaderValue,
}

impl<I, B, R> Service<Request<B>> for DiscoveryService<I>
where
    I: Service<Request<B>, Response = Response<R>>,
    I::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = I::Error;
    type Future = BoxFuture<'static, Result<Response<R>, I::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let preflight = mercure_web::is_cors_preflight(
            request.method().as_str(),
            request
                .headers()
                .contains_key(ACCESS_CONTROL_REQUEST_METHOD),
        );
        let future = self.inner.call(request);
        if preflight {
            return future.boxed();
        }
        let value = self.value.clone();
        async move {
            let mut response = future.await?;
            response.headers_mut().append(LINK, value);
            Ok(response)
        }
        .boxed()
    }
}
