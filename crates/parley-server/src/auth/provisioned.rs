//! External users already provisioned with the profile their token carries.
//!
//! Without this every request of an external-JWT user would upsert their
//! row through the single writer (one write per REST call or gateway
//! connect). A token whose profile claims match what was last written for
//! its subject maps to the user without touching storage; any other
//! profile writes again.

use super::Principal;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries live this long, so a row changed elsewhere (another process, an
/// admin) is re-read within it.
const TTL: Duration = Duration::from_secs(600);
/// Bound on memory; the map starts over when full.
const MAX_ENTRIES: usize = 100_000;

/// Per subject: the profile last written and who it is.
#[derive(Default)]
pub struct ProvisionedUsers {
    map: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    profile: String,
    principal: Principal,
    written_at: Instant,
}

/// The profile a token asks for. JSON keeps the parts apart whatever
/// characters they hold.
pub fn profile(
    display_name: &str,
    avatar_url: Option<&str>,
    role: &str,
    email: Option<&str>,
) -> String {
    serde_json::json!([display_name, avatar_url, role, email]).to_string()
}

impl ProvisionedUsers {
    /// The user, if `profile` is what was last written for `sub`.
    pub fn get(&self, sub: &str, profile: &str) -> Option<Principal> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(sub)
            .filter(|e| e.profile == profile && e.written_at.elapsed() < TTL)
            .map(|e| e.principal.clone())
    }

    pub fn insert(&self, sub: String, profile: String, principal: Principal) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            sub,
            Entry {
                profile,
                principal,
                written_at: Instant::now(),
            },
        );
    }
}
