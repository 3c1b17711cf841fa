//! Webhooks (protocol.md §12) through real sockets, on both backends, with
//! receivers that are real HTTP servers on 127.0.0.1: the admin API and
//! its refusals; deliveries signed per Standard Webhooks, logged, retried
//! on the schedule with one `webhook-id`, `failed` after the last; a hung
//! receiver that delays only its own deliveries; destinations the policy
//! refuses that never see a connection; a delete that stops pending
//! retries; `kill -9` with deliveries pending, all delivered after the
//! restart with the same ids; two processes sending each delivery once.

use crate::cluster::services;
use crate::helpers::*;
use crate::receiver::{Receiver, Reply};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use parley_sdk::Client;
use parley_server::config::Settings;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const JWT_SECRET: &str = "webhooks-test-secret-webhooks-test-secret";
/// A fixed secret, so the test checks signatures with its own HMAC.
const HOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const LONG: Duration = Duration::from_secs(20);

fn settings(backend: &Backend, schedule: &str) -> Settings {
    Settings {
        rate_limits: Some("off".into()),
        database_url: backend.database_url(),
        external_jwt_alg: Some("HS256".into()),
        external_jwt_secret: Some(JWT_SECRET.into()),
        outbound_allow_hosts: Some(vec!["127.0.0.1".into()]),
        outbound_timeout: Some("1s".into()),
        webhook_retry_schedule: Some(schedule.split(',').map(str::to_string).collect()),
        ..Default::default()
    }
}

fn token(role: &str) -> String {
    platform_token(JWT_SECRET, &unique(role), role)
}

async fn admin(base_url: &str) -> Client {
    let c = Client::new(base_url)
        .expect("client")
        .with_token(&token("admin"));
    assert_eq!(
        c.me().await.expect("admin").role,
        parley_protocol::Role::Admin
    );
    c
}

async fn call(c: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let r = c.raw(method, path, body.as_deref()).await.expect("request");
    (r.status, r.json)
}

