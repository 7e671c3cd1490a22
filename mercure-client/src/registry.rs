//! Several hubs by name.

use futures_util::future::BoxFuture;

use crate::{EventId, Hub, Publisher, Result, Update};

/// A default hub plus named ones, for applications that talk to several:
/// [`mercure_core::HubRegistry`] holding [`Hub`]s.
///
/// ```
/// use mercure_client::{Hub, HubRegistry};
///
/// let registry = HubRegistry::new(Hub::builder("https://a.example/.well-known/mercure").build().unwrap())
///     .with("audit", Hub::builder("https://b.example/.well-known/mercure").build().unwrap());
/// assert_eq!(registry.hub().url().host_str(), Some("a.example"));
/// assert_eq!(registry.get("audit").unwrap().url().host_str(), Some("b.example"));
/// assert!(registry.get("missing").is_err());
/// // What the web helpers take:
/// let infos = registry.map(|hub| hub.info().clone());
/// assert_eq!(infos.get("audit").unwrap().url().host_str(), Some("b.example"));
/// ```
pub type HubRegistry = mercure_core::HubRegistry<Hub>;

impl Publisher for HubRegistry {
    /// Publishes to the default hub.
    fn publish<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<EventId>> {
        Box::pin(self.hub().publish(update))
    }
}
