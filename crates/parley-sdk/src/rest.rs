//! The REST client: one method per endpoint of protocol.md §2-§6.
//!
//! Every method maps a 2xx to its typed body and anything else to
//! [`Error::Api`] with the server's error body; the HTTP plumbing lives in
//! [`http`](self::http), so this file reads as the endpoint list.

mod http;

use crate::endpoint::{BaseUrl, with_query};
use crate::error::Result;
use http::NO_BODY;
use parley_protocol::chat_state::{ArchiveRequest, ChatStateList, PinRequest};
use parley_protocol::message_marks::{
    HideRequest, MessageMark, MessageMarkList, StarRequest, StarredList,
};
use parley_protocol::reactors::ReactionUsersList;
use parley_protocol::{
    AddMembersRequest, AuthResponse, BlockList, BlockRequest, BlockStatus, ChangeRoleRequest,
    ChatState, Conversation, ConversationList, CreateConversationRequest, EditMessageRequest,
    EventPage, LoginRequest, Member, MemberList, MemberRole, Message, MessageContext, MessagePage,
    MuteRequest, MuteResponse, ReactionResponse, ReadRequest, ReadResponse, ReceiptList,
    RefreshRequest, RegisterRequest, SendMessageRequest, TicketResponse, Timestamp, UnreadSummary,
    UpdateConversationRequest, UpdateMeRequest, User, UserList,
};
use reqwest::Method;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

pub use http::RawResponse;
pub(crate) use http::decode_error;

/// How long one REST call may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A REST client for one server and (optionally) one access token.
///
/// Clones share the connection pool *and* the token, so that a token set by
/// [`Client::login`] on one clone is used by all of them; [`Client::with_token`]
/// makes an independent client (another user) on the same pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Arc<BaseUrl>,
    token: Arc<RwLock<Option<String>>>,
}

impl std::fmt::Debug for Client {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base.as_str())
            .field("has_token", &self.token().is_some())
            .finish()
    }
}

impl Client {
    /// A client for a server such as `http://127.0.0.1:8080` (without
    /// `/api/v1`; the client adds it).
    pub fn new(base_url: &str) -> Result<Client> {
        let base = BaseUrl::parse(base_url)?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| crate::Error::Http(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base: Arc::new(base),
            token: Arc::new(RwLock::new(None)),
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// Sets (or clears) the bearer token for this client and its clones.
    pub fn set_token(&self, token: Option<String>) {
        *self.token.write().unwrap_or_else(PoisonError::into_inner) = token;
    }

    /// The bearer token in use, if any.
    pub fn token(&self) -> Option<String> {
        self.token
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A new client on the same connection pool with its own token, so that
    /// one test can act as several users.
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            http: self.http.clone(),
            base: Arc::clone(&self.base),
            token: Arc::new(RwLock::new(Some(token.to_owned()))),
        }
    }

    // ------------------------------------------------------------ accounts

    /// `POST /auth/register`; on success the new access token is used from
    /// then on.
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<AuthResponse> {
        let body = RegisterRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            display_name: display_name.map(str::to_owned),
        };
        let auth: AuthResponse = self.post(&["auth", "register"], &body).await?;
        self.set_token(Some(auth.access_token.clone()));
        Ok(auth)
    }

    /// `POST /auth/login`; sets the token.
    pub async fn login(&self, username: &str, password: &str) -> Result<AuthResponse> {
        let body = LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        let auth: AuthResponse = self.post(&["auth", "login"], &body).await?;
        self.set_token(Some(auth.access_token.clone()));
        Ok(auth)
    }

    /// `POST /auth/refresh`; sets the new access token. Refresh tokens
    /// rotate: keep the returned `refresh_token`, the old one is spent.
    pub async fn refresh(&self, refresh_token: &str) -> Result<AuthResponse> {
        let body = RefreshRequest {
            refresh_token: refresh_token.to_owned(),
        };
        let auth: AuthResponse = self.post(&["auth", "refresh"], &body).await?;
        self.set_token(Some(auth.access_token.clone()));
        Ok(auth)
    }

