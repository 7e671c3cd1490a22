//! The Mercure part of an application's state.

use axum::extract::FromRef;
use mercure_client::{Hub, HubRegistry};

mercure_web::__adapter_state! {
    /// The Mercure configuration of an axum application: the hubs (their
    /// clients, to publish), how cookies are shaped, who may be granted
    /// which topics, the embedded hub if any. Cheap to clone. It
    /// dereferences to [`MercureState`](mercure_web::MercureState) for
    /// subscription URLs, discovery links, templates and `permission_changed`.
    ///
    /// The extractors and layers of this crate find it in the application
    /// state through [`FromRef`]. With `Mercure` as the state, handlers
    /// extract `State<Hub>` or `State<HubRegistry>` to publish. In a larger
    /// state, `#[derive(FromRef)]` gives `State<Mercure>` only: implement
    /// `FromRef` for [`Hub`] by hand (or call [`Mercure::hub`]).
    ///
    /// ```
    /// use axum::{Router, extract::{FromRef, State}, routing::post};
    /// use mercure_axum::Mercure;
    /// use mercure_axum::client::{Hub, Update};
    ///
    /// #[derive(Clone, FromRef)]
    /// struct AppState {
    ///     mercure: Mercure,
    ///     greeting: &'static str, // database pools, templates...
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
    ///
    /// A hub embedded in the application ([`Mercure::embedded`], feature
    /// `embedded-hub`) is served by merging its router: same origin, no CORS.
    ///
    /// ```
    /// # #[cfg(feature = "embedded-hub")] {
    /// use mercure_axum::{Mercure, client::token::{SigningKey, TokenFactory}};
    /// use mercure_axum::hub::{EmbeddedHub, HubConfig, VerificationKey};
    ///
    /// let secret = b"!ChangeThisMercureHubJWTSecretKey!";
    /// let config = HubConfig::builder().url("https://example.com/.well-known/mercure");
    /// let hub = EmbeddedHub::new(config.key(VerificationKey::hs256(secret).unwrap()).build().unwrap());
    /// let factory = TokenFactory::builder(SigningKey::hs256(secret).unwrap()).build().unwrap();
    /// let mercure = Mercure::embedded(hub.clone(), factory).unwrap();
    /// let app: axum::Router = axum::Router::new().with_state(mercure).merge(hub.router());
    /// # }
    /// ```
    pub struct Mercure {
        client: mercure_client,
        error: crate::Error,
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
