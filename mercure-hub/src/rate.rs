//! Request rate limits per client: a token bucket per key (the token's
//! subject, else the client's address), checked with `governor`'s GCRA
//! over a bounded table of keys (`quick_cache`: idle keys are evicted
//! first, so a client rotating addresses or subjects cannot grow it).
//!
//! The limits apply to HTTP requests only (publish, subscribe, the
//! subscriptions API); the in-process API of [`EmbeddedHub`](crate::EmbeddedHub)
//! is trusted and never limited.

use std::convert::Infallible;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::{Quota, RateLimiter};

use crate::Error;

/// A request rate limit: a bucket of `burst` requests per client, refilled
/// at `per_second` requests a second. A client that finds its bucket
/// empty is answered 429 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    per_second: f64,
    burst: u32,
}

impl RateLimit {
    /// `per_second` requests a second (fractions allowed: `0.5` is one
    /// every two seconds), with bursts of up to `burst` requests.
    pub const fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }

    /// Requests a second.
    pub const fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Requests allowed at once.
    pub const fn burst(&self) -> u32 {
        self.burst
    }

    /// The `governor` quota, if the limit makes sense.
    pub(crate) fn quota(&self) -> Result<Quota, Error> {
        let invalid = || {
            Error::InvalidConfig(format!(
                "a rate limit needs a positive finite rate and a burst of at least 1, not {} a second and a burst of {}",
                self.per_second, self.burst
            ))
        };
        if !self.per_second.is_finite() || self.per_second <= 0.0 {
            return Err(invalid());
        }
        let burst = NonZeroU32::new(self.burst).ok_or_else(invalid)?;
        // At least one nanosecond, at most a year between two tokens.
        let period = (1.0 / self.per_second).clamp(1e-9, 365.0 * 86_400.0);
        let quota = Quota::with_period(Duration::from_secs_f64(period)).ok_or_else(invalid)?;
        Ok(quota.allow_burst(burst))
    }
}

/// Whose bucket a request takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// A token's subject (hashed with the limiter's random key: fixed size
    /// whatever the subject's length).
    Subject(u64),
    /// The client's IPv4 address or IPv6 /64 network.
    Address(IpAddr),
}