    /// `POST /auth/logout` (204). The access token stays set: it remains
    /// valid until it expires, which is the server's business.
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        let body = RefreshRequest {
            refresh_token: refresh_token.to_owned(),
        };
        self.call_empty(Method::POST, &["auth", "logout"], Some(&body))
            .await
    }

    // --------------------------------------------------------------- users

    /// `GET /users/me`.
    pub async fn me(&self) -> Result<User> {
        self.get(&["users", "me"], &[]).await
    }

    /// `PATCH /users/me`.
    pub async fn update_me(&self, req: &UpdateMeRequest) -> Result<User> {
        self.send_json(Method::PATCH, &["users", "me"], req).await
    }

    /// `GET /users/{id}`.
    pub async fn user(&self, id: &str) -> Result<User> {
        self.get(&["users", id], &[]).await
    }

    /// `GET /users?query=&limit=&cursor=` (prefix search).
    pub async fn search_users(
        &self,
        query: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<UserList> {
        let params = [
            ("query", Some(query.to_owned())),
            ("limit", limit.map(|l| l.to_string())),
            ("cursor", cursor.map(str::to_owned)),
        ];
        self.get(&["users"], &params).await
    }

    // ------------------------------------------------------- conversations

    /// `POST /conversations {kind: "direct", user_id}`: get-or-create.
    /// The flag is `true` when the server created it (201), `false` when it
    /// already existed (200).
    pub async fn create_direct(&self, user_id: &str) -> Result<(Conversation, bool)> {
        let body = CreateConversationRequest::Direct {
            user_id: user_id.to_owned(),
        };
        let (status, conv) = self
            .call(Method::POST, &["conversations"], &[], Some(&body))
            .await?;
        Ok((conv, status == 201))
    }

    /// `POST /conversations {kind: "group", title, member_ids}`; the caller
    /// becomes the owner.
    pub async fn create_group(&self, title: &str, member_ids: &[String]) -> Result<Conversation> {
        let body = CreateConversationRequest::Group {
            title: title.to_owned(),
            member_ids: member_ids.to_vec(),
        };
        self.post(&["conversations"], &body).await
    }

    /// `GET /conversations?cursor=&limit=`, newest activity first.
    pub async fn conversations(
        &self,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ConversationList> {
        let params = [
            ("cursor", cursor.map(str::to_owned)),
            ("limit", limit.map(|l| l.to_string())),
        ];
        self.get(&["conversations"], &params).await
    }

    /// `GET /conversations/{id}`.
    pub async fn conversation(&self, id: &str) -> Result<Conversation> {
        self.get(&["conversations", id], &[]).await
    }

    /// `PATCH /conversations/{id}`.
    pub async fn update_conversation(
        &self,
        id: &str,
        req: &UpdateConversationRequest,
    ) -> Result<Conversation> {
        self.send_json(Method::PATCH, &["conversations", id], req)
            .await
    }

    /// `GET /conversations/unread`.
    pub async fn unread(&self) -> Result<UnreadSummary> {
        self.get(&["conversations", "unread"], &[]).await
    }

    /// `GET /conversations/{id}/members`.
    pub async fn members(&self, id: &str) -> Result<MemberList> {
        self.get(&["conversations", id, "members"], &[]).await
    }

    /// `POST /conversations/{id}/members {user_ids}`.
    pub async fn add_members(&self, id: &str, user_ids: &[String]) -> Result<MemberList> {
        let body = AddMembersRequest {
            user_ids: user_ids.to_vec(),
        };
        self.post(&["conversations", id, "members"], &body).await
    }

    /// `DELETE /conversations/{id}/members/{user_id}` (204); removing
    /// oneself is leaving.
    pub async fn remove_member(&self, id: &str, user_id: &str) -> Result<()> {
        self.call_empty(
            Method::DELETE,
            &["conversations", id, "members", user_id],
            NO_BODY,
        )
        .await
    }

    /// `PATCH /conversations/{id}/members/{user_id} {role}` (owner only).
    pub async fn change_role(&self, id: &str, user_id: &str, role: MemberRole) -> Result<Member> {
        let body = ChangeRoleRequest { role };
        self.send_json(
            Method::PATCH,
            &["conversations", id, "members", user_id],
            &body,
        )
        .await
    }

    /// `POST /conversations/{id}/read {seq}`.
    pub async fn mark_read(&self, id: &str, seq: i64) -> Result<ReadResponse> {
        self.post(&["conversations", id, "read"], &ReadRequest { seq })
            .await
    }

    /// `PUT /conversations/{id}/mute {until}` (`None` unmutes).
    pub async fn mute(&self, id: &str, until: Option<Timestamp>) -> Result<MuteResponse> {
        self.send_json(
            Method::PUT,
            &["conversations", id, "mute"],
            &MuteRequest { until },
        )
        .await
    }

    /// `PUT /conversations/{id}/pin {pinned}`.
    pub async fn pin_chat(&self, id: &str, pinned: bool) -> Result<ChatState> {
        self.send_json(
            Method::PUT,
            &["conversations", id, "pin"],
            &PinRequest { pinned },
        )
        .await
    }

    /// `PUT /conversations/{id}/archive {archived}`.
    pub async fn archive_chat(&self, id: &str, archived: bool) -> Result<ChatState> {
        self.send_json(
            Method::PUT,
            &["conversations", id, "archive"],
            &ArchiveRequest { archived },
        )
        .await
    }

    /// `PUT /messages/{id}/star {starred}`.
    pub async fn star_message(&self, id: &str, starred: bool) -> Result<MessageMark> {
        self.send_json(
            Method::PUT,
            &["messages", id, "star"],
            &StarRequest { starred },
        )
        .await
    }

    /// `PUT /messages/{id}/hidden {hidden}`: delete for me (or undo it).
    pub async fn hide_message(&self, id: &str, hidden: bool) -> Result<MessageMark> {
        self.send_json(
            Method::PUT,
            &["messages", id, "hidden"],
            &HideRequest { hidden },
        )
        .await
    }

    /// `GET /conversations/{id}/marks`: my starred and hidden messages there.
    pub async fn message_marks(&self, id: &str) -> Result<MessageMarkList> {
        self.get(&["conversations", id, "marks"], &[]).await
    }

    /// `GET /users/me/starred?cursor=&limit=`.
    pub async fn starred(&self, cursor: Option<&str>, limit: Option<u32>) -> Result<StarredList> {
        self.get(
            &["users", "me", "starred"],
            &[
                ("cursor", cursor.map(str::to_owned)),
                ("limit", limit.map(|l| l.to_string())),
            ],
        )
        .await
    }

    /// `GET /messages/{id}/reactions`: who reacted, per emoji.
    pub async fn reactors(&self, id: &str) -> Result<ReactionUsersList> {
        self.get(&["messages", id, "reactions"], &[]).await
    }

    /// `GET /users/me/chats`: the caller's pinned and archived chats.
    pub async fn chat_states(&self) -> Result<ChatStateList> {
        self.get(&["users", "me", "chats"], &[]).await
    }

    // ------------------------------------------------------------ messages

    /// `POST /conversations/{id}/messages`. The flag is `true` for a new
    /// message (201) and `false` for an idempotent replay of the same
    /// `client_id` (200).
    pub async fn send_message(
        &self,
        conversation_id: &str,
        req: &SendMessageRequest,
    ) -> Result<(Message, bool)> {
        let (status, msg) = self
            .call(
                Method::POST,
                &["conversations", conversation_id, "messages"],
                &[],
                Some(req),
            )
            .await?;
        Ok((msg, status == 201))
    }

    /// Sends `text` with a fresh random `client_id`.
    pub async fn send_text(&self, conversation_id: &str, text: &str) -> Result<Message> {
        let req = SendMessageRequest {
            client_id: uuid::Uuid::new_v4().to_string(),
            text: Some(text.to_owned()),
            attachments: None,
            reply_to: None,
        };
        Ok(self.send_message(conversation_id, &req).await?.0)
    }

    /// `GET /conversations/{id}/messages?before=|after=&limit=`; no cursor
    /// gives the newest page.
    pub async fn messages(
        &self,
        id: &str,
        before: Option<u64>,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<MessagePage> {
        let params = [
            ("before", before.map(|s| s.to_string())),
            ("after", after.map(|s| s.to_string())),
            ("limit", limit.map(|l| l.to_string())),
        ];
        self.get(&["conversations", id, "messages"], &params).await
    }

    /// `GET /conversations/{id}/events?after=&limit=`: the log, for catching
    /// up.
    pub async fn events(
        &self,
        id: &str,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<EventPage> {
        let params = [
            ("after", after.map(|s| s.to_string())),
            ("limit", limit.map(|l| l.to_string())),
        ];
        self.get(&["conversations", id, "events"], &params).await
    }

    /// `GET /messages/{id}`.
    pub async fn message(&self, id: &str) -> Result<Message> {
        self.get(&["messages", id], &[]).await
    }

    /// `GET /messages/{id}/context?limit=`.
    pub async fn message_context(&self, id: &str, limit: Option<u32>) -> Result<MessageContext> {
        let params = [("limit", limit.map(|l| l.to_string()))];
        self.get(&["messages", id, "context"], &params).await
    }

    /// `PATCH /messages/{id} {text}`.
    pub async fn edit_message(&self, id: &str, text: &str) -> Result<Message> {
        let body = EditMessageRequest {
            text: text.to_owned(),
        };
        self.send_json(Method::PATCH, &["messages", id], &body)
            .await
    }

    /// `DELETE /messages/{id}`; returns the tombstone.
    pub async fn delete_message(&self, id: &str) -> Result<Message> {
        self.call(Method::DELETE, &["messages", id], &[], NO_BODY)
            .await
            .map(|(_, m)| m)
    }

    /// `PUT /messages/{id}/reactions/{emoji}` (the emoji is one
    /// percent-encoded path segment).
    pub async fn add_reaction(&self, message_id: &str, emoji: &str) -> Result<ReactionResponse> {
        self.call(
            Method::PUT,
            &["messages", message_id, "reactions", emoji],
            &[],
            NO_BODY,
        )
        .await
        .map(|(_, r)| r)
    }

    /// `DELETE /messages/{id}/reactions/{emoji}`.
    pub async fn remove_reaction(&self, message_id: &str, emoji: &str) -> Result<ReactionResponse> {
        self.call(
            Method::DELETE,
            &["messages", message_id, "reactions", emoji],
            &[],
            NO_BODY,
        )
        .await
        .map(|(_, r)| r)
    }

    /// `GET /messages/{id}/receipts`: when each other member received and
    /// read the message.
    pub async fn receipts(&self, message_id: &str) -> Result<ReceiptList> {
        self.call(
            Method::GET,
            &["messages", message_id, "receipts"],
            &[],
            NO_BODY,
        )
        .await
        .map(|(_, r)| r)
    }

    // -------------------------------------------------------------- blocks

    /// `POST /blocks {user_id}`; `true` when the block is new (201).
    pub async fn block(&self, user_id: &str) -> Result<(BlockStatus, bool)> {
        let body = BlockRequest {
            user_id: user_id.to_owned(),
        };
        let (status, s) = self
            .call(Method::POST, &["blocks"], &[], Some(&body))
            .await?;
        Ok((s, status == 201))
    }

    /// `DELETE /blocks/{user_id}`.
    pub async fn unblock(&self, user_id: &str) -> Result<()> {
        self.call_empty(Method::DELETE, &["blocks", user_id], NO_BODY)
            .await
    }

    /// `GET /blocks/{user_id}`.
    pub async fn block_status(&self, user_id: &str) -> Result<BlockStatus> {
        self.call(Method::GET, &["blocks", user_id], &[], NO_BODY)
            .await
            .map(|(_, s)| s)
    }

    /// `GET /blocks`: the users the caller blocks, newest first.
    pub async fn blocks(&self, cursor: Option<&str>, limit: Option<u32>) -> Result<BlockList> {
        let params = [
            ("cursor", cursor.map(str::to_owned)),
            ("limit", limit.map(|l| l.to_string())),
        ];
        self.call(Method::GET, &["blocks"], &params, NO_BODY)
            .await
            .map(|(_, l)| l)
    }

    // ------------------------------------------------------------- gateway

    /// `POST /gateway/ticket`: a single-use ticket for the WebSocket URL.
    pub async fn ticket(&self) -> Result<TicketResponse> {
        self.call(Method::POST, &["gateway", "ticket"], &[], NO_BODY)
            .await
            .map(|(_, t)| t)
    }

    // ---------------------------------------------------------- raw access

    /// Escape hatch for bad-input tests: any `method`, a `path` under
    /// `/api/v1` (e.g. `"/conversations?limit=0"`), and an optional raw body
    /// sent as `application/json`. Never fails on a status: the caller gets
    /// it, with `x-request-id`, `Retry-After` and the body (parsed as JSON,
    /// or `Value::Null` when empty or not JSON).
    pub async fn raw(&self, method: &str, path: &str, body: Option<&str>) -> Result<RawResponse> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|e| crate::Error::Http(format!("bad method {method:?}: {e}")))?;
        let url = self.base.api_raw(path)?;
        let reply = self
            .execute(method, url, body.map(|b| b.as_bytes().to_vec()))
            .await?;
        Ok(reply.into_raw())
    }

    // ------------------------------------------------------------- helpers

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
        params: &[(&str, Option<String>)],
    ) -> Result<T> {
        self.call(Method::GET, segments, params, NO_BODY)
            .await
            .map(|(_, body)| body)
    }

    async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T> {
        self.send_json(Method::POST, segments, body).await
    }

    async fn send_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: &B,
    ) -> Result<T> {
        self.call(method, segments, &[], Some(body))
            .await
            .map(|(_, body)| body)
    }

    /// One typed call: the status (to tell 201 from 200) and the body.
    async fn call<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        params: &[(&str, Option<String>)],
        body: Option<&B>,
    ) -> Result<(u16, T)> {
        let url = with_query(self.base.api(segments)?, params);
        let body = body.map(http::encode).transpose()?;
        let reply = self.execute(method, url, body).await?;
        let status = reply.status;
        Ok((status, reply.decode()?))
    }

    /// A call whose success has no body (204).
    async fn call_empty<B: serde::Serialize>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<()> {
        let url = self.base.api(segments)?;
        let body = body.map(http::encode).transpose()?;
        self.execute(method, url, body).await?.expect_success()
    }
}
