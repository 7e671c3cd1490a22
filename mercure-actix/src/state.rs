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
        Self { authorization }
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

impl From<Authorization> for Mercure {
    fn from(authorization: Authorization) -> Self {
        Self::from_authorization(authorization)
    }
}
