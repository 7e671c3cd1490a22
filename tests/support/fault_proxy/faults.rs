//! What a fault proxy does to the connections it forwards: the settings,
//! from which each connection's [`Plan`](super::plan::Plan) is drawn.

use std::ops::RangeInclusive;
use std::time::Duration;

/// The faults of a [`FaultProxy`](super::FaultProxy); the default (and
/// [`Faults::none`]) forwards every byte untouched.
///
/// Cuts are decided per connection, at a byte offset of the response
/// direction (upstream to client, response head included); stalls, delays
/// and splits per chunk read, in both directions.
///
/// ```
/// use std::time::Duration;
/// use mercure_integration_tests::fault_proxy::Faults;
///
/// let faults = Faults::none()
///     .cut(0.5, 0..=4096)
///     .resets(0.5)
///     .stall(0.01, Duration::from_millis(10)..=Duration::from_millis(100))
///     .delay(Duration::ZERO..=Duration::from_millis(1))
///     .split(7);
/// assert_eq!(faults.max_piece, Some(7));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// The chance (0 to 1) that a connection is cut.
    pub cut_chance: f64,
    /// Where a connection is cut: after this many bytes of the response
    /// direction (drawn uniformly). A connection that ends before is not
    /// cut.
    pub cut_after: RangeInclusive<u64>,
    /// The share (0 to 1) of cuts made with a reset (RST); the others
    /// close both directions cleanly (FIN).
    pub reset_share: f64,
    /// The chance (0 to 1) that a chunk read is held back before it is
    /// forwarded (a stall: nothing more flows that way meanwhile).
    pub stall_chance: f64,
    /// How long a stall lasts (drawn uniformly).
    pub stall_for: RangeInclusive<Duration>,
    /// The delay before each chunk read is written (drawn uniformly);
    /// zero forwards at once.
    pub delay: RangeInclusive<Duration>,
    /// Writes each chunk read in pieces of 1 to this many bytes (drawn
    /// uniformly), each written and flushed on its own; `None` writes
    /// chunks whole.
    pub max_piece: Option<usize>,
}

impl Default for Faults {
    fn default() -> Self {
        Self::none()
    }
}

impl Faults {
    /// No fault: every byte forwarded at once, as read.
    pub fn none() -> Self {
        Self {
            cut_chance: 0.0,
            cut_after: 0..=0,
            reset_share: 0.0,
            stall_chance: 0.0,
            stall_for: Duration::ZERO..=Duration::ZERO,
            delay: Duration::ZERO..=Duration::ZERO,
            max_piece: None,
        }
    }

    /// Cuts a connection with probability `chance` after a number of
    /// response bytes drawn from `after` (cleanly, unless
    /// [`Faults::resets`] says otherwise).
    ///
    /// # Panics
    /// When `chance` is not within 0 and 1 or `after` is empty.
    #[must_use]
    pub fn cut(mut self, chance: f64, after: RangeInclusive<u64>) -> Self {
        assert!((0.0..=1.0).contains(&chance), "cut chance {chance}");
        assert!(!after.is_empty(), "empty cut range {after:?}");
        self.cut_chance = chance;
        self.cut_after = after;
        self
    }

    /// Makes this share of the cuts resets (RST) rather than clean
    /// closes (FIN).
    ///
    /// # Panics
    /// When `share` is not within 0 and 1.
    #[must_use]
    pub fn resets(mut self, share: f64) -> Self {
        assert!((0.0..=1.0).contains(&share), "reset share {share}");
        self.reset_share = share;
        self
    }

    /// Holds back a chunk with probability `chance` for a time drawn from
    /// `duration`.
    ///
    /// # Panics
    /// When `chance` is not within 0 and 1 or `duration` is empty.
    #[must_use]
    pub fn stall(mut self, chance: f64, duration: RangeInclusive<Duration>) -> Self {
        assert!((0.0..=1.0).contains(&chance), "stall chance {chance}");
        assert!(!duration.is_empty(), "empty stall range {duration:?}");
        self.stall_chance = chance;
        self.stall_for = duration;
        self
    }

    /// Waits a time drawn from `delay` before writing each chunk read.
    ///
    /// # Panics
    /// When `delay` is empty.
    #[must_use]
    pub fn delay(mut self, delay: RangeInclusive<Duration>) -> Self {
        assert!(!delay.is_empty(), "empty delay range {delay:?}");
        self.delay = delay;
        self
    }

    /// Writes chunks in pieces of 1 to `max_piece` bytes.
    ///
    /// # Panics
    /// When `max_piece` is 0.
    #[must_use]
    pub fn split(mut self, max_piece: usize) -> Self {
        assert!(max_piece > 0, "pieces of at least one byte");
        self.max_piece = Some(max_piece);
        self
    }
}
