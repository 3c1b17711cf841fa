//! Conformance: message search (protocol.md §13). Only what the searcher
//! may see (current member, from `joined_seq`, not deleted), edits
//! re-indexed and tombstones gone in the write's transaction, the
//! grammar's meaning, relevance, and pages that neither repeat nor skip
//! while new messages arrive.

use super::*;
use crate::*;
use parley_domain::DomainError;
use parley_domain::search::{Query, parse};
use std::collections::HashSet;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    only_visible_messages_are_found(factory).await;
    positions_it_did_not_make_are_refused(factory).await;
    edits_and_deletes_change_the_index_at_once(factory).await;
    the_grammar_means_the_same_on_every_backend(factory).await;
    cjk_substrings_are_found(factory).await;
    more_matching_terms_rank_higher_then_newer(factory).await;
    pages_neither_repeat_nor_skip_while_messages_arrive(factory).await;
    for seed in [1, 7, 42] {
        random_histories_find_exactly_what_history_shows(factory, seed).await;
    }
}

fn q(s: &str) -> Query {
    parse(Some(s)).expect("query")
}

async fn texts(f: &Fixture, viewer: &str, query: &str, conv: Option<&str>) -> Vec<String> {
    let page = f
        .store
        .search_messages(viewer, &q(query), conv, None, 100)
        .await
        .expect("search");
    page.hits
        .into_iter()
        .map(|h| h.message.text.unwrap_or_default())
        .collect()
}

async fn send(f: &Fixture, conv: &str, sender: &str, body: &str) -> String {
    let (m, _) = f
        .store
        .send_message(text(conv, sender, &new_id(), body), None)
        .await
        .expect("send");
    m.id
}

async fn send_at(f: &Fixture, conv: &str, sender: &str, body: &str, at: Timestamp) -> String {
    let mut m = text(conv, sender, &new_id(), body);
    m.at = at;
    f.store.send_message(m, None).await.expect("send").0.id
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub async fn only_visible_messages_are_found(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["sv_a", "sv_b", "sv_c", "sv_out"]).await;
    let g = group(&f, &u[0], std::slice::from_ref(&u[1])).await;
    send(&f, &g, &u[0], "zebra before carol").await;
    f.store
        .add_members(
            &u[0],
            &g,
            std::slice::from_ref(&u[2]),
            100,
            Timestamp::now(),
        )
        .await
        .expect("add");
    send(&f, &g, &u[1], "zebra after carol").await;
    let other = group(&f, &u[3], &[]).await;
    send(&f, &other, &u[3], "zebra elsewhere").await;
    assert_eq!(
        sorted(texts(&f, &u[0], "zebra", None).await),
        ["zebra after carol", "zebra before carol"]
    );
    assert_eq!(
        texts(&f, &u[2], "zebra", None).await,
        ["zebra after carol"],
        "history before joining stays hidden"
    );
    assert_eq!(texts(&f, &u[3], "zebra", None).await, ["zebra elsewhere"]);
    assert_eq!(
        texts(&f, &u[0], "zebra", Some(&g)).await.len(),
        2,
        "conversation_id scopes"
    );
    assert!(
        texts(&f, &u[3], "zebra", Some(&other)).await.len() == 1
            && texts(&f, &u[0], "from:sv_b", None).await == ["zebra after carol"]
    );
    let err = f
        .store
        .search_messages(&u[3], &q("zebra"), Some(&g), None, 10)
        .await
        .expect_err("not a member");
    assert!(
        matches!(err, StoreError::Domain(DomainError::NotFound(_))),
        "{err:?}"
    );
    f.store
        .remove_member(&u[2], &g, &u[2], Timestamp::now())
        .await
        .expect("leave");
    assert!(
        texts(&f, &u[2], "zebra", None).await.is_empty(),
        "a member who left finds nothing there"
    );
    let nobody = users(&f.store, &["sv_nobody"]).await.remove(0);
    assert!(texts(&f, &nobody, "zebra", None).await.is_empty());
    assert!(texts(&f, &nobody, "-nothing", None).await.is_empty());
    // The hit carries its conversation.
    let page = f
        .store
        .search_messages(&u[2], &q("zebra"), None, None, 10)
        .await
        .expect("search");
    assert!(page.hits.is_empty());
    let page = f
        .store
        .search_messages(&u[1], &q("zebra"), None, None, 10)
        .await
        .expect("search");
    assert!(
        page.hits
            .iter()
            .all(|h| h.conversation.id == g && h.conversation.title.as_deref() == Some("team"))
    );
}

