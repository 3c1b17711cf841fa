//! The gateway (protocol.md §6, §8).

use crate::helpers::*;
use futures_util::{SinkExt, StreamExt};
use parley_protocol::{ClientFrame, PresenceState, ServerFrame, SinceMap};
use parley_sdk::Gateway;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn ready_then_ack_then_own_event_on_every_device() {
    let app = spawn_app().await;
    let (a, au) = app.user("gw_a").await;
    let (b, bu) = app.user("gw_b").await;
    let c = app.direct(&a, &bu).await;
    let a1 = app.gateway(&a).await;
    let a2 = app.gateway(&a).await;
    let b1 = app.gateway(&b).await;
    match a1.ready() {
        ServerFrame::Ready {
            user, heartbeat_ms, ..
        } => {
            assert_eq!(user.id, au.id);
            assert_eq!(*heartbeat_ms, 25_000);
        }
        other => panic!("first frame must be ready: {other:?}"),
    }
    let sent = a1
        .send_message(&c.id, "cid-1", "hello")
        .await
        .expect("ack carries the message");
    assert_eq!(sent.seq, 2);
    for g in [&a1, &a2, &b1] {
        let e = g.next_event(WAIT).await.expect("event");
        assert_eq!((e.seq, e.kind()), (2, "message.created"));
        assert_eq!(e.message().map(|m| m.id), Some(sent.id.clone()));
    }
    let pong = a1
        .request(ClientFrame::Ping { reference: None })
        .await
        .expect("ping");
    assert!(matches!(pong, ServerFrame::Pong { .. }));
}

#[tokio::test]
async fn added_and_removed_are_pushed() {
    let app = spawn_app().await;
    let p = app.users(4).await;
    let watcher = app.gateway(&p[3].0).await;
    let g = p[0]
        .0
        .create_group("pushes", &[p[1].1.id.clone(), p[2].1.id.clone()])
        .await
        .expect("group");
    p[0].0
        .add_members(&g.id, &[p[3].1.id.clone()])
        .await
        .expect("add");
    match watcher.next_push(WAIT).await.expect("push") {
        ServerFrame::ConversationAdded { conversation } => assert_eq!(conversation.id, g.id),
        other => panic!("expected conversation.added, got {other:?}"),
    }
    p[0].0.send_text(&g.id, "welcome").await.expect("send");
    let e = watcher.next_event(WAIT).await.expect("event");
    assert_eq!(e.message().and_then(|m| m.text).as_deref(), Some("welcome"));
    p[0].0
        .remove_member(&g.id, &p[3].1.id)
        .await
        .expect("remove");
    loop {
        match watcher.next_push(WAIT).await.expect("push") {
            ServerFrame::ConversationRemoved { conversation_id } => {
                assert_eq!(conversation_id, g.id);
                break;
            }
            ServerFrame::Event { event } => {
                assert!(event.seq <= e.seq + 1, "no events after removal: {event:?}")
            }
            // The sender's read of their own message (protocol.md §7).
            ServerFrame::Receipt { user_id, .. } => assert_eq!(user_id, p[0].1.id),
            other => panic!("unexpected {other:?}"),
        }
    }
    p[0].0
        .send_text(&g.id, "after you left")
        .await
        .expect("send");
    assert!(
        matches!(
            watcher.next_event(Duration::from_millis(300)).await,
            Err(parley_sdk::Error::Timeout)
        ),
        "a former member gets nothing"
    );
}

