//! protocol.md §5 guarantees, each with a test that fails when it breaks.

use crate::helpers::*;
use parley_protocol::{ClientFrame, Event, SendMessageRequest, ServerFrame, SinceMap};
use parley_sdk::{Client, Gateway, Session};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// Guarantee 1: an acknowledged send survives `kill -9` right after the ack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_send_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(dir.path(), &[]);
    let a = Client::new(&server.base_url).expect("client");
    let b = Client::new(&server.base_url).expect("client");
    a.register(&unique("dur_a"), PASSWORD, None)
        .await
        .expect("register");
    let bu = b
        .register(&unique("dur_b"), PASSWORD, None)
        .await
        .expect("register")
        .user;
    let conv = a.create_direct(&bu.id).await.expect("direct").0;
    // One over REST, one over the gateway; kill the moment the acks arrive.
    let rest = a.send_text(&conv.id, "over rest").await.expect("rest send");
    let gw = Gateway::connect(&a).await.expect("gateway");
    let ws = gw
        .send_message(&conv.id, "durable-ws-1", "over the gateway")
        .await
        .expect("gateway send");
    server.kill9();

    let again = ServerProcess::start(dir.path(), &[]);
    let a2 = Client::new(&again.base_url).expect("client");
    a2.set_token(a.token());
    let page = a2
        .messages(&conv.id, None, None, None)
        .await
        .expect("history after restart");
    let found: Vec<(u64, Option<String>)> = page
        .messages
        .iter()
        .map(|m| (m.seq, m.text.clone()))
        .collect();
    assert!(
        found.contains(&(rest.seq, Some("over rest".into()))),
        "{found:?}"
    );
    assert!(
        found.contains(&(ws.seq, Some("over the gateway".into()))),
        "{found:?}"
    );
}

/// Guarantee 2: 20 concurrent retries of one client_id, over REST and the
/// gateway interleaved, yield exactly one message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_yield_one_message() {
    let app = spawn_app().await;
    let (a, _) = app.user("idem_a").await;
    let (_, b) = app.user("idem_b").await;
    let conv = app.direct(&a, &b).await;
    let gw1 = std::sync::Arc::new(Gateway::connect(&a).await.expect("gw"));
    let gw2 = std::sync::Arc::new(Gateway::connect(&a).await.expect("gw"));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (a, conv_id) = (a.clone(), conv.id.clone());
        let gw = if i % 2 == 0 { gw1.clone() } else { gw2.clone() };
        tasks.push(tokio::spawn(async move {
            if i % 3 == 0 {
                let req = SendMessageRequest {
                    client_id: "retry-me".into(),
                    text: Some("once".into()),
                    attachments: None,
                    reply_to: None,
                };
                a.send_message(&conv_id, &req).await.map(|(m, _)| m)
            } else {
                gw.send_message(&conv_id, "retry-me", "once").await
            }
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.expect("join").expect("send").id);
    }
    assert_eq!(ids.len(), 1, "every retry returns the same message");
    let page = a
        .messages(&conv.id, None, None, None)
        .await
        .expect("history");
    assert_eq!(page.messages.len(), 1, "exactly one message stored");
    let events = a.events(&conv.id, None, None).await.expect("events");
    assert_eq!(
        events
            .events
            .iter()
            .filter(|e| e.kind() == "message.created")
            .count(),
        1
    );
}

async fn collect_events(g: &Gateway, conv: &str, until_seq: u64) -> Vec<Event> {
    let mut got = Vec::new();
    while got.last().map(|e: &Event| e.seq).unwrap_or(0) < until_seq {
        let e = g.next_event(WAIT).await.unwrap_or_else(|e| {
            panic!(
                "waiting for seq {until_seq}: {e}; got {:?}",
                got.iter().map(|e: &Event| e.seq).collect::<Vec<_>>()
            )
        });
        if e.conversation_id == conv {
            got.push(e);
        }
    }
    got
}

