//! Conformance: Users and credentials.

use super::*;
use crate::*;
use parley_domain::DomainError;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    usernames_are_unique(factory).await;
    refresh_token_rotation_detects_reuse(factory).await;
}

pub async fn usernames_are_unique(factory: &Factory) {
    let f = fresh(factory).await;
    f.store.create_user(user("alice")).await.expect("first");
    let again = f.store.create_user(user("alice")).await;
    assert!(
        matches!(again, Err(StoreError::Domain(DomainError::Conflict(_)))),
        "duplicate username must conflict: {again:?}"
    );
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
