//! Users (protocol.md §3): profiles and search, with presence as the
//! viewer may see it.

use super::check_id;
use super::presence::PresenceService;
use crate::error::{AppError, AppResult};
use crate::ratelimit::{Action, Limiter};
use parley_domain::input;
use parley_protocol::{UpdateMeRequest, User};
use parley_store::{UserPatch, UserStore};
use std::sync::Arc;

#[derive(Clone)]
pub struct UsersService {
    users: Arc<dyn UserStore>,
    presence: PresenceService,
    limiter: Limiter,
}

impl UsersService {
    pub fn new(users: Arc<dyn UserStore>, presence: PresenceService, limiter: Limiter) -> Self {
        UsersService {
            users,
            presence,
            limiter,
        }
    }

    /// The caller; `unauthenticated` if their account is gone.
    pub async fn me(&self, me: &str) -> AppResult<User> {
        let mut user = self
            .users
            .user_by_id(me)
            .await?
            .ok_or(AppError::Unauthenticated("account no longer exists"))?
            .to_wire();
        self.presence.present(&mut user, &[]).await;
        Ok(user)
    }

    /// A user's profile without presence (the gateway fills it in once the
    /// connection counts).
    pub async fn profile(&self, id: &str) -> AppResult<Option<User>> {
        Ok(self.users.user_by_id(id).await?.map(|u| u.to_wire()))
    }

    pub async fn update_me(&self, me: &str, req: UpdateMeRequest) -> AppResult<User> {
        let patch = UserPatch {
            display_name: req
                .display_name
                .as_deref()
                .map(|d| input::label("display_name", d, 64))
                .transpose()?,
            avatar_url: req
                .avatar_url
                .as_deref()
                .map(|u| input::url("avatar_url", u))
                .transpose()?,
            about: req
                .about
                .as_deref()
                .map(|a| input::free_text("about", a, 500))
                .transpose()?,
            role: None,
        };
        let mut user = self.users.update_user(me, patch).await?.to_wire();
        self.presence.present(&mut user, &[]).await;
        Ok(user)
    }

    pub async fn get(&self, viewer: &str, id: &str) -> AppResult<User> {
        check_id(id, "user")?;
        let mut user = self
            .users
            .user_by_id(id)
            .await?
            .ok_or(AppError::NotFound("user"))?
            .to_wire();
        self.presence
            .present_for(viewer, std::iter::once(&mut user))
            .await;
        Ok(user)
    }

    /// Prefix search; `limit + 1` rows are read so the caller knows whether
    /// there is more.
    pub async fn search(
        &self,
        viewer: &str,
        query: &str,
        after: Option<String>,
        limit: u32,
    ) -> AppResult<(Vec<User>, bool)> {
        self.limiter.spend(Action::Search, viewer).await?;
        if query.chars().count() > 64 || query.chars().any(char::is_control) {
            return Err(AppError::invalid(
                "query",
                "query must be at most 64 characters",
            ));
        }
        let rows = self
            .users
            .search_users(&query.to_lowercase(), after, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        let mut users: Vec<User> = rows
            .iter()
            .take(limit as usize)
            .map(|u| u.to_wire())
            .collect();
        self.presence.present_for(viewer, users.iter_mut()).await;
        Ok((users, more))
    }
}