/// Guarantee 3: 10 concurrent senders in one group; every member's every
/// connection sees seqs 1..N exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_every_member_sees_every_seq_in_order() {
    let app = spawn_app().await;
    let people = app.users(5).await;
    let ids: Vec<String> = people[1..].iter().map(|(_, u)| u.id.clone()).collect();
    let conv = people[0].0.create_group("race", &ids).await.expect("group");
    let mut watchers = Vec::new();
    for (c, _) in &people {
        watchers.push(std::sync::Arc::new(app.gateway(c).await));
    }
    let per_sender = 10;
    let mut tasks = Vec::new();
    for s in 0..10 {
        let c = people[s % 5].0.clone();
        let conv_id = conv.id.clone();
        let gw = if s % 2 == 0 {
            Some(watchers[s % 5].clone())
        } else {
            None
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..per_sender {
                let text = format!("s{s} m{i}");
                match &gw {
                    Some(g) => {
                        g.send_message(&conv_id, &format!("s{s}-{i}"), &text)
                            .await
                            .expect("gw send");
                    }
                    None => {
                        c.send_text(&conv_id, &text).await.expect("rest send");
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let last = 1 + 10 * per_sender as u64;
    for g in &watchers {
        let got = collect_events(g, &conv.id, last).await;
        let seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
        // Connections opened after creation start at seq 2.
        assert_eq!(
            seqs,
            (2..=last).collect::<Vec<_>>(),
            "in order, once each, no gap"
        );
    }
}

/// Guarantee 4: reconnect with the last seen seqs while others keep sending;
/// catch-up then live events, and the union has no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_and_sync_while_others_send_leaves_no_gap() {
    let app = spawn_app().await;
    let people = app.users(3).await;
    let ids: Vec<String> = people[1..].iter().map(|(_, u)| u.id.clone()).collect();
    let conv = people[0]
        .0
        .create_group("resume", &ids)
        .await
        .expect("group");
    let reader = &people[2].0;
    let first = app.gateway(reader).await;
    let sender = people[0].0.clone();
    let conv_id = conv.id.clone();
    let total = 120u64;
    let writer = tokio::spawn(async move {
        for i in 0..total {
            sender
                .send_text(&conv_id, &format!("n{i}"))
                .await
                .expect("send");
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    // Read some, drop the connection mid-stream, reconnect with the last seq.
    let seen = collect_events(&first, &conv.id, 20).await;
    first.close().await;
    let mut applied: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = Gateway::connect(reader).await.expect("reconnect");
    let since: SinceMap = BTreeMap::from([(conv.id.clone(), 20)]);
    let resync = second.sync(since).await.expect("sync");
    assert!(resync.is_empty());
    writer.await.expect("join");
    let rest = collect_events(&second, &conv.id, total + 1).await;
    applied.extend(rest.iter().map(|e| e.seq));
    assert_eq!(
        applied,
        (2..=total + 1).collect::<Vec<_>>(),
        "catch-up then live, in order, no gap, no repeat"
    );
}

/// Guarantee 4 through the SDK's reconnecting session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_survives_dropped_connections_without_gaps() {
    let app = spawn_app().await;
    let (a, _) = app.user("sess_a").await;
    let (b, bu) = app.user("sess_b").await;
    let conv = app.direct(&a, &bu).await;
    let session = Session::start(b.clone()).await.expect("session");
    let conv_id = conv.id.clone();
    let writer = tokio::spawn(async move {
        for i in 0..60 {
            a.send_text(&conv_id, &format!("x{i}")).await.expect("send");
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    });
    let mut seqs = Vec::new();
    let mut drops = 0;
    while seqs.last().copied().unwrap_or(0) < 61 {
        let e = session.next_event(WAIT).await.expect("event");
        if e.conversation_id == conv.id && e.kind() == "message.created" {
            seqs.push(e.seq);
            if seqs.len() % 15 == 0 && drops < 3 {
                session.drop_connection().await;
                drops += 1;
            }
        }
    }
    writer.await.expect("join");
    assert_eq!(seqs, (2..=61).collect::<Vec<_>>());
    assert!(session.reconnects() >= 1, "the session did reconnect");
}

/// Guarantee 5: a client that stops reading is shed with 4008 and never
/// delays delivery to the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_client_is_shed_and_does_not_delay_others() {
    let app = spawn_app_with(parley_server::config::Settings {
        rate_limits: Some("off".into()),
        outbound_queue: Some(64),
        ..Default::default()
    })
    .await;
    let (a, _) = app.user("slow_a").await;
    let (b, bu) = app.user("slow_b").await;
    let conv = app.direct(&a, &bu).await;
    let stalled = app.gateway(&b).await;
    let healthy = app.gateway(&b).await;
    stalled.stall();
    let big = "y".repeat(9_000);
    let started = std::time::Instant::now();
    let n = 1000u64;
    let mut senders = Vec::new();
    for s in 0..4u64 {
        let (a, conv_id, big) = (a.clone(), conv.id.clone(), big.clone());
        senders.push(tokio::spawn(async move {
            for i in 0..n / 4 {
                a.send_text(&conv_id, &format!("{s}/{i} {big}"))
                    .await
                    .expect("send is never blocked by the stalled reader");
            }
        }));
    }
    for t in senders {
        t.await.expect("join");
    }
    let send_time = started.elapsed();
    stalled.resume();
    let got = collect_events(&healthy, &conv.id, n + 1).await;
    assert_eq!(got.len() as u64, n, "the healthy connection got everything");
    assert!(
        send_time < Duration::from_secs(30),
        "sends were not held up: {send_time:?}"
    );
    let mut code = None;
    for _ in 0..10_000 {
        match stalled.next_push(WAIT).await {
            Err(parley_sdk::Error::Closed { code: c, .. }) => {
                code = Some(c);
                break;
            }
            Err(e) => panic!("unexpected: {e}"),
            Ok(_) => {}
        }
    }
    assert_eq!(
        code,
        Some(4008),
        "the stalled connection is closed as too slow"
    );
    // And the gateway still works for a new connection.
    let fresh = app.gateway(&b).await;
    let ok = fresh
        .request(ClientFrame::Ping { reference: None })
        .await
        .expect("ping");
    assert!(matches!(ok, ServerFrame::Pong { .. }));
}
