//! Subscription URLs for pages and templates.

use url::Url;

use mercure_core::HubInfo;
use mercure_core::token::Token;
use mercure_core::{EventId, ProtocolVersion, TopicSelector};

/// Why a subscription URL cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HubUrlError {
    /// The dialect has no query parameter for tokens (1.0 removed it).
    #[error("protocol {0} has no authorization query parameter: use the authorization cookie")]
    AuthorizationParamUnsupported(ProtocolVersion),
    /// A selector is the empty string.
    #[error("topic selector #{index} is empty")]
    EmptySelector {
        /// Position of the selector.
        index: usize,
    },
}

/// Builds the URL a browser subscribes to: the hub's public URL (or its
/// internal one) with the topics or matchers and the reconciliation cursor
/// spelled in the hub's dialect.
///
/// ```
/// use mercure_web::{HubInfo, HubUrl, ProtocolVersion, TopicSelector};
///
/// let hub = HubInfo::builder("http://mercure:3000/.well-known/mercure")
///     .public_url("https://example.com/.well-known/mercure")
///     .build()
///     .unwrap();
/// let url = HubUrl::new(&hub).topics(["/books/1", "/books/2"]).last_event_id("urn:uuid:1").build().unwrap();
/// assert_eq!(
///     url.as_str(),
///     "https://example.com/.well-known/mercure?topic=%2Fbooks%2F1&topic=%2Fbooks%2F2&lastEventID=urn%3Auuid%3A1"
/// );
///
/// let hub_v1 = HubInfo::builder("https://example.com/.well-known/mercure")
///     .protocol(ProtocolVersion::V1)
///     .build()
///     .unwrap();
/// let url = HubUrl::new(&hub_v1)
///     .topic("/books/1")
///     .topic(TopicSelector::pattern("/users/:id"))
///     .build()
///     .unwrap();
/// assert_eq!(url.query(), Some("match=%2Fbooks%2F1&match_urlpattern=%2Fusers%2F%3Aid"));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct HubUrl {
    public: Url,
    internal: Url,
    use_internal: bool,
    version: ProtocolVersion,
    selectors: Vec<TopicSelector>,
    last_event_id: Option<EventId>,
    authorization: Option<Token>,
}

impl HubUrl {
    /// A subscription URL for `hub`, based on its public URL.
    pub fn new(hub: &HubInfo) -> Self {
        Self {
            public: hub.public_url().clone(),
            internal: hub.url().clone(),
            use_internal: false,
            version: hub.protocol(),
            selectors: Vec::new(),
            last_event_id: None,
            authorization: None,
        }
    }

    /// A subscription URL for a hub at `url` speaking `version`.
    pub fn for_url(url: Url, version: ProtocolVersion) -> Self {
        Self {
            internal: url.clone(),
            public: url,
            use_internal: false,
            version,
            selectors: Vec::new(),
            last_event_id: None,
            authorization: None,
        }
    }

    /// Uses the hub's internal URL (for server-side subscribers in the same
    /// network as the hub) instead of its public URL.
    pub fn internal(mut self) -> Self {
        self.use_internal = true;
        self
    }

    /// Adds a topic selector: a string is an exact topic (`topic=` in 0.x,
    /// `match=` in 1.0); a [`TopicSelector::pattern`] becomes `topic=` in
    /// 0.x and `match_urlpattern=` in 1.0.
    pub fn topic(mut self, selector: impl Into<TopicSelector>) -> Self {
        self.selectors.push(selector.into());
        self
    }

