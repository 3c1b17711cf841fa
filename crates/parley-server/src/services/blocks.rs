//! Blocks (protocol.md §11): who blocks whom, and who is hidden from whom.

use super::check_id;
use crate::error::{AppError, AppResult};
use parley_protocol::{Block, BlockStatus, Presence, Timestamp};
use parley_store::{BlockStore, UserStore};
use std::sync::Arc;

#[derive(Clone)]
pub struct BlocksService {
    blocks: Arc<dyn BlockStore>,
    users: Arc<dyn UserStore>,
}

impl BlocksService {
    pub fn new(blocks: Arc<dyn BlockStore>, users: Arc<dyn UserStore>) -> Self {
        BlocksService { blocks, users }
    }

    /// Users hidden from `viewer` by a block in either direction.
    pub async fn hidden_from(&self, viewer: &str) -> AppResult<Vec<String>> {
        Ok(self.blocks.block_partners(viewer).await?)
    }

    /// Returns whether the block is new, and the status after it.
    pub async fn block(&self, who: &str, target: &str) -> AppResult<(bool, BlockStatus)> {
        check_id(target, "user")?;
        if target == who {
            return Err(AppError::invalid("user_id", "you cannot block yourself"));
        }
        let created = self.blocks.block(who, target, Timestamp::now()).await?;
        Ok((created, self.status_of(who, target).await?))
    }

    pub async fn unblock(&self, who: &str, target: &str) -> AppResult<()> {
        self.require_user(target).await?;
        Ok(self.blocks.unblock(who, target).await?)
    }

    pub async fn status(&self, who: &str, target: &str) -> AppResult<BlockStatus> {
        self.require_user(target).await?;
        self.status_of(who, target).await
    }

    /// The users `who` blocks, newest first; blocked users' presence is
    /// hidden from the blocker.
    pub async fn list(
        &self,
        who: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> AppResult<Vec<Block>> {
        let rows = self.blocks.blocks(who, before, limit).await?;
        Ok(rows
            .into_iter()
            .map(|(u, at)| {
                let mut user = u.to_wire();
                user.presence = Presence::offline();
                Block {
                    user_id: u.id,
                    user,
                    created_at: at,
                }
            })
            .collect())
    }

    async fn require_user(&self, id: &str) -> AppResult<()> {
        check_id(id, "user")?;
        self.users
            .user_by_id(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        Ok(())
    }

    async fn status_of(&self, a: &str, b: &str) -> AppResult<BlockStatus> {
        let (blocked_by_me, blocked_me) = self.blocks.block_status(a, b).await?;
        Ok(BlockStatus {
            blocked_by_me,
            blocked_me,
        })
    }
}
