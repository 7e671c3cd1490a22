//! JWTs: what a token grants ([`Grants`]), minting it ([`TokenFactory`],
//! [`SigningKey`]), verifying it and reading its claims back ([`Verifier`],
//! [`VerificationKey`], [`Claims`]), in both dialects, and the token itself
//! ([`Token`], never shown in logs). One definition of the Mercure claims
//! serves both directions. Supplying tokens to requests is the client's
//! concern; which issuers, audiences and dialects to trust is the hub's.

mod claims;
mod factory;
mod grants;
mod key;
mod key_set;
mod secret;
#[cfg(test)]
mod test_keys;
mod verifier;

pub use claims::{Claims, LATEST_CLAIM_TIME};
pub use factory::{DEFAULT_TOKEN_LIFETIME, TokenFactory, TokenFactoryBuilder};
pub use grants::{AUTHORIZATION_DETAIL_TYPE, Grants};
pub use key::{SigningKey, VerificationKey};
pub use key_set::{JwksOptions, KeySet, MAX_JWKS_KEYS, MAX_KEY_ID_LEN, MAX_KEYS_TRIED, SkippedKey};
pub use secret::Token;
pub use verifier::{MAX_TOKEN_LEN, UnverifiedToken, Verifier};

pub use jsonwebtoken::Algorithm;
/// JSON Web Keys (RFC 7517), as `jsonwebtoken` models them.
pub use jsonwebtoken::jwk;

/// Why a key could not be built, or a token minted, supplied or verified.
/// Never contains key material or token text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The key cannot be used.
    #[error("invalid {kind} key for {algorithm:?}: {reason}")]
    InvalidKey {
        /// The algorithm the key was meant for.
        algorithm: Algorithm,
        /// Which kind of key: `"signing"` or `"verification"`.
        kind: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The algorithm does not fit the kind of key.
    #[error("algorithm {algorithm:?} does not fit this key: expected {expected}")]
    AlgorithmMismatch {
        /// The algorithm asked for.
        algorithm: Algorithm,
        /// What would fit.
        expected: &'static str,
    },
    /// A claim the dialect requires is not configured.
    #[error("the {claim:?} claim is required by Mercure 1.0 access tokens")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// The lifetime is zero: tokens always expire, and not at once.
    #[error("a token lifetime must be at least one second")]
    InvalidLifetime,
    /// Claims could not be serialized.
    #[error("cannot serialize the claims: {reason}")]
    Serialization {
        /// The serializer's message.
        reason: String,
    },
    /// The crypto backend failed to sign.
    #[error("cannot sign the token: {reason}")]
    Signing {
        /// The backend's message.
        reason: String,
    },
    /// A custom provider failed.
    #[error("the token provider failed: {0}")]
    Provider(String),
    /// An algorithm name (in configuration or a token's header) is not a
    /// JWS signature algorithm; `none` is not one.
    #[error("unknown JWT algorithm {name:?}")]
    UnknownAlgorithm {
        /// The name (its first characters).
        name: String,
    },
    /// No trusted key is bound to the algorithm of the token's header.
    #[error("the algorithm {algorithm:?} is not accepted")]
    UnacceptedAlgorithm {
        /// The token's algorithm.
        algorithm: Algorithm,
    },
    /// The token is not a JWS in compact serialization with a readable
    /// header.
    #[error("malformed token: {reason}")]
    MalformedToken {
        /// What is wrong with it.
        reason: String,
    },
    /// No trusted key verifies the token's signature.
    #[error("the token's signature is invalid")]
    InvalidSignature,
    /// The token's header names a key id (`kid`) no trusted key has, and
    /// no key without an id verifies it.
    #[error("the token's key id (kid) names no trusted key")]
    UnknownKeyId,
    /// A JWK set could not be read.
    #[error("invalid JWK set: {reason}")]
    InvalidKeySet {
        /// What is wrong with it.
        reason: String,
    },
    /// The claims of a verified token are not a JWT claims set of the
    /// expected shape.
    #[error("invalid claims: {reason}")]
    InvalidClaims {
        /// What is wrong with them.
        reason: String,
    },
    /// The token's `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// The token's `nbf` has not come yet.
    #[error("the token is not valid yet")]
    NotYetValid,
}
