//! The host a client addressed, as reported by reverse proxies.

/// The host the client originally addressed, from the `Forwarded` header
/// (RFC 7239: the `host` parameter of its first element) or, failing
/// that, the first value of `X-Forwarded-Host`.
///
/// Only use it behind a proxy that sets (and overwrites) these headers:
/// otherwise any client can choose the host a cookie is shaped for.
///
/// ```
/// use mercure_core::headers::forwarded_host;
///
/// assert_eq!(
///     forwarded_host(Some(r#"for=192.0.2.60;proto=https;host="www.example.com:8443", for=10.0.0.1"#), None),
///     Some("www.example.com:8443")
/// );
/// assert_eq!(forwarded_host(None, Some("www.example.com, proxy.internal")), Some("www.example.com"));
/// assert_eq!(forwarded_host(Some("for=192.0.2.60"), None), None);
/// ```
pub fn forwarded_host<'a>(
    forwarded: Option<&'a str>,
    x_forwarded_host: Option<&'a str>,
) -> Option<&'a str> {
    if let Some(host) = forwarded.and_then(|value| forwarded_parameter(value, "host")) {
        return Some(host);
    }
    first_value(x_forwarded_host)
}

/// The scheme the client used, from the `Forwarded` header (the `proto`
/// parameter of its first element) or, failing that, the first value of
/// `X-Forwarded-Proto`. The same caution as for [`forwarded_host`] applies.
///
/// ```
/// use mercure_core::headers::forwarded_proto;
///
/// assert_eq!(forwarded_proto(Some("for=192.0.2.60;proto=https"), Some("http")), Some("https"));
/// assert_eq!(forwarded_proto(None, Some("http")), Some("http"));
/// assert_eq!(forwarded_proto(None, None), None);
/// ```
pub fn forwarded_proto<'a>(
    forwarded: Option<&'a str>,
    x_forwarded_proto: Option<&'a str>,
) -> Option<&'a str> {
    if let Some(proto) = forwarded.and_then(|value| forwarded_parameter(value, "proto")) {
        return Some(proto);
    }
    first_value(x_forwarded_proto)
}

/// The first of comma-separated values, trimmed, if not empty.
fn first_value(value: Option<&str>) -> Option<&str> {
    value
        .and_then(|value| value.split(',').next())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// The parameter `wanted` of the first element of a `Forwarded` value.
fn forwarded_parameter<'a>(value: &'a str, wanted: &str) -> Option<&'a str> {
    let first = first_element(value);
    for pair in split_outside_quotes(first, ';') {
        let (name, raw) = pair.split_once('=')?;
        if name.trim().eq_ignore_ascii_case(wanted) {
            let raw = raw.trim();
            let host = match raw.strip_prefix('"') {
                Some(quoted) => quoted.strip_suffix('"')?,
                None => raw,
            };
            return (!host.is_empty() && !host.contains(['\\', '"'])).then_some(host);
        }
    }
    None
}

fn first_element(value: &str) -> &str {
    split_outside_quotes(value, ',').next().unwrap_or("")
}

/// Splits at `separator` where it is not inside a quoted string.
fn split_outside_quotes(value: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (index, c) in current.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == separator && !quoted => {
                    rest = Some(&current[index + c.len_utf8()..]);
                    return Some(&current[..index]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
            (Some("host=example.com"), None, Some("example.com")),
            (
                Some("Host=Example.com;proto=https"),
                None,
                Some("Example.com"),
            ),
            (
                Some(r#"for="[2001:db8::1]:4711";host="[2001:db8::2]:8080""#),
                None,
                Some("[2001:db8::2]:8080"),
            ),
            (
                Some(r#"for="a,b";host=first.example, host=second.example"#),
                None,
                Some("first.example"),
            ),
            (
                Some("for=1.2.3.4, host=second.example"),
                Some("x.example"),
                Some("x.example"),
            ),
            (Some(r#"host="""#), Some("x.example"), Some("x.example")),
            (Some(r#"host="unterminated"#), None, None),
            (None, Some(" a.example ,b.example"), Some("a.example")),
            (None, Some(""), None),
            (None, None, None),
        ];
        for (forwarded, x_forwarded, expected) in cases {
            assert_eq!(
                forwarded_host(*forwarded, *x_forwarded),
                *expected,
                "{forwarded:?} {x_forwarded:?}"
            );
        }
    }
}