#[tokio::test]
async fn sync_catches_up_lists_new_conversations_and_resyncs_far_behind() {
    let app = spawn_app_with(parley_server::config::Settings {
        rate_limits: Some("off".into()),
        sync_max_events: Some(20),
        ..Default::default()
    })
    .await;
    let (a, _) = app.user("sy_a").await;
    let (b, bu) = app.user("sy_b").await;
    let near = app.direct(&a, &bu).await;
    let (_, cu) = app.user("sy_c").await;
    let far = b.create_direct(&cu.id).await.expect("direct").0;
    let (_, du) = app.user("sy_d").await;
    let unknown = b.create_direct(&du.id).await.expect("direct").0;
    for i in 0..5 {
        a.send_text(&near.id, &format!("near {i}"))
            .await
            .expect("send");
    }
    for i in 0..30 {
        b.send_text(&far.id, &format!("far {i}"))
            .await
            .expect("send");
    }
    let g = Gateway::connect(&b).await.expect("connect");
    let since: SinceMap = BTreeMap::from([
        (near.id.clone(), 3),
        (far.id.clone(), 1),
        ("01900000-0000-7000-8000-00000000dead".to_string(), 0),
    ]);
    let resync = g.sync(since).await.expect("sync");
    assert_eq!(
        resync,
        vec![far.id.clone()],
        "far behind: reload through REST"
    );
    let mut near_seqs = Vec::new();
    let mut added = Vec::new();
    while let Ok(f) = g.next_push(Duration::from_millis(300)).await {
        match f {
            ServerFrame::Event { event } if event.conversation_id == near.id => {
                near_seqs.push(event.seq)
            }
            ServerFrame::ConversationAdded { conversation } => added.push(conversation.id),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(near_seqs, vec![4, 5, 6]);
    assert_eq!(
        added,
        vec![unknown.id.clone()],
        "conversations the client did not list"
    );
}

#[tokio::test]
async fn malformed_frames_get_errors_and_abuse_closes_4400() {
    let app = spawn_app().await;
    let (a, _) = app.user("mf_a").await;
    let g = app.gateway(&a).await;
    for bad in [
        "not json",
        "[1,2]",
        r#"{"type":"nope","ref":"r1"}"#,
        r#"{"ref":"r2"}"#,
        r#"{"type":"message.send","ref":"r3","conversation_id":5}"#,
        r#"{"type":"sync","ref":"r4","since":{"x":-1}}"#,
    ] {
        g.send_raw(bad.to_string()).await.expect("send");
        match g.next_push(WAIT).await {
            Ok(ServerFrame::Error { error, .. }) => {
                assert_eq!(error.code.as_str(), "invalid_request", "{bad}")
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let r = g.request(ClientFrame::Ping { reference: None }).await;
    assert!(r.is_ok(), "the connection keeps working after bad frames");
    for _ in 0..30 {
        if g.send_raw("{".into()).await.is_err() {
            break;
        }
    }
    let mut code = None;
    let mut errors = 0;
    for _ in 0..100 {
        match g.next_push(WAIT).await {
            Err(parley_sdk::Error::Closed { code: c, .. }) => {
                code = Some(c);
                break;
            }
            Ok(ServerFrame::Error { .. }) => errors += 1,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(code, Some(4400));
    assert_eq!(
        errors,
        20 - 5,
        "every malformed frame before the close got its error (5 strikes above; the negative since is a valid frame)"
    );
}

#[tokio::test]
async fn oversized_frame_closes_4009() {
    let app = spawn_app().await;
    let (a, _) = app.user("big_a").await;
    let g = app.gateway(&a).await;
    let huge = format!(r#"{{"type":"ping","ref":"{}"}}"#, "x".repeat(70 * 1024));
    let _ = g.send_raw(huge).await;
    let code = loop {
        match g.next_push(WAIT).await {
            Err(parley_sdk::Error::Closed { code, .. }) => break code,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(code, 4009);
}

#[tokio::test]
async fn tickets_are_single_use_and_bad_credentials_get_401() {
    let app = spawn_app().await;
    let (a, _) = app.user("tk_a").await;
    let t = a.ticket().await.expect("ticket");
    assert_eq!(t.expires_in, 30);
    let url = format!("ws://{}/api/v1/gateway?ticket={}", app.addr, t.ticket);
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("first use");
    let first = ws.next().await.expect("frame").expect("ok");
    assert!(
        first
            .to_text()
            .expect("text")
            .starts_with(r#"{"type":"ready""#)
    );
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 401);
            let body: serde_json::Value =
                serde_json::from_slice(resp.body().as_deref().unwrap_or(b"{}")).expect("json body");
            assert_eq!(body["error"]["code"], "unauthenticated");
        }
        other => panic!("a used ticket must be refused: {other:?}"),
    }
    let bad = format!("ws://{}/api/v1/gateway?ticket=forged", app.addr);
    assert!(
        tokio_tungstenite::connect_async(bad.as_str())
            .await
            .is_err()
    );
    let none = format!("ws://{}/api/v1/gateway", app.addr);
    assert!(
        tokio_tungstenite::connect_async(none.as_str())
            .await
            .is_err()
    );
    // Bearer header for non-browser clients.
    let g = Gateway::connect_with_bearer(&app.base_url, &a.token().expect("token"))
        .await
        .expect("bearer connect");
    assert!(matches!(g.ready(), ServerFrame::Ready { .. }));
    ws.send(WsMessage::Close(None)).await.ok();
}

#[tokio::test]
async fn cross_origin_upgrades_are_refused() {
    let app = spawn_app_with(parley_server::config::Settings {
        rate_limits: Some("off".into()),
        allowed_origins: Some(vec!["https://app.example".into()]),
        ..Default::default()
    })
    .await;
    let (a, _) = app.user("or_a").await;
    let try_origin = |origin: &'static str| {
        let a = a.clone();
        let addr = app.addr;
        async move {
            let t = a.ticket().await.expect("ticket");
            let mut req = format!("ws://{addr}/api/v1/gateway?ticket={}", t.ticket)
                .into_client_request()
                .expect("req");
            req.headers_mut()
                .insert("origin", origin.parse().expect("hv"));
            tokio_tungstenite::connect_async(req).await.map(|_| ())
        }
    };
    assert!(
        try_origin("https://evil.example").await.is_err(),
        "foreign origin refused"
    );
    assert!(
        try_origin("https://app.example").await.is_ok(),
        "listed origin allowed"
    );
    let same: &'static str = Box::leak(format!("http://{}", app.addr).into_boxed_str());
    assert!(try_origin(same).await.is_ok(), "same origin allowed");
}

#[tokio::test]
async fn graceful_shutdown_closes_with_1001() {
    let app = spawn_app().await;
    let (a, _) = app.user("sd_a").await;
    let g = app.gateway(&a).await;
    app.stop().await;
    let code = loop {
        match g.next_push(WAIT).await {
            Err(parley_sdk::Error::Closed { code, .. }) => break code,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(code, 1001);
}

/// `conversation.added` (pushed, and announced by `sync`) carries the
/// peer's live presence, like `GET /conversations/{id}`.
#[tokio::test]
async fn added_carries_the_peers_presence() {
    let app = spawn_app().await;
    let (a, _au) = app.user("pa").await;
    let (b, bu) = app.user("pb").await;
    let _b_online = app.gateway(&b).await;
    let watcher = app.gateway(&a).await;
    let direct = app.direct(&a, &bu).await;
    match watcher.next_push(WAIT).await.expect("push") {
        ServerFrame::ConversationAdded { conversation } => {
            assert_eq!(conversation.id, direct.id);
            let peer = conversation.peer.expect("peer");
            assert_eq!(peer.presence.state, PresenceState::Online, "pushed");
        }
        other => panic!("expected conversation.added, got {other:?}"),
    }
    // A new connection that syncs with no cursor for it is told of it too.
    let fresh = Gateway::connect(&a).await.expect("connect");
    let resync = fresh.sync(SinceMap::new()).await.expect("sync");
    assert!(resync.is_empty());
    let mut announced = Vec::new();
    while let Ok(frame) = fresh.next_push(Duration::from_millis(300)).await {
        if let ServerFrame::ConversationAdded { conversation } = frame {
            announced.push(conversation);
        }
    }
    assert_eq!(announced.len(), 1);
    let peer = announced[0].peer.clone().expect("peer");
    assert_eq!(
        peer.presence.state,
        PresenceState::Online,
        "announced by sync"
    );
}

/// The gateway reads with a small buffer (1 KiB, for memory per idle
/// connection); frames many times that size still arrive whole, and the
/// largest message text travels both ways.
#[tokio::test]
async fn large_frames_arrive_whole_through_the_small_read_buffer() {
    let app = spawn_app().await;
    let (a, _) = app.user("big_a").await;
    let (b, bu) = app.user("big_b").await;
    let c = app.direct(&a, &bu).await;
    let ga = app.gateway(&a).await;
    let gb = app.gateway(&b).await;
    // 10,000 two-byte characters: a ~20 KB text in a ~20 KB frame.
    let text = "é".repeat(10_000);
    let sent = ga
        .send_message(&c.id, "big-1", &text)
        .await
        .expect("ack for a large frame");
    assert_eq!(sent.text.as_deref(), Some(text.as_str()));
    let e = gb.next_event(WAIT).await.expect("event");
    assert_eq!(
        e.message().and_then(|m| m.text).as_deref(),
        Some(text.as_str())
    );
}
