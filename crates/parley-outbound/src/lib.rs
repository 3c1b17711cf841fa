//! Outbound calls (protocol.md §12): the rules every webhook delivery and
//! push request obeys, the one HTTP client that applies them, and the
//! Standard Webhooks signature every signed delivery carries. The durable
//! outbox and its retries are the server's.
#![forbid(unsafe_code)]

pub mod client;
pub mod email;
pub mod policy;
pub mod signing;
pub mod tls;
pub mod webpush;

pub use client::{Answer, Outbound, OutboundError};
pub use email::{Email, EmailError, Mailer};
pub use policy::{Allowed, MAX_ANSWER_BYTES, Policy, UrlRefusal, is_special};
pub use signing::SigningKey;
pub use tls::install_crypto_provider;
pub use webpush::VapidKey;
