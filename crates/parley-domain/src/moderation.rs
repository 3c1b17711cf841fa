//! Admin moderation (protocol.md §11): who may moderate, what a ban, an
//! unban and an admin delete change, and the audit entries they write.
//! Every successful admin action writes one audit entry; a no-op repeat
//! writes none.

use crate::messages::{DeletePlan, MessageRow};
use crate::{DomainError, DomainResult, NewEvent};
use parley_protocol::Role;
use parley_protocol::events::{EventData, MessageDeleted};
use serde_json::{Value, json};

pub const ADMIN_ONLY: &str = "only an admin can do this";
pub const NO_SELF_BAN: &str = "an admin cannot ban themself";
pub const BANNED: &str = "this account is banned";
/// Longest ban reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// What every `/admin/...` endpoint checks first, before it looks at any
/// id: so a non-admin learns nothing about what exists.
pub fn require_admin(role: Role) -> DomainResult<()> {
    if role == Role::Admin {
        Ok(())
    } else {
        Err(DomainError::Forbidden(ADMIN_ONLY))
    }
}

/// The audit log's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    MessageDelete,
    UserBan,
    UserUnban,
    /// A refresh token was used twice: its family was revoked.
    RefreshTokenReuse,
    ApiKeyCreate,
    /// A webhook whose deliveries failed for days was turned off.
    WebhookDisable,
    /// A retention pass tombstoned messages (on demand, or hourly).
    RetentionRun,
    /// An admin set or cleared a conversation's own retention.
    RetentionSet,
    /// An admin exported a whole conversation (the compliance export).
    ConversationExport,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::MessageDelete => "message.delete",
            AuditAction::UserBan => "user.ban",
            AuditAction::UserUnban => "user.unban",
            AuditAction::RefreshTokenReuse => "auth.refresh_token_reused",
            AuditAction::ApiKeyCreate => "api_key.create",
            AuditAction::WebhookDisable => "webhook.disable",
            AuditAction::RetentionRun => "retention.run",
            AuditAction::RetentionSet => "conversation.retention",
            AuditAction::ConversationExport => "conversation.export",
        }
    }
}

/// An entry to append (the backend gives it its id and keeps it forever).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// `None`: the operator's command line, or the server itself.
    pub actor_id: Option<String>,
    pub action: AuditAction,
    pub target_type: &'static str,
    pub target_id: String,
    pub details: Value,
}

/// The target of a ban or an unban, as the backend read it under its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanFacts {
    pub exists: bool,
    pub banned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BanPlan {
    /// Already as asked: nothing changes, nothing is audited.
    Nothing,
    /// Change the user, revoke what §11 says, append the entry.
    Apply(NewAuditEntry),
}

/// A ban by `actor` (`None`: the command line) of `target`.
pub fn ban(
    actor: Option<&str>,
    target: &str,
    reason: Option<&str>,
    facts: BanFacts,
) -> DomainResult<BanPlan> {
    if actor == Some(target) {
        return Err(DomainError::Forbidden(NO_SELF_BAN));
    }
    if !facts.exists {
        return Err(DomainError::NotFound("user"));
    }
    if facts.banned {
        return Ok(BanPlan::Nothing);
    }
    Ok(BanPlan::Apply(NewAuditEntry {
        actor_id: actor.map(str::to_string),
        action: AuditAction::UserBan,
        target_type: "user",
        target_id: target.to_string(),
        details: json!({ "reason": reason }),
    }))
}

pub fn unban(actor: Option<&str>, target: &str, facts: BanFacts) -> DomainResult<BanPlan> {
    if !facts.exists {
        return Err(DomainError::NotFound("user"));
    }
    if !facts.banned {
        return Ok(BanPlan::Nothing);
    }
    Ok(BanPlan::Apply(NewAuditEntry {
        actor_id: actor.map(str::to_string),
        action: AuditAction::UserUnban,
        target_type: "user",
        target_id: target.to_string(),
        details: json!({}),
    }))
}

