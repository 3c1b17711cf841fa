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
    const GRACE: i64 = parley_domain::users::REFRESH_GRACE_MS;
    let f = fresh(factory).await;
    let u = users(&f.store, &["r1"]).await;
    let now = Timestamp::now();
    let tok = |h: &str, after_ms: i64| RefreshTokenRow {
        token_hash: h.to_string(),
        family_id: "fam".into(),
        user_id: u[0].clone(),
        created_at: Timestamp(now.millis() + after_ms),
        expires_at: Timestamp(now.millis() + 600_000),
    };
    let outcome = |user: &str| (user.to_string(), "fam".to_string());
    f.store
        .insert_refresh_token(tok("t1", 0))
        .await
        .expect("insert");
    assert!(!f.store.family_revoked("fam").await.expect("live"));
    assert!(
        f.store
            .family_revoked("no-such-family")
            .await
            .expect("unknown")
    );
    let rotated = f
        .store
        .rotate_refresh_token("t1", tok("t2", 0), GRACE)
        .await;
    assert!(
        matches!(&rotated, Ok(RotateOutcome::Rotated { user_id, family_id }) if (user_id.clone(), family_id.clone()) == outcome(&u[0])),
        "{rotated:?}"
    );
    // A second rotation moments later (another tab): the same successor
    // stands and nothing is written.
    let repeated = f
        .store
        .rotate_refresh_token("t1", tok("t3", 1_000), GRACE)
        .await;
    assert!(
        matches!(&repeated, Ok(RotateOutcome::Repeated { user_id, family_id }) if (user_id.clone(), family_id.clone()) == outcome(&u[0])),
        "{repeated:?}"
    );
    assert_eq!(
        f.store
            .rotate_refresh_token("t3", tok("t9", 1_000), GRACE)
            .await
            .expect("t3"),
        RotateOutcome::Invalid,
        "the repeat stored no token"
    );
    // After the grace window it is theft: the family is revoked.
    let late = GRACE + 1_000;
    let reused = f
        .store
        .rotate_refresh_token("t1", tok("t4", late), GRACE)
        .await;
    assert!(
        matches!(&reused, Ok(RotateOutcome::Reused { user_id, family_id }) if (user_id.clone(), family_id.clone()) == outcome(&u[0])),
        "{reused:?}"
    );
    assert_eq!(
        f.store
            .rotate_refresh_token("t2", tok("t5", late), GRACE)
            .await
            .expect("revoked"),
        RotateOutcome::Invalid,
        "the family is revoked"
    );
    assert!(f.store.family_revoked("fam").await.expect("revoked"));
    assert_eq!(
        f.store
            .rotate_refresh_token("nope", tok("t6", 0), GRACE)
            .await
            .expect("unknown"),
        RotateOutcome::Invalid
    );
    // Logout names the family it ended.
    let mut other = tok("o1", 0);
    other.family_id = "fam2".into();
    f.store.insert_refresh_token(other).await.expect("insert");
    assert_eq!(
        f.store.revoke_refresh_family("o1").await.expect("logout"),
        Some("fam2".to_string())
    );
    assert!(f.store.family_revoked("fam2").await.expect("ended"));
    assert_eq!(
        f.store
            .revoke_refresh_family("none")
            .await
            .expect("unknown"),
        None
    );
}
