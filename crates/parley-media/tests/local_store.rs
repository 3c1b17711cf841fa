//! The local store passes the conformance suite, and leaves nothing in its
//! temporary folder.

use bytes::Bytes;
use parley_media::{BlobStore, LocalBlobStore};

fn tmp_entries(store: &LocalBlobStore) -> usize {
    std::fs::read_dir(store.tmp_dir()).expect("tmp dir").count()
}

#[tokio::test]
async fn conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalBlobStore::new(dir.path().to_path_buf()).expect("open");
    parley_media::conformance::run(&store).await;
    assert_eq!(tmp_entries(&store), 0, "the suite left temporary files");
}

#[tokio::test]
async fn objects_are_sharded_by_the_first_two_characters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalBlobStore::new(dir.path().to_path_buf()).expect("open");
    store
        .put("abcdef", Bytes::from_static(b"1"))
        .await
        .expect("put");
    store.put("z", Bytes::from_static(b"2")).await.expect("put");
    assert!(dir.path().join("objects/ab/abcdef").is_file());
    assert!(dir.path().join("objects/z/z").is_file());
}

#[tokio::test]
async fn a_dropped_upload_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalBlobStore::new(dir.path().to_path_buf()).expect("open");
    let mut upload = store.begin().await.expect("begin");
    upload.write(b"half an upload").await.expect("write");
    let path = upload.path().to_path_buf();
    assert!(path.starts_with(store.tmp_dir()));
    assert!(path.is_file());
    drop(upload);
    assert!(!path.exists());
    assert_eq!(tmp_entries(&store), 0);

    // A commit refused for its key drops the upload too.
    let mut upload = store.begin().await.expect("begin");
    upload.write(b"x").await.expect("write");
    assert!(store.commit(upload, "../x").await.is_err());
    assert_eq!(tmp_entries(&store), 0);

    // A committed upload has left tmp for objects.
    let mut upload = store.begin().await.expect("begin");
    upload.write(b"kept").await.expect("write");
    store.commit(upload, "kept").await.expect("commit");
    assert_eq!(tmp_entries(&store), 0);
    assert_eq!(store.size("kept").await.expect("size"), Some(4));
}

#[tokio::test]
async fn opening_removes_leftover_temporary_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalBlobStore::new(dir.path().to_path_buf()).expect("open");
    store
        .put("survivor", Bytes::from_static(b"s"))
        .await
        .expect("put");
    let upload = store.begin().await.expect("begin");
    // A crash: the upload is never dropped.
    let leftover = upload.path().to_path_buf();
    std::mem::forget(upload);
    std::fs::write(store.tmp_dir().join("stray"), b"junk").expect("write");
    assert!(leftover.exists());

    let reopened = LocalBlobStore::new(dir.path().to_path_buf()).expect("reopen");
    assert_eq!(tmp_entries(&reopened), 0);
    assert_eq!(reopened.size("survivor").await.expect("size"), Some(1));
}
