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
    fn name(self) -> &'static str {
        match self {
            Bucket::LoginPerIp => "login_ip",
            Bucket::LoginPerUsername => "login_user",
            Bucket::RegisterPerIp => "register_ip",
        }
    }

    /// (milliseconds between events at the sustained rate, burst size)
    fn gcra(self) -> (u64, u64) {
        match self {
            Bucket::LoginPerIp | Bucket::LoginPerUsername => (6_000, 10),
            Bucket::RegisterPerIp => (720_000, 5),
        }
    }

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

/// The same limits held in Redis, so they hold across every process of a
/// cluster: GCRA in one Lua script (one round trip, atomic). If Redis is
/// unreachable the request is allowed: an outage must not lock everyone out.
pub struct RedisLimiter {
    shared: crate::cluster::Shared,
    script: redis::Script,
}

impl RedisLimiter {
    pub fn new(shared: crate::cluster::Shared) -> Self {
        // KEYS[1]: the key; ARGV: now_ms, interval_ms, burst.
        // Returns 0 when allowed, else the milliseconds to wait.
        let script = redis::Script::new(
            r"
            local now = tonumber(ARGV[1])
            local interval = tonumber(ARGV[2])
            local tolerance = interval * (tonumber(ARGV[3]) - 1)
            local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
            if tat < now then tat = now end
            local allow_at = tat - tolerance
            if now < allow_at then return allow_at - now end
            local new_tat = tat + interval
            redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + interval)
            return 0
            ",
        );
        RedisLimiter { shared, script }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, bucket: Bucket, key: &str) -> Result<(), Duration> {
        let (interval, burst) = bucket.gcra();
        let now = parley_protocol::Timestamp::now().millis();
        let mut conn = self.shared.conn.clone();
        let wait: Result<i64, _> = self
            .script
            .key(self.shared.rate_key(bucket.name(), key))
            .arg(now)
            .arg(interval)
            .arg(burst)
            .invoke_async(&mut conn)
            .await;
        match wait {
            Ok(ms) if ms > 0 => Err(Duration::from_millis(ms as u64)),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "rate limit check failed; allowing");
                Ok(())
            }
        }
    }
}
