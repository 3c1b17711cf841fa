//! Retention (protocol.md §13): which messages have outlived their
//! conversation's retention, what an expired message keeps, and how its
//! copies in the event log are redacted.
//!
//! A conversation keeps messages for its own number of days when an admin
//! set one, else for the server's `retention.message_days`; neither means
//! forever. An expired message becomes a tombstone without an event (its
//! id and seq stay, so seqs stay gap-free and `last_seq` does not move),
//! and every stored event that carries its content (`message.created`,
//! later `message.edited`) is rewritten with the content gone.
//!
//! Within a conversation seqs follow sending time, so its expired
//! messages are a prefix of its history: a backend keeps, per
//! conversation, the seq up to which it has expired messages and only
//! ever looks past it (never a scan of the whole history).

use crate::error::{DomainError, DomainResult};
use crate::moderation::{AuditAction, NewAuditEntry};
use parley_protocol::{Event, EventData, Message, Timestamp};
use serde_json::json;

pub const DAY_MS: i64 = 86_400_000;

/// The longest retention a setting may name (about a century): longer is
/// "forever", which is no setting at all.
pub const MAX_DAYS: u32 = 36_500;

/// Messages a backend expires in one write: short enough that the SQLite
/// writer (and a PostgreSQL conversation lock) is never held for long.
pub const BATCH: u32 = 500;

/// How far behind the server's clock a requested `now` may be and still
/// count as "now" (a caller's clock a little behind ours).
const CLOCK_SLACK_MS: i64 = 60_000;

/// One retention pass: its time and the server's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub now: Timestamp,
    /// `retention.message_days`; `None`: off.
    pub default_days: Option<u32>,
}

impl Pass {
    /// The days a conversation keeps messages for: its own, else the default.
    pub fn days(&self, conversation_days: Option<u32>) -> Option<u32> {
        conversation_days.or(self.default_days)
    }

    /// Messages created strictly before this instant (ms) have expired in a
    /// conversation with `conversation_days`; `None`: none expire.
    pub fn cutoff(&self, conversation_days: Option<u32>) -> Option<i64> {
        self.days(conversation_days)
            .map(|d| self.now.millis().saturating_sub(i64::from(d) * DAY_MS))
    }

    /// Whether a message created at `created_at` (ms) has expired.
    pub fn expired(&self, conversation_days: Option<u32>, created_at: i64) -> bool {
        self.cutoff(conversation_days)
            .is_some_and(|cutoff| created_at < cutoff)
    }
}

/// A days setting (the server's or a conversation's): 1 to [`MAX_DAYS`].
pub fn check_days(field: &'static str, days: u32) -> DomainResult<u32> {
    if (1..=MAX_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(DomainError::invalid(
            field,
            format!("{field} must be between 1 and {MAX_DAYS} days"),
        ))
    }
}

/// The time of a pass run on demand: the requested `now`, which may not be
/// earlier than the server's clock (a pass never un-expires anything, and
/// an earlier time would only hide that it does nothing), or the clock.
pub fn run_time(clock: Timestamp, requested: Option<Timestamp>) -> DomainResult<Timestamp> {
    match requested {
        None => Ok(clock),
        Some(t) if t.millis() >= clock.millis() - CLOCK_SLACK_MS => {
            Ok(Timestamp(t.millis().max(clock.millis())))
        }
        Some(_) => Err(DomainError::invalid(
            "now",
            "now may not be earlier than the server's clock",
        )),
    }
}

/// A pass on demand needs a retention in force somewhere.
pub fn check_enabled(default_days: Option<u32>, any_conversation_days: bool) -> DomainResult<()> {
    if default_days.is_some() || any_conversation_days {
        Ok(())
    } else {
        Err(DomainError::Conflict(
            "retention is off (set retention.message_days or a conversation's retention)",
        ))
    }
}

/// The audit entry of a pass that tombstoned messages (`actor`: the admin
/// who ran it, `None` for the hourly job or the command line).
pub fn run_audit(actor: Option<&str>, pass: Pass, tombstoned: u64) -> NewAuditEntry {
    NewAuditEntry {
        actor_id: actor.map(str::to_string),
        action: AuditAction::RetentionRun,
        target_type: "server",
        target_id: "retention".into(),
        details: json!({
            "now": pass.now,
            "message_days": pass.default_days,
            "tombstoned": tombstoned,
        }),
    }
}

/// The audit entry of a conversation's retention set (`Some`) or cleared.
pub fn setting_audit(actor: &str, conversation: &str, days: Option<u32>) -> NewAuditEntry {
    NewAuditEntry {
        actor_id: Some(actor.to_string()),
        action: AuditAction::RetentionSet,
        target_type: "conversation",
        target_id: conversation.to_string(),
        details: json!({ "message_days": days }),
    }
}

/// What an expired message shows: a tombstone (protocol.md §13).
pub fn redact_message(m: &mut Message) {
    m.text = None;
    m.attachments.clear();
    m.reactions.clear();
    m.deleted = true;
}

