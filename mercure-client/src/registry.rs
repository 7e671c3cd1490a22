//! Several hubs by name.

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;

use crate::{Error, EventId, Hub, Publisher, Result, Update};

/// A default hub plus named ones, for applications that talk to several.
///
/// ```
/// use mercure_client::{Hub, HubRegistry};
///
/// let registry = HubRegistry::new(Hub::builder("https://a.example/.well-known/mercure").build().unwrap())
///     .with("audit", Hub::builder("https://b.example/.well-known/mercure").build().unwrap());
/// assert_eq!(registry.hub().url().host_str(), Some("a.example"));
/// assert_eq!(registry.get("audit").unwrap().url().host_str(), Some("b.example"));
/// assert!(registry.get("missing").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct HubRegistry {
    default: Hub,
    named: BTreeMap<String, Hub>,
}

impl HubRegistry {
    /// The name under which the default hub is also registered.
    pub const DEFAULT: &'static str = "default";

    /// A registry whose default hub is `default`.
    pub fn new(default: Hub) -> Self {
        Self {
            default,
            named: BTreeMap::new(),
        }
    }

    /// Registers `hub` under `name` (replacing any hub of that name).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, hub: Hub) -> Self {
        self.insert(name, hub);
        self
    }

    /// Registers `hub` under `name`, returning the hub it replaced.
    pub fn insert(&mut self, name: impl Into<String>, hub: Hub) -> Option<Hub> {
        self.named.insert(name.into(), hub)
    }

    /// The default hub.
    pub fn hub(&self) -> &Hub {
        &self.default
    }

    /// The hub named `name` (`"default"` is the default hub unless a hub was
    /// registered under that name).
    ///
    /// # Errors
    /// [`Error::UnknownHub`].
    pub fn get(&self, name: &str) -> Result<&Hub> {
        match self.named.get(name) {
            Some(hub) => Ok(hub),
            None if name == Self::DEFAULT => Ok(&self.default),
            None => Err(Error::UnknownHub(name.to_owned())),
        }
    }

    /// The names of the registered hubs (not including the default's).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.named.keys().map(String::as_str)
    }
}

impl Publisher for HubRegistry {
    /// Publishes to the default hub.
    fn publish<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<EventId>> {
        Box::pin(self.default.publish(update))
    }
}
