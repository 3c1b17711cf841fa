//! Rate limits (protocol.md §11). [`RateLimiter`] is the seam: in memory
//! for one process (GCRA via `governor`), a shared store for a cluster.
//! Only the account limits are wired in so far; the others slot in as new
//! [`Bucket`]s.

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    LoginPerIp,
    LoginPerUsername,
    RegisterPerIp,
}

impl Bucket {
    /// (events, per period, burst)
    fn quota(self) -> Quota {
        let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        match self {
            Bucket::LoginPerIp | Bucket::LoginPerUsername => Quota::per_minute(n(10)),
            Bucket::RegisterPerIp => Quota::with_period(Duration::from_secs(3600 / 5))
                .map(|q| q.allow_burst(n(5)))
                .unwrap_or_else(|| Quota::per_hour(n(5))),
        }
    }
}

#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// `Err(wait)` when the key is over its limit.
    async fn check(&self, bucket: Bucket, key: &str) -> Result<(), Duration>;
}

/// No limits (`--rate-limits off`).
pub struct Unlimited;

#[async_trait]
impl RateLimiter for Unlimited {
    async fn check(&self, _: Bucket, _: &str) -> Result<(), Duration> {
        Ok(())
    }
}

pub struct InMemoryLimiter {
    login_ip: DefaultKeyedRateLimiter<String>,
    login_user: DefaultKeyedRateLimiter<String>,
    register_ip: DefaultKeyedRateLimiter<String>,
}

impl Default for InMemoryLimiter {
    fn default() -> Self {
        InMemoryLimiter {
            login_ip: governor::RateLimiter::keyed(Bucket::LoginPerIp.quota()),
            login_user: governor::RateLimiter::keyed(Bucket::LoginPerUsername.quota()),
            register_ip: governor::RateLimiter::keyed(Bucket::RegisterPerIp.quota()),
        }
    }
}

impl InMemoryLimiter {
    /// Forgets keys that are back to full capacity (call periodically).
    pub fn shrink(&self) {
        for l in [&self.login_ip, &self.login_user, &self.register_ip] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[async_trait]
impl RateLimiter for InMemoryLimiter {
    async fn check(&self, bucket: Bucket, key: &str) -> Result<(), Duration> {
        let limiter = match bucket {
            Bucket::LoginPerIp => &self.login_ip,
            Bucket::LoginPerUsername => &self.login_user,
            Bucket::RegisterPerIp => &self.register_ip,
        };
        limiter
            .check_key(&key.to_string())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}
