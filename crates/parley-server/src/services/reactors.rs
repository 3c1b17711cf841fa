//! Who reacted to a message (docs/protocol.md deviation 44).

use super::check_id;
use crate::error::AppResult;
use crate::ratelimit::{Action, Limiter};
use parley_domain::reactors;
use parley_protocol::reactors::ReactionUsersList;
use parley_store::ReactorStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct ReactorsService {
    store: Arc<dyn ReactorStore>,
    limiter: Limiter,
}

impl ReactorsService {
    pub fn new(store: Arc<dyn ReactorStore>, limiter: Limiter) -> Self {
        ReactorsService { store, limiter }
    }

    pub async fn who(&self, viewer: &str, message_id: &str) -> AppResult<ReactionUsersList> {
        self.limiter.spend(Action::History, viewer).await?;
        check_id(message_id, "message")?;
        let rows = self.store.reactors(viewer, message_id).await?;
        Ok(ReactionUsersList {
            message_id: message_id.to_string(),
            reactions: reactors::group(rows, viewer),
        })
    }
}
