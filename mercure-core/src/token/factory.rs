//! Minting tokens.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::grants::MercureClaim;
use super::{Grants, SigningKey, Token, TokenError};
use crate::ProtocolVersion;
use crate::clock::{Clock, SystemClock};

/// The lifetime of minted tokens unless configured otherwise.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Mints JWTs for a dialect with one key.
///
/// Cheap to clone. Every token gets `iat` and `exp` (the lifetime is
/// configurable, never unbounded). 1.0 tokens are RFC 9068 access tokens
/// (`typ: at+jwt`, `iss`, `aud`, `sub`, `client_id`, `jti`), so the issuer
/// and audience are required for them.
///
/// ```
/// use mercure_core::ProtocolVersion;
/// use mercure_core::token::{Grants, SigningKey, TokenFactory};
///
/// let factory = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap())
///     .protocol(ProtocolVersion::V1)
///     .issuer("https://app.example.com")
///     .audience("https://example.com/.well-known/mercure")
///     .build()
///     .unwrap();
/// let token = factory.mint(&Grants::publish_all()).unwrap();
/// assert_eq!(token.expose().split('.').count(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct TokenFactory {
    inner: Arc<FactoryInner>,
}

#[derive(Debug)]
struct FactoryInner {
    key: SigningKey,
    version: ProtocolVersion,
    lifetime: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    client_id: Option<String>,
    clock: Arc<dyn Clock>,
    /// The base64url-encoded JOSE header followed by `.`: constant per factory.
    header_prefix: String,
}

