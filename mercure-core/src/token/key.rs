//! Signing keys, parsed once.

use std::fmt;

use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey};

use super::TokenError;

/// A private key (or HMAC secret) and the algorithm it signs with.
///
/// Parsing happens here, once; minting reuses the parsed key. The key
/// material never appears in `Debug` output.
///
/// ```
/// use mercure_core::token::{Algorithm, SigningKey};
///
/// let key = SigningKey::hmac(Algorithm::HS256, b"!ChangeThisMercureHubJWTSecretKey!").unwrap();
/// assert_eq!(key.algorithm(), Algorithm::HS256);
/// assert!(!format!("{key:?}").contains("ChangeThis"));
/// assert!(SigningKey::hmac(Algorithm::RS256, b"secret").is_err());
/// ```
#[derive(Clone)]
pub struct SigningKey {
    algorithm: Algorithm,
    key: EncodingKey,
    key_id: Option<String>,
}

impl SigningKey {
    /// An HMAC key (`HS256`, `HS384`, `HS512`).
    ///
    /// # Errors
    /// [`TokenError::AlgorithmMismatch`] for a non-HMAC algorithm,
    /// [`TokenError::InvalidKey`] for an empty secret.
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        expect_family(algorithm, AlgorithmFamily::Hmac)?;
        let secret = secret.as_ref();
        if secret.is_empty() {
            return Err(TokenError::InvalidKey {
                algorithm,
                reason: "the HMAC secret is empty".into(),
            });
        }
        Ok(Self::from_parts(
            algorithm,
            EncodingKey::from_secret(secret),
        ))
    }

    /// The `HS256` key most hubs are configured with.
    ///
    /// # Errors
    /// As [`SigningKey::hmac`].
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        Self::hmac(Algorithm::HS256, secret)
    }

    /// A PEM-encoded private key: RSA (`RS*`, `PS*`), EC (`ES256`, `ES384`)
    /// or Ed25519 (`EdDSA`), chosen by `algorithm`.
    ///
    /// # Errors
    /// [`TokenError::InvalidKey`] when the PEM does not hold a key of the
    /// algorithm's family; [`TokenError::AlgorithmMismatch`] for an HMAC
    /// algorithm.
    pub fn from_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        let pem = pem.as_ref();
        let parsed = match algorithm.family() {
            AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(pem),
            AlgorithmFamily::Ec => EncodingKey::from_ec_pem(pem),
            AlgorithmFamily::Ed => EncodingKey::from_ed_pem(pem),
            AlgorithmFamily::Hmac => {
                return Err(TokenError::AlgorithmMismatch {
                    algorithm,
                    expected: "an asymmetric algorithm (RS*, PS*, ES*, EdDSA) for a PEM key",
                });
            }
        };
        let key = parsed.map_err(|error| TokenError::InvalidKey {
            algorithm,
            reason: error.to_string(),
        })?;
        Ok(Self::from_parts(algorithm, key))
    }

    fn from_parts(algorithm: Algorithm, key: EncodingKey) -> Self {
        Self {
            algorithm,
            key,
            key_id: None,
        }
    }

    /// Sets the `kid` header of the tokens signed with this key.
    #[must_use]
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The `kid` header, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.key
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn expect_family(algorithm: Algorithm, family: AlgorithmFamily) -> Result<(), TokenError> {
    if algorithm.family() == family {
        Ok(())
    } else {
        Err(TokenError::AlgorithmMismatch {
            algorithm,
            expected: "an HMAC algorithm (HS256, HS384, HS512) for a shared secret",
        })
    }
}
