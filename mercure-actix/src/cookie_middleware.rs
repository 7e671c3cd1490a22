//! A middleware that sets the authorization cookie on every response.

use std::fmt;
use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::FromRequest;
use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use futures_util::future::LocalBoxFuture;
use mercure_client::{AuthorizationCookie, Grants, TopicSelector};

use crate::host::{is_preflight, request_origin};
use crate::{Error, Mercure, actix_cookie};

type GrantsFn<E> = Arc<dyn Fn(E) -> Grants + Send + Sync>;

/// Sets the authorization cookie on every response of the scope or
/// resource it wraps, like a view mixin: with fixed topics
/// ([`SetAuthorizationCookie::new`], [`SetAuthorizationCookie::subscribe`])
/// or with grants computed from the request by any extractor (path
/// parameters, the logged-in user, ...)
/// ([`SetAuthorizationCookie::from_request`]).
///
/// The cookie is minted before the handler runs, so a configuration
/// problem answers with [`Error`]'s response instead of running the
/// handler; an extractor's error is answered likewise. CORS preflights pass
/// through untouched.
///
/// ```
/// use actix_web::{App, web};
/// use mercure_actix::{Mercure, SetAuthorizationCookie};
/// use mercure_actix::client::Grants;
///
/// # fn app(mercure: Mercure) {
/// let app = App::new()
///     .service(
///         web::resource("/books")
///             .wrap(SetAuthorizationCookie::subscribe(mercure.clone(), ["https://example.com/books"]))
///             .to(|| async { "books" }),
///     )
///     .service(
///         web::resource("/books/{id}")
///             .wrap(SetAuthorizationCookie::from_request(mercure.clone(), |id: web::Path<u32>| {
///                 Grants::new().subscribe([format!("https://example.com/books/{id}")])
///             }))
///             .to(|| async { "a book" }),
///     );
/// # }
/// ```
pub struct SetAuthorizationCookie<E = ()> {
    mercure: Mercure,
    grants: GrantsFn<E>,
    hub: Option<Arc<str>>,
}

impl SetAuthorizationCookie<()> {
    /// A cookie carrying `grants` on every response.
    pub fn new(mercure: Mercure, grants: Grants) -> Self {
        Self {
            mercure,
            grants: Arc::new(move |()| grants.clone()),
            hub: None,
        }
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

impl<E> SetAuthorizationCookie<E> {
    /// A cookie whose grants `grants` computes from `E`, an extractor run
    /// against the request. `E` should not read the body (no `Json`,
    /// `Form`, `Bytes`): the handler would then find it consumed.
    pub fn from_request<F>(mercure: Mercure, grants: F) -> Self
    where
        F: Fn(E) -> Grants + Send + Sync + 'static,
    {
        Self {
            mercure,
            grants: Arc::new(grants),
            hub: None,
        }
    }

    /// Mints the cookie for the hub registered as `name` instead of the
    /// default hub.
    #[must_use]
    pub fn hub(mut self, name: impl Into<Arc<str>>) -> Self {
        self.hub = Some(name.into());
        self
    }

    fn mint(&self, host: &str, grants: &Grants) -> Result<AuthorizationCookie, Error> {
        let authorization = self.mercure.authorization();
        Ok(match &self.hub {
            Some(hub) => authorization.cookie_for(hub, host, grants)?,
            None => authorization.cookie(host, grants)?,
        })
    }
}

impl<E> Clone for SetAuthorizationCookie<E> {
    fn clone(&self) -> Self {
        Self {
            mercure: self.mercure.clone(),
            grants: Arc::clone(&self.grants),
            hub: self.hub.clone(),
        }
    }
}

impl<E> fmt::Debug for SetAuthorizationCookie<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetAuthorizationCookie")
            .field("mercure", &self.mercure)
            .field("extractor", &std::any::type_name::<E>())
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

impl<S, B, E> Transform<S, ServiceRequest> for SetAuthorizationCookie<E>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
    E: FromRequest + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SetAuthorizationCookieMiddleware<S, E>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SetAuthorizationCookieMiddleware {
            service: Rc::new(service),
            config: self.clone(),
            _extractor: PhantomData,
        }))
    }
}

/// The service of [`SetAuthorizationCookie`].
pub struct SetAuthorizationCookieMiddleware<S, E> {
    service: Rc<S>,
    config: SetAuthorizationCookie<E>,
    _extractor: PhantomData<fn() -> E>,
}

impl<S, E> fmt::Debug for SetAuthorizationCookieMiddleware<S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetAuthorizationCookieMiddleware")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S, B, E> Service<ServiceRequest> for SetAuthorizationCookieMiddleware<S, E>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
    E: FromRequest + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let config = self.config.clone();
        Box::pin(async move {
            if is_preflight(request.method(), request.headers()) {
                return Ok(service.call(request).await?.map_into_left_body());
            }
            let extracted = match request.extract::<E>().await {
                Ok(extracted) => extracted,
                Err(error) => return Ok(request.error_response(error).map_into_right_body()),
            };
            let grants = (config.grants)(extracted);
            let trust = config.mercure.trusts_forwarded_host();
            let cookie = request_origin(request.headers(), request.uri(), trust)
                .and_then(|host| config.mint(&host, &grants));
            let cookie = match cookie {
                Ok(cookie) => cookie,
                Err(error) => return Ok(request.error_response(error).map_into_right_body()),
            };
            let mut response = service.call(request).await?;
            if response
                .response_mut()
                .add_cookie(&actix_cookie(&cookie))
                .is_err()
            {
                let error = Error::InvalidHeaderValue("Set-Cookie");
                let (request, _) = response.into_parts();
                return Ok(ServiceResponse::from_err(error, request).map_into_right_body());
            }
            Ok(response.map_into_left_body())
        })
    }
}
