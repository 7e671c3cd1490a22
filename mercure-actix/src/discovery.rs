//! A middleware that advertises the hub with a `Link` header.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderValue, LINK};
use futures_util::future::LocalBoxFuture;
use mercure_client::DiscoveryLink;

use crate::host::is_preflight;
use crate::{Error, Mercure};

/// Adds `Link: <hub>; rel="mercure"` to every response, so that clients
/// discover where to subscribe to the resource's updates. CORS preflight
/// responses are left alone.
///
/// ```
/// use actix_web::{App, web};
/// use mercure_actix::{Discovery, Mercure};
///
/// # fn app(mercure: Mercure) {
/// let app = App::new()
///     .wrap(Discovery::new(&mercure))
///     .route("/books/{id}", web::get().to(|| async { "a book" }));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Discovery {
    value: HeaderValue,
}

impl Discovery {
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

impl<S, B> Transform<S, ServiceRequest> for Discovery
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = DiscoveryMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(DiscoveryMiddleware {
            service: Rc::new(service),
            value: self.value.clone(),
        }))
    }
}

/// The service of [`Discovery`].
#[derive(Debug)]
pub struct DiscoveryMiddleware<S> {
    service: Rc<S>,
    value: HeaderValue,
}

impl<S, B> Service<ServiceRequest> for DiscoveryMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let preflight = is_preflight(request.method(), request.headers());
        let future = self.service.call(request);
        let value = self.value.clone();
        Box::pin(async move {
            let mut response = future.await?;
            if !preflight {
                response.headers_mut().append(LINK, value);
            }
            Ok(response)
        })
    }
}
