//! Email digests (protocol.md §12, "Email digests"): who gets one, what it
//! lists, what it says, and what a failed hand-over to the SMTP server
//! means. Storage reads the facts when the digest would leave; the digest
//! worker applies the result.
//!
//! A conversation is listed at most once per [`AGAIN_AFTER_MS`] for a user,
//! and only with messages newer than what the previous digest listed, so an
//! unread message is mailed once, never again and again.

use crate::error::{DomainError, DomainResult};
use parley_protocol::notifications::{EmailPreference, NotificationPrefs};
use parley_protocol::rest::ConversationKind;

/// How long a conversation waits before it may be listed again.
pub const AGAIN_AFTER_MS: i64 = 3_600_000;
/// Messages quoted per conversation (the newest); the rest are counted.
pub const MESSAGES_SHOWN: usize = 5;
/// Conversations listed in one digest (the most unread first).
pub const CONVERSATIONS_SHOWN: usize = 20;
/// Characters of a quoted message.
const QUOTE_CHARS: usize = 200;
/// Characters of a name or a title.
const NAME_CHARS: usize = 100;
/// The longest address accepted (RFC 5321's path limit).
pub const MAX_ADDRESS_LEN: usize = 254;
/// Retries after the first attempt, for a transient SMTP failure.
pub const MAX_RETRIES: u32 = 3;
/// Delays before those retries.
const BACKOFF_MS: [i64; 3] = [5_000, 60_000, 600_000];

pub const BAD_ADDRESS: &str = "email must be an address like name@example.com, or empty to clear";

/// `PATCH /users/me`'s `email`: an address, or `""` to clear it (`None`).
/// A practical check, not RFC 5322's whole grammar: one `@`, a local part
/// and a dotted domain, no white space or control characters, ASCII
/// punctuation the SMTP path allows.
pub fn address(raw: &str) -> DomainResult<Option<String>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || DomainError::invalid("email", BAD_ADDRESS);
    if raw.len() > MAX_ADDRESS_LEN {
        return Err(bad());
    }
    let (local, domain) = raw.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| {
            c.is_alphanumeric() || (c.is_ascii_punctuation() && !"\"(),:;<>@[\\]".contains(c))
        });
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !(local_ok && domain_ok) {
        return Err(bad());
    }
    Ok(Some(raw.to_string()))
}

/// A quoted unread message.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestMessage {
    pub sender_name: String,
    /// `None` for a message without text (attachments only).
    pub text: Option<String>,
}

/// One conversation of a pending digest, as stored now.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestConversation {
    pub conversation_id: String,
    pub kind: ConversationKind,
    pub title: Option<String>,
    /// Muted now (the digest was queued before the mute).
    pub muted: bool,
    /// Messages of the listed range still unread, not deleted and not from
    /// someone the user blocks.
    pub unread: u64,
    /// The newest of them, oldest first, at most [`MESSAGES_SHOWN`].
    pub latest: Vec<DigestMessage>,
}

/// What is known of one pending digest when it would leave.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestFacts {
    pub user_id: String,
    pub display_name: String,
    /// `None` once the user cleared it (or the account is gone).
    pub address: Option<String>,
    pub prefs: NotificationPrefs,
    pub conversations: Vec<DigestConversation>,
}

/// Where the digest's links point.
#[derive(Debug, Clone)]
pub struct DigestLinks {
    /// The web client.
    pub open: String,
    /// The one-click unsubscribe endpoint for this user (RFC 8058).
    pub unsubscribe: String,
}

/// The email to hand to the SMTP server.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a digest is dropped without an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// No address any more.
    NoAddress,
    /// `email: "off"`.
    Preference,
    /// Everything it would list was read, deleted or muted meanwhile.
    NothingUnread,
    /// The user has a live connection now.
    Connected,
}

fn cut(s: &str, chars: usize) -> String {
    let mut out: String = s.chars().take(chars).collect();
    if s.chars().nth(chars).is_some() {
        out.push('…');
    }
    out
}

/// Text as one line: a quote keeps the digest's layout whatever it holds.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` safe in HTML text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The conversation's name in the digest: a group's title, or for a
/// direct conversation (and an untitled group) who wrote.
fn conversation_name(c: &DigestConversation) -> String {
    match (c.kind, c.title.as_deref()) {
        (ConversationKind::Direct, _) | (_, None) => {
            let mut names: Vec<&str> = Vec::new();
            for m in &c.latest {
                if !names.contains(&m.sender_name.as_str()) {
                    names.push(&m.sender_name);
                }
            }
            if names.is_empty() {
                "a conversation".into()
            } else {
                cut(&names.join(", "), NAME_CHARS)
            }
        }
        (_, Some(t)) => cut(t, NAME_CHARS),
    }
}

