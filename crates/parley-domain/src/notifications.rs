//! Notification preferences (protocol.md §12): how a patch applies.

use parley_protocol::notifications::{NotificationPrefs, NotificationPrefsPatch};

/// The preferences after `patch`: each field it names replaces the stored
/// one, the others stay.
pub fn apply(prefs: NotificationPrefs, patch: NotificationPrefsPatch) -> NotificationPrefs {
    NotificationPrefs {
        push: patch.push.unwrap_or(prefs.push),
        email: patch.email.unwrap_or(prefs.email),
        previews: patch.previews.unwrap_or(prefs.previews),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::notifications::{EmailPreference, PushPreference};

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let base = NotificationPrefs::default();
        let p = apply(
            base,
            NotificationPrefsPatch {
                push: Some(PushPreference::Mentions),
                ..Default::default()
            },
        );
        assert_eq!(p.push, PushPreference::Mentions);
        assert_eq!(p.email, EmailPreference::Digest);
        assert!(p.previews);
        let q = apply(
            p,
            NotificationPrefsPatch {
                previews: Some(false),
                email: Some(EmailPreference::Off),
                ..Default::default()
            },
        );
        assert_eq!(
            q,
            NotificationPrefs {
                push: PushPreference::Mentions,
                email: EmailPreference::Off,
                previews: false
            }
        );
        assert_eq!(apply(q, NotificationPrefsPatch::default()), q);
    }
}
