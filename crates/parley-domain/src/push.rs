//! Web Push rules (protocol.md §12, "Web Push"): whether a pending push
//! leaves, waits or is dropped, what it says, and what an answer means.
//! Storage reads the facts when the push would leave; the worker applies
//! the decision.

use crate::error::DomainError;
use parley_protocol::notifications::{NotificationPrefs, PushPreference};
use parley_protocol::push::{PushPayload, PushRead};
use parley_protocol::rest::ConversationKind;

/// `p256dh` that is not an uncompressed P-256 point.
pub const BAD_P256DH: &str = "keys.p256dh must be the base64url of an uncompressed P-256 point";
/// `auth` that is not 16 bytes.
pub const BAD_AUTH: &str = "keys.auth must be the base64url of exactly 16 bytes";

pub const NO_GATEWAY: &str = "this server has no push gateway (--push-gateway-url)";
pub const GATEWAY_ALONE: &str = "gateway goes without endpoint and keys";
pub const NO_ENDPOINT: &str = "endpoint (with keys) or gateway is required";
pub const NO_KEYS: &str = "keys (p256dh and auth) are required with endpoint";
pub const ONE_OF: &str = "give either endpoint or gateway";

/// Subscriptions per user; a new one past it drops the oldest.
pub const MAX_SUBSCRIPTIONS: usize = 20;
/// Longest endpoint URL accepted.
pub const MAX_ENDPOINT_CHARS: usize = 2048;
/// Characters of the text a preview shows.
pub const PREVIEW_CHARS: usize = 200;
/// Characters of a title or a sender's name in a payload, so that the
/// payload stays under 3 KiB whatever the names hold.
const NAME_CHARS: usize = 100;
/// Retries after the first attempt (429, 5xx, timeouts).
pub const MAX_RETRIES: u32 = 2;
/// Delays before the retries when the push service gives no
/// `Retry-After`.
const BACKOFF_MS: [i64; 2] = [10_000, 60_000];
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER_MS: i64 = 600_000;

/// The message a pending push is for, as stored now.
#[derive(Debug, Clone)]
pub struct PushMessage {
    pub id: String,
    pub seq: u64,
    pub sender_id: String,
    pub text: Option<String>,
    pub mentions: Vec<String>,
    pub deleted: bool,
}

impl From<crate::messages::MessageRow> for PushMessage {
    fn from(m: crate::messages::MessageRow) -> Self {
        PushMessage {
            id: m.id,
            seq: m.seq,
            sender_id: m.sender_id,
            text: m.text,
            mentions: m.mentions,
            deleted: m.deleted,
        }
    }
}

/// What is known of one pending push when it would leave.
#[derive(Debug, Clone)]
pub struct PushFacts {
    /// The subscription's owner.
    pub subscriber: String,
    pub conversation_id: String,
    pub kind: ConversationKind,
    pub title: Option<String>,
    /// `None` once the message is gone (retention, a deleted conversation).
    pub message: Option<PushMessage>,
    pub sender_name: String,
    /// The subscriber is a current member.
    pub member: bool,
    pub read_seq: u64,
    pub muted_until: Option<i64>,
    pub prefs: NotificationPrefs,
    /// The subscriber blocks the sender.
    pub blocked_sender: bool,
    pub unread_count: u64,
    /// When the push was first pending (the hold counts from it).
    pub pending_since: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Normal,
    High,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }
}

/// Why a push is dropped without a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    Gone,
    Read,
    Muted,
    Preference,
    Blocked,
    /// Do not disturb held when it would have left (paused or quiet
    /// hours): not sent later either.
    DoNotDisturb,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Drop(DropReason),
    /// Online: try again at this time (the end of the hold).
    HoldUntil(i64),
    Send {
        payload: PushPayload,
        urgency: Urgency,
    },
}

fn cut(s: &str, chars: usize) -> String {
    s.chars().take(chars).collect()
}

