//! The Mercure part of an application's state.

use axum::extract::FromRef;
use mercure_client::{Hub, HubRegistry};
use mercure_web::MercureState;

mercure_web::__adapter_state! {
    /// The Mercure configuration of an axum application: the hubs (their
    /// clients, to publish), how authorization cookies are shaped, who may
    /// be granted which topics, and the embedded hub if any. Cheap to clone.
    ///
    /// It dereferences to [`MercureState`], which holds everything
    /// framework-neutral: [`hub_url`](MercureState::hub_url),
    /// [`discovery_link`](MercureState::discovery_link), template helpers,
    /// `permission_changed`.
    ///
    /// Put it in the application state; the extractors and layers of this
    /// crate find it there through [`FromRef`]. With `Mercure` as the
    /// state, handlers also extract the default [`Hub`] or the whole
    /// [`HubRegistry`] with `State`:
    ///
    /// ```
    /// use axum::{Router, extract::State, routing::post};
    /// use mercure_axum::Mercure;
    /// use mercure_axum::client::{Hub, Update};
    ///
    /// async fn publish(State(hub): State<Hub>) -> String {
    ///     let update = Update::builder("https://example.com/books/1").data("{}").build().unwrap();
    ///     match hub.publish(&update).await {
    ///         Ok(id) => id.to_string(),
    ///         Err(error) => error.to_string(),
    ///     }
    /// }
    ///
    /// let hub = Hub::builder("https://example.com/.well-known/mercure").build().unwrap();
    /// let app: Router = Router::new().route("/publish", post(publish)).with_state(Mercure::new(hub));
    /// ```
    ///
    /// In a larger state, `#[derive(FromRef)]` gives `State<Mercure>` (and
    /// so this crate's extractors) but not `State<Hub>`: implement that one
    /// by hand, or extract `State<Mercure>` and call [`Mercure::hub`].
    ///
    /// ```
    /// use axum::{Router, extract::{FromRef, State}, routing::post};
    /// use mercure_axum::Mercure;
    /// use mercure_axum::client::{Hub, Update};
    ///
    /// #[derive(Clone, FromRef)]
    /// struct AppState {
    ///     mercure: Mercure,
    ///     greeting: &'static str, // database pools, templates, ...
    /// }
    ///
    /// impl FromRef<AppState> for Hub {
    ///     fn from_ref(state: &AppState) -> Hub {
    ///         state.mercure.hub().clone()
    ///     }
    /// }
    ///
    /// async fn publish(State(hub): State<Hub>, State(greeting): State<&'static str>) -> String {
    ///     let update = Update::builder("https://example.com/greetings").data(greeting).build().unwrap();
    ///     hub.publish(&update).await.map_or_else(|e| e.to_string(), |id| id.to_string())
    /// }
    ///
    /// let hub = Hub::builder("https://example.com/.well-known/mercure").build().unwrap();
    /// let state = AppState { mercure: Mercure::new(hub), greeting: "hello" };
    /// let app: Router = Router::new().route("/publish", post(publish)).with_state(state);
    /// ```
    pub struct Mercure {
        hub: Hub,
        registry: HubRegistry,
    }
}

#[cfg(feature = "embedded-hub")]
impl Mercure {
    /// Mercure backed by a hub embedded in this application: cookies and
    /// URLs point at its URL, tokens are minted by `factory` (whose key the
    /// hub must verify), and server-selected streams and `permission_changed`
    /// work on it. Serve the hub's routes by merging
    /// [`EmbeddedHub::router`](mercure_hub::EmbeddedHub::router) into the
    /// application's router: same origin, no CORS needed.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use mercure_axum::Mercure;
    /// use mercure_axum::client::token::{SigningKey, TokenFactory};
    /// use mercure_axum::hub::{EmbeddedHub, HubConfig, VerificationKey};
    ///
    /// let secret = b"!ChangeThisMercureHubJWTSecretKey!";
    /// let config = HubConfig::builder()
    ///     .url("https://example.com/.well-known/mercure")
    ///     .key(VerificationKey::hs256(secret).unwrap());
    /// let hub = EmbeddedHub::new(config.build().unwrap());
    /// let factory = TokenFactory::builder(SigningKey::hs256(secret).unwrap()).build().unwrap();
    /// let mercure = Mercure::embedded(hub.clone(), factory).unwrap();
    /// let app: Router = Router::new()
    ///     .route("/", get(|| async { "home" }))
    ///     .with_state(mercure)
    ///     .merge(hub.router());
    /// ```
    ///
    /// # Errors
    /// [`Error::Client`](crate::Error::Client) when the hub's URL is not http(s).
    pub fn embedded(
        hub: mercure_hub::EmbeddedHub,
        factory: mercure_client::token::TokenFactory,
    ) -> Result<Self, crate::Error> {
        let client = Hub::builder(hub.config().url().as_str())
            .token_factory(factory, mercure_client::token::Grants::publish_all())
            .build()?;
        Ok(Self::new(client).with_embedded_hub(hub))
    }
}

impl FromRef<Mercure> for Hub {
    fn from_ref(mercure: &Mercure) -> Self {
        mercure.hub().clone()
    }
}

impl FromRef<Mercure> for HubRegistry {
    fn from_ref(mercure: &Mercure) -> Self {
        mercure.registry().clone()
    }
}

impl FromRef<Mercure> for MercureState {
    fn from_ref(mercure: &Mercure) -> Self {
        mercure.state().clone()
    }
}