async fn create(admin: &Client, url: &str, events: &[&str]) -> String {
    let (code, v) = call(
        admin,
        "POST",
        "/webhooks",
        Some(json!({"url": url, "events": events, "secret": HOOK_SECRET})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    v["id"].as_str().expect("id").to_string()
}

async fn deliveries(admin: &Client, hook: &str) -> Vec<Value> {
    let (code, v) = call(
        admin,
        "GET",
        &format!("/webhooks/{hook}/deliveries?limit=200"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    v["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Polls the delivery log until `done` holds.
async fn log_until(
    admin: &Client,
    hook: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let d = deliveries(admin, hook).await;
        if done(&d) {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The test's own Standard Webhooks check of a request.
pub(crate) fn signed_by(secret: &str, r: &crate::receiver::Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("prefix"))
        .expect("base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(
        format!(
            "{}.{}.",
            r.header("webhook-id"),
            r.header("webhook-timestamp")
        )
        .as_bytes(),
    );
    mac.update(&r.body);
    let want = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.header("webhook-signature").split(' ').any(|s| s == want)
}

/// A group of three (the sender and two others), on `base_url`.
async fn group_of_three(base_url: &str) -> (Client, String) {
    let member = || {
        Client::new(base_url)
            .expect("client")
            .with_token(&token("user"))
    };
    let (a, b, c) = (member(), member(), member());
    let ids = vec![b.me().await.expect("b").id, c.me().await.expect("c").id];
    let g = a.create_group("hooks", &ids).await.expect("group");
    (a, g.id)
}

async fn group_with_message(app: &TestApp, text: &str) -> (Client, String) {
    let (a, g) = group_of_three(&app.base_url).await;
    a.send_text(&g, text).await.expect("send");
    (a, g)
}

async fn admin_api_checks_lists_and_refuses(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "1s")).await;
    let admin = admin(&app.base_url).await;
    let (user, _) = app.user("wh_user").await;

    // Not an admin: forbidden everywhere.
    for (method, path, body) in [
        (
            "POST",
            "/webhooks".to_string(),
            Some(json!({"url": "https://example.com/h", "events": ["message.created"]})),
        ),
        ("GET", "/webhooks".to_string(), None),
        ("GET", "/webhooks/x".to_string(), None),
        (
            "PATCH",
            "/webhooks/x".to_string(),
            Some(json!({"active": false})),
        ),
        ("DELETE", "/webhooks/x".to_string(), None),
        ("GET", "/webhooks/x/deliveries".to_string(), None),
    ] {
        let (code, v) = call(&user, method, &path, body).await;
        assert_eq!(
            (code, v["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}: {v}"
        );
    }

    let (code, v) = call(
        &admin,
        "POST",
        "/webhooks",
        Some(json!({"url": "https://hooks.example.com/in", "events": ["message.created", "support.assigned"], "description": "crm"})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let secret = v["secret"].as_str().expect("secret");
    let raw = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_"))
        .expect("base64");
    assert_eq!(raw.len(), 32, "a generated secret is 32 random bytes");
    assert_eq!(v["active"], true);
    assert_eq!(v["events"], json!(["message.created", "support.assigned"]));
    assert_eq!(v["description"], "crm");
    let id = v["id"].as_str().expect("id").to_string();
    let (code, got) = call(&admin, "GET", &format!("/webhooks/{id}"), None).await;
    assert_eq!(code, 200);
    assert!(
        got.get("secret").is_none(),
        "the secret is shown once: {got}"
    );
    assert_eq!(got["url"], "https://hooks.example.com/in");

    for (body, field) in [
        (
            json!({"url": "ftp://example.com/x", "events": ["message.created"]}),
            "url",
        ),
        (
            json!({"url": "not a url", "events": ["message.created"]}),
            "url",
        ),
        (
            json!({"url": "http://10.1.2.3/h", "events": ["message.created"]}),
            "url",
        ),
        (
            json!({"url": "http://[::1]:9/h", "events": ["message.created"]}),
            "url",
        ),
        (
            json!({"url": "http://169.254.169.254/latest", "events": ["message.created"]}),
            "url",
        ),
        (
            json!({"url": "https://u:p@example.com/h", "events": ["message.created"]}),
            "url",
        ),
        (
            json!({"url": format!("https://example.com/{}", "a".repeat(2100)), "events": ["message.created"]}),
            "url",
        ),
        (
            json!({"url": "https://example.com/h", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://example.com/h", "events": ["message.sent"]}),
            "events",
        ),
        (
            json!({"url": "https://example.com/h", "events": "message.created"}),
            "events",
        ),
        (
            json!({"url": "https://example.com/h", "events": ["message.created"], "secret": "whsec_c2hvcnQ="}),
            "secret",
        ),
        (
            json!({"url": "https://example.com/h", "events": ["message.created"], "secret": "plain"}),
            "secret",
        ),
        (
            json!({"url": "https://example.com/h", "events": ["message.created"], "description": "d".repeat(501)}),
            "description",
        ),
        (json!({"events": ["message.created"]}), "url"),
    ] {
        let (code, v) = call(&admin, "POST", "/webhooks", Some(body.clone())).await;
        assert_eq!(code, 400, "{body}: {v}");
        assert_eq!(v["error"]["code"], "invalid_request", "{v}");
        assert_eq!(v["error"]["details"]["field"], field, "{body}: {v}");
    }
    // The allow-listed loopback address is accepted (tests allow 127.0.0.1).
    let local = create(&admin, "http://127.0.0.1:9/h", &["member.joined"]).await;

    let (code, v) = call(
        &admin,
        "PATCH",
        &format!("/webhooks/{id}"),
        Some(json!({"active": false, "events": ["message.edited"], "description": null})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        (
            v["active"].clone(),
            v["events"].clone(),
            v["description"].clone()
        ),
        (json!(false), json!(["message.edited"]), Value::Null)
    );
    let (code, v) = call(
        &admin,
        "PATCH",
        &format!("/webhooks/{id}"),
        Some(json!({"url": "http://192.168.1.1/"})),
    )
    .await;
    assert_eq!(
        (code, v["error"]["details"]["field"].as_str()),
        (400, Some("url")),
        "{v}"
    );
    let (code, v) = call(&admin, "GET", &format!("/webhooks/{id}"), None).await;
    assert_eq!(
        (code, v["url"].as_str()),
        (200, Some("https://hooks.example.com/in")),
        "a refused patch changes nothing"
    );

    // Lists page by cursor.
    let (code, page) = call(&admin, "GET", "/webhooks?limit=1", None).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["webhooks"].as_array().map(Vec::len), Some(1));
    let cursor = page["next_cursor"].as_str().expect("more").to_string();
    let (_, rest) = call(
        &admin,
        "GET",
        &format!("/webhooks?limit=5&cursor={cursor}"),
        None,
    )
    .await;
    let mut seen: Vec<String> = page["webhooks"]
        .as_array()
        .into_iter()
        .chain(rest["webhooks"].as_array())
        .flatten()
        .map(|w| w["id"].as_str().unwrap_or_default().to_string())
        .collect();
    seen.sort();
    let mut want = vec![id.clone(), local.clone()];
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(rest["next_cursor"], Value::Null);

    let (code, _) = call(&admin, "DELETE", &format!("/webhooks/{id}"), None).await;
    assert_eq!(code, 204);
    for (method, path) in [
        ("GET", format!("/webhooks/{id}")),
        ("DELETE", format!("/webhooks/{id}")),
        ("GET", format!("/webhooks/{id}/deliveries")),
        ("GET", "/webhooks/no-such".into()),
    ] {
        let (code, v) = call(&admin, method, &path, None).await;
        assert_eq!(
            (code, v["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}: {v}"
        );
    }
    let (code, v) = call(
        &admin,
        "GET",
        &format!("/webhooks/{local}/deliveries?limit=0"),
        None,
    )
    .await;
    assert_eq!(
        (code, v["error"]["details"]["field"].as_str()),
        (400, Some("limit")),
        "{v}"
    );
    app.stop().await;
}

async fn deliveries_are_signed_logged_and_retried_with_one_id(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "1s,1s")).await;
    let admin = admin(&app.base_url).await;
    let ok = Receiver::start(Reply::Status(200)).await;
    // Fails twice, then takes it.
    ok.script(&[Reply::Status(500), Reply::Status(302)]);
    let gone = Receiver::start(Reply::Status(410)).await;
    let h_ok = create(&admin, &ok.url, &["message.created"]).await;
    let h_gone = create(
        &admin,
        &gone.url,
        &["message.created", "conversation.created"],
    )
    .await;
    let (sender, conv) = group_with_message(&app, "hello hooks").await;

    let got = ok
        .wait_until(LONG, "the third attempt", |g| {
            g.iter().any(|r| r.delivered())
        })
        .await;
    assert_eq!(
        got.len(),
        3,
        "two failures, then the success; nothing after it"
    );
    let id = got[0].header("webhook-id");
    assert!(
        got.iter().all(|r| r.header("webhook-id") == id),
        "one webhook-id on every attempt"
    );
    for r in &got {
        assert!(
            signed_by(HOOK_SECRET, r),
            "a valid Standard Webhooks signature: {:?}",
            r.headers
        );
        let ts: i64 = r.header("webhook-timestamp").parse().expect("unix seconds");
        let now = parley_protocol::Timestamp::now().millis() / 1000;
        assert!((now - ts).abs() < 300, "the attempt's own time");
        assert!(r.header("content-type").starts_with("application/json"));
    }
    assert!(
        got[1].at.duration_since(got[0].at) >= Duration::from_millis(900),
        "the schedule's delay between attempts"
    );
    let body = got[0].json();
    assert_eq!(body["type"], "message.created");
    assert_eq!(body["data"]["type"], "message.created");
    assert_eq!(body["data"]["conversation_id"], conv.as_str());
    assert_eq!(body["data"]["data"]["message"]["text"], "hello hooks");
    assert!(body["data"]["seq"].as_u64().is_some_and(|s| s >= 1));
    assert_eq!(body["timestamp"], body["data"]["at"]);
    assert_eq!(
        body["data"]["actor_id"],
        sender.me().await.expect("me").id.as_str()
    );
    assert!(
        !signed_by("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &got[0]),
        "the check can fail"
    );

    let log = log_until(&admin, &h_ok, "delivered in the log", |d| {
        d.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["id"], id.as_str());
    assert_eq!(
        (log[0]["attempts"].as_u64(), log[0]["last_status"].as_u64()),
        (Some(3), Some(200))
    );
    assert_eq!(log[0]["next_attempt_at"], Value::Null);
    assert_eq!(log[0]["event_type"], "message.created");

    // 410 is a failure like any other: retried, then `failed`.
    let log = log_until(&admin, &h_gone, "both failed", |d| {
        d.len() == 2 && d.iter().all(|d| d["status"] == "failed")
    })
    .await;
    for d in &log {
        assert_eq!(
            (d["attempts"].as_u64(), d["last_status"].as_u64()),
            (Some(3), Some(410)),
            "{d}"
        );
    }
    assert_eq!(log[0]["event_type"], "message.created", "newest first");
    assert_eq!(log[1]["event_type"], "conversation.created");
    assert_eq!(gone.got().len(), 6, "three attempts each, no more");
    let ids: HashSet<String> = gone.got().iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(gone.got().len(), 6, "nothing after failed");
    app.stop().await;
}

async fn a_dead_receiver_delays_only_its_own_deliveries(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "1s,1s,1s")).await;
    let admin = admin(&app.base_url).await;
    let hung = Receiver::start(Reply::Hang).await;
    let good = Receiver::start(Reply::Status(204)).await;
    let h_hung = create(&admin, &hung.url, &["message.created"]).await;
    create(&admin, &good.url, &["message.created"]).await;
    let (a, g) = group_of_three(&app.base_url).await;
    for i in 0..20 {
        a.send_text(&g, &format!("m{i}")).await.expect("send");
    }
    let got = good
        .wait_until(LONG, "20 deliveries to the healthy receiver", |g| {
            g.len() >= 20
        })
        .await;
    let ids: HashSet<String> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 20, "each once");
    let held = hung.got().len();
    assert!(
        held < 2 * parley_server::outbox::PER_WEBHOOK,
        "the hung receiver holds a bounded number of attempts, got {held}"
    );
    let log = log_until(&admin, &h_hung, "timed-out attempts recorded", |d| {
        d.iter().any(|d| d["attempts"].as_u64() >= Some(1))
    })
    .await;
    let tried: Vec<&Value> = log
        .iter()
        .filter(|d| d["attempts"].as_u64() >= Some(1))
        .collect();
    assert!(
        tried
            .iter()
            .all(|d| d["last_status"].is_null() && d["status"] == "pending"),
        "a timeout has no status, and is retried: {tried:?}"
    );
    app.stop().await;
}

/// Without an allow-list, a host name resolving to loopback fails on the
/// address it resolves to: the receiver never sees a connection.
async fn refused_resolved_addresses_fail_the_delivery(backend: Backend) {
    let app = spawn_app_with(Settings {
        outbound_allow_hosts: None,
        ..settings(&backend, "1s")
    })
    .await;
    let admin = admin(&app.base_url).await;
    let refused = Receiver::start(Reply::Status(200)).await;
    let port = refused.url.rsplit(':').next().expect("port").to_string();
    let (code, v) = call(
        &admin,
        "POST",
        "/webhooks",
        Some(json!({"url": format!("http://127.0.0.1:{port}"), "events": ["message.created"]})),
    )
    .await;
    assert_eq!(
        (code, v["error"]["details"]["field"].as_str()),
        (400, Some("url")),
        "{v}"
    );
    let hook = create(
        &admin,
        &format!("http://localhost:{port}"),
        &["message.created"],
    )
    .await;
    group_with_message(&app, "to nowhere").await;
    let log = log_until(&admin, &hook, "both attempts failed", |d| {
        d.len() == 1 && d[0]["status"] == "failed"
    })
    .await;
    assert_eq!(
        (log[0]["attempts"].as_u64(), &log[0]["last_status"]),
        (Some(2), &Value::Null)
    );
    assert!(
        refused.got().is_empty(),
        "a refused address never sees a connection"
    );
    app.stop().await;
}

async fn deleting_a_webhook_stops_its_retries(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "1s,1s,1s,1s,1s")).await;
    let admin = admin(&app.base_url).await;
    let failing = Receiver::start(Reply::Status(503)).await;
    let hook = create(&admin, &failing.url, &["message.created"]).await;
    group_with_message(&app, "retry me").await;
    failing
        .wait_until(LONG, "a first attempt", |g| !g.is_empty())
        .await;
    let (code, _) = call(&admin, "DELETE", &format!("/webhooks/{hook}"), None).await;
    assert_eq!(code, 204);
    let before = failing.got().len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(failing.got().len(), before, "no attempt after the delete");

    // Paused: nothing is written for it, nothing is attempted.
    let paused = Receiver::start(Reply::Status(200)).await;
    let hook = create(&admin, &paused.url, &["message.created"]).await;
    let (code, _) = call(
        &admin,
        "PATCH",
        &format!("/webhooks/{hook}"),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(code, 200);
    group_with_message(&app, "while paused").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(paused.got().is_empty());
    assert!(deliveries(&admin, &hook).await.is_empty());
    app.stop().await;
}

on_both_backends!(
    admin_api_checks_lists_and_refuses,
    deliveries_are_signed_logged_and_retried_with_one_id,
    a_dead_receiver_delays_only_its_own_deliveries,
    refused_resolved_addresses_fail_the_delivery,
    deleting_a_webhook_stops_its_retries,
);

fn process_args(schedule: &str) -> Vec<String> {
    [
        "--external-jwt-alg",
        "HS256",
        "--external-jwt-secret",
        JWT_SECRET,
        "--outbound-allow-hosts",
        "127.0.0.1",
        "--outbound-timeout",
        "1s",
        "--webhook-retry-schedule",
        schedule,
    ]
    .map(str::to_string)
    .to_vec()
}

async fn send_burst(base_url: &str, n: usize) {
    let (a, g) = group_of_three(base_url).await;
    for i in 0..n {
        a.send_text(&g, &format!("k{i}")).await.expect("send");
    }
}

/// Deliveries pending when the process is killed (no shutdown path runs)
/// are all delivered after the restart, with the ids they had.
async fn kill_9_loses_no_delivery(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let mut args = process_args("1s,1s,1s,1s,1s,1s,1s,1s,1s,1s");
    if let Some(url) = backend.database_url() {
        args.extend(["--database-url".to_string(), url]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = ServerProcess::start(dir.path(), &args);
    let rx = Receiver::start(Reply::Status(503)).await;
    let admin = admin(&node.base_url).await;
    let hook = create(&admin, &rx.url, &["message.created"]).await;
    send_burst(&node.base_url, 10).await;
    let seen = rx
        .wait_until(LONG, "an attempt of each", |g| {
            g.iter()
                .map(|r| r.header("webhook-id"))
                .collect::<HashSet<_>>()
                .len()
                == 10
        })
        .await;
    let ids: HashSet<String> = seen.iter().map(|r| r.header("webhook-id")).collect();
    node.kill9();
    rx.set_default(Reply::Status(200));
    let node = ServerProcess::start(dir.path(), &args);
    let got = rx
        .wait_until(LONG, "every pending delivery after the restart", |g| {
            g.iter()
                .filter(|r| r.delivered())
                .map(|r| r.header("webhook-id"))
                .collect::<HashSet<_>>()
                .len()
                == 10
        })
        .await;
    let delivered: HashSet<String> = got
        .iter()
        .filter(|r| r.delivered())
        .map(|r| r.header("webhook-id"))
        .collect();
    assert_eq!(delivered, ids, "the same ids, none lost, none new");
    let admin = self::admin(&node.base_url).await;
    log_until(&admin, &hook, "all delivered", |d| {
        d.len() == 10 && d.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    drop(node);
}

on_both_backends!(kill_9_loses_no_delivery);

/// Two processes on one PostgreSQL database and Redis, both running the
/// delivery worker: each delivery reaches the receiver once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_send_each_delivery_once() {
    let Some(svc) = services().await else {
        return;
    };
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let args = process_args("1s");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = svc.node_with_args(da.path(), &svc.redis_url, &args);
    let b = svc.node_with_args(db.path(), &svc.redis_url, &args);
    let rx = Receiver::start(Reply::Status(200)).await;
    let admin = admin(&a.base_url).await;
    create(&admin, &rx.url, &["message.created"]).await;
    let (x, y) = tokio::join!(send_burst(&a.base_url, 40), send_burst(&b.base_url, 40));
    let _ = (x, y);
    let got = rx
        .wait_until(LONG, "80 deliveries", |g| g.len() >= 80)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_after = rx.got();
    assert_eq!(got_after.len(), got.len(), "no late repeats");
    let mut count: HashMap<String, usize> = HashMap::new();
    for r in &got_after {
        *count.entry(r.header("webhook-id")).or_default() += 1;
    }
    assert_eq!(count.len(), 80, "every delivery");
    assert!(count.values().all(|n| *n == 1), "each once: {count:?}");
}
