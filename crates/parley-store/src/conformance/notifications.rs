//! Conformance: notification preferences. Defaults until changed, a patch
//! changes only what it names, concurrent patches of different fields all
//! land, and one user's preferences are not another's.

use super::*;
use parley_protocol::notifications::{
    EmailPreference, NotificationPrefs, NotificationPrefsPatch, PushPreference,
};

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    preferences_default_then_patch(factory).await;
    concurrent_patches_of_different_fields_all_land(factory).await;
}

pub async fn preferences_default_then_patch(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["np1", "np2"]).await;
    assert_eq!(
        f.store.notification_prefs(&u[0]).await.expect("prefs"),
        NotificationPrefs::default()
    );
    let p = f
        .store
        .update_notification_prefs(
            &u[0],
            NotificationPrefsPatch {
                push: Some(PushPreference::Mentions),
                previews: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("patch");
    let want = NotificationPrefs {
        push: PushPreference::Mentions,
        email: EmailPreference::Digest,
        previews: false,
    };
    assert_eq!(p, want);
    assert_eq!(f.store.notification_prefs(&u[0]).await.expect("read"), want);
    assert_eq!(
        f.store.notification_prefs(&u[1]).await.expect("other"),
        NotificationPrefs::default(),
        "one user's preferences are theirs"
    );
    let q = f
        .store
        .update_notification_prefs(
            &u[0],
            NotificationPrefsPatch {
                email: Some(EmailPreference::Off),
                ..Default::default()
            },
        )
        .await
        .expect("patch");
    assert_eq!(
        q,
        NotificationPrefs {
            email: EmailPreference::Off,
            ..want
        }
    );
}

pub async fn concurrent_patches_of_different_fields_all_land(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["nq1"]).await.remove(0);
    let patches = [
        NotificationPrefsPatch {
            push: Some(PushPreference::Off),
            ..Default::default()
        },
        NotificationPrefsPatch {
            email: Some(EmailPreference::Off),
            ..Default::default()
        },
        NotificationPrefsPatch {
            previews: Some(false),
            ..Default::default()
        },
    ];
    let tasks: Vec<_> = patches
        .into_iter()
        .map(|p| {
            let (s, u) = (f.store.clone(), u.clone());
            tokio::spawn(async move { s.update_notification_prefs(&u, p).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("patch");
    }
    assert_eq!(
        f.store.notification_prefs(&u).await.expect("read"),
        NotificationPrefs {
            push: PushPreference::Off,
            email: EmailPreference::Off,
            previews: false
        }
    );
}
