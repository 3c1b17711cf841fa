//! Conversation export (protocol.md §13): the formats and how a message
//! reads as a line of the text export (also the support transcript).

use crate::error::{DomainError, DomainResult};
use crate::moderation::{AuditAction, NewAuditEntry};
use parley_protocol::{Message, MessageKind};

/// `?format=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Text,
}

impl ExportFormat {
    /// `json` (the default) or `text`; anything else is `invalid_request`.
    pub fn parse(raw: Option<&str>) -> DomainResult<ExportFormat> {
        match raw {
            None | Some("") | Some("json") => Ok(ExportFormat::Json),
            Some("text") => Ok(ExportFormat::Text),
            Some(_) => Err(DomainError::invalid(
                "format",
                "format must be json or text",
            )),
        }
    }

    /// The download's file name for conversation `id`.
    pub fn file_name(self, id: &str) -> String {
        match self {
            ExportFormat::Json => format!("parley-{id}.json"),
            ExportFormat::Text => format!("parley-{id}.txt"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Text => "text",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Json => "application/json",
            ExportFormat::Text => "text/plain; charset=utf-8",
        }
    }
}

/// The audit entry of an admin's export of a whole conversation.
pub fn compliance_audit(admin: &str, conversation: &str, format: ExportFormat) -> NewAuditEntry {
    NewAuditEntry {
        actor_id: Some(admin.to_string()),
        action: AuditAction::ConversationExport,
        target_type: "conversation",
        target_id: conversation.to_string(),
        details: serde_json::json!({ "format": format.as_str() }),
    }
}

/// `m` as text-export lines, each ending in `\n`: `[CREATED_AT] SENDER:
/// TEXT`, later lines of the text indented by two spaces, then one
/// indented line per attachment (`[attachment] NAME URL`); a tombstone
/// reads `(message deleted)`, a system message `[CREATED_AT] * TEXT`.
pub fn text_lines(m: &Message, sender: &str) -> String {
    let at = m.created_at.to_string();
    let body = if m.deleted {
        "(message deleted)".to_string()
    } else {
        m.text.clone().unwrap_or_default()
    };
    // Control characters other than newline and tab would let a text
    // forge lines or terminal escapes in the file.
    let clean: String = body
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect();
    let mut lines = clean.split('\n');
    let first = lines.next().unwrap_or_default();
    let mut out = if m.kind == MessageKind::System {
        format!("[{at}] * {first}\n")
    } else {
        format!("[{at}] {}: {first}\n", one_line(sender))
    };
    for line in lines {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    if !m.deleted {
        for a in &m.attachments {
            let name = a.get("name").and_then(|v| v.as_str()).unwrap_or("file");
            let url = a.get("url").and_then(|v| v.as_str()).unwrap_or("");
            out.push_str(&format!("  [attachment] {} {url}\n", one_line(name)));
        }
    }
    out
}

fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::Timestamp;

    fn msg(text: Option<&str>, kind: MessageKind, deleted: bool) -> Message {
        Message {
            id: "m".into(),
            conversation_id: "c".into(),
            seq: 1,
            sender_id: "u".into(),
            client_id: None,
            kind,
            text: text.map(str::to_string),
            attachments: vec![],
            reply_to: None,
            mentions: vec![],
            created_at: Timestamp(0),
            edited_at: None,
            deleted,
            reactions: vec![],
            status: None,
            system: None,
        }
    }

    #[test]
    fn formats() {
        assert_eq!(ExportFormat::parse(None).ok(), Some(ExportFormat::Json));
        assert_eq!(
            ExportFormat::parse(Some("text")).ok(),
            Some(ExportFormat::Text)
        );
        assert!(ExportFormat::parse(Some("csv")).is_err());
        assert!(ExportFormat::parse(Some("JSON")).is_err());
    }

    #[test]
    fn lines() {
        let at = Timestamp(0).to_string();
        assert_eq!(
            text_lines(
                &msg(Some("hi\nthere\u{1b}[2J"), MessageKind::Text, false),
                "Ann"
            ),
            format!("[{at}] Ann: hi\n  there[2J\n")
        );
        assert_eq!(
            text_lines(&msg(None, MessageKind::Text, true), "Ann"),
            format!("[{at}] Ann: (message deleted)\n")
        );
        assert_eq!(
            text_lines(&msg(Some("Bo joined"), MessageKind::System, false), "x"),
            format!("[{at}] * Bo joined\n")
        );
        let mut m = msg(None, MessageKind::Media, false);
        m.attachments = vec![serde_json::json!({"name": "a\nb.png", "url": "/api/v1/media/x"})];
        assert_eq!(
            text_lines(&m, "Ann"),
            format!("[{at}] Ann: \n  [attachment] ab.png /api/v1/media/x\n")
        );
    }
}
