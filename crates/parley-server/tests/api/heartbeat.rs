//! Heartbeats (protocol.md §6): the server pings a connection it has heard
//! nothing from for `heartbeat_ms`, never a busy one, and closes one silent
//! for two intervals. Raw WebSockets, so that every ping is seen.

use crate::helpers::*;
use futures_util::{SinkExt, StreamExt};
use parley_server::config::Settings;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const HEARTBEAT_MS: u64 = 300;

async fn connect(app: &TestApp, c: &parley_sdk::Client) -> Ws {
    let t = c.ticket().await.expect("ticket");
    let url = format!("ws://{}/api/v1/gateway?ticket={}", app.addr, t.ticket);
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connect");
    let ready = ws.next().await.expect("frame").expect("ok");
    assert!(ready.to_text().expect("text").contains(r#""type":"ready""#));
    ws
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn app() -> TestApp {
    spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        heartbeat_ms: Some(HEARTBEAT_MS),
        ..Settings::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_connection_is_never_pinged() {
    let app = app().await;
    let (a, _) = app.user("hb_busy").await;
    let mut ws = connect(&app, &a).await;
    let (mut pings, mut pongs) = (0, 0);
    let until = Instant::now() + Duration::from_millis(HEARTBEAT_MS * 5);
    let mut every = tokio::time::interval(Duration::from_millis(HEARTBEAT_MS / 3));
    while Instant::now() < until {
        tokio::select! {
            _ = every.tick() => {
                ws.send(WsMessage::text(r#"{"type":"ping"}"#)).await.expect("send");
            }
            msg = ws.next() => match msg {
                Some(Ok(WsMessage::Ping(_))) => pings += 1,
                Some(Ok(WsMessage::Text(t))) if t.contains(r#""type":"pong""#) => pongs += 1,
                Some(Ok(_)) => {}
                other => panic!("the connection ended: {other:?}"),
            },
        }
    }
    assert!(pongs >= 10, "the client's pings were answered ({pongs})");
    assert_eq!(
        pings, 0,
        "a connection heard from within every interval needs no ping"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_pinged_each_interval_and_closed_when_silent() {
    let app = app().await;
    let (a, _) = app.user("hb_idle").await;
    let mut ws = connect(&app, &a).await;
    let start = Instant::now();
    // Reading answers each ping with a pong (tungstenite does), so the
    // connection stays open and is pinged about once per interval.
    let mut pings = Vec::new();
    while start.elapsed() < Duration::from_millis(HEARTBEAT_MS * 4 + 100) {
        match tokio::time::timeout(Duration::from_millis(50), ws.next()).await {
            Ok(Some(Ok(WsMessage::Ping(_)))) => pings.push(start.elapsed()),
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(other) => panic!("the connection ended: {other:?}"),
        }
    }
    assert!(
        (3..=5).contains(&pings.len()),
        "one ping per interval of silence: {pings:?}"
    );
    assert!(
        pings[0] >= Duration::from_millis(HEARTBEAT_MS - 50),
        "not before an interval of silence: {pings:?}"
    );
    // Now silent: no reads, so no pongs. Closed after two intervals.
    tokio::time::sleep(Duration::from_millis(HEARTBEAT_MS * 3)).await;
    let closed = async {
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    };
    let code = tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("closed");
    assert_eq!(code, Some(1001), "going away");
}
