//! The storage conformance suite: behaviour every [`Store`] must show,
//! whatever the database. A backend's integration test calls [`run_all`]
//! with a factory for fresh, empty stores and a handle on the deliveries
//! they emit.
//!
//! Each check panics with a message naming the broken rule; they are
//! meant to run inside `#[tokio::test]`s.

use super::*;
use crate::delivery::Delivery;
use parley_protocol::{ConversationKind, MessageStatus};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// Deliveries a store has emitted, in order.
pub type Captured = Arc<Mutex<Vec<Delivery>>>;

/// Makes a fresh, empty store whose deliveries are appended to the given vec.
pub type Factory =
    Arc<dyn Fn(Captured) -> Pin<Box<dyn Future<Output = Arc<dyn Store>> + Send>> + Send + Sync>;

fn user(name: &str) -> NewUser {
    NewUser {
        id: crate::ids::new_id(),
        username: name.to_string(),
        display_name: name.to_string(),
        role: Role::User,
        password_hash: Some("x".into()),
        external_sub: None,
        avatar_url: None,
        is_bot: false,
        created_at: Timestamp::now(),
    }
}

fn text(conv: &str, sender: &str, client_id: &str, body: &str) -> NewMessage {
    NewMessage {
        id: crate::ids::new_id(),
        conversation_id: conv.to_string(),
        sender_id: sender.to_string(),
        client_id: Some(client_id.to_string()),
        kind: MessageKind::Text,
        text: Some(body.to_string()),
        reply_to: None,
        mentions: vec![],
        at: Timestamp::now(),
    }
}

struct Fixture {
    store: Arc<dyn Store>,
    captured: Captured,
}

async fn fresh(factory: &Factory) -> Fixture {
    let captured: Captured = Arc::new(Mutex::new(Vec::new()));
    let store = factory(captured.clone()).await;
    Fixture { store, captured }
}

async fn users(s: &Arc<dyn Store>, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for n in names {
        ids.push(s.create_user(user(n)).await.expect("create user").id);
    }
    ids
}

/// Runs every check, each on a fresh store.
pub async fn run_all(factory: Factory) {
    usernames_are_unique(&factory).await;
    direct_is_one_per_pair(&factory).await;
    seqs_are_gap_free_and_events_match(&factory).await;
    send_is_idempotent(&factory).await;
    concurrent_retries_store_one_message(&factory).await;
    concurrent_sends_get_distinct_consecutive_seqs(&factory).await;
    non_members_see_nothing(&factory).await;
    history_starts_at_joined_seq(&factory).await;
    read_watermark_moves_forward_and_clamps(&factory).await;
    unread_counts_exclude_own_and_deleted(&factory).await;
    edit_delete_react_rules(&factory).await;
    owner_leaving_hands_over(&factory).await;
    refresh_token_rotation_detects_reuse(&factory).await;
    deliveries_follow_commit_order(&factory).await;
    blocks_refuse_direct_contact(&factory).await;
    receipts_record_first_times(&factory).await;
}

