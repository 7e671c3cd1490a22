//! A minted token, kept out of logs.

use std::fmt;
use std::sync::Arc;

/// A JWT in compact serialization.
///
/// Its text is never shown by `Debug` (there is no `Display`): read it with
/// [`Token::expose`] where it must leave the process.
///
/// ```
/// use mercure_core::token::Token;
///
/// let token = Token::new("eyJhbGciOiJIUzI1NiJ9.e30.sig");
/// assert_eq!(format!("{token:?}"), "Token(<redacted>)");
/// assert_eq!(token.expose(), "eyJhbGciOiJIUzI1NiJ9.e30.sig");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        Self(token.into())
    }

    /// The token's text, for an `Authorization` header, a cookie or a URL.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `Authorization` header value (`Bearer <token>`).
    pub fn bearer(&self) -> String {
        let mut value = String::with_capacity(7 + self.0.len());
        value.push_str("Bearer ");
        value.push_str(&self.0);
        value
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl From<String> for Token {
    fn from(token: String) -> Self {
        Self::new(token)
    }
}

impl From<&str> for Token {
    fn from(token: &str) -> Self {
        Self::new(token)
    }
}
