//! The host a request was addressed to.

use actix_web::http::header::HeaderMap;
use actix_web::http::header::{ACCESS_CONTROL_REQUEST_METHOD, HOST};
use actix_web::http::{Method, Uri};

use crate::Error;

/// The `Host` header, or the URI's authority (HTTP/2 `:authority`); when
/// `trust_forwarded` is set, the host named by forwarding headers first.
pub(crate) fn request_host<'a>(
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
