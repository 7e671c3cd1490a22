//! What is known of a hub without talking to it.

use url::Url;

use crate::ProtocolVersion;
use crate::token::TokenFactory;

/// A hub as the code around it describes it: the URL this process reaches
/// it at, the URL browsers and other subscribers reach it at, the dialect
/// it speaks and, if this application mints tokens for it, the factory.
///
/// The client's `Hub` holds one (with an HTTP client beside it); the web
/// helpers need nothing more to shape cookies, subscription URLs and
/// discovery links.
///
/// ```
/// use mercure_core::{HubInfo, ProtocolVersion};
///
/// let hub = HubInfo::parse("http://mercure:3000/.well-known/mercure")
///     .unwrap()
///     .with_public_url("https://example.com/.well-known/mercure".parse().unwrap())
///     .with_protocol(ProtocolVersion::V1);
/// assert_eq!(hub.url().host_str(), Some("mercure"));
/// assert_eq!(hub.public_url().host_str(), Some("example.com"));
/// assert_eq!(hub.protocol(), ProtocolVersion::V1);
/// assert!(hub.token_factory().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct HubInfo {
    url: Url,
    public_url: Url,
    protocol: ProtocolVersion,
    token_factory: Option<TokenFactory>,
}

impl HubInfo {
    /// A hub reached at `url` by this process and by browsers alike,
    /// speaking the default dialect, with no token factory.
    pub fn new(url: Url) -> Self {
        Self {
            public_url: url.clone(),
            url,
            protocol: ProtocolVersion::default(),
            token_factory: None,
        }
    }

    /// [`HubInfo::new`] from text.
    ///
    /// # Errors
    /// When `url` is not an absolute URL.
    pub fn parse(url: &str) -> Result<Self, url::ParseError> {
        Url::parse(url).map(Self::new)
    }

    /// Starts describing a hub whose (internal) URL is `url`, in the style
    /// of the client's `Hub::builder`: the result does not depend on the
    /// order of the calls, and problems surface at [`HubInfoBuilder::build`].
    ///
    /// ```
    /// use mercure_core::token::{SigningKey, TokenFactory};
    /// use mercure_core::{HubInfo, ProtocolVersion};
    ///
    /// let factory = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap())
    ///     .protocol(ProtocolVersion::V1)
    ///     .issuer("https://example.com")
    ///     .audience("https://example.com/.well-known/mercure")
    ///     .build()
    ///     .unwrap();
    /// let hub = HubInfo::builder("http://mercure:3000/.well-known/mercure")
    ///     .public_url("https://example.com/.well-known/mercure")
    ///     .token_factory(factory.clone())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(hub.protocol(), ProtocolVersion::V1); // the factory's dialect
    /// assert!(HubInfo::builder("ftp://example.com/hub").build().is_err());
    /// assert!(
    ///     HubInfo::builder("https://example.com/hub")
    ///         .protocol(ProtocolVersion::V0)
    ///         .token_factory(factory)
    ///         .build()
    ///         .is_err()
    /// );
    /// ```
    pub fn builder(url: impl AsRef<str>) -> HubInfoBuilder {
        HubInfoBuilder {
            url: url.as_ref().to_owned(),
            public_url: None,
            protocol: None,
            token_factory: None,
        }
    }

    /// Sets the URL browsers and other subscribers reach the hub at.
    #[must_use]
    pub fn with_public_url(mut self, public_url: Url) -> Self {
        self.public_url = public_url;
        self
    }

    /// Sets the dialect.
    #[must_use]
    pub fn with_protocol(mut self, protocol: ProtocolVersion) -> Self {
        self.protocol = protocol;
        self
    }

    /// Sets the factory minting tokens for this hub.
    #[must_use]
    pub fn with_token_factory(mut self, factory: TokenFactory) -> Self {
        self.token_factory = Some(factory);
        self
    }

    /// The URL this process reaches the hub at (may be internal).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL browsers and other subscribers reach the hub at.
    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// The dialect the hub speaks.
    pub fn protocol(&self) -> ProtocolVersion {
        self.protocol
    }

    /// The factory minting tokens for this hub, if any.
    pub fn token_factory(&self) -> Option<&TokenFactory> {
        self.token_factory.as_ref()
    }
}

/// Why a [`HubInfoBuilder`] cannot describe a hub.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidHub {
    /// A URL does not parse.
    #[error("invalid hub URL {url:?}: {source}")]
    Url {
        /// The text that failed to parse.
        url: String,
        /// Why.
        source: url::ParseError,
    },
    /// A URL is not http(s).
    #[error("a hub URL must be http or https, not {0:?}")]
    Scheme(String),
    /// The token factory mints tokens of another dialect than the one set.
    #[error("the token factory mints {factory} tokens for a {hub} hub")]
    DialectConflict {
        /// The factory's dialect.
        factory: ProtocolVersion,
        /// The dialect set on the builder.
        hub: ProtocolVersion,
    },
}

/// Describes a [`HubInfo`]; see [`HubInfo::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct HubInfoBuilder {
    url: String,
    public_url: Option<String>,
    protocol: Option<ProtocolVersion>,
    token_factory: Option<TokenFactory>,
}

impl HubInfoBuilder {
    /// The URL browsers and other subscribers reach the hub at, when it
    /// differs from the URL this process uses.
    pub fn public_url(mut self, url: impl AsRef<str>) -> Self {
        self.public_url = Some(url.as_ref().to_owned());
        self
    }

    /// The dialect (default: the token factory's, else 0.x).
    pub fn protocol(mut self, protocol: ProtocolVersion) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// The factory minting tokens for this hub.
    pub fn token_factory(mut self, factory: TokenFactory) -> Self {
        self.token_factory = Some(factory);
        self
    }

    /// The description.
    ///
    /// # Errors
    /// [`InvalidHub`]: a URL that does not parse or is not http(s), or a
    /// factory of another dialect than the one set.
    pub fn build(self) -> Result<HubInfo, InvalidHub> {
        let parse = |text: &str| -> Result<Url, InvalidHub> {
            let url = Url::parse(text).map_err(|source| InvalidHub::Url {
                url: text.to_owned(),
                source,
            })?;
            if matches!(url.scheme(), "http" | "https") {
                Ok(url)
            } else {
                Err(InvalidHub::Scheme(url.scheme().to_owned()))
            }
        };
        let url = parse(&self.url)?;
        let public_url = match &self.public_url {
            Some(public) => parse(public)?,
            None => url.clone(),
        };
        let protocol = resolve_protocol(self.protocol, self.token_factory.as_ref())?;
        Ok(HubInfo {
            url,
            public_url,
            protocol,
            token_factory: self.token_factory,
        })
    }
}

/// The dialect of a hub given the one set (if any) and its token factory
/// (if any): they must agree; either decides alone; 0.x by default.
///
/// # Errors
/// [`InvalidHub::DialectConflict`].
pub fn resolve_protocol(
    set: Option<ProtocolVersion>,
    factory: Option<&TokenFactory>,
) -> Result<ProtocolVersion, InvalidHub> {
    match (set, factory) {
        (Some(hub), Some(factory)) if factory.protocol() != hub => {
            Err(InvalidHub::DialectConflict {
                factory: factory.protocol(),
                hub,
            })
        }
        (Some(version), _) => Ok(version),
        (None, Some(factory)) => Ok(factory.protocol()),
        (None, None) => Ok(ProtocolVersion::default()),
    }
}
