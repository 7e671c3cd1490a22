//! The seed of a proxy's faults: random unless [`SEED_VAR`] gives it,
//! printed either way, so that a failing run can be replayed.

use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that fixes the seed of every fault proxy a
/// test process starts (a decimal `u64`, as printed).
pub const SEED_VAR: &str = "FAULT_PROXY_SEED";

/// The seed for a new proxy: [`SEED_VAR`] when set, a fresh one
/// otherwise.
///
/// # Panics
/// When [`SEED_VAR`] is set to something other than a decimal `u64`: a
/// typo must not silently run another seed.
pub(super) fn choose() -> u64 {
    match std::env::var(SEED_VAR) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_VAR}={value:?} is not a decimal u64")),
        Err(_) => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            // Truncation is fine: any 64 bits make a seed.
            mix(nanos as u64 ^ u64::from(std::process::id()))
        }
    }
}

/// The seed of the `index`-th connection of a proxy seeded with `seed`:
/// each connection draws its faults from a generator of its own, so the
/// plan of connection n does not depend on how much earlier connections
/// drew.
pub(super) fn for_connection(seed: u64, index: u64) -> u64 {
    mix(seed ^ mix(index.wrapping_add(0x9E37_79B9_7F4A_7C15)))
}

/// SplitMix64's finaliser: spreads nearby inputs far apart.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_get_distinct_reproducible_seeds() {
        assert_eq!(for_connection(7, 3), for_connection(7, 3));
        assert_ne!(for_connection(7, 3), for_connection(7, 4));
        assert_ne!(for_connection(7, 3), for_connection(8, 3));
    }
}
