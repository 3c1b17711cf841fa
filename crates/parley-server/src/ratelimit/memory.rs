//! The limits of one process: a keyed GCRA limiter (`governor`) per action.

use super::{Action, Rate, RateLimiter, RateTable};
use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::time::Duration;

/// `rate` as a `governor` quota.
pub fn quota(rate: Rate) -> Quota {
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(rate.interval().max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(burst)
}

/// One gateway connection's frame budget ([`Action::Frames`]).
pub fn frame_budget(rates: &RateTable) -> DefaultDirectRateLimiter {
    governor::RateLimiter::direct(quota(rates.get(Action::Frames)))
}

pub struct InMemoryLimiter {
    buckets: Vec<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl InMemoryLimiter {
    pub fn new(rates: &RateTable) -> Self {
        let buckets = Action::ALL
            .iter()
            .map(|a| governor::RateLimiter::keyed(quota(rates.get(*a))))
            .collect();
        InMemoryLimiter {
            buckets,
            clock: DefaultClock::default(),
        }
    }

    /// Forgets keys that are back to full capacity (a supervised job calls
    /// this every minute).
    pub fn shrink(&self) {
        for l in &self.buckets {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[async_trait]
impl RateLimiter for InMemoryLimiter {
    async fn check(&self, action: Action, key: &str) -> Result<(), Duration> {
        let Some(limiter) = self.buckets.get(action.index()) else {
            return Ok(());
        };
        limiter
            .check_key(&key.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}
