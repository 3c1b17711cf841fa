//! Media in an S3-compatible bucket (`--media-store s3://...`): two server
//! processes sharing one PostgreSQL, Redis and bucket serve each other's
//! uploads, with ranges, thumbnails and signed URLs, and keep nothing on
//! their own disks. The bucket server is `PARLEY_TEST_S3_ENDPOINT` (the
//! moto server `.ci/run` starts); without it (or PostgreSQL and Redis) the
//! tests are skipped, except under `CI`, where they fail.

use crate::cluster::services;
use crate::helpers::*;
use parley_protocol::SendMessageRequest;

/// The keys in `bucket` (an unsigned ListObjectsV2, which moto answers).
async fn keys(endpoint: &str, bucket: &str) -> Vec<String> {
    let xml = reqwest::get(format!("{endpoint}/{bucket}?list-type=2"))
        .await
        .expect("list")
        .text()
        .await
        .expect("body");
    xml.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_string)
        .collect()
}

/// Files under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                files_under(&e.path())
            } else {
                1
            }
        })
        .sum()
}

async fn get(url: &str, token: Option<&str>, range: Option<&str>) -> (u16, Vec<u8>) {
    let mut r = reqwest::Client::new().get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(range) = range {
        r = r.header("range", range);
    }
    let resp = r.send().await.expect("get");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.expect("body").to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_uploads_through_one_bucket() {
    let Some(svc) = services().await else { return };
    let Some((endpoint, bucket)) = parley_media::fixtures::s3_test_bucket().await else {
        return;
    };
    let store = format!("s3://{bucket}/deploy");
    let s3_args = [
        "--media-store",
        store.as_str(),
        "--s3-endpoint",
        endpoint.as_str(),
        "--s3-access-key-id",
        "test",
        "--s3-secret-access-key",
        "test",
    ];
    let (dir1, dir2) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let n1 = svc.node_with_args(dir1.path(), &svc.redis_url, &s3_args);
    let n2 = svc.node_with_args(dir2.path(), &svc.redis_url, &s3_args);

    let a = parley_sdk::Client::new(&n1.base_url).expect("client");
    a.register(&unique("s3_a"), PASSWORD, None)
        .await
        .expect("register");
    let b = parley_sdk::Client::new(&n2.base_url).expect("client");
    let bu = b
        .register(&unique("s3_b"), PASSWORD, None)
        .await
        .expect("register")
        .user;
    let conv = a.create_direct(&bu.id).await.expect("direct").0;

    // A photo (thumbnail made) and a 20 MiB video (a multipart upload), both
    // through process 1.
    let photo = parley_media::fixtures::png_of(&image::DynamicImage::ImageRgb8(
        parley_media::fixtures::gradient(800, 600),
    ));
    let mut video = vec![0, 0, 0, 24];
    video.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    video.extend((0..20 * 1024 * 1024).map(|i: usize| (i % 251) as u8));
    let token_a = a.token().expect("token");
    let mut ids = Vec::new();
    for (name, bytes) in [("photo.png", &photo), ("clip.mp4", &video)] {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name),
        );
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/media", n1.base_url))
            .bearer_auth(&token_a)
            .multipart(form)
            .send()
            .await
            .expect("upload");
        let status = r.status();
        let m: serde_json::Value = r.json().await.expect("json");
        assert_eq!(status, 201, "{m}");
        ids.push(m["id"].as_str().expect("id").to_string());
    }
    a.send_message(
        &conv.id,
        &SendMessageRequest {
            client_id: "s3-1".into(),
            text: Some("from the bucket".into()),
            attachments: Some(ids.clone()),
            reply_to: None,
        },
    )
    .await
    .expect("send with attachments");

    // Process 2 serves both to the peer: whole, by range, the thumbnail,
    // and by a signed URL without a token.
    let token_b = b.token().expect("token");
    let photo_url = format!("{}/api/v1/media/{}", n2.base_url, ids[0]);
    assert_eq!(
        get(&photo_url, Some(&token_b), None).await,
        (200, photo.clone())
    );
    let (code, thumb) = get(&format!("{photo_url}/thumbnail"), Some(&token_b), None).await;
    assert_eq!(code, 200);
    assert!(
        image::load_from_memory(&thumb).is_ok(),
        "the thumbnail is an image"
    );
    let video_url = format!("{}/api/v1/media/{}", n2.base_url, ids[1]);
    let mid = 9 * 1024 * 1024;
    let (code, part) = get(
        &video_url,
        Some(&token_b),
        Some(&format!("bytes={mid}-{}", mid + 99)),
    )
    .await;
    assert_eq!((code, part.as_slice()), (206, &video[mid..mid + 100]));
    assert_eq!(
        get(&video_url, Some(&token_b), Some("bytes=0-1")).await,
        (206, video[..2].to_vec())
    );
    let (code, signed) = get(&format!("{video_url}/signed"), Some(&token_b), None).await;
    assert_eq!(code, 200);
    let signed: serde_json::Value = serde_json::from_slice(&signed).expect("json");
    let surl = format!("{}{}", n1.base_url, signed["url"].as_str().expect("url"));
    let (code, whole) = get(&surl, None, None).await;
    assert!(
        code == 200 && whole == video,
        "a signed URL from process 2 works on process 1"
    );

    // The bytes are in the bucket under the prefix, not on either disk.
    let stored = keys(&endpoint, &bucket).await;
    for id in &ids {
        assert!(
            stored.iter().any(|k| k == &format!("deploy/{id}")),
            "{id} in {stored:?}"
        );
    }
    assert!(
        stored.iter().all(|k| k.starts_with("deploy/")),
        "{stored:?}"
    );
    for dir in [dir1.path(), dir2.path()] {
        assert_eq!(files_under(&dir.join("media")), 0, "nothing kept locally");
    }
    drop((n1, n2));
}

#[tokio::test]
async fn a_server_with_an_unreachable_bucket_does_not_start() {
    let dir = tempfile::tempdir().expect("tmp");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(["--media-store", "s3://nowhere", "--s3-endpoint", &endpoint])
        .args([
            "--s3-access-key-id",
            "k",
            "--s3-secret-access-key",
            "very-secret-key",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the server still runs without its bucket"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let out = child.wait_with_output().expect("output");
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!status.success(), "{said}");
    assert!(
        said.contains("s3://nowhere"),
        "the error names the store: {said}"
    );
    assert!(
        !said.contains("very-secret-key"),
        "no secret in the output: {said}"
    );
}
