//! Starred messages and delete for me (docs/protocol.md, "Starred messages
//! and delete for me"): per user; every change is told to all the user's
//! connected devices with a `message.mark` frame, and a device reads a
//! chat's marks again when it loads the chat.

use super::check_id;
use crate::error::AppResult;
use crate::fanout::Fanout;
use crate::ratelimit::{Action, Limiter};
use parley_domain::message_marks::Change;
use parley_protocol::message_marks::{MessageMark, StarredMessage};
use parley_protocol::{ServerFrame, Timestamp};
use parley_store::MessageMarkStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct MessageMarksService {
    store: Arc<dyn MessageMarkStore>,
    fanout: Arc<dyn Fanout>,
    limiter: Limiter,
}

impl MessageMarksService {
    pub fn new(
        store: Arc<dyn MessageMarkStore>,
        fanout: Arc<dyn Fanout>,
        limiter: Limiter,
    ) -> Self {
        MessageMarksService {
            store,
            fanout,
            limiter,
        }
    }

    /// Stars, unstars, deletes for `user` only, or undoes that.
    pub async fn change(
        &self,
        user: &str,
        message_id: &str,
        change: Change,
    ) -> AppResult<MessageMark> {
        // A cheap per-user write, counted with read watermarks.
        self.limiter.spend(Action::Read, user).await?;
        check_id(message_id, "message")?;
        let mark = self
            .store
            .change_message_mark(user, message_id, change, Timestamp::now())
            .await?;
        super::tell_own_devices(
            self.fanout.as_ref(),
            user,
            &ServerFrame::MessageMark { mark: mark.clone() },
        );
        Ok(mark)
    }

    pub async fn marks(&self, user: &str, conv: &str) -> AppResult<Vec<MessageMark>> {
        check_id(conv, "conversation")?;
        Ok(self.store.message_marks(user, conv).await?)
    }

    pub async fn starred(
        &self,
        user: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> AppResult<Vec<StarredMessage>> {
        self.limiter.spend(Action::History, user).await?;
        Ok(self.store.starred(user, before, limit).await?)
    }
}
