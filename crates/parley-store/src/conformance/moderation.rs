//! Conformance: moderation (bans, admin deletes, the audit log).

use super::*;
use crate::*;
use parley_domain::DomainError;
use parley_domain::moderation::api_key_created;
use parley_protocol::event_type;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    a_ban_is_recorded_once_and_ends_credentials(factory).await;
    an_admin_delete_tombstones_once_in_any_conversation(factory).await;
    the_audit_log_pages_newest_first_and_is_append_only(factory).await;
}

pub async fn a_ban_is_recorded_once_and_ends_credentials(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["adm", "bad", "nice"]).await;
    let (admin, bad) = (&u[0], &u[1]);
    let now = Timestamp::now();
    f.store
        .insert_refresh_token(RefreshTokenRow {
            token_hash: "bad-rt".into(),
            family_id: "bad-fam".into(),
            user_id: bad.clone(),
            created_at: now,
            expires_at: Timestamp(now.millis() + 60_000),
        })
        .await
        .expect("token");
    assert!(
        f.store
            .ban_user(Some(admin), bad, Some("spam"), now)
            .await
            .expect("ban")
    );
    assert!(
        !f.store
            .ban_user(Some(admin), bad, None, now)
            .await
            .expect("again"),
        "a repeat changes nothing"
    );
    let row = f.store.user_by_id(bad).await.expect("read").expect("user");
    assert_eq!(row.banned_at, Some(now));
    assert_eq!(row.sessions_valid_after, Some(now.millis()));
    assert!(
        f.store.family_revoked("bad-fam").await.expect("family"),
        "the ban ends every refresh token"
    );
    let found = f.store.search_users("bad", None, 10).await.expect("search");
    assert!(found.is_empty(), "banned users are not found: {found:?}");
    assert!(
        matches!(
            f.store.ban_user(Some(admin), admin, None, now).await,
            Err(StoreError::Domain(DomainError::Forbidden(_)))
        ),
        "no self-ban"
    );
    assert!(
        matches!(
            f.store.ban_user(Some(admin), &new_id(), None, now).await,
            Err(StoreError::Domain(DomainError::NotFound("user")))
        ),
        "unknown user"
    );
    let later = Timestamp(now.millis() + 5);
    assert!(f.store.unban_user(None, bad, later).await.expect("unban"));
    assert!(!f.store.unban_user(None, bad, later).await.expect("again"));
    let row = f.store.user_by_id(bad).await.expect("read").expect("user");
    assert_eq!(row.banned_at, None);
    assert_eq!(
        row.sessions_valid_after,
        Some(now.millis()),
        "credentials from before the ban stay refused"
    );
    let log = f.store.audit_log(None, 10).await.expect("audit");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["user.unban", "user.ban"], "one entry per change");
    assert_eq!(log[1].actor_id.as_deref(), Some(admin.as_str()));
    assert_eq!(log[1].target_id, *bad);
    assert_eq!(log[1].details["reason"], "spam");
    assert_eq!(log[0].actor_id, None, "the command line has no actor");
    assert_eq!(
        f.store
            .banned_since(Timestamp(now.millis() - 1000))
            .await
            .expect("banned since"),
        Vec::<String>::new(),
        "no longer banned"
    );
}

pub async fn an_admin_delete_tombstones_once_in_any_conversation(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["adm", "a", "b", "c"]).await;
    let conv = group(&f, &u[1], &[u[2].clone(), u[3].clone()]).await;
    let (m, _) = f
        .store
        .send_message(text(&conv, &u[2], "c1", "rude"), None)
        .await
        .expect("send");
    f.captured.lock().expect("captured").clear();
    let at = Timestamp::now();
    let t = f
        .store
        .admin_delete_message(&u[0], &m.id, at)
        .await
        .expect("admin delete");
    assert!(t.deleted);
    assert_eq!(t.text, None);
    let again = f
        .store
        .admin_delete_message(&u[0], &m.id, at)
        .await
        .expect("again");
    assert!(again.deleted);
    let page = f
        .store
        .events(&u[1], &conv, m.seq, 10)
        .await
        .expect("events");
    let deletes: Vec<_> = page
        .events
        .iter()
        .filter(|e| e.kind() == event_type::MESSAGE_DELETED)
        .collect();
    assert_eq!(deletes.len(), 1, "one event, not one per call");
    assert_eq!(deletes[0].actor_id.as_deref(), Some(u[0].as_str()));
    let log = f.store.audit_log(None, 10).await.expect("audit");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "message.delete");
    assert_eq!(log[0].target_type, "message");
    assert_eq!(log[0].details["conversation_id"], conv.as_str());
    assert_eq!(log[0].details["sender_id"], u[2].as_str());
    assert!(
        matches!(
            f.store.admin_delete_message(&u[0], &new_id(), at).await,
            Err(StoreError::Domain(DomainError::NotFound("message")))
        ),
        "unknown message"
    );
}

pub async fn the_audit_log_pages_newest_first_and_is_append_only(factory: &Factory) {
    let f = fresh(factory).await;
    for i in 0..5 {
        f.store
            .append_audit(api_key_created(&format!("bot{i}"), "k"), Timestamp::now())
            .await
            .expect("append");
    }
    let first = f.store.audit_log(None, 3).await.expect("page");
    let targets: Vec<&str> = first.iter().map(|e| e.target_id.as_str()).collect();
    assert_eq!(targets, ["bot4", "bot3", "bot2"]);
    let rest = f
        .store
        .audit_log(Some(first[2].id.clone()), 3)
        .await
        .expect("page 2");
    let targets: Vec<&str> = rest.iter().map(|e| e.target_id.as_str()).collect();
    assert_eq!(targets, ["bot1", "bot0"]);
}
