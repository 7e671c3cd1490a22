//! CORS with an explicit origin allowlist: one implementation, used as a
//! middleware by the router and for the headers the lean path writes
//! itself. `*` allows every origin without credentials; otherwise the
//! listed origins are allowed with credentials (cookies).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Methods a preflight allows on a hub speaking 1.0 (`QUERY` subscribes).
const ALLOW_METHODS: &str = "GET,POST,QUERY";
/// Methods a preflight allows on a hub speaking 0.x only.
const ALLOW_METHODS_V0: &str = "GET,POST";
/// Request headers a preflight allows.
const ALLOW_HEADERS: &str = "authorization,cache-control,content-type,last-event-id";
/// Response headers scripts may read.
const EXPOSE_HEADERS: &str = "last-event-id,mercure-last-event-id,link,www-authenticate";

/// The CORS policy of a hub.
#[derive(Debug, Clone)]
pub(super) struct Cors {
    any: bool,
    origins: Arc<[String]>,
    methods: &'static str,
}

impl Cors {
    /// The policy for `origins`; `None` when the list is empty (no CORS).
    /// Preflights offer `QUERY` only when `query` (the hub speaks 1.0).
    pub(super) fn new(origins: &[String], query: bool) -> Option<Self> {
        if origins.is_empty() {
            return None;
        }
        Some(Self {
            any: origins.iter().any(|o| o == "*"),
            origins: origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect(),
            methods: if query {
                ALLOW_METHODS
            } else {
                ALLOW_METHODS_V0
            },
        })
    }

    /// The `Access-Control-Allow-Origin` (and `-Credentials`) headers for a
    /// request from `origin`; none when it is not allowed.
    fn allow(&self, origin: Option<&[u8]>) -> Vec<(HeaderName, HeaderValue)> {
        let Some(origin) = origin else {
            return Vec::new();
        };
        if self.any {
            return vec![(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            )];
        }
        let listed = self
            .origins
            .iter()
            .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin));
        match HeaderValue::from_bytes(origin) {
            Ok(value) if listed => vec![
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, value),
                (
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                ),
            ],
            _ => Vec::new(),
        }
    }

    /// The headers of a response (not a preflight's) to a request from
    /// `origin`: always `Vary: Origin`, and when the origin is allowed,
    /// who may read it and which headers scripts may read.
    pub(super) fn response_headers(&self, origin: Option<&[u8]>) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = vec![(header::VARY, HeaderValue::from_static("origin"))];
        let allow = self.allow(origin);
        if !allow.is_empty() {
            headers.extend(allow);
            headers.push((
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            ));
        }
        headers
    }

    /// The answer to a preflight request from `origin`: what it may send
    /// when the origin is allowed, nothing but `Vary` otherwise.
    fn preflight(&self, origin: Option<&[u8]>) -> Response {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::VARY,
            HeaderValue::from_static(
                "origin, access-control-request-method, access-control-request-headers",
            ),
        );
        let allow = self.allow(origin);
        if !allow.is_empty() {
            headers.extend(allow);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(self.methods),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
        }
        response
    }
}

/// Whether `headers` and `method` make a CORS preflight request.
fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The router's CORS middleware.
pub(super) async fn middleware(State(cors): State<Cors>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .map(|v| v.as_bytes().to_vec());
    if is_preflight(request.method(), request.headers()) {
        return cors.preflight(origin.as_deref());
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in cors.response_headers(origin.as_deref()) {
        if name == header::VARY {
            headers.append(name, value);
        } else {
            headers.insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(headers: &[(HeaderName, HeaderValue)]) -> Vec<&str> {
        headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn listed_origins_get_credentials_and_others_nothing() {
        let cors = Cors::new(&["https://app.example.com/".to_owned()], true).unwrap();
        let allowed = cors.response_headers(Some(b"https://app.example.com"));
        assert_eq!(
            names(&allowed),
            [
                "vary",
                "access-control-allow-origin",
                "access-control-allow-credentials",
                "access-control-expose-headers"
            ]
        );
        assert_eq!(allowed[1].1, "https://app.example.com");
        for origin in [
            Some(&b"https://evil.example.net"[..]),
            Some(b"https://app.example.com.evil.net"),
            Some(b"null"),
            None,
        ] {
            assert_eq!(names(&cors.response_headers(origin)), ["vary"]);
        }
        assert!(Cors::new(&[], true).is_none());
    }

    #[test]
    fn a_wildcard_never_allows_credentials() {
        let cors = Cors::new(&["*".to_owned()], true).unwrap();
        let headers = cors.response_headers(Some(b"https://anywhere.example.org"));
        assert_eq!(headers[1].1, "*");
        assert!(!names(&headers).contains(&"access-control-allow-credentials"));
        let preflight = cors.preflight(Some(b"https://anywhere.example.org"));
        assert_eq!(
            preflight.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "*"
        );
        assert!(
            preflight
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );
    }

    #[test]
    fn preflights_list_methods_and_headers_for_allowed_origins_only() {
        let cors = Cors::new(&["https://app.example.com".to_owned()], true).unwrap();
        let allowed = cors.preflight(Some(b"https://app.example.com"));
        assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            allowed.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS],
            ALLOW_HEADERS
        );
        assert_eq!(
            allowed.headers()[header::ACCESS_CONTROL_ALLOW_METHODS],
            ALLOW_METHODS
        );
        let refused = cors.preflight(Some(b"https://evil.example.net"));
        assert!(
            refused
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://a"));
        assert!(!is_preflight(&Method::OPTIONS, &headers));
        headers.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("GET"),
        );
        assert!(is_preflight(&Method::OPTIONS, &headers));
        assert!(!is_preflight(&Method::GET, &headers));
    }
}
