//! Fan-out: moving committed deliveries to live gateway connections.
//!
//! [`Fanout`] is the seam (in-process now; Redis for many processes later).
//! Every implementation delivers into this process's [`Registry`] of
//! connections, which never blocks: a connection whose bounded queue is
//! full is told to close with 4008 instead of slowing anyone else down.

mod local;
mod queue;
mod redis;
mod registry;

pub use local::LocalFanout;
pub use redis::RedisFanout;
pub use registry::{AddedOut, ConnHandle, EventOut, Outbound, Registry, SyncRequest};

use parley_store::Delivery;

pub trait Fanout: Send + Sync + 'static {
    /// Hands committed deliveries over, in commit order. Must not block.
    fn publish(&self, deliveries: Vec<Delivery>);
    /// This process's connections.
    fn registry(&self) -> &Registry;
    /// Whether the cross-process link is up (`None`: there is none).
    fn healthy(&self) -> Option<bool> {
        None
    }
}
