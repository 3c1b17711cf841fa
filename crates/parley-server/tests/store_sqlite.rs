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
