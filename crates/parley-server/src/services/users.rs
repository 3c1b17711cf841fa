//! Users (protocol.md §3): profiles and search, with presence as the
//! viewer may see it.

use super::check_id;
use super::media::MediaService;
use super::presence::PresenceService;
use crate::config::UserDirectory;
use crate::error::{AppError, AppResult};
use crate::ratelimit::{Action, Limiter};
use parley_domain::input;
use parley_domain::media as media_rules;
use parley_protocol::{Me, UpdateMeRequest, User};
use parley_store::{ConversationStore, DigestStore, UserPatch, UserStore};
use std::sync::Arc;

#[derive(Clone)]
pub struct UsersService {
    users: Arc<dyn UserStore>,
    /// Who shares a conversation with whom (the `contacts` directory).
    conversations: Arc<dyn ConversationStore>,
    /// The caller's email address.
    emails: Arc<dyn DigestStore>,
    presence: PresenceService,
    limiter: Limiter,
    directory: UserDirectory,
    avatars: input::AvatarPolicy,
    /// Avatars made from uploads (`avatar_media_id`).
    media: MediaService,
}

/// The most contacts a `contacts` directory search reads (a user in many
/// large groups has more; the search then covers these).
const MAX_CONTACTS_SEARCHED: usize = 10_000;

impl UsersService {
    #[allow(clippy::too_many_arguments)] // one per store area and policy it uses
    pub fn new(
        users: Arc<dyn UserStore>,
        conversations: Arc<dyn ConversationStore>,
        emails: Arc<dyn DigestStore>,
        presence: PresenceService,
        limiter: Limiter,
        directory: UserDirectory,
        avatars: input::AvatarPolicy,
        media: MediaService,
    ) -> Self {
        UsersService {
            users,
            conversations,
            emails,
            presence,
            limiter,
            directory,
            avatars,
            media,
        }
    }

    /// The caller; `unauthenticated` if their account is gone.
    pub async fn me(&self, me: &str) -> AppResult<Me> {
        let mut user = self
            .users
            .user_by_id(me)
            .await?
            .ok_or(AppError::Unauthenticated("account no longer exists"))?
            .to_wire();
        self.presence.present(&mut user, &[]).await;
        let email = self.emails.email_address(me).await?;
        Ok(Me { user, email })
    }

    /// A user's profile without presence (the gateway fills it in once the
    /// connection counts).
    pub async fn profile(&self, id: &str) -> AppResult<Option<User>> {
        Ok(self.users.user_by_id(id).await?.map(|u| u.to_wire()))
    }

    pub async fn update_me(&self, me: &str, mut req: UpdateMeRequest) -> AppResult<Me> {
        // Checked before anything changes.
        let email = req
            .email
            .take()
            .map(|e| parley_domain::digest::address(&e))
            .transpose()?;
        if let Some(media_id) = req.avatar_media_id.take() {
            if req.avatar_url.is_some() {
                return Err(AppError::invalid(
                    "avatar_media_id",
                    "give avatar_media_id or avatar_url, not both",
                ));
            }
            // The avatar is made before the profile changes: a refused
            // image changes nothing.
            req.avatar_url = Some(self.media.make_avatar(me, &media_id).await?);
        }
        let before = match req.avatar_url {
            Some(_) => self.users.user_by_id(me).await?.and_then(|u| u.avatar_url),
            None => None,
        };
        let patch = UserPatch {
            display_name: req
                .display_name
                .as_deref()
                .map(|d| input::label("display_name", d, 64))
                .transpose()?,
            avatar_url: req
                .avatar_url
                .as_deref()
                .map(|u| input::avatar_url("avatar_url", u, &self.avatars))
                .transpose()?,
            about: req
                .about
                .as_deref()
                .map(|a| input::free_text("about", a, 500))
                .transpose()?,
            role: None,
        };
        let mut user = self.users.update_user(me, patch).await?.to_wire();
        if let Some(old) =
            media_rules::replaced_avatar(before.as_deref(), user.avatar_url.as_deref())
        {
            self.media.retire_avatar(me, old).await;
        }
        self.presence.present(&mut user, &[]).await;
        if let Some(address) = email {
            self.emails.set_email_address(me, address).await?;
        }
        let email = self.emails.email_address(me).await?;
        Ok(Me { user, email })
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

    /// The directory (protocol.md §3), as the operator configured it:
    /// `all` searches everyone by prefix, `contacts` only those who share
    /// a conversation with `viewer`, `off` only an exact username. The
    /// query is trimmed and needs 2 characters. `limit + 1` rows are read
    /// so the caller knows whether there is more.
    pub async fn search(
        &self,
        viewer: &str,
        query: &str,
        after: Option<String>,
        limit: u32,
    ) -> AppResult<(Vec<User>, bool)> {
        self.limiter.spend(Action::Search, viewer).await?;
        let query = input::search_query(query)?;
        let rows = match self.directory {
            UserDirectory::All => self.users.search_users(&query, after, limit + 1).await?,
            UserDirectory::Contacts => self.search_contacts(viewer, &query, after, limit).await?,
            UserDirectory::Off => {
                let exact = input::username(&query).ok();
                match exact {
                    Some(name) if after.as_ref().is_none_or(|a| *a < name) => self
                        .users
                        .user_by_username(&name)
                        .await?
                        .into_iter()
                        .collect(),
                    _ => Vec::new(),
                }
            }
        };
        let more = rows.len() > limit as usize;
        let mut users: Vec<User> = rows
            .iter()
            .take(limit as usize)
            .map(|u| u.to_wire())
            .collect();
        self.presence.present_for(viewer, users.iter_mut()).await;
        Ok((users, more))
    }

    /// The `contacts` directory: the same match as storage's search, over
    /// the viewer's contacts, in username order after `after`.
    async fn search_contacts(
        &self,
        viewer: &str,
        query: &str,
        after: Option<String>,
        limit: u32,
    ) -> AppResult<Vec<parley_store::UserRow>> {
        let mut ids = self.conversations.contacts(viewer).await?;
        ids.truncate(MAX_CONTACTS_SEARCHED);
        let mut rows: Vec<_> = self
            .users
            .users_by_ids(&ids)
            .await?
            .into_iter()
            .filter(|u| {
                parley_domain::users::search_matches(
                    &parley_domain::users::search_name(&u.username, &u.display_name),
                    query,
                ) && after.as_ref().is_none_or(|a| u.username > *a)
            })
            .collect();
        rows.sort_by(|a, b| a.username.cmp(&b.username));
        rows.truncate(limit as usize + 1);
        Ok(rows)
    }
}