/// The source a client is counted as: its IPv4 address, or the /64 network
/// of its IPv6 address (one host commonly holds a whole /64); the same
/// keying as the per-address connection caps.
pub(crate) fn source(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// The keys' states: the GCRA's theoretical arrival time, in nanoseconds
/// since the limiter started (0: none yet), in a table bounded in entries.
struct Table {
    cells: Arc<Cells>,
}

type Cells = quick_cache::sync::Cache<Key, Arc<AtomicU64>>;

impl StateStore for Table {
    type Key = Key;

    fn measure_and_replace<T, F, E>(&self, key: &Key, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let cell = match self
            .cells
            .get_or_insert_with(key, || Ok::<_, Infallible>(Arc::new(AtomicU64::new(0))))
        {
            Ok(cell) => cell,
            Err(never) => match never {},
        };
        let state = |value: u64| (value != 0).then(|| Nanos::from(value));
        let mut previous = cell.load(Ordering::Acquire);
        loop {
            let (outcome, next) = f(state(previous))?;
            match cell.compare_exchange_weak(
                previous,
                next.as_u64(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(outcome),
                Err(current) => previous = current,
            }
        }
    }
}

/// One rate limit applied per key.
pub(crate) struct Limiter {
    limiter: RateLimiter<Key, Table, MonotonicClock>,
    /// The limiter's table, to count its keys.
    cells: Arc<Cells>,
    hasher: std::hash::RandomState,
    limit: RateLimit,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limit", &self.limit)
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter for `limit` keeping at most about `keys` keys.
    pub(crate) fn new(limit: RateLimit, keys: usize) -> Result<Self, Error> {
        let quota = limit.quota()?;
        let cells = Arc::new(Cells::new(keys.max(1)));
        let table = Table {
            cells: Arc::clone(&cells),
        };
        Ok(Self {
            limiter: RateLimiter::new(quota, table, MonotonicClock),
            cells,
            hasher: std::hash::RandomState::new(),
            limit,
        })
    }

    /// The key of a client: its token's subject when it has one, else its
    /// address (`None` when neither is known: not limited).
    pub(crate) fn key(&self, subject: Option<&str>, peer: Option<IpAddr>) -> Option<Key> {
        match (subject, peer) {
            (Some(subject), _) => Some(Key::Subject(self.hasher.hash_one(subject))),
            (None, Some(peer)) => Some(Key::Address(source(peer))),
            (None, None) => None,
        }
    }

    /// Takes a token from `key`'s bucket, or says how long until one is
    /// there.
    pub(crate) fn check(&self, key: &Key) -> Result<(), Duration> {
        self.limiter
            .check_key(key)
            .map(|_| ())
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// Keys held now.
    pub(crate) fn keys(&self) -> usize {
        self.cells.len()
    }
}

/// The hub's limiters.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    /// Publish requests.
    pub(crate) publish: Option<Limiter>,
    /// Subscribe requests and the subscriptions API.
    pub(crate) subscribe: Option<Limiter>,
}

impl RateLimits {
    /// The limiters of `config`.
    pub(crate) fn of(
        publish: Option<RateLimit>,
        subscribe: Option<RateLimit>,
        keys: usize,
    ) -> Result<Self, Error> {
        Ok(Self {
            publish: publish.map(|l| Limiter::new(l, keys)).transpose()?,
            subscribe: subscribe.map(|l| Limiter::new(l, keys)).transpose()?,
        })
    }
}

/// The `Retry-After` value of a wait: whole seconds, rounded up, at least 1.
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs();
    let seconds = if wait.subsec_nanos() > 0 {
        seconds.saturating_add(1)
    } else {
        seconds
    };
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn a_bucket_per_key() {
        let limiter = Limiter::new(RateLimit::new(1.0, 2), 100).unwrap();
        let a = limiter
            .key(None, Some(Ipv4Addr::new(192, 0, 2, 1).into()))
            .unwrap();
        let b = limiter
            .key(Some("alice"), Some(Ipv4Addr::new(192, 0, 2, 1).into()))
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(limiter.check(&a), Ok(()));
        assert_eq!(limiter.check(&a), Ok(()));
        let wait = limiter.check(&a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(limiter.check(&b), Ok(()));
        assert_eq!(limiter.keys(), 2);
        assert_eq!(limiter.key(None, None), None);
    }

    #[test]
    fn ipv6_clients_count_by_network() {
        let limiter = Limiter::new(RateLimit::new(1.0, 1), 100).unwrap();
        let one = limiter.key(None, Some("2001:db8:1:2::1".parse().unwrap()));
        let same = limiter.key(None, Some("2001:db8:1:2:ffff::9".parse().unwrap()));
        let other = limiter.key(None, Some("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(one, same);
        assert_ne!(one, other);
        let mapped = limiter.key(None, Some("::ffff:198.51.100.7".parse().unwrap()));
        let v4 = limiter.key(None, Some(Ipv4Addr::new(198, 51, 100, 7).into()));
        assert_eq!(mapped, v4);
    }

    #[test]
    fn the_table_is_bounded() {
        let limiter = Limiter::new(RateLimit::new(1.0, 1), 64).unwrap();
        for i in 0..10_000u32 {
            let key = limiter.key(None, Some(Ipv4Addr::from(i).into())).unwrap();
            let _ = limiter.check(&key);
        }
        assert!(limiter.keys() <= 64, "{}", limiter.keys());
    }

    #[test]
    fn invalid_limits_are_refused() {
        for limit in [
            RateLimit::new(0.0, 1),
            RateLimit::new(-1.0, 1),
            RateLimit::new(f64::NAN, 1),
            RateLimit::new(f64::INFINITY, 1),
            RateLimit::new(1.0, 0),
        ] {
            assert!(limit.quota().is_err(), "{limit:?}");
        }
        assert!(RateLimit::new(0.001, 1).quota().is_ok());
        assert!(RateLimit::new(1e12, 1).quota().is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(30)), 30);
    }
}
