//! The behaviour every [`BlobStore`] must have, as one async function that
//! a backend's tests call on a fresh store. It panics at the first
//! difference (like a test). Compiled only with the `conformance` feature.

use bytes::Bytes;
use futures_util::StreamExt;

use crate::blob::{BlobError, BlobStore, CHUNK_SIZE};

/// Reads `[start, end)` of `key` whole, checking that no chunk is larger
/// than [`CHUNK_SIZE`].
pub async fn read_all(store: &dyn BlobStore, key: &str, start: u64, end: u64) -> Vec<u8> {
    let mut stream = store
        .read_range(key, start, end)
        .await
        .expect("read_range of an existing object");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("a chunk of the object");
        assert!(
            chunk.len() <= CHUNK_SIZE,
            "a chunk of {} bytes",
            chunk.len()
        );
        out.extend_from_slice(&chunk);
    }
    out
}

/// Some bytes that are not all alike, so a misplaced range shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Runs every check on `store`, which should be empty.
pub async fn run(store: &dyn BlobStore) {
    begin_write_commit_read(store).await;
    put_replaces_and_reads(store).await;
    delete_twice(store).await;
    invalid_keys(store).await;
    missing_objects(store).await;
}

async fn begin_write_commit_read(store: &dyn BlobStore) {
    // Larger than two chunks, not a multiple of one.
    let data = pattern(2 * CHUNK_SIZE + 1234);
    let mut upload = store.begin().await.expect("begin");
    assert!(upload.is_empty());
    for part in data.chunks(10_000) {
        upload.write(part).await.expect("write");
    }
    assert_eq!(upload.len(), data.len() as u64);
    upload.flush().await.expect("flush");
    // The temporary file holds every byte written (inspect reads it).
    let on_disk = std::fs::read(upload.path()).expect("the upload's file is readable");
    assert_eq!(on_disk, data, "the temporary file has the bytes written");

    store.commit(upload, "conf-upload").await.expect("commit");
    let len = data.len() as u64;
    assert_eq!(store.size("conf-upload").await.expect("size"), Some(len));

    assert_eq!(read_all(store, "conf-upload", 0, len).await, data, "whole");
    assert_eq!(
        read_all(store, "conf-upload", 100, 70_000).await,
        data[100..70_000],
        "middle"
    );
    assert_eq!(
        read_all(store, "conf-upload", len - 10, len).await,
        data[data.len() - 10..],
        "tail"
    );
    assert!(
        read_all(store, "conf-upload", 5, 5).await.is_empty(),
        "empty range"
    );
    assert_eq!(
        read_all(store, "conf-upload", len - 3, len + 1000).await,
        data[data.len() - 3..],
        "an end past the object is clamped"
    );
    assert!(
        read_all(store, "conf-upload", len + 5, len + 10)
            .await
            .is_empty(),
        "a start past the object reads nothing"
    );
    assert!(matches!(
        store.read_range("conf-upload", 10, 5).await,
        Err(BlobError::InvalidRange { start: 10, end: 5 })
    ));

    // A committed key can be committed again: the new bytes replace it.
    let mut again = store.begin().await.expect("begin");
    again.write(b"second").await.expect("write");
    store
        .commit(again, "conf-upload")
        .await
        .expect("commit over");
    assert_eq!(read_all(store, "conf-upload", 0, 100).await, b"second");
    store.delete("conf-upload").await.expect("delete");
}

async fn put_replaces_and_reads(store: &dyn BlobStore) {
    store
        .put("conf-put.thumb", Bytes::from_static(b"hello thumbnail"))
        .await
        .expect("put");
    assert_eq!(store.size("conf-put.thumb").await.expect("size"), Some(15));
    assert_eq!(
        read_all(store, "conf-put.thumb", 0, 15).await,
        b"hello thumbnail"
    );
    assert_eq!(read_all(store, "conf-put.thumb", 6, 11).await, b"thumb");
    store
        .put("conf-put.thumb", Bytes::from_static(b"v2"))
        .await
        .expect("put over");
    assert_eq!(read_all(store, "conf-put.thumb", 0, 15).await, b"v2");
    store
        .put("conf-empty", Bytes::new())
        .await
        .expect("put empty");
    assert_eq!(store.size("conf-empty").await.expect("size"), Some(0));
    assert!(read_all(store, "conf-empty", 0, 0).await.is_empty());
    store.delete("conf-put.thumb").await.expect("delete");
    store.delete("conf-empty").await.expect("delete");
}

async fn delete_twice(store: &dyn BlobStore) {
    store
        .put("conf-delete", Bytes::from_static(b"x"))
        .await
        .expect("put");
    store.delete("conf-delete").await.expect("delete");
    assert_eq!(store.size("conf-delete").await.expect("size"), None);
    store
        .delete("conf-delete")
        .await
        .expect("a second delete is fine");
    assert!(matches!(
        store.read_range("conf-delete", 0, 1).await,
        Err(BlobError::NotFound)
    ));
}

async fn invalid_keys(store: &dyn BlobStore) {
    let long = "k".repeat(129);
    for key in [
        "",
        ".",
        "..",
        "../escape",
        "a/b",
        "a b",
        "ключ",
        "x\0",
        long.as_str(),
    ] {
        let refused = |r: Result<(), BlobError>| matches!(r, Err(BlobError::InvalidKey));
        assert!(
            refused(store.put(key, Bytes::from_static(b"x")).await),
            "put {key:?}"
        );
        assert!(
            matches!(store.size(key).await, Err(BlobError::InvalidKey)),
            "size {key:?}"
        );
        assert!(
            matches!(
                store.read_range(key, 0, 1).await,
                Err(BlobError::InvalidKey)
            ),
            "read_range {key:?}"
        );
        assert!(refused(store.delete(key).await), "delete {key:?}");
        let upload = store.begin().await.expect("begin");
        assert!(refused(store.commit(upload, key).await), "commit {key:?}");
    }
    // The longest allowed key works.
    let longest = "k".repeat(128);
    store
        .put(&longest, Bytes::from_static(b"ok"))
        .await
        .expect("a 128-character key");
    store.delete(&longest).await.expect("delete");
}

async fn missing_objects(store: &dyn BlobStore) {
    assert_eq!(store.size("conf-never").await.expect("size"), None);
    assert!(matches!(
        store.read_range("conf-never", 0, 10).await,
        Err(BlobError::NotFound)
    ));
}
