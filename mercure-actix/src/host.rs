//! The host a request was addressed to.

use actix_web::http::header::HeaderMap;
use actix_web::http::header::{ACCESS_CONTROL_REQUEST_METHOD, HOST};
use actix_web::http::{Method, Uri};

use crate::Error;

/// Where the request was addressed: `scheme://host[:port]` when the scheme
/// is known (from forwarding headers when trusted, else from an absolute
/// request URI), `host[:port]` otherwise.
pub(crate) fn request_origin(
    headers: &HeaderMap,
    uri: &Uri,
    trust_forwarded: bool,
) -> Result<String, Error> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = request_host(headers, uri, trust_forwarded)?;
    let scheme = if trust_forwarded {
        mercure_client::forwarded_proto(text("forwarded"), text("x-forwarded-proto"))
    } else {
        None
    }
    .or_else(|| uri.scheme_str());
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
fn request_host<'a>(
    headers: &'a HeaderMap,
    uri: &'a Uri,
    trust_forwarded: bool,
) -> Result<&'a str, Error> {
    if trust_forwarded {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(host) =
            mercure_client::forwarded_host(text("forwarded"), text("x-forwarded-host"))
        {
            return Ok(host);
        }
    }
    if let Some(host) = headers.get(HOST) {
        return host.to_str().map_err(|_| Error::InvalidHost);
    }
    uri.authority()
        .map(|authority| authority.as_str())
        .ok_or(Error::MissingHost)
}

/// Whether the request is a CORS preflight.
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    mercure_client::is_cors_preflight(
        method.as_str(),
        headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD),
    )
}
