//! Embedded migrations, applied in order, each once, all pending ones in
//! one transaction.

use rusqlite::Connection;

/// Every schema version and its SQL, oldest first (the load generator's
/// storage ceiling builds the same schema from it).
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_receipts_blocks.sql")),
    (3, include_str!("../migrations/0003_search_names.sql")),
    (4, include_str!("../migrations/0004_events_by_arrival.sql")),
    (5, include_str!("../migrations/0005_moderation.sql")),
    (6, include_str!("../migrations/0006_media.sql")),
    (7, include_str!("../migrations/0007_support.sql")),
    (8, include_str!("../migrations/0008_agent_connected.sql")),
    (9, include_str!("../migrations/0009_notification_prefs.sql")),
    (10, include_str!("../migrations/0010_webhooks_outbox.sql")),
    (11, include_str!("../migrations/0011_push.sql")),
    (12, include_str!("../migrations/0012_email_digests.sql")),
    (13, include_str!("../migrations/0013_push_fanout.sql")),
    (14, include_str!("../migrations/0014_push_read.sql")),
    (15, include_str!("../migrations/0015_do_not_disturb.sql")),
    (
        SEARCH_VERSION,
        include_str!("../migrations/0016_search.sql"),
    ),
    (17, include_str!("../migrations/0017_retention.sql")),
    (18, include_str!("../migrations/0018_chat_states.sql")),
    (19, include_str!("../migrations/0019_message_marks.sql")),
    (20, include_str!("../migrations/0020_search_automerge.sql")),
    (
        MESSAGE_KEYS_VERSION,
        include_str!("../migrations/0021_message_keys.sql"),
    ),
];

/// The migration that creates the search index; the messages stored
/// before it are indexed in its transaction.
const SEARCH_VERSION: i64 = 16;

/// The migration that moves the idempotency key into `message_keys`; the
/// keys of the messages stored before it are written in its transaction.
const MESSAGE_KEYS_VERSION: i64 = 21;

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<usize> {
    migrate_up_to(conn, i64::MAX)
}

