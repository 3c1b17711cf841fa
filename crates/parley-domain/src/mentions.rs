//! Mentions (`@username` in a message's text): the server finds them, so
//! that a message's `mentions` always name members the text addresses and
//! nobody else (a client cannot mention who is not there, nor notify by a
//! list the text does not show). A handle is `@` at the start or after a
//! character that cannot be part of a username, then 3-32 username
//! characters (`a-z`, `0-9`, `_`, `.`, case folded); a trailing `.` ends
//! the sentence, not the name.

/// At most this many distinct users are mentioned by one message.
pub const MAX_MENTIONS: usize = 50;

fn username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// The distinct handles in `text`, folded, in order of first appearance
/// (each also without its trailing dots, so `@bob.` can name `bob`).
pub fn handles(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let starts = c == '@' && !prev.is_some_and(|p| username_char(p) || p == '@');
        prev = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[i + 1..];
        let len = rest
            .find(|ch: char| !username_char(ch))
            .unwrap_or(rest.len());
        let raw = rest[..len].to_ascii_lowercase();
        for candidate in [raw.clone(), raw.trim_end_matches('.').to_string()] {
            let n = candidate.chars().count();
            if (3..=32).contains(&n) && !out.contains(&candidate) {
                out.push(candidate);
            }
        }
        if out.len() >= MAX_MENTIONS * 2 {
            break;
        }
    }
    out
}

/// The ids of the members (`(user_id, username)`) the text mentions, in
/// order of first mention, without the sender, at most [`MAX_MENTIONS`].
pub fn resolve(text: &str, sender: &str, members: &[(String, String)]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for handle in handles(text) {
        if let Some((id, _)) = members.iter().find(|(_, name)| *name == handle)
            && id != sender
            && !ids.contains(id)
        {
            ids.push(id.clone());
        }
        if ids.len() >= MAX_MENTIONS {
            break;
        }
    }
    ids
}

/// Whether the text may mention anyone (a cheap test before reading the
/// members).
pub fn may_mention(text: &str) -> bool {
    text.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<(String, String)> {
        [("1", "ann"), ("2", "bob"), ("3", "cy.d"), ("4", "bob.")]
            .iter()
            .map(|(i, n)| (i.to_string(), n.to_string()))
            .collect()
    }

    #[test]
    fn finds_members_by_handle_once_in_order() {
        assert_eq!(
            resolve("hi @Bob and @ann, @bob again", "9", &members()),
            vec!["2".to_string(), "1".to_string()]
        );
        assert_eq!(
            resolve("ask @cy.d.", "9", &members()),
            vec!["3".to_string()],
            "the sentence's dot"
        );
        assert_eq!(
            resolve("@bob. then", "9", &members()),
            vec!["4".to_string(), "2".to_string()]
        );
    }

    #[test]
    fn ignores_emails_non_members_the_sender_and_short_handles() {
        assert!(
            resolve("mail ann@bob.com", "9", &members()).is_empty(),
            "not after a name character"
        );
        assert!(resolve("@zed @ab @", "9", &members()).is_empty());
        assert!(
            resolve("@ann", "1", &members()).is_empty(),
            "not the sender"
        );
        assert!(resolve("@@bob", "9", &members()).is_empty());
        assert!(!may_mention("no handles here"));
    }

    #[test]
    fn caps_the_number_of_mentions() {
        let many: Vec<(String, String)> = (0..80)
            .map(|i| (format!("id{i}"), format!("user{i:03}")))
            .collect();
        let text: String = (0..80).map(|i| format!("@user{i:03} ")).collect();
        assert_eq!(resolve(&text, "x", &many).len(), MAX_MENTIONS);
    }
}
