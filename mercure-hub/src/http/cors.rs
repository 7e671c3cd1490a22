//! CORS with an explicit origin allowlist.

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The CORS layer for `origins`; `None` when the list is empty. `*`
/// allows every origin without credentials; otherwise credentials
/// (cookies) are allowed for the listed origins only.
pub(super) fn layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let mut methods = vec![Method::GET, Method::POST];
    methods.extend(Method::from_bytes(b"QUERY").ok());
    let layer = CorsLayer::new()
        .allow_methods(methods)
        .allow_headers([
            header::AUTHORIZATION,
            header::CACHE_CONTROL,
            header::CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            HeaderName::from_static("last-event-id"),
            HeaderName::from_static("mercure-last-event-id"),
            header::LINK,
            header::WWW_AUTHENTICATE,
        ]);
    if origins.iter().any(|o| o == "*") {
        return Some(layer.allow_origin(AllowOrigin::any()));
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    Some(
        layer
            .allow_origin(AllowOrigin::list(list))
            .allow_credentials(true),
    )
}
