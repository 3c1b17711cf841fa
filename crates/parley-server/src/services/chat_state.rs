//! Pinned and archived chats (docs/protocol.md, "Pinned and archived
//! chats"): per user; every change is told to all the user's connected
//! devices with a `chat.state` frame, and a device that was away reads the
//! whole list again (`GET /users/me/chats`) when it connects.

use super::check_id;
use crate::error::AppResult;
use crate::fanout::Fanout;
use crate::ratelimit::{Action, Limiter};
use parley_domain::chat_state::Change;
use parley_protocol::chat_state::ChatStateList;
use parley_protocol::{ChatState, ServerFrame, Timestamp};
use parley_store::ChatStateStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct ChatStateService {
    store: Arc<dyn ChatStateStore>,
    fanout: Arc<dyn Fanout>,
    limiter: Limiter,
}

impl ChatStateService {
    pub fn new(store: Arc<dyn ChatStateStore>, fanout: Arc<dyn Fanout>, limiter: Limiter) -> Self {
        ChatStateService {
            store,
            fanout,
            limiter,
        }
    }

    /// Pins, unpins, archives or unarchives `conv` for `user`.
    pub async fn change(&self, user: &str, conv: &str, change: Change) -> AppResult<ChatState> {
        // A cheap per-user write, counted with read watermarks.
        self.limiter.spend(Action::Read, user).await?;
        check_id(conv, "conversation")?;
        let state = self
            .store
            .change_chat_state(user, conv, change, Timestamp::now())
            .await?;
        super::tell_own_devices(
            self.fanout.as_ref(),
            user,
            &ServerFrame::ChatState {
                state: state.clone(),
            },
        );
        Ok(state)
    }

    pub async fn list(&self, user: &str) -> AppResult<ChatStateList> {
        Ok(ChatStateList {
            chats: self.store.chat_states(user, Timestamp::now()).await?,
        })
    }
}
