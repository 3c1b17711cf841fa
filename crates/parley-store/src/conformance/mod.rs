//! The storage conformance suite: behaviour every [`Store`] must show,
//! whatever the database, one suite per area ([`users`],
//! [`conversations`], [`messages`], [`receipts`], [`blocks`], [`chat_state`], [`message_marks`], [`reactors`],
//! [`moderation`], [`media`], [`support`], [`notifications`],
//! [`webhooks`], [`push`], [`digests`], [`search`], [`retention`]). A backend's
//! tests call each area's `run` from a `#[tokio::test]` of its own (so one
//! failing area does not hide the others) with a factory for fresh, empty
//! stores and a handle on the deliveries they emit.
//!
//! Each check panics with a message naming the broken rule.

pub mod blocks;
pub mod chat_state;
pub mod conversations;
pub mod digests;
pub mod media;
pub mod message_marks;
pub mod messages;
pub mod moderation;
pub mod notifications;
pub mod push;
pub mod reactors;
pub mod receipts;
pub mod retention;
pub mod search;
pub mod support;
pub mod users;
pub mod webhooks;

use crate::ids::new_id;
use crate::{Delivery, NewMessage, NewUser, Store};
use parley_protocol::{MessageKind, Role, Timestamp};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// Deliveries a store has emitted, in order.
pub type Captured = Arc<Mutex<Vec<Delivery>>>;

/// Makes a fresh, empty store whose deliveries are appended to the given vec.
pub type Factory =
    Arc<dyn Fn(Captured) -> Pin<Box<dyn Future<Output = Arc<dyn Store>> + Send>> + Send + Sync>;

pub(crate) fn user(name: &str) -> NewUser {
    NewUser {
        id: new_id(),
        username: name.to_string(),
        display_name: name.to_string(),
        role: Role::User,
        password_hash: Some("x".into()),
        external_sub: None,
        avatar_url: None,
        is_bot: false,
        created_at: Timestamp::now(),
    }
}

pub(crate) fn text(conv: &str, sender: &str, client_id: &str, body: &str) -> NewMessage {
    NewMessage {
        id: new_id(),
        conversation_id: conv.to_string(),
        sender_id: sender.to_string(),
        client_id: Some(client_id.to_string()),
        kind: MessageKind::Text,
        text: Some(body.to_string()),
        reply_to: None,
        mentions: vec![],
        attachments: vec![],
        at: Timestamp::now(),
    }
}

pub(crate) struct Fixture {
    pub store: Arc<dyn Store>,
    pub captured: Captured,
}

pub(crate) async fn fresh(factory: &Factory) -> Fixture {
    let captured: Captured = Arc::new(Mutex::new(Vec::new()));
    let store = factory(captured.clone()).await;
    Fixture { store, captured }
}

pub(crate) async fn users(s: &Arc<dyn Store>, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for n in names {
        ids.push(s.create_user(user(n)).await.expect("create user").id);
    }
    ids
}

pub(crate) async fn group(f: &Fixture, owner: &str, others: &[String]) -> String {
    let id = new_id();
    f.store
        .create_group(&id, owner, "team", others, Timestamp::now())
        .await
        .expect("group");
    id
}
