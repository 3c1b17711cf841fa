//! Conformance: Conversations, members, roles and what non-members see.

use super::*;
use crate::*;
use parley_domain::DomainError;
use parley_protocol::{ConversationKind, MemberRole};

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    direct_is_one_per_pair(factory).await;
    non_members_see_nothing(factory).await;
    history_starts_at_joined_seq(factory).await;
    owner_leaving_hands_over(factory).await;
}

pub async fn direct_is_one_per_pair(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["ann", "ben"]).await;
    let now = Timestamp::now();
    let (a, created) = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], now)
        .await
        .expect("create");
    assert!(created);
    let (b, created2) = f
        .store
        .get_or_create_direct(&new_id(), &u[1], &u[0], now)
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
        .get_or_create_direct(&new_id(), &u[0], "no-such-user", now)
        .await;
    assert!(
        matches!(unknown, Err(StoreError::Domain(DomainError::NotFound(_)))),
        "{unknown:?}"
    );
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
    let nf = |r: &StoreError| matches!(r, StoreError::Domain(DomainError::NotFound(_)));
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
        Err(StoreError::Domain(DomainError::NotFound(_)))
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
        Err(StoreError::Domain(DomainError::NotFound(_)))
    ));
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
        Err(StoreError::Domain(DomainError::Forbidden(_)))
    ));
    f.store
        .change_role(&u[0], &g, &u[2], MemberRole::Admin, now)
        .await
        .expect("promote");
    assert!(
        matches!(
            f.store.remove_member(&u[2], &g, &u[0], now).await,
            Err(StoreError::Domain(DomainError::Forbidden(_)))
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
