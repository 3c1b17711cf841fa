//! Identifiers: UUIDv7 (time-ordered, so indexes stay append-mostly).

pub use parley_store::ids::new_id;
