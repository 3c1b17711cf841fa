//! Conformance: pinned and archived chats.

use super::*;
use crate::*;
use parley_domain::DomainError;
use parley_domain::chat_state::{Change, MAX_PINNED};
use parley_protocol::ChatState;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    pin_limit_order_and_privacy(factory).await;
    archive_comes_back_on_a_new_message_unless_muted(factory).await;
    state_belongs_to_one_membership(factory).await;
    concurrent_pins_respect_the_limit(factory).await;
}

async fn change(f: &Fixture, user: &str, conv: &str, c: Change) -> StoreResult<ChatState> {
    f.store
        .change_chat_state(user, conv, c, Timestamp::now())
        .await
}

async fn listed(f: &Fixture, user: &str) -> Vec<ChatState> {
    f.store
        .chat_states(user, Timestamp::now())
        .await
        .expect("chat states")
}

pub async fn pin_limit_order_and_privacy(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["cs1", "cs2", "cs3"]).await;
    let mut groups = Vec::new();
    for _ in 0..=MAX_PINNED {
        groups.push(group(&f, &u[0], &[u[1].clone()]).await);
    }
    for g in &groups[..MAX_PINNED] {
        let s = change(&f, &u[0], g, Change::Pin(true)).await.expect("pin");
        assert!(s.pinned_at.is_some() && !s.archived, "{s:?}");
        // Distinct pin times, so the order below is the pin order.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let first = listed(&f, &u[0]).await;
    assert_eq!(
        first
            .iter()
            .map(|s| s.conversation_id.clone())
            .collect::<Vec<_>>(),
        groups[..MAX_PINNED].to_vec(),
        "pinned chats are listed in pin order"
    );
    let over = change(&f, &u[0], &groups[MAX_PINNED], Change::Pin(true)).await;
    assert!(
        matches!(over, Err(StoreError::Domain(DomainError::Conflict(_)))),
        "a pin past the limit is refused: {over:?}"
    );
    let again = change(&f, &u[0], &groups[0], Change::Pin(true))
        .await
        .expect("repeat pin at the limit");
    assert_eq!(
        again.pinned_at, first[0].pinned_at,
        "a repeat keeps its time"
    );
    assert!(
        listed(&f, &u[1]).await.is_empty(),
        "another member sees none of it"
    );
    let outsider = change(&f, &u[2], &groups[0], Change::Pin(true)).await;
    assert!(
        matches!(outsider, Err(StoreError::Domain(DomainError::NotFound(_)))),
        "a non-member gets not_found: {outsider:?}"
    );
    let missing = change(&f, &u[0], "no-such-conversation", Change::Archive(true)).await;
    assert!(
        matches!(missing, Err(StoreError::Domain(DomainError::NotFound(_)))),
        "{missing:?}"
    );
    let off = change(&f, &u[0], &groups[1], Change::Pin(false))
        .await
        .expect("unpin");
    assert_eq!(off.pinned_at, None);
    change(&f, &u[0], &groups[MAX_PINNED], Change::Pin(true))
        .await
        .expect("room again after an unpin");
    assert_eq!(listed(&f, &u[0]).await.len(), MAX_PINNED);
}

pub async fn archive_comes_back_on_a_new_message_unless_muted(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["ca1", "ca2"]).await;
    let g = group(&f, &u[0], &[u[1].clone()]).await;
    let quiet = group(&f, &u[0], &[u[1].clone()]).await;
    f.store
        .send_message(text(&g, &u[1], "a1", "before"), None)
        .await
        .expect("send");
    change(&f, &u[0], &g, Change::Pin(true)).await.expect("pin");
    let s = change(&f, &u[0], &g, Change::Archive(true))
        .await
        .expect("archive");
    assert!(
        s.archived && s.pinned_at.is_none(),
        "archiving unpins: {s:?}"
    );
    let s = change(&f, &u[0], &quiet, Change::Archive(true))
        .await
        .expect("archive an empty chat");
    assert!(s.archived);
    f.store
        .set_mute(
            &u[0],
            &quiet,
            Some(Timestamp(Timestamp::now().millis() + 3_600_000)),
        )
        .await
        .expect("mute");
    let ids = |v: Vec<ChatState>| -> Vec<String> {
        v.into_iter()
            .filter(|s| s.archived)
            .map(|s| s.conversation_id)
            .collect()
    };
    let mut both = vec![g.clone(), quiet.clone()];
    both.sort();
    let mut now = ids(listed(&f, &u[0]).await);
    now.sort();
    assert_eq!(now, both, "both archived");
    f.store
        .send_message(text(&g, &u[1], "a2", "after"), None)
        .await
        .expect("send");
    f.store
        .send_message(text(&quiet, &u[1], "a3", "after"), None)
        .await
        .expect("send");
    assert_eq!(
        ids(listed(&f, &u[0]).await),
        vec![quiet.clone()],
        "a new message brings an unmuted chat back; a muted one stays"
    );
    f.store.set_mute(&u[0], &quiet, None).await.expect("unmute");
    assert!(
        ids(listed(&f, &u[0]).await).is_empty(),
        "when the mute ends, what arrived during it brings the chat back"
    );
    let s = change(&f, &u[0], &g, Change::Archive(true))
        .await
        .expect("archive again");
    assert!(s.archived);
    let s = change(&f, &u[0], &g, Change::Pin(true)).await.expect("pin");
    assert!(!s.archived && s.pinned_at.is_some(), "pinning un-archives");
}

pub async fn state_belongs_to_one_membership(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["cm1", "cm2"]).await;
    let g = group(&f, &u[0], &[u[1].clone()]).await;
    change(&f, &u[1], &g, Change::Pin(true)).await.expect("pin");
    assert_eq!(listed(&f, &u[1]).await.len(), 1);
    f.store
        .remove_member(&u[1], &g, &u[1], Timestamp::now())
        .await
        .expect("leave");
    assert!(
        listed(&f, &u[1]).await.is_empty(),
        "a left chat is not listed"
    );
    let gone = change(&f, &u[1], &g, Change::Pin(false)).await;
    assert!(
        matches!(gone, Err(StoreError::Domain(DomainError::NotFound(_)))),
        "{gone:?}"
    );
    f.store
        .add_members(&u[0], &g, &[u[1].clone()], 100, Timestamp::now())
        .await
        .expect("rejoin");
    assert!(
        listed(&f, &u[1]).await.is_empty(),
        "a rejoin starts with no pin"
    );
    let s = change(&f, &u[1], &g, Change::Archive(true))
        .await
        .expect("archive after the rejoin");
    assert!(s.archived && s.pinned_at.is_none(), "{s:?}");
}

pub async fn concurrent_pins_respect_the_limit(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["cc1", "cc2"]).await;
    let mut groups = Vec::new();
    for _ in 0..8 {
        groups.push(group(&f, &u[0], &[u[1].clone()]).await);
    }
    let tasks: Vec<_> = groups
        .iter()
        .map(|g| {
            let (store, user, g) = (f.store.clone(), u[0].clone(), g.clone());
            tokio::spawn(async move {
                store
                    .change_chat_state(&user, &g, Change::Pin(true), Timestamp::now())
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.expect("task"));
    }
    assert_eq!(
        ok, MAX_PINNED,
        "exactly the limit of concurrent pins succeed"
    );
    assert_eq!(listed(&f, &u[0]).await.len(), MAX_PINNED);
}
