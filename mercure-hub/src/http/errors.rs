//! Errors as HTTP responses; `WWW-Authenticate: Bearer` challenges when 1.0
//! is spoken (RFC 6750 §3, RFC 9728 §5.1).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mercure_core::ProtocolVersion;

use super::metadata::metadata_url;
use crate::{EmbeddedHub, Error};

/// The response for `error`.
pub(super) fn respond(hub: &EmbeddedHub, error: &Error) -> Response {
    let (status, challenge) = match error {
        Error::MissingToken => (StatusCode::UNAUTHORIZED, Some(None)),
        Error::InvalidToken(_) => (StatusCode::UNAUTHORIZED, Some(Some("invalid_token"))),
        Error::Forbidden(_) => (StatusCode::FORBIDDEN, Some(Some("insufficient_scope"))),
        Error::NotFound => (StatusCode::NOT_FOUND, None),
        Error::Closed | Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
        Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, None),
        Error::InvalidConfig(_) | Error::InvalidKey(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
        _ => (StatusCode::BAD_REQUEST, None),
    };
    // Why a token was refused stays in the log: telling the client would
    // help whoever forges tokens (draft-08, "Error Responses").
    let public = match error {
        Error::InvalidToken(reason) => {
            tracing::debug!(%reason, "token refused");
            "the token is invalid".to_owned()
        }
        Error::Unavailable(reason) => {
            // The storage's own words (paths, addresses) stay in the log.
            tracing::warn!(%reason, "transport failure");
            "the hub is unavailable, try again later".to_owned()
        }
        other => other.to_string(),
    };
    let mut response = (status, format!("{public}\n")).into_response();
    if let Error::RateLimited { retry_after } = error {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::rate::retry_after_seconds(*retry_after)),
        );
    }
    if let Some(code) = challenge
        && hub.config().support.accepts(ProtocolVersion::V1)
    {
        let mut value = String::from("Bearer realm=\"mercure\"");
        if let Some(code) = code {
            value.push_str(", error=\"");
            value.push_str(code);
            value.push_str("\", error_description=\"");
            for c in public.chars() {
                if c == '"' || c == '\\' {
                    value.push('\\');
                }
                if c.is_ascii() && !c.is_ascii_control() {
                    value.push(c);
                }
            }
            value.push('"');
        }
        value.push_str(", resource_metadata=\"");
        value.push_str(&metadata_url(hub));
        value.push('"');
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}
