//! The shape of client input (protocol.md §2, §5): lengths, characters,
//! formats. REST and the gateway both check here, so a field is refused the
//! same way, with the same text, whichever way it came.

use crate::error::{DomainError, DomainResult};

/// C0, DEL and C1 controls other than tab, newline and carriage return.
fn is_forbidden_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}'
}

/// White space and the characters that draw nothing: Unicode's
/// Default_Ignorable_Code_Point (zero-width spaces and joiners, U+FEFF,
/// bidi controls, variation selectors, Hangul fillers, tags), the other
/// controls, and U+2800 (a blank braille pattern, a well-known way around
/// "not blank" checks).
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c as u32,
            0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5
            | 0x180B..=0x180F | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F
            | 0x2800 | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// Bidi embedding, override and isolate controls (U+202A-U+202E,
/// U+2066-U+2069): they reorder the text around them, so a name could
/// read as someone else's (or as a file name with another extension).
/// The marks (U+200E, U+200F, U+061C) only nudge neutral characters and
/// stay allowed.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c as u32, 0x202A..=0x202E | 0x2066..=0x2069)
}

/// Folds to lower case and checks 3-32 of `a-z 0-9 _ .` with at least one
/// letter or digit (`...` or `___` would look like no name at all).
pub fn username(raw: &str) -> DomainResult<String> {
    let folded = raw.to_lowercase();
    let ok_len = (3..=32).contains(&folded.chars().count());
    let ok_chars = folded
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    if !ok_len || !ok_chars {
        return Err(DomainError::invalid(
            "username",
            "username must be 3-32 characters of a-z, 0-9, _ and .",
        ));
    }
    if !folded.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err(DomainError::invalid(
            "username",
            "username must contain at least one letter or digit",
        ));
    }
    Ok(folded)
}

pub fn password(raw: &str) -> DomainResult<()> {
    let n = raw.chars().count();
    if !(8..=256).contains(&n) {
        return Err(DomainError::invalid(
            "password",
            "password must be 8-256 characters",
        ));
    }
    Ok(())
}

/// A short single-line label (display name, title): trimmed, 1..=max
/// chars, at least one visible character, no controls and no bidi
/// embedding, override or isolate characters (a name is shown next to
/// other text, which they would reorder).
pub fn label(field: &str, raw: &str, max: usize) -> DomainResult<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(DomainError::invalid(
            field.to_string(),
            format!("{field} must be 1-{max} characters"),
        ));
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(DomainError::invalid(
            field.to_string(),
            format!("{field} must not contain control characters"),
        ));
    }
    if t.chars().any(is_bidi_control) {
        return Err(DomainError::invalid(
            field.to_string(),
            format!("{field} must not contain bidirectional override or isolate characters"),
        ));
    }
    if t.chars().all(is_invisible) {
        return Err(DomainError::invalid(
            field.to_string(),
            format!("{field} must contain a visible character"),
        ));
    }
    Ok(t.to_string())
}

/// Free text such as `about`: up to `max` chars, no forbidden controls.
pub fn free_text(field: &str, raw: &str, max: usize) -> DomainResult<String> {
    if raw.chars().count() > max {
        return Err(DomainError::invalid(
            field.to_string(),
            format!("{field} must be at most {max} characters"),
        ));
    }
    if raw.chars().any(is_forbidden_control) {
        return Err(DomainError::invalid(
            field.to_string(),
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(raw.to_string())
}

/// A user directory query (`GET /users?query=`): trimmed, 2-64
/// characters, no controls. Folded to lower case for matching.
pub fn search_query(raw: &str) -> DomainResult<String> {
    let t = raw.trim();
    let n = t.chars().count();
    if !(2..=64).contains(&n) || t.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "query",
            "query must be 2-64 characters",
        ));
    }
    Ok(t.to_lowercase())
}

/// Where avatars may come from. An image the browser fetches from a third
/// party tells that party who looked at whom, and when; so only the
/// server's own media paths and the hosts the operator lists are taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvatarPolicy {
    /// The server's public origin (`https://chat.example`), if configured:
    /// absolute URLs of its media paths are taken too.
    pub own_origin: Option<String>,
    /// Hosts (`img.example` or `img.example:8443`) whose https URLs are
    /// taken.
    pub hosts: Vec<String>,
}