pub async fn blocks_refuse_direct_contact(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["x1", "x2", "x3"]).await;
    let now = Timestamp::now();
    let (d, _) = f
        .store
        .get_or_create_direct(&crate::ids::new_id(), &u[0], &u[1], now)
        .await
        .expect("direct");
    assert!(
        f.store.block(&u[1], &u[0], now).await.expect("block"),
        "new block"
    );
    assert!(
        !f.store.block(&u[1], &u[0], now).await.expect("again"),
        "repeat is not new"
    );
    assert_eq!(
        f.store.block_status(&u[0], &u[1]).await.expect("status"),
        (false, true)
    );
    assert_eq!(
        f.store.block_partners(&u[0]).await.expect("partners"),
        vec![u[1].clone()]
    );
    let sent = f
        .store
        .send_message(text(&d, &u[0], "b1", "hi"), None)
        .await;
    assert!(matches!(sent, Err(StoreError::Blocked)), "{sent:?}");
    let direct = f
        .store
        .get_or_create_direct(&crate::ids::new_id(), &u[0], &u[1], now)
        .await;
    assert!(matches!(direct, Err(StoreError::Blocked)), "{direct:?}");
    let group = f
        .store
        .create_group(
            &crate::ids::new_id(),
            &u[0],
            "g",
            &[u[1].clone(), u[2].clone()],
            now,
        )
        .await;
    assert!(matches!(group, Err(StoreError::Blocked)), "{group:?}");
    f.store.unblock(&u[1], &u[0]).await.expect("unblock");
    f.store
        .send_message(text(&d, &u[0], "b2", "hi"), None)
        .await
        .expect("works again");
    assert!(matches!(
        f.store.block(&u[0], "no-such-user", now).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn receipts_record_first_times(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["y1", "y2", "y3"]).await;
    let g = group(&f, &u[0], &u[1..]).await;
    let (m, _) = f
        .store
        .send_message(text(&g, &u[0], "r", "x"), None)
        .await
        .expect("send");
    let t1 = Timestamp(Timestamp::now().millis() + 1_000);
    let t2 = Timestamp(t1.millis() + 1_000);
    f.store
        .mark_delivered(&u[1], &g, m.seq, t1)
        .await
        .expect("delivered");
    f.store.mark_read(&u[1], &g, m.seq, t2).await.expect("read");
    f.store
        .mark_read(&u[1], &g, m.seq, Timestamp(t2.millis() + 5_000))
        .await
        .expect("repeat read");
    let r = f.store.receipts(&u[0], &m.id).await.expect("receipts");
    assert_eq!(r.len(), 2);
    let r1 = r.iter().find(|x| x.user_id == u[1]).expect("y2");
    assert_eq!(
        (r1.delivered_at, r1.read_at),
        (Some(t1), Some(t2)),
        "the first move to the seq"
    );
    let r2 = r.iter().find(|x| x.user_id == u[2]).expect("y3");
    assert_eq!((r2.delivered_at, r2.read_at), (None, None));
    let mine = f.store.message(&u[0], &m.id).await.expect("message");
    assert_eq!(
        mine.status,
        Some(MessageStatus::Sent),
        "not everyone has it yet"
    );
}

pub async fn usernames_are_unique(factory: &Factory) {
    let f = fresh(factory).await;
    f.store.create_user(user("alice")).await.expect("first");
    let again = f.store.create_user(user("alice")).await;
    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "duplicate username must conflict: {again:?}"
    );
}

pub async fn direct_is_one_per_pair(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["ann", "ben"]).await;
    let now = Timestamp::now();
    let (a, created) = f
        .store
        .get_or_create_direct(&crate::ids::new_id(), &u[0], &u[1], now)
        .await
        .expect("create");
    assert!(created);
    let (b, created2) = f
        .store
        .get_or_create_direct(&crate::ids::new_id(), &u[1], &u[0], now)
        .await
        .expect("get");
    assert!(
        !created2,
        "second call from the other side must find the same conversation"
    );
    assert_eq!(a, b);
    let view = f.store.conversation(&u[0], &a).await.expect("view");
    assert_eq!(view.kind, ConversationKind::Direct);
    assert_eq!(
        view.peer.as_ref().map(|p| p.id.as_str()),
        Some(u[1].as_str())
    );
    assert_eq!(view.last_seq, 1, "conversation.created is seq 1");
    let unknown = f
        .store
        .get_or_create_direct(&crate::ids::new_id(), &u[0], "no-such-user", now)
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

