//! The crate's error type.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
    /// The client of a hub cannot be configured.
    #[error(transparent)]
    Client(#[from] mercure_client::Error),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Error::Web(error) => {
                error.log();
                (error.status(), error.public_message())
            }
            Error::Client(error) => {
                tracing::error!(%error, "cannot configure the Mercure client");
                (500, "cannot prepare the Mercure authorization".to_owned())
            }
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, message).into_response()
    }
}