/// `DELETE /admin/messages/{id}`: like a sender's delete, in any
/// conversation; the event's actor is the admin. A tombstone again is no
/// change (and no entry).
pub fn admin_delete(admin: &str, row: &MessageRow) -> (DeletePlan, Option<NewAuditEntry>) {
    if row.deleted {
        return (DeletePlan::AlreadyDeleted, None);
    }
    let event = NewEvent::by(
        admin,
        EventData::MessageDeleted(MessageDeleted {
            message_id: row.id.clone(),
            seq: row.seq,
        }),
    );
    let entry = NewAuditEntry {
        actor_id: Some(admin.to_string()),
        action: AuditAction::MessageDelete,
        target_type: "message",
        target_id: row.id.clone(),
        details: json!({
            "conversation_id": row.conversation_id,
            "sender_id": row.sender_id,
        }),
    };
    (DeletePlan::Delete(event), Some(entry))
}

/// A security event for the operator's eyes: a refresh token used twice.
pub fn refresh_reuse(user_id: &str, family_id: &str) -> NewAuditEntry {
    NewAuditEntry {
        actor_id: None,
        action: AuditAction::RefreshTokenReuse,
        target_type: "user",
        target_id: user_id.to_string(),
        details: json!({ "family_id": family_id }),
    }
}

/// An API key was created (by the operator's command line).
pub fn api_key_created(bot_user_id: &str, name: &str) -> NewAuditEntry {
    NewAuditEntry {
        actor_id: None,
        action: AuditAction::ApiKeyCreate,
        target_type: "user",
        target_id: bot_user_id.to_string(),
        details: json!({ "name": name }),
    }
}

/// Whether a credential issued at `issued_at_ms` still opens the account:
/// not while it is banned, and never if it was issued before the latest
/// ban (even once the ban is lifted).
pub fn credential_allowed(
    banned: bool,
    sessions_valid_after: Option<i64>,
    issued_at_ms: Option<i64>,
) -> bool {
    if banned {
        return false;
    }
    match (sessions_valid_after, issued_at_ms) {
        (Some(after), Some(at)) => at > after,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FREE: BanFacts = BanFacts {
        exists: true,
        banned: false,
    };
    const BANNED_USER: BanFacts = BanFacts {
        exists: true,
        banned: true,
    };

    #[test]
    fn only_admins_moderate() {
        assert!(require_admin(Role::Admin).is_ok());
        for r in [Role::User, Role::Agent] {
            assert_eq!(require_admin(r), Err(DomainError::Forbidden(ADMIN_ONLY)));
        }
    }

    #[test]
    fn a_ban_is_audited_once_and_never_of_oneself() {
        let BanPlan::Apply(e) = ban(Some("adm"), "u", Some("spam"), FREE).expect("ban") else {
            panic!("applies")
        };
        assert_eq!(e.action.as_str(), "user.ban");
        assert_eq!(e.details, json!({"reason": "spam"}));
        assert_eq!(
            ban(Some("adm"), "u", None, BANNED_USER),
            Ok(BanPlan::Nothing)
        );
        assert_eq!(
            ban(Some("adm"), "adm", None, FREE),
            Err(DomainError::Forbidden(NO_SELF_BAN))
        );
        let missing = BanFacts {
            exists: false,
            banned: false,
        };
        assert_eq!(
            ban(Some("adm"), "x", None, missing),
            Err(DomainError::NotFound("user"))
        );
        assert_eq!(unban(None, "u", FREE), Ok(BanPlan::Nothing));
        assert!(matches!(
            unban(None, "u", BANNED_USER),
            Ok(BanPlan::Apply(_))
        ));
    }

    #[test]
    fn credentials_from_before_a_ban_stay_refused() {
        assert!(credential_allowed(false, None, Some(5)));
        assert!(!credential_allowed(true, None, Some(5)));
        assert!(!credential_allowed(false, Some(10), Some(10)));
        assert!(credential_allowed(false, Some(10), Some(11)));
        assert!(
            credential_allowed(false, Some(10), None),
            "no issue time: only the ban counts"
        );
    }
}
