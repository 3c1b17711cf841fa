//! Users and credentials (protocol.md §2, §3).

use crate::error::DomainError;

/// A taken username (registration, or an external user's name).
pub const USERNAME_TAKEN: DomainError = DomainError::Conflict("username taken");

/// What user search matches against: username and display name, folded to
/// lower case (Unicode-aware, which SQL's `lower`/`LIKE` may not be), so a
/// query matches the start of any word of either.
pub fn search_name(username: &str, display_name: &str) -> String {
    format!("{} {}", username, display_name).to_lowercase()
}

/// Whether a folded `query` matches a `search_name`: at the start of any
/// of its words (what storage's search does in SQL).
pub fn search_matches(search_name: &str, query: &str) -> bool {
    search_name.starts_with(query) || search_name.contains(&format!(" {query}"))
}

/// How many usernames an external user is tried under before giving up.
pub const EXTERNAL_USERNAME_ATTEMPTS: usize = 4;

/// The username to try for a new external user on attempt `attempt`: the
/// platform's name first; it may collide with a local username, so then
/// the name with a longer and longer piece of the new user's id.
pub fn external_username(username: &str, new_id: &str, attempt: usize) -> String {
    if attempt == 0 {
        return username.to_string();
    }
    let suffix: String = new_id.chars().rev().take(4 + (attempt - 1) * 2).collect();
    let base: String = username.chars().take(32 - suffix.len() - 1).collect();
    format!("{base}_{suffix}")
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct StoredRefresh {
    pub family_id: String,
    pub user_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked: bool,
}

/// What presenting a refresh token leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// Unknown, expired or revoked.
    Invalid,
    /// A used token came back after the grace window: theft. Revoke its
    /// whole family.
    Reused { family_id: String, user_id: String },
    /// Mark it used and issue the next one in its family.
    Rotate { family_id: String, user_id: String },
    /// Used moments ago (two tabs refreshing at once): hand out the same
    /// successor again, write nothing.
    Repeat { family_id: String, user_id: String },
}

/// How long after its rotation a refresh token still yields its successor
/// instead of counting as stolen, by default (`refresh_reuse_window`).
pub const REFRESH_GRACE_MS: i64 = 10_000;

/// `grace_ms`: the reuse window after a rotation (0: none).
pub fn rotate(stored: Option<StoredRefresh>, now_ms: i64, grace_ms: i64) -> Rotation {
    let Some(t) = stored else {
        return Rotation::Invalid;
    };
    if t.revoked {
        return Rotation::Invalid;
    }
    if let Some(used_at) = t.used_at {
        return if now_ms.saturating_sub(used_at) < grace_ms {
            Rotation::Repeat {
                family_id: t.family_id,
                user_id: t.user_id,
            }
        } else {
            Rotation::Reused {
                family_id: t.family_id,
                user_id: t.user_id,
            }
        };
    }
    if t.expires_at <= now_ms {
        return Rotation::Invalid;
    }
    Rotation::Rotate {
        family_id: t.family_id,
        user_id: t.user_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_usernames_grow_a_suffix_and_stay_within_32() {
        let long = "a".repeat(32);
        assert_eq!(external_username("alice", "0123456789", 0), "alice");
        assert_eq!(external_username("alice", "0123456789", 1), "alice_9876");
        assert_eq!(
            external_username("alice", "0123456789", 3),
            "alice_98765432"
        );
        for attempt in 0..EXTERNAL_USERNAME_ATTEMPTS {
            assert!(
                external_username(&long, "0123456789", attempt)
                    .chars()
                    .count()
                    <= 32
            );
        }
    }

    #[test]
    fn rotation_detects_reuse_expiry_and_revocation() {
        let t = |used_at, revoked, expires_at| StoredRefresh {
            family_id: "f".into(),
            user_id: "u".into(),
            expires_at,
            used_at,
            revoked,
        };
        assert_eq!(rotate(None, 0, REFRESH_GRACE_MS), Rotation::Invalid);
        let late = 1 + REFRESH_GRACE_MS + 1;
        assert_eq!(
            rotate(Some(t(Some(1), false, late + 100)), late, REFRESH_GRACE_MS),
            Rotation::Reused {
                family_id: "f".into(),
                user_id: "u".into()
            }
        );
        assert_eq!(
            rotate(Some(t(Some(1), false, 100)), 10, REFRESH_GRACE_MS),
            Rotation::Repeat {
                family_id: "f".into(),
                user_id: "u".into()
            },
            "within the grace window: the same successor"
        );
        assert!(
            matches!(
                rotate(Some(t(Some(1), false, 100)), 10, 0),
                Rotation::Reused { .. }
            ),
            "no window: reuse at once is theft"
        );
        assert_eq!(
            rotate(Some(t(Some(1), true, 100)), 10, REFRESH_GRACE_MS),
            Rotation::Invalid
        );
        assert_eq!(
            rotate(Some(t(None, true, 100)), 10, REFRESH_GRACE_MS),
            Rotation::Invalid
        );
        assert_eq!(
            rotate(Some(t(None, false, 10)), 10, REFRESH_GRACE_MS),
            Rotation::Invalid
        );
        assert!(matches!(
            rotate(Some(t(None, false, 100)), 10, REFRESH_GRACE_MS),
            Rotation::Rotate { .. }
        ));
    }

    #[test]
    fn search_matches_word_starts() {
        let n = search_name("zoe", "Zoë Åsa");
        assert!(search_matches(&n, "zo"));
        assert!(search_matches(&n, "ås"));
        assert!(!search_matches(&n, "sa"));
    }

    #[test]
    fn search_names_fold_unicode() {
        assert_eq!(search_name("zoe", "Zoë ÅSA"), "zoe zoë åsa");
    }
}
