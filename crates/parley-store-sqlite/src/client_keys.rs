//! The idempotency key of a send (protocol.md: a `client_id` is unique for
//! its sender and conversation, forever), stored compactly.
//!
//! Clients make `client_id`s at random (UUIDv4), so wherever the key is
//! kept, each send lands on a random page of its B-tree. As a UNIQUE index
//! on `messages (conversation_id, sender_id, client_id)` each entry took
//! ~115 bytes, interior pages included, and a 64-send commit dirtied ~105
//! of its pages, half the WAL of a send (bench/wal-pages-by-btree.py).
//! Here the key is a 64-bit hash of the three values next to the message's
//! rowid, ~15 bytes an entry, so the interior pages are few and hot and a
//! send dirties about one leaf. The hash only finds candidates: a match is
//! a stored message whose three values are equal, so a collision costs a
//! second candidate, never a lost or merged send. Only the writer writes,
//! so "look up, then insert" cannot race.

use crate::rows::{self, db_err};
use parley_domain::messages::MessageRow;
use parley_store::StoreResult;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// The stored key: the first 8 bytes of SHA-256 over the three values,
/// each ended by a NUL (none of them can hold one). Stable across releases:
/// it is on disk.
pub fn key(conversation_id: &str, sender_id: &str, client_id: &str) -> i64 {
    let mut h = Sha256::new();
    for part in [conversation_id, sender_id, client_id] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// The message `sender_id` already sent to `conversation_id` with
/// `client_id`, if any.
pub fn earlier_send(
    conn: &Connection,
    conversation_id: &str,
    sender_id: &str,
    client_id: &str,
) -> StoreResult<Option<MessageRow>> {
    conn.prepare_cached(&format!(
        "SELECT {} FROM message_keys k JOIN messages m ON m.rowid = k.message_rowid
         WHERE k.key = ?1 AND m.conversation_id = ?2 AND m.sender_id = ?3 AND m.client_id = ?4",
        rows::MESSAGE_COLS
    ))
    .map_err(db_err)?
    .query_row(
        params![
            key(conversation_id, sender_id, client_id),
            conversation_id,
            sender_id,
            client_id
        ],
        rows::message_row,
    )
    .optional()
    .map_err(db_err)
}

/// Records the key of the message just inserted on `conn` (its rowid is
/// `last_insert_rowid()`, so call this right after the `INSERT INTO
/// messages`). Nothing for a message without a `client_id`.
pub fn record(
    conn: &Connection,
    conversation_id: &str,
    sender_id: &str,
    client_id: Option<&str>,
) -> StoreResult<()> {
    let Some(client_id) = client_id else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT INTO message_keys (key, message_rowid) VALUES (?1, last_insert_rowid())",
    )
    .map_err(db_err)?
    .execute(params![key(conversation_id, sender_id, client_id)])
    .map_err(db_err)?;
    Ok(())
}

/// Keys for the messages stored before `message_keys` existed (run by the
/// migration that creates it, in its transaction).
pub fn backfill(conn: &Connection) -> rusqlite::Result<()> {
    let mut read = conn.prepare(
        "SELECT rowid, conversation_id, sender_id, client_id FROM messages WHERE client_id IS NOT NULL",
    )?;
    let mut write =
        conn.prepare("INSERT INTO message_keys (key, message_rowid) VALUES (?1, ?2)")?;
    let mut found = read.query([])?;
    while let Some(r) = found.next()? {
        let (rowid, conv, sender, client): (i64, String, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        write.execute(params![key(&conv, &sender, &client), rowid])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_stable_and_separates_its_parts() {
        // On disk: a change here would make every stored send look new.
        assert_eq!(key("c", "u", "x"), key("c", "u", "x"));
        assert_ne!(key("ab", "c", "x"), key("a", "bc", "x"));
        assert_ne!(key("c", "u", "x"), key("c", "u", "y"));
        assert_eq!(
            key("conv", "user", "client"),
            0xaf3d_d380_4d0e_b660_u64 as i64
        );
    }
}