/// Whether the push leaves at `now_ms`, for a subscriber who is `online`
/// (a live connection in state `online`) or not.
pub fn decide(f: &PushFacts, now_ms: i64, hold_ms: i64, online: bool) -> Decision {
    let Some(m) = f.message.as_ref().filter(|m| !m.deleted) else {
        return Decision::Drop(DropReason::Gone);
    };
    if !f.member {
        return Decision::Drop(DropReason::Gone);
    }
    if f.read_seq >= m.seq {
        return Decision::Drop(DropReason::Read);
    }
    if f.muted_until.is_some_and(|until| until > now_ms) {
        return Decision::Drop(DropReason::Muted);
    }
    if f.blocked_sender {
        return Decision::Drop(DropReason::Blocked);
    }
    let direct = f.kind == ConversationKind::Direct;
    let mentioned = m.mentions.contains(&f.subscriber);
    match f.prefs.push {
        PushPreference::Off => return Decision::Drop(DropReason::Preference),
        PushPreference::Mentions if !(direct || mentioned) => {
            return Decision::Drop(DropReason::Preference);
        }
        _ => {}
    }
    if crate::notifications::do_not_disturb(&f.prefs, now_ms) {
        return Decision::Drop(DropReason::DoNotDisturb);
    }
    let hold_ends = f.pending_since.saturating_add(hold_ms);
    if online && now_ms < hold_ends {
        return Decision::HoldUntil(hold_ends);
    }
    let sender_name = cut(&f.sender_name, NAME_CHARS);
    let title = match (f.kind, f.title.as_deref()) {
        (ConversationKind::Direct, _) | (_, None) => sender_name.clone(),
        (_, Some(t)) => cut(t, NAME_CHARS),
    };
    let preview = if f.prefs.previews {
        m.text.as_deref().map(|t| cut(t, PREVIEW_CHARS))
    } else {
        None
    };
    Decision::Send {
        payload: PushPayload {
            kind: "message".into(),
            conversation_id: f.conversation_id.clone(),
            message_id: m.id.clone(),
            seq: m.seq,
            title,
            sender_id: m.sender_id.clone(),
            sender_name,
            preview,
            unread_count: f.unread_count,
        },
        urgency: if direct || mentioned {
            Urgency::High
        } else {
            Urgency::Normal
        },
    }
}

/// How a push service answered (or did not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// Timeout or connection failure.
    NoAnswer,
    /// The destination's address is refused by the outbound policy.
    Refused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAnswer {
    Delivered,
    /// 404/410: the subscription is gone; delete it.
    Unsubscribe,
    /// Try again at this time.
    Retry(i64),
    /// Given up (other 4xx, a refused address, retries spent).
    Failed,
}

/// What an attempt's answer means, `retries` retries having been made
/// before it.
pub fn after_answer(answer: Answer, retries: u32, now_ms: i64) -> AfterAnswer {
    let retry = |retry_after: Option<u64>| {
        if retries >= MAX_RETRIES {
            return AfterAnswer::Failed;
        }
        let backoff = BACKOFF_MS[(retries as usize).min(BACKOFF_MS.len() - 1)];
        let delay = match retry_after {
            Some(secs) => i64::try_from(secs.saturating_mul(1000))
                .unwrap_or(i64::MAX)
                .min(MAX_RETRY_AFTER_MS),
            None => backoff,
        };
        AfterAnswer::Retry(now_ms.saturating_add(delay))
    };
    match answer {
        Answer::Status { status, .. } if (200..300).contains(&status) => AfterAnswer::Delivered,
        Answer::Status {
            status: 404 | 410, ..
        } => AfterAnswer::Unsubscribe,
        Answer::Status {
            status,
            retry_after_secs,
        } if status == 429 || (500..600).contains(&status) => retry(retry_after_secs),
        Answer::NoAnswer => retry(None),
        Answer::Status { .. } | Answer::Refused => AfterAnswer::Failed,
    }
}

