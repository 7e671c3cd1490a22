//! A layer that advertises the hub with a `Link` header.

use std::task::{Context, Poll};

use axum::http::header::LINK;
use axum::http::{HeaderValue, Request, Response};
use futures_util::future::{BoxFuture, FutureExt as _};
use mercure_client::DiscoveryLink;
use tower_layer::Layer;
use tower_service::Service;

use crate::{Error, Mercure};

/// Adds `Link: <hub>; rel="mercure"` to every response, so that clients
/// discover where to subscribe to the resource's updates. CORS preflight
/// responses are left alone.
///
/// ```
/// use axum::{Router, routing::get};
/// use mercure_axum::{DiscoveryLayer, Mercure};
///
/// # fn app(mercure: Mercure) -> Router {
/// Router::new()
///     .route("/books/{id}", get(|| async { "a book" }))
///     .layer(DiscoveryLayer::new(&mercure))
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DiscoveryLayer {
    value: HeaderValue,
}

impl DiscoveryLayer {
    /// Advertises the default hub's public URL.
    pub fn new(mercure: &Mercure) -> Self {
        Self::from_link(&mercure.discovery_link())
            .unwrap_or_else(|_| unreachable!("a parsed URL is a valid header value"))
    }

    /// Advertises `link` (another hub, extra parameters such as
    /// `last-event-id` or `content-type`).
    ///
    /// # Errors
    /// [`Error::InvalidHeaderValue`] if the link cannot be sent in a header.
    pub fn from_link(link: &DiscoveryLink) -> Result<Self, Error> {
        let value = HeaderValue::from_str(&link.header_value())
            .map_err(|_| Error::InvalidHeaderValue("Link"))?;
        Ok(Self { value })
    }
}

impl<I> Layer<I> for DiscoveryLayer {
    type Service = Discovery<I>;

    fn layer(&self, inner: I) -> Self::Service {
        Discovery {
            inner,
            value: self.value.clone(),
        }
    }
}

/// The service of [`DiscoveryLayer`].
#[derive(Debug, Clone)]
pub struct Discovery<I> {
    inner: I,
    value: HeaderValue,
}

impl<I, B, R> Service<Request<B>> for Discovery<I>
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
        let preflight = is_preflight_request(&request);
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

fn is_preflight_request<B>(request: &Request<B>) -> bool {
    mercure_client::is_cors_preflight(
        request.method().as_str(),
        request
            .headers()
            .contains_key(axum::http::header::ACCESS_CONTROL_REQUEST_METHOD),
    )
}
