//! What only SQLite has: the checkpoint thread, the bounded WAL, and what
//! a corrupt stored value does.

use parley_protocol::{Role, Timestamp};
use parley_store::ids::new_id;
use parley_store::{ConversationStore, NewUser, Store, StoreError, UserStore};
use parley_store_sqlite::SqliteStore;
use std::sync::Arc;

fn new_user(id: String, username: String, display_name: String) -> NewUser {
    NewUser {
        id,
        username,
        display_name,
        role: Role::User,
        password_hash: None,
        external_sub: None,
        avatar_url: None,
        is_bot: false,
        created_at: Timestamp::now(),
    }
}

/// A thread of its own copies committed WAL frames into the database file
/// within moments, so that no send waits for the bulk of a checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_writes_reach_the_database_file_promptly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path, Arc::new(|_| {})).expect("open");
    let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    // Let the migration's own pages settle into the file first.
    let mut before = size();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = size();
        if now == before && now > 0 {
            break;
        }
        before = now;
    }
    for i in 0..500 {
        store
            .create_user(new_user(
                format!("01900000-0000-7000-8000-{i:012}"),
                format!("checkpoint_user_{i}"),
                "x".repeat(100),
            ))
            .await
            .expect("create user");
    }
    let mut grown = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if size() > before {
            grown = true;
            break;
        }
    }
    assert!(
        grown,
        "the database file stayed at {before} bytes: no checkpoint ran"
    );
}

/// Under sustained writes the background checkpoint never catches up with
/// the very last commit, and the log only starts over when it has: the WAL
/// grew without bound (2.2 GB in 12 s of W3). The writer checkpoints the
/// tail of a long log itself, so it stays near `RESTART_FRAMES` pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_sustained_writes() {
    use parley_protocol::MessageKind;
    use parley_store::NewMessage;
    use parley_store_sqlite::RESTART_FRAMES;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let wal = dir.path().join("t.db-wal");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, Arc::new(|_| {})).expect("open"));
    let mut ids = Vec::new();
    for name in ["wal_a", "wal_b"] {
        let u = store
            .create_user(new_user(new_id(), name.into(), name.into()))
            .await
            .expect("create user");
        ids.push(u.id);
    }
    let (conv, _) = store
        .get_or_create_direct(&new_id(), &ids[0], &ids[1], Timestamp::now())
        .await
        .expect("direct");
    // Sends of ~3 KB each, 32 at a time: about 5x the restart length of log
    // in all (5x), with no pause for the checkpoint thread to catch up.
    let limit = RESTART_FRAMES as u64 * 4096;
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (wal, watching) = (wal.clone(), watching.clone());
        tokio::spawn(async move {
            let mut largest = 0;
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            largest
        })
    };
    let text = "w".repeat(3000);
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..32 {
        let (store, conv, sender, text) = (
            store.clone(),
            conv.clone(),
            ids[t % 2].clone(),
            text.clone(),
        );
        tasks.spawn(async move {
            for i in 0..400 {
                store
                    .send_message(
                        NewMessage {
                            id: new_id(),
                            conversation_id: conv.clone(),
                            sender_id: sender.clone(),
                            client_id: Some(format!("{t}-{i}")),
                            kind: MessageKind::Text,
                            text: Some(text.clone()),
                            reply_to: None,
                            mentions: vec![],
                            attachments: vec![],
                            at: Timestamp::now(),
                        },
                        None,
                    )
                    .await
                    .expect("send");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("sender");
    }
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let largest = watcher.await.expect("watcher");
    assert!(
        largest <= limit + limit / 2,
        "the WAL reached {largest} bytes (restart length {limit})"
    );
}

/// A value the server cannot have written (an unknown role) is an
/// internal error when read, never quietly taken for a default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_stored_value_is_an_internal_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path, Arc::new(|_| {})).expect("open");
    let id = new_id();
    store
        .create_user(new_user(id.clone(), "corrupt_a".into(), "A".into()))
        .await
        .expect("create user");
    let other = store
        .create_user(new_user(new_id(), "corrupt_b".into(), "B".into()))
        .await
        .expect("create user");
    let (conv, _) = store
        .get_or_create_direct(&new_id(), &id, &other.id, Timestamp::now())
        .await
        .expect("direct");
    {
        let raw = rusqlite::Connection::open(&path).expect("open raw");
        raw.busy_timeout(std::time::Duration::from_secs(5))
            .expect("timeout");
        raw.execute("UPDATE users SET role = 'emperor' WHERE id = ?1", [&id])
            .expect("corrupt the role");
        raw.execute(
            "UPDATE members SET role = 'tsar' WHERE conversation_id = ?1 AND user_id = ?2",
            [&conv, &id],
        )
        .expect("corrupt the member role");
    }
    match store.user_by_id(&id).await {
        Err(StoreError::Internal(e)) => assert!(e.contains("emperor"), "{e}"),
        other => panic!("a corrupt role must be an internal error, got {other:?}"),
    }
    match store.conversation(&id, &conv).await {
        Err(StoreError::Internal(_)) => {}
        other => panic!("a corrupt member role must be an internal error, got {other:?}"),
    }
    assert!(store.ping().await.is_ok(), "the store itself is fine");
}