/// The `endpoint` of a subscription: its length (the outbound policy
/// checks the rest).
pub fn endpoint_length(endpoint: &str) -> Result<(), DomainError> {
    if endpoint.is_empty() || endpoint.chars().count() > MAX_ENDPOINT_CHARS {
        return Err(DomainError::invalid(
            "endpoint",
            format!("endpoint must be an absolute URL of at most {MAX_ENDPOINT_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Longest push-gateway device token accepted.
pub const MAX_TOKEN_CHARS: usize = 4096;

/// A push-gateway device token: 1 to 4096 characters, none a control
/// character.
pub fn gateway_token(token: &str) -> Result<(), DomainError> {
    let n = token.chars().count();
    if n == 0 || n > MAX_TOKEN_CHARS || token.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "gateway.token",
            format!(
                "gateway.token must be 1 to {MAX_TOKEN_CHARS} characters, none a control character"
            ),
        ));
    }
    Ok(())
}

/// The silent update for a conversation read up to `read_seq` after a
/// notification was shown for it (beyond protocol.md §12): a device
/// closes that notification. Same `Topic` as the conversation's pushes, so
/// a push service still holding an undelivered one replaces it.
pub fn read_update(conversation_id: &str, read_seq: u64) -> PushRead {
    PushRead {
        kind: "read".into(),
        conversation_id: conversation_id.to_string(),
        read_seq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000;

    fn facts() -> PushFacts {
        PushFacts {
            subscriber: "bob".into(),
            conversation_id: "c1".into(),
            kind: ConversationKind::Group,
            title: Some("Team".into()),
            message: Some(PushMessage {
                id: "m1".into(),
                seq: 5,
                sender_id: "alice".into(),
                text: Some("hello there".into()),
                mentions: vec![],
                deleted: false,
            }),
            sender_name: "Alice".into(),
            member: true,
            read_seq: 4,
            muted_until: None,
            prefs: NotificationPrefs::default(),
            blocked_sender: false,
            unread_count: 1,
            pending_since: 1_000,
        }
    }

    fn sends(d: &Decision) -> &PushPayload {
        match d {
            Decision::Send { payload, .. } => payload,
            other => panic!("expected a send, got {other:?}"),
        }
    }

    #[test]
    fn offline_sends_at_once_online_waits_for_the_hold() {
        let f = facts();
        let d = decide(&f, 1_000, 30_000, false);
        let p = sends(&d);
        assert_eq!(p.title, "Team");
        assert_eq!(p.preview.as_deref(), Some("hello there"));
        assert_eq!(decide(&f, 1_000, 30_000, true), Decision::HoldUntil(31_000));
        assert!(matches!(
            decide(&f, 31_000, 30_000, true),
            Decision::Send { .. }
        ));
    }

    #[test]
    fn read_muted_blocked_off_and_gone_drop() {
        let mut f = facts();
        f.read_seq = 5;
        assert_eq!(decide(&f, 0, 0, false), Decision::Drop(DropReason::Read));
        let mut f = facts();
        f.muted_until = Some(10_000);
        assert_eq!(
            decide(&f, 5_000, 0, false),
            Decision::Drop(DropReason::Muted)
        );
        assert!(matches!(
            decide(&f, 10_000, 0, false),
            Decision::Send { .. }
        ));
        let mut f = facts();
        f.blocked_sender = true;
        assert_eq!(decide(&f, 0, 0, false), Decision::Drop(DropReason::Blocked));
        let mut f = facts();
        f.prefs.push = PushPreference::Off;
        assert_eq!(
            decide(&f, 0, 0, false),
            Decision::Drop(DropReason::Preference)
        );
        let mut f = facts();
        f.member = false;
        assert_eq!(decide(&f, 0, 0, false), Decision::Drop(DropReason::Gone));
        let mut f = facts();
        if let Some(m) = f.message.as_mut() {
            m.deleted = true;
        }
        assert_eq!(decide(&f, 0, 0, false), Decision::Drop(DropReason::Gone));
    }

    #[test]
    fn mentions_preference_lets_direct_and_mentions_through_with_high_urgency() {
        let mut f = facts();
        f.prefs.push = PushPreference::Mentions;
        assert_eq!(
            decide(&f, 0, 0, false),
            Decision::Drop(DropReason::Preference)
        );
        if let Some(m) = f.message.as_mut() {
            m.mentions = vec!["bob".into()];
        }
        assert!(matches!(
            decide(&f, 0, 0, false),
            Decision::Send {
                urgency: Urgency::High,
                ..
            }
        ));
        let mut f = facts();
        f.prefs.push = PushPreference::Mentions;
        f.kind = ConversationKind::Direct;
        f.title = None;
        let d = decide(&f, 0, 0, false);
        assert!(matches!(
            d,
            Decision::Send {
                urgency: Urgency::High,
                ..
            }
        ));
        assert_eq!(sends(&d).title, "Alice");
        let f = facts();
        assert!(matches!(
            decide(&f, 0, 0, false),
            Decision::Send {
                urgency: Urgency::Normal,
                ..
            }
        ));
    }

    #[test]
    fn do_not_disturb_drops_the_push() {
        let mut f = facts();
        f.prefs.dnd_until = Some(parley_protocol::Timestamp(NOW + 60_000));
        assert_eq!(
            decide(&f, NOW, 0, false),
            Decision::Drop(DropReason::DoNotDisturb)
        );
        f.prefs.dnd_until = Some(parley_protocol::Timestamp(NOW - 1));
        assert!(matches!(decide(&f, NOW, 0, false), Decision::Send { .. }));
    }

    #[test]
    fn previews_off_keeps_the_text_out_and_previews_are_cut() {
        let mut f = facts();
        f.prefs.previews = false;
        let d = decide(&f, 0, 0, false);
        let p = sends(&d);
        assert_eq!(p.preview, None);
        let json = serde_json::to_string(p).expect("json");
        assert!(!json.contains("hello there"));
        let mut f = facts();
        if let Some(m) = f.message.as_mut() {
            m.text = Some("é".repeat(500));
        }
        f.title = Some("t".repeat(5_000));
        f.sender_name = "\u{1}".repeat(5_000);
        let d = decide(&f, 0, 0, false);
        let p = sends(&d);
        assert_eq!(
            p.preview.as_deref().map(|t| t.chars().count()),
            Some(PREVIEW_CHARS)
        );
        assert!(serde_json::to_vec(p).expect("json").len() <= 3072);
    }

    #[test]
    fn gateway_tokens() {
        assert!(gateway_token("fcm-token:APA91b").is_ok());
        assert!(gateway_token("").is_err());
        assert!(gateway_token("a\nb").is_err());
        assert!(gateway_token(&"x".repeat(MAX_TOKEN_CHARS + 1)).is_err());
    }

    #[test]
    fn answers() {
        let status = |status| Answer::Status {
            status,
            retry_after_secs: None,
        };
        assert_eq!(after_answer(status(201), 0, 0), AfterAnswer::Delivered);
        assert_eq!(after_answer(status(410), 0, 0), AfterAnswer::Unsubscribe);
        assert_eq!(after_answer(status(404), 2, 0), AfterAnswer::Unsubscribe);
        assert_eq!(after_answer(status(503), 0, 0), AfterAnswer::Retry(10_000));
        assert_eq!(after_answer(status(429), 1, 0), AfterAnswer::Retry(60_000));
        assert_eq!(after_answer(status(503), 2, 0), AfterAnswer::Failed);
        assert_eq!(
            after_answer(Answer::NoAnswer, 0, 5),
            AfterAnswer::Retry(10_005)
        );
        assert_eq!(after_answer(status(400), 0, 0), AfterAnswer::Failed);
        assert_eq!(after_answer(status(301), 0, 0), AfterAnswer::Failed);
        assert_eq!(after_answer(Answer::Refused, 0, 0), AfterAnswer::Failed);
        let later = |secs| Answer::Status {
            status: 429,
            retry_after_secs: Some(secs),
        };
        assert_eq!(after_answer(later(3), 0, 0), AfterAnswer::Retry(3_000));
        assert_eq!(
            after_answer(later(86_400), 0, 0),
            AfterAnswer::Retry(600_000)
        );
        assert_eq!(
            after_answer(later(u64::MAX), 0, 0),
            AfterAnswer::Retry(600_000)
        );
    }
}
