//! Keys that verify the signatures of the JWTs presented to the hub.

use std::fmt;

use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use crate::Error;

/// A key verifying JWT signatures, bound to one algorithm.
///
/// A token whose header names another algorithm is refused, so an HMAC
/// secret can never be confused with a public key (the classic algorithm
/// substitution attack), and `alg: none` is never accepted. The key
/// material never appears in `Debug` output.
///
/// ```
/// use mercure_hub::{Algorithm, VerificationKey};
///
/// let key = VerificationKey::hmac(Algorithm::HS256, b"!ChangeThisMercureHubJWTSecretKey!").unwrap();
/// assert_eq!(key.algorithm(), Algorithm::HS256);
/// assert!(!format!("{key:?}").contains("ChangeThis"));
/// assert!(VerificationKey::hmac(Algorithm::RS256, b"secret").is_err());
/// ```
#[derive(Clone)]
pub struct VerificationKey {
    algorithm: Algorithm,
    key: DecodingKey,
}

impl VerificationKey {
    /// A shared HMAC secret (`HS256`, `HS384` or `HS512`).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a non-HMAC algorithm or an empty secret.
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        if algorithm.family() != AlgorithmFamily::Hmac {
            return Err(Error::InvalidKey(format!(
                "{algorithm:?} is not an HMAC algorithm (HS256, HS384, HS512)"
            )));
        }
        let secret = secret.as_ref();
        if secret.is_empty() {
            return Err(Error::InvalidKey("the HMAC secret is empty".into()));
        }
        Ok(Self {
            algorithm,
            key: DecodingKey::from_secret(secret),
        })
    }

    /// The `HS256` secret most hubs are configured with.
    ///
    /// # Errors
    /// As [`VerificationKey::hmac`].
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        Self::hmac(Algorithm::HS256, secret)
    }

    /// A PEM-encoded public key: RSA (`RS*`, `PS*`), EC (`ES256`, `ES384`)
    /// or Ed25519 (`EdDSA`), as `algorithm` says.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when the PEM does not hold a public key of the
    /// algorithm's family, or for an HMAC algorithm.
    pub fn from_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, Error> {
        let pem = pem.as_ref();
        let parsed = match algorithm.family() {
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(pem),
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem),
            AlgorithmFamily::Ed => DecodingKey::from_ed_pem(pem),
            AlgorithmFamily::Hmac => {
                return Err(Error::InvalidKey(format!(
                    "{algorithm:?} is an HMAC algorithm: use VerificationKey::hmac for a shared secret"
                )));
            }
        };
        let key = parsed.map_err(|error| {
            Error::InvalidKey(format!("not a {algorithm:?} public key in PEM: {error}"))
        })?;
        Ok(Self { algorithm, key })
    }

    /// Builds a key from an algorithm name and key text as found in
    /// configuration: an HMAC secret for `HS*`, a PEM public key otherwise.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for an unknown algorithm or unusable key.
    pub fn from_config(algorithm: &str, key: &str) -> Result<Self, Error> {
        let algorithm: Algorithm = algorithm
            .trim()
            .parse()
            .map_err(|_| Error::InvalidKey(format!("unknown JWT algorithm {algorithm:?}")))?;
        if algorithm.family() == AlgorithmFamily::Hmac {
            Self::hmac(algorithm, key.as_bytes())
        } else {
            Self::from_pem(algorithm, key.as_bytes())
        }
    }

    /// The only algorithm this key accepts.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("algorithm", &self.algorithm)
            .field("key", &"<redacted>")
            .finish()
    }
}
