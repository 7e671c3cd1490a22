//! The Mercure part of an application's data.

use actix_web::{HttpRequest, web};
use mercure_client::{Hub, HubRegistry};

use crate::Error;

mercure_web::__adapter_state! {
    /// The Mercure configuration of an actix-web application: the hubs
    /// (their clients, to publish), how cookies are shaped, who may be
    /// granted which topics, the embedded hub if any. Cheap to clone. It
    /// dereferences to [`MercureState`](mercure_web::MercureState) for
    /// subscription URLs, discovery links, templates and `permission_changed`.
    ///
    /// Register it as application data (`web::Data<Mercure>`, or `Mercure`
    /// itself); handlers extract it as `web::Data<Mercure>`, and this
    /// crate's extractors find it there.
    ///
    /// ```
    /// use actix_web::{App, HttpResponse, web};
    /// use mercure_actix::Mercure;
    /// use mercure_actix::client::{Hub, Update};
    ///
    /// async fn publish(mercure: web::Data<Mercure>) -> HttpResponse {
    ///     let update = Update::builder("https://example.com/books/1").data("{}").build().unwrap();
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
    pub struct Mercure {
        hub: Hub,
        registry: HubRegistry,
    }
}

impl Mercure {
    /// The `Mercure` registered as application data of `request`.
    pub(crate) fn of(request: &HttpRequest) -> Result<&Self, Error> {
        let data = request.app_data::<web::Data<Self>>().map(|data| &***data);
        data.or_else(|| request.app_data())
            .ok_or(Error::NotConfigured)
    }
}

#[cfg(feature = "embedded-hub")]
impl Mercure {
    /// Mercure with a hub embedded in this process, served alongside on
    /// another port of the same site (its routes are an axum router: serve
    /// `hub.router()` with `mercure_hub::serve`). The hub is built from
    /// `config`, its CORS allowlist naming `app_origin` (the application's
    /// `scheme://host[:port]`) so that pages subscribe with their cookie.
    /// Tokens are minted by `factory`, whose key the hub verifies.
    ///
    /// ```
    /// use mercure_actix::Mercure;
    /// use mercure_actix::client::token::{SigningKey, TokenFactory};
    /// use mercure_actix::hub::{HubConfig, VerificationKey};
    ///
    /// let secret = b"!ChangeThisMercureHubJWTSecretKey!";
    /// let config = HubConfig::builder().url("https://example.com:8443/.well-known/mercure");
    /// let config = config.key(VerificationKey::hs256(secret).unwrap());
    /// let factory = TokenFactory::builder(SigningKey::hs256(secret).unwrap()).build().unwrap();
    /// let mercure = Mercure::embedded_alongside("https://example.com", config, factory).unwrap();
    /// let hub = mercure.embedded_hub().unwrap().clone(); // serve hub.router() on port 8443
    /// ```
    ///
    /// # Errors
    /// [`Error::Web`] for an invalid hub configuration, [`Error::Client`].
    pub fn embedded_alongside(
        app_origin: &str,
        config: mercure_hub::HubConfigBuilder,
        factory: mercure_client::token::TokenFactory,
    ) -> Result<Self, Error> {
        let config = config.cors_origin(app_origin).build();
        let config = config.map_err(mercure_web::WebError::from)?;
        Self::embedded(mercure_hub::EmbeddedHub::new(config), factory)
    }

    /// Mercure backed by `hub`, embedded in this process (see
    /// [`Mercure::embedded_alongside`] to serve it on another port).
    ///
    /// # Errors
    /// [`Error::Client`] when the hub's URL is not http(s).
    pub fn embedded(
        hub: mercure_hub::EmbeddedHub,
        factory: mercure_client::token::TokenFactory,
    ) -> Result<Self, Error> {
        let client = Hub::builder(hub.config().url().as_str())
            .token_factory(factory, mercure_client::token::Grants::publish_all())
            .build()?;
        Ok(Self::new(client).with_embedded_hub(hub))
    }
}
