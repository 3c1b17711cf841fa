//! The storage conformance suite on SQLite, one test per area so that one
//! failing area does not hide the others.

use parley_store::Store;
use parley_store::conformance::{self, Captured, Factory};
use parley_store_sqlite::SqliteStore;
use std::sync::{Arc, Mutex};

/// Fresh stores in temporary directories, kept until the test ends.
fn factory() -> (Factory, Arc<Mutex<Vec<tempfile::TempDir>>>) {
    let dirs: Arc<Mutex<Vec<tempfile::TempDir>>> = Arc::default();
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
    (factory, dirs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users() {
    let (f, _dirs) = factory();
    conformance::users::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations() {
    let (f, _dirs) = factory();
    conformance::conversations::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages() {
    let (f, _dirs) = factory();
    conformance::messages::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts() {
    let (f, _dirs) = factory();
    conformance::receipts::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks() {
    let (f, _dirs) = factory();
    conformance::blocks::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_state() {
    let (f, _dirs) = factory();
    conformance::chat_state::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_marks() {
    let (f, _dirs) = factory();
    conformance::message_marks::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactors() {
    let (f, _dirs) = factory();
    conformance::reactors::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation() {
    let (f, _dirs) = factory();
    conformance::moderation::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks() {
    let (f, _dirs) = factory();
    conformance::webhooks::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications() {
    let (f, _dirs) = factory();
    conformance::notifications::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push() {
    let (f, _dirs) = factory();
    conformance::push::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests() {
    let (f, _dirs) = factory();
    conformance::digests::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media() {
    let (f, _dirs) = factory();
    conformance::media::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support() {
    let dirs: Arc<Mutex<Vec<tempfile::TempDir>>> = Arc::default();
    let keep = dirs.clone();
    let factory: conformance::support::SupportFactory = Arc::new(move |captured: Captured| {
        let keep = keep.clone();
        Box::pin(async move {
            let dir = tempfile::tempdir().expect("tempdir");
            let sink = Arc::new(move |d| captured.lock().expect("lock").extend(d));
            let store = Arc::new(SqliteStore::open(&dir.path().join("t.db"), sink).expect("open"));
            keep.lock().expect("lock").push(dir);
            (
                store.clone() as Arc<dyn Store>,
                store as Arc<dyn parley_store::SupportStore>,
            )
        })
    });
    conformance::support::run(&factory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search() {
    let (f, _dirs) = factory();
    conformance::search::run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention() {
    let (f, _dirs) = factory();
    conformance::retention::run(&f).await;
}
