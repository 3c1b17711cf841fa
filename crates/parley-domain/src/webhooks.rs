//! Webhooks (protocol.md §12): what a subscription may hold, and what
//! happens after each delivery attempt (the retry schedule, `failed`
//! after the last, the automatic disable after days of failure).

use crate::moderation::{AuditAction, NewAuditEntry};
use crate::{DomainError, DomainResult, input};
use parley_protocol::events::event_type;
use parley_protocol::webhooks::DeliveryStatus;
use serde_json::json;

pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Webhooks per deployment.
pub const MAX_WEBHOOKS: u64 = 100;

pub const TOO_MANY_WEBHOOKS: &str = "this server already has the most webhooks it allows";
pub const BAD_SECRET: &str = "secret must be whsec_ and the base64 of 24 to 64 bytes";
pub const NO_EVENTS: &str = "events must list at least one event type";
pub const UNKNOWN_EVENT: &str = "events holds an unknown event type";

/// The default `--webhook-retry-schedule`: the delay after each failed
/// attempt, in milliseconds (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
pub const DEFAULT_RETRY_SCHEDULE_MS: [i64; 7] = [
    5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];
/// The default `--webhook-disable-after`: five days of nothing but
/// failures turns a webhook off.
pub const DEFAULT_DISABLE_AFTER_MS: i64 = 5 * 24 * 3_600_000;

/// The event types a subscription lists: at least one, each known,
/// without repeats, sorted.
pub fn event_types(raw: &[String]) -> DomainResult<Vec<String>> {
    if raw.is_empty() {
        return Err(DomainError::invalid("events", NO_EVENTS));
    }
    let mut out = Vec::with_capacity(raw.len());
    for t in raw {
        if !event_type::ALL.contains(&t.as_str()) {
            return Err(DomainError::invalid("events", UNKNOWN_EVENT));
        }
        out.push(t.clone());
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The length checks of a URL; whether it may be reached is the outbound
/// policy's (the server's configuration).
pub fn url_length(raw: &str) -> DomainResult<()> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(DomainError::invalid(
            "url",
            format!("url is longer than {MAX_URL_CHARS} characters"),
        ));
    }
    Ok(())
}

pub fn description(raw: Option<&str>) -> DomainResult<Option<String>> {
    raw.map(|d| input::free_text("description", d, MAX_DESCRIPTION_CHARS))
        .transpose()
}

/// Whether another webhook may be created, `count` existing.
pub fn may_create(count: u64) -> DomainResult<()> {
    if count >= MAX_WEBHOOKS {
        return Err(DomainError::Conflict(TOO_MANY_WEBHOOKS));
    }
    Ok(())
}

/// The retry schedule and when failing webhooks are turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after each failed attempt; after the last, `failed`.
    pub schedule_ms: Vec<i64>,
    pub disable_after_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            schedule_ms: DEFAULT_RETRY_SCHEDULE_MS.to_vec(),
            disable_after_ms: DEFAULT_DISABLE_AFTER_MS,
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A `2xx` within the timeout.
    Delivered(u16),
    /// Another status (`3xx` included), or `None`: no answer (a network
    /// error, a timeout, a refused address).
    Failed(Option<u16>),
}

/// What the backend read under its lock about the delivery and its webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptFacts {
    /// Attempts recorded before this one.
    pub attempts: u32,
    pub webhook_active: bool,
    pub failing_since: Option<i64>,
}

/// The rows to write after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptPlan {
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub next_attempt_at: Option<i64>,
    /// The webhook's new `failing_since`.
    pub failing_since: Option<i64>,
    /// Turn the webhook off, with this audit entry.
    pub disable: Option<NewAuditEntry>,
}

