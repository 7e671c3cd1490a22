//! The host a request was addressed to.

use axum::http::header::HOST;
use axum::http::request::Parts;

use crate::Error;

/// The `Host` header, or the URI's authority (HTTP/2 `:authority`); when
/// `trust_forwarded` is set, the host named by forwarding headers first.
pub(crate) fn request_host(parts: &Parts, trust_forwarded: bool) -> Result<&str, Error> {
    if trust_forwarded {
        let text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(host) =
            mercure_client::forwarded_host(text("forwarded"), text("x-forwarded-host"))
        {
            return Ok(host);
        }
    }
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
