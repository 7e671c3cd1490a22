//! The host a request was addressed to.

use axum::http::header::HOST;
use axum::http::request::Parts;

use crate::Error;

/// Where the request was addressed: `scheme://host[:port]` when the scheme
/// is known (from forwarding headers when trusted, else from an absolute
/// request URI), `host[:port]` otherwise.
pub(crate) fn request_origin(parts: &Parts, trust_forwarded: bool) -> Result<String, Error> {
    let text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let host = request_host(parts, trust_forwarded)?;
    let scheme = if trust_forwarded {
        mercure_client::forwarded_proto(text("forwarded"), text("x-forwarded-proto"))
    } else {
        None
    }
    .or_else(|| parts.uri.scheme_str());
    Ok(match scheme {
        Some(scheme)
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            format!("{scheme}://{host}")
        }
        _ => host.to_owned(),
    })
}

/// The `Host` header, or the URI's authority (HTTP/2 `:authority`); when
/// `trust_forwarded` is set, the host named by forwarding headers first.
fn request_host(parts: &Parts, trust_forwarded: bool) -> Result<&str, Error> {
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
