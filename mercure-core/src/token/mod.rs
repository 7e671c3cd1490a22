//! JWTs: what a token grants ([`Grants`]), minting it ([`TokenFactory`],
//! [`SigningKey`]) and the token itself ([`Token`], never shown in logs).
//! Supplying tokens to requests is the client's concern.

mod factory;
mod grants;
mod key;
mod secret;

pub use factory::{DEFAULT_TOKEN_LIFETIME, TokenFactory, TokenFactoryBuilder};
pub use grants::{AUTHORIZATION_DETAIL_TYPE, Grants};
pub use key::SigningKey;
pub use secret::Token;

pub use jsonwebtoken::Algorithm;

/// Why a token could not be minted or supplied. Never contains key material
/// or token text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The key cannot be used.
    #[error("invalid {algorithm:?} key: {reason}")]
    InvalidKey {
        /// The algorithm the key was meant for.
        algorithm: Algorithm,
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
}
