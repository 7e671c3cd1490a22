//! Reconnection delays: exponential backoff with jitter, handed the
//! current time so that it is testable without sleeping.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

/// Decides how long to wait before each reconnection attempt.
///
/// The subscriber calls [`RetryStrategy::reset`] when a connection opens,
/// [`RetryStrategy::delivered`] when it delivers its first update,
/// [`RetryStrategy::next_delay`] before each new attempt, and
/// [`RetryStrategy::change_base_delay`] when the stream sends `retry:`.
/// Whatever it answers, the subscriber waits at least its
/// [floor](crate::SubscriberBuilder::min_retry).
pub trait RetryStrategy: Send + fmt::Debug {
    /// The delay before the next attempt, at time `now`.
    fn next_delay(&mut self, now: Instant) -> Duration;
    /// The server asked for this reconnection time (already floored).
    fn change_base_delay(&mut self, base: Duration);
    /// A connection opened at `now`.
    fn reset(&mut self, now: Instant);
    /// The connection opened last delivered its first update at `now`: it
    /// works, whatever cuts it later. Does nothing by default.
    fn delivered(&mut self, now: Instant) {
        let _ = now;
    }
}

/// The default initial delay: 1 s.
pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_secs(1);
/// The default longest delay: 60 s.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(60);
/// The default healthy period after which the backoff starts over: 60 s.
pub const DEFAULT_RESET_AFTER: Duration = Duration::from_secs(60);

/// Exponential backoff with jitter: `initial × factor^n`, capped at `max`,
/// of which a random `jitter` fraction is taken off; the count `n` starts
/// over once a connection delivered an update, or stayed up for
/// `reset_after` (heartbeats only). So a proxy that cuts every stream
/// after a few seconds keeps the delay at its base as long as updates get
/// through, while a hub that accepts and delivers nothing still pushes it
/// toward `max`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use mercure_client::subscriber::{ExponentialBackoff, RetryStrategy};
///
/// let mut backoff = ExponentialBackoff::new()
///     .initial(Duration::from_millis(100))
///     .max(Duration::from_secs(1))
///     .jitter(0.0);
/// let now = Instant::now();
/// let delays: Vec<_> = (0..5).map(|_| backoff.next_delay(now).as_millis()).collect();
/// assert_eq!(delays, [100, 200, 400, 800, 1000]);
/// ```
#[derive(Clone)]
pub struct ExponentialBackoff {
    base: Duration,
    max: Duration,
    factor: f64,
    jitter: f64,
    reset_after: Duration,
    attempts: u32,
    healthy_since: Option<Instant>,
    rng: u64,
}

impl fmt::Debug for ExponentialBackoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExponentialBackoff")
            .field("base", &self.base)
            .field("max", &self.max)
            .field("factor", &self.factor)
            .field("jitter", &self.jitter)
            .field("reset_after", &self.reset_after)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Default for ExponentialBackoff {
    fn default() -> Self {
        Self::new()
    }
}

impl ExponentialBackoff {
    /// 1 s doubling up to 60 s, half of it jittered, reset by a delivered
    /// update or after 60 s up.
    pub fn new() -> Self {
        Self {
            base: DEFAULT_INITIAL_DELAY,
            max: DEFAULT_MAX_DELAY,
            factor: 2.0,
            jitter: 0.5,
            reset_after: DEFAULT_RESET_AFTER,
            attempts: 0,
            healthy_since: None,
            rng: RandomState::new().hash_one(0x006d_6572_6375_7265_u64) | 1,
        }
    }

    /// The first delay (before jitter).
    #[must_use]
    pub fn initial(mut self, delay: Duration) -> Self {
        self.base = delay;
        self
    }

    /// The longest delay.
    #[must_use]
    pub fn max(mut self, delay: Duration) -> Self {
        self.max = delay;
        self
    }

