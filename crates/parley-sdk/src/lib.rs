//! Rust client for Parley (see `shared/spec/protocol.md`).
//!
//! Three layers, each usable on its own:
//!
//! - [`rest`]: [`Client`], one async method per REST endpoint, plus
//!   [`Client::raw`] for sending deliberately bad input. Holds the bearer
//!   token that `register`/`login`/`refresh` set.
//! - [`gateway`]: [`Gateway`], one WebSocket connection: `ready`, requests
//!   matched with their replies by `ref`, and the pushes in arrival order.
//!   No reconnects, no reordering: what the server sent is what you see.
//! - [`session`]: [`Session`], the high-level client: reconnects with
//!   backoff, re-syncs, fills gaps through REST, and yields every event
//!   exactly once in seq order per conversation. Its ordering rules live in
//!   the pure [`sequencer`] module.
//!
//! Errors are one [`Error`] type; server refusals keep the protocol's error
//! body so callers match on [`parley_protocol::ErrorCode`].
//!
//! ```no_run
//! # async fn demo() -> parley_sdk::Result<()> {
//! use parley_sdk::{Client, Session};
//! use std::time::Duration;
//!
//! let alice = Client::new("http://127.0.0.1:8080")?;
//! alice.login("alice", "correct horse").await?;
//! let bob = alice.with_token(&Client::new(alice.base_url())?
//!     .login("bob", "battery staple").await?.access_token);
//! let (chat, _created) = alice.create_direct(&bob.me().await?.id).await?;
//!
//! let session = Session::start(bob.clone()).await?;
//! alice.send_text(&chat.id, "hi").await?;
//! let event = session.next_event(Duration::from_secs(5)).await?;
//! assert_eq!(event.conversation_id, chat.id);
//! session.close().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod backoff;
mod endpoint;
pub mod error;
pub mod gateway;
pub mod rest;
pub mod sequencer;
pub mod session;

pub use error::{Error, Result};
pub use gateway::Gateway;
pub use parley_protocol as protocol;
pub use rest::{Client, RawResponse};
pub use sequencer::Sequencer;
pub use session::Session;
