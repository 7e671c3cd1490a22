//! Several hubs by name.

use std::collections::BTreeMap;
use std::sync::Arc;

/// A default hub plus named ones, for applications that talk to several.
///
/// Generic over what a hub is: the client's registry holds its `Hub`s, the
/// web helpers' registry [`HubInfo`](crate::HubInfo)s. Cheap to clone: the
/// named hubs are shared until one clone registers another.
///
/// ```
/// use mercure_core::{HubInfo, HubRegistry};
///
/// let registry = HubRegistry::new(HubInfo::parse("https://a.example/.well-known/mercure").unwrap())
///     .with("audit", HubInfo::parse("https://b.example/.well-known/mercure").unwrap());
/// assert_eq!(registry.hub().url().host_str(), Some("a.example"));
/// assert_eq!(registry.get("audit").unwrap().url().host_str(), Some("b.example"));
/// assert!(registry.get("missing").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct HubRegistry<H> {
    default: H,
    named: Arc<BTreeMap<String, H>>,
}

/// No hub of this name is registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no hub named {0:?} is registered")]
pub struct UnknownHub(pub String);

impl<H> HubRegistry<H> {
    /// The name under which the default hub is also registered.
    pub const DEFAULT: &'static str = "default";

    /// A registry whose default hub is `default`.
    pub fn new(default: H) -> Self {
        Self {
            default,
            named: Arc::new(BTreeMap::new()),
        }
    }

    /// The default hub.
    pub fn hub(&self) -> &H {
        &self.default
    }

    /// The hub named `name` (`"default"` is the default hub unless a hub was
    /// registered under that name).
    ///
    /// # Errors
    /// [`UnknownHub`].
    pub fn get(&self, name: &str) -> Result<&H, UnknownHub> {
        match self.named.get(name) {
            Some(hub) => Ok(hub),
            None if name == Self::DEFAULT => Ok(&self.default),
            None => Err(UnknownHub(name.to_owned())),
        }
    }

    /// The names of the registered hubs (not including the default's).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.named.keys().map(String::as_str)
    }

    /// Every hub with its name, the default first (as `"default"`).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &H)> {
        std::iter::once((Self::DEFAULT, &self.default))
            .chain(self.named.iter().map(|(name, hub)| (name.as_str(), hub)))
    }

    /// The same names, each hub mapped by `f`.
    pub fn map<T>(&self, mut f: impl FnMut(&H) -> T) -> HubRegistry<T> {
        HubRegistry {
            default: f(&self.default),
            named: Arc::new(
                self.named
                    .iter()
                    .map(|(name, hub)| (name.clone(), f(hub)))
                    .collect(),
            ),
        }
    }
}

impl<H: Clone> HubRegistry<H> {
    /// Registers `hub` under `name` (replacing any hub of that name).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, hub: H) -> Self {
        self.insert(name, hub);
        self
    }

    /// Registers `hub` under `name`, returning the hub it replaced.
    pub fn insert(&mut self, name: impl Into<String>, hub: H) -> Option<H> {
        Arc::make_mut(&mut self.named).insert(name.into(), hub)
    }
}