pub async fn edits_and_deletes_change_the_index_at_once(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["se_a", "se_b"]).await;
    let (d, _) = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], Timestamp::now())
        .await
        .expect("direct");
    let id = send(&f, &d, &u[0], "the walrus sings").await;
    assert_eq!(
        texts(&f, &u[1], "walrus", None).await.len(),
        1,
        "found once acknowledged"
    );
    f.store
        .edit_message(&u[0], &id, "the narwhal sings", 3_600_000, Timestamp::now())
        .await
        .expect("edit");
    assert!(
        texts(&f, &u[1], "walrus", None).await.is_empty(),
        "an edited message matches its current text only"
    );
    assert_eq!(
        texts(&f, &u[1], "narwhal", None).await,
        ["the narwhal sings"]
    );
    let page = f
        .store
        .search_messages(&u[1], &q("narwhal"), None, None, 10)
        .await
        .expect("search");
    assert_eq!(
        page.hits[0].conversation.title.as_deref(),
        Some("se_a"),
        "a direct conversation is titled by the other person"
    );
    f.store
        .delete_message(&u[0], &id, Timestamp::now())
        .await
        .expect("delete");
    assert!(
        texts(&f, &u[1], "narwhal", None).await.is_empty(),
        "deleted"
    );
    assert!(
        texts(&f, &u[1], "from:se_a", None).await.is_empty(),
        "tombstones never"
    );
}

pub async fn the_grammar_means_the_same_on_every_backend(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["sg_a", "sg_b"]).await;
    let g = group(&f, &u[0], std::slice::from_ref(&u[1])).await;
    let day = |s: &str| Timestamp::parse(s).expect("time");
    send_at(
        &f,
        &g,
        &u[0],
        "lunch next friday",
        day("2026-01-10T12:00:00.000Z"),
    )
    .await;
    send_at(
        &f,
        &g,
        &u[1],
        "friday lunch? NEXT week",
        day("2026-01-20T12:00:00.000Z"),
    )
    .await;
    send_at(
        &f,
        &g,
        &u[0],
        "Pizza for lunch",
        day("2026-02-01T00:00:00.000Z"),
    )
    .await;
    send_at(&f, &g, &u[1], "tea time", day("2026-02-02T12:00:00.000Z")).await;
    let all = |query: &'static str| {
        let (f, v) = (&f, u[0].clone());
        async move { sorted(texts(f, &v, query, None).await) }
    };
    assert_eq!(
        all("LUNCH").await,
        [
            "Pizza for lunch",
            "friday lunch? NEXT week",
            "lunch next friday"
        ],
        "case-insensitive"
    );
    assert_eq!(
        all("\"next friday\"").await,
        ["lunch next friday"],
        "adjacent, in order"
    );
    assert_eq!(all("next friday").await.len(), 2, "words are ANDed");
    assert_eq!(all("lunch -pizza").await.len(), 2);
    assert_eq!(all("lunch -\"next friday\"").await.len(), 2);
    assert_eq!(all("pizza OR tea").await, ["Pizza for lunch", "tea time"]);
    assert_eq!(all("lunch from:SG_B").await, ["friday lunch? NEXT week"]);
    assert_eq!(
        all("from:sg_b").await,
        ["friday lunch? NEXT week", "tea time"]
    );
    assert_eq!(all("from:nobody_here lunch").await, Vec::<String>::new());
    assert_eq!(
        all("lunch before:2026-02-01").await,
        ["friday lunch? NEXT week", "lunch next friday"],
        "before the day's 00:00 UTC"
    );
    assert_eq!(
        all("after:2026-02-01").await,
        ["Pizza for lunch", "tea time"],
        "on or after it"
    );
    assert_eq!(all("-lunch").await, ["tea time"], "exclusions alone");
    assert_eq!(all("has:link").await, Vec::<String>::new());
    assert!(all("* ( ) ---").await.is_empty(), "nothing left: no hits");
    assert_eq!(
        all("\"friday lunch").await,
        ["friday lunch? NEXT week"],
        "unbalanced quote"
    );
    for odd in [
        "NOT",
        "a AND",
        "lunch*",
        "NEAR(lunch)",
        "doc:lunch",
        "'\"\\",
        "(((",
        "ü",
    ] {
        f.store
            .search_messages(&u[0], &q(odd), None, None, 10)
            .await
            .unwrap_or_else(|e| panic!("{odd:?} is an error: {e}"));
    }
    send(&f, &g, &u[0], "see https://example.com/lunch").await;
    assert_eq!(
        all("has:link lunch").await,
        ["see https://example.com/lunch"]
    );
}

