//! The storage ceiling: raw batched inserts of rows shaped like a Parley
//! message send (one `events` row, one `messages` row with a random
//! client id and its idempotency key, the same tables and keys as the
//! server's SQLite schema) into a file with WAL and
//! `synchronous=FULL`, with the server's group-commit semantics: one
//! `BEGIN IMMEDIATE` per batch, one savepoint per send, one durable commit.

use crate::report::Report;
use rusqlite::{Connection, params};
use std::time::{Duration, Instant};

/// The server's SQLite migrations, in order, so the ceiling inserts into
/// the very tables and indexes a send writes.
use parley_store_sqlite::MIGRATIONS as SERVER_SCHEMA;

/// Inserts for `duration`, `batch` sends per commit, spread over
/// `conversations` conversations. `messages` in the report are sends
/// (two rows each); latencies are per-commit times.
pub fn run(
    duration: Duration,
    batch: usize,
    conversations: usize,
    body_bytes: usize,
) -> anyhow::Result<Report> {
    let dir = tempfile::Builder::new()
        .prefix("parley-ceiling-")
        .tempdir()?;
    let mut conn = Connection::open(dir.path().join("ceiling.db"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -16000;",
    )?;
    for (_, migration) in SERVER_SCHEMA {
        conn.execute_batch(migration)?;
    }
    let batch = batch.max(1);
    let conversations = conversations.max(1);
    let convs: Vec<String> = (0..conversations)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let sender = uuid::Uuid::now_v7().to_string();
    let text = "x".repeat(body_bytes.max(1));
    let mut seqs = vec![0u64; conversations];
    let mut report = Report::new(
        format!("ceiling-sqlite WAL synchronous=FULL, {batch} sends per commit"),
        "commit",
    );
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < duration {
        let t0 = Instant::now();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for _ in 0..batch {
            let c = (n as usize) % conversations;
            seqs[c] += 1;
            let seq = seqs[c];
            let id = uuid::Uuid::now_v7().to_string();
            // Random, as real clients make them.
            let client_id = uuid::Uuid::new_v4();
            let client_key = i64::from_be_bytes(client_id.as_bytes()[..8].try_into()?);
            let body = format!(
                r#"{{"conversation_id":"{}","seq":{seq},"type":"message.created","actor_id":"{sender}","at":"2026-11-30T00:00:00.000Z","data":{{"message":{{"id":"{id}","text":"{text}"}}}}}}"#,
                convs[c]
            );
            tx.execute_batch("SAVEPOINT send")?;
            tx.prepare_cached(
                "INSERT INTO events (conversation_id, seq, type, body) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![convs[c], seq, "message.created", body])?;
            tx.prepare_cached(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'text', ?6, ?7)",
            )?
            .execute(params![id, convs[c], seq, sender, client_id.to_string(), text, 0])?;
            // The send's idempotency key, as the server stores it: a
            // 64-bit hash (here the client id's own random bits, which
            // cost the same) next to the message's rowid.
            tx.prepare_cached(
                "INSERT INTO message_keys (key, message_rowid) VALUES (?1, last_insert_rowid())",
            )?
            .execute(params![client_key])?;
            tx.execute_batch("RELEASE send")?;
            n += 1;
        }
        tx.commit()?;
        report.latencies_us.push(t0.elapsed().as_micros() as u64);
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.messages = n;
    report.figure(
        "rows/s (2 rows per send)",
        2.0 * n as f64 / report.seconds,
        "",
    );
    Ok(report.finish())
}
