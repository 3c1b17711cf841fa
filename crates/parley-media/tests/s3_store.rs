//! The conformance suite on [`S3BlobStore`] against a real S3-compatible
//! server: `PARLEY_TEST_S3_ENDPOINT` (e.g. `http://127.0.0.1:9000`, the
//! moto server `.ci/run` starts). Without it the tests are skipped, except
//! under `CI` (env set), where they fail. Each test makes its own bucket.

use parley_media::{BlobStore, S3BlobStore, S3Config};

/// A fresh bucket on the test server, or `None` (skip) off CI.
async fn fresh_store(tmp: &std::path::Path, prefix: &str) -> Option<(S3BlobStore, String)> {
    let (endpoint, bucket) = parley_media::fixtures::s3_test_bucket().await?;
    let store = S3BlobStore::new(S3Config {
        bucket: bucket.clone(),
        prefix: prefix.into(),
        endpoint: Some(endpoint),
        region: "us-east-1".into(),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        tmp_dir: tmp.to_path_buf(),
    })
    .expect("client");
    store.check().await.expect("the bucket is reachable");
    Some((store, bucket))
}

#[tokio::test]
async fn s3_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("tmp");
    let Some((store, _)) = fresh_store(dir.path(), "deployment/media").await else {
        return;
    };
    parley_media::conformance::run(&store).await;
    assert_eq!(
        std::fs::read_dir(store.tmp_dir()).expect("tmp").count(),
        0,
        "every upload's temporary file is gone after its commit"
    );
}

#[tokio::test]
async fn a_large_upload_goes_up_in_parts_and_reads_back_by_range() {
    let dir = tempfile::tempdir().expect("tmp");
    let Some((store, _)) = fresh_store(dir.path(), "").await else {
        return;
    };
    // Three parts and a bit: the multipart path, with a short last part.
    let len = 3 * parley_media::s3::PART_SIZE + 12_345;
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
    let mut upload = store.begin().await.expect("begin");
    for part in data.chunks(1 << 20) {
        upload.write(part).await.expect("write");
    }
    store.commit(upload, "big").await.expect("commit");
    assert_eq!(store.size("big").await.expect("size"), Some(len as u64));
    let at = parley_media::s3::PART_SIZE as u64 - 10;
    let across = parley_media::conformance::read_all(&store, "big", at, at + 20).await;
    assert_eq!(
        across,
        data[at as usize..at as usize + 20],
        "a range across two parts"
    );
    let whole = parley_media::conformance::read_all(&store, "big", 0, len as u64).await;
    assert!(whole == data, "the whole object reads back byte for byte");
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_the_start_check_in_bounded_time() {
    let dir = tempfile::tempdir().expect("tmp");
    // A port nothing listens on: refused at once, retried a bounded number of times.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let store = S3BlobStore::new(S3Config {
        bucket: "nowhere".into(),
        prefix: String::new(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: "us-east-1".into(),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        tmp_dir: dir.path().to_path_buf(),
    })
    .expect("client");
    let started = std::time::Instant::now();
    assert!(store.check().await.is_err(), "no server, no start");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(70),
        "took {:?}",
        started.elapsed()
    );
}
