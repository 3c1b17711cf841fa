//! Conformance: Sends, seqs, idempotency, history, edits, deletes, reactions and delivery order.

use super::*;
use crate::*;
use parley_domain::DomainError;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    seqs_are_gap_free_and_events_match(factory).await;
    send_is_idempotent(factory).await;
    concurrent_retries_store_one_message(factory).await;
    concurrent_sends_get_distinct_consecutive_seqs(factory).await;
    unread_counts_exclude_own_and_deleted(factory).await;
    edit_delete_react_rules(factory).await;
    deliveries_follow_commit_order(factory).await;
}

pub async fn seqs_are_gap_free_and_events_match(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["a1", "a2", "a3"]).await;
    let g = group(&f, &u[0], &u[1..]).await;
    for i in 0..5 {
        let (m, created) = f
            .store
            .send_message(text(&g, &u[i % 3], &format!("c{i}"), "hi"), None)
            .await
            .expect("send");
        assert!(created);
        assert_eq!(m.seq, i as u64 + 2, "messages follow conversation.created");
    }
    let page = f.store.events(&u[1], &g, 0, 100).await.expect("events");
    let seqs: Vec<u64> = page.events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=6).collect::<Vec<_>>(),
        "the log has every seq once, in order"
    );
    assert_eq!(page.events[0].kind(), "conversation.created");
    assert!(
        page.events[1..]
            .iter()
            .all(|e| e.kind() == "message.created" && e.message().is_some())
    );
    let raw = f.store.raw_events(&u[2], &g, 3, 100).await.expect("raw");
    assert_eq!(raw.iter().map(|r| r.0).collect::<Vec<_>>(), vec![4, 5, 6]);
}

pub async fn send_is_idempotent(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["b1", "b2"]).await;
    let (d, _) = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], Timestamp::now())
        .await
        .expect("direct");
    let (first, c1) = f
        .store
        .send_message(text(&d, &u[0], "same", "one"), None)
        .await
        .expect("send");
    let (again, c2) = f
        .store
        .send_message(text(&d, &u[0], "same", "two"), None)
        .await
        .expect("resend");
    assert!(c1 && !c2, "the repeat creates nothing");
    assert_eq!(first.id, again.id);
    assert_eq!(
        again.text.as_deref(),
        Some("one"),
        "the original is returned"
    );
    // The same client_id from the other sender is a different message.
    let (other, c3) = f
        .store
        .send_message(text(&d, &u[1], "same", "three"), None)
        .await
        .expect("other");
    assert!(c3);
    assert_ne!(other.id, first.id);
    assert_eq!(
        f.store
            .conversation(&u[0], &d)
            .await
            .expect("view")
            .last_seq,
        3
    );
}

/// Retries racing each other (a client resending over a flaky link, on
/// several connections or processes at once) store the send once.
pub async fn concurrent_retries_store_one_message(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["r1", "r2"]).await;
    let g = group(&f, &u[0], &u[1..]).await;
    let before = f
        .store
        .conversation(&u[0], &g)
        .await
        .expect("view")
        .last_seq;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (s, sender, g) = (f.store.clone(), u[0].clone(), g.clone());
        tasks.push(tokio::spawn(async move {
            s.send_message(text(&g, &sender, "racing", "once"), None)
                .await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for t in tasks {
        let (m, fresh) = t.await.expect("join").expect("send");
        ids.insert(m.id);
        created += usize::from(fresh);
    }
    assert_eq!(created, 1, "exactly one of the racing sends creates");
    assert_eq!(ids.len(), 1, "every racer gets the same message");
    let after = f
        .store
        .conversation(&u[0], &g)
        .await
        .expect("view")
        .last_seq;
    assert_eq!(after, before + 1, "one seq taken");
}

pub async fn concurrent_sends_get_distinct_consecutive_seqs(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["c1", "c2", "c3"]).await;
    let g = group(&f, &u[0], &u[1..]).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = f.store.clone();
        let sender = u[i % 3].clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            let cid = format!("k{}", i % 25);
            s.send_message(text(&g, &sender, &format!("{sender}-{cid}"), "x"), None)
                .await
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        let (m, created) = t.await.expect("join").expect("send");
        if created {
            seqs.push(m.seq);
        }
    }
    seqs.sort_unstable();
    let n = seqs.len() as u64;
    assert_eq!(
        seqs,
        (2..2 + n).collect::<Vec<_>>(),
        "created sends take consecutive seqs"
    );
    let page = f.store.events(&u[0], &g, 0, 200).await.expect("events");
    assert_eq!(page.events.len() as u64, n + 1);
}