    /// Adds several topic selectors.
    pub fn topics<I, S>(mut self, selectors: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<TopicSelector>,
    {
        self.selectors.extend(selectors.into_iter().map(Into::into));
        self
    }

    /// Asks the hub for the updates published after `id` (`lastEventID` in
    /// 0.x, `last_event_id` in 1.0; `earliest` asks for all it still has).
    pub fn last_event_id(mut self, id: impl Into<EventId>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// Puts `token` in the `authorization` query parameter (0.x only).
    ///
    /// **Avoid it when a cookie can be used.** A token in a URL ends up in
    /// server and proxy access logs, browser history and `Referer` headers,
    /// where anyone reading them can replay it until it expires. Mercure 1.0
    /// dropped the parameter: [`HubUrl::build`] refuses it for 1.0 hubs.
    pub fn authorization(mut self, token: Token) -> Self {
        self.authorization = Some(token);
        self
    }

    /// The dialect the URL is spelled in.
    pub fn protocol(&self) -> ProtocolVersion {
        self.version
    }

    /// Builds the URL (any query of the hub's URL is kept).
    ///
    /// # Errors
    /// [`HubUrlError::EmptySelector`];
    /// [`HubUrlError::AuthorizationParamUnsupported`] when a token is given
    /// for a 1.0 hub.
    pub fn build(&self) -> Result<Url, HubUrlError> {
        let mut url = if self.use_internal {
            self.internal.clone()
        } else {
            self.public.clone()
        };
        if let Some(index) = self
            .selectors
            .iter()
            .position(|s| s.expression().is_empty())
        {
            return Err(HubUrlError::EmptySelector { index });
        }
        let dialect = self.version.dialect();
        let authorization = match (&self.authorization, dialect.authorization_param) {
            (None, _) => None,
            (Some(token), Some(param)) => Some((param, token)),
            (Some(_), None) => {
                return Err(HubUrlError::AuthorizationParamUnsupported(self.version));
            }
        };
        if self.selectors.is_empty() && self.last_event_id.is_none() && authorization.is_none() {
            return Ok(url);
        }
        {
            let mut query = url.query_pairs_mut();
            for selector in &self.selectors {
                query.append_pair(selector.query_param(self.version), selector.expression());
            }
            if let Some(id) = &self.last_event_id {
                query.append_pair(dialect.last_event_id_param, id.as_str());
            }
            if let Some((param, token)) = authorization {
                query.append_pair(param, token.expose());
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(version: ProtocolVersion) -> HubInfo {
        HubInfo::builder("http://mercure:3000/.well-known/mercure?x=1")
            .public_url("https://example.com/hub")
            .protocol(version)
            .build()
            .expect("hub")
    }

    #[test]
    fn table() {
        use ProtocolVersion::{V0, V1};
        let cases: Vec<(ProtocolVersion, HubUrl, &str)> = vec![
            (V0, HubUrl::new(&hub(V0)), "https://example.com/hub"),
            (
                V0,
                HubUrl::new(&hub(V0)).internal(),
                "http://mercure:3000/.well-known/mercure?x=1",
            ),
            (
                V0,
                HubUrl::new(&hub(V0)).internal().topic("*"),
                "http://mercure:3000/.well-known/mercure?x=1&topic=*",
            ),
            (
                V0,
                HubUrl::new(&hub(V0)).topic(TopicSelector::pattern("https://e.com/b/{id}")),
                "https://example.com/hub?topic=https%3A%2F%2Fe.com%2Fb%2F%7Bid%7D",
            ),
            (
                V0,
                HubUrl::new(&hub(V0))
                    .topic("a b&c")
                    .authorization(Token::new("t.k.n")),
                "https://example.com/hub?topic=a+b%26c&authorization=t.k.n",
            ),
            (
                V1,
                HubUrl::new(&hub(V1)).topic("/a").last_event_id("earliest"),
                "https://example.com/hub?match=%2Fa&last_event_id=earliest",
            ),
            (
                V1,
                HubUrl::new(&hub(V1)).last_event_id("e"),
                "https://example.com/hub?last_event_id=e",
            ),
        ];
        for (version, builder, expected) in cases {
            assert_eq!(builder.protocol(), version);
            assert_eq!(builder.build().expect("url").as_str(), expected);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            HubUrl::new(&hub(ProtocolVersion::V1))
                .authorization(Token::new("t"))
                .build(),
            Err(HubUrlError::AuthorizationParamUnsupported(
                ProtocolVersion::V1
            ))
        );
        assert_eq!(
            HubUrl::new(&hub(ProtocolVersion::V0))
                .topics(["a", ""])
                .build(),
            Err(HubUrlError::EmptySelector { index: 1 })
        );
    }
}
