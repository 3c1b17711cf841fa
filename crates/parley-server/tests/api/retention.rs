//! Retention (protocol.md §13) through real sockets, on both backends:
//! a pass on demand turns every expired message into a tombstone without
//! an event (seqs and `last_seq` unchanged), redacts its events, drops it
//! from search and records itself in the audit log; a conversation's own
//! setting works with the server's off; refusals change nothing; the
//! operator's dry run counts without changing.

use crate::helpers::*;
use parley_protocol::Timestamp;
use parley_sdk::Client;
use parley_server::config::Settings;
use serde_json::{Value, json};

const SECRET: &str = "retention-test-secret-retention-test-secret";
const DAY_MS: i64 = 86_400_000;

fn settings(backend: &Backend, days: Option<u32>) -> Settings {
    Settings {
        rate_limits: Some("off".into()),
        database_url: backend.database_url(),
        external_jwt_alg: Some("HS256".into()),
        external_jwt_secret: Some(SECRET.into()),
        retention_message_days: days,
        ..Default::default()
    }
}

async fn admin(app: &TestApp) -> Client {
    let c = app
        .client()
        .with_token(&platform_token(SECRET, &unique("ret-root"), "admin"));
    c.me().await.expect("admin provisioned");
    c
}

fn days_from_now(days: i64) -> String {
    Timestamp(Timestamp::now().millis() + days * DAY_MS).to_string()
}

async fn call(c: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let r = c.raw(method, path, body.as_deref()).await.expect("request");
    (r.status, r.json)
}

async fn run(c: &Client, now: Option<String>) -> (u16, Value) {
    let body = now.map(|n| json!({ "now": n }));
    call(c, "POST", "/admin/retention/run", body).await
}