pub async fn unread_counts_exclude_own_and_deleted(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["g1", "g2"]).await;
    let (d, _) = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], Timestamp::now())
        .await
        .expect("direct");
    let (m1, _) = f
        .store
        .send_message(text(&d, &u[0], "1", "x"), None)
        .await
        .expect("send");
    f.store
        .send_message(text(&d, &u[0], "2", "x"), None)
        .await
        .expect("send");
    f.store
        .send_message(text(&d, &u[1], "3", "mine"), None)
        .await
        .expect("send");
    f.store
        .delete_message(&u[0], &m1.id, Timestamp::now())
        .await
        .expect("delete");
    let v = f.store.conversation(&u[1], &d).await.expect("view");
    assert_eq!(
        v.unread_count, 0,
        "the reader's own send marks everything before it read"
    );
    f.store
        .send_message(text(&d, &u[0], "4", "x"), None)
        .await
        .expect("send");
    f.store
        .send_message(text(&d, &u[0], "5", "x"), None)
        .await
        .expect("send");
    let s = f.store.unread_summary(&u[1]).await.expect("summary");
    assert_eq!((s.total_unread, s.conversations_with_unread), (2, 1));
    assert_eq!(
        f.store
            .unread_summary(&u[0])
            .await
            .expect("summary")
            .total_unread,
        0,
        "sending reads what came before"
    );
}

pub async fn edit_delete_react_rules(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["h1", "h2"]).await;
    let (d, _) = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], Timestamp::now())
        .await
        .expect("direct");
    let (m, _) = f
        .store
        .send_message(text(&d, &u[0], "1", "helo"), None)
        .await
        .expect("send");
    let now = Timestamp::now();
    assert!(matches!(
        f.store.edit_message(&u[1], &m.id, "x", 60_000, now).await,
        Err(StoreError::Domain(DomainError::Forbidden(_)))
    ));
    let late = Timestamp(now.millis() + 120_000);
    assert!(matches!(
        f.store.edit_message(&u[0], &m.id, "x", 60_000, late).await,
        Err(StoreError::Domain(DomainError::Forbidden(_)))
    ));
    let e = f
        .store
        .edit_message(&u[0], &m.id, "hello", 60_000, now)
        .await
        .expect("edit");
    assert_eq!(e.text.as_deref(), Some("hello"));
    assert!(e.edited_at.is_some());
    let r = f
        .store
        .react(&u[1], &m.id, "👍", true, now)
        .await
        .expect("react");
    assert_eq!(r.len(), 1);
    let last = f
        .store
        .conversation(&u[0], &d)
        .await
        .expect("view")
        .last_seq;
    f.store
        .react(&u[1], &m.id, "👍", true, now)
        .await
        .expect("again");
    assert_eq!(
        f.store
            .conversation(&u[0], &d)
            .await
            .expect("view")
            .last_seq,
        last,
        "repeat records no event"
    );
    for (i, em) in [
        "😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰",
        "😗", "😙", "🥲", "😚",
    ]
    .iter()
    .enumerate()
    {
        f.store
            .react(&u[0], &m.id, em, true, now)
            .await
            .unwrap_or_else(|e| panic!("emoji {i}: {e}"));
    }
    let over = f.store.react(&u[0], &m.id, "🙂", true, now).await;
    assert!(
        matches!(over, Err(StoreError::Domain(DomainError::Invalid { .. }))),
        "21st distinct emoji: {over:?}"
    );
    f.store
        .react(&u[0], &m.id, "👍", true, now)
        .await
        .expect("an existing emoji is still fine");
    assert!(
        matches!(
            f.store.delete_message(&u[1], &m.id, now).await,
            Err(StoreError::Domain(DomainError::Forbidden(_)))
        ),
        "not the sender"
    );
    let t = f
        .store
        .delete_message(&u[0], &m.id, now)
        .await
        .expect("delete");
    assert!(t.deleted && t.text.is_none() && t.attachments.is_empty() && t.reactions.is_empty());
    assert_eq!(t.seq, m.seq, "a tombstone keeps its seq");
    let last = f
        .store
        .conversation(&u[0], &d)
        .await
        .expect("view")
        .last_seq;
    f.store
        .delete_message(&u[0], &m.id, now)
        .await
        .expect("delete again");
    assert_eq!(
        f.store
            .conversation(&u[0], &d)
            .await
            .expect("view")
            .last_seq,
        last,
        "repeat delete records nothing"
    );
}

pub async fn deliveries_follow_commit_order(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["p1", "p2", "p3"]).await;
    let g = group(&f, &u[0], &u[1..]).await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let s = f.store.clone();
        let sender = u[i % 3].clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            s.send_message(text(&g, &sender, &format!("q{i}"), "x"), None)
                .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("send");
    }
    let seqs: Vec<u64> = f
        .captured
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|d| match d {
            Delivery::Event {
                conversation_id,
                seq,
                recipients,
                ..
            } if &**conversation_id == g.as_str() => {
                assert_eq!(recipients.len(), 3, "every member is a recipient");
                Some(*seq)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        seqs,
        (1..=31).collect::<Vec<_>>(),
        "deliveries leave in seq order, each once"
    );
}
