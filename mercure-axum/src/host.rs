//! The host a request was addressed to.

use axum::http::header::HOST;
use axum::http::request::Parts;

use crate::Error;

/// The `Host` header, or the URI's authority (HTTP/2 `:authority`).
pub(crate) fn request_host(parts: &Parts) -> Result<&str, Error> {
    if let Some(host) = parts.headers.get(HOST) {
        return host.to_str().map_err(|_| Error::InvalidHost);
    }
    parts
        .uri
        .authority()
        .map(|authority| authority.as_str())
        .ok_or(Error::MissingHost)
}

/// Whether the request is a CORS preflight.
pub(crate) fn is_preflight(parts: &Parts) -> bool {
    mercure_client::is_cors_preflight(
        parts.method.as_str(),
        parts
            .headers
            .contains_key(axum::http::header::ACCESS_CONTROL_REQUEST_METHOD),
    )
}
