//! Identifiers: UUIDv7 (time-ordered, so indexes stay append-mostly).

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