/// After an attempt of a delivery of `webhook` at `now_ms`.
pub fn after_attempt(
    webhook: &str,
    facts: AttemptFacts,
    outcome: Outcome,
    now_ms: i64,
    policy: &RetryPolicy,
) -> AttemptPlan {
    let attempts = facts.attempts.saturating_add(1);
    match outcome {
        Outcome::Delivered(status) => AttemptPlan {
            status: DeliveryStatus::Delivered,
            attempts,
            last_status: Some(status),
            next_attempt_at: None,
            failing_since: None,
            disable: None,
        },
        Outcome::Failed(status) => {
            let delay = policy.schedule_ms.get(facts.attempts as usize).copied();
            let failing_since = facts.failing_since.unwrap_or(now_ms);
            let disable = (facts.webhook_active
                && now_ms.saturating_sub(failing_since) >= policy.disable_after_ms)
                .then(|| NewAuditEntry {
                    actor_id: None,
                    action: AuditAction::WebhookDisable,
                    target_type: "webhook",
                    target_id: webhook.to_string(),
                    details: json!({ "failing_since_ms": failing_since }),
                });
            AttemptPlan {
                status: if delay.is_some() {
                    DeliveryStatus::Pending
                } else {
                    DeliveryStatus::Failed
                },
                attempts,
                last_status: status,
                next_attempt_at: delay.map(|d| now_ms.saturating_add(d)),
                failing_since: Some(failing_since),
                disable,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(attempts: u32, failing_since: Option<i64>) -> AttemptFacts {
        AttemptFacts {
            attempts,
            webhook_active: true,
            failing_since,
        }
    }

    #[test]
    fn event_types_are_known_non_empty_and_deduplicated() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            event_types(&v(&["message.created", "member.joined", "message.created"])),
            Ok(v(&["member.joined", "message.created"]))
        );
        assert!(
            matches!(event_types(&[]), Err(DomainError::Invalid { field, .. }) if field == "events")
        );
        assert!(
            matches!(event_types(&v(&["message.created", "message.sent"])), Err(DomainError::Invalid { field, .. }) if field == "events")
        );
    }

    #[test]
    fn each_failure_waits_its_step_of_the_schedule_then_the_delivery_fails() {
        let policy = RetryPolicy {
            schedule_ms: vec![5_000, 300_000],
            disable_after_ms: i64::MAX,
        };
        let p = after_attempt(
            "w",
            facts(0, None),
            Outcome::Failed(Some(500)),
            1_000,
            &policy,
        );
        assert_eq!(p.status, DeliveryStatus::Pending);
        assert_eq!((p.attempts, p.last_status), (1, Some(500)));
        assert_eq!(p.next_attempt_at, Some(6_000));
        assert_eq!(p.failing_since, Some(1_000));
        let p = after_attempt(
            "w",
            facts(1, Some(1_000)),
            Outcome::Failed(None),
            10_000,
            &policy,
        );
        assert_eq!(p.next_attempt_at, Some(310_000));
        assert_eq!(p.failing_since, Some(1_000), "the first failure is kept");
        let p = after_attempt(
            "w",
            facts(2, Some(1_000)),
            Outcome::Failed(Some(302)),
            400_000,
            &policy,
        );
        assert_eq!(p.status, DeliveryStatus::Failed);
        assert_eq!((p.attempts, p.next_attempt_at), (3, None));
    }

    #[test]
    fn success_settles_and_clears_the_failing_streak() {
        let p = after_attempt(
            "w",
            facts(3, Some(5)),
            Outcome::Delivered(204),
            99,
            &RetryPolicy::default(),
        );
        assert_eq!(p.status, DeliveryStatus::Delivered);
        assert_eq!(
            (p.attempts, p.last_status, p.next_attempt_at),
            (4, Some(204), None)
        );
        assert_eq!((p.failing_since, p.disable), (None, None));
    }

    #[test]
    fn days_of_failure_turn_the_webhook_off_once() {
        let policy = RetryPolicy::default();
        let start = 1_000_000;
        let early = after_attempt(
            "w",
            facts(0, Some(start)),
            Outcome::Failed(None),
            start + DEFAULT_DISABLE_AFTER_MS - 1,
            &policy,
        );
        assert!(early.disable.is_none());
        let late = after_attempt(
            "w",
            facts(0, Some(start)),
            Outcome::Failed(None),
            start + DEFAULT_DISABLE_AFTER_MS,
            &policy,
        );
        let entry = late.disable.expect("disabled");
        assert_eq!(
            (entry.action, entry.target_id.as_str()),
            (AuditAction::WebhookDisable, "w")
        );
        let again = after_attempt(
            "w",
            AttemptFacts {
                webhook_active: false,
                ..facts(0, Some(start))
            },
            Outcome::Failed(None),
            start + 2 * DEFAULT_DISABLE_AFTER_MS,
            &policy,
        );
        assert!(
            again.disable.is_none(),
            "an inactive webhook is not disabled twice"
        );
    }
}
