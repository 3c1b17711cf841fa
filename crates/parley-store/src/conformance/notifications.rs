//! Conformance: notification preferences. Defaults until changed, a patch
//! changes only what it names, concurrent patches of different fields all
//! land, and one user's preferences are not another's.

use super::*;
use parley_protocol::notifications::{
    EmailPreference, NotificationPrefs, NotificationPrefsPatch, PushPreference, QuietHours,
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
        ..Default::default()
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
            ..want.clone()
        }
    );
    // Do-not-disturb round-trips and clears with an explicit null.
    let quiet = QuietHours {
        from: "22:00".into(),
        to: "07:30".into(),
        time_zone: "Europe/Berlin".into(),
    };
    let paused = f
        .store
        .update_notification_prefs(
            &u[0],
            NotificationPrefsPatch {
                dnd_until: Some(Some(Timestamp(4_102_444_800_000))),
                quiet_hours: Some(Some(quiet.clone())),
                ..Default::default()
            },
        )
        .await
        .expect("pause");
    assert_eq!(paused.dnd_until, Some(Timestamp(4_102_444_800_000)));
    assert_eq!(paused.quiet_hours.as_ref(), Some(&quiet));
    assert_eq!(paused.email, EmailPreference::Off, "untouched fields stay");
    assert_eq!(
        f.store.notification_prefs(&u[0]).await.expect("read"),
        paused
    );
    let cleared = f
        .store
        .update_notification_prefs(
            &u[0],
            NotificationPrefsPatch {
                dnd_until: Some(None),
                ..Default::default()
            },
        )
        .await
        .expect("clear");
    assert_eq!(cleared.dnd_until, None);
    assert_eq!(
        cleared.quiet_hours,
        Some(quiet),
        "only what is named changes"
    );
    let cleared = f
        .store
        .update_notification_prefs(
            &u[0],
            NotificationPrefsPatch {
                quiet_hours: Some(None),
                ..Default::default()
            },
        )
        .await
        .expect("clear");
    assert_eq!(cleared.quiet_hours, None);
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
            previews: false,
            ..Default::default()
        }
    );
}
