//! The export streams (protocol.md §13): exporting a conversation whose
//! export is megabytes long must not hold it in memory. This test binary
//! counts every heap allocation (`peak_alloc` around the system allocator)
//! and checks that the peak of live heap bytes while a long conversation is
//! exported, read chunk by chunk and dropped, grows by far less than the
//! body's size. It is its own binary, with one test, so that no other test
//! allocates while it measures.

use futures_util::{StreamExt as _, stream};
use parley_server::config::{Config, Settings};
use peak_alloc::PeakAlloc;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const MESSAGES: usize = 24_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_a_long_conversation_keeps_memory_flat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::from_settings(Settings {
        rate_limits: Some("off".into()),
        data_dir: Some(dir.path().to_path_buf()),
        ..Settings::default()
    })
    .expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(parley_server::run(listener, config, async move {
        let _ = stopped.await;
    }));

    let a = parley_sdk::Client::new(&base).expect("client");
    a.register("memory_a", "correct horse battery", None)
        .await
        .expect("register a");
    let b = parley_sdk::Client::new(&base).expect("client");
    let bu = b
        .register("memory_b", "correct horse battery", None)
        .await
        .expect("register b")
        .user;
    let conv = a.create_direct(&bu.id).await.expect("direct").0.id;
    // Two hundred characters a message: the export is a few megabytes.
    let filler = "lorem ipsum dolor sit amet ".repeat(8);
    stream::iter(0..MESSAGES)
        .for_each_concurrent(32, |i| {
            let (a, conv, filler) = (&a, &conv, &filler);
            async move {
                a.send_text(conv, &format!("{i} {filler}"))
                    .await
                    .expect("send");
            }
        })
        .await;

    for format in ["json", "text"] {
        let before = HEAP.current_usage();
        HEAP.reset_peak_usage();
        let mut r = reqwest::Client::new()
            .get(format!(
                "{base}/api/v1/conversations/{conv}/export?format={format}"
            ))
            .bearer_auth(a.token().expect("token"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 200);
        let (mut bytes, mut newlines) = (0usize, 0usize);
        while let Some(chunk) = r.chunk().await.expect("chunk") {
            bytes += chunk.len();
            newlines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        let grew = HEAP.peak_usage().saturating_sub(before);
        assert!(
            bytes > 5_000_000,
            "{format}: the export is long enough to tell ({bytes} bytes)"
        );
        if format == "text" {
            assert_eq!(newlines, MESSAGES, "every message once");
        }
        // Buffering the body (or the messages) would need at least its
        // size; a page at a time needs a small fraction of it.
        assert!(
            grew < bytes / 4,
            "{format}: exporting {bytes} bytes raised live heap by {grew} bytes"
        );
        eprintln!("{format}: {bytes} bytes exported, live heap peak +{grew} bytes");
    }

    let _ = stop.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), server).await;
}
