//! Reconnect delays: exponential from 100 ms to 5 s, with jitter so that
//! thousands of clients cut off together (a server restart) do not come
//! back in lockstep.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(5);

/// The delay before reconnect attempt `attempt` (0-based): a random point
/// in the upper half of `min(FIRST * 2^attempt, MAX)` ("equal jitter", so
/// that a delay never collapses to zero). `unit` is a random number in
/// `[0, 1)`.
pub(crate) fn delay(attempt: u32, unit: f64) -> Duration {
    let ceiling = FIRST
        .checked_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .map_or(MAX, |d| d.min(MAX));
    let half = ceiling / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// A random number in `[0, 1)` from the OS generator (through a v4 UUID,
/// which the crate already depends on, rather than another dependency).
pub(crate) fn random_unit() -> f64 {
    // The low half of a v4 UUID is random but for the two variant bits on
    // top; 53 of the rest make an exact f64 fraction.
    let low = uuid::Uuid::new_v4().as_u64_pair().1;
    let bits = (low & (u64::MAX >> 2)) >> 9;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_within_bounds() {
        assert_eq!(delay(0, 0.0), Duration::from_millis(50));
        assert_eq!(delay(0, 1.0), Duration::from_millis(100));
        assert_eq!(delay(3, 0.0), Duration::from_millis(400));
        for attempt in [6, 10, 31, 32, 1000, u32::MAX] {
            let d = delay(attempt, 0.999);
            assert!(d <= MAX && d >= MAX / 2, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn random_units_are_fractions() {
        for _ in 0..1000 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u), "{u}");
        }
    }
}
