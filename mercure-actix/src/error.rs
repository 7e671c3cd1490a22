//! The crate's error type.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use mercure_client::{CookieError, HubUrlError, LinkError};

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong preparing Mercure headers for a response. Never contains
/// a token.
///
/// As a response it is `400 Bad Request` when the request's host is missing
/// or malformed, `403 Forbidden` when the topic authorizer refuses a
/// server-selected stream, and `500 Internal Server Error` otherwise (a
/// configuration problem: the details go to the log, not to the client).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request carries no `Host` header and no authority in its URI, so
    /// the cookie's `Domain` cannot be derived.
    #[error("the request names no host")]
    MissingHost,
    /// The `Host` header is not valid UTF-8.
    #[error("the request's Host header is not valid text")]
    InvalidHost,
    /// No [`Mercure`](crate::Mercure) was registered as application data.
    #[error("no Mercure configuration is registered as application data")]
    NotConfigured,
    /// The authorization cookie cannot be built.
    #[error(transparent)]
    Cookie(#[from] CookieError),
    /// A subscription URL cannot be built.
    #[error(transparent)]
    HubUrl(#[from] HubUrlError),
    /// A discovery link cannot be built.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The topic authorizer refused a topic of a server-selected stream.
    #[error("the subscriber may not read the topic {0:?}")]
    TopicDenied(String),
    /// The operation needs the embedded hub, and none is attached.
    #[error("no embedded hub is attached to the Mercure configuration")]
    NoEmbeddedHub,
    /// The embedded hub refused the operation.
    #[cfg(feature = "embedded-hub")]
    #[error(transparent)]
    Hub(#[from] mercure_hub::Error),
    /// The client side of the hub could not be configured.
    #[error(transparent)]
    Client(#[from] mercure_client::Error),
    /// A value cannot be sent in a header.
    #[error("the {0} header value contains characters HTTP does not allow")]
    InvalidHeaderValue(&'static str),
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::MissingHost
            | Error::InvalidHost
            | Error::Cookie(CookieError::InvalidRequestHost(_)) => StatusCode::BAD_REQUEST,
            Error::TopicDenied(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "cannot prepare the Mercure authorization");
            HttpResponse::build(status).body("cannot prepare the Mercure authorization")
        } else if status == StatusCode::FORBIDDEN {
            tracing::debug!(error = %self, "refusing a stream");
            HttpResponse::build(status).body("forbidden")
        } else {
            tracing::debug!(error = %self, "refusing a request without a usable host");
            HttpResponse::build(status).body(self.to_string())
        }
    }
}
