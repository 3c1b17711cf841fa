//! Physical limits measured by the same tool on the same machine
//! (performance.md): delivery through a minimal fan-out server, storage
//! through raw batched SQLite inserts.

pub mod fanout;
pub mod sqlite;
