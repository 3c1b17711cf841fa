//! Conformance: Blocks.

use super::*;
use crate::*;
use parley_domain::DomainError;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    blocks_refuse_direct_contact(factory).await;
}

pub async fn blocks_refuse_direct_contact(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["x1", "x2", "x3"]).await;
    let now = Timestamp::now();
    let (d, _) = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], now)
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
    assert!(
        matches!(sent, Err(StoreError::Domain(DomainError::Blocked))),
        "{sent:?}"
    );
    let direct = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], now)
        .await;
    assert!(
        matches!(direct, Err(StoreError::Domain(DomainError::Blocked))),
        "{direct:?}"
    );
    let group = f
        .store
        .create_group(&new_id(), &u[0], "g", &[u[1].clone(), u[2].clone()], now)
        .await;
    assert!(
        matches!(group, Err(StoreError::Domain(DomainError::Blocked))),
        "{group:?}"
    );
    f.store.unblock(&u[1], &u[0]).await.expect("unblock");
    f.store
        .send_message(text(&d, &u[0], "b2", "hi"), None)
        .await
        .expect("works again");
    assert!(matches!(
        f.store.block(&u[0], "no-such-user", now).await,
        Err(StoreError::Domain(DomainError::NotFound(_)))
    ));
}
