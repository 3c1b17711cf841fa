//! Embedded migrations, applied in order, each once, each in a transaction.

use rusqlite::Connection;

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_receipts_blocks.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_search_names.sql"),
    ),
];

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<usize> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let mut applied = 0;
    for (version, sql) in MIGRATIONS {
        let done: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if done {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![version, parley_protocol::Timestamp::now().millis()],
        )?;
        tx.commit()?;
        applied += 1;
    }
    Ok(applied)
}
