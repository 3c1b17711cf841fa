//! Shutdown: everything the server started stops with it.

use crate::helpers::{PASSWORD, unique};
use parley_protocol::ClientFrame;
use parley_sdk::{Client, Gateway};
use parley_server::config::{Config, Settings};
use std::time::Duration;

/// The server runs on a runtime of its own and the clients on another, so
/// that once `run` has returned, every task still alive on the server's
/// runtime is one the server left behind. Busy first: two users online on
/// the gateway, a conversation, messages over REST and the gateway, a
/// typing indicator whose expiry is pending, presence to announce. The
/// jobs (presence, typing expiry, the limiter's cleanup), the HTTP
/// connections and the gateway connections must all be gone.
#[test]
fn no_task_outlives_shutdown() {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::from_settings(Settings {
        data_dir: Some(dir.path().to_path_buf()),
        // On, so that the in-memory limiter's cleanup job runs too.
        rate_limits: Some("on".into()),
        ..Settings::default()
    })
    .expect("config");
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = server_rt.spawn(parley_server::run(listener, config, async move {
        let _ = stopped.await;
    }));

    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    client_rt.block_on(async {
        let a = Client::new(&base).expect("client");
        let b = Client::new(&base).expect("client");
        a.register(&unique("life_a"), PASSWORD, None)
            .await
            .expect("register");
        let bob = b
            .register(&unique("life_b"), PASSWORD, None)
            .await
            .expect("register")
            .user;
        let (conv, _) = a.create_direct(&bob.id).await.expect("direct");
        let ga = Gateway::connect(&a).await.expect("gateway");
        ga.sync(Default::default()).await.expect("sync");
        let gb = Gateway::connect(&b).await.expect("gateway");
        gb.sync(Default::default()).await.expect("sync");
        a.send_text(&conv.id, "over REST").await.expect("send");
        ga.send_message(&conv.id, "c-life-1", "over the gateway")
            .await
            .expect("gateway send");
        gb.request(ClientFrame::TypingStart {
            reference: None,
            conversation_id: conv.id.clone(),
        })
        .await
        .expect("typing");
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(30), server)
            .await
            .expect("run returns within the drain time")
            .expect("server task")
            .expect("run");
        drop((ga, gb));
    });

    // Hyper's and axum's tasks may need a moment to notice their last
    // handle is gone; anything still there after that is a leak.
    let mut alive = server_rt.metrics().num_alive_tasks();
    for _ in 0..50 {
        if alive == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        alive = server_rt.metrics().num_alive_tasks();
    }
    assert_eq!(alive, 0, "tasks still running after shutdown");
}
