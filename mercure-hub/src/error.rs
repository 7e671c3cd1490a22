//! The error type of the hub.

use mercure_core::UpdateError;

/// Everything that can go wrong configuring the hub, publishing to it or
/// subscribing to it. Never contains key material or token text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is inconsistent or incomplete.
    #[error("invalid hub configuration: {0}")]
    InvalidConfig(String),
    /// A verification key cannot be used.
    #[error("invalid verification key: {0}")]
    InvalidKey(String),
    /// The update breaks a rule of the protocol.
    #[error("invalid update: {0}")]
    InvalidUpdate(#[from] UpdateError),
    /// A publish request is malformed (unparsable body, bad `retry`, ...).
    #[error("invalid publish request: {0}")]
    InvalidPublish(String),
    /// A topic addresses the hub's own reserved namespace.
    #[error("the topic {topic:?} is inside the hub's reserved namespace")]
    ReservedTopic {
        /// The offending topic.
        topic: String,
    },
    /// A subscribe request is malformed (no selector, unknown `match*`
    /// parameter, control characters, too many selectors, ...).
    #[error("invalid subscribe request: {0}")]
    InvalidSubscribe(String),
    /// A topic selector cannot be compiled.
    #[error("invalid topic selector {selector:?}: {reason}")]
    InvalidSelector {
        /// The selector's expression.
        selector: String,
        /// Why it does not compile.
        reason: String,
    },
    /// No token was presented where one is required.
    #[error("a token is required")]
    MissingToken,
    /// The presented token was refused (bad signature, expired, wrong
    /// algorithm, wrong audience, malformed claims, ...).
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The token is valid but does not grant what the request needs.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The requested resource does not exist.
    #[error("not found")]
    NotFound,
    /// The hub is shutting down.
    #[error("the hub is closed")]
    Closed,
    /// The transport failed: nothing was published, or the history
    /// cannot be read now (HTTP 503).
    #[error("the hub's history is unavailable: {0}")]
    Unavailable(String),
    /// The client sent more requests than its rate limit allows (HTTP 429
    /// with `Retry-After`).
    #[error("too many requests: try again in {} s", crate::rate::retry_after_seconds(*retry_after))]
    RateLimited {
        /// How long until the client's next request is allowed.
        retry_after: std::time::Duration,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
