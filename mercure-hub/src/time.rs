//! Deadlines that never overflow. Every time the hub computes from a
//! peer's input (a token's `exp`) or from its configuration (heartbeat,
//! timeouts) goes through here: `Instant + Duration` panics past what the
//! clock holds, so durations are clamped to [`FAR_FUTURE`] and additions
//! are checked.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// The longest wait the hub arms a timer for, about 30 years (tokio's own
/// "far future"): a token expiring in 9999, or a heartbeat configured as
/// `u64::MAX` seconds, waits this long instead.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `duration`, at most [`FAR_FUTURE`].
pub(crate) fn clamp(duration: Duration) -> Duration {
    duration.min(FAR_FUTURE)
}

/// `after` from `now`, saturating: a deadline is at most [`FAR_FUTURE`]
/// away, and never before `now`.
pub(crate) fn deadline(now: Instant, after: Duration) -> Instant {
    let mut after = clamp(after);
    loop {
        if let Some(at) = now.checked_add(after) {
            return at;
        }
        // Only a clock near its own end gets here: wait less.
        after /= 2;
    }
}

/// The time `seconds` after the Unix epoch, saturating at the latest time
/// the system clock holds.
pub(crate) fn unix_time(seconds: u64) -> SystemTime {
    let mut after = Duration::from_secs(seconds);
    loop {
        if let Some(at) = SystemTime::UNIX_EPOCH.checked_add(after) {
            return at;
        }
        after /= 2;
    }
}

/// How long from `now` until `at`; `None` once `at` has passed.
pub(crate) fn until(at: SystemTime, now: SystemTime) -> Option<Duration> {
    at.duration_since(now).ok().map(clamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_overflows() {
        let now = Instant::now();
        for after in [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ] {
            let at = deadline(now, after);
            assert!(at >= now);
            assert!(at - now <= FAR_FUTURE);
            // What timers do next with it: another period on top.
            let _ = deadline(at, after);
        }
        assert_eq!(
            deadline(now, Duration::from_secs(5)) - now,
            Duration::from_secs(5)
        );
        for seconds in [
            0,
            1,
            mercure_core::token::LATEST_CLAIM_TIME,
            i64::MAX as u64,
            u64::MAX,
        ] {
            let at = unix_time(seconds);
            let _ = until(at, SystemTime::now()).map(|left| deadline(now, left));
        }
        assert_eq!(until(SystemTime::UNIX_EPOCH, SystemTime::now()), None);
        assert_eq!(
            until(unix_time(u64::MAX), SystemTime::UNIX_EPOCH),
            Some(FAR_FUTURE)
        );
    }
}
