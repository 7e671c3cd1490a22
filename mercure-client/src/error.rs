//! The crate's error type.

use std::fmt;

use crate::{BearerChallenge, TokenError};
use mercure_core::{UnknownHub, UpdateError};

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong talking to a hub. Never contains a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The update breaks a protocol rule; nothing was sent.
    #[error("invalid update: {0}")]
    InvalidUpdate(#[from] UpdateError),
    /// No token could be obtained; nothing was sent.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The hub found the request malformed (400).
    #[error("the hub rejected the request as malformed: {0}")]
    BadRequest(HubRejection),
    /// The hub refused the credentials: missing, expired, forged (401).
    #[error("the hub refused the credentials: {0}")]
    Unauthorized(HubRejection),
    /// The token is valid but does not allow this (403).
    #[error("the token does not allow this: {0}")]
    Forbidden(HubRejection),
    /// The request is larger than the hub accepts (413).
    #[error("the update is larger than the hub accepts: {0}")]
    PayloadTooLarge(HubRejection),
    /// The hub failed (5xx).
    #[error("the hub failed: {0}")]
    ServerError(HubRejection),
    /// Any other status.
    #[error("the hub answered with an unexpected status: {0}")]
    UnexpectedStatus(HubRejection),
    /// The hub accepted the update but returned no event id.
    #[error("the hub answered {status} with an empty body instead of the event id")]
    EmptyEventId {
        /// The 2xx status.
        status: u16,
    },
    /// No answer within the configured time.
    #[error("the hub did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// The hub could not be reached, or the connection broke.
    #[error("cannot talk to the hub: {0}")]
    Transport(#[source] reqwest::Error),
    /// A URL could not be parsed.
    #[error("invalid URL {url:?}: {source}")]
    InvalidUrl {
        /// The text that failed to parse.
        url: String,
        /// Why.
        source: url::ParseError,
    },
    /// A hub name is not registered in a [`HubRegistry`](crate::HubRegistry).
    #[error(transparent)]
    UnknownHub(#[from] UnknownHub),
    /// A configuration value is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The hub (or a resource) answered with something this client cannot
    /// use: a stream that is not `text/event-stream`, an oversized event,
    /// a JSON document of the wrong shape.
    #[error("unusable answer: {0}")]
    InvalidResponse(String),
}

impl Error {
    /// The HTTP status the hub answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.rejection().map(|r| r.status).or(match self {
            Error::EmptyEventId { status } => Some(*status),
            _ => None,
        })
    }

    /// The hub's answer, when it refused the request.
    pub fn rejection(&self) -> Option<&HubRejection> {
        match self {
            Error::BadRequest(r)
            | Error::Unauthorized(r)
            | Error::Forbidden(r)
            | Error::PayloadTooLarge(r)
            | Error::ServerError(r)
            | Error::UnexpectedStatus(r) => Some(r),
            _ => None,
        }
    }

    /// Whether sending the same request again later may succeed: timeouts,
    /// connection failures, 5xx, 408 and 429.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout(_) | Error::Transport(_) | Error::ServerError(_) => true,
            Error::UnexpectedStatus(r) => matches!(r.status, 408 | 429),
            _ => false,
        }
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
    }
}

/// A hub's refusal: its status, its message (the response body, truncated)
/// and, from 1.0 hubs, the parsed `WWW-Authenticate: Bearer` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubRejection {
    /// The HTTP status.
    pub status: u16,
    /// The response body, trimmed and truncated to [`HubRejection::MAX_MESSAGE`] bytes.
    pub message: String,
    /// The `Bearer` challenge, if the hub sent one.
    pub challenge: Option<Box<BearerChallenge>>,
}

impl HubRejection {
    /// How much of the response body is kept.
    pub const MAX_MESSAGE: usize = 1024;

    /// Builds a rejection, truncating `message` on a character boundary.
    pub fn new(status: u16, message: &str, challenge: Option<BearerChallenge>) -> Self {
        let message = message.trim();
        let mut end = message.len().min(Self::MAX_MESSAGE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            status,
            message: message[..end].to_owned(),
            challenge: challenge.map(Box::new),
        }
    }
}

impl HubRejection {
    /// The error for this refusal, chosen by its status.
    pub(crate) fn into_error(self) -> Error {
        match self.status {
            400 => Error::BadRequest(self),
            401 => Error::Unauthorized(self),
            403 => Error::Forbidden(self),
            413 => Error::PayloadTooLarge(self),
            500..=599 => Error::ServerError(self),
            _ => Error::UnexpectedStatus(self),
        }
    }
}

impl fmt::Display for HubRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(challenge) = &self.challenge {
            write!(f, " ({challenge})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}
