//! The outbound client against real HTTP servers on 127.0.0.1: refused
//! destinations are never connected to (by literal address or by a name
//! that resolves there), allowed ones get the request, redirects are not
//! followed, answers are cut at 64 KiB, a silent receiver times out.

use bytes::Bytes;
use parley_outbound::{Allowed, MAX_ANSWER_BYTES, Outbound, OutboundError, Policy};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// A receiver: counts connections, keeps the requests it read, and
/// answers each with `reply` (or never, when `reply` is `None`).
struct Receiver {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn receiver(reply: Option<Vec<u8>>) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (c, r) = (connections.clone(), requests.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let (reply, r) = (reply.clone(), r.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then the body by Content-Length.
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                r.lock()
                    .await
                    .push(String::from_utf8_lossy(&buf).to_string());
                match reply {
                    Some(bytes) => {
                        let _ = sock.write_all(&bytes).await;
                        let _ = sock.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    Receiver {
        port,
        connections,
        requests,
    }
}

fn answer(status: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn loopback_allowed(timeout: Duration) -> Outbound {
    Outbound::new(Policy {
        timeout,
        allow: vec![Allowed::parse("127.0.0.0/8").expect("cidr")],
        ..Policy::default()
    })
}

fn url(s: &str) -> url::Url {
    url::Url::parse(s).expect("url")
}

#[tokio::test]
async fn refused_destinations_are_never_connected_to() {
    let r = receiver(Some(answer("200 OK", "", b"ok"))).await;
    let strict = Outbound::new(Policy::default());
    for target in [
        format!("http://127.0.0.1:{}/hook", r.port),
        format!("http://localhost:{}/hook", r.port),
        format!("http://[::ffff:127.0.0.1]:{}/hook", r.port),
    ] {
        let got = strict
            .post(&url(&target), &[], Bytes::from_static(b"{}"))
            .await;
        assert!(
            matches!(got, Err(OutboundError::RefusedAddress)),
            "{target}: {got:?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        r.connections.load(Ordering::SeqCst),
        0,
        "nothing reached it"
    );
}

#[tokio::test]
async fn an_allowed_destination_gets_the_request_and_its_answer_is_read() {
    let r = receiver(Some(answer("201 Created", "retry-after: 7\r\n", b"thanks"))).await;
    let c = loopback_allowed(Duration::from_secs(5));
    let got = c
        .post(
            &url(&format!("http://127.0.0.1:{}/in", r.port)),
            &[("webhook-id", "msg_1".to_string())],
            Bytes::from_static(b"{\"a\":1}"),
        )
        .await
        .expect("answer");
    assert_eq!(got.status, 201);
    assert_eq!(&got.body[..], b"thanks");
    assert_eq!(got.retry_after_secs, Some(7));
    let seen = r.requests.lock().await.clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].starts_with("POST /in HTTP/1.1"), "{}", seen[0]);
    assert!(seen[0].to_ascii_lowercase().contains("webhook-id: msg_1"));
    assert!(seen[0].ends_with("{\"a\":1}"));
    // A host name allowed by name resolves to loopback and is reached.
    let named = Outbound::new(Policy {
        allow: vec![Allowed::parse("localhost").expect("name")],
        ..Policy::default()
    });
    let got = named
        .post(
            &url(&format!("http://localhost:{}/in", r.port)),
            &[],
            Bytes::new(),
        )
        .await;
    // localhost may resolve to ::1 first, where nothing listens; either it
    // reached the receiver or it failed to connect, never a refusal.
    assert!(
        matches!(&got, Ok(a) if a.status == 201) || matches!(&got, Err(OutboundError::Connect(_))),
        "{got:?}"
    );
}

#[tokio::test]
async fn redirects_are_answers_not_followed() {
    let target = receiver(Some(answer("200 OK", "", b"ok"))).await;
    let location = format!("location: http://127.0.0.1:{}/elsewhere\r\n", target.port);
    let r = receiver(Some(answer("302 Found", &location, b""))).await;
    let got = loopback_allowed(Duration::from_secs(5))
        .post(
            &url(&format!("http://127.0.0.1:{}/", r.port)),
            &[],
            Bytes::new(),
        )
        .await
        .expect("answer");
    assert_eq!(got.status, 302);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(target.connections.load(Ordering::SeqCst), 0, "not followed");
}

#[tokio::test]
async fn answers_are_cut_at_64_kib() {
    let big = vec![b'x'; 1024 * 1024];
    let r = receiver(Some(answer("200 OK", "", &big))).await;
    let got = loopback_allowed(Duration::from_secs(5))
        .post(
            &url(&format!("http://127.0.0.1:{}/", r.port)),
            &[],
            Bytes::new(),
        )
        .await
        .expect("answer");
    assert_eq!(got.status, 200);
    assert_eq!(got.body.len(), MAX_ANSWER_BYTES);
}

#[tokio::test]
async fn a_silent_receiver_times_out() {
    let r = receiver(None).await;
    let started = Instant::now();
    let got = loopback_allowed(Duration::from_millis(300))
        .post(
            &url(&format!("http://127.0.0.1:{}/", r.port)),
            &[],
            Bytes::new(),
        )
        .await;
    assert!(matches!(got, Err(OutboundError::Timeout)), "{got:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
