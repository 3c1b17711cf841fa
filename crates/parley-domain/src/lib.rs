//! Parley's domain: every rule, written once, with no I/O.
//!
//! Each storage backend runs a write the same way: it reads the *facts*
//! the rule needs under its own lock (the SQLite writer thread, a
//! PostgreSQL row lock), calls the function here, and applies the *plan*
//! it returns (rows to change, events to append) in the same transaction.
//! So who may do what, what a write changes, every event payload and every
//! user-facing error text exist once, here, and are unit-tested without a
//! database.
//!
//! - [`error`]: [`DomainError`], the refusals and their text.
//! - [`visibility`]: what a caller may see (`not_found` otherwise).
//! - [`users`]: search names, usernames for external users, refresh-token
//!   rotation.
//! - [`conversations`]: direct and group conversations, members, roles.
//! - [`chat_state`]: pinned and archived chats, per member.
//! - [`message_marks`]: starred and deleted-for-me messages, per user.
//! - [`reactors`]: who reacted to a message, grouped by emoji.
//! - [`mentions`]: which members a message's `@username`s name.
//! - [`messages`]: the stored message and its wire form; send, edit,
//!   delete, react.
//! - [`media`]: the upload allow-list and limits, who may read an upload,
//!   what a message attaches, the links of a message.
//! - [`moderation`]: who may moderate, bans, admin deletes, the audit
//!   log's entries.
//! - [`receipts`]: watermarks, message status, who hears a receipt.
//! - [`export`]: the export formats and the text export's lines.
//! - [`retention`]: when a message expires, what a tombstone keeps, the
//!   redaction of its events.
//! - [`search`]: index tokens (words, CJK pairs), the query grammar, snippets.
//! - [`digest`]: who gets an email digest, what it lists and says.
//! - [`webhooks`]: what a webhook may list, the retry schedule and the
//!   automatic disable.
//! - [`input`]: the shape of what clients send (lengths, characters), the
//!   same for REST and the gateway.
#![forbid(unsafe_code)]

pub mod chat_state;
pub mod conversations;
pub mod digest;
pub mod error;
pub mod export;
pub mod input;
pub mod media;
pub mod mentions;
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
pub mod visibility;
pub mod webhooks;

pub use error::{DomainError, DomainResult};

use parley_protocol::events::EventData;

/// An event a plan appends; the backend gives it the next seq and the
/// write's time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// `None` when the server acts on its own (an ownership hand-over).
    pub actor_id: Option<String>,
    pub data: EventData,
}

impl NewEvent {
    /// An event caused by `actor`.
    pub fn by(actor: &str, data: EventData) -> Self {
        NewEvent {
            actor_id: Some(actor.to_string()),
            data,
        }
    }
}
