//! The shape of client input (protocol.md §2, §5): lengths, characters,
//! formats. REST and the gateway both check here, so a field is refused the
//! same way, with the same text, whichever way it came.

use crate::error::{DomainError, DomainResult};

/// C0, DEL and C1 controls other than tab, newline and carriage return.
fn is_forbidden_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}'
}

/// Folds to lower case and checks 3-32 of `a-z 0-9 _ .`.
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

/// A short single-line label (display name, title): trimmed, 1..=max chars.
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

/// Message text: 1..=max Unicode scalar values, not blank, stored as sent.
pub fn message_text(raw: &str, max: usize) -> DomainResult<()> {
    let n = raw.chars().count();
    if n > max {
        return Err(DomainError::TooLarge(
            format!("text is longer than {max} characters").into(),
        ));
    }
    if raw.trim().is_empty() {
        return Err(DomainError::invalid("text", "text must not be empty"));
    }
    if raw.chars().any(is_forbidden_control) {
        return Err(DomainError::invalid(
            "text",
            "text must not contain control characters",
        ));
    }
    Ok(())
}

/// A client-generated id (`client_id`): 1-128 printable ASCII characters.
pub fn client_id(raw: &str) -> DomainResult<()> {
    let ok = (1..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
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
