//! Signing and verification keys, parsed once.
//!
//! Both kinds share one set of rules: an HMAC secret for `HS*`, a PEM key of
//! the algorithm's family otherwise, and one algorithm per key.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};

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
        let secret = hmac_secret(algorithm, secret.as_ref(), <EncodingKey as KeyKind>::KIND)?;
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
        let key = parse_pem::<EncodingKey>(algorithm, pem.as_ref())?;
        Ok(Self::from_parts(algorithm, key))
    }

    /// Builds a key from an algorithm name and key text as found in
    /// configuration: an HMAC secret for `HS*`, a PEM private key otherwise.
    ///
    /// ```
    /// use mercure_core::token::{Algorithm, SigningKey};
    ///
    /// let key = SigningKey::from_config("HS512", "a secret").unwrap();
    /// assert_eq!(key.algorithm(), Algorithm::HS512);
    /// assert!(SigningKey::from_config("none", "a secret").is_err());
    /// ```
    ///
    /// # Errors
    /// [`TokenError::UnknownAlgorithm`] for an unknown algorithm name, and
    /// the errors of [`SigningKey::hmac`] and [`SigningKey::from_pem`].
    pub fn from_config(algorithm: &str, key: &str) -> Result<Self, TokenError> {
        let algorithm = parse_algorithm(algorithm)?;
        if algorithm.family() == AlgorithmFamily::Hmac {
            Self::hmac(algorithm, key)
        } else {
            Self::from_pem(algorithm, key)
        }
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

/// A key verifying JWT signatures, bound to one algorithm: the counterpart
/// of [`SigningKey`], with the same constructors.
///
/// A token whose header names another algorithm is refused, so an HMAC
/// secret can never be confused with a public key (the classic algorithm
/// substitution attack), and `alg: none` is never accepted. The key
/// material never appears in `Debug` output. Verify tokens with a
/// [`Verifier`](super::Verifier).
///
/// ```
/// use mercure_core::token::{Algorithm, VerificationKey};
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
    key_id: Option<Arc<str>>,
}

impl VerificationKey {
    /// A shared HMAC secret (`HS256`, `HS384` or `HS512`).
    ///
    /// # Errors
    /// [`TokenError::AlgorithmMismatch`] for a non-HMAC algorithm,
    /// [`TokenError::InvalidKey`] for an empty secret.
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        let secret = hmac_secret(algorithm, secret.as_ref(), <DecodingKey as KeyKind>::KIND)?;
        Ok(Self::from_parts(
            algorithm,
            DecodingKey::from_secret(secret),
        ))
    }

    /// The `HS256` secret most hubs are configured with.
    ///
    /// # Errors
    /// As [`VerificationKey::hmac`].
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        Self::hmac(Algorithm::HS256, secret)
    }

    /// A PEM-encoded public key: RSA (`RS*`, `PS*`), EC (`ES256`, `ES384`)
    /// or Ed25519 (`EdDSA`), as `algorithm` says.
    ///
    /// # Errors
    /// [`TokenError::InvalidKey`] when the PEM does not hold a public key of
    /// the algorithm's family; [`TokenError::AlgorithmMismatch`] for an HMAC
    /// algorithm.
    pub fn from_pem(algorithm: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, TokenError> {
        let key = parse_pem::<DecodingKey>(algorithm, pem.as_ref())?;
        Ok(Self::from_parts(algorithm, key))
    }

    /// Builds a key from an algorithm name and key text as found in
    /// configuration: an HMAC secret for `HS*`, a PEM public key otherwise.
    ///
    /// ```
    /// use mercure_core::token::{Algorithm, VerificationKey};
    ///
    /// let key = VerificationKey::from_config(" HS256 ", "a secret").unwrap();
    /// assert_eq!(key.algorithm(), Algorithm::HS256);
    /// assert!(VerificationKey::from_config("none", "a secret").is_err());
    /// assert!(VerificationKey::from_config("RS256", "not a PEM").is_err());
    /// ```
    ///
    /// # Errors
    /// [`TokenError::UnknownAlgorithm`] for an unknown algorithm name, and
    /// the errors of [`VerificationKey::hmac`] and
    /// [`VerificationKey::from_pem`].
    pub fn from_config(algorithm: &str, key: &str) -> Result<Self, TokenError> {
        let algorithm = parse_algorithm(algorithm)?;
        if algorithm.family() == AlgorithmFamily::Hmac {
            Self::hmac(algorithm, key)
        } else {
            Self::from_pem(algorithm, key)
        }
    }

    pub(super) fn from_parts(algorithm: Algorithm, key: DecodingKey) -> Self {
        Self {
            algorithm,
            key,
            key_id: None,
        }
    }

    /// Names this key: a token whose header has a `kid` is verified by the
    /// keys of that id first (see [`KeySet`](super::KeySet)).
    #[must_use]
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(Arc::from(key_id.into()));
        self
    }

    /// The key's id (`kid`), if any.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
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
            .field("key_id", &self.key_id)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The longest algorithm name quoted back in an error.
