//! Converting the neutral cookie into actix-web's.

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};
use mercure_client::AuthorizationCookie;

/// `cookie` as an actix-web [`Cookie`], for `HttpResponse::add_cookie` and
/// `HttpResponseBuilder::cookie`.
///
/// ```
/// use std::time::Duration;
/// use mercure_actix::actix_cookie;
/// use mercure_actix::client::{AuthorizationCookie, CookieOptions, Hub, Token};
///
/// let hub = Hub::builder("https://example.com/.well-known/mercure").build().unwrap();
/// let cookie = AuthorizationCookie::with_token(&hub, "example.com", Token::new("a.b.c"), Duration::from_secs(60), &CookieOptions::new()).unwrap();
/// let cookie = actix_cookie(&cookie);
/// assert_eq!(cookie.name(), "mercureAuthorization");
/// assert_eq!(cookie.path(), Some("/.well-known/mercure"));
/// assert_eq!(cookie.http_only(), Some(true));
/// ```
pub fn actix_cookie(cookie: &AuthorizationCookie) -> Cookie<'static> {
    let mut builder = Cookie::build(cookie.name().to_owned(), cookie.value().expose().to_owned())
        .path(cookie.path().to_owned())
        .secure(cookie.secure())
        .http_only(cookie.http_only())
        .same_site(match cookie.same_site() {
            mercure_client::SameSite::Strict => SameSite::Strict,
            mercure_client::SameSite::Lax => SameSite::Lax,
            mercure_client::SameSite::None => SameSite::None,
        })
        .max_age(Duration::seconds(
            i64::try_from(cookie.max_age().as_secs()).unwrap_or(i64::MAX),
        ));
    if let Some(domain) = cookie.domain() {
        builder = builder.domain(domain.to_owned());
    }
    let mut cookie_out = builder.finish();
    if cookie.is_removal() {
        cookie_out.make_removal();
    }
    cookie_out
}
