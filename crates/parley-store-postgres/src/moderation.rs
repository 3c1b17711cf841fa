//! Moderation: bans, admin deletes and the append-only audit log, decided
//! by `parley_domain::moderation`, each with its audit entry in the same
//! transaction. A ban or unban locks the user's row, so two admins acting
//! at once write one entry.

use crate::events::WriteTx;
use crate::rows::{self, col, execute, query, query_opt};
use crate::views;
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use parley_domain::messages::DeletePlan;
use parley_domain::moderation::{self as rules, BanFacts, BanPlan, NewAuditEntry};
use parley_protocol::{AuditEntry, Message, Timestamp};
use parley_store::ids::new_id;
use parley_store::{Delivery, ModerationStore, StoreError, StoreResult};

impl WriteTx<'_> {
    pub(crate) async fn append_audit(
        &mut self,
        e: &NewAuditEntry,
        at: Timestamp,
    ) -> StoreResult<()> {
        execute(
            &self.tx,
            "INSERT INTO audit_log (id, actor_id, action, target_type, target_id, at, details)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &new_id(),
                &e.actor_id,
                &e.action.as_str(),
                &e.target_type,
                &e.target_id,
                &at.millis(),
                &e.details.to_string(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn ban_facts_locked(&mut self, user: &str) -> StoreResult<BanFacts> {
        let r = query_opt(
            &self.tx,
            "SELECT banned_at IS NOT NULL FROM users WHERE id = $1 FOR UPDATE",
            &[&user],
        )
        .await?;
        Ok(BanFacts {
            exists: r.is_some(),
            banned: match &r {
                Some(r) => col(r, 0)?,
                None => false,
            },
        })
    }

    async fn ban(
        &mut self,
        actor: Option<&str>,
        target: &str,
        reason: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let facts = self.ban_facts_locked(target).await?;
        let BanPlan::Apply(entry) = rules::ban(actor, target, reason, facts)? else {
            return Ok(false);
        };
        execute(
            &self.tx,
            "UPDATE users SET banned_at = $2, ban_reason = $3, sessions_valid_after = $2 WHERE id = $1",
            &[&target, &at.millis(), &reason],
        )
        .await?;
        for revoke in [
            "UPDATE refresh_tokens SET revoked = TRUE WHERE user_id = $1",
            "UPDATE api_keys SET revoked = TRUE WHERE user_id = $1",
        ] {
            execute(&self.tx, revoke, &[&target]).await?;
        }
        self.append_audit(&entry, at).await?;
        Ok(true)
    }

    async fn unban(
        &mut self,
        actor: Option<&str>,
        target: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let facts = self.ban_facts_locked(target).await?;
        let BanPlan::Apply(entry) = rules::unban(actor, target, facts)? else {
            return Ok(false);
        };
        execute(
            &self.tx,
            "UPDATE users SET banned_at = NULL, ban_reason = NULL WHERE id = $1",
            &[&target],
        )
        .await?;
        self.append_audit(&entry, at).await?;
        Ok(true)
    }

    async fn admin_delete(
        &mut self,
        admin: &str,
        id: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Message> {
        self.lock_message_conversation(id).await?;
        let mut row = rows::message_by_id(&self.tx, id)
            .await?
            .ok_or(StoreError::not_found("message"))?;
        if let (DeletePlan::Delete(event), Some(entry)) = rules::admin_delete(admin, &row) {
            self.tombstone(&mut row, event, true, at, out).await?;
            self.append_audit(&entry, at).await?;
        }
        views::message_view(&self.tx, admin, &row, None).await
    }
}

#[async_trait]
impl ModerationStore for PostgresStore {
    async fn ban_user(
        &self,
        actor: Option<&str>,
        target: &str,
        reason: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let (actor, target, reason) = (
            actor.map(str::to_string),
            target.to_string(),
            reason.map(str::to_string),
        );
        in_tx!(self, move |w, _out| w.ban(
            actor.as_deref(),
            &target,
            reason.as_deref(),
            at
        ))
    }

    async fn unban_user(
        &self,
        actor: Option<&str>,
        target: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let (actor, target) = (actor.map(str::to_string), target.to_string());
        in_tx!(self, move |w, _out| w.unban(actor.as_deref(), &target, at))
    }

    async fn admin_delete_message(
        &self,
        admin: &str,
        message_id: &str,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let (admin, message_id) = (admin.to_string(), message_id.to_string());
        in_tx!(self, move |w, out| w.admin_delete(
            &admin,
            &message_id,
            at,
            out
        ))
    }

    async fn append_audit(&self, entry: NewAuditEntry, at: Timestamp) -> StoreResult<()> {
        in_tx!(self, move |w, _out| w.append_audit(&entry, at))
    }

    async fn audit_log(&self, before: Option<String>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT id, actor_id, action, target_type, target_id, at, details FROM audit_log
             WHERE $1::text IS NULL OR id < $1 ORDER BY id DESC LIMIT $2",
            &[&before, &i64::from(limit)],
        )
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = col(r, 0)?;
                let details: String = col(r, 6)?;
                let details = serde_json::from_str(&details)
                    .map_err(|e| StoreError::Internal(format!("audit entry {id}: details: {e}")))?;
                Ok(AuditEntry {
                    actor_id: col(r, 1)?,
                    action: col(r, 2)?,
                    target_type: col(r, 3)?,
                    target_id: col(r, 4)?,
                    at: Timestamp(col(r, 5)?),
                    details,
                    id,
                })
            })
            .collect()
    }

    async fn banned_since(&self, since: Timestamp) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        rows::strings(
            &c,
            "SELECT id FROM users WHERE banned_at >= $1",
            &[&since.millis()],
        )
        .await
    }
}
