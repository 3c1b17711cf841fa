//! Moderation: bans, admin deletes and the append-only audit log, decided
//! by `parley_domain::moderation`, each with its audit entry in the same
//! transaction.

use crate::rows::{self, db_err};
use crate::views;
use crate::{SqliteStore, WriterState};
use async_trait::async_trait;
use parley_domain::messages::DeletePlan;
use parley_domain::moderation::{self as rules, BanFacts, BanPlan, NewAuditEntry};
use parley_protocol::{AuditEntry, Message, Timestamp};
use parley_store::ids::new_id;
use parley_store::{ModerationStore, StoreError, StoreResult};
use rusqlite::{OptionalExtension, params};

impl WriterState {
    pub(crate) fn append_audit(&mut self, e: &NewAuditEntry, at: Timestamp) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit_log (id, actor_id, action, target_type, target_id, at, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(db_err)?
            .execute(params![
                new_id(),
                e.actor_id,
                e.action.as_str(),
                e.target_type,
                e.target_id,
                at.millis(),
                e.details.to_string()
            ])
            .map_err(db_err)?;
        Ok(())
    }

    fn ban_facts(&self, user: &str) -> StoreResult<BanFacts> {
        let banned: Option<bool> = self
            .conn
            .prepare_cached("SELECT banned_at IS NOT NULL FROM users WHERE id = ?1")
            .map_err(db_err)?
            .query_row([user], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        Ok(BanFacts {
            exists: banned.is_some(),
            banned: banned.unwrap_or(false),
        })
    }
}

#[async_trait]
impl ModerationStore for SqliteStore {
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
        self.write(move |s, _| {
            let facts = s.ban_facts(&target)?;
            let BanPlan::Apply(entry) =
                rules::ban(actor.as_deref(), &target, reason.as_deref(), facts)?
            else {
                return Ok(false);
            };
            s.conn
                .prepare_cached(
                    "UPDATE users SET banned_at = ?2, ban_reason = ?3, sessions_valid_after = ?2 WHERE id = ?1",
                )
                .map_err(db_err)?
                .execute(params![target, at.millis(), reason])
                .map_err(db_err)?;
            for revoke in [
                "UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ?1",
                "UPDATE api_keys SET revoked = 1 WHERE user_id = ?1",
            ] {
                s.conn
                    .prepare_cached(revoke)
                    .map_err(db_err)?
                    .execute([&target])
                    .map_err(db_err)?;
            }
            s.append_audit(&entry, at)?;
            Ok(true)
        })
        .await
    }

    async fn unban_user(
        &self,
        actor: Option<&str>,
        target: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let (actor, target) = (actor.map(str::to_string), target.to_string());
        self.write(move |s, _| {
            let facts = s.ban_facts(&target)?;
            let BanPlan::Apply(entry) = rules::unban(actor.as_deref(), &target, facts)? else {
                return Ok(false);
            };
            s.conn
                .prepare_cached(
                    "UPDATE users SET banned_at = NULL, ban_reason = NULL WHERE id = ?1",
                )
                .map_err(db_err)?
                .execute([&target])
                .map_err(db_err)?;
            s.append_audit(&entry, at)?;
            Ok(true)
        })
        .await
    }

    async fn admin_delete_message(
        &self,
        admin: &str,
        message_id: &str,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let (admin, message_id) = (admin.to_string(), message_id.to_string());
        self.write(move |s, out| {
            let mut row = rows::message_by_id(&s.conn, &message_id)?
                .ok_or(StoreError::not_found("message"))?;
            if let (DeletePlan::Delete(event), Some(entry)) = rules::admin_delete(&admin, &row) {
                s.tombstone(&mut row, event, true, at, out)?;
                s.append_audit(&entry, at)?;
            }
            views::message_view(&s.conn, &admin, &row, None)
        })
        .await
    }

    async fn append_audit(&self, entry: NewAuditEntry, at: Timestamp) -> StoreResult<()> {
        self.write(move |s, _| s.append_audit(&entry, at)).await
    }

    async fn audit_log(&self, before: Option<String>, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, actor_id, action, target_type, target_id, at, details FROM audit_log
                     WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![before, limit], |r| {
                    Ok((
                        AuditEntry {
                            id: r.get(0)?,
                            actor_id: r.get(1)?,
                            action: r.get(2)?,
                            target_type: r.get(3)?,
                            target_id: r.get(4)?,
                            at: Timestamp(r.get(5)?),
                            details: serde_json::Value::Null,
                        },
                        r.get::<_, String>(6)?,
                    ))
                })
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            rows.into_iter()
                .map(|(mut e, details)| {
                    e.details = serde_json::from_str(&details).map_err(|err| {
                        StoreError::Internal(format!("audit entry {}: details: {err}", e.id))
                    })?;
                    Ok(e)
                })
                .collect()
        })
        .await
    }

    async fn banned_since(&self, since: Timestamp) -> StoreResult<Vec<String>> {
        self.read(move |c| {
            c.prepare_cached("SELECT id FROM users WHERE banned_at >= ?1")
                .map_err(db_err)?
                .query_map([since.millis()], |r| r.get(0))
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)
        })
        .await
    }
}
