//! Where a request was addressed: the host and scheme the client used.

use mercure_core::headers::{forwarded_host, forwarded_proto};

use crate::WebError;

/// The parts of a request that tell where it was addressed, taken from any
/// framework's request as plain values.
///
/// [`RequestOrigin::origin`] gives `scheme://host[:port]` when the scheme
/// is known (from forwarding headers when trusted, else from an absolute
/// request URI), `host[:port]` otherwise: what an
/// [`AuthorizationCookie`](crate::AuthorizationCookie) is shaped for.
///
/// ```
/// use mercure_web::RequestOrigin;
///
/// let headers = [("host", "app.example.com"), ("x-forwarded-proto", "https")];
/// let header = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes());
/// let request = RequestOrigin::new(header, None, None);
/// assert_eq!(request.origin(false).unwrap(), "app.example.com");
/// assert_eq!(request.origin(true).unwrap(), "https://app.example.com");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestOrigin<'a> {
    host: Option<&'a [u8]>,
    forwarded: Option<&'a [u8]>,
    x_forwarded_host: Option<&'a [u8]>,
    x_forwarded_proto: Option<&'a [u8]>,
    uri_scheme: Option<&'a str>,
    uri_authority: Option<&'a str>,
}

impl<'a> RequestOrigin<'a> {
    /// Reads the headers it needs through `header` (given a lowercase
    /// name, the first value's bytes), beside the request URI's scheme and
    /// authority when it is absolute (HTTP/2's `:scheme` and `:authority`).
    pub fn new(
        header: impl Fn(&str) -> Option<&'a [u8]>,
        uri_scheme: Option<&'a str>,
        uri_authority: Option<&'a str>,
    ) -> Self {
        Self {
            host: header("host"),
            forwarded: header("forwarded"),
            x_forwarded_host: header("x-forwarded-host"),
            x_forwarded_proto: header("x-forwarded-proto"),
            uri_scheme,
            uri_authority,
        }
    }

    /// `scheme://host[:port]` or `host[:port]`; with `trust_forwarded`,
    /// the `Forwarded` and `X-Forwarded-*` headers name them first. Trust
    /// them only behind a proxy that sets (and overwrites) them.
    ///
    /// # Errors
    /// [`WebError::MissingHost`] when nothing names a host,
    /// [`WebError::InvalidHost`] when the `Host` header is not text.
    pub fn origin(&self, trust_forwarded: bool) -> Result<String, WebError> {
        let text = |value: Option<&'a [u8]>| value.and_then(|v| std::str::from_utf8(v).ok());
        let host = self.host(trust_forwarded)?;
        let scheme = if trust_forwarded {
            forwarded_proto(text(self.forwarded), text(self.x_forwarded_proto))
        } else {
            None
        }
        .or(self.uri_scheme);
        Ok(match scheme {
            Some(scheme)
                if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
            {
                format!("{scheme}://{host}")
            }
            _ => host.to_owned(),
        })
    }

    /// The host: forwarding headers first when trusted, then `Host`, then
    /// the URI's authority.
    fn host(&self, trust_forwarded: bool) -> Result<&'a str, WebError> {
        let text = |value: Option<&'a [u8]>| value.and_then(|v| std::str::from_utf8(v).ok());
        if trust_forwarded
            && let Some(host) = forwarded_host(text(self.forwarded), text(self.x_forwarded_host))
        {
            return Ok(host);
        }
        if let Some(host) = self.host {
            return std::str::from_utf8(host).map_err(|_| WebError::InvalidHost);
        }
        self.uri_authority.ok_or(WebError::MissingHost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(
        headers: &[(&str, &[u8])],
        authority: Option<&str>,
        trust: bool,
    ) -> Result<String, WebError> {
        let header = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        RequestOrigin::new(header, authority.map(|_| "https"), authority).origin(trust)
    }

    #[test]
    fn host_sources_in_order() {
        assert_eq!(
            origin(&[("host", b"a.example")], None, false).unwrap(),
            "a.example"
        );
        assert_eq!(
            origin(&[], Some("b.example:8443"), false).unwrap(),
            "https://b.example:8443"
        );
        assert!(matches!(
            origin(&[], None, false),
            Err(WebError::MissingHost)
        ));
        assert!(matches!(
            origin(&[("host", b"\xff")], None, false),
            Err(WebError::InvalidHost)
        ));
        let forwarded: &[(&str, &[u8])] = &[
            ("host", b"internal:8080"),
            ("forwarded", b"for=1.2.3.4;proto=https;host=app.example"),
        ];
        assert_eq!(origin(forwarded, None, false).unwrap(), "internal:8080");
        assert_eq!(
            origin(forwarded, None, true).unwrap(),
            "https://app.example"
        );
    }
}
