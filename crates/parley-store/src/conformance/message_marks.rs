//! Conformance: starred and deleted-for-me messages.

use super::*;
use crate::*;
use parley_domain::DomainError;
use parley_domain::message_marks::Change;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    marks_are_private_and_follow_the_rules(factory).await;
    starred_list_pages_and_forgets_what_the_user_cannot_read(factory).await;
}

pub async fn marks_are_private_and_follow_the_rules(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["mk1", "mk2", "mk3", "mk4"]).await;
    let g = group(&f, &u[0], &[u[1].clone(), u[2].clone()]).await;
    let m1 = f
        .store
        .send_message(text(&g, &u[1], "k1", "keep this"), None)
        .await
        .expect("send")
        .0;
    let m2 = f
        .store
        .send_message(text(&g, &u[1], "k2", "hide this"), None)
        .await
        .expect("send")
        .0;
    let now = Timestamp::now();
    let s = f
        .store
        .change_message_mark(&u[0], &m1.id, Change::Star(true), now)
        .await
        .expect("star");
    assert!(s.starred && !s.hidden && s.conversation_id == g && s.seq == m1.seq);
    let h = f
        .store
        .change_message_mark(&u[0], &m2.id, Change::Hide(true), now)
        .await
        .expect("hide");
    assert!(h.hidden && !h.starred);
    let refused = f
        .store
        .change_message_mark(&u[0], &m2.id, Change::Star(true), now)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Domain(DomainError::Conflict(_)))),
        "a message deleted for me cannot be starred: {refused:?}"
    );
    let marks = f.store.message_marks(&u[0], &g).await.expect("marks");
    assert_eq!(
        marks
            .iter()
            .map(|m| (m.message_id.clone(), m.starred, m.hidden))
            .collect::<Vec<_>>(),
        vec![(m1.id.clone(), true, false), (m2.id.clone(), false, true)],
        "ascending seq"
    );
    assert!(
        f.store
            .message_marks(&u[1], &g)
            .await
            .expect("others")
            .is_empty(),
        "another member sees none of my marks"
    );
    for change in [Change::Star(true), Change::Hide(true)] {
        let outsider = f
            .store
            .change_message_mark(&u[3], &m1.id, change, now)
            .await;
        assert!(
            matches!(outsider, Err(StoreError::Domain(DomainError::NotFound(_)))),
            "{outsider:?}"
        );
    }
    assert!(matches!(
        f.store.message_marks(&u[3], &g).await,
        Err(StoreError::Domain(DomainError::NotFound(_)))
    ));
    // Undo: shown again, and the row is gone.
    let back = f
        .store
        .change_message_mark(&u[0], &m2.id, Change::Hide(false), now)
        .await
        .expect("undo");
    assert!(!back.hidden && !back.starred);
    assert_eq!(
        f.store.message_marks(&u[0], &g).await.expect("marks").len(),
        1
    );
    // A tombstone cannot be starred, but can be deleted for me.
    f.store
        .delete_message(&u[1], &m2.id, now)
        .await
        .expect("delete for everyone");
    assert!(matches!(
        f.store
            .change_message_mark(&u[0], &m2.id, Change::Star(true), now)
            .await,
        Err(StoreError::Domain(DomainError::Conflict(_)))
    ));
    f.store
        .change_message_mark(&u[0], &m2.id, Change::Hide(true), now)
        .await
        .expect("hide a tombstone");
}

pub async fn starred_list_pages_and_forgets_what_the_user_cannot_read(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["sl1", "sl2", "sl3"]).await;
    let g = group(&f, &u[0], &[u[1].clone(), u[2].clone()]).await;
    let other = group(&f, &u[1], &[u[0].clone(), u[2].clone()]).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let conv = if i % 2 == 0 { &g } else { &other };
        let m = f
            .store
            .send_message(
                text(conv, &u[1], &format!("s{i}"), &format!("star {i}")),
                None,
            )
            .await
            .expect("send")
            .0;
        f.store
            .change_message_mark(&u[0], &m.id, Change::Star(true), Timestamp(1_000 + i))
            .await
            .expect("star");
        ids.push(m.id);
    }
    let first = f.store.starred(&u[0], None, 2).await.expect("page");
    assert_eq!(
        first
            .iter()
            .map(|s| s.message.id.clone())
            .collect::<Vec<_>>(),
        vec![ids[4].clone(), ids[3].clone()],
        "newest star first"
    );
    assert_eq!(first[0].message.text.as_deref(), Some("star 4"));
    let last = &first[1];
    let rest = f
        .store
        .starred(
            &u[0],
            Some((last.starred_at.millis(), last.message.id.clone())),
            10,
        )
        .await
        .expect("next page");
    assert_eq!(
        rest.iter()
            .map(|s| s.message.id.clone())
            .collect::<Vec<_>>(),
        vec![ids[2].clone(), ids[1].clone(), ids[0].clone()]
    );
    // Deleted for everyone: gone from the list. Left the chat: its stars too.
    f.store
        .delete_message(&u[1], &ids[4], Timestamp::now())
        .await
        .expect("delete");
    f.store
        .remove_member(&u[0], &other, &u[0], Timestamp::now())
        .await
        .expect("leave");
    let now = f.store.starred(&u[0], None, 10).await.expect("after");
    assert_eq!(
        now.iter().map(|s| s.message.id.clone()).collect::<Vec<_>>(),
        vec![ids[2].clone(), ids[0].clone()]
    );
    assert!(
        f.store
            .starred(&u[1], None, 10)
            .await
            .expect("others")
            .is_empty()
    );
}