async fn group(f: &Fixture, owner: &str, others: &[String]) -> String {
    let id = crate::ids::new_id();
    f.store
        .create_group(&id, owner, "team", others, Timestamp::now())
        .await
        .expect("group");
    id
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
        .get_or_create_direct(&crate::ids::new_id(), &u[0], &u[1], Timestamp::now())
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

pub async fn non_members_see_nothing(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["d1", "d2", "d3", "outsider"]).await;
    let g = group(&f, &u[0], &u[1..3]).await;
    let (m, _) = f
        .store
        .send_message(text(&g, &u[0], "x", "secret"), None)
        .await
        .expect("send");
    let out = &u[3];
    let nf = |r: &StoreError| matches!(r, StoreError::NotFound(_));
    assert!(
        f.store
            .conversation(out, &g)
            .await
            .err()
            .as_ref()
            .is_some_and(nf)
    );
    assert!(
        f.store
            .messages(out, &g, HistoryPage::Latest, 10)
            .await
            .err()
            .as_ref()
            .is_some_and(nf)
    );
    assert!(
        f.store
            .events(out, &g, 0, 10)
            .await
            .err()
            .as_ref()
            .is_some_and(nf)
    );
    assert!(
        f.store
            .message(out, &m.id)
            .await
            .err()
            .as_ref()
            .is_some_and(nf)
    );
    assert!(
        f.store
            .send_message(text(&g, out, "y", "hi"), None)
            .await
            .err()
            .as_ref()
            .is_some_and(nf)
    );
    assert!(
        f.store
            .mark_read(out, &g, 1, Timestamp::now())
            .await
            .err()
            .as_ref()
            .is_some_and(nf)
    );
    assert!(
        f.store
            .react(out, &m.id, "👍", true, Timestamp::now())
            .await
            .err()
            .as_ref()
            .is_some_and(nf)
    );
    assert!(
        f.store
            .delete_message(out, &m.id, Timestamp::now())
            .await
            .err()
            .as_ref()
            .is_some_and(nf)
    );
    assert!(
        f.store
            .members(out, &g, None, 10)
            .await
            .err()
            .as_ref()
            .is_some_and(nf)
    );
    assert!(
        f.store
            .add_members(out, &g, std::slice::from_ref(out), 10, Timestamp::now())
            .await
            .err()
            .as_ref()
            .is_some_and(nf)
    );
}

