//! A few seconds of each workload against a real in-process server, so the
//! load generator cannot rot: zero errors and zero lost messages.

use parley_server::config::{Config, Settings};
use std::time::Duration;

async fn server() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::from_settings(Settings {
        data_dir: Some(dir.path().to_path_buf()),
        rate_limits: Some("off".into()),
        ..Settings::default()
    })
    .expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(parley_server::run(listener, config, std::future::pending()));
    (url, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_throughput_run_clean() {
    let (url, _dir) = server().await;
    let lat = parley_bench::latency(&url, &url, 20, 64)
        .await
        .expect("latency");
    assert!(lat.ok(), "{}", lat.table());
    assert_eq!(lat.latencies_us.len(), 20);
    let tp = parley_bench::throughput(std::slice::from_ref(&url), 2, 2, Duration::from_secs(1), 64)
        .await
        .expect("throughput");
    assert!(tp.ok(), "{}", tp.table());
    assert!(tp.messages > 0);
}

#[tokio::test]
async fn footprint_measures_the_real_binary() {
    // The server binary this workspace built (debug here; release in runs).
    let exe = std::env::current_exe().expect("exe");
    let target = exe.parent().and_then(|p| p.parent()).expect("target dir");
    let binary = target.join("parley");
    if !binary.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "the parley binary must be built before this test under CI"
        );
        eprintln!("skipping: {} not built", binary.display());
        return;
    }
    let f = parley_bench::footprint(&binary).await.expect("footprint");
    assert!(
        f.binary_bytes > 0 && f.ready_ms > 0.0 && f.idle_rss_kib > 0,
        "{}",
        f.table()
    );
}