/// The digest for `f`, or why none leaves. `connected`: the user has a
/// live gateway connection now.
pub fn compose(
    f: &DigestFacts,
    connected: bool,
    links: &DigestLinks,
) -> Result<DigestEmail, DropReason> {
    let Some(to) = f.address.clone() else {
        return Err(DropReason::NoAddress);
    };
    if f.prefs.email == EmailPreference::Off {
        return Err(DropReason::Preference);
    }
    if connected {
        return Err(DropReason::Connected);
    }
    let mut listed: Vec<&DigestConversation> = f
        .conversations
        .iter()
        .filter(|c| !c.muted && c.unread > 0)
        .collect();
    if listed.is_empty() {
        return Err(DropReason::NothingUnread);
    }
    listed.sort_by_key(|c| std::cmp::Reverse(c.unread));
    let total: u64 = listed.iter().map(|c| c.unread).sum();
    let subject = match listed.as_slice() {
        [one] => format!(
            "{} in {}",
            plural(one.unread, "unread message", "unread messages"),
            conversation_name(one)
        ),
        many => format!(
            "{} in {} conversations",
            plural(total, "unread message", "unread messages"),
            many.len()
        ),
    };
    let hidden = listed.len().saturating_sub(CONVERSATIONS_SHOWN);
    listed.truncate(CONVERSATIONS_SHOWN);
    let name = cut(&f.display_name, NAME_CHARS);

    let mut text = format!(
        "Hi {name},\n\nYou have {} on Parley.\n",
        plural(total, "unread message", "unread messages")
    );
    let mut html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\">\
         <p>Hi {},</p><p>You have {} on Parley.</p>",
        escape_html(&name),
        plural(total, "unread message", "unread messages")
    );
    for c in &listed {
        let title = conversation_name(c);
        let count = plural(c.unread, "unread message", "unread messages");
        text.push_str(&format!("\n{title} ({count})\n"));
        html.push_str(&format!("<h3>{} ({count})</h3>", escape_html(&title)));
        if f.prefs.previews {
            html.push_str("<ul>");
            for m in &c.latest {
                let quote = match m.text.as_deref() {
                    Some(t) => cut(&one_line(t), QUOTE_CHARS),
                    None => "(attachment)".into(),
                };
                let sender = cut(&m.sender_name, NAME_CHARS);
                text.push_str(&format!("  {sender}: {quote}\n"));
                html.push_str(&format!(
                    "<li><b>{}</b>: {}</li>",
                    escape_html(&sender),
                    escape_html(&quote)
                ));
            }
            html.push_str("</ul>");
        }
    }
    if hidden > 0 {
        let more = plural(hidden as u64, "more conversation", "more conversations");
        text.push_str(&format!("\nand {more}.\n"));
        html.push_str(&format!("<p>and {more}.</p>"));
    }
    text.push_str(&format!(
        "\nOpen Parley: {}\n\n-- \nYou get this email because email digests are on. \
         Turn them off: {}\n",
        links.open, links.unsubscribe
    ));
    html.push_str(&format!(
        "<p><a href=\"{}\">Open Parley</a></p><hr><p style=\"font-size:small;color:#666\">\
         You get this email because email digests are on. \
         <a href=\"{}\">Turn them off</a>.</p></body></html>",
        escape_html(&links.open),
        escape_html(&links.unsubscribe)
    ));
    Ok(DigestEmail {
        to,
        subject,
        text,
        html,
    })
}

