//! Keys that verify the signatures of the JWTs presented to the hub: the
//! [`VerificationKey`] of `mercure-core`, which builds them by the same
//! rules as the keys that sign them, re-exported.
//!
//! ```
//! use mercure_hub::{Algorithm, VerificationKey};
//!
//! let key = VerificationKey::hmac(Algorithm::HS256, b"!ChangeThisMercureHubJWTSecretKey!").unwrap();
//! assert_eq!(key.algorithm(), Algorithm::HS256);
//! assert!(!format!("{key:?}").contains("ChangeThis"));
//! assert!(VerificationKey::hmac(Algorithm::RS256, b"secret").is_err());
//!
//! // Key errors convert into the hub's error.
//! let error: mercure_hub::Error = VerificationKey::from_config("none", "secret").unwrap_err().into();
//! assert!(matches!(error, mercure_hub::Error::InvalidKey(_)));
//! let error: mercure_hub::Error = VerificationKey::from_config("RS256", "secret").unwrap_err().into();
//! assert!(error.to_string().starts_with("invalid verification key: not a public key in PEM"));
//! assert!(!error.to_string().contains("secret"));
//! ```

use mercure_core::token::TokenError;
pub use mercure_core::token::VerificationKey;

use crate::Error;

impl From<TokenError> for Error {
    /// A key that cannot be built or used is [`Error::InvalidKey`]; any
    /// other token error is about a presented token, [`Error::InvalidToken`].
    /// The text never holds key material or token text.
    fn from(error: TokenError) -> Self {
        match error {
            // Error::InvalidKey says "invalid verification key" already.
            TokenError::InvalidKey {
                algorithm, reason, ..
            } => Error::InvalidKey(format!("{reason} ({algorithm:?})")),
            TokenError::AlgorithmMismatch { .. }
            | TokenError::UnknownAlgorithm { .. }
            | TokenError::InvalidKeySet { .. } => Error::InvalidKey(error.to_string()),
            other => Error::InvalidToken(other.to_string()),
        }
    }
}
