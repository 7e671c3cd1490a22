//! The crate's error type.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use mercure_web::WebError;

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong preparing Mercure headers or a stream for a response,
/// or configuring [`Mercure`](crate::Mercure). Never contains a token. As a
/// response: [`WebError::status`] and [`WebError::public_message`], `500`
/// otherwise (details go to the log only).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Preparing the Mercure headers or stream of a response failed.
    #[error(transparent)]
    Web(#[from] WebError),
    /// No [`Mercure`](crate::Mercure) is registered as application data.
    #[error("no Mercure configuration is registered as application data")]
    NotConfigured,
    /// The client of a hub cannot be configured.
    #[error(transparent)]
    Client(#[from] mercure_client::Error),
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        let status = if let Error::Web(error) = self {
            error.status()
        } else {
            500
        };
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let message = if let Error::Web(error) = self {
            error.log();
            error.public_message()
        } else {
            tracing::error!(error = %self, "cannot prepare the Mercure authorization");
            "cannot prepare the Mercure authorization".to_owned()
        };
        HttpResponse::build(self.status_code()).body(message)
    }
}
