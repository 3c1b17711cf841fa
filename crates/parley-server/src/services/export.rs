//! Conversation export (protocol.md §13): the caller's view of a
//! conversation, or for an admin the whole conversation (the compliance
//! export), streamed a page at a time so memory stays flat however long
//! the history is.

use super::check_id;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::ratelimit::{Action, Limiter};
use bytes::Bytes;
use futures_util::Stream;
use parley_domain::export::{self as rules, ExportFormat};
use parley_domain::moderation::require_admin;
use parley_protocol::{Message, Timestamp};
use parley_store::{
    ComplianceStore, ConversationStore, HistoryPage, MessageMarkStore, MessageStore,
    ModerationStore, UserStore,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Messages read per page of the export.
const PAGE: u32 = 200;
/// Display names remembered while exporting (a long group history names
/// at most its members; the cap keeps a pathological one flat too).
const NAMES_KEPT: usize = 10_000;

#[derive(Clone)]
pub struct ExportService {
    messages: Arc<dyn MessageStore>,
    conversations: Arc<dyn ConversationStore>,
    users: Arc<dyn UserStore>,
    compliance: Arc<dyn ComplianceStore>,
    audit: Arc<dyn ModerationStore>,
    marks: Arc<dyn MessageMarkStore>,
    limiter: Limiter,
}

/// An export ready to stream.
pub struct Export {
    pub format: ExportFormat,
    pub conversation_id: String,
    pub body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
}

/// Whose view an export pages through.
enum Reader {
    /// A member's (or support reader's): what history shows them, less
    /// the seqs they deleted for themselves.
    Viewer(String, HashSet<u64>),
    /// An admin's compliance export: every message from the first seq.
    Compliance,
}

struct Cursor {
    svc: ExportService,
    reader: Reader,
    conv_id: String,
    /// The JSON of the `conversation` field.
    header: String,
    format: ExportFormat,
    after: u64,
    started: bool,
    wrote: bool,
    done: bool,
    names: HashMap<String, String>,
}

impl ExportService {
    pub fn new(
        messages: Arc<dyn MessageStore>,
        conversations: Arc<dyn ConversationStore>,
        users: Arc<dyn UserStore>,
        compliance: Arc<dyn ComplianceStore>,
        audit: Arc<dyn ModerationStore>,
        marks: Arc<dyn MessageMarkStore>,
        limiter: Limiter,
    ) -> Self {
        ExportService {
            messages,
            conversations,
            users,
            compliance,
            audit,
            marks,
            limiter,
        }
    }

    /// `GET /conversations/{id}/export`: refusals (format, visibility,
    /// rate) come before the first byte; the body then pages through the
    /// history in seq order, tombstones included.
    pub async fn export(
        &self,
        viewer: &str,
        conv: &str,
        format: Option<&str>,
    ) -> AppResult<Export> {
        let format = ExportFormat::parse(format)?;
        check_id(conv, "conversation")?;
        self.limiter.spend(Action::History, viewer).await?;
        let conversation = self.conversations.conversation(viewer, conv).await?;
        // Messages deleted for the caller are not in their view. Their
        // marks are few (one per message they hid), read once up front.
        let hidden = self
            .marks
            .message_marks(viewer, &conversation.id)
            .await?
            .into_iter()
            .filter(|m| m.hidden)
            .map(|m| m.seq)
            .collect();
        Ok(self.stream(
            Reader::Viewer(viewer.to_string(), hidden),
            &conversation.id,
            json(&conversation)?,
            format,
        ))
    }

    /// `GET /admin/conversations/{id}/export`: the whole conversation for
    /// an admin (every message from seq 1, tombstones included, whoever
    /// the members are), recorded in the audit log before the first byte.
    pub async fn compliance_export(
        &self,
        who: &Principal,
        conv: &str,
        format: Option<&str>,
    ) -> AppResult<Export> {
        require_admin(who.role)?;
        let format = ExportFormat::parse(format)?;
        check_id(conv, "conversation")?;
        let conversation = self.compliance.compliance_conversation(conv).await?;
        self.audit
            .append_audit(
                rules::compliance_audit(&who.user_id, conv, format),
                Timestamp::now(),
            )
            .await?;
        Ok(self.stream(Reader::Compliance, conv, json(&conversation)?, format))
    }

    fn stream(&self, reader: Reader, conv: &str, header: String, format: ExportFormat) -> Export {
        let cursor = Cursor {
            svc: self.clone(),
            reader,
            conv_id: conv.to_string(),
            header,
            format,
            after: 0,
            started: false,
            wrote: false,
            done: false,
            names: HashMap::new(),
        };
        let body = futures_util::stream::unfold(cursor, |mut c| async move {
            if c.done {
                return None;
            }
            match c.next_chunk().await {
                Ok(chunk) => Some((Ok(Bytes::from(chunk)), c)),
                Err(e) => {
                    // The status line is sent: all that is left is to cut
                    // the body short, which the client sees as an error.
                    tracing::warn!(error = %e, "export stopped");
                    c.done = true;
                    Some((Err(std::io::Error::other("export stopped")), c))
                }
            }
        });
        Export {
            format,
            conversation_id: conv.to_string(),
            body: Box::pin(body),
        }
    }
}

impl Cursor {
    async fn next_chunk(&mut self) -> AppResult<String> {
        let mut out = String::new();
        if !self.started {
            self.started = true;
            if self.format == ExportFormat::Json {
                out.push_str("{\"conversation\":");
                out.push_str(&self.header);
                out.push_str(",\"exported_at\":");
                out.push_str(&json(&Timestamp::now())?);
                out.push_str(",\"messages\":[");
            }
        }
        // `advanced`: the page read anything (all of it may be hidden).
        let (messages, more, advanced) = match &self.reader {
            Reader::Viewer(viewer, hidden) => {
                let page = self
                    .svc
                    .messages
                    .messages(viewer, &self.conv_id, HistoryPage::After(self.after), PAGE)
                    .await?;
                let advanced = !page.messages.is_empty();
                if let Some(last) = page.messages.last() {
                    self.after = last.seq;
                }
                let shown = page
                    .messages
                    .into_iter()
                    .filter(|m| !hidden.contains(&m.seq))
                    .collect();
                (shown, page.has_more, advanced)
            }
            Reader::Compliance => {
                let mut found = self
                    .svc
                    .compliance
                    .compliance_messages(&self.conv_id, self.after, PAGE + 1)
                    .await?;
                let more = found.len() > PAGE as usize;
                found.truncate(PAGE as usize);
                let advanced = !found.is_empty();
                (found, more, advanced)
            }
        };
        if self.format == ExportFormat::Text {
            self.learn_names(&messages).await?;
        }
        for m in &messages {
            match self.format {
                ExportFormat::Json => {
                    if self.wrote {
                        out.push(',');
                    }
                    self.wrote = true;
                    out.push_str(&json(m)?);
                }
                ExportFormat::Text => {
                    let name = self.names.get(&m.sender_id).map_or("", String::as_str);
                    out.push_str(&rules::text_lines(m, name));
                }
            }
            self.after = m.seq;
        }
        if !more || !advanced {
            self.done = true;
            if self.format == ExportFormat::Json {
                out.push_str("]}");
            }
        }
        Ok(out)
    }

    async fn learn_names(&mut self, page: &[Message]) -> AppResult<()> {
        let mut missing: Vec<String> = page
            .iter()
            .filter(|m| !self.names.contains_key(&m.sender_id))
            .map(|m| m.sender_id.clone())
            .collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        if self.names.len() > NAMES_KEPT {
            self.names.clear();
        }
        for u in self.svc.users.users_by_ids(&missing).await? {
            self.names.insert(u.id, u.display_name);
        }
        Ok(())
    }
}

fn json<T: serde::Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.to_string()))
}
