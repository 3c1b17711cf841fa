//! Conformance: retention (protocol.md §13). Expired messages become
//! tombstones with no event and no new seq, their events lose the
//! content, they leave the search index, batches are bounded and resume
//! where they stopped, and a conversation's own setting wins over the
//! server's.

use super::*;
use crate::*;
use parley_domain::retention::{DAY_MS, Pass};
use parley_domain::search::parse;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    expired_messages_become_tombstones_without_events(factory).await;
    batches_are_bounded_and_resume(factory).await;
    a_conversation_setting_wins_over_the_default(factory).await;
}

fn days_ago(now: Timestamp, days: i64) -> Timestamp {
    Timestamp(now.millis() - days * DAY_MS)
}

async fn send_at(f: &Fixture, conv: &str, sender: &str, body: &str, at: Timestamp) -> String {
    let mut m = text(conv, sender, &new_id(), body);
    m.at = at;
    f.store.send_message(m, None).await.expect("send").0.id
}

async fn last_seq(f: &Fixture, viewer: &str, conv: &str) -> u64 {
    f.store
        .conversation(viewer, conv)
        .await
        .expect("conversation")
        .last_seq
}

pub async fn expired_messages_become_tombstones_without_events(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["rt_a", "rt_b"]).await;
    let g = group(&f, &u[0], std::slice::from_ref(&u[1])).await;
    let now = Timestamp::now();
    let old = days_ago(now, 40);
    let plain = send_at(&f, &g, &u[0], "walrus plans", old).await;
    let edited = send_at(&f, &g, &u[1], "first draft", old).await;
    f.store
        .edit_message(&u[1], &edited, "walrus edited", i64::MAX / 2, old)
        .await
        .expect("edit");
    f.store
        .react(&u[0], &edited, "👍", true, old)
        .await
        .expect("react");
    let gone = send_at(&f, &g, &u[0], "walrus deleted already", old).await;
    f.store
        .delete_message(&u[0], &gone, old)
        .await
        .expect("delete");
    let recent = send_at(&f, &g, &u[0], "walrus today", now).await;
    let seq_before = last_seq(&f, &u[0], &g).await;
    let pass = Pass {
        now,
        default_days: Some(30),
    };
    assert_eq!(
        f.store.count_expired(pass).await.expect("count"),
        2,
        "the dry run counts the two live expired messages"
    );
    assert_eq!(
        f.store
            .expirable_conversations(pass, 10)
            .await
            .expect("list"),
        vec![g.clone()]
    );
    f.captured.lock().expect("captured").clear();
    let done = f
        .store
        .expire_conversation(&g, pass, 500)
        .await
        .expect("expire");
    assert_eq!(done.tombstoned, 2, "two messages became tombstones");
    assert!(!done.more);
    assert!(
        f.captured.lock().expect("captured").is_empty(),
        "retention writes no event and delivers nothing"
    );
    assert_eq!(
        last_seq(&f, &u[0], &g).await,
        seq_before,
        "last_seq does not move"
    );
    for id in [&plain, &edited, &gone] {
        let m = f.store.message(&u[1], id).await.expect("still there");
        assert!(m.deleted, "an expired message is a tombstone");
        assert_eq!(m.text, None);
        assert!(m.attachments.is_empty() && m.reactions.is_empty());
    }
    let kept = f.store.message(&u[1], &recent).await.expect("recent");
    assert_eq!(kept.text.as_deref(), Some("walrus today"));
    let events = f
        .store
        .raw_events(&u[1], &g, 0, 1000)
        .await
        .expect("events");
    let seqs: Vec<u64> = events.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=seq_before).collect::<Vec<_>>(),
        "the log keeps every seq"
    );
    for (_, body) in &events {
        let body = String::from_utf8_lossy(body);
        assert!(
            !body.contains("walrus plans")
                && !body.contains("walrus edited")
                && !body.contains("first draft")
                && !body.contains("walrus deleted"),
            "an expired message's content is gone from its events: {body}"
        );
    }
    let page = f
        .store
        .events(&u[1], &g, 0, 1000)
        .await
        .expect("typed events");
    assert!(
        page.events.iter().any(|e| e.kind() == "message.edited"),
        "the edit event keeps its place"
    );
    let hits = f
        .store
        .search_messages(&u[0], &parse(Some("walrus")).expect("q"), None, None, 100)
        .await
        .expect("search");
    let found: Vec<_> = hits.hits.iter().map(|h| h.message.id.clone()).collect();
    assert_eq!(
        found,
        vec![recent.clone()],
        "expired messages leave the index"
    );
    assert!(
        f.store
            .expirable_conversations(pass, 10)
            .await
            .expect("list")
            .is_empty(),
        "nothing is left to expire"
    );
    let again = f
        .store
        .expire_conversation(&g, pass, 500)
        .await
        .expect("again");
    assert_eq!(again.tombstoned, 0, "a second pass changes nothing");
    assert_eq!(f.store.count_expired(pass).await.expect("count"), 0);
}

