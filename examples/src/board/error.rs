//! What can go wrong on the status board.

use mercure_client::UpdateError;
use mercure_client::token::TokenError;
use mercure_web::CookieError;

/// An error of the status board, mapped to an HTTP status by the apps.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoardError {
    /// No user has that id.
    #[error("no user is called {0:?}")]
    UnknownUser(String),
    /// The request needs a logged-in user.
    #[error("log in first")]
    NotLoggedIn,
    /// A status or a note is empty or too long.
    #[error("{what} must be between 1 and {max} characters")]
    InvalidText {
        /// What was given (`status`, `message`).
        what: &'static str,
        /// The longest accepted length, in characters.
        max: usize,
    },
    /// The settings are inconsistent (a URL that cannot be a base, ...).
    #[error("invalid settings: {0}")]
    Settings(String),
    /// The page cannot be rendered.
    #[error("cannot render the page: {0}")]
    Template(#[from] minijinja::Error),
    /// The update is malformed.
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// The update cannot be serialized.
    #[error("cannot serialize the update: {0}")]
    Json(#[from] serde_json::Error),
    /// The publisher or cookie token cannot be minted.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The authorization cookie cannot be built.
    #[error(transparent)]
    Cookie(#[from] CookieError),
    /// The hub refused the update or could not be reached.
    #[error("publishing failed: {0}")]
    Publish(#[from] mercure_client::Error),
    /// The embedded hub cannot be configured.
    #[error("hub: {0}")]
    Hub(#[from] mercure_hub::Error),
}

impl BoardError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            BoardError::UnknownUser(_) => 404,
            BoardError::NotLoggedIn => 401,
            BoardError::InvalidText { .. } => 422,
            BoardError::Publish(_) => 502,
            _ => 500,
        }
    }
}
