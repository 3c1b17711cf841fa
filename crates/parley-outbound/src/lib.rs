//! Outbound calls (protocol.md §12): the rules every webhook delivery and
//! push request obeys, and the one HTTP client that applies them. The
//! deliveries themselves (the durable outbox, signing, retries) are built
//! on this.
#![forbid(unsafe_code)]

pub mod client;
pub mod policy;

pub use client::{Answer, Outbound, OutboundError};
pub use policy::{Allowed, MAX_ANSWER_BYTES, Policy, UrlRefusal, is_special};
