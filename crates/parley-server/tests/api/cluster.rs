//! Many processes as one service: two `parley serve` processes sharing one
//! PostgreSQL database and one Redis (protocol.md §5 guarantees across
//! processes). Each test gets a fresh database and key prefix. Without
//! PostgreSQL or Redis the tests are skipped, except under `CI=true`, where
//! a missing service is a failure.

use crate::helpers::*;
use parley_protocol::{ClientFrame, Event, PresenceState, ServerFrame, SinceMap};
use parley_sdk::{Client, Gateway};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub struct Services {
    pub database_url: String,
    pub redis_url: String,
    pub prefix: String,
}

fn skip_or_fail(what: &str) -> Option<Services> {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{what} is required under CI=true");
    }
    eprintln!("skipping cluster test: {what}");
    None
}

/// A fresh PostgreSQL database and Redis key prefix.
pub async fn services() -> Option<Services> {
    let base = std::env::var("PARLEY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let redis_url =
        std::env::var("PARLEY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let name = format!("parley_c_{}", uuid::Uuid::new_v4().simple());
    let Ok((client, conn)) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await else {
        return skip_or_fail(&format!("PostgreSQL not reachable at {base}"));
    };
    tokio::spawn(conn);
    if client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .is_err()
    {
        return skip_or_fail("cannot create a PostgreSQL database");
    }
    let ok = match redis::Client::open(redis_url.as_str()) {
        Ok(c) => match c.get_multiplexed_async_connection().await {
            Ok(mut m) => redis::cmd("PING")
                .query_async::<String>(&mut m)
                .await
                .is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    };
    if !ok {
        return skip_or_fail(&format!("Redis not reachable at {redis_url}"));
    }
    let mut url = url::Url::parse(&base).expect("postgres url");
    url.set_path(&name);
    Some(Services {
        database_url: url.to_string(),
        redis_url,
        prefix: format!("test_{}", uuid::Uuid::new_v4().simple()),
    })
}

impl Services {
    pub fn node(&self, dir: &std::path::Path) -> ServerProcess {
        self.node_with_redis(dir, &self.redis_url.clone())
    }

    pub fn node_with_redis(&self, dir: &std::path::Path, redis_url: &str) -> ServerProcess {
        self.node_with_args(dir, redis_url, &[])
    }

    pub fn node_with_args(
        &self,
        dir: &std::path::Path,
        redis_url: &str,
        extra: &[&str],
    ) -> ServerProcess {
        let mut args = vec![
            "--database-url",
            &self.database_url,
            "--redis-url",
            redis_url,
            "--redis-prefix",
            &self.prefix,
            "--jwt-secret",
            "cluster-test-secret-cluster-test-secret-0123",
        ];
        args.extend_from_slice(extra);
        ServerProcess::start(dir, &args)
    }
}

async fn user_on(node: &ServerProcess, name: &str) -> (Client, parley_protocol::User) {
    let c = Client::new(&node.base_url).expect("client");
    let u = c
        .register(&unique(name), PASSWORD, None)
        .await
        .expect("register")
        .user;
    (c, u)
}

async fn gateway(c: &Client) -> Gateway {
    let g = Gateway::connect(c).await.expect("gateway");
    g.sync(Default::default()).await.expect("sync");
    g
}

async fn events_until(g: &Gateway, conv: &str, last: u64) -> Vec<Event> {
    let mut got: Vec<Event> = Vec::new();
    while got.last().map(|e| e.seq).unwrap_or(0) < last {
        let e = g.next_event(WAIT).await.unwrap_or_else(|e| {
            panic!(
                "waiting for {last}: {e}; have {:?}",
                got.iter().map(|e| e.seq).collect::<Vec<_>>()
            )
        });
        if e.conversation_id == conv {
            got.push(e);
        }
    }
    got
}

async fn next_matching(g: &Gateway, f: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
    loop {
        let frame = g.next_push(WAIT).await.expect("push");
        if f(&frame) {
            return frame;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_two_processes_chat_with_receipts_typing_and_presence() {
    let Some(s) = services().await else { return };
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (a, b) = (s.node(da.path()), s.node(db.path()));
    let (ca, ua) = user_on(&a, "cl_a").await;
    let (cb, ub) = user_on(&b, "cl_b").await;
    let ga = gateway(&ca).await;
    let conv = ca
        .create_direct(&ub.id)
        .await
        .expect("direct across processes")
        .0;
    let gb = gateway(&cb).await;
    // Presence: b's connection on B is seen online by a on A.
    next_matching(&ga, |f| matches!(f, ServerFrame::Presence { user_id, state: PresenceState::Online, .. } if *user_id == ub.id)).await;
    assert_eq!(
        ca.user(&ub.id).await.expect("user").presence.state,
        PresenceState::Online
    );
    let m = ga
        .send_message(&conv.id, "x-1", "hello from A")
        .await
        .expect("send on A");
    let e = events_until(&gb, &conv.id, m.seq).await;
    assert_eq!(
        e.last()
            .and_then(|e| e.message())
            .and_then(|m| m.text)
            .as_deref(),
        Some("hello from A")
    );
    // Receipts and typing cross too.
    gb.request(ClientFrame::MessageRead {
        reference: None,
        conversation_id: conv.id.clone(),
        seq: m.seq as i64,
    })
    .await
    .expect("read");
    next_matching(&ga, |f| matches!(f, ServerFrame::Receipt { user_id, read_seq, .. } if *user_id == ub.id && *read_seq >= m.seq)).await;
    assert_eq!(
        ca.message(&m.id).await.expect("message").status,
        Some(parley_protocol::MessageStatus::Read)
    );
    let reply = cb
        .send_text(&conv.id, "hello from B")
        .await
        .expect("send on B");
    let e = events_until(&ga, &conv.id, reply.seq).await;
    assert_eq!(e.last().map(|e| e.seq), Some(reply.seq));
    gb.request(ClientFrame::TypingStart {
        reference: None,
        conversation_id: conv.id.clone(),
    })
    .await
    .expect("typing");
    next_matching(
        &ga,
        |f| matches!(f, ServerFrame::Typing { user_id, typing: true, .. } if *user_id == ub.id),
    )
    .await;
    // And the other way: A's typing and receipts reach B; B reads A's presence.
    assert_eq!(
        cb.user(&ua.id).await.expect("user").presence.state,
        PresenceState::Online
    );
    ga.request(ClientFrame::TypingStart {
        reference: None,
        conversation_id: conv.id.clone(),
    })
    .await
    .expect("typing");
    next_matching(
        &gb,
        |f| matches!(f, ServerFrame::Typing { user_id, typing: true, .. } if *user_id == ua.id),
    )
    .await;
    ga.request(ClientFrame::MessageRead {
        reference: None,
        conversation_id: conv.id.clone(),
        seq: reply.seq as i64,
    })
    .await
    .expect("read");
    next_matching(&gb, |f| matches!(f, ServerFrame::Receipt { user_id, read_seq, .. } if *user_id == ua.id && *read_seq >= reply.seq)).await;
    gb.close().await;
    next_matching(&ga, |f| matches!(f, ServerFrame::Presence { user_id, state: PresenceState::Offline, .. } if *user_id == ub.id)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_on_both_processes_every_member_sees_every_seq_in_order() {
    let Some(s) = services().await else { return };
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let nodes = [s.node(da.path()), s.node(db.path())];
    let mut people = Vec::new();
    for i in 0..4 {
        people.push(user_on(&nodes[i % 2], &format!("cs{i}_")).await);
    }
    let ids: Vec<String> = people[1..].iter().map(|(_, u)| u.id.clone()).collect();
    let conv = people[0]
        .0
        .create_group("cluster race", &ids)
        .await
        .expect("group");
    let mut watchers = Vec::new();
    for (c, _) in &people {
        watchers.push(Arc::new(gateway(c).await));
    }
    let per = 10;
    let mut tasks = Vec::new();
    for sender in 0..10 {
        // Each sender's client talks to one process; half REST, half gateway.
        let node_url = nodes[sender % 2].base_url.clone();
        let token = people[sender % 4].0.token().expect("token");
        let gw = (sender % 3 == 0).then(|| watchers[sender % 4].clone());
        let conv_id = conv.id.clone();
        tasks.push(tokio::spawn(async move {
            let c = Client::new(&node_url).expect("client").with_token(&token);
            for i in 0..per {
                match &gw {
                    Some(g) => {
                        g.send_message(&conv_id, &format!("g{sender}-{i}"), "x")
                            .await
                            .expect("gw send");
                    }
                    None => {
                        c.send_text(&conv_id, &format!("{sender}/{i}"))
                            .await
                            .expect("rest send");
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let last = 1 + 10 * per as u64;
    for g in &watchers {
        let seqs: Vec<u64> = events_until(g, &conv.id, last)
            .await
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(
            seqs,
            (2..=last).collect::<Vec<_>>(),
            "every seq once, in order, on either process"
        );
    }
}

/// Four processes, two groups, twenty senders racing (PostgreSQL's sends
/// are group-committed, several per transaction, in every process): each
/// send goes to two processes at once with the same `client_id`, and some
/// are replies (which take the single-send path between batches). Every
/// seq of both conversations exists exactly once, in order, and every
/// client_id names exactly one message, created by exactly one of its two
/// requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_processes_and_twenty_racing_senders_keep_seqs_gap_free_and_client_ids_unique() {
    let Some(s) = services().await else { return };
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().expect("dir")).collect();
    let nodes: Vec<ServerProcess> = dirs.iter().map(|d| s.node(d.path())).collect();
    let mut people = Vec::new();
    for i in 0..5 {
        people.push(user_on(&nodes[i % 4], &format!("race{i}_")).await);
    }
    let ids: Vec<String> = people[1..].iter().map(|(_, u)| u.id.clone()).collect();
    let groups = [
        people[0]
            .0
            .create_group("race a", &ids)
            .await
            .expect("group a"),
        people[0]
            .0
            .create_group("race b", &ids)
            .await
            .expect("group b"),
    ];
    let per = 12;
    let mut tasks = Vec::new();
    for sender in 0..20usize {
        let token = people[sender % 5].0.token().expect("token");
        let here = Client::new(&nodes[sender % 4].base_url)
            .expect("client")
            .with_token(&token);
        let there = Client::new(&nodes[(sender + 1) % 4].base_url)
            .expect("client")
            .with_token(&token);
        let conv = groups[sender % 2].id.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut previous: Option<String> = None;
            for i in 0..per {
                let req = parley_protocol::SendMessageRequest {
                    client_id: format!("race-{sender}-{i}"),
                    text: Some(format!("{sender}/{i}")),
                    attachments: None,
                    reply_to: if i % 4 == 3 { previous.clone() } else { None },
                };
                let (a, b) = tokio::join!(
                    here.send_message(&conv, &req),
                    there.send_message(&conv, &req)
                );
                let (a, b) = (a.expect("send here"), b.expect("send there"));
                assert_eq!(a.0.id, b.0.id, "one message for {}", req.client_id);
                assert!(
                    a.1 ^ b.1,
                    "exactly one of the two requests creates {}",
                    req.client_id
                );
                previous = Some(a.0.id.clone());
                sent.push((req.client_id, a.0.id));
            }
            (conv, sent)
        }));
    }
    // Someone who is not a member races along: refused every time, without
    // failing the sends batched with theirs.
    let (outsider, _) = user_on(&nodes[0], "race_out_").await;
    let target = groups[0].id.clone();
    let outsider = tokio::spawn(async move {
        for i in 0..per {
            let e = outsider
                .send_text(&target, &format!("not a member {i}"))
                .await
                .expect_err("an outsider's send");
            assert!(e.to_string().contains("not_found"), "{e}");
        }
    });
    let mut sent: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    outsider.await.expect("outsider");
    for t in tasks {
        let (conv, mine) = t.await.expect("join");
        sent.entry(conv).or_default().extend(mine);
    }
    let reader = &people[1].0;
    for g in &groups {
        let mut events = Vec::new();
        loop {
            let page = reader
                .events(&g.id, events.last().map(|e: &Event| e.seq), Some(200))
                .await
                .expect("events");
            events.extend(page.events);
            if !page.has_more {
                break;
            }
        }
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=events.len() as u64).collect::<Vec<_>>(),
            "every seq of {} once, in order",
            g.title.as_deref().unwrap_or_default()
        );
        let mut created: BTreeMap<String, String> = BTreeMap::new();
        for m in events.iter().filter_map(Event::message) {
            let client_id = m.client_id.clone().expect("client_id");
            assert!(
                created.insert(client_id.clone(), m.id.clone()).is_none(),
                "{client_id} stored twice"
            );
        }
        assert_eq!(
            created, sent[&g.id],
            "every acknowledged send stored once, under the id it was answered with"
        );
        assert_eq!(created.len(), 10 * per);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_loses_nothing_acknowledged() {
    let Some(s) = services().await else { return };
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (a, b) = (s.node(da.path()), s.node(db.path()));
    let (ca, _) = user_on(&a, "kill_a").await;
    let (cb, ub) = user_on(&b, "kill_b").await;
    let conv = ca.create_direct(&ub.id).await.expect("direct").0;
    let reader = gateway(&ca).await; // on A, about to die
    let mut acked = Vec::new();
    for i in 0..20 {
        acked.push(
            cb.send_text(&conv.id, &format!("k{i}"))
                .await
                .expect("send")
                .seq,
        );
    }
    let seen: Vec<u64> = events_until(&reader, &conv.id, acked[9])
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    let last_seen = *seen.last().expect("some");
    let writer_token = ca.token().expect("token");
    a.kill9();
    // Sends continue on B while A is gone; A's own sends already acked stay.
    for i in 20..30 {
        acked.push(
            cb.send_text(&conv.id, &format!("k{i}"))
                .await
                .expect("send")
                .seq,
        );
    }
    // The client moves to B and syncs from what it had applied.
    let moved = Client::new(&b.base_url)
        .expect("client")
        .with_token(&writer_token);
    let g = Gateway::connect(&moved).await.expect("reconnect elsewhere");
    let since: SinceMap = BTreeMap::from([(conv.id.clone(), last_seen as i64)]);
    assert!(g.sync(since).await.expect("sync").is_empty());
    let rest: Vec<u64> = events_until(&g, &conv.id, *acked.last().expect("acked"))
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    let mut all = seen.clone();
    all.extend(rest);
    assert_eq!(
        all,
        (2..=*acked.last().expect("last")).collect::<Vec<_>>(),
        "no gap, nothing acknowledged lost"
    );
}

/// A private redis-server, so that restarting it disturbs no other test.
struct PrivateRedis {
    port: u16,
    child: std::process::Child,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<PrivateRedis> {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        std::thread::sleep(Duration::from_millis(300));
        Some(PrivateRedis { port, child })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_resume_and_missed_events_are_caught_up_after_a_redis_restart() {
    let Some(s) = services().await else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let Some(redis) = PrivateRedis::start(port) else {
        let _ = skip_or_fail("redis-server binary not found");
        return;
    };
    let url = redis.url();
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (a, b) = (
        s.node_with_redis(da.path(), &url),
        s.node_with_redis(db.path(), &url),
    );
    let (ca, _) = user_on(&a, "rr_a").await;
    let (cb, ub) = user_on(&b, "rr_b").await;
    let conv = ca.create_direct(&ub.id).await.expect("direct").0;
    let listener = gateway(&cb).await; // on B
    let first = ca.send_text(&conv.id, "before").await.expect("send");
    events_until(&listener, &conv.id, first.seq).await;
    redis.stop();
    // Sent on A while Redis is down: A stores them; B cannot hear of them.
    let mut during = Vec::new();
    for i in 0..5 {
        during.push(
            ca.send_text(&conv.id, &format!("during {i}"))
                .await
                .expect("send works without redis")
                .seq,
        );
    }
    let again = PrivateRedis::start(port).expect("restart redis");
    // B's subscription comes back and catches its connection up.
    let caught: Vec<u64> = events_until(&listener, &conv.id, *during.last().expect("sent"))
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        caught, during,
        "events sent while Redis was down arrive, in order"
    );
    let after = ca.send_text(&conv.id, "after").await.expect("send");
    let live: Vec<u64> = events_until(&listener, &conv.id, after.seq)
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(live, vec![after.seq], "live deliveries resume");
    again.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_of_a_process_that_dies_silently_go_offline() {
    let Some(s) = services().await else { return };
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let ttl = ["--presence-shared-ttl", "2"];
    let (a, b) = (
        s.node_with_args(da.path(), &s.redis_url, &ttl),
        s.node_with_args(db.path(), &s.redis_url, &ttl),
    );
    let (ca, ua) = user_on(&a, "dead_a").await;
    let (cb, ub) = user_on(&b, "dead_b").await;
    cb.create_direct(&ua.id).await.expect("direct");
    let watcher = gateway(&cb).await;
    let _online = gateway(&ca).await;
    next_matching(&watcher, |f| matches!(f, ServerFrame::Presence { user_id, state: PresenceState::Online, .. } if *user_id == ua.id)).await;
    a.kill9();
    // No process said goodbye for a; its entry expires and B announces it.
    next_matching(&watcher, |f| matches!(f, ServerFrame::Presence { user_id, state: PresenceState::Offline, .. } if *user_id == ua.id)).await;
    assert_eq!(
        cb.user(&ua.id).await.expect("user").presence.state,
        PresenceState::Offline
    );
    let _ = ub;
}
