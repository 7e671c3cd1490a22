//! Telling CORS preflight requests from real ones.

/// Whether a request is a CORS preflight: an `OPTIONS` request carrying an
/// `Access-Control-Request-Method` header. Discovery headers and
/// authorization cookies have no business on a preflight response.
///
/// ```
/// use mercure_web::is_cors_preflight;
///
/// assert!(is_cors_preflight("OPTIONS", true));
/// assert!(!is_cors_preflight("OPTIONS", false)); // a plain OPTIONS request
/// assert!(!is_cors_preflight("GET", true));
/// ```
pub fn is_cors_preflight(method: &str, has_access_control_request_method: bool) -> bool {
    has_access_control_request_method && method == "OPTIONS"
}
