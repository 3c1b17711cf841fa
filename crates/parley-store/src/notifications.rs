//! Notification preferences (protocol.md §12).

use crate::StoreResult;
use async_trait::async_trait;
use parley_protocol::notifications::{NotificationPrefs, NotificationPrefsPatch};

#[async_trait]
pub trait NotificationStore: Send + Sync + 'static {
    /// The user's preferences: the defaults until they change one.
    async fn notification_prefs(&self, user: &str) -> StoreResult<NotificationPrefs>;
    /// Applies `patch` (`parley_domain::notifications::apply`) to the
    /// stored preferences in one transaction, so two patches of different
    /// fields never undo each other; returns the result.
    async fn update_notification_prefs(
        &self,
        user: &str,
        patch: NotificationPrefsPatch,
    ) -> StoreResult<NotificationPrefs>;
}