/// Where the server's media live (protocol.md §10).
pub const MEDIA_PATH: &str = "/api/v1/media/";

impl AvatarPolicy {
    /// Whether `u` (an absolute URL) is on a listed host over https.
    fn listed(&self, u: &url::Url) -> bool {
        let Some(host) = u.host_str() else {
            return false;
        };
        let with_port = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        u.scheme() == "https"
            && self
                .hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&with_port))
    }

    fn own_media(&self, u: &url::Url) -> bool {
        let own = self
            .own_origin
            .as_deref()
            .and_then(|o| url::Url::parse(o).ok());
        own.is_some_and(|o| o.origin() == u.origin()) && u.path().starts_with(MEDIA_PATH)
    }
}

/// An avatar URL (users' and conversations' `avatar_url`): empty (clears
/// it), a path under the server's own media (`/api/v1/media/...`), that
/// path on the server's public origin, or an https URL on a host the
/// operator allows. At most 2048 bytes.
pub fn avatar_url(field: &str, raw: &str, policy: &AvatarPolicy) -> DomainResult<String> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    let ok = raw.len() <= 2048
        && if raw.starts_with('/') {
            // Relative to this server: it must stay a plain media path
            // once resolved (no `//host`, `..`, `\`, query or fragment).
            url::Url::parse("http://self.invalid")
                .and_then(|base| base.join(raw))
                .is_ok_and(|u| {
                    u.host_str() == Some("self.invalid")
                        && u.path() == raw
                        && u.query().is_none()
                        && u.fragment().is_none()
                        && raw.starts_with(MEDIA_PATH)
                })
        } else {
            url::Url::parse(raw).is_ok_and(|u| {
                u.username().is_empty()
                    && u.password().is_none()
                    && (policy.own_media(&u) || policy.listed(&u))
            })
        };
    if !ok {
        let hosts = if policy.hosts.is_empty() {
            String::new()
        } else {
            format!(" or an https URL on {}", policy.hosts.join(", "))
        };
        return Err(DomainError::invalid(
            field.to_string(),
            format!("{field} must be a path under this server's {MEDIA_PATH}{hosts}"),
        ));
    }
    Ok(raw.to_string())
}

/// An http(s) URL up to 2048 bytes, or empty (which clears it).
pub fn url(field: &str, raw: &str) -> DomainResult<String> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    let ok = raw.len() <= 2048
        && url::Url::parse(raw)
            .map(|u| matches!(u.scheme(), "http" | "https"))
            .unwrap_or(false);
    if !ok {
        return Err(DomainError::invalid(
            field.to_string(),
            format!("{field} must be an http or https URL"),
        ));
    }
    Ok(raw.to_string())
}

/// Message text (protocol.md §5): 1..=max Unicode scalar values counted
/// after trimming white space, with at least one visible character; stored
/// as sent. The white space around the text is not counted, but may not
/// be longer than the limit again (2 * max in all), so what is stored
/// stays bounded.
pub fn message_text(raw: &str, max: usize) -> DomainResult<()> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > max || raw.chars().count() > max.saturating_mul(2) {
        return Err(DomainError::TooLarge(
            format!("text is longer than {max} characters").into(),
        ));
    }
    if trimmed.is_empty() {
        return Err(DomainError::invalid("text", "text must not be empty"));
    }
    if trimmed.chars().all(is_invisible) {
        return Err(DomainError::invalid(
            "text",
            "text must contain a visible character",
        ));
    }
    if raw.chars().any(is_forbidden_control) {
        return Err(DomainError::invalid(
            "text",
            "text must not contain control characters",
        ));
    }
    Ok(())
}

/// 1-128 visible ASCII characters (`client_id`, a client's
/// `x-request-id`).
pub fn is_short_token(raw: &[u8]) -> bool {
    (1..=128).contains(&raw.len()) && raw.iter().all(|b| b.is_ascii_graphic())
}