const MAX_QUOTED_NAME: usize = 32;

/// Parses a JWS algorithm name (`HS256`, `RS256`, `EdDSA`, ...), ignoring
/// surrounding whitespace. `none` is not an algorithm.
pub(super) fn parse_algorithm(name: &str) -> Result<Algorithm, TokenError> {
    name.trim()
        .parse()
        .map_err(|_| TokenError::UnknownAlgorithm {
            name: name.chars().take(MAX_QUOTED_NAME).collect(),
        })
}

/// Checks that `algorithm` is an HMAC one and `secret` is not empty.
fn hmac_secret<'a>(
    algorithm: Algorithm,
    secret: &'a [u8],
    kind: &'static str,
) -> Result<&'a [u8], TokenError> {
    if algorithm.family() != AlgorithmFamily::Hmac {
        return Err(TokenError::AlgorithmMismatch {
            algorithm,
            expected: "an HMAC algorithm (HS256, HS384, HS512) for a shared secret",
        });
    }
    if secret.is_empty() {
        return Err(TokenError::InvalidKey {
            algorithm,
            kind,
            reason: "the HMAC secret is empty".into(),
        });
    }
    Ok(secret)
}

/// The kind of a key, for error messages.
trait KeyKind {
    /// `signing` or `verification`.
    const KIND: &'static str;
    /// What a PEM must hold.
    const PEM: &'static str;
}

impl KeyKind for EncodingKey {
    const KIND: &'static str = "signing";
    const PEM: &'static str = "private key";
}

impl KeyKind for DecodingKey {
    const KIND: &'static str = "verification";
    const PEM: &'static str = "public key";
}

/// A key type parsed from PEM per algorithm family: private keys sign,
/// public keys verify.
trait PemKey: KeyKind + Sized {
    fn rsa(pem: &[u8]) -> jsonwebtoken::errors::Result<Self>;
    fn ec(pem: &[u8]) -> jsonwebtoken::errors::Result<Self>;
    fn ed(pem: &[u8]) -> jsonwebtoken::errors::Result<Self>;
}

impl PemKey for EncodingKey {
    fn rsa(pem: &[u8]) -> jsonwebtoken::errors::Result<Self> {
        Self::from_rsa_pem(pem)
    }
    fn ec(pem: &[u8]) -> jsonwebtoken::errors::Result<Self> {
        Self::from_ec_pem(pem)
    }
    fn ed(pem: &[u8]) -> jsonwebtoken::errors::Result<Self> {
        Self::from_ed_pem(pem)
    }
}

impl PemKey for DecodingKey {
    fn rsa(pem: &[u8]) -> jsonwebtoken::errors::Result<Self> {
        Self::from_rsa_pem(pem)
    }
    fn ec(pem: &[u8]) -> jsonwebtoken::errors::Result<Self> {
        Self::from_ec_pem(pem)
    }
    fn ed(pem: &[u8]) -> jsonwebtoken::errors::Result<Self> {
        Self::from_ed_pem(pem)
    }
}