pub async fn cjk_substrings_are_found(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["sj_a"]).await.remove(0);
    let g = group(&f, &u, &[]).await;
    send(&f, &g, &u, "我家在上海东边。").await;
    send(&f, &g, &u, "東京タワーに行きました").await;
    send(&f, &g, &u, "서울에서 만나요").await;
    for (needle, want) in [
        ("上海", "我家在上海东边。"),
        ("在上海东", "我家在上海东边。"),
        ("タワー", "東京タワーに行きました"),
        ("京タ", "東京タワーに行きました"),
        ("울에", "서울에서 만나요"),
    ] {
        assert_eq!(texts(&f, &u, needle, None).await, [want], "{needle}");
    }
    assert!(
        texts(&f, &u, "海上", None).await.is_empty(),
        "order matters"
    );
}

pub async fn more_matching_terms_rank_higher_then_newer(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["sr_a"]).await.remove(0);
    let g = group(&f, &u, &[]).await;
    send(&f, &g, &u, "apple and banana").await;
    send(&f, &g, &u, "apple only, older").await;
    send(&f, &g, &u, "apple only, newer").await;
    let got = texts(&f, &u, "apple OR banana", None).await;
    assert_eq!(got[0], "apple and banana", "{got:?}");
    assert_eq!(
        texts(&f, &u, "only", None).await,
        ["apple only, newer", "apple only, older"],
        "equal relevance: newer first"
    );
}

pub async fn pages_neither_repeat_nor_skip_while_messages_arrive(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["sp_a"]).await.remove(0);
    let g = group(&f, &u, &[]).await;
    let mut want = HashSet::new();
    for i in 0..25 {
        let body = if i % 3 == 0 {
            format!("ping {i} ping ping")
        } else {
            format!("ping number {i} of many words here")
        };
        want.insert(send(&f, &g, &u, &body).await);
    }
    let query = q("ping");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = f
            .store
            .search_messages(&u, &query, None, after.as_deref(), 10)
            .await
            .expect("page");
        assert!(page.hits.len() <= 10);
        seen.extend(page.hits.iter().map(|h| h.message.id.clone()));
        // New matches arrive between pages.
        send(&f, &g, &u, "ping arriving late").await;
        let Some(next) = page.next else {
            break;
        };
        assert_eq!(page.hits.len(), 10, "a page is full while more exist");
        after = Some(next);
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no hit twice");
    assert!(
        want.is_subset(&unique),
        "every earlier match is on some page"
    );
}

pub async fn positions_it_did_not_make_are_refused(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["sx_a"]).await.remove(0);
    for bad in [
        "",
        "x",
        "1.x",
        "NaN|1|a",
        "1|2",
        "-1.-1",
        "9999999999999999999999.1",
    ] {
        let err = f
            .store
            .search_messages(&u, &q("a"), None, Some(bad), 10)
            .await
            .expect_err(bad);
        assert!(
            matches!(err, StoreError::Domain(DomainError::Invalid { .. })),
            "{bad:?}: {err:?}"
        );
    }
}

/// A small deterministic generator (xorshift64*): the same histories on
/// every backend and every run, without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// Every message `viewer` may page through in `conv` (history is the
/// protocol's definition of what a caller may see).
async fn visible_history(f: &Fixture, viewer: &str, conv: &str) -> Vec<parley_protocol::Message> {
    let mut all = Vec::new();
    let mut page = HistoryPage::After(0);
    loop {
        let Ok(p) = f.store.messages(viewer, conv, page, 100).await else {
            return all;
        };
        let last = p.messages.last().map(|m| m.seq);
        all.extend(p.messages);
        match (p.has_more, last) {
            (true, Some(seq)) => page = HistoryPage::After(seq),
            _ => return all,
        }
    }
}

