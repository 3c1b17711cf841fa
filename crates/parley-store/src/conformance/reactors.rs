//! Conformance: who reacted to a message.

use super::*;
use crate::*;
use parley_domain::DomainError;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    reactors_are_listed_for_readers_only(factory).await;
}

pub async fn reactors_are_listed_for_readers_only(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["rx1", "rx2", "rx3", "rx4"]).await;
    let g = group(&f, &u[0], &[u[1].clone(), u[2].clone()]).await;
    let m = f
        .store
        .send_message(text(&g, &u[0], "r1", "react to me"), None)
        .await
        .expect("send")
        .0;
    for (who, emoji) in [(1, "👍"), (2, "👍"), (2, "❤️")] {
        f.store
            .react(&u[who], &m.id, emoji, true, Timestamp::now())
            .await
            .expect("react");
    }
    f.store
        .react(&u[1], &m.id, "👍", false, Timestamp::now())
        .await
        .expect("unreact");
    let mut rows = f.store.reactors(&u[0], &m.id).await.expect("reactors");
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let got: Vec<(String, String)> = rows.into_iter().map(|(e, u, _)| (e, u)).collect();
    let mut want = vec![
        ("❤️".to_string(), u[2].clone()),
        ("👍".to_string(), u[2].clone()),
    ];
    want.sort();
    assert_eq!(got, want, "the reactions standing now");
    let outsider = f.store.reactors(&u[3], &m.id).await;
    assert!(
        matches!(outsider, Err(StoreError::Domain(DomainError::NotFound(_)))),
        "{outsider:?}"
    );
}
