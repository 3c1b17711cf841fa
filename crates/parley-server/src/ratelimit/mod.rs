//! Rate limits (protocol.md §11): one token bucket per action and key
//! (a user id, or an IP address where the protocol says so). REST and every
//! gateway connection of a user spend from the same bucket, because the
//! services spend, not the handlers.
//!
//! [`RateLimiter`] is the seam: [`memory::InMemoryLimiter`] (GCRA through
//! `governor`) for one process, [`redis::RedisLimiter`] (the same GCRA in
//! one Lua script, one round trip) so that a cluster shares each budget.
//! [`Limiter`] is what services hold: it spends, counts refusals per action
//! in `/metrics`, and turns a refusal into the protocol's `rate_limited`.

pub mod memory;
pub mod redis;

use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Every limited action, with its name in configuration and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `POST /conversations/{id}/messages`, gateway `message.send`.
    Send,
    /// `POST /conversations` (get-or-create included).
    CreateConversation,
    /// `POST /conversations/{id}/read`, gateway `message.read`.
    Read,
    /// `GET /conversations`.
    ListConversations,
    /// `GET .../messages`, `.../events`, `GET /messages/{id}/context`.
    History,
    /// Gateway `typing.start`.
    Typing,
    /// `POST /media`.
    Upload,
    /// `POST /auth/login`, per IP.
    LoginIp,
    /// `POST /auth/login`, per username.
    LoginUsername,
    /// `POST /auth/register`, per IP.
    Register,
    /// `POST /conversations/{id}/members` (each request).
    AddMembers,
    /// `GET /users?query=`.
    Search,
    /// Frames a gateway connection may send, per connection (not shared:
    /// it keeps one connection from crowding out the others).
    Frames,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::Send,
        Action::CreateConversation,
        Action::Read,
        Action::ListConversations,
        Action::History,
        Action::Typing,
        Action::Upload,
        Action::LoginIp,
        Action::LoginUsername,
        Action::Register,
        Action::AddMembers,
        Action::Search,
        Action::Frames,
    ];

    /// The action's name in metrics and in Redis keys.
    pub fn name(self) -> &'static str {
        match self {
            Action::Send => "send",
            Action::CreateConversation => "create_conversation",
            Action::Read => "read",
            Action::ListConversations => "list_conversations",
            Action::History => "history",
            Action::Typing => "typing",
            Action::Upload => "upload",
            Action::LoginIp => "login_ip",
            Action::LoginUsername => "login_username",
            Action::Register => "register",
            Action::AddMembers => "add_members",
            Action::Search => "search",
            Action::Frames => "frames",
        }
    }

    /// The name a `--rate-limit` setting uses (`login` sets both login
    /// buckets).
    fn setting(self) -> &'static str {
        match self {
            Action::LoginIp | Action::LoginUsername => "login",
            other => other.name(),
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Protocol.md §11's defaults; add_members, search and frames are ours.
    fn default_rate(self) -> Rate {
        const MIN: u64 = 60;
        match self {
            Action::Send => Rate::new(60, MIN, 20),
            Action::CreateConversation => Rate::new(10, MIN, 10),
            Action::Read | Action::History => Rate::new(120, MIN, 120),
            Action::ListConversations => Rate::new(60, MIN, 60),
            Action::Typing | Action::Upload => Rate::new(30, MIN, 30),
            Action::LoginIp | Action::LoginUsername => Rate::new(10, MIN, 10),
            Action::Register => Rate::new(5, 3600, 5),
            Action::AddMembers => Rate::new(30, MIN, 30),
            Action::Search => Rate::new(60, MIN, 60),
            Action::Frames => Rate::new(200, 1, 400),
        }
    }
}

/// `count` per `period`, at most `burst` at once: a token bucket holding
/// `burst` tokens, refilled evenly (one every `period / count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period_secs: u64,
    pub burst: u32,
}

impl Rate {
    const fn new(count: u32, period_secs: u64, burst: u32) -> Rate {
        Rate {
            count,
            period_secs,
            burst,
        }
    }

    /// Time between two tokens.
    pub fn interval(self) -> Duration {
        Duration::from_secs(self.period_secs) / self.count.max(1)
    }

