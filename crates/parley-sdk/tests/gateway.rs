//! The gateway against a scripted fake server.
#![allow(clippy::unwrap_used)]

mod fake;

use fake::Fake;
use parley_protocol::{ClientFrame, ErrorCode, ServerFrame};
use parley_sdk::{Client, Error, Gateway};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

async fn connected(fake: &mut Fake) -> (Gateway, fake::Conn) {
    let client = Client::new(&fake.base).unwrap();
    client.set_token(Some("tok".into()));
    let (gw, conn) = tokio::join!(Gateway::connect(&client), fake.next_conn());
    (gw.unwrap(), conn)
}

#[tokio::test]
async fn connects_with_a_ticket_and_reads_ready() {
    let mut fake = Fake::start().await;
    let (gw, conn) = connected(&mut fake).await;
    assert_eq!(conn.uri, "/api/v1/gateway?ticket=t-1");
    assert_eq!(gw.user_id(), "u1");
    assert!(matches!(
        gw.ready(),
        ServerFrame::Ready {
            heartbeat_ms: 25_000,
            ..
        }
    ));
    assert_eq!(gw.close_code(), None);
}

#[tokio::test]
async fn bearer_connections_send_the_header_and_surface_refusals() {
    let mut fake = Fake::start().await;
    let base = fake.base.clone();
    let (gw, conn) = tokio::join!(
        Gateway::connect_with_bearer(&base, "good"),
        fake.next_conn()
    );
    assert_eq!(gw.unwrap().user_id(), "u1");
    assert_eq!(conn.authorization.as_deref(), Some("Bearer good"));
    assert_eq!(conn.uri, "/api/v1/gateway");

    let err = Gateway::connect_with_bearer(&fake.base, "bad")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Unauthenticated), "{err}");
    assert_eq!(err.status(), Some(401));
}

#[tokio::test]
async fn requests_are_matched_with_replies_by_ref() {
    let mut fake = Fake::start().await;
    let (gw, mut conn) = connected(&mut fake).await;

    let server = async {
        // Two requests in flight; answer them in reverse order, with a push
        // in between.
        let a = conn.recv_json().await;
        let b = conn.recv_json().await;
        assert_ne!(a["ref"], b["ref"]);
        assert_ne!(a["ref"], "mine", "the SDK's ref replaces the caller's");
        conn.send_json(json!({"type": "pong", "ref": b["ref"]}))
            .await;
        conn.push("c1", 1).await;
        conn.send_json(json!({"type": "pong", "ref": a["ref"]}))
            .await;
        conn
    };
    let client = async {
        let first = gw.request(ClientFrame::Ping {
            reference: Some("mine".into()),
        });
        let second = gw.request(ClientFrame::Ping { reference: None });
        tokio::join!(first, second)
    };
    let (mut conn, (a, b)) = tokio::join!(server, client);
    assert!(matches!(a.unwrap(), ServerFrame::Pong { .. }));
    assert!(matches!(b.unwrap(), ServerFrame::Pong { .. }));
    assert_eq!(gw.next_event(WAIT).await.unwrap().seq, 1);

    // An error reply is an Api error with the code's status.
    let server = async {
        let f = conn.recv_json().await;
        assert_eq!(f["type"], "message.send");
        assert_eq!(f["client_id"], "k1");
        conn.send_json(json!({"type": "error", "ref": f["ref"], "error": {
            "code": "rate_limited", "message": "slow down",
            "details": {"retry_after_ms": 2500}}}))
            .await;
        conn
    };
    let (mut conn, sent) = tokio::join!(server, gw.send_message("c1", "k1", "hi"));
    match sent.unwrap_err() {
        Error::Api {
            status,
            error,
            retry_after,
        } => {
            assert_eq!(
                (status, error.code, retry_after),
                (429, ErrorCode::RateLimited, Some(3))
            );
        }
        other => panic!("unexpected {other:?}"),
    }

    // Replies nobody waits for, and raw frames' answers, are pushes.
    gw.send_raw("{\"type\":\"nope\",\"ref\":\"x1\"}".into())
        .await
        .unwrap();
    assert_eq!(conn.recv_json().await["ref"], "x1");
    conn.send_json(json!({"type": "error", "ref": "x1", "error": {
        "code": "invalid_request", "message": "unknown type"}}))
        .await;
    match gw.next_push(WAIT).await.unwrap() {
        ServerFrame::Error { reference, error } => {
            assert_eq!(reference.as_deref(), Some("x1"));
            assert_eq!(error.code, ErrorCode::InvalidRequest);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn sync_returns_resync_after_queueing_the_pushes_before_it() {
    let mut fake = Fake::start().await;
    let (gw, mut conn) = connected(&mut fake).await;
    let server = async {
        let (reference, since) = conn.recv_sync().await;
        assert_eq!(since.get("c1"), Some(&4));
        conn.push("c1", 5).await;
        conn.push("c1", 6).await;
        conn.sync_done(&reference, &["c9"]).await;
    };
    let since = [("c1".to_owned(), 4)].into();
    let ((), resync) = tokio::join!(server, gw.sync(since));
    assert_eq!(resync.unwrap(), vec!["c9".to_owned()]);
    // Already queued: no waiting needed.
    let zero = Duration::from_millis(1);
    assert_eq!(gw.next_event(zero).await.unwrap().seq, 5);
    assert_eq!(gw.next_event(zero).await.unwrap().seq, 6);
    assert!(matches!(gw.next_push(zero).await, Err(Error::Timeout)));
}

#[tokio::test]
async fn server_closes_are_reported_with_their_code() {
    let mut fake = Fake::start().await;
    let (gw, mut conn) = connected(&mut fake).await;
    conn.push("c1", 1).await;
    conn.close(4008, "too slow").await;
    // Queued pushes first, then the close.
    assert_eq!(gw.next_event(WAIT).await.unwrap().seq, 1);
    match gw.next_push(WAIT).await {
        Err(Error::Closed { code, reason }) => {
            assert_eq!((code, reason.as_str()), (4008, "too slow"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(gw.close_code(), Some(4008));
    // Requests on a closed gateway fail at once.
    let err = gw
        .request(ClientFrame::Ping { reference: None })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed { code: 4008, .. }), "{err}");
}

#[tokio::test]
async fn stalled_gateways_stop_reading() {
    let mut fake = Fake::start().await;
    let (gw, mut conn) = connected(&mut fake).await;
    conn.push("c1", 1).await;
    assert_eq!(gw.next_event(WAIT).await.unwrap().seq, 1);
    gw.stall();
    conn.push("c1", 2).await;
    let short = Duration::from_millis(300);
    assert!(matches!(gw.next_push(short).await, Err(Error::Timeout)));
    gw.resume();
    assert_eq!(gw.next_event(WAIT).await.unwrap().seq, 2);
}

#[tokio::test]
async fn closing_sends_a_normal_close() {
    let mut fake = Fake::start().await;
    let (gw, mut conn) = connected(&mut fake).await;
    gw.close().await;
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let msg = tokio::time::timeout(WAIT, conn.ws.next()).await.unwrap();
    match msg {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("unexpected {other:?}"),
    }
}
