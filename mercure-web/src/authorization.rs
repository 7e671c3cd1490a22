//! Handing browsers their authorization cookies, for one hub or several.

use std::sync::Arc;

use mercure_core::token::Grants;

use crate::{
    AuthorizationCookie, CookieError, CookieOptions, HubInfo, HubRegistry, TopicAuthorizer,
    TopicSelector,
};

/// Mints the authorization cookies of an application: which hubs, how the
/// cookies are shaped, and who may be granted what.
///
/// This is what framework adapters hold in their application state; it is
/// cheap to clone.
///
/// ```
/// use mercure_web::{Authorization, FnTopicAuthorizer, HubInfo};
/// use mercure_web::token::{Grants, SigningKey, TokenFactory};
///
/// let factory = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap()).build().unwrap();
/// let hub = HubInfo::builder("https://example.com/.well-known/mercure")
///     .token_factory(factory)
///     .build()
///     .unwrap();
/// let authorization = Authorization::for_hub(hub)
///     .authorizer(FnTopicAuthorizer::new(|user, topic| user.is_some() || !topic.expression().starts_with("/private/")));
///
/// let cookie = authorization
///     .cookie("example.com", &Grants::new().subscribe(["/books/1", "/private/1"]))
///     .unwrap();
/// assert_eq!(cookie.domain(), None); // the application and the hub share a host
/// let cleared = authorization.clear_cookie("example.com").unwrap();
/// assert!(cleared.is_removal());
/// ```
#[derive(Clone, Debug)]
pub struct Authorization {
    registry: HubRegistry,
    options: CookieOptions,
    authorizer: Option<Arc<dyn TopicAuthorizer>>,
}

impl Authorization {
    /// Cookies for the hubs of `registry` (the default hub unless named).
    pub fn new(registry: HubRegistry) -> Self {
        Self {
            registry,
            options: CookieOptions::new(),
            authorizer: None,
        }
    }

    /// Cookies for one hub.
    pub fn for_hub(hub: HubInfo) -> Self {
        Self::new(HubRegistry::new(hub))
    }

    /// Shapes the cookies with `options`.
    #[must_use]
    pub fn options(mut self, options: CookieOptions) -> Self {
        self.options = options;
        self
    }

    /// Consults `authorizer` for every cookie minted: denied selectors are
    /// left out of the token (and logged at debug level).
    #[must_use]
    pub fn authorizer(self, authorizer: impl TopicAuthorizer + 'static) -> Self {
        self.shared_authorizer(Arc::new(authorizer))
    }

    /// Consults a shared authorizer; see [`Authorization::authorizer`].
    #[must_use]
    pub fn shared_authorizer(mut self, authorizer: Arc<dyn TopicAuthorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// The hubs.
    pub fn registry(&self) -> &HubRegistry {
        &self.registry
    }

    /// The default hub.
    pub fn hub(&self) -> &HubInfo {
        self.registry.hub()
    }

    /// The cookie options.
    pub fn cookie_options(&self) -> &CookieOptions {
        &self.options
    }

    /// The authorizer, if any.
    pub fn topic_authorizer(&self) -> Option<&Arc<dyn TopicAuthorizer>> {
        self.authorizer.as_ref()
    }

    /// The first of `selectors` the authorizer (if any) does not let
    /// `subscriber` read. A stream of topics the server selects is refused
    /// as a whole when this is `Some`, rather than silently narrowed.
    ///
    /// ```
    /// use mercure_web::{Authorization, FnTopicAuthorizer, HubInfo, TopicSelector};
    ///
    /// let hub = HubInfo::builder("https://example.com/.well-known/mercure").build().unwrap();
    /// let authorization = Authorization::for_hub(hub)
    ///     .authorizer(FnTopicAuthorizer::new(|user, _| user.is_some()));
    /// let selectors = [TopicSelector::exact("/books/1")];
    /// assert_eq!(authorization.denied_subscription(None, &selectors), Some(&selectors[0]));
    /// assert_eq!(authorization.denied_subscription(Some("alice"), &selectors), None);
    /// ```
    pub fn denied_subscription<'a>(
        &self,
        subscriber: Option<&str>,
        selectors: &'a [TopicSelector],
    ) -> Option<&'a TopicSelector> {
        let authorizer = self.authorizer.as_ref()?;
        selectors
            .iter()
            .find(|selector| !authorizer.can_subscribe(subscriber, selector))
    }

    /// What `grants` become once the authorizer (if any) has had its say.
    pub fn authorize(&self, grants: &Grants) -> Grants {
        let Some(authorizer) = &self.authorizer else {
            return grants.clone();
        };
        let outcome = authorizer.filter(grants);
        if outcome.is_restricted() {
            tracing::debug!(
                subscriber = grants.subject(),
                denied_subscribe = ?outcome.denied_subscribe,
                denied_publish = ?outcome.denied_publish,
                "topic authorizer left selectors out of the token"
            );
        }
        outcome.grants
    }

    /// A cookie for the default hub carrying `grants` (as authorized), for
    /// an application reached at `request_host`.
    ///
    /// # Errors
    /// See [`AuthorizationCookie::mint`].
    pub fn cookie(
        &self,
        request_host: &str,
        grants: &Grants,
    ) -> Result<AuthorizationCookie, CookieError> {
        AuthorizationCookie::mint(
            self.hub(),
            request_host,
            &self.authorize(grants),
            &self.options,
        )
    }

    /// A cookie for the hub named `hub`.
    ///
    /// # Errors
    /// [`CookieError::UnknownHub`], and see [`AuthorizationCookie::mint`].
    pub fn cookie_for(
        &self,
        hub: &str,
        request_host: &str,
        grants: &Grants,
    ) -> Result<AuthorizationCookie, CookieError> {
        AuthorizationCookie::mint(
            self.named(hub)?,
            request_host,
            &self.authorize(grants),
            &self.options,
        )
    }

    /// A cookie clearing the default hub's authorization cookie.
    ///
    /// # Errors
    /// See [`AuthorizationCookie::clear`].
    pub fn clear_cookie(&self, request_host: &str) -> Result<AuthorizationCookie, CookieError> {
        AuthorizationCookie::clear(self.hub(), request_host, &self.options)
    }

    /// A cookie clearing the authorization cookie of the hub named `hub`.
    ///
    /// # Errors
    /// [`CookieError::UnknownHub`], and see [`AuthorizationCookie::clear`].
    pub fn clear_cookie_for(
        &self,
        hub: &str,
        request_host: &str,
    ) -> Result<AuthorizationCookie, CookieError> {
        AuthorizationCookie::clear(self.named(hub)?, request_host, &self.options)
    }

    fn named(&self, hub: &str) -> Result<&HubInfo, CookieError> {
        self.registry
            .get(hub)
            .map_err(|_| CookieError::UnknownHub(hub.to_owned()))
    }
}