/// When to try a digest again after a failure (`None`: give up), having
/// made `retries` retries already. A permanent refusal (SMTP 5xx) is not
/// retried.
pub fn retry_at(transient: bool, retries: u32, now_ms: i64) -> Option<i64> {
    if !transient || retries >= MAX_RETRIES {
        return None;
    }
    Some(now_ms.saturating_add(BACKOFF_MS[(retries as usize).min(BACKOFF_MS.len() - 1)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(sender: &str, text: &str) -> DigestMessage {
        DigestMessage {
            sender_name: sender.into(),
            text: Some(text.into()),
        }
    }

    fn facts() -> DigestFacts {
        DigestFacts {
            user_id: "u1".into(),
            display_name: "Bob".into(),
            address: Some("bob@example.com".into()),
            prefs: NotificationPrefs::default(),
            conversations: vec![
                DigestConversation {
                    conversation_id: "c1".into(),
                    kind: ConversationKind::Direct,
                    title: None,
                    muted: false,
                    unread: 2,
                    latest: vec![
                        message("Alice", "hello"),
                        message("Alice", "are you there?"),
                    ],
                },
                DigestConversation {
                    conversation_id: "c2".into(),
                    kind: ConversationKind::Group,
                    title: Some("Team <b>".into()),
                    muted: false,
                    unread: 1,
                    latest: vec![message("Carol", "lunch <script>x</script>")],
                },
            ],
        }
    }

    fn links() -> DigestLinks {
        DigestLinks {
            open: "https://chat.example.com/".into(),
            unsubscribe: "https://chat.example.com/email/unsubscribe?user=u1&token=t".into(),
        }
    }

    #[test]
    fn lists_every_unread_conversation_in_both_parts_with_html_escaped() {
        let e = compose(&facts(), false, &links()).expect("a digest");
        assert_eq!(e.to, "bob@example.com");
        assert_eq!(e.subject, "3 unread messages in 2 conversations");
        assert!(e.text.contains("Alice (2 unread messages)"), "{}", e.text);
        assert!(e.text.contains("  Alice: are you there?"));
        assert!(e.text.contains("Team <b> (1 unread message)"));
        assert!(e.text.contains(&links().unsubscribe));
        assert!(e.html.contains("Team &lt;b&gt;"));
        assert!(e.html.contains("lunch &lt;script&gt;x&lt;/script&gt;"));
        assert!(!e.html.contains("<script>"));
        assert!(e.html.contains("user=u1&amp;token=t"));
    }

    #[test]
    fn previews_off_keeps_every_text_out() {
        let mut f = facts();
        f.prefs.previews = false;
        let e = compose(&f, false, &links()).expect("a digest");
        for part in [&e.text, &e.html] {
            assert!(!part.contains("hello"));
            assert!(!part.contains("lunch"));
        }
        assert!(e.text.contains("Alice (2 unread messages)"));
    }

    #[test]
    fn muted_and_read_conversations_are_left_out_and_nothing_left_drops_it() {
        let mut f = facts();
        f.conversations[0].muted = true;
        let e = compose(&f, false, &links()).expect("a digest");
        assert_eq!(e.subject, "1 unread message in Team <b>");
        assert!(!e.text.contains("Alice"));
        f.conversations[1].unread = 0;
        assert_eq!(compose(&f, false, &links()), Err(DropReason::NothingUnread));
    }

    #[test]
    fn no_address_off_or_connected_sends_nothing() {
        let mut f = facts();
        assert_eq!(compose(&f, true, &links()), Err(DropReason::Connected));
        f.prefs.email = EmailPreference::Off;
        assert_eq!(compose(&f, false, &links()), Err(DropReason::Preference));
        f.address = None;
        assert_eq!(compose(&f, false, &links()), Err(DropReason::NoAddress));
    }

    #[test]
    fn quotes_are_one_line_and_cut() {
        let mut f = facts();
        f.conversations[0].latest = vec![message("Alice", &format!("a\r\nb {}", "x".repeat(500)))];
        let e = compose(&f, false, &links()).expect("a digest");
        let line = e
            .text
            .lines()
            .find(|l| l.starts_with("  Alice: a b "))
            .expect("the quote on one line");
        assert!(line.chars().count() < QUOTE_CHARS + 20);
        assert!(line.ends_with('…'));
    }

    #[test]
    fn addresses() {
        assert_eq!(address(""), Ok(None));
        assert_eq!(address("  "), Ok(None));
        assert_eq!(
            address(" bob+x@mail.example.com "),
            Ok(Some("bob+x@mail.example.com".into()))
        );
        for bad in [
            "bob",
            "bob@localhost",
            "@example.com",
            "bob@",
            "b ob@example.com",
            "bob@exa mple.com",
            "bob@@example.com",
            "bob@example..com",
            "bob\r\nBcc: x@example.com",
            "<bob@example.com>",
            ".bob@example.com",
        ] {
            assert!(address(bad).is_err(), "{bad:?}");
        }
        assert!(address(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn retries_only_transient_failures_a_few_times() {
        assert_eq!(retry_at(false, 0, 1000), None);
        assert_eq!(retry_at(true, 0, 1000), Some(6000));
        assert_eq!(retry_at(true, 2, 0), Some(600_000));
        assert_eq!(retry_at(true, MAX_RETRIES, 0), None);
    }
}
