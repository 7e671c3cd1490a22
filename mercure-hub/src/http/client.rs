//! Who sent a request, for the rate limits: the client's address (axum's
//! `ConnectInfo`, which the hub's servers set on every request) and, for a
//! subscription the lean path handed to the router, the rate limit
//! verdict it already reached (so that a request is counted once).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::metrics::Counters;
use crate::{EmbeddedHub, Error};

/// The rate limit verdict on a request: allowed, or refused for this long.
pub(super) type Verdict = Result<(), Duration>;

/// The verdict the lean path reached on the request it hands to the
/// router (a request extension of the connection's first request).
#[derive(Debug, Clone, Copy)]
pub(super) struct Counted(pub(super) Verdict);

/// The client of a request.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Client {
    /// Its address, when the server said.
    pub(super) peer: Option<IpAddr>,
    /// The verdict on this request, once reached.
    pub(super) verdict: Option<Verdict>,
}

impl Client {
    /// A client at `peer`, not counted yet.
    pub(super) fn at(peer: IpAddr) -> Self {
        Self {
            peer: Some(peer),
            verdict: None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
            verdict: parts.extensions.get::<Counted>().map(|counted| counted.0),
        })
    }
}

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Limit {
    /// Publishing.
    Publish,
    /// Subscribing, and the subscriptions API.
    Subscribe,
}

/// Takes one request from the bucket of `client` (its token's `subject`,
/// else its address) for `limit`: [`Error::RateLimited`] when it is empty.
/// A request is counted once: the verdict is kept in `client`.
pub(super) fn check(
    hub: &EmbeddedHub,
    limit: Limit,
    subject: Option<&str>,
    client: &mut Client,
) -> Result<(), Error> {
    let verdict = match client.verdict {
        Some(verdict) => verdict,
        None => {
            let limits = &hub.inner.rate_limits;
            let counters = &hub.inner.counters;
            let (limiter, refused) = match limit {
                Limit::Publish => (&limits.publish, &counters.publishes_rate_limited),
                Limit::Subscribe => (&limits.subscribe, &counters.subscribes_rate_limited),
            };
            let verdict = match limiter {
                Some(limiter) => match limiter.key(subject, client.peer) {
                    Some(key) => limiter.check(&key),
                    None => Ok(()),
                },
                None => Ok(()),
            };
            if verdict.is_err() {
                Counters::add(refused);
            }
            client.verdict = Some(verdict);
            verdict
        }
    };
    verdict.map_err(|retry_after| Error::RateLimited { retry_after })
}

/// A request refused for its token still costs its client's address one
/// request: checking the token's signature was work, and a client sending
/// bad tokens must not escape the limits. Returns what to answer: the rate
/// limit's refusal when the address has no request left, else `error`.
pub(super) fn charge_refusal(
    hub: &EmbeddedHub,
    limit: Limit,
    client: &mut Client,
    error: Error,
) -> Error {
    match check(hub, limit, None, client) {
        Err(limited) => limited,
        Ok(()) => error,
    }
}
