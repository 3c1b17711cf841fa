//! Who reacted to a message (docs/protocol.md deviation 44): the message's
//! reactions grouped by emoji, in the order each emoji was first used, the
//! people in the order they reacted, at most [`USERS_PER_EMOJI`] named per
//! emoji (the count is always whole).

use parley_protocol::reactors::ReactionUsers;

/// How many people one emoji names at most (a sheet lists the first ones).
pub const USERS_PER_EMOJI: usize = 100;

/// One stored reaction: (emoji, user id, when in ms).
pub type ReactionRow = (String, String, i64);

/// `rows` grouped for `viewer`.
pub fn group(mut rows: Vec<ReactionRow>, viewer: &str) -> Vec<ReactionUsers> {
    rows.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.1.cmp(&b.1)));
    let mut out: Vec<ReactionUsers> = Vec::new();
    for (emoji, user, _) in rows {
        let i = match out.iter().position(|r| r.emoji == emoji) {
            Some(i) => i,
            None => {
                out.push(ReactionUsers {
                    emoji,
                    count: 0,
                    me: false,
                    user_ids: Vec::new(),
                });
                out.len() - 1
            }
        };
        let r = &mut out[i];
        r.count += 1;
        r.me |= user == viewer;
        if r.user_ids.len() < USERS_PER_EMOJI {
            r.user_ids.push(user);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(e: &str, u: &str, at: i64) -> ReactionRow {
        (e.to_string(), u.to_string(), at)
    }

    #[test]
    fn groups_by_first_use_and_orders_people_by_time() {
        let g = group(
            vec![
                row("👍", "b", 3),
                row("❤️", "a", 1),
                row("👍", "c", 2),
                row("❤️", "me", 4),
            ],
            "me",
        );
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].emoji.as_str(), g[0].count, g[0].me), ("❤️", 2, true));
        assert_eq!(g[0].user_ids, vec!["a", "me"]);
        assert_eq!((g[1].emoji.as_str(), g[1].count, g[1].me), ("👍", 2, false));
        assert_eq!(g[1].user_ids, vec!["c", "b"]);
    }

    #[test]
    fn names_at_most_the_cap_but_counts_everyone() {
        let rows = (0..150)
            .map(|i| row("👍", &format!("u{i:03}"), i))
            .collect();
        let g = group(rows, "x");
        assert_eq!(g[0].count, 150);
        assert_eq!(g[0].user_ids.len(), USERS_PER_EMOJI);
        assert!(group(Vec::new(), "x").is_empty());
    }
}
