//! The storage conformance suite on SQLite.

use parley_server::store::Store;
use parley_server::store::conformance::{self, Captured, Factory};
use parley_server::store::sqlite::SqliteStore;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_conforms() {
    let dirs: Arc<std::sync::Mutex<Vec<tempfile::TempDir>>> = Arc::default();
    let keep = dirs.clone();
    let factory: Factory = Arc::new(move |captured: Captured| {
        let keep = keep.clone();
        Box::pin(async move {
            let dir = tempfile::tempdir().expect("tempdir");
            let sink = Arc::new(move |d| captured.lock().expect("lock").extend(d));
            let store = SqliteStore::open(&dir.path().join("t.db"), sink).expect("open");
            keep.lock().expect("lock").push(dir);
            Arc::new(store) as Arc<dyn Store>
        })
    });
    conformance::run_all(factory).await;
}

/// The writer never checkpoints; a thread of its own copies committed WAL
/// frames into the database file within moments, so the WAL does not grow
/// without bound and no send waits for a checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_writes_reach_the_database_file_promptly() {
    use parley_protocol::{Role, Timestamp};
    use parley_server::store::NewUser;
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
            .create_user(NewUser {
                id: format!("01900000-0000-7000-8000-{i:012}"),
                username: format!("checkpoint_user_{i}"),
                display_name: "x".repeat(100),
                role: Role::User,
                password_hash: None,
                external_sub: None,
                avatar_url: None,
                is_bot: false,
                created_at: Timestamp::now(),
            })
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
