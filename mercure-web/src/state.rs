//! What a web framework adapter keeps in application state, and the logic
//! every adapter shares: cookies per request, server-selected streams and
//! permission changes on an embedded hub.

use std::sync::Arc;

use mercure_core::token::Grants;

use crate::{
    Authorization, AuthorizationCookie, CookieError, CookieOptions, DiscoveryLink, HubInfo,
    HubRegistry, HubUrl, HubUrlError, LinkError, TopicAuthorizer, TopicSelector,
};

/// What went wrong preparing Mercure headers or streams for a response.
/// Never contains a token.
///
/// [`WebError::status`] is the HTTP status an adapter answers with: `400`
/// when the request's host is missing or malformed, `403` when the topic
/// authorizer refuses a server-selected stream, `500` otherwise (a
/// configuration problem: adapters log the details, not show them).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The request carries no `Host` header and no authority in its URI, so
    /// the cookie's `Domain` cannot be derived.
    #[error("the request names no host")]
    MissingHost,
    /// The `Host` header is not valid UTF-8.
    #[error("the request's Host header is not valid text")]
    InvalidHost,
    /// The authorization cookie cannot be built.
    #[error(transparent)]
    Cookie(#[from] CookieError),
    /// A subscription URL cannot be built.
    #[error(transparent)]
    HubUrl(#[from] HubUrlError),
    /// A discovery link cannot be built.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The topic authorizer refused a topic of a server-selected stream.
    #[error("the subscriber may not read the topic {0:?}")]
    TopicDenied(String),
    /// The operation needs the embedded hub, and none is attached.
    #[error("no embedded hub is attached to the Mercure configuration")]
    NoEmbeddedHub,
    /// The embedded hub refused the operation.
    #[cfg(feature = "embedded-hub")]
    #[error(transparent)]
    EmbeddedHub(#[from] mercure_hub::Error),
    /// A value cannot be sent in a header.
    #[error("the {0} header value contains characters HTTP does not allow")]
    InvalidHeaderValue(&'static str),
}

impl WebError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            WebError::MissingHost
            | WebError::InvalidHost
            | WebError::Cookie(CookieError::InvalidRequestHost(_)) => 400,
            WebError::TopicDenied(_) => 403,
            _ => 500,
        }
    }

    /// The body an adapter answers with: the reason for a 400, a fixed
    /// text otherwise (details of a 403 or 500 belong in the log).
    pub fn public_message(&self) -> String {
        match self.status() {
            400 => self.to_string(),
            403 => "forbidden".to_owned(),
            _ => "cannot prepare the Mercure authorization".to_owned(),
        }
    }

    /// Logs the error at the level its status deserves.
    pub fn log(&self) {
        match self.status() {
            500.. => tracing::error!(error = %self, "cannot prepare the Mercure authorization"),
            403 => tracing::debug!(error = %self, "refusing a stream"),
            _ => tracing::debug!(error = %self, "refusing a request without a usable host"),
        }
    }
}

/// The Mercure configuration of a web application: the hubs, how
/// authorization cookies are shaped, who may be granted which topics,
/// whether forwarding headers are trusted, and the embedded hub if any.
///
/// Cheap to clone (an `Arc` inside). Adapters wrap it in their own state
/// type; everything they do is defined here once.
///
/// ```
/// use mercure_web::{HubInfo, MercureState};
///
/// let state = MercureState::new(HubInfo::parse("https://example.com/.well-known/mercure").unwrap());
/// assert_eq!(
///     state.hub_url().topic("https://example.com/books/1").build().unwrap().as_str(),
///     "https://example.com/.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct MercureState {
    inner: Arc<Inner>,
}

#[derive(Clone, Debug)]
struct Inner {
    authorization: Authorization,
    trust_forwarded_host: bool,
    #[cfg(feature = "embedded-hub")]
    embedded: Option<mercure_hub::EmbeddedHub>,
}

impl MercureState {
    /// One hub.
    pub fn new(hub: HubInfo) -> Self {
        Self::from_authorization(Authorization::for_hub(hub))
    }

