//! Retention (protocol.md §13): the pass that turns expired messages into
//! tombstones, hourly under the supervisor and on demand
//! (`POST /admin/retention/run`, `parley admin retention`), and the
//! per-conversation settings. Which messages expire and what stays is
//! `parley_domain::retention`; each write is bounded by the store, and
//! the pass yields between writes so sends interleave with it.

use super::check_id;
use super::media::MediaService;
use crate::auth::Principal;
use crate::error::AppResult;
use parley_domain::moderation::require_admin;
use parley_domain::retention::{self as rules, Pass};
use parley_protocol::Timestamp;
use parley_protocol::retention::ConversationRetention;
use parley_store::{ModerationStore, RetentionStore};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the background pass runs.
const EVERY: Duration = Duration::from_secs(3600);

/// Conversations a pass lists at a time.
const LIST_BATCH: u32 = 1000;

#[derive(Clone)]
pub struct RetentionService {
    store: Arc<dyn RetentionStore>,
    audit: Arc<dyn ModerationStore>,
    media: MediaService,
    default_days: Option<u32>,
}

impl RetentionService {
    pub fn new(
        store: Arc<dyn RetentionStore>,
        audit: Arc<dyn ModerationStore>,
        media: MediaService,
        default_days: Option<u32>,
    ) -> Self {
        RetentionService {
            store,
            audit,
            media,
            default_days,
        }
    }

    fn pass(&self, now: Timestamp) -> Pass {
        Pass {
            now,
            default_days: self.default_days,
        }
    }

    /// Whether any retention is in force (the server's or a conversation's).
    async fn enabled(&self) -> AppResult<bool> {
        Ok(self.default_days.is_some() || self.store.any_conversation_retention().await?)
    }

    /// One whole pass at `now`: every expired message becomes a tombstone,
    /// then the media they alone attached lose their bytes. Returns how
    /// many messages it tombstoned; an entry in the audit log says so.
    pub async fn run_pass(&self, actor: Option<&str>, now: Timestamp) -> AppResult<u64> {
        let pass = self.pass(now);
        let mut tombstoned = 0;
        let mut previous: Vec<String> = Vec::new();
        loop {
            let listed = self.store.expirable_conversations(pass, LIST_BATCH).await?;
            if listed.is_empty() {
                break;
            }
            let before = tombstoned;
            for conv in &listed {
                loop {
                    let done = self
                        .store
                        .expire_conversation(conv, pass, rules::BATCH)
                        .await?;
                    tombstoned += done.tombstoned;
                    tokio::task::yield_now().await;
                    if !done.more {
                        break;
                    }
                }
            }
            // Each listed conversation had an expired head, so its mark
            // moved; the same list again with nothing done means another
            // writer holds the rest (or a bug): stop rather than spin.
            if listed == previous && tombstoned == before {
                break;
            }
            previous = listed;
        }
        // The bytes of media no message attaches any more; the sweep's own
        // clock, not the pass's, so no fresh upload looks a day old.
        loop {
            let (_, purged) = self.media.sweep(Timestamp::now()).await?;
            if purged == 0 {
                break;
            }
        }
        if tombstoned > 0 {
            self.audit
                .append_audit(rules::run_audit(actor, pass, tombstoned), Timestamp::now())
                .await?;
            tracing::info!(tombstoned, "retention pass");
        }
        Ok(tombstoned)
    }

    /// `POST /admin/retention/run`: a pass at once, as if the time were
    /// `requested` (not earlier than our clock).
    pub async fn run_now(&self, who: &Principal, requested: Option<Timestamp>) -> AppResult<u64> {
        require_admin(who.role)?;
        self.run_at(Some(&who.user_id), requested).await
    }

    /// A pass on demand by `actor` (`None`: the operator's command line).
    pub async fn run_at(
        &self,
        actor: Option<&str>,
        requested: Option<Timestamp>,
    ) -> AppResult<u64> {
        let now = rules::run_time(Timestamp::now(), requested)?;
        rules::check_enabled(
            self.default_days,
            self.store.any_conversation_retention().await?,
        )?;
        self.run_pass(actor, now).await
    }

    /// How many messages a pass at `requested` (default now) would
    /// tombstone: the operator's dry run, which changes nothing.
    pub async fn dry_run(&self, requested: Option<Timestamp>) -> AppResult<u64> {
        let now = rules::run_time(Timestamp::now(), requested)?;
        Ok(self.store.count_expired(self.pass(now)).await?)
    }

    /// `GET /admin/conversations/{id}/retention`.
    pub async fn conversation(
        &self,
        who: &Principal,
        id: &str,
    ) -> AppResult<ConversationRetention> {
        require_admin(who.role)?;
        check_id(id, "conversation")?;
        let own = self.store.conversation_retention(id).await?;
        Ok(self.view(id, own))
    }

    /// `PUT /admin/conversations/{id}/retention`.
    pub async fn set_conversation(
        &self,
        who: &Principal,
        id: &str,
        days: Option<u32>,
    ) -> AppResult<ConversationRetention> {
        require_admin(who.role)?;
        check_id(id, "conversation")?;
        let days = days
            .map(|d| rules::check_days("message_days", d))
            .transpose()?;
        self.store.set_conversation_retention(id, days).await?;
        self.audit
            .append_audit(
                rules::setting_audit(&who.user_id, id, days),
                Timestamp::now(),
            )
            .await?;
        Ok(self.view(id, days))
    }

    fn view(&self, id: &str, own: Option<u32>) -> ConversationRetention {
        ConversationRetention {
            conversation_id: id.to_string(),
            message_days: own,
            effective_message_days: self.pass(Timestamp::now()).days(own),
        }
    }

    /// The supervised job: a pass at start and then hourly, while any
    /// retention is in force.
    pub async fn run(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let pass = async {
                if self.enabled().await? {
                    self.run_pass(None, Timestamp::now()).await?;
                }
                AppResult::Ok(())
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                done = pass => if let Err(e) = done {
                    tracing::warn!(error = %e, "retention pass failed; the next one retries");
                },
            }
        }
    }
}