pub async fn history_starts_at_joined_seq(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["e1", "e2", "e3", "late"]).await;
    let g = group(&f, &u[0], &u[1..3]).await;
    let (early, _) = f
        .store
        .send_message(text(&g, &u[0], "a", "before you came"), None)
        .await
        .expect("send");
    f.store
        .add_members(&u[0], &g, &[u[3].clone()], 10, Timestamp::now())
        .await
        .expect("add");
    let view = f.store.conversation(&u[3], &g).await.expect("view");
    assert_eq!(view.joined_seq, 3, "joined at the seq of member.joined");
    assert_eq!(
        view.unread_count, 0,
        "old messages are not unread for a newcomer"
    );
    assert!(matches!(
        f.store.message(&u[3], &early.id).await,
        Err(StoreError::NotFound(_))
    ));
    f.store
        .send_message(text(&g, &u[1], "b", "welcome"), None)
        .await
        .expect("send");
    let page = f
        .store
        .messages(&u[3], &g, HistoryPage::Latest, 50)
        .await
        .expect("history");
    assert_eq!(
        page.messages
            .iter()
            .map(|m| m.text.as_deref().unwrap_or(""))
            .collect::<Vec<_>>(),
        vec!["welcome"]
    );
    let ev = f.store.events(&u[3], &g, 0, 50).await.expect("events");
    assert_eq!(ev.events.first().map(|e| e.seq), Some(3));
    // A former member sees nothing.
    f.store
        .remove_member(&u[3], &g, &u[3], Timestamp::now())
        .await
        .expect("leave");
    assert!(matches!(
        f.store.conversation(&u[3], &g).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn read_watermark_moves_forward_and_clamps(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["f1", "f2"]).await;
    let (d, _) = f
        .store
        .get_or_create_direct(&crate::ids::new_id(), &u[0], &u[1], Timestamp::now())
        .await
        .expect("direct");
    for i in 0..3 {
        f.store
            .send_message(text(&d, &u[0], &format!("m{i}"), "x"), None)
            .await
            .expect("send");
    }
    let r = f
        .store
        .mark_read(&u[1], &d, 3, Timestamp::now())
        .await
        .expect("read");
    assert_eq!((r.read_seq, r.unread_count), (3, 1));
    let r = f
        .store
        .mark_read(&u[1], &d, 2, Timestamp::now())
        .await
        .expect("read back");
    assert_eq!(r.read_seq, 3, "a lower seq is a no-op");
    let r = f
        .store
        .mark_read(&u[1], &d, 1_000_000, Timestamp::now())
        .await
        .expect("read far");
    assert_eq!((r.read_seq, r.unread_count), (4, 0), "clamped to last_seq");
    let v = f.store.conversation(&u[1], &d).await.expect("view");
    assert!(v.delivered_seq >= v.read_seq, "read implies delivered");
    let mine = f
        .store
        .messages(&u[0], &d, HistoryPage::Latest, 10)
        .await
        .expect("history");
    assert!(
        mine.messages
            .iter()
            .all(|m| m.status == Some(MessageStatus::Read))
    );
}

pub async fn unread_counts_exclude_own_and_deleted(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["g1", "g2"]).await;
    let (d, _) = f
        .store
        .get_or_create_direct(&crate::ids::new_id(), &u[0], &u[1], Timestamp::now())
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
        .get_or_create_direct(&crate::ids::new_id(), &u[0], &u[1], Timestamp::now())
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
        Err(StoreError::Forbidden(_))
    ));
    let late = Timestamp(now.millis() + 120_000);
    assert!(matches!(
        f.store.edit_message(&u[0], &m.id, "x", 60_000, late).await,
        Err(StoreError::Forbidden(_))
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
        matches!(over, Err(StoreError::Invalid { .. })),
        "21st distinct emoji: {over:?}"
    );
    f.store
        .react(&u[0], &m.id, "👍", true, now)
        .await
        .expect("an existing emoji is still fine");
    assert!(
        matches!(
            f.store.delete_message(&u[1], &m.id, now).await,
            Err(StoreError::Forbidden(_))
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

pub async fn owner_leaving_hands_over(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["o1", "o2", "o3", "o4"]).await;
    let g = group(&f, &u[0], &u[1..]).await;
    let now = Timestamp::now();
    assert!(matches!(
        f.store
            .change_role(&u[1], &g, &u[2], MemberRole::Admin, now)
            .await,
        Err(StoreError::Forbidden(_))
    ));
    f.store
        .change_role(&u[0], &g, &u[2], MemberRole::Admin, now)
        .await
        .expect("promote");
    assert!(
        matches!(
            f.store.remove_member(&u[2], &g, &u[0], now).await,
            Err(StoreError::Forbidden(_))
        ),
        "admin cannot remove the owner"
    );
    f.store
        .remove_member(&u[2], &g, &u[3], now)
        .await
        .expect("admin removes member");
    f.store
        .remove_member(&u[0], &g, &u[0], now)
        .await
        .expect("owner leaves");
    let v = f.store.conversation(&u[2], &g).await.expect("view");
    assert_eq!(
        v.my_role,
        MemberRole::Owner,
        "the oldest admin becomes owner"
    );
    assert_eq!(v.member_count, 2);
}

pub async fn refresh_token_rotation_detects_reuse(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["r1"]).await;
    let now = Timestamp::now();
    let tok = |h: &str| RefreshTokenRow {
        token_hash: h.to_string(),
        family_id: "fam".into(),
        user_id: u[0].clone(),
        created_at: now,
        expires_at: Timestamp(now.millis() + 60_000),
    };
    f.store
        .insert_refresh_token(tok("t1"))
        .await
        .expect("insert");
    assert_eq!(
        f.store
            .rotate_refresh_token("t1", tok("t2"))
            .await
            .expect("rotate"),
        RotateOutcome::Rotated {
            user_id: u[0].clone()
        }
    );
    assert_eq!(
        f.store
            .rotate_refresh_token("t1", tok("t3"))
            .await
            .expect("reuse"),
        RotateOutcome::Reused
    );
    assert_eq!(
        f.store
            .rotate_refresh_token("t2", tok("t4"))
            .await
            .expect("revoked"),
        RotateOutcome::Invalid,
        "the family is revoked"
    );
    assert_eq!(
        f.store
            .rotate_refresh_token("nope", tok("t5"))
            .await
            .expect("unknown"),
        RotateOutcome::Invalid
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