/// Applies the migrations up to `last` (tests start from older schemas).
fn migrate_up_to(conn: &mut Connection, last: i64) -> rusqlite::Result<usize> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    // All pending migrations in one transaction: a new database is made in
    // one commit (one fsync, not one per migration: performance.md W7,
    // cold start), and a failing migration leaves the schema as it was.
    // The check is under the write lock: a second process migrating the
    // same file at once (a `parley admin` command while the server starts)
    // waits here, then finds every version applied.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut applied = 0;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= last) {
        let done: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if done {
            continue;
        }
        tx.execute_batch(sql)?;
        if *version == SEARCH_VERSION {
            crate::search::backfill(&tx)?;
        }
        if *version == MESSAGE_KEYS_VERSION {
            crate::client_keys::backfill(&tx)?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![version, parley_protocol::Timestamp::now().millis()],
        )?;
        applied += 1;
    }
    tx.commit()?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Processes that open one new file at once (a `parley admin` command
    /// while the server starts) apply each migration once between them.
    #[test]
    fn concurrent_migrators_apply_each_migration_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("race.db");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut conn = Connection::open(&path).expect("open");
                    conn.busy_timeout(std::time::Duration::from_secs(10))
                        .expect("timeout");
                    migrate(&mut conn)
                })
            })
            .collect();
        let applied: usize = threads
            .into_iter()
            .map(|t| t.join().expect("thread").expect("migrate"))
            .sum();
        assert_eq!(applied, MIGRATIONS.len());
    }

    /// Messages stored before search existed are indexed by the migration
    /// that creates the index; tombstones and system notices are not.
    #[test]
    fn the_search_migration_indexes_older_messages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("old.db")).expect("open");
        migrate_up_to(&mut conn, SEARCH_VERSION - 1).expect("migrate");
        for (seq, kind, text, deleted) in [
            (1, "text", Some("我家在上海东边 Hello"), 0),
            (2, "text", None, 1),
            (3, "system", Some("hello from the system"), 0),
            (4, "media", Some("hello caption"), 0),
        ] {
            conn.execute(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, kind, text, created_at, deleted)
                 VALUES (?1, 'c', ?2, 'u', ?3, ?4, 0, ?5)",
                rusqlite::params![format!("m{seq}"), seq, kind, text, deleted],
            )
            .expect("insert old message");
        }
        assert_eq!(
            migrate(&mut conn).expect("migrate"),
            MIGRATIONS.len() - (SEARCH_VERSION as usize - 1)
        );
        let found = |q: &str| -> Vec<String> {
            let mut stmt = conn
                .prepare(
                    "SELECT m.id FROM message_search JOIN messages m ON m.rowid = message_search.rowid
                     WHERE message_search MATCH ?1 ORDER BY m.seq",
                )
                .expect("prepare");
            stmt.query_map([q], |r| r.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        assert_eq!(found("hello"), ["m1", "m4"]);
        assert_eq!(found("\"上海\""), ["m1"]);
    }

    /// A database from before migration 4 keeps every event, readable by
    /// (conversation, seq) as before, and its uniqueness still holds.
    #[test]
    fn events_survive_the_move_to_arrival_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("old.db")).expect("open");
        assert_eq!(migrate_up_to(&mut conn, 3).expect("migrate to 3"), 3);
        for (conv, seq) in [("b", 1), ("a", 1), ("b", 2), ("a", 2), ("a", 3)] {
            conn.execute(
                "INSERT INTO events (conversation_id, seq, type, body) VALUES (?1, ?2, 'message.created', ?3)",
                rusqlite::params![conv, seq, format!("{{\"conversation_id\":\"{conv}\",\"seq\":{seq}}}")],
            )
            .expect("insert old event");
        }
        assert_eq!(migrate_up_to(&mut conn, 4).expect("migrate to 4"), 1);
        let read = |conv: &str| -> Vec<(i64, String)> {
            let mut stmt = conn
                .prepare("SELECT seq, body FROM events WHERE conversation_id = ?1 AND seq > 0 ORDER BY seq")
                .expect("prepare");
            stmt.query_map([conv], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        assert_eq!(
            read("a"),
            (1..=3)
                .map(|s| (s, format!("{{\"conversation_id\":\"a\",\"seq\":{s}}}")))
                .collect::<Vec<_>>()
        );
        assert_eq!(read("b").len(), 2);
        let duplicate = conn.execute(
            "INSERT INTO events (conversation_id, seq, type, body) VALUES ('a', 3, 'x', '{}')",
            [],
        );
        assert!(
            duplicate.is_err(),
            "(conversation_id, seq) must stay unique"
        );
        // New events append: their ids follow the copied ones.
        conn.execute(
            "INSERT INTO events (conversation_id, seq, type, body) VALUES ('a', 4, 'x', '{}')",
            [],
        )
        .expect("insert new event");
        let last: i64 = conn
            .query_row("SELECT max(id) FROM events", [], |r| r.get(0))
            .expect("max id");
        let new: i64 = conn
            .query_row(
                "SELECT id FROM events WHERE conversation_id = 'a' AND seq = 4",
                [],
                |r| r.get(0),
            )
            .expect("new id");
        assert_eq!(new, last);
        // Migrating again changes nothing.
        assert_eq!(migrate_up_to(&mut conn, 4).expect("migrate again"), 0);
    }

    /// Sends stored before `message_keys` keep their idempotency: the
    /// migration writes their keys, keeps every rowid (the search index
    /// refers to them) and every column.
    #[test]
    fn stored_sends_keep_their_keys_and_rowids_across_the_rebuild() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("old.db")).expect("open");
        migrate_up_to(&mut conn, MESSAGE_KEYS_VERSION - 1).expect("migrate");
        for (rowid, seq, client) in [(7, 1, Some("x-1")), (9, 2, None), (12, 3, Some("x-2"))] {
            conn.execute(
                "INSERT INTO messages (rowid, id, conversation_id, seq, sender_id, client_id, kind, text, created_at, system)
                 VALUES (?1, ?2, 'c', ?3, 'u', ?4, 'text', 'hello there', 5, NULL)",
                rusqlite::params![rowid, format!("m{seq}"), seq, client],
            )
            .expect("insert old message");
        }
        assert_eq!(migrate(&mut conn).expect("migrate"), 1);
        let keys: i64 = conn
            .query_row("SELECT count(*) FROM message_keys", [], |r| r.get(0))
            .expect("count");
        assert_eq!(keys, 2, "one key per message with a client id");
        let found = crate::client_keys::earlier_send(&conn, "c", "u", "x-2")
            .expect("lookup")
            .expect("the stored send");
        assert_eq!((found.id.as_str(), found.seq), ("m3", 3));
        assert!(
            crate::client_keys::earlier_send(&conn, "c", "v", "x-2")
                .expect("lookup")
                .is_none()
        );
        assert!(
            crate::client_keys::earlier_send(&conn, "d", "u", "x-2")
                .expect("lookup")
                .is_none()
        );
        let rowids: Vec<i64> = conn
            .prepare("SELECT rowid FROM messages ORDER BY seq")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rowids, [7, 9, 12]);
        // (conversation_id, seq) stays unique.
        assert!(conn
            .execute(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, kind, created_at) VALUES ('m9', 'c', 3, 'u', 'text', 0)",
                [],
            )
            .is_err());
    }
}
