//! In-process fan-out: the embedded default.

use super::{Fanout, Registry};
use parley_store::Delivery;

#[derive(Default)]
pub struct LocalFanout {
    registry: Registry,
}

impl LocalFanout {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Fanout for LocalFanout {
    fn publish(&self, deliveries: Vec<Delivery>) {
        for d in deliveries {
            self.registry.deliver(d);
        }
    }

    fn registry(&self) -> &Registry {
        &self.registry
    }
}
