//! The crate's error type.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

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
    /// The hub answered a publish with a 2xx whose body is not an event id:
    /// an HTML page, several words, control characters, an id longer than
    /// [`MAX_EVENT_ID_LEN`](crate::MAX_EVENT_ID_LEN).
    #[error("the hub answered {status} with something that is not an event id: {reason}")]
    InvalidEventId {
        /// The 2xx status.
        status: u16,
        /// What is wrong with the body (never the body itself).
        reason: String,
    },
    /// The hub answered with a redirect this client does not follow: to
    /// another origin (scheme, host and port), one that would turn the
    /// request into a GET (301, 302, 303), or too many in a row; or an HTTP
    /// client given by the caller followed one to another origin. See
    /// [`http_client`](crate::http_client).
    #[error("{}", redirect_message(*.status, .location.as_deref()))]
    Redirect {
        /// The redirect status (3xx), or the status of the answer from
        /// another origin that the caller's HTTP client reached.
        status: u16,
        /// Where the hub pointed, without query, fragment or credentials
        /// (which may hold a token echoed back).
        location: Option<String>,
    },
    /// An answer is larger than this client accepts; nothing of it was used.
    #[error("{what} is larger than the {limit} bytes accepted")]
    ResponseTooLarge {
        /// What was being read.
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// No answer within the configured time.
    #[error("the hub did not answer in time")]
    Timeout(#[source] reqwest::Error),
    /// An operation made of several requests (discovery) did not finish
    /// within its overall deadline.
    #[error("gave up after the {0:?} deadline")]
    DeadlineExceeded(Duration),
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
            Error::EmptyEventId { status }
            | Error::InvalidEventId { status, .. }
            | Error::Redirect { status, .. } => Some(*status),
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

    /// Whether sending the same request again later may succeed: timeouts
    /// (deadlines included), connection failures, 5xx, 408 and 429.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout(_)
            | Error::DeadlineExceeded(_)
            | Error::Transport(_)
            | Error::ServerError(_) => true,
            Error::UnexpectedStatus(r) => matches!(r.status, 408 | 429),
            _ => false,
        }
    }

    /// Whether this is a timeout, or an overall deadline that passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_) | Error::DeadlineExceeded(_))
    }
}

fn redirect_message(status: u16, location: Option<&str>) -> String {
    match location {
        Some(location) => format!(
            "the hub redirected to {location} (HTTP {status}), which this client does not use: \
             only redirects to the same origin that keep the method (307, 308) are followed"
        ),
        None => format!("the hub answered with a redirect (HTTP {status}) and no usable location"),
    }
}

/// A hub's refusal: its status, its message (the response body, truncated)
/// and, from 1.0 hubs, the parsed `WWW-Authenticate: Bearer` challenge.
///
/// Everything in it comes from the network and is bounded: the message is
/// cut at [`HubRejection::MAX_MESSAGE`] bytes, each field of the challenge
/// at [`HubRejection::MAX_CHALLENGE_FIELD`], and control characters
/// (terminal escapes, line breaks) are replaced, so that printing an error
/// is safe.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubRejection {
    /// The HTTP status.
    pub status: u16,
    /// The response body, trimmed, truncated to [`HubRejection::MAX_MESSAGE`]
    /// bytes, control characters replaced.
    pub message: String,
    /// The `Bearer` challenge, if the hub sent one.
    pub challenge: Option<Box<BearerChallenge>>,
}

impl HubRejection {
    /// How much of the response body is kept.
    pub const MAX_MESSAGE: usize = 1024;

    /// How much of each field of a `WWW-Authenticate` challenge is kept.
    pub const MAX_CHALLENGE_FIELD: usize = 256;

    /// Builds a rejection, truncating `message` on a character boundary
    /// and replacing its control characters; the challenge's fields are
    /// bounded the same way.
    pub fn new(status: u16, message: &str, challenge: Option<BearerChallenge>) -> Self {
        Self {
            status,
            message: printable(message.trim(), Self::MAX_MESSAGE),
            challenge: challenge.map(|mut challenge| {
                for field in [
                    &mut challenge.realm,
                    &mut challenge.error,
                    &mut challenge.error_description,
                    &mut challenge.error_uri,
                    &mut challenge.scope,
                    &mut challenge.resource_metadata,
                ]
                .into_iter()
                .flatten()
                {
                    *field = printable(field, Self::MAX_CHALLENGE_FIELD);
                }
                Box::new(challenge)
            }),
        }
    }
}

/// The first `Bearer` challenge among the `WWW-Authenticate` headers.
///
/// Values are capped by the HTTP stack (hyper bounds a response head);
/// what is kept of the fields is bounded by [`HubRejection::new`].
pub(crate) fn bearer_challenge(headers: &HeaderMap) -> Option<BearerChallenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .take(8)
        .filter_map(|v| v.to_str().ok())
        .find_map(BearerChallenge::parse)
}

/// `text` cut to at most `max` bytes on a character boundary, with line
/// breaks and tabs turned into spaces and other control characters into
/// U+FFFD: text from a peer that is safe to print.
pub(crate) fn printable(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end]
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
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