/// Random join, leave, rejoin, send, edit and delete histories over three
/// groups: for every user and every word, the hits are exactly the
/// messages with that word among those the user's history shows (every
/// hit visible, every visible match found).
pub async fn random_histories_find_exactly_what_history_shows(factory: &Factory, seed: u64) {
    const WORDS: [&str; 5] = ["apple", "birch", "cedar", "delta", "ember"];
    let f = fresh(factory).await;
    let names: Vec<String> = (0..5).map(|i| format!("pr{seed}_{i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let u = users(&f.store, &name_refs).await;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut groups = Vec::new();
    // Members of each group as the model tracks them (the owner stays).
    let mut members: Vec<Vec<usize>> = Vec::new();
    for g in 0..3 {
        let others: Vec<String> = vec![u[(g + 1) % 5].clone(), u[(g + 2) % 5].clone()];
        groups.push(group(&f, &u[g], &others).await);
        members.push(vec![g, (g + 1) % 5, (g + 2) % 5]);
    }
    let mut sent: Vec<(usize, String, usize)> = Vec::new();
    let (mut leaves, mut joins) = (0, 0);
    for _ in 0..120 {
        let g = rng.below(3);
        let conv = &groups[g];
        match rng.below(10) {
            0 | 1 => {
                let who = rng.below(5);
                if members[g].contains(&who) {
                    if who != g {
                        f.store
                            .remove_member(&u[who], conv, &u[who], Timestamp::now())
                            .await
                            .expect("leave");
                        members[g].retain(|m| *m != who);
                        leaves += 1;
                    }
                } else {
                    f.store
                        .add_members(
                            &u[g],
                            conv,
                            std::slice::from_ref(&u[who]),
                            100,
                            Timestamp::now(),
                        )
                        .await
                        .expect("join");
                    members[g].push(who);
                    joins += 1;
                }
            }
            2 if !sent.is_empty() => {
                let (sender, id, _) = sent[rng.below(sent.len())].clone();
                let word = WORDS[rng.below(WORDS.len())];
                // A sender who left may no longer edit: either answer is fine.
                let _ = f
                    .store
                    .edit_message(
                        &u[sender],
                        &id,
                        &format!("edited {word}"),
                        i64::MAX / 2,
                        Timestamp::now(),
                    )
                    .await;
            }
            3 if !sent.is_empty() => {
                let (sender, id, _) = sent[rng.below(sent.len())].clone();
                let _ = f
                    .store
                    .delete_message(&u[sender], &id, Timestamp::now())
                    .await;
            }
            _ => {
                let sender = members[g][rng.below(members[g].len())];
                let a = WORDS[rng.below(WORDS.len())];
                let b = WORDS[rng.below(WORDS.len())];
                let id = send(&f, conv, &u[sender], &format!("{a} and {b}")).await;
                sent.push((sender, id, g));
            }
        }
    }
    assert!(
        leaves > 0 && joins > 0,
        "seed {seed}: the history has leaves and joins"
    );
    let mut found = 0;
    for (i, viewer) in u.iter().enumerate() {
        let mut visible = Vec::new();
        for conv in &groups {
            visible.extend(visible_history(&f, viewer, conv).await);
        }
        for word in WORDS {
            let mut want: Vec<String> = visible
                .iter()
                .filter(|m| {
                    !m.deleted
                        && m.text
                            .as_deref()
                            .is_some_and(|t| t.split(' ').any(|w| w == word))
                })
                .map(|m| m.id.clone())
                .collect();
            want.sort();
            let page = f
                .store
                .search_messages(viewer, &q(word), None, None, 100)
                .await
                .expect("search");
            assert!(page.next.is_none() || page.hits.len() == 100);
            let mut got: Vec<String> = page.hits.iter().map(|h| h.message.id.clone()).collect();
            got.sort();
            found += got.len();
            assert_eq!(
                got, want,
                "seed {seed}: user {i} searching {word:?} finds exactly the visible matches"
            );
        }
    }
    assert!(
        found > 50,
        "seed {seed}: searches found something ({found})"
    );
}
