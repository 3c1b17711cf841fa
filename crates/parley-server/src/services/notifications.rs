//! Notification preferences (protocol.md §12, "Preferences and mute"),
//! with do not disturb (paused until a time, quiet hours); muting is the
//! conversations area's, deliveries the push and digest workers'.

use crate::error::AppResult;
use parley_protocol::Timestamp;
use parley_protocol::notifications::{NotificationPrefs, NotificationPrefsPatch};
use parley_store::NotificationStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct NotificationsService {
    store: Arc<dyn NotificationStore>,
}

impl NotificationsService {
    pub fn new(store: Arc<dyn NotificationStore>) -> Self {
        NotificationsService { store }
    }

    pub async fn prefs(&self, user: &str) -> AppResult<NotificationPrefs> {
        Ok(self.store.notification_prefs(user).await?)
    }

    pub async fn update_prefs(
        &self,
        user: &str,
        patch: NotificationPrefsPatch,
    ) -> AppResult<NotificationPrefs> {
        let patch = parley_domain::notifications::checked(patch, Timestamp::now().millis())?;
        Ok(self.store.update_notification_prefs(user, patch).await?)
    }
}
