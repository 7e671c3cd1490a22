//! The board's login session cookie.

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "board_session";

/// The `Set-Cookie` value carrying session `id` (or removing the session
/// cookie when `id` is `None`): host-only, `HttpOnly`, `SameSite=Lax` so a
/// form posted from another site carries no session.
pub fn session_cookie(id: Option<&str>) -> String {
    match id {
        Some(id) => format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"),
        None => format!(
            "{SESSION_COOKIE}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax"
        ),
    }
}

/// The session id in a `Cookie` request header, if any.
pub fn session_from_cookie_header(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE && !value.is_empty()).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_among_other_cookies() {
        assert_eq!(
            session_from_cookie_header("a=1; board_session=xyz; b=2"),
            Some("xyz")
        );
        assert_eq!(session_from_cookie_header("board_session="), None);
        assert_eq!(session_from_cookie_header("board_sessionx=1"), None);
        assert_eq!(session_from_cookie_header(""), None);
    }

    #[test]
    fn removal_cookie_expires() {
        assert!(session_cookie(None).contains("Max-Age=0"));
        assert!(session_cookie(Some("s")).starts_with("board_session=s;"));
    }
}