/// The stored event `body` with `message_id`'s content gone, when it
/// carries any (`message.created` of that message, its `message.edited`);
/// `None`: the event stays as it is.
pub fn redact_event(body: &str, message_id: &str) -> DomainResult<Option<String>> {
    let mut event: Event = serde_json::from_str(body)
        .map_err(|e| DomainError::invalid("event", format!("stored event unreadable: {e}")))?;
    match &mut event.data {
        EventData::MessageCreated(c) if c.message.id == message_id => {
            if c.message.deleted && c.message.text.is_none() && c.message.attachments.is_empty() {
                return Ok(None);
            }
            redact_message(&mut c.message);
        }
        EventData::MessageEdited(e) if e.message_id == message_id => {
            if e.text.is_none() {
                return Ok(None);
            }
            e.text = None;
        }
        _ => return Ok(None),
    }
    serde_json::to_string(&event)
        .map(Some)
        .map_err(|e| DomainError::invalid("event", format!("event unwritable: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::events::{MessageCreated, MessageEdited};
    use parley_protocol::{MessageKind, ReactionSummary};

    fn message() -> Message {
        Message {
            id: "m1".into(),
            conversation_id: "c1".into(),
            seq: 3,
            sender_id: "u1".into(),
            client_id: Some("k".into()),
            kind: MessageKind::Text,
            text: Some("secret plans".into()),
            attachments: vec![serde_json::json!({"id": "md1"})],
            reply_to: None,
            mentions: vec![],
            created_at: Timestamp(1_000),
            edited_at: None,
            deleted: false,
            reactions: vec![ReactionSummary {
                emoji: "👍".into(),
                count: 1,
                me: false,
            }],
            status: None,
            system: None,
        }
    }

    fn event(data: EventData) -> String {
        serde_json::to_string(&Event {
            conversation_id: "c1".into(),
            seq: 3,
            actor_id: Some("u1".into()),
            at: Timestamp(1_000),
            data,
        })
        .expect("serializes")
    }

    #[test]
    fn the_conversation_setting_wins_over_the_default() {
        let pass = Pass {
            now: Timestamp(100 * DAY_MS),
            default_days: Some(30),
        };
        assert_eq!(pass.cutoff(None), Some(70 * DAY_MS));
        assert_eq!(pass.cutoff(Some(90)), Some(10 * DAY_MS));
        assert!(pass.expired(None, 70 * DAY_MS - 1));
        assert!(!pass.expired(None, 70 * DAY_MS), "exactly N days old stays");
        let off = Pass {
            default_days: None,
            ..pass
        };
        assert_eq!(off.cutoff(None), None);
        assert!(off.expired(Some(1), 98 * DAY_MS));
    }

    #[test]
    fn days_are_bounded() {
        assert!(check_days("message_days", 0).is_err());
        assert!(check_days("message_days", MAX_DAYS + 1).is_err());
        assert_eq!(check_days("message_days", 7), Ok(7));
    }

    #[test]
    fn a_run_may_not_go_back_in_time() {
        let clock = Timestamp(10 * DAY_MS);
        assert_eq!(run_time(clock, None), Ok(clock));
        assert_eq!(
            run_time(clock, Some(Timestamp(40 * DAY_MS))),
            Ok(Timestamp(40 * DAY_MS))
        );
        assert_eq!(
            run_time(clock, Some(Timestamp(10 * DAY_MS - 1_000))),
            Ok(clock),
            "a caller's clock a little behind ours is now"
        );
        assert!(run_time(clock, Some(Timestamp(9 * DAY_MS))).is_err());
    }

    #[test]
    fn retention_off_everywhere_is_a_conflict() {
        assert!(matches!(
            check_enabled(None, false),
            Err(DomainError::Conflict(_))
        ));
        assert!(check_enabled(Some(3), false).is_ok());
        assert!(check_enabled(None, true).is_ok());
    }

    #[test]
    fn the_created_event_loses_the_content_and_keeps_its_shape() {
        let body = event(EventData::MessageCreated(MessageCreated {
            message: message(),
        }));
        let redacted = redact_event(&body, "m1").expect("ok").expect("changed");
        let v: serde_json::Value = serde_json::from_str(&redacted).expect("json");
        let m = &v["data"]["message"];
        assert_eq!(m["text"], serde_json::Value::Null);
        assert_eq!(m["attachments"], serde_json::json!([]));
        assert_eq!(m["reactions"], serde_json::json!([]));
        assert_eq!(m["deleted"], true);
        assert_eq!(m["id"], "m1");
        assert_eq!(v["seq"], 3);
        assert_eq!(v["type"], "message.created");
        assert!(!redacted.contains("secret"));
        assert_eq!(
            redact_event(&redacted, "m1").expect("ok"),
            None,
            "a second pass changes nothing"
        );
    }

    #[test]
    fn edits_lose_their_text_and_other_events_stay() {
        let body = event(EventData::MessageEdited(MessageEdited {
            edited_at: Timestamp(2_000),
            message_id: "m1".into(),
            seq: 3,
            text: Some("more secret".into()),
        }));
        let redacted = redact_event(&body, "m1").expect("ok").expect("changed");
        assert!(!redacted.contains("secret"));
        assert_eq!(redact_event(&body, "m2").expect("ok"), None);
        let other = event(EventData::MessageCreated(MessageCreated {
            message: message(),
        }));
        assert_eq!(redact_event(&other, "m2").expect("ok"), None);
    }
}