    /// Several hubs; cookies and URLs are for the default one unless named.
    pub fn with_registry(registry: HubRegistry) -> Self {
        Self::from_authorization(Authorization::new(registry))
    }

    /// From a configured [`Authorization`].
    pub fn from_authorization(authorization: Authorization) -> Self {
        Self {
            inner: Arc::new(Inner {
                authorization,
                trust_forwarded_host: false,
                #[cfg(feature = "embedded-hub")]
                embedded: None,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Shapes the authorization cookies with `options`.
    #[must_use]
    pub fn cookie_options(self, options: CookieOptions) -> Self {
        self.edit(|inner| inner.authorization = inner.authorization.clone().options(options))
    }

    /// Consults `authorizer` whenever a cookie is minted or a
    /// server-selected stream opened: denied topics are left out of tokens,
    /// and streams naming one are refused.
    #[must_use]
    pub fn authorizer(self, authorizer: impl TopicAuthorizer + 'static) -> Self {
        self.edit(|inner| {
            inner.authorization = inner.authorization.clone().authorizer(authorizer);
        })
    }

    /// Shapes cookies for the host named by the `Forwarded` (`host=`) or
    /// `X-Forwarded-Host` header instead of `Host`. Enable it only behind a
    /// reverse proxy that sets these headers (and overwrites what clients
    /// send), when it does not pass the original `Host` on.
    #[must_use]
    pub fn trust_forwarded_host(self, trust: bool) -> Self {
        self.edit(|inner| inner.trust_forwarded_host = trust)
    }

    /// Whether forwarding headers name the request's host.
    pub fn trusts_forwarded_host(&self) -> bool {
        self.inner.trust_forwarded_host
    }

    /// The cookie minting service.
    pub fn authorization(&self) -> &Authorization {
        &self.inner.authorization
    }

    /// The default hub.
    pub fn hub(&self) -> &HubInfo {
        self.inner.authorization.hub()
    }

    /// All hubs.
    pub fn registry(&self) -> &HubRegistry {
        self.inner.authorization.registry()
    }

    /// A subscription URL builder for the default hub's public URL.
    pub fn hub_url(&self) -> HubUrl {
        HubUrl::new(self.hub())
    }

    /// The discovery link to the default hub.
    pub fn discovery_link(&self) -> DiscoveryLink {
        DiscoveryLink::new(self.hub())
    }

    /// Registers `mercure_hub_url` for these hubs in a minijinja
    /// environment; see [`add_minijinja_functions`](crate::templates::add_minijinja_functions).
    #[cfg(feature = "minijinja")]
    pub fn add_to_minijinja(&self, env: &mut minijinja::Environment<'_>) {
        crate::templates::add_minijinja_functions(env, self.registry().clone());
    }

    /// Subscription URLs for these hubs, to put in askama templates; see
    /// [`HubUrls`](crate::templates::HubUrls).
    #[cfg(feature = "askama")]
    pub fn hub_urls(&self) -> crate::templates::HubUrls {
        crate::templates::HubUrls::new(self.registry().clone())
    }

    /// An empty set of cookies for a request addressed to `origin` (see
    /// [`RequestOrigin`](crate::RequestOrigin)).
    pub fn cookie_jar(&self, origin: Result<String, WebError>) -> CookieJar {
        CookieJar {
            state: self.clone(),
            origin: origin.map_err(|error| matches!(error, WebError::MissingHost)),
            cookies: Vec::new(),
        }
    }
}

#[cfg(feature = "embedded-hub")]
impl MercureState {
    /// Attaches the hub embedded in this application, for server-selected
    /// streams and [`MercureState::permission_changed`].
    #[must_use]
    pub fn with_embedded_hub(self, hub: mercure_hub::EmbeddedHub) -> Self {
        self.edit(|inner| inner.embedded = Some(hub))
    }

    /// The embedded hub, if attached.
    pub fn embedded_hub(&self) -> Option<&mercure_hub::EmbeddedHub> {
        self.inner.embedded.as_ref()
    }

    /// Tells the embedded hub that `subscriber`'s permission on `topic`
    /// changed: its subscriptions selecting `topic` are closed, and the
    /// client reconnects with whatever its (new) token allows. Returns how
    /// many subscribers were closed. `subscriber` is the token's subject.
    ///
    /// # Errors
    /// [`WebError::NoEmbeddedHub`].
    pub fn permission_changed(&self, subscriber: &str, topic: &str) -> Result<usize, WebError> {
        let hub = self.embedded_hub().ok_or(WebError::NoEmbeddedHub)?;
        Ok(hub.permission_changed(subscriber, topic))
    }

    /// A stream of `topics` (public and private updates) on the embedded
    /// hub for `subscriber` (the identity
    /// [`MercureState::permission_changed`] names; `None` for an anonymous
    /// visitor), resuming after `last_event_id`. The topic authorizer, if
    /// any, must allow every topic: the stream is refused as a whole rather
    /// than silently narrowed.
    ///
    /// # Errors
    /// [`WebError::TopicDenied`] (403), [`WebError::NoEmbeddedHub`],
    /// [`WebError::EmbeddedHub`] for a selector the hub cannot compile.
    pub async fn open_stream(
        &self,
        subscriber: Option<&str>,
        topics: Vec<TopicSelector>,
        last_event_id: Option<&mercure_core::EventId>,
    ) -> Result<mercure_hub::Subscription, WebError> {
        if let Some(denied) = self
            .authorization()
            .denied_subscription(subscriber, &topics)
        {
            return Err(WebError::TopicDenied(denied.expression().to_owned()));
        }
        let mut request =
            mercure_hub::SubscribeRequest::server_selected(topics).dialect(self.hub().protocol());
        if let Some(subscriber) = subscriber {
            request = request.subject(subscriber);
        }
        if let Some(id) = last_event_id {
            request = request.last_event_id(id.clone());
        }
        self.subscribe(request).await
    }

    /// A stream on the embedded hub for a request built by hand.
    ///
    /// # Errors
    /// [`WebError::NoEmbeddedHub`], [`WebError::EmbeddedHub`].
    pub async fn subscribe(
        &self,
        request: mercure_hub::SubscribeRequest,
    ) -> Result<mercure_hub::Subscription, WebError> {
        let hub = self.embedded_hub().ok_or(WebError::NoEmbeddedHub)?;
        Ok(hub.subscribe(request).await?)
    }
}

/// The authorization cookies one response sets, minted for the host the
/// request was addressed to. Adapters wrap it in their response part.
#[derive(Debug, Clone)]
pub struct CookieJar {
    state: MercureState,
    /// The origin, or whether it was missing (`true`) or invalid (`false`).
    origin: Result<String, bool>,
    cookies: Vec<AuthorizationCookie>,
}

impl CookieJar {
    fn origin(&self) -> Result<&str, WebError> {
        match &self.origin {
            Ok(origin) => Ok(origin),
            Err(true) => Err(WebError::MissingHost),
            Err(false) => Err(WebError::InvalidHost),
        }
    }

    /// Adds a cookie for the default hub whose token lets the browser
    /// receive the private updates of `topics`.
    ///
    /// # Errors
    /// [`WebError::MissingHost`], [`WebError::InvalidHost`], [`WebError::Cookie`].
    pub fn subscribe<I, T>(&mut self, topics: I) -> Result<&mut Self, WebError>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicSelector>,
    {
        self.authorize(&Grants::new().subscribe(topics))
    }

    /// Adds a cookie for the default hub carrying `grants` (subscribe and
    /// publish selectors, payload, subject), as the authorizer allows.
    ///
    /// # Errors
    /// [`WebError::MissingHost`], [`WebError::InvalidHost`], [`WebError::Cookie`].
    pub fn authorize(&mut self, grants: &Grants) -> Result<&mut Self, WebError> {
        let cookie = self.state.authorization().cookie(self.origin()?, grants)?;
        self.cookies.push(cookie);
        Ok(self)
    }

    /// Adds a cookie for the hub registered as `hub`.
    ///
    /// # Errors
    /// As [`CookieJar::authorize`], and [`WebError::Cookie`] for an unknown hub.
    pub fn authorize_hub(&mut self, hub: &str, grants: &Grants) -> Result<&mut Self, WebError> {
        let cookie = self
            .state
            .authorization()
            .cookie_for(hub, self.origin()?, grants)?;
        self.cookies.push(cookie);
        Ok(self)
    }

    /// Adds a cookie removing the default hub's authorization cookie (on
    /// logout).
    ///
    /// # Errors
    /// [`WebError::MissingHost`], [`WebError::InvalidHost`], [`WebError::Cookie`].
    pub fn clear(&mut self) -> Result<&mut Self, WebError> {
        let cookie = self.state.authorization().clear_cookie(self.origin()?)?;
        self.cookies.push(cookie);
        Ok(self)
    }

    /// Adds a cookie removing the authorization cookie of the hub `hub`.
    ///
    /// # Errors
    /// As [`CookieJar::clear`], and [`WebError::Cookie`] for an unknown hub.
    pub fn clear_hub(&mut self, hub: &str) -> Result<&mut Self, WebError> {
        let cookie = self
            .state
            .authorization()
            .clear_cookie_for(hub, self.origin()?)?;
        self.cookies.push(cookie);
        Ok(self)
    }

    /// Adds a cookie built elsewhere.
    pub fn push(&mut self, cookie: AuthorizationCookie) -> &mut Self {
        self.cookies.push(cookie);
        self
    }

    /// The cookies to set.
    pub fn cookies(&self) -> &[AuthorizationCookie] {
        &self.cookies
    }

    /// The `Set-Cookie` header values, in order.
    pub fn set_cookie_headers(&self) -> impl Iterator<Item = String> + '_ {
        self.cookies
            .iter()
            .map(AuthorizationCookie::set_cookie_header)
    }
}

impl MercureState {
    /// An empty set of cookies for the request `request` describes, its
    /// host read from forwarding headers when
    /// [`MercureState::trust_forwarded_host`] says so.
    ///
    /// ```
    /// use mercure_web::{HubInfo, MercureState, RequestOrigin};
    ///
    /// let state = MercureState::new(HubInfo::parse("https://example.com/.well-known/mercure").unwrap());
    /// let request = RequestOrigin::new(|name| (name == "host").then_some(&b"example.com"[..]), None, None);
    /// let jar = state.cookie_jar_for(&request);
    /// assert!(jar.cookies().is_empty());
    /// ```
    pub fn cookie_jar_for(&self, request: &crate::RequestOrigin<'_>) -> CookieJar {
        self.cookie_jar(request.origin(self.trusts_forwarded_host()))
    }
}

impl CookieJar {
    /// Adds a cookie carrying `grants` for the hub registered as `hub`, or
    /// for the default hub when `None`: what an authorization-cookie
    /// middleware mints on every response.
    ///
    /// # Errors
    /// As [`CookieJar::authorize`] and [`CookieJar::authorize_hub`].
    pub fn authorize_for(
        &mut self,
        hub: Option<&str>,
        grants: &Grants,
    ) -> Result<&mut Self, WebError> {
        match hub {
            Some(hub) => self.authorize_hub(hub, grants),
            None => self.authorize(grants),
        }
    }
}

/// Defines the application-state type of a framework adapter: a
/// [`MercureState`] beside the application's clients of the same hubs (the
/// `Hub`s of the `mercure-client` crate named by `client`, to publish),
/// with the builder methods of [`MercureState`], and dereferencing to it
/// for everything else.
///
/// Not a public API: `mercure-axum` and `mercure-actix` call it so that
/// their `Mercure` types have one definition. `error` must convert from
/// the client's `Error`; `with_embedded_hub` and `embedded` are defined
/// when the calling crate has an `embedded-hub` feature enabling this
/// crate's and depends on `mercure-hub`.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_state {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident { client: $client:ident, error: $error:ty $(,)? }
    ) => {
        $(#[$attr])*
        #[derive(Clone, Debug)]
        $vis struct $name {
            state: $crate::MercureState,
            hubs: ::std::sync::Arc<$client::HubRegistry>,
        }

        impl $name {
            /// One hub: cookies, URLs and publishing go to `hub`.
            pub fn new(hub: $client::Hub) -> Self {
                Self::with_registry($client::HubRegistry::new(hub))
            }

            /// Several hubs: cookies and URLs are for the default one
            /// unless named, and handlers publish to any of them.
            pub fn with_registry(registry: $client::HubRegistry) -> Self {
                let infos = registry.map(|hub| $crate::HubInfo::from(hub));
                Self {
                    state: $crate::MercureState::with_registry(infos),
                    hubs: ::std::sync::Arc::new(registry),
                }
            }

            /// Replaces the framework-neutral state with what `f` makes
            /// of it (any builder method of
            /// [`MercureState`](mercure_web::MercureState)).
            #[must_use]
            pub fn map_state(
                mut self,
                f: impl FnOnce($crate::MercureState) -> $crate::MercureState,
            ) -> Self {
                self.state = f(self.state);
                self
            }

            /// Shapes the authorization cookies with `options`.
            #[must_use]
            pub fn cookie_options(self, options: $crate::CookieOptions) -> Self {
                self.map_state(|state| state.cookie_options(options))
            }

            /// Consults `authorizer` whenever a cookie is minted or a
            /// server-selected stream opened: denied topics are left out
            /// of tokens, and streams naming one are refused.
            #[must_use]
            pub fn authorizer(self, authorizer: impl $crate::TopicAuthorizer + 'static) -> Self {
                self.map_state(|state| state.authorizer(authorizer))
            }

            /// Shapes cookies for the host named by the `Forwarded` or
            /// `X-Forwarded-Host` header (and scheme by `X-Forwarded-Proto`)
            /// instead of `Host`: only behind a reverse proxy that sets
            /// these headers and overwrites what clients send.
            #[must_use]
            pub fn trust_forwarded_host(self, trust: bool) -> Self {
                self.map_state(|state| state.trust_forwarded_host(trust))
            }

            /// Attaches the hub embedded in this application, for
            /// server-selected streams and `permission_changed`.
            #[cfg(feature = "embedded-hub")]
            #[must_use]
            pub fn with_embedded_hub(self, hub: ::mercure_hub::EmbeddedHub) -> Self {
                self.map_state(|state| state.with_embedded_hub(hub))
            }

            /// Mercure backed by `hub`, a hub of `mercure-hub` embedded in
            /// this application: cookies, URLs and publishing go to its
            /// URL, and its key must verify the tokens `factory` mints.
            ///
            /// # Errors
            /// The client's error when the hub's URL is not http(s).
            #[cfg(feature = "embedded-hub")]
            pub fn embedded(
                hub: ::mercure_hub::EmbeddedHub,
                factory: $client::token::TokenFactory,
            ) -> ::std::result::Result<Self, $error> {
                let grants = $client::token::Grants::publish_all();
                let client = $client::Hub::builder(hub.config().url().as_str());
                let client = client.token_factory(factory, grants).build()?;
                Ok(Self::new(client).with_embedded_hub(hub))
            }

            /// The default hub's client, to publish.
            pub fn hub(&self) -> &$client::Hub {
                self.hubs.hub()
            }

            /// The clients of all hubs.
            pub fn registry(&self) -> &$client::HubRegistry {
                &self.hubs
            }

            /// The framework-neutral state (also reached through `Deref`).
            pub fn state(&self) -> &$crate::MercureState {
                &self.state
            }
        }

        impl ::std::ops::Deref for $name {
            type Target = $crate::MercureState;

            fn deref(&self) -> &$crate::MercureState {
                &self.state
            }
        }
    };
}