pub async fn batches_are_bounded_and_resume(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["rb_a"]).await;
    let g = group(&f, &u[0], &[]).await;
    let now = Timestamp::now();
    for i in 0..5 {
        send_at(&f, &g, &u[0], &format!("old {i}"), days_ago(now, 10)).await;
    }
    send_at(&f, &g, &u[0], "new", now).await;
    let pass = Pass {
        now,
        default_days: Some(3),
    };
    let mut batches = Vec::new();
    loop {
        let done = f
            .store
            .expire_conversation(&g, pass, 2)
            .await
            .expect("expire");
        batches.push(done.tombstoned);
        if !done.more {
            break;
        }
        assert!(batches.len() < 10, "batches end");
    }
    assert_eq!(batches, [2, 2, 1], "at most the limit per write, resuming");
    let page = f
        .store
        .messages(&u[0], &g, HistoryPage::Latest, 50)
        .await
        .expect("history");
    let live: Vec<_> = page
        .messages
        .iter()
        .filter(|m| !m.deleted)
        .filter_map(|m| m.text.clone())
        .collect();
    assert_eq!(live, ["new"]);
}

pub async fn a_conversation_setting_wins_over_the_default(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["ro_a"]).await;
    let short = group(&f, &u[0], &[]).await;
    let long = group(&f, &u[0], &[]).await;
    let plain = group(&f, &u[0], &[]).await;
    let now = Timestamp::now();
    for g in [&short, &long, &plain] {
        send_at(&f, g, &u[0], "ten days old", days_ago(now, 10)).await;
    }
    assert!(!f.store.any_conversation_retention().await.expect("any"));
    f.store
        .set_conversation_retention(&short, Some(7))
        .await
        .expect("set");
    f.store
        .set_conversation_retention(&long, Some(365))
        .await
        .expect("set");
    assert!(f.store.any_conversation_retention().await.expect("any"));
    assert_eq!(
        f.store.conversation_retention(&short).await.expect("get"),
        Some(7)
    );
    assert_eq!(
        f.store.conversation_retention(&plain).await.expect("get"),
        None
    );
    assert!(matches!(
        f.store.set_conversation_retention("nope", Some(1)).await,
        Err(StoreError::Domain(parley_domain::DomainError::NotFound(_)))
    ));
    let off = Pass {
        now,
        default_days: None,
    };
    assert_eq!(
        f.store
            .expirable_conversations(off, 10)
            .await
            .expect("list"),
        vec![short.clone()],
        "with the default off only a conversation's own setting expires"
    );
    let on = Pass {
        now,
        default_days: Some(5),
    };
    let mut listed = f.store.expirable_conversations(on, 10).await.expect("list");
    listed.sort();
    let mut want = vec![short.clone(), plain.clone()];
    want.sort();
    assert_eq!(listed, want, "365 days keeps the long one");
    for g in &listed {
        f.store
            .expire_conversation(g, on, 100)
            .await
            .expect("expire");
    }
    let kept = f
        .store
        .messages(&u[0], &long, HistoryPage::Latest, 10)
        .await
        .expect("history");
    assert!(kept.messages.iter().any(|m| !m.deleted));
    f.store
        .set_conversation_retention(&short, None)
        .await
        .expect("clear");
    assert_eq!(
        f.store.conversation_retention(&short).await.expect("get"),
        None
    );
}
