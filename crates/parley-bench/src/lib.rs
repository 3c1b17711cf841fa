//! Parley's load generator. Each workload creates the users and
//! conversations it needs, measures inside one process (sender and
//! receiver share a clock), and returns a [`Report`]; a run with any error
//! or lost message is a failed run, whatever its speed.
//!
//! - [`server`]: starts `parley serve` (or targets a running server) and
//!   [`procfs`] reads its CPU and memory; [`limits`] raises open-file limits.
//! - [`conn`], [`fleet`]: light gateway connections, many at once, spread
//!   over source addresses; [`frames`] decodes just what is measured.
//! - [`workloads`]: W1 idle, W2 mix, W3 throughput, W4 group, W5
//!   reconnect, W6 cluster, W7 footprint, and the Synapse shape.
//! - [`ceiling`]: the physical limits the workloads are compared with.
//! - [`report`]: the markdown table and JSON line.
#![forbid(unsafe_code)]

pub mod backend;
pub mod ceiling;
pub mod clock;
pub mod conn;
pub mod fleet;
pub mod frames;
pub mod ident;
pub mod limits;
pub mod procfs;
pub mod progress;
pub mod report;
pub mod server;
pub mod stats;
pub mod workloads;

pub use report::Report;
pub use workloads::footprint::{Footprint, footprint};
pub use workloads::latency::latency;
pub use workloads::throughput::throughput;
