//! Whether a credential still opens its account (protocol.md §11): not
//! while the user is banned, not if it was issued before the latest ban,
//! and not once its session (refresh-token family) ended by logout or a
//! detected reuse. Checked on every authenticated request, ticket and
//! upgrade; the facts are cached for [`FRESH`], so a change made on
//! another process (or by the command line) takes effect within that.
//! Changes made here are forgotten from the cache at once.

use crate::error::{AppError, AppResult};
use parley_domain::moderation::credential_allowed;
use parley_store::{CredentialStore, UserStore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a read of the facts is trusted.
pub const FRESH: Duration = Duration::from_secs(1);
/// Entries kept before stale ones are dropped.
const MAX_ENTRIES: usize = 50_000;

#[derive(Clone, Copy)]
struct Access {
    exists: bool,
    banned: bool,
    sessions_valid_after: Option<i64>,
}

struct Cache<V> {
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Copy> Cache<V> {
    fn new() -> Self {
        Cache {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &str) -> Option<V> {
        let map = self.entries.lock().ok()?;
        map.get(key)
            .filter(|(at, _)| at.elapsed() < FRESH)
            .map(|(_, v)| *v)
    }

    fn put(&self, key: &str, v: V) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= MAX_ENTRIES {
                map.retain(|_, (at, _)| at.elapsed() < FRESH);
            }
            map.insert(key.to_string(), (Instant::now(), v));
        }
    }

    fn forget(&self, key: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(key);
        }
    }
}

#[derive(Clone)]
pub struct SessionGate {
    users: Arc<dyn UserStore>,
    credentials: Arc<dyn CredentialStore>,
    access: Arc<Cache<Access>>,
    /// Session id -> ended.
    ended: Arc<Cache<bool>>,
}

const REFUSED: AppError = AppError::Unauthenticated("this session has ended; sign in again");

impl SessionGate {
    pub fn new(users: Arc<dyn UserStore>, credentials: Arc<dyn CredentialStore>) -> Self {
        SessionGate {
            users,
            credentials,
            access: Arc::new(Cache::new()),
            ended: Arc::new(Cache::new()),
        }
    }

    /// `unauthenticated` unless `user`'s credential, issued at
    /// `issued_at_ms` (when known) in `session` (when it has one), still
    /// opens the account.
    pub async fn check(
        &self,
        user: &str,
        issued_at_ms: Option<i64>,
        session: Option<&str>,
    ) -> AppResult<()> {
        let access = match self.access.get(user) {
            Some(a) => a,
            None => {
                let row = self.users.user_by_id(user).await?;
                let a = Access {
                    exists: row.is_some(),
                    banned: row.as_ref().is_some_and(|u| u.banned_at.is_some()),
                    sessions_valid_after: row.and_then(|u| u.sessions_valid_after),
                };
                self.access.put(user, a);
                a
            }
        };
        if !access.exists
            || !credential_allowed(access.banned, access.sessions_valid_after, issued_at_ms)
        {
            return Err(REFUSED);
        }
        if let Some(sid) = session {
            let ended = match self.ended.get(sid) {
                Some(e) => e,
                None => {
                    let e = self.credentials.family_revoked(sid).await?;
                    self.ended.put(sid, e);
                    e
                }
            };
            if ended {
                return Err(REFUSED);
            }
        }
        Ok(())
    }

    /// The user's ban state changed here.
    pub fn forget_user(&self, user: &str) {
        self.access.forget(user);
    }

    /// A session ended here.
    pub fn forget_session(&self, session: &str) {
        self.ended.forget(session);
    }
}