    /// The growth factor per failed attempt (at least 1).
    #[must_use]
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = if factor.is_finite() {
            factor.max(1.0)
        } else {
            2.0
        };
        self
    }

    /// The fraction of each delay that is random, from 0 (none) to 1.
    #[must_use]
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.5
        };
        self
    }

    /// How long a connection must stay up for the backoff to start over
    /// when it delivers no update.
    #[must_use]
    pub fn reset_after(mut self, period: Duration) -> Self {
        self.reset_after = period;
        self
    }

    /// Seeds the jitter (for reproducible delays).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = seed | 1;
        self
    }

    /// A uniform number in [0, 1) (SplitMix64).
    fn random(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl RetryStrategy for ExponentialBackoff {
    fn next_delay(&mut self, now: Instant) -> Duration {
        if let Some(since) = self.healthy_since.take()
            && now.saturating_duration_since(since) >= self.reset_after
        {
            self.attempts = 0;
        }
        let exponent = i32::try_from(self.attempts).unwrap_or(i32::MAX);
        let grown = self.base.as_secs_f64() * self.factor.powi(exponent);
        let capped = grown.min(self.max.as_secs_f64());
        let jittered = capped * self.jitter.mul_add(-self.random(), 1.0);
        self.attempts = self.attempts.saturating_add(1);
        Duration::try_from_secs_f64(jittered).unwrap_or(self.max)
    }

    fn change_base_delay(&mut self, base: Duration) {
        self.base = base;
    }

    fn reset(&mut self, now: Instant) {
        self.healthy_since = Some(now);
    }

    fn delivered(&mut self, _now: Instant) {
        self.attempts = 0;
        self.healthy_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_jitter() -> ExponentialBackoff {
        ExponentialBackoff::new()
            .initial(Duration::from_secs(1))
            .max(Duration::from_secs(30))
            .reset_after(Duration::from_secs(60))
            .jitter(0.0)
    }

    #[test]
    fn grows_then_caps() {
        let mut backoff = no_jitter();
        let now = Instant::now();
        let delays: Vec<u64> = (0..7).map(|_| backoff.next_delay(now).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn resets_only_after_a_healthy_period() {
        let mut backoff = no_jitter();
        let t0 = Instant::now();
        for _ in 0..4 {
            backoff.next_delay(t0);
        }
        // Connected, but dropped after 10 s: the backoff keeps growing.
        backoff.reset(t0);
        assert_eq!(
            backoff.next_delay(t0 + Duration::from_secs(10)),
            Duration::from_secs(16)
        );
        // Connected and stayed up 60 s: start over.
        let t1 = t0 + Duration::from_secs(100);
        backoff.reset(t1);
        assert_eq!(
            backoff.next_delay(t1 + Duration::from_secs(60)),
            Duration::from_secs(1)
        );
        assert_eq!(
            backoff.next_delay(t1 + Duration::from_secs(61)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn a_delivered_update_starts_over() {
        let mut backoff = no_jitter();
        let t0 = Instant::now();
        for _ in 0..4 {
            backoff.next_delay(t0);
        }
        backoff.reset(t0);
        backoff.delivered(t0);
        // Cut 2 s later: back to the initial delay.
        assert_eq!(
            backoff.next_delay(t0 + Duration::from_secs(2)),
            Duration::from_secs(1)
        );
        assert_eq!(backoff.next_delay(t0), Duration::from_secs(2));
    }

    #[test]
    fn server_retry_changes_the_base() {
        let mut backoff = no_jitter();
        let now = Instant::now();
        backoff.change_base_delay(Duration::from_millis(250));
        assert_eq!(backoff.next_delay(now), Duration::from_millis(250));
        assert_eq!(backoff.next_delay(now), Duration::from_millis(500));
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let mut backoff = ExponentialBackoff::new()
            .initial(Duration::from_secs(10))
            .factor(1.0)
            .jitter(0.5)
            .seed(42);
        let now = Instant::now();
        let delays: Vec<Duration> = (0..50).map(|_| backoff.next_delay(now)).collect();
        for delay in &delays {
            assert!(
                *delay >= Duration::from_secs(5) && *delay <= Duration::from_secs(10),
                "{delay:?}"
            );
        }
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 40);
        // Same seed, same delays.
        let mut again = ExponentialBackoff::new()
            .initial(Duration::from_secs(10))
            .factor(1.0)
            .jitter(0.5)
            .seed(42);
        assert_eq!(again.next_delay(now), delays[0]);
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut backoff = no_jitter().factor(10.0);
        let now = Instant::now();
        for _ in 0..2000 {
            assert!(backoff.next_delay(now) <= Duration::from_secs(30));
        }
    }
}
