//! Embedded migrations, applied in order, each once, each in a transaction
//! (PostgreSQL has transactional DDL, so a failed migration leaves nothing).
//!
//! Unlike SQLite, several processes may start at once against one
//! database: each migration's transaction first takes a transaction-level
//! advisory lock, so migrators queue, and the one that comes second sees
//! the version recorded and skips it.

use tokio_postgres::Client;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_event_ids.sql")),
    (3, include_str!("../migrations/0003_moderation.sql")),
    (4, include_str!("../migrations/0004_media.sql")),
    (5, include_str!("../migrations/0005_support.sql")),
    (6, include_str!("../migrations/0006_support_inboxes.sql")),
    (7, include_str!("../migrations/0007_notification_prefs.sql")),
    (8, include_str!("../migrations/0008_webhooks_outbox.sql")),
    (9, include_str!("../migrations/0009_push.sql")),
    (10, include_str!("../migrations/0010_email_digests.sql")),
    (11, include_str!("../migrations/0011_push_fanout.sql")),
    (12, include_str!("../migrations/0012_push_read.sql")),
    (13, include_str!("../migrations/0013_do_not_disturb.sql")),
    (
        SEARCH_VERSION,
        include_str!("../migrations/0014_search.sql"),
    ),
    (15, include_str!("../migrations/0015_retention.sql")),
    (16, include_str!("../migrations/0016_chat_states.sql")),
    (17, include_str!("../migrations/0017_message_marks.sql")),
];

/// The migration that creates the search index; the messages stored
/// before it are indexed in its transaction.
const SEARCH_VERSION: i64 = 14;

/// Key of the advisory lock that serialises migrators ("parley" in ASCII).
const LOCK_KEY: i64 = 0x7061_726c_6579;

pub async fn migrate(client: &mut Client) -> Result<usize, tokio_postgres::Error> {
    let mut applied = 0;
    for (version, sql) in MIGRATIONS {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await?;
        let done: bool = tx
            .query_one(
                "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = $1)",
                &[version],
            )
            .await?
            .try_get(0)?;
        if done {
            tx.commit().await?;
            continue;
        }
        tx.batch_execute(sql).await?;
        if *version == SEARCH_VERSION {
            crate::search::backfill(&tx).await?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[version, &parley_protocol::Timestamp::now().millis()],
        )
        .await?;
        tx.commit().await?;
        applied += 1;
    }
    Ok(applied)
}
