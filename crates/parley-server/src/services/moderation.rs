//! Admin moderation (protocol.md §11): admin deletes, bans and the audit
//! log. A ban ends the user's access at once: their connections on this
//! process close with 4003 now, every other process's within a second
//! ([`ModerationService::run`] watches for new bans, including those made
//! by `parley admin ban`), and the session gate refuses their credentials.

use super::check_id;
use super::sessions::SessionGate;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::fanout::Fanout;
use parley_domain::input;
use parley_domain::moderation::{self as rules, MAX_REASON_CHARS};
use parley_protocol::gateway::close_code;
use parley_protocol::{AuditEntry, Message, Timestamp};
use parley_store::{ModerationStore, UserStore};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often each process looks for bans made elsewhere.
const BAN_POLL: Duration = Duration::from_millis(500);
/// How far back each look reaches (clock skew between processes, slow
/// commits): closing a banned user's connections twice is harmless.
const BAN_LOOKBACK_MS: i64 = 15_000;

#[derive(Clone)]
pub struct ModerationService {
    store: Arc<dyn ModerationStore>,
    users: Arc<dyn UserStore>,
    gate: SessionGate,
    fanout: Arc<dyn Fanout>,
}

impl ModerationService {
    pub fn new(
        store: Arc<dyn ModerationStore>,
        users: Arc<dyn UserStore>,
        gate: SessionGate,
        fanout: Arc<dyn Fanout>,
    ) -> Self {
        ModerationService {
            store,
            users,
            gate,
            fanout,
        }
    }

    /// `DELETE /admin/messages/{id}`.
    pub async fn delete_message(&self, who: &Principal, id: &str) -> AppResult<Message> {
        rules::require_admin(who.role)?;
        check_id(id, "message")?;
        Ok(self
            .store
            .admin_delete_message(&who.user_id, id, Timestamp::now())
            .await?)
    }

    /// `POST /admin/users/{id}/ban`.
    pub async fn ban(&self, who: &Principal, target: &str, reason: Option<&str>) -> AppResult<()> {
        rules::require_admin(who.role)?;
        check_id(target, "user")?;
        self.ban_as(Some(&who.user_id), target, reason).await?;
        Ok(())
    }

    /// `DELETE /admin/users/{id}/ban`.
    pub async fn unban(&self, who: &Principal, target: &str) -> AppResult<()> {
        rules::require_admin(who.role)?;
        check_id(target, "user")?;
        self.unban_as(Some(&who.user_id), target).await?;
        Ok(())
    }

    /// `GET /admin/audit`: newest first, before the entry id `before`.
    pub async fn audit(
        &self,
        who: &Principal,
        before: Option<String>,
        limit: u32,
    ) -> AppResult<Vec<AuditEntry>> {
        rules::require_admin(who.role)?;
        Ok(self.store.audit_log(before, limit).await?)
    }

    /// `parley admin ban`: `user` is a username or an id.
    pub async fn ban_from_cli(&self, user: &str, reason: Option<&str>) -> AppResult<bool> {
        let id = self.resolve(user).await?;
        self.ban_as(None, &id, reason).await
    }

    /// `parley admin unban`.
    pub async fn unban_from_cli(&self, user: &str) -> AppResult<bool> {
        let id = self.resolve(user).await?;
        self.unban_as(None, &id).await
    }

    async fn resolve(&self, user: &str) -> AppResult<String> {
        if let Some(u) = self.users.user_by_username(&user.to_lowercase()).await? {
            return Ok(u.id);
        }
        if input::id_like(user)
            && let Some(u) = self.users.user_by_id(user).await?
        {
            return Ok(u.id);
        }
        Err(AppError::NotFound("user"))
    }

    /// Bans `target` (`actor` `None`: the command line); whether it changed
    /// anything.
    async fn ban_as(
        &self,
        actor: Option<&str>,
        target: &str,
        reason: Option<&str>,
    ) -> AppResult<bool> {
        let reason = reason
            .map(|r| input::free_text("reason", r, MAX_REASON_CHARS))
            .transpose()?
            .filter(|r| !r.is_empty());
        let changed = self
            .store
            .ban_user(actor, target, reason.as_deref(), Timestamp::now())
            .await?;
        self.gate.forget_user(target);
        if changed {
            self.disconnect(target);
        }
        Ok(changed)
    }

    async fn unban_as(&self, actor: Option<&str>, target: &str) -> AppResult<bool> {
        let changed = self
            .store
            .unban_user(actor, target, Timestamp::now())
            .await?;
        self.gate.forget_user(target);
        Ok(changed)
    }

    /// Closes every connection of `user` on this process with 4003.
    fn disconnect(&self, user: &str) {
        for conn in self.fanout.registry().connections(user) {
            conn.close(close_code::BANNED);
        }
    }

    /// Closes the connections of users banned elsewhere, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(BAN_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    let since = Timestamp(Timestamp::now().millis() - BAN_LOOKBACK_MS);
                    match self.store.banned_since(since).await {
                        Ok(users) => {
                            for u in users {
                                self.gate.forget_user(&u);
                                self.disconnect(&u);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "looking for new bans"),
                    }
                }
            }
        }
    }
}