impl TokenFactory {
    /// Starts a factory signing with `key`.
    pub fn builder(key: SigningKey) -> TokenFactoryBuilder {
        TokenFactoryBuilder {
            key,
            version: ProtocolVersion::default(),
            lifetime: DEFAULT_TOKEN_LIFETIME,
            issuer: None,
            audience: None,
            client_id: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The dialect of the minted tokens.
    pub fn protocol(&self) -> ProtocolVersion {
        self.inner.version
    }

    /// The lifetime of the minted tokens.
    pub fn lifetime(&self) -> Duration {
        self.inner.lifetime
    }

    /// The clock stamping `iat` and `exp`.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Mints a token carrying `grants`, valid for the configured lifetime.
    ///
    /// # Errors
    /// [`TokenError::Signing`] when the backend fails to sign.
    pub fn mint(&self, grants: &Grants) -> Result<Token, TokenError> {
        self.mint_for(grants, self.inner.lifetime)
    }

    /// Mints a token valid for `lifetime` instead of the configured one.
    ///
    /// # Errors
    /// [`TokenError::InvalidLifetime`] for a zero lifetime,
    /// [`TokenError::Signing`] when the backend fails to sign.
    pub fn mint_for(&self, grants: &Grants, lifetime: Duration) -> Result<Token, TokenError> {
        if lifetime.is_zero() {
            return Err(TokenError::InvalidLifetime);
        }
        let inner = &*self.inner;
        let issued_at = inner.clock.unix_seconds();
        let expires_at = issued_at.saturating_add(lifetime.as_secs().max(1));
        let jti;
        let claims = Claims {
            iss: inner.issuer.as_deref(),
            aud: inner.audience.as_deref(),
            sub: grants.subject().or(match inner.version {
                ProtocolVersion::V0 => None,
                ProtocolVersion::V1 => inner.client_id.as_deref().or(inner.issuer.as_deref()),
            }),
            client_id: match inner.version {
                ProtocolVersion::V0 => None,
                ProtocolVersion::V1 => inner.client_id.as_deref().or(inner.issuer.as_deref()),
            },
            iat: issued_at,
            exp: expires_at,
            jti: match inner.version {
                ProtocolVersion::V0 => None,
                ProtocolVersion::V1 => {
                    jti = uuid::Uuid::new_v4().hyphenated().to_string();
                    Some(jti.as_str())
                }
            },
            mercure: (inner.version == ProtocolVersion::V0).then_some(MercureClaim {
                grants,
                version: ProtocolVersion::V0,
            }),
            authorization_details: (inner.version == ProtocolVersion::V1).then_some(MercureClaim {
                grants,
                version: ProtocolVersion::V1,
            }),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims with this factory's key and header, for
    /// claims this crate does not model. Prefer [`TokenFactory::mint`].
    ///
    /// # Errors
    /// [`TokenError::Serialization`] or [`TokenError::Signing`].
    pub fn sign<C: Serialize + ?Sized>(&self, claims: &C) -> Result<Token, TokenError> {
        let inner = &*self.inner;
        let json = serde_json::to_vec(claims).map_err(|e| TokenError::Serialization {
            reason: e.to_string(),
        })?;
        let mut token =
            String::with_capacity(inner.header_prefix.len() + json.len() * 4 / 3 + 4 + 2 + 700);
        token.push_str(&inner.header_prefix);
        URL_SAFE_NO_PAD.encode_string(&json, &mut token);
        let signer = (crate::crypto::provider().signer_factory)(
            &inner.key.algorithm(),
            inner.key.encoding_key(),
        )
        .map_err(|e| TokenError::Signing {
            reason: e.to_string(),
        })?;
        let signature = signer
            .try_sign(token.as_bytes())
            .map_err(|e| TokenError::Signing {
                reason: e.to_string(),
            })?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(Token::new(token))
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mercure: Option<MercureClaim<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_details: Option<MercureClaim<'a>>,
}

#[derive(Serialize)]
struct JoseHeader<'a> {
    alg: jsonwebtoken::Algorithm,
    typ: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

/// Configures a [`TokenFactory`]; see [`TokenFactory::builder`].
#[derive(Debug)]
#[must_use]
pub struct TokenFactoryBuilder {
    key: SigningKey,
    version: ProtocolVersion,
    lifetime: Duration,
    issuer: Option<String>,
    audience: Option<String>,
    client_id: Option<String>,
    clock: Arc<dyn Clock>,
}

impl TokenFactoryBuilder {
    /// The dialect of the tokens (default 0.x).
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.version = version;
        self
    }

    /// How long minted tokens stay valid (default one hour).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The `iss` claim (required for 1.0).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud` claim: the hub's resource identifier (required for 1.0).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The `client_id` claim of 1.0 tokens (defaults to the issuer).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The `kid` header of the tokens: which of the verifier's keys checks
    /// them (default: the key's own, [`SigningKey::with_key_id`]).
    ///
    /// ```
    /// use mercure_core::token::{Grants, SigningKey, TokenFactory, UnverifiedToken};
    ///
    /// let factory = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap())
    ///     .key_id("2026-01")
    ///     .build()
    ///     .unwrap();
    /// let token = factory.mint(&Grants::publish_all()).unwrap();
    /// let header = UnverifiedToken::parse(token.expose()).unwrap();
    /// assert_eq!(header.key_id(), Some("2026-01"));
    /// ```
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.key = self.key.with_key_id(kid);
        self
    }

    /// The clock stamping `iat` and `exp` (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the factory.
    ///
    /// # Errors
    /// [`TokenError::InvalidLifetime`] for a zero lifetime;
    /// [`TokenError::MissingClaim`] when a 1.0 factory lacks `iss` or `aud`.
    pub fn build(self) -> Result<TokenFactory, TokenError> {
        if self.lifetime.as_secs() == 0 {
            return Err(TokenError::InvalidLifetime);
        }
        if self.version == ProtocolVersion::V1 {
            if self.issuer.is_none() {
                return Err(TokenError::MissingClaim { claim: "iss" });
            }
            if self.audience.is_none() {
                return Err(TokenError::MissingClaim { claim: "aud" });
            }
        }
        let header = serde_json::to_vec(&JoseHeader {
            alg: self.key.algorithm(),
            typ: self.version.dialect().token_type,
            kid: self.key.key_id(),
        })
        .map_err(|e| TokenError::Serialization {
            reason: e.to_string(),
        })?;
        let mut header_prefix = URL_SAFE_NO_PAD.encode(header);
        header_prefix.push('.');
        Ok(TokenFactory {
            inner: Arc::new(FactoryInner {
                key: self.key,
                version: self.version,
                lifetime: self.lifetime,
                issuer: self.issuer,
                audience: self.audience,
                client_id: self.client_id,
                clock: self.clock,
                header_prefix,
            }),
        })
    }
}
