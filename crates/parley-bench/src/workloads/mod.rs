//! One module per workload (performance.md W1-W7, plus the Synapse shape).

pub mod cluster;
pub mod deliveries;
pub mod footprint;
pub mod group;
pub mod idle;
pub mod latency;
pub mod media;
pub mod mix;
pub mod push;
pub mod reconnect;
pub mod search;
pub mod support;
pub mod synapse;
pub mod throughput;
