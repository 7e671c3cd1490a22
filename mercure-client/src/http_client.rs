//! The HTTP clients this crate builds, and what they refuse to do with
//! credentials.
//!
//! A [`Hub`](crate::Hub) or [`Subscriber`](crate::Subscriber) that is not
//! given a client builds one from [`builder`]:
//!
//! - no `Referer` header, ever: in the 0.x query-parameter mode the token
//!   sits in the URL, and a `Referer` would carry it to wherever a
//!   redirect points;
//! - redirects are followed only when they keep the method and body
//!   (307, 308), stay on the origin (scheme, host and port) of the first
//!   request, and are at most [`MAX_REDIRECTS`] in a row: no token, in a
//!   header, a cookie or the URL, and no update reaches another origin.
//!   Any other redirect is handed back and reported as
//!   [`Error::Redirect`].
//!
//! A `reqwest::Client` given with `http_client(...)` keeps its own
//! policies: reqwest's default follows up to 10 redirects anywhere (it
//! drops `Authorization` and `Cookie` on the way to another host, but not a
//! token in the URL) and sends `Referer`. Build it from [`builder`] to keep
//! the protections above. Whatever the client, an answer that comes from
//! another origin than the request's is refused with
//! [`Error::Redirect`] (too late to unsend the
//! request, but never used).
//!
//! ```
//! let client = mercure_client::http_client::builder()
//!     .connect_timeout(std::time::Duration::from_secs(5))
//!     .build()
//!     .unwrap();
//! let hub = mercure_client::Hub::builder("https://hub.example.com/.well-known/mercure")
//!     .http_client(client)
//!     .build()
//!     .unwrap();
//! # let _ = hub;
//! ```

use reqwest::header::LOCATION;
use reqwest::redirect::{Attempt, Policy};
use url::Url;

use crate::Error;
use crate::error::printable;

/// The most redirects followed in a row by [`redirect_policy`].
pub const MAX_REDIRECTS: usize = 5;

/// How much of a URL from the network is kept in an error.
const MAX_URL_IN_ERROR: usize = 256;

/// A client builder with this crate's settings: `TCP_NODELAY`, no
/// `Referer`, and [`redirect_policy`].
pub fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .referer(false)
        .redirect(redirect_policy())
}

/// Follows a redirect only when it is a 307 or 308 to the origin of the
/// first request, at most [`MAX_REDIRECTS`] in a row; hands back every
/// other redirect as the answer.
pub fn redirect_policy() -> Policy {
    Policy::custom(follow_same_origin)
}

fn follow_same_origin(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let Some(first) = attempt.previous().first() else {
        return attempt.stop();
    };
    let keeps_method = matches!(attempt.status().as_u16(), 307 | 308);
    let same_origin = attempt.url().origin() == first.origin();
    let looping = attempt.previous().contains(attempt.url());
    if keeps_method && same_origin && !looping && attempt.previous().len() <= MAX_REDIRECTS {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

/// The client used when none is given.
pub(crate) fn default_client() -> crate::Result<reqwest::Client> {
    builder()
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

/// `url` without credentials, query or fragment, bounded and printable:
/// what of a URL from the network may appear in an error.
pub(crate) fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    printable(shown.as_str(), MAX_URL_IN_ERROR)
}

/// The error for a redirect answer (3xx) to a request for `requested`.
pub(crate) fn redirect_error(response: &reqwest::Response, requested: &Url) -> Error {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| response.url().join(v).or_else(|_| requested.join(v)).ok())
        .map(|url| display_url(&url));
    Error::Redirect {
        status: response.status().as_u16(),
        location,
    }
}

/// Refuses an answer that came from another origin than `requested` (a
/// caller's client followed a redirect there).
pub(crate) fn check_origin(response: &reqwest::Response, requested: &Url) -> crate::Result<()> {
    if response.url().origin() == requested.origin() {
        return Ok(());
    }
    Err(Error::Redirect {
        status: response.status().as_u16(),
        location: Some(format!(
            "{} (another origin, reached by the HTTP client)",
            display_url(response.url())
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_errors_hold_no_secret() {
        let url = Url::parse(
            "https://user:pass@hub.example/.well-known/mercure?authorization=secret#frag",
        )
        .unwrap();
        assert_eq!(display_url(&url), "https://hub.example/.well-known/mercure");
        let long = Url::parse(&format!("https://hub.example/{}", "a".repeat(5000))).unwrap();
        assert_eq!(display_url(&long).len(), MAX_URL_IN_ERROR);
    }
}
