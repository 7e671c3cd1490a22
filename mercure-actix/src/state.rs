//! The Mercure part of an application's data.

use actix_web::{HttpRequest, web};

use crate::Error;

mercure_web::__adapter_state! {
    /// The Mercure configuration of an actix-web application: the hubs
    /// (their clients, to publish), how cookies are shaped, who may be
    /// granted which topics, the embedded hub if any. Cheap to clone. It
    /// dereferences to [`MercureState`](mercure_web::MercureState) for
    /// subscription URLs, discovery links, templates, `permission_changed`.
    ///
    /// Register it as application data (`web::Data<Mercure>` or `Mercure`),
    /// where handlers and this crate's extractors find it.
    ///
    /// ```
    /// use actix_web::{App, web};
    /// use mercure_actix::{Mercure, client::{Hub, Update}};
    ///
    /// async fn publish(mercure: web::Data<Mercure>) -> actix_web::Result<String> {
    ///     let update = Update::builder("https://example.com/books/1").data("{}").build().unwrap();
    ///     let id = mercure.hub().publish(&update).await.map_err(actix_web::error::ErrorBadGateway)?;
    ///     Ok(id.to_string())
    /// }
    ///
    /// let mercure = Mercure::new(Hub::builder("https://example.com/.well-known/mercure").build().unwrap());
    /// let app = App::new().app_data(web::Data::new(mercure)).route("/publish", web::post().to(publish));
    /// ```
    pub struct Mercure {
        client: mercure_client,
        error: crate::Error,
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
    /// another port (`mercure_hub::serve` its router), built from `config`
    /// with `app_origin` (the application's `scheme://host[:port]`) in its
    /// CORS allowlist so that pages subscribe with their cookie. The hub's
    /// key verifies the tokens `factory` mints.
    ///
    /// ```
    /// use mercure_actix::{Mercure, client::token::{SigningKey, TokenFactory}};
    /// use mercure_actix::hub::{HubConfig, VerificationKey};
    ///
    /// let secret = b"!ChangeThisMercureHubJWTSecretKey!";
    /// let config = HubConfig::builder().url("https://example.com:8443/.well-known/mercure");
    /// let config = config.key(VerificationKey::hs256(secret).unwrap());
    /// let factory = TokenFactory::builder(SigningKey::hs256(secret).unwrap()).build().unwrap();
    /// let mercure = Mercure::embedded_alongside("https://example.com", config, factory).unwrap();
    /// let router = mercure.embedded_hub().unwrap().router(); // to serve on port 8443
    /// ```
    ///
    /// # Errors
    /// [`Error::Web`] for an invalid configuration, [`Error::Client`].
    pub fn embedded_alongside(
        app_origin: &str,
        config: mercure_hub::HubConfigBuilder,
        factory: mercure_client::token::TokenFactory,
    ) -> Result<Self, Error> {
        let config = config.cors_origin(app_origin).build();
        let config = config.map_err(mercure_web::WebError::from)?;
        Self::embedded(mercure_hub::EmbeddedHub::new(config), factory)
    }
}
