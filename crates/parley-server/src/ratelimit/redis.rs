//! The limits held in Redis, so that every process of a cluster spends
//! from one budget: GCRA in one Lua script (one round trip, atomic, and
//! nothing is taken when the request is refused).
//!
//! A process takes tokens from Redis a few at a time (a lease of a tenth
//! of the burst, at most 64, kept at most [`LEASE_TTL`]) and spends them
//! locally, so a busy user costs one round trip per lease rather than per
//! request. Leased tokens come out of the shared bucket, so processes
//! together never spend more than it holds; a lease unused when it
//! expires is simply lost (the limit is, if anything, slightly stricter).
//! Near the limit the script grants single tokens, so the refusal and its
//! wait are exact.

use super::{Action, RateLimiter, RateTable};
use crate::cluster::Shared;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long leased tokens may be spent locally.
const LEASE_TTL: Duration = Duration::from_millis(500);
/// Largest lease.
const MAX_LEASE: u32 = 64;
/// Leases kept per action before expired ones are dropped.
const MAX_LEASES: usize = 50_000;

struct Lease {
    left: u32,
    until: Instant,
}

pub struct RedisLimiter {
    shared: Shared,
    rates: RateTable,
    script: ::redis::Script,
    /// Per action, per key: found by `&str`, so a hit allocates nothing.
    leases: Mutex<HashMap<Action, HashMap<String, Lease>>>,
}

impl RedisLimiter {
    pub fn new(shared: Shared, rates: RateTable) -> Self {
        // KEYS[1]: the bucket; ARGV: interval_us, burst, wanted. Redis's
        // own clock (TIME), so that processes whose clocks differ share one
        // bucket. Takes `wanted` tokens if the bucket holds them, else one,
        // else none. Returns {granted, microseconds to wait if none}.
        let script = ::redis::Script::new(
            r"
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
            local interval = tonumber(ARGV[1])
            local tolerance = interval * tonumber(ARGV[2])
            local tat = tonumber(redis.call('GET', KEYS[1]) or now)
            if tat < now then tat = now end
            local wanted = tonumber(ARGV[3])
            for _, n in ipairs({wanted, 1}) do
                local new_tat = tat + n * interval
                if new_tat - now <= tolerance then
                    redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
                    return {n, 0}
                end
            end
            return {0, tat + interval - tolerance - now}
            ",
        );
        RedisLimiter {
            shared,
            rates,
            script,
            leases: Mutex::new(HashMap::new()),
        }
    }

    /// Spends a leased token, if this process holds one.
    fn spend_leased(&self, action: Action, key: &str) -> bool {
        let Ok(mut leases) = self.leases.lock() else {
            return false;
        };
        let Some(of_action) = leases.get_mut(&action) else {
            return false;
        };
        match of_action.get_mut(key) {
            Some(l) if l.left > 0 && l.until > Instant::now() => {
                l.left -= 1;
                true
            }
            Some(_) => {
                of_action.remove(key);
                false
            }
            None => false,
        }
    }

    fn keep_lease(&self, action: Action, key: &str, left: u32) {
        if left == 0 {
            return;
        }
        if let Ok(mut leases) = self.leases.lock() {
            let of_action = leases.entry(action).or_default();
            if of_action.len() >= MAX_LEASES {
                let now = Instant::now();
                of_action.retain(|_, l| l.until > now);
            }
            of_action.insert(
                key.to_string(),
                Lease {
                    left,
                    until: Instant::now() + LEASE_TTL,
                },
            );
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, action: Action, key: &str) -> Result<(), Duration> {
        if self.spend_leased(action, key) {
            return Ok(());
        }
        let rate = self.rates.get(action);
        let interval_us = rate.interval().as_micros().max(1) as u64;
        let wanted = (rate.burst / 10).clamp(1, MAX_LEASE);
        let mut conn = self.shared.conn.clone();
        let answer: Result<(u32, i64), _> = self
            .script
            .key(self.shared.rate_key(action.name(), key))
            .arg(interval_us)
            .arg(rate.burst.max(1))
            .arg(wanted)
            .invoke_async(&mut conn)
            .await;
        match answer {
            Ok((0, us)) => Err(Duration::from_micros(us.max(1) as u64)),
            Ok((granted, _)) => {
                self.keep_lease(action, key, granted - 1);
                Ok(())
            }
            Err(e) => {
                // An outage must not lock everyone out; the refusal would
                // be Redis's, not the user's.
                tracing::warn!(error = %e, "rate limit check failed; allowing");
                Ok(())
            }
        }
    }
}
