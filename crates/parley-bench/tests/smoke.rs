//! A few seconds of every workload, at tiny sizes, against a real
//! in-process server, so the load generator cannot rot: zero errors, zero
//! lost messages, and figures produced.

use parley_bench::backend::Backend;
use parley_bench::ceiling::fanout::FanoutServer;
use parley_bench::server::{Server, ServerSpec};
use parley_bench::workloads::{cluster, group, idle, media, mix, reconnect, synapse};
use parley_server::config::{Config, Settings};
use std::time::Duration;

const SECRET: &str = "smoke-test-external-secret";

/// An in-process server that trusts the bench's external JWTs; the test
/// process's own pid stands in for the server's.
async fn server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::from_settings(Settings {
        data_dir: Some(dir.path().to_path_buf()),
        rate_limits: Some("off".into()),
        external_jwt_alg: Some("HS256".into()),
        external_jwt_secret: Some(SECRET.into()),
        ..Settings::default()
    })
    .expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(parley_server::run(listener, config, std::future::pending()));
    let spec = ServerSpec {
        url: Some(url),
        pid: Some(std::process::id()),
        external_jwt_secret: Some(SECRET.into()),
        ..ServerSpec::default()
    };
    (Server::open(&spec).await.expect("server"), dir)
}

fn mix_opts() -> mix::MixOpts {
    mix::MixOpts {
        users: 20,
        directs: 5,
        groups: 2,
        group_size: 5,
        rate: 100.0,
        seconds: 1,
        bytes: 64,
        connect_concurrency: 8,
    }
}

fn group_opts() -> group::GroupOpts {
    group::GroupOpts {
        members: 12,
        messages: 3,
        pause_ms: 10,
        bytes: 64,
        connect_concurrency: 8,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w1_idle_runs_clean() {
    let (s, _dir) = server().await;
    let opts = idle::IdleOpts {
        connections: 20,
        hold_seconds: 1,
        connect_concurrency: 8,
    };
    let r = idle::run(&s, &opts).await.expect("w1");
    assert!(r.ok(), "{}", r.table());
    assert_eq!(r.messages, 20);
    assert!(
        r.get("server RSS per connection above idle").is_some(),
        "{}",
        r.table()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w2_mix_and_its_ceiling_run_clean() {
    let (s, _dir) = server().await;
    let r = mix::run(&Backend::parley(&s), &mix_opts())
        .await
        .expect("w2");
    assert!(r.ok(), "{}", r.table());
    assert!(
        r.messages > 0 && r.deliveries > 0 && !r.latencies_us.is_empty(),
        "{}",
        r.table()
    );
    assert!(r.server_cpu_s.is_some());
    let fan = FanoutServer::start().await.expect("fan-out");
    let c = mix::run(&Backend::fanout(&fan), &mix_opts())
        .await
        .expect("ceiling");
    assert!(c.ok() && c.deliveries > 0, "{}", c.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w3_throughput_and_the_sqlite_ceiling_run_clean() {
    let (s, _dir) = server().await;
    let tp = parley_bench::throughput(
        std::slice::from_ref(&s.url),
        2,
        2,
        Duration::from_secs(1),
        64,
        &[],
    )
    .await
    .expect("throughput");
    assert!(tp.ok(), "{}", tp.table());
    assert!(tp.messages > 0 && tp.percentile(0.99) > 0);
    let c = tokio::task::spawn_blocking(|| {
        parley_bench::ceiling::sqlite::run(Duration::from_millis(300), 4, 10, 64)
    })
    .await
    .expect("join")
    .expect("sqlite ceiling");
    assert!(c.ok() && c.messages > 0, "{}", c.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w4_group_and_its_ceiling_run_clean() {
    let (s, _dir) = server().await;
    let r = group::run(&Backend::parley(&s), &group_opts())
        .await
        .expect("w4");
    assert!(r.ok(), "{}", r.table());
    assert_eq!(r.latencies_us.len(), 3);
    assert_eq!(r.deliveries, 3 * 11);
    let fan = FanoutServer::start().await.expect("fan-out");
    let c = group::run(&Backend::fanout(&fan), &group_opts())
        .await
        .expect("ceiling");
    assert!(c.ok() && c.deliveries == 33, "{}", c.table());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w5_reconnect_runs_clean() {
    let (s, _dir) = server().await;
    let opts = reconnect::ReconnectOpts {
        clients: 18,
        behind: 5,
        window_seconds: 0.5,
        group_size: 10,
        history_workers: 2,
        connect_concurrency: 8,
    };
    let r = reconnect::run(&s, &opts).await.expect("w5");
    assert!(r.ok(), "{}", r.table());
    assert_eq!(r.messages, 18);
    assert!(
        r.get("REST history requests during the storm")
            .unwrap_or(0.0)
            > 0.0,
        "{}",
        r.table()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w6_cluster_runs_clean_on_one_url_twice() {
    let (s, _dir) = server().await;
    let opts = cluster::ClusterOpts {
        a: s.url.clone(),
        b: s.url.clone(),
        pids: vec![],
        n: 10,
        senders: 2,
        outstanding: 2,
        seconds: 1,
        bytes: 64,
    };
    let reports = cluster::run(&opts).await.expect("w6");
    assert_eq!(reports.len(), 4);
    for r in &reports {
        assert!(r.ok() && r.messages > 0, "{}", r.table());
    }
    assert!(reports[3].get("throughput two / one").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synapse_shape_runs_clean() {
    let (s, _dir) = server().await;
    let opts = synapse::SynapseOpts {
        rounds: 1,
        seconds: 1,
        group_messages: 3,
    };
    let r = synapse::run(&s, &opts).await.expect("synapse shape");
    assert!(r.ok(), "{}", r.table());
    assert!(
        r.messages > 0 && r.latencies_us.len() == 20,
        "{}",
        r.table()
    );
    assert!(
        r.get("group all-19 p50").unwrap_or(0.0) > 0.0,
        "{}",
        r.table()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_runs_clean() {
    let (s, _dir) = server().await;
    // The in-process server's default limit for "other" files is 50 MiB.
    let opts = media::MediaOpts {
        big_mib: 8,
        rounds: 1,
        images: 3,
        image_kib: 64,
        bombs: 2,
    };
    let reports = media::run(&s, &opts).await.expect("media");
    assert_eq!(reports.len(), 3);
    for r in &reports {
        assert!(r.ok() && r.messages > 0, "{}", r.table());
    }
    assert!(
        reports[0].get("upload / cp").unwrap_or(0.0) > 0.0,
        "{}",
        reports[0].table()
    );
    assert_eq!(reports[1].messages, 3, "{}", reports[1].table());
    assert_eq!(reports[2].messages, 2, "{}", reports[2].table());
}

#[tokio::test]
async fn w7_footprint_measures_the_real_binary() {
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
