//! Where the board and its hub are, and the key they share.

use std::fmt;
use std::net::SocketAddr;

use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_client::{Hub, ProtocolVersion, TopicSelector};
use mercure_hub::{HubConfig, VerificationKey};
use url::Url;

use crate::board::{BoardError, Topics};

/// The demo's JWT secret, shared by the app (which signs) and the hub
/// (which verifies). Any real deployment sets its own.
pub const DEMO_SECRET: &str = "!ChangeThisMercureHubJWTSecretKey!";

/// The board's settings: its own URL, its hub's public URL, the secret
/// the two share and the dialect they speak.
#[derive(Clone)]
pub struct BoardSettings {
    base_url: Url,
    hub_url: Url,
    secret: Vec<u8>,
    protocol: ProtocolVersion,
}

impl fmt::Debug for BoardSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoardSettings")
            .field("base_url", &self.base_url.as_str())
            .field("hub_url", &self.hub_url.as_str())
            .field("secret", &"<redacted>")
            .field("protocol", &self.protocol)
            .finish()
    }
}

impl BoardSettings {
    /// A board reached at `base_url` whose hub is at `hub_url`, signing
    /// with [`DEMO_SECRET`] in the 0.x dialect.
    ///
    /// # Errors
    /// [`BoardError::Settings`] when `base_url` cannot be a base.
    pub fn new(base_url: Url, hub_url: Url) -> Result<Self, BoardError> {
        if base_url.cannot_be_a_base() {
            return Err(BoardError::Settings(format!(
                "{base_url} cannot be a base URL"
            )));
        }
        let mut base_url = base_url;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Ok(Self {
            base_url,
            hub_url,
            secret: DEMO_SECRET.as_bytes().to_vec(),
            protocol: ProtocolVersion::V0,
        })
    }

    /// A board served at `addr` with its hub embedded at
    /// `/.well-known/mercure` of the same origin.
    pub fn local(addr: SocketAddr) -> Self {
        let base = format!("http://{addr}/");
        let hub = format!("http://{addr}/.well-known/mercure");
        Self {
            base_url: Url::parse(&base).expect("a socket address makes a valid URL"),
            hub_url: Url::parse(&hub).expect("a socket address makes a valid URL"),
            secret: DEMO_SECRET.as_bytes().to_vec(),
            protocol: ProtocolVersion::V0,
        }
    }

    /// Signs and verifies tokens with `secret` (HS256).
    #[must_use]
    pub fn secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secret = secret.as_ref().to_vec();
        self
    }

    /// Speaks `version` of the protocol (topics, cookie name, tokens).
    #[must_use]
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.protocol = version;
        self
    }

    /// Where the board is reached (ends with `/`).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The hub's public URL.
    pub fn hub_url(&self) -> &Url {
        &self.hub_url
    }

    /// The dialect.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.protocol
    }

    /// The board's topics.
    pub fn topics(&self) -> Topics {
        Topics::new(self.base_url.clone(), self.protocol)
    }

    /// The factory minting the board's tokens (the cookies' and the
    /// publisher's), with the shared secret.
    ///
    /// # Errors
    /// [`BoardError::Token`] for an unusable secret.
    pub fn token_factory(&self) -> Result<TokenFactory, BoardError> {
        let mut factory =
            TokenFactory::builder(SigningKey::hs256(&self.secret)?).protocol(self.protocol);
        if self.protocol != ProtocolVersion::V0 {
            // RFC 9068 access tokens: the board issues them, for the hub.
            factory = factory
                .issuer(self.base_url.as_str())
                .audience(self.hub_url.as_str());
        }
        Ok(factory.build()?)
    }

    /// The client of the board's hub: it publishes with a token allowed
    /// to publish the board's topics only, and mints the cookies.
    ///
    /// # Errors
    /// [`BoardError::Token`], [`BoardError::Settings`] for an unusable hub
    /// URL.
    pub fn hub(&self) -> Result<Hub, BoardError> {
        let topics = self.topics();
        let grants = Grants::new().publish([
            TopicSelector::exact(topics.status()),
            topics.all_notifications(),
        ]);
        Hub::builder(self.hub_url.as_str())
            .protocol(self.protocol)
            .token_factory(self.token_factory()?, grants)
            .build()
            .map_err(|error| BoardError::Settings(format!("hub URL: {error}")))
    }

    /// The configuration of a hub embedded for the board: at the hub URL,
    /// verifying the board's tokens, accepting anonymous subscribers
    /// (visitors follow the public statuses), and letting the board's
    /// origin subscribe with credentials when the hub is on another one.
    ///
    /// # Errors
    /// [`BoardError::Hub`].
    pub fn hub_config(&self) -> Result<HubConfig, BoardError> {
        let mut config = HubConfig::builder()
            .url(self.hub_url.as_str())
            .key(VerificationKey::hs256(&self.secret)?)
            .anonymous(true);
        if self.protocol != ProtocolVersion::V0 {
            // Trust 1.0 tokens issued by the board only.
            config = config.issuer(self.base_url.as_str());
        }
        // A hub on another origin (another port) must let the board's
        // pages subscribe with their cookie.
        let origin = self.base_url.origin();
        if origin != self.hub_url.origin() {
            config = config.cors_origin(origin.ascii_serialization());
        }
        Ok(config.build()?)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn base_urls_end_with_a_slash_and_must_be_bases() {
        let hub = url("http://127.0.0.1:3000/.well-known/mercure");
        let settings = BoardSettings::new(url("http://127.0.0.1:3000/board"), hub.clone()).unwrap();
        assert_eq!(settings.base_url().as_str(), "http://127.0.0.1:3000/board/");
        assert!(matches!(
            BoardSettings::new(url("mailto:board@example.com"), hub),
            Err(BoardError::Settings(_))
        ));
    }

    #[test]
    fn debug_hides_the_secret() {
        let settings =
            BoardSettings::local("127.0.0.1:3000".parse().unwrap()).secret("s3cr3t-value");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn a_hub_on_another_origin_lets_the_board_subscribe() {
        let settings = BoardSettings::new(
            url("http://127.0.0.1:3000/"),
            url("http://127.0.0.1:4000/.well-known/mercure"),
        )
        .unwrap();
        let debug = format!("{:?}", settings.hub_config().unwrap());
        assert!(debug.contains("http://127.0.0.1:3000"), "{debug}");
        let local = BoardSettings::local("127.0.0.1:3000".parse().unwrap());
        let debug = format!("{:?}", local.hub_config().unwrap());
        assert!(debug.contains("cors_origins: []"), "{debug}");
    }

    #[test]
    fn one_dot_zero_tokens_name_issuer_and_audience() {
        let settings =
            BoardSettings::local("127.0.0.1:3000".parse().unwrap()).protocol(ProtocolVersion::V1);
        let token = settings
            .token_factory()
            .unwrap()
            .mint(&Grants::new().subscribe(["http://127.0.0.1:3000/board/status"]))
            .unwrap();
        let payload = token.expose().split('.').nth(1).unwrap().to_owned();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["iss"], "http://127.0.0.1:3000/");
        assert_eq!(claims["aud"], "http://127.0.0.1:3000/.well-known/mercure");
    }
}