/// A client-generated id (`client_id`): 1-128 printable ASCII characters.
pub fn client_id(raw: &str) -> DomainResult<()> {
    if !is_short_token(raw.as_bytes()) {
        return Err(DomainError::invalid(
            "client_id",
            "client_id must be 1-128 printable ASCII characters",
        ));
    }
    Ok(())
}

/// An id from a client (ours are UUIDs): short and plain, or it names
/// nothing that exists.
pub fn id_like(raw: &str) -> bool {
    (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Characters that make a grapheme an emoji: the pictographic blocks,
/// regional indicators (flags) and the keycap mark.
fn is_emoji_char(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2300..=0x23FF | 0x2B00..=0x2BFF
        | 0x2190..=0x21FF | 0x25A0..=0x25FF | 0x2900..=0x297F | 0x3030 | 0x303D
        | 0x3297 | 0x3299 | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139
        | 0x24C2 | 0x20E3 | 0xE0020..=0xE007F)
}

/// One emoji per reaction: exactly one grapheme cluster (so skin tones,
/// ZWJ families and flags count as one) that is an emoji.
pub fn emoji(raw: &str) -> DomainResult<()> {
    use unicode_segmentation::UnicodeSegmentation as _;
    let mut graphemes = raw.graphemes(true);
    let ok = raw.len() <= 64
        && matches!((graphemes.next(), graphemes.next()), (Some(g), None) if g.chars().any(is_emoji_char))
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
    if !ok {
        return Err(DomainError::invalid(
            "emoji",
            "emoji must be a single emoji",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_fold_and_check() {
        assert_eq!(username("Alice").ok().as_deref(), Some("alice"));
        assert!(username("al").is_err());
        assert!(username("al ice").is_err());
        assert!(username(&"a".repeat(33)).is_err());
    }

    #[test]
    fn usernames_need_a_letter_or_digit() {
        for bad in ["...", "___", "._.", "_._"] {
            assert!(username(bad).is_err(), "{bad}");
        }
        for good in ["a..", "_1_", "bob.smith"] {
            assert!(username(good).is_ok(), "{good}");
        }
        assert!(username("al\u{202e}ice").is_err(), "no bidi in usernames");
    }

    #[test]
    fn labels_refuse_bidi_controls_and_invisible_names() {
        for c in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}',
        ] {
            let name = format!("ali{c}ce");
            assert!(
                label("display_name", &name, 64).is_err(),
                "{:04x}",
                c as u32
            );
        }
        assert!(label("display_name", "\u{200b}\u{feff}", 64).is_err());
        assert!(label("display_name", "\u{3164}", 64).is_err());
        // Right-to-left names need no overrides, and the marks stay allowed.
        assert!(label("display_name", "שלום עליכם", 64).is_ok());
        assert!(label("display_name", "Zoë\u{200f}", 64).is_ok());
        assert!(label("display_name", "👨‍👩‍👧", 64).is_ok());
    }

    #[test]
    fn message_text_needs_a_visible_character() {
        for blank in [
            "\u{200b}",
            "\u{200b}\u{200b}\u{feff}",
            "\u{2060}\u{200d}",
            " \u{00a0}\u{3000}\u{2800} ",
            "\u{202e}\u{2066}",
            "\u{fe0f}",
            "\u{e0041}\u{e0042}",
        ] {
            assert!(
                matches!(message_text(blank, 100), Err(DomainError::Invalid { ref field, .. }) if field == "text"),
                "{blank:?}"
            );
        }
        assert!(message_text("\u{200b}x\u{200b}", 100).is_ok());
        assert!(message_text("👍", 100).is_ok());
        assert!(
            message_text("\u{202e}olleh\u{202c}", 100).is_ok(),
            "bidi stays allowed in text; clients isolate it"
        );
    }

    #[test]
    fn the_text_limit_counts_the_trimmed_text() {
        let body = "x".repeat(10);
        assert!(message_text(&format!("   {body} \n "), 10).is_ok());
        assert!(matches!(
            message_text(&format!(" {body}x "), 10),
            Err(DomainError::TooLarge(_))
        ));
        assert!(
            matches!(
                message_text(&format!("{body}{}", " ".repeat(11)), 10),
                Err(DomainError::TooLarge(_))
            ),
            "padding may not exceed the limit again"
        );
    }

    #[test]
    fn search_queries_need_two_characters() {
        assert!(search_query("").is_err());
        assert!(search_query("  a  ").is_err());
        assert_eq!(search_query(" Ab ").ok().as_deref(), Some("ab"));
        assert!(search_query(&"a".repeat(65)).is_err());
        assert!(search_query("a\u{0}b").is_err());
    }

    #[test]
    fn short_tokens() {
        assert!(is_short_token(b"abc-123"));
        assert!(!is_short_token(b""));
        assert!(!is_short_token(b"a b"));
        assert!(!is_short_token("é".as_bytes()));
        assert!(!is_short_token("a".repeat(129).as_bytes()));
        assert!(is_short_token("a".repeat(128).as_bytes()));
    }

    #[test]
    fn avatars_only_from_our_media_or_listed_hosts() {
        let none = AvatarPolicy::default();
        let policy = AvatarPolicy {
            own_origin: Some("https://chat.example".into()),
            hosts: vec!["img.example".into(), "cdn.example:8443".into()],
        };
        for p in [&none, &policy] {
            assert_eq!(avatar_url("avatar_url", "", p).ok().as_deref(), Some(""));
            assert!(avatar_url("avatar_url", "/api/v1/media/abc", p).is_ok());
            for bad in [
                "https://tracker.example/p.gif",
                "http://img.example/a.png",
                "//tracker.example/api/v1/media/x",
                "/api/v1/media/../users/me",
                "/api/v1/media/a?u=1",
                "/api/v1/users/me",
                "/\\tracker.example/x",
                "javascript:alert(1)",
                "data:image/png;base64,AAAA",
                "https://img.example@tracker.example/a.png",
            ] {
                assert!(avatar_url("avatar_url", bad, p).is_err(), "{bad}");
            }
        }
        assert!(avatar_url("avatar_url", "https://img.example/a.png", &policy).is_ok());
        assert!(avatar_url("avatar_url", "https://IMG.example/a.png", &policy).is_ok());
        assert!(avatar_url("avatar_url", "https://cdn.example:8443/a.png", &policy).is_ok());
        assert!(avatar_url("avatar_url", "https://cdn.example/a.png", &policy).is_err());
        assert!(avatar_url("avatar_url", "https://img.example:444/a.png", &policy).is_err());
        assert!(avatar_url("avatar_url", "https://chat.example/api/v1/media/x", &policy).is_ok());
        assert!(avatar_url("avatar_url", "https://chat.example/elsewhere", &policy).is_err());
        assert!(avatar_url("avatar_url", "https://img.example/a.png", &none).is_err());
        assert!(matches!(
            avatar_url("avatar_url", "https://x.example/", &none),
            Err(DomainError::Invalid { ref field, .. }) if field == "avatar_url"
        ));
    }

    #[test]
    fn message_text_rules() {
        assert!(message_text("hi\tthere\r\n", 10).is_ok());
        assert!(message_text("   ", 10).is_err());
        assert!(message_text("a\u{0}b", 10).is_err());
        assert!(message_text("a\u{85}b", 10).is_err());
        assert!(message_text("a\u{7f}b", 10).is_err());
        assert!(matches!(
            message_text("ééééé", 4),
            Err(DomainError::TooLarge(_))
        ));
        assert!(message_text("ééééé", 5).is_ok());
    }

    #[test]
    fn emoji_rules() {
        assert!(emoji("👍").is_ok());
        assert!(emoji("👍🏽").is_ok());
        assert!(emoji("like").is_err());
        assert!(emoji("👍👎").is_err(), "two emoji");
        assert!(emoji("👍/x").is_err());
        assert!(emoji("é").is_err());
        assert!(emoji("中").is_err());
        assert!(emoji("❤️").is_ok());
        assert!(emoji("🇫🇷").is_ok(), "a flag is one grapheme");
        assert!(emoji("👨‍👩‍👧").is_ok(), "a ZWJ family is one grapheme");
        assert!(emoji("1️⃣").is_ok(), "keycap");
        assert!(emoji("").is_err());
    }
}
