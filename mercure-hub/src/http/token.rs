//! Where a request carries its token: `Authorization: Bearer` first, then
//! (0.x only) the `authorization` query parameter, then the dialect's cookie.

use axum::http::{HeaderMap, header};
use mercure_core::ProtocolVersion;

/// How the token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Header,
    Query,
    Cookie,
}

/// The token of a request, looked up in precedence order. `query` is the
/// `authorization` query parameter (only passed when 0.x is spoken);
/// `dialects` lists the dialects whose cookie is looked at, in order.
pub(super) fn find(
    headers: &HeaderMap,
    query: Option<&str>,
    dialects: &[ProtocolVersion],
) -> Option<(String, Source)> {
    for value in headers.get_all(header::AUTHORIZATION) {
        if let Ok(value) = value.to_str()
            && let Some((scheme, token)) = value.trim().split_once(' ')
            && scheme.eq_ignore_ascii_case("bearer")
            && !token.trim().is_empty()
        {
            return Some((token.trim().to_owned(), Source::Header));
        }
    }
    if let Some(token) = query.filter(|t| !t.is_empty()) {
        return Some((token.to_owned(), Source::Query));
    }
    for dialect in dialects {
        if let Some(token) = cookie(headers, dialect.dialect().cookie_name) {
            return Some((token, Source::Cookie));
        }
    }
    None
}

/// The value of the cookie `name`.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name && !cookie.value().is_empty())
        .map(|cookie| cookie.value_trimmed().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn precedence() {
        let both = [ProtocolVersion::V0, ProtocolVersion::V1];
        let all = headers(&[
            ("authorization", "Bearer h"),
            (
                "cookie",
                "a=1; mercureAuthorization=c0; __Secure-mercure_access_token=c1",
            ),
        ]);
        assert_eq!(
            find(&all, Some("q"), &both),
            Some(("h".into(), Source::Header))
        );
        let no_header = headers(&[(
            "cookie",
            "mercureAuthorization=c0; __Secure-mercure_access_token=c1",
        )]);
        assert_eq!(
            find(&no_header, Some("q"), &both),
            Some(("q".into(), Source::Query))
        );
        assert_eq!(
            find(&no_header, None, &both),
            Some(("c0".into(), Source::Cookie))
        );
        assert_eq!(
            find(&no_header, None, &[ProtocolVersion::V1]),
            Some(("c1".into(), Source::Cookie))
        );
        let basic = headers(&[("authorization", "Basic abc")]);
        assert_eq!(find(&basic, None, &both), None);
        assert_eq!(find(&HeaderMap::new(), Some(""), &both), None);
    }
}
