//! The limits held in Redis, so that every process of a cluster spends
//! from one budget: GCRA in one Lua script (one round trip, atomic, and
//! nothing is taken when the request is refused).

use super::{Action, RateLimiter, RateTable};
use crate::cluster::Shared;
use async_trait::async_trait;
use std::time::Duration;

pub struct RedisLimiter {
    shared: Shared,
    rates: RateTable,
    script: ::redis::Script,
}

impl RedisLimiter {
    pub fn new(shared: Shared, rates: RateTable) -> Self {
        // KEYS[1]: the bucket; ARGV: interval_us, burst. Redis's own clock
        // (TIME), so that processes whose clocks differ share one bucket.
        // Returns 0 when allowed, else the microseconds to wait.
        let script = ::redis::Script::new(
            r"
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
            local interval = tonumber(ARGV[1])
            local tolerance = interval * (tonumber(ARGV[2]) - 1)
            local tat = tonumber(redis.call('GET', KEYS[1]) or now)
            if tat < now then tat = now end
            local allow_at = tat - tolerance
            if now < allow_at then return allow_at - now end
            local new_tat = tat + interval
            redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
            return 0
            ",
        );
        RedisLimiter {
            shared,
            rates,
            script,
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, action: Action, key: &str) -> Result<(), Duration> {
        let rate = self.rates.get(action);
        let interval_us = rate.interval().as_micros().max(1) as u64;
        let mut conn = self.shared.conn.clone();
        let wait: Result<i64, _> = self
            .script
            .key(self.shared.rate_key(action.name(), key))
            .arg(interval_us)
            .arg(rate.burst.max(1))
            .invoke_async(&mut conn)
            .await;
        match wait {
            Ok(us) if us > 0 => Err(Duration::from_micros(us as u64)),
            Ok(_) => Ok(()),
            Err(e) => {
                // An outage must not lock everyone out; the refusal would
                // be Redis's, not the user's.
                tracing::warn!(error = %e, "rate limit check failed; allowing");
                Ok(())
            }
        }
    }
}