    /// `COUNT/PERIOD[:BURST]`, PERIOD one of `s`, `min`, `h`, `d` (e.g.
    /// `60/min:20`); without a burst, the count.
    fn parse(text: &str) -> Result<Rate, String> {
        let (rate, burst) = match text.split_once(':') {
            Some((r, b)) => (r, Some(b)),
            None => (text, None),
        };
        let (count, period) = rate
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not COUNT/PERIOD[:BURST], e.g. 60/min:20"))?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| format!("{text:?}: the count must be a whole number above 0"))?;
        let period_secs = match period.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            other => return Err(format!("{text:?}: period {other:?} is not s, min, h or d")),
        };
        let burst = match burst {
            None => count,
            Some(b) => b
                .trim()
                .parse()
                .ok()
                .filter(|b| *b > 0)
                .ok_or_else(|| format!("{text:?}: the burst must be a whole number above 0"))?,
        };
        Ok(Rate::new(count, period_secs, burst))
    }
}

/// The rate of every action: the defaults, with the operator's overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTable([Rate; Action::ALL.len()]);

impl Default for RateTable {
    fn default() -> Self {
        RateTable(Action::ALL.map(Action::default_rate))
    }
}

impl RateTable {
    pub fn get(&self, action: Action) -> Rate {
        self.0[action.index()]
    }

    /// Applies `ACTION=COUNT/PERIOD[:BURST]` settings over the defaults.
    pub fn with_overrides(items: &[String]) -> Result<RateTable, String> {
        let mut table = RateTable::default();
        for item in items {
            let (name, rate) = item.split_once('=').ok_or_else(|| {
                format!("{item:?} is not ACTION=COUNT/PERIOD[:BURST], e.g. send=60/min:20")
            })?;
            let name = name.trim();
            let rate = Rate::parse(rate.trim())?;
            let mut matched = false;
            for action in Action::ALL {
                if action.setting() == name {
                    table.0[action.index()] = rate;
                    matched = true;
                }
            }
            if !matched {
                let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.setting()).collect();
                names.dedup();
                return Err(format!(
                    "unknown action {name:?}; the actions are {}",
                    names.join(", ")
                ));
            }
        }
        Ok(table)
    }
}

#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Takes one token from `key`'s bucket for `action`; `Err(wait)` (and
    /// nothing taken) when it is empty.
    async fn check(&self, action: Action, key: &str) -> Result<(), Duration>;
}

/// No limits (`--rate-limits off`).
pub struct Unlimited;

#[async_trait]
impl RateLimiter for Unlimited {
    async fn check(&self, _: Action, _: &str) -> Result<(), Duration> {
        Ok(())
    }
}

/// What services hold: spend a token or refuse with `rate_limited`.
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<dyn RateLimiter>,
}

impl Limiter {
    pub fn new(inner: Arc<dyn RateLimiter>) -> Self {
        Limiter { inner }
    }

    pub fn unlimited() -> Self {
        Limiter::new(Arc::new(Unlimited))
    }

    /// Spends one `action` from `key`'s budget, or refuses with the wait
    /// (whole milliseconds, at least 1).
    pub async fn spend(&self, action: Action, key: &str) -> AppResult<()> {
        self.inner.check(action, key).await.map_err(|wait| {
            crate::metrics::rate_limited(action);
            AppError::rate_limited(wait)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_and_without_burst() {
        assert_eq!(Rate::parse("60/min:20"), Ok(Rate::new(60, 60, 20)));
        assert_eq!(Rate::parse("5/h"), Ok(Rate::new(5, 3600, 5)));
        assert_eq!(Rate::new(60, 60, 20).interval(), Duration::from_secs(1));
        for bad in [
            "", "60", "0/min", "60/week", "60/min:0", "x/min", "60/min:y",
        ] {
            assert!(Rate::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let t = RateTable::with_overrides(&["send=600/min:100".into(), "login=3/min".into()])
            .expect("valid");
        assert_eq!(t.get(Action::Send), Rate::new(600, 60, 100));
        assert_eq!(t.get(Action::LoginIp), Rate::new(3, 60, 3));
        assert_eq!(t.get(Action::LoginUsername), Rate::new(3, 60, 3));
        assert_eq!(t.get(Action::Read), RateTable::default().get(Action::Read));
        assert!(RateTable::with_overrides(&["sned=1/s".into()]).is_err());
        assert!(RateTable::with_overrides(&["send".into()]).is_err());
    }

    #[test]
    fn the_defaults_are_section_11s() {
        let t = RateTable::default();
        assert_eq!(t.get(Action::Send), Rate::new(60, 60, 20));
        assert_eq!(t.get(Action::Register), Rate::new(5, 3600, 5));
        assert_eq!(t.get(Action::Typing), Rate::new(30, 60, 30));
    }
}