/// Parses a PEM key of `algorithm`'s family. The error never quotes the PEM.
fn parse_pem<K: PemKey>(algorithm: Algorithm, pem: &[u8]) -> Result<K, TokenError> {
    let parsed = match algorithm.family() {
        AlgorithmFamily::Rsa => K::rsa(pem),
        AlgorithmFamily::Ec => K::ec(pem),
        AlgorithmFamily::Ed => K::ed(pem),
        AlgorithmFamily::Hmac => {
            return Err(TokenError::AlgorithmMismatch {
                algorithm,
                expected: "an asymmetric algorithm (RS*, PS*, ES*, EdDSA) for a PEM key",
            });
        }
    };
    parsed.map_err(|error| TokenError::InvalidKey {
        algorithm,
        kind: K::KIND,
        reason: format!("not a {} in PEM: {error}", K::PEM),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::test_keys::{EC256_PRIVATE, EC256_PUBLIC, ED25519_PUBLIC};

    #[test]
    fn both_kinds_of_keys_follow_the_same_rules() {
        for algorithm in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            assert!(matches!(
                SigningKey::hmac(algorithm, b"s"),
                Err(TokenError::AlgorithmMismatch { .. })
            ));
            assert!(matches!(
                VerificationKey::hmac(algorithm, b"s"),
                Err(TokenError::AlgorithmMismatch { .. })
            ));
        }
        assert!(matches!(
            VerificationKey::hs256(b""),
            Err(TokenError::InvalidKey { .. })
        ));
        assert!(matches!(
            SigningKey::hs256(b""),
            Err(TokenError::InvalidKey { .. })
        ));
        assert!(matches!(
            VerificationKey::from_pem(Algorithm::HS256, EC256_PUBLIC),
            Err(TokenError::AlgorithmMismatch { .. })
        ));
        assert!(VerificationKey::from_pem(Algorithm::ES256, EC256_PUBLIC).is_ok());
        assert!(VerificationKey::from_pem(Algorithm::EdDSA, ED25519_PUBLIC).is_ok());
        assert!(SigningKey::from_pem(Algorithm::ES256, EC256_PRIVATE).is_ok());
        // A public key where a private one is expected, and the reverse.
        assert!(SigningKey::from_pem(Algorithm::ES256, EC256_PUBLIC).is_err());
        assert!(VerificationKey::from_pem(Algorithm::RS256, EC256_PUBLIC).is_err());
    }

    #[test]
    fn errors_and_debug_output_never_show_key_material() {
        let secret = "TopSecretHmacKeyMaterial";
        for text in [
            format!("{:?}", VerificationKey::hs256(secret).unwrap()),
            format!("{:?}", SigningKey::hs256(secret).unwrap()),
            VerificationKey::from_config("RS256", secret)
                .unwrap_err()
                .to_string(),
            SigningKey::from_config("ES256", secret)
                .unwrap_err()
                .to_string(),
            format!("{:?}", VerificationKey::from_config("EdDSA", secret)),
        ] {
            assert!(!text.contains(secret), "{text}");
        }
        let pem = std::str::from_utf8(EC256_PUBLIC).unwrap();
        let body = pem.lines().nth(1).unwrap();
        let error = VerificationKey::from_config("RS256", pem).unwrap_err();
        assert!(!error.to_string().contains(body), "{error}");
        assert!(!format!("{error:?}").contains(body), "{error:?}");
    }

    #[test]
    fn errors_name_the_kind_of_key() {
        let error = VerificationKey::from_config("RS256", "not a PEM").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid verification key for RS256"),
            "{error}"
        );
        let error = SigningKey::hs256("").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid signing key for HS256"),
            "{error}"
        );
    }

    #[test]
    fn configuration_names_algorithms() {
        assert_eq!(
            VerificationKey::from_config("ES256", std::str::from_utf8(EC256_PUBLIC).unwrap())
                .unwrap()
                .algorithm(),
            Algorithm::ES256
        );
        for name in ["none", "", "hs256", "HS1024"] {
            assert!(matches!(
                VerificationKey::from_config(name, "secret"),
                Err(TokenError::UnknownAlgorithm { .. })
            ));
        }
        let long = "X".repeat(1000);
        match parse_algorithm(&long) {
            Err(TokenError::UnknownAlgorithm { name }) => assert!(name.len() <= MAX_QUOTED_NAME),
            other => panic!("{other:?}"),
        }
    }
}
