//! One connection's faults, drawn from the [`Faults`] with the
//! connection's own seeded generator.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::cut::CutKind;
use super::faults::Faults;

/// Where and how a connection is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cut {
    /// After this many bytes of the response direction.
    pub(super) after: u64,
    /// Reset or clean close.
    pub(super) kind: CutKind,
}

/// What happens to one connection: its cut, if any, and a shaper for
/// each direction.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) cut: Option<Cut>,
    /// Client to upstream.
    pub(super) request: Shaper,
    /// Upstream to client.
    pub(super) response: Shaper,
}

impl Plan {
    /// Draws the plan of a connection whose seed is `seed`.
    pub(super) fn draw(faults: &Faults, seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let cut = (rng.f64() < faults.cut_chance).then(|| Cut {
            after: rng.u64(faults.cut_after.clone()),
            kind: if rng.f64() < faults.reset_share {
                CutKind::Reset
            } else {
                CutKind::Close
            },
        });
        let request = Shaper::new(faults, rng.fork());
        let response = Shaper::new(faults, rng.fork());
        Self {
            cut,
            request,
            response,
        }
    }
}

/// Decides, chunk by chunk, how one direction is forwarded.
#[derive(Debug)]
pub(super) struct Shaper {
    rng: fastrand::Rng,
    stall_chance: f64,
    stall_for: RangeInclusive<Duration>,
    delay: RangeInclusive<Duration>,
    max_piece: Option<usize>,
}

impl Shaper {
    fn new(faults: &Faults, rng: fastrand::Rng) -> Self {
        Self {
            rng,
            stall_chance: faults.stall_chance,
            stall_for: faults.stall_for.clone(),
            delay: faults.delay.clone(),
            max_piece: faults.max_piece,
        }
    }

    /// How long to hold the next chunk back, if at all.
    pub(super) fn stall(&mut self) -> Option<Duration> {
        (self.stall_chance > 0.0 && self.rng.f64() < self.stall_chance)
            .then(|| uniform(&mut self.rng, &self.stall_for))
    }

    /// The delay before the next chunk (zero: none).
    pub(super) fn delay(&mut self) -> Duration {
        uniform(&mut self.rng, &self.delay)
    }

    /// The length of the next piece of a chunk with `left` bytes left
    /// (at least 1 when `left` is).
    pub(super) fn piece(&mut self, left: usize) -> usize {
        match self.max_piece {
            None => left,
            Some(max) => self.rng.usize(1..=max.max(1)).min(left),
        }
    }
}

/// A duration drawn uniformly from `range` (to the nanosecond, capped at
/// about 584 years).
fn uniform(rng: &mut fastrand::Rng, range: &RangeInclusive<Duration>) -> Duration {
    let nanos = |d: &Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let (low, high) = (nanos(range.start()), nanos(range.end()));
    if low >= high {
        return *range.start();
    }
    Duration::from_nanos(rng.u64(low..=high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_plan() {
        let faults = Faults::none()
            .cut(0.5, 10..=1000)
            .resets(0.5)
            .stall(0.5, Duration::ZERO..=Duration::from_millis(5))
            .split(9);
        for seed in 0..50 {
            let (mut a, mut b) = (Plan::draw(&faults, seed), Plan::draw(&faults, seed));
            assert_eq!(a.cut, b.cut);
            for _ in 0..20 {
                assert_eq!(a.response.stall(), b.response.stall());
                assert_eq!(a.request.piece(100), b.request.piece(100));
            }
        }
    }

    #[test]
    fn draws_stay_within_their_ranges() {
        let faults = Faults::none()
            .cut(1.0, 10..=20)
            .delay(Duration::from_millis(1)..=Duration::from_millis(2))
            .split(3);
        for seed in 0..200 {
            let mut plan = Plan::draw(&faults, seed);
            let cut = plan.cut.expect("cut chance 1");
            assert!((10..=20).contains(&cut.after));
            assert_eq!(cut.kind, CutKind::Close);
            let delay = plan.response.delay();
            assert!(delay >= Duration::from_millis(1) && delay <= Duration::from_millis(2));
            assert!((1..=3).contains(&plan.response.piece(100)));
            assert_eq!(plan.response.piece(1), 1);
            assert_eq!(plan.response.stall(), None);
        }
        let mut plan = Plan::draw(&Faults::none(), 1);
        assert_eq!(plan.cut, None);
        assert_eq!(plan.request.piece(4096), 4096);
        assert_eq!(plan.request.delay(), Duration::ZERO);
    }
}