async fn expired_messages_become_tombstones_everywhere(backend: Backend) {
    let app = spawn_app_with(settings(&backend, Some(30))).await;
    let root = admin(&app).await;
    let (a, _) = app.user("ret_a").await;
    let (b, bu) = app.user("ret_b").await;
    let g = app.direct(&a, &bu).await;
    let first = a.send_text(&g.id, "meet at the quay").await.expect("send");
    a.edit_message(&first.id, "meet at the pier")
        .await
        .expect("edit");
    b.add_reaction(&first.id, "👍").await.expect("react");
    let second = b.send_text(&g.id, "bring the maps").await.expect("send");
    let before = a.conversation(&g.id).await.expect("conv").last_seq;

    let (status, body) = run(&root, Some(days_from_now(29))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tombstoned"], 0, "29 days old is not yet expired");

    let (status, body) = run(&root, Some(days_from_now(31))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tombstoned"], 2, "{body}");

    for id in [&first.id, &second.id] {
        let m = b.message(id).await.expect("still listed");
        assert!(m.deleted, "an expired message is a tombstone");
        assert_eq!(m.text, None);
        assert!(m.attachments.is_empty() && m.reactions.is_empty());
    }
    let conv = a.conversation(&g.id).await.expect("conv");
    assert_eq!(conv.last_seq, before, "no event was written");
    let page = b.events(&g.id, Some(0), Some(100)).await.expect("events");
    let seqs: Vec<u64> = page.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=before).collect::<Vec<_>>(), "seqs stay gap-free");
    let raw = call(
        &b,
        "GET",
        &format!("/conversations/{}/events?after=0", g.id),
        None,
    )
    .await;
    let text = raw.1.to_string();
    for gone in ["quay", "pier", "maps"] {
        assert!(
            !text.contains(gone),
            "{gone:?} is gone from the log: {text}"
        );
    }
    let edited = raw.1["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["type"] == "message.edited")
        .expect("the edit keeps its seq");
    assert_eq!(edited["data"]["text"], Value::Null);
    let created = raw.1["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["type"] == "message.created" && e["data"]["message"]["id"] == first.id.as_str())
        .expect("created");
    assert_eq!(created["data"]["message"]["deleted"], true);

    let (status, hits) = call(&a, "GET", "/search/messages?q=pier", None).await;
    assert_eq!(status, 200);
    assert_eq!(hits["hits"], json!([]), "expired messages leave the index");

    let fresh = a.send_text(&g.id, "a new day").await.expect("send");
    let (status, body) = run(&root, None).await;
    assert_eq!((status, &body["tombstoned"]), (200, &json!(0)));
    let kept = b.message(&fresh.id).await.expect("fresh");
    assert_eq!(kept.text.as_deref(), Some("a new day"));

    let (_, audit) = call(&root, "GET", "/admin/audit", None).await;
    let entry = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "retention.run")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(entry["details"]["tombstoned"], 2, "{audit}");
    app.stop().await;
}

async fn refusals_change_nothing_and_conversations_have_their_own(backend: Backend) {
    let app = spawn_app_with(settings(&backend, None)).await;
    let root = admin(&app).await;
    let (a, _) = app.user("reto_a").await;
    let (_, bu) = app.user("reto_b").await;
    let (_, cu) = app.user("reto_c").await;
    let short = app.direct(&a, &bu).await;
    let plain = app.direct(&a, &cu).await;
    let s1 = a.send_text(&short.id, "ephemeral").await.expect("send");
    let p1 = a.send_text(&plain.id, "kept").await.expect("send");

    let (status, body) = run(&a, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, body) = run(&root, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "retention off: {body}"
    );
    let (status, body) = run(&root, Some(days_from_now(-2))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    assert_eq!(body["error"]["details"]["field"], "now", "{body}");
    let (status, _) = run(&root, Some("yesterday".into())).await;
    assert_eq!(status, 400);

    let path = format!("/admin/conversations/{}/retention", short.id);
    let (status, _) = call(&a, "PUT", &path, Some(json!({"message_days": 1}))).await;
    assert_eq!(status, 403, "members may not set retention");
    for bad in [
        json!({"message_days": 0}),
        json!({"message_days": 40000}),
        json!({"message_days": "7"}),
        json!({"days": 7}),
    ] {
        let (status, body) = call(&root, "PUT", &path, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = call(
        &root,
        "PUT",
        "/admin/conversations/nope/retention",
        Some(json!({"message_days": 1})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = call(&root, "PUT", &path, Some(json!({"message_days": 1}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"conversation_id": short.id, "message_days": 1, "effective_message_days": 1})
    );
    let (_, got) = call(&root, "GET", &path, None).await;
    assert_eq!(got["message_days"], 1);

    let (status, body) = run(&root, Some(days_from_now(2))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["tombstoned"], 1,
        "only the conversation with its own retention"
    );
    assert!(a.message(&s1.id).await.expect("s1").deleted);
    assert_eq!(
        a.message(&p1.id).await.expect("p1").text.as_deref(),
        Some("kept")
    );

    let (status, body) = call(&root, "PUT", &path, Some(json!({"message_days": null}))).await;
    assert_eq!(status, 200);
    assert_eq!(body["effective_message_days"], Value::Null);
    let (status, _) = run(&root, None).await;
    assert_eq!(status, 409, "no retention anywhere again");
    app.stop().await;
}

on_both_backends!(
    expired_messages_become_tombstones_everywhere,
    refusals_change_nothing_and_conversations_have_their_own,
);

/// `parley admin retention --dry-run` counts and changes nothing; without
/// `--dry-run` it runs the pass.
#[tokio::test]
async fn the_operators_dry_run_counts_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let server = ServerProcess::start(dir.path(), &["--retention-message-days", "7"]);
    let c = parley_sdk::Client::new(&server.base_url).expect("client");
    c.register(&unique("retcli"), PASSWORD, None)
        .await
        .expect("register");
    let other = parley_sdk::Client::new(&server.base_url).expect("client");
    let other = other
        .register(&unique("retcli"), PASSWORD, None)
        .await
        .expect("register")
        .user;
    let (g, _) = c.create_direct(&other.id).await.expect("direct");
    let m = c.send_text(&g.id, "count me").await.expect("send");
    let cli = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["admin", "retention", "--data-dir"])
            .arg(dir.path())
            .args(["--retention-message-days", "7"])
            .args(extra)
            .output()
            .expect("cli");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let later = days_from_now(8);
    assert_eq!(
        cli(&["--dry-run", "--now", &later]),
        "1 message(s) would become tombstones"
    );
    assert_eq!(
        c.message(&m.id).await.expect("m").text.as_deref(),
        Some("count me"),
        "a dry run changes nothing"
    );
    assert_eq!(cli(&["--dry-run"]), "0 message(s) would become tombstones");
    assert_eq!(cli(&["--now", &later]), "1 message(s) became tombstones");
    assert!(c.message(&m.id).await.expect("m").deleted);
}
