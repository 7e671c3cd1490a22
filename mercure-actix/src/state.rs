//! The Mercure part of an application's data.

use mercure_client::{
    Authorization, CookieOptions, DiscoveryLink, Hub, HubRegistry, HubUrl, TopicAuthorizer,
};

/// The Mercure configuration of an actix-web application: the hubs, how
/// authorization cookies are shaped and who may be granted which topics.
///
/// Register it as application data (`App::app_data(web::Data::new(mercure))`);
/// handlers extract it as `web::Data<Mercure>`, and [`MercureCookies`](crate::MercureCookies)
/// finds it there. Cheap to clone.
///
/// ```
/// use actix_web::{App, HttpResponse, web};
/// use mercure_actix::Mercure;
/// use mercure_actix::client::{Hub, Update};
///
/// async fn publish(mercure: web::Data<Mercure>) -> HttpResponse {
///     let update = Update::new("https://example.com/books/1", "{}").unwrap();
///     match mercure.hub().publish(&update).await {
///         Ok(id) => HttpResponse::Ok().body(id.to_string()),
///         Err(error) => HttpResponse::BadGateway().body(error.to_string()),
///     }
/// }
///
/// let hub = Hub::builder("https://example.com/.well-known/mercure").build().unwrap();
/// let mercure = web::Data::new(Mercure::new(hub));
/// let app = App::new().app_data(mercure).route("/publish", web::post().to(publish));
/// ```
#[derive(Clone, Debug)]
pub struct Mercure {
    authorization: Authorization,
    trust_forwarded_host: bool,
    #[cfg(feature = "embedded-hub")]
    embedded: Option<mercure_hub::EmbeddedHub>,
}

impl Mercure {
    /// One hub.
    pub fn new(hub: Hub) -> Self {
        Self::from_authorization(Authorization::for_hub(hub))
    }

    /// Several hubs; cookies and URLs are for the default one unless named.
    pub fn with_registry(registry: HubRegistry) -> Self {
        Self::from_authorization(Authorization::new(registry))
    }

    /// From a configured [`Authorization`].
    pub fn from_authorization(authorization: Authorization) -> Self {
        Self {
            authorization,
            trust_forwarded_host: false,
            #[cfg(feature = "embedded-hub")]
            embedded: None,
        }
    }

    /// Shapes the authorization cookies with `options`.
    #[must_use]
    pub fn cookie_options(mut self, options: CookieOptions) -> Self {
        self.authorization = self.authorization.options(options);
        self
    }

    /// Consults `authorizer` whenever a cookie is minted: denied topics are
    /// left out of the token.
    #[must_use]
    pub fn authorizer(mut self, authorizer: impl TopicAuthorizer + 'static) -> Self {
        self.authorization = self.authorization.authorizer(authorizer);
        self
    }

    /// Shapes cookies for the host named by the `Forwarded` (`host=`) or
    /// `X-Forwarded-Host` header instead of `Host`. Enable it only behind a
    /// reverse proxy that sets these headers (and overwrites what clients
    /// send), when it does not pass the original `Host` on.
    #[must_use]
    pub fn trust_forwarded_host(mut self, trust: bool) -> Self {
        self.trust_forwarded_host = trust;
        self
    }

    /// Whether forwarding headers name the request's host.
    pub fn trusts_forwarded_host(&self) -> bool {
        self.trust_forwarded_host
    }

    /// The cookie minting service.
    pub fn authorization(&self) -> &Authorization {
        &self.authorization
    }

    /// The default hub.
    pub fn hub(&self) -> &Hub {
        self.authorization.hub()
    }

    /// All hubs.
    pub fn registry(&self) -> &HubRegistry {
        self.authorization.registry()
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
    /// environment; see [`add_minijinja_functions`](mercure_client::add_minijinja_functions).
    #[cfg(feature = "minijinja")]
    pub fn add_to_minijinja(&self, env: &mut minijinja::Environment<'_>) {
        mercure_client::add_minijinja_functions(env, self.registry().clone());
    }

    /// Subscription URLs for these hubs, to put in askama templates; see
    /// [`HubUrls`](mercure_client::HubUrls).
    #[cfg(feature = "askama")]
    pub fn hub_urls(&self) -> mercure_client::HubUrls {
        mercure_client::HubUrls::new(self.registry().clone())
    }
}

#[cfg(feature = "embedded-hub")]
impl Mercure {
    /// Mercure backed by a hub embedded in this process: cookies and URLs
    /// point at its URL, tokens are minted by `factory` (whose key the hub
    /// must verify), and server-selected streams and
    /// [`Mercure::permission_changed`] work on it. The hub's own HTTP
    /// routes are an axum router: serve them alongside the actix-web
    /// application, e.g. with `mercure_hub::serve` on another port of the
    /// same host (cookies do not care about ports).
    ///
    /// ```
    /// use mercure_actix::Mercure;
    /// use mercure_actix::client::{SigningKey, TokenFactory};
    /// use mercure_hub::{EmbeddedHub, HubConfig, VerificationKey};
    ///
    /// let secret = b"!ChangeThisMercureHubJWTSecretKey!";
    /// let hub = EmbeddedHub::new(
    ///     HubConfig::builder()
    ///         .url("https://example.com:8443/.well-known/mercure")
    ///         .key(VerificationKey::hs256(secret).unwrap())
    ///         .build()
    ///         .unwrap(),
    /// );
    /// let factory = TokenFactory::builder(SigningKey::hs256(secret).unwrap()).build().unwrap();
    /// let mercure = Mercure::embedded(hub, factory).unwrap();
    /// assert!(mercure.embedded_hub().is_some());
    /// ```
    ///
    /// # Errors
    /// [`Error::Client`](crate::Error::Client) when the hub's URL is not http(s).
    pub fn embedded(
        hub: mercure_hub::EmbeddedHub,
        factory: mercure_client::TokenFactory,
    ) -> Result<Self, crate::Error> {
        let client = Hub::builder(hub.config().url().as_str())
            .token_factory(factory, mercure_client::Grants::publish_all())
            .build()?;
        Ok(Self::new(client).with_embedded_hub(hub))
    }

    /// Attaches the embedded hub, for server-selected streams and
    /// [`Mercure::permission_changed`].
    #[must_use]
    pub fn with_embedded_hub(mut self, hub: mercure_hub::EmbeddedHub) -> Self {
        self.embedded = Some(hub);
        self
    }

    /// The embedded hub, if attached.
    pub fn embedded_hub(&self) -> Option<&mercure_hub::EmbeddedHub> {
        self.embedded.as_ref()
    }

    /// Tells the embedded hub that `subscriber`'s permission on `topic`
    /// changed: its subscriptions selecting `topic` are closed, and the
    /// client reconnects with whatever its (new) token allows. Returns how
    /// many subscribers were closed. `subscriber` is the token's subject.
    ///
    /// # Errors
    /// [`Error::NoEmbeddedHub`](crate::Error::NoEmbeddedHub).
    pub fn permission_changed(&self, subscriber: &str, topic: &str) -> Result<usize, crate::Error> {
        let hub = self.embedded.as_ref().ok_or(crate::Error::NoEmbeddedHub)?;
        Ok(hub.permission_changed(subscriber, topic))
    }
}

impl From<Authorization> for Mercure {
    fn from(authorization: Authorization) -> Self {
        Self::from_authorization(authorization)
    }
}
