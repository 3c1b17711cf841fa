//! Admin moderation (protocol.md §11) through real sockets: admin
//! deletes, bans that end every kind of access at once, unbans that leave
//! old credentials refused, and the audit log. The admin is a platform
//! user whose external JWT carries `roles: ["admin"]`.

use crate::helpers::*;
use parley_protocol::ServerFrame;
use parley_sdk::{Client, Gateway};
use parley_server::config::Settings;
use serde_json::json;
use std::time::Duration;

const SECRET: &str = "moderation-test-secret-moderation-test-secret";

async fn app() -> TestApp {
    spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        external_jwt_alg: Some("HS256".into()),
        external_jwt_secret: Some(SECRET.into()),
        ..Default::default()
    })
    .await
}

/// A platform user with the admin role.
async fn admin(app: &TestApp, sub: &str) -> (Client, String) {
    let token = platform_token(SECRET, sub, "admin");
    let c = app.client().with_token(&token);
    let me = c.me().await.expect("admin provisioned");
    assert_eq!(me.role, parley_protocol::Role::Admin);
    (c, me.id)
}

async fn status(
    c: &Client,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let r = c.raw(method, path, body).await.expect("request");
    (r.status, r.json)
}

#[tokio::test]
async fn non_admins_get_forbidden_everywhere_and_nothing_changes() {
    let app = app().await;
    let (a, _) = app.user("mod_na_a").await;
    let (b, bu) = app.user("mod_na_b").await;
    let c = app.direct(&a, &bu).await;
    let m = b.send_text(&c.id, "mine").await.expect("send");
    let ghost = uuid::Uuid::now_v7().to_string();
    for (method, path, body) in [
        ("DELETE", format!("/admin/messages/{}", m.id), None),
        ("DELETE", format!("/admin/messages/{ghost}"), None),
        ("POST", format!("/admin/users/{}/ban", bu.id), Some("{}")),
        ("POST", format!("/admin/users/{ghost}/ban"), None),
        ("DELETE", format!("/admin/users/{}/ban", bu.id), None),
        ("GET", "/admin/audit".to_string(), None),
        ("GET", "/admin/audit?cursor=%%%".to_string(), None),
    ] {
        let (code, json) = status(&a, method, &path, body).await;
        assert_eq!(code, 403, "{method} {path}: {json}");
        assert_eq!(json["error"]["code"], "forbidden", "{method} {path}");
    }
    assert!(!a.message(&m.id).await.expect("still there").deleted);
    b.me().await.expect("b is not banned");
    let anon = app.client();
    assert_eq!(status(&anon, "GET", "/admin/audit", None).await.0, 401);
    app.stop().await;
}

#[tokio::test]
async fn an_admin_deletes_any_message_once_with_an_event_and_an_audit_entry() {
    let app = app().await;
    let (root, root_id) = admin(&app, "mod-root-1").await;
    let (a, _) = app.user("mod_del_a").await;
    let (b, bu) = app.user("mod_del_b").await;
    let c = app.direct(&a, &bu).await;
    let watcher = app.gateway(&a).await;
    let m = b.send_text(&c.id, "something awful").await.expect("send");
    let (code, t) = status(&root, "DELETE", &format!("/admin/messages/{}", m.id), None).await;
    assert_eq!(code, 200, "{t}");
    assert_eq!(t["deleted"], true);
    assert_eq!(t["text"], serde_json::Value::Null);
    assert_eq!(t["attachments"], json!([]));
    let e = loop {
        let e = watcher.next_event(WAIT).await.expect("event");
        if e.kind() == "message.deleted" {
            break e;
        }
    };
    assert_eq!(e.actor_id.as_deref(), Some(root_id.as_str()));
    // Again: 200, no new event, no new entry.
    assert_eq!(
        status(&root, "DELETE", &format!("/admin/messages/{}", m.id), None)
            .await
            .0,
        200
    );
    let events = a.events(&c.id, Some(e.seq), None).await.expect("events");
    assert!(
        events.events.is_empty(),
        "no second event: {:?}",
        events.events
    );
    let ghost = uuid::Uuid::now_v7().to_string();
    let (code, json) = status(&root, "DELETE", &format!("/admin/messages/{ghost}"), None).await;
    assert_eq!(
        (code, json["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (_, audit) = status(&root, "GET", "/admin/audit", None).await;
    let entries = audit["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{audit}");
    let entry = &entries[0];
    assert_eq!(entry["action"], "message.delete");
    assert_eq!(entry["actor_id"], root_id.as_str());
    assert_eq!(entry["target_type"], "message");
    assert_eq!(entry["target_id"], m.id.as_str());
    assert_eq!(
        entry["details"],
        json!({"conversation_id": c.id, "sender_id": bu.id})
    );
    assert!(
        entry["id"].is_string() && entry["at"].is_string(),
        "{entry}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_ban_ends_every_kind_of_access_at_once_and_an_unban_only_new_ones() {
    let app = app().await;
    let (root, root_id) = admin(&app, "mod-root-2").await;
    let name = unique("mod_ban");
    let bad = app.client();
    let auth = bad.register(&name, PASSWORD, None).await.expect("register");
    let bad_id = auth.user.id.clone();
    let (friend, _) = app.user("mod_ban_friend").await;
    let conv = friend.create_direct(&bad_id).await.expect("direct").0;
    bad.send_text(&conv.id, "before the ban")
        .await
        .expect("send");
    let gw = app.gateway(&bad).await;
    let ticket = bad.ticket().await.expect("ticket").ticket;

    let (code, json) = status(
        &root,
        "POST",
        &format!("/admin/users/{bad_id}/ban"),
        Some(r#"{"reason":"spam"}"#),
    )
    .await;
    assert_eq!(code, 204, "{json}");
    // The open connection closes with 4003 (within 2 s).
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match gw.next_push(WAIT).await {
                Err(parley_sdk::Error::Closed { code, .. }) => break code,
                Err(e) => panic!("{e}"),
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("closed within 2 s");
    assert_eq!(closed, 4003);
    // Access token, refresh token and the ticket issued before: refused.
    assert_code(bad.me().await, "unauthenticated");
    assert_code(bad.refresh(&auth.refresh_token).await, "unauthenticated");
    let upgrade = tokio_tungstenite::connect_async(format!(
        "ws://{}/api/v1/gateway?ticket={ticket}",
        app.addr
    ))
    .await;
    match upgrade {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("the ticket is refused: {other:?}"),
    }
    // The right password: 403 with the reason; a wrong one stays 401.
    match app.client().login(&name, PASSWORD).await {
        Err(parley_sdk::Error::Api { status, error, .. }) => {
            assert_eq!((status, error.code.as_str()), (403, "forbidden"));
            assert_eq!(error.details["reason"], "banned");
        }
        other => panic!("login refused: {other:?}"),
    }
    assert_code(
        app.client().login(&name, "not the password").await,
        "unauthenticated",
    );
    // Out of the directory; their messages stay.
    let found = friend
        .search_users(&name, None, None)
        .await
        .expect("search");
    assert!(found.users.is_empty(), "{:?}", found.users);
    let page = friend
        .messages(&conv.id, None, None, None)
        .await
        .expect("history");
    assert!(
        page.messages
            .iter()
            .any(|m| m.text.as_deref() == Some("before the ban"))
    );
    // Idempotent; an admin cannot ban themself; an unknown user is 404.
    assert_eq!(
        status(&root, "POST", &format!("/admin/users/{bad_id}/ban"), None)
            .await
            .0,
        204
    );
    let (code, json) = status(&root, "POST", &format!("/admin/users/{root_id}/ban"), None).await;
    assert_eq!(
        (code, json["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let ghost = uuid::Uuid::now_v7().to_string();
    assert_eq!(
        status(&root, "POST", &format!("/admin/users/{ghost}/ban"), None)
            .await
            .0,
        404
    );
    let long = json!({ "reason": "x".repeat(501) }).to_string();
    let (code, json) = status(
        &root,
        "POST",
        &format!("/admin/users/{}/ban", friend.me().await.expect("me").id),
        Some(&long),
    )
    .await;
    assert_eq!(
        (code, json["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );

    // Unbanned: login works again, the old credentials stay refused.
    assert_eq!(
        status(&root, "DELETE", &format!("/admin/users/{bad_id}/ban"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        status(&root, "DELETE", &format!("/admin/users/{bad_id}/ban"), None)
            .await
            .0,
        204
    );
    assert_code(bad.me().await, "unauthenticated");
    let again = app.client();
    again
        .login(&name, PASSWORD)
        .await
        .expect("login after the unban");
    again.me().await.expect("a new token works");
    Gateway::connect(&again)
        .await
        .expect("and so does the gateway");

    let (_, audit) = status(&root, "GET", "/admin/audit?limit=2", None).await;
    let entries = audit["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["user.unban", "user.ban"],
        "one entry per change: {audit}"
    );
    assert_eq!(entries[1]["details"], json!({"reason": "spam"}));
    assert_eq!(entries[0]["target_type"], "user");
    assert!(
        audit["next_cursor"].is_null(),
        "two entries in all: {audit}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_pages_newest_first() {
    let app = app().await;
    let (root, _) = admin(&app, "mod-root-3").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, u) = app.user(&format!("mod_pg{i}_")).await;
        assert_eq!(
            status(&root, "POST", &format!("/admin/users/{}/ban", u.id), None)
                .await
                .0,
            204
        );
        ids.push(u.id);
    }
    let (_, first) = status(&root, "GET", "/admin/audit?limit=2", None).await;
    let cursor = first["next_cursor"].as_str().expect("more").to_string();
    let (_, rest) = status(
        &root,
        "GET",
        &format!("/admin/audit?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    let targets: Vec<String> = first["entries"]
        .as_array()
        .into_iter()
        .chain(rest["entries"].as_array())
        .flatten()
        .filter_map(|e| e["target_id"].as_str().map(str::to_string))
        .collect();
    ids.reverse();
    assert_eq!(targets, ids);
    assert!(rest["next_cursor"].is_null());
    let (code, _) = status(&root, "GET", "/admin/audit?cursor=%%%", None).await;
    assert_eq!(code, 400);
    app.stop().await;
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_both_stay_signed_in_and_theft_is_still_caught() {
    let app = spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        refresh_reuse_window: Some(1),
        ..Default::default()
    })
    .await;
    let c = app.client();
    let auth = c
        .register(&unique("mod_tabs"), PASSWORD, None)
        .await
        .expect("register");
    let (tab1, tab2) = (app.client(), app.client());
    let (t1, t2) = tokio::join!(
        tab1.refresh(&auth.refresh_token),
        tab2.refresh(&auth.refresh_token)
    );
    let (t1, t2) = (t1.expect("tab 1"), t2.expect("tab 2"));
    assert_eq!(t1.refresh_token, t2.refresh_token, "the same successor");
    app.client()
        .with_token(&t2.access_token)
        .me()
        .await
        .expect("both signed in");
    // Outside the window, the old token is theft: the family ends, and
    // with it the access tokens of the session.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_code(
        app.client().refresh(&auth.refresh_token).await,
        "unauthenticated",
    );
    assert_code(
        app.client().refresh(&t1.refresh_token).await,
        "unauthenticated",
    );
    assert_code(
        app.client().with_token(&t1.access_token).me().await,
        "unauthenticated",
    );
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_sessions_access_tokens_at_once() {
    let app = app().await;
    let c = app.client();
    let auth = c
        .register(&unique("mod_out"), PASSWORD, None)
        .await
        .expect("register");
    let other = app.client();
    let second = other
        .login(&auth.user.username, PASSWORD)
        .await
        .expect("second session");
    c.me().await.expect("signed in");
    c.logout(&auth.refresh_token).await.expect("logout");
    assert_code(c.me().await, "unauthenticated");
    other.me().await.expect("the other session goes on");
    let _ = second;
    app.stop().await;
}

/// Section 11 across processes: a ban on one process closes the user's
/// connection on the other (4003) and refuses their token there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_on_one_process_ends_access_on_the_other() {
    let Some(services) = crate::cluster::services().await else {
        return;
    };
    let (d1, d2, d3) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    // The admin, made by the command line against the shared database.
    use std::io::Write as _;
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args([
            "admin",
            "create-user",
            "--username",
            "cluster_root",
            "--password-stdin",
            "--role",
            "admin",
        ])
        .args(["--database-url", &services.database_url, "--data-dir"])
        .arg(d3.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("cli");
    cli.stdin
        .take()
        .expect("stdin")
        .write_all(b"a long admin password\n")
        .expect("write");
    assert!(cli.wait().expect("wait").success());
    let n1 = services.node(d1.path());
    let n2 = services.node(d2.path());
    let root = Client::new(&n1.base_url).expect("client");
    root.login("cluster_root", "a long admin password")
        .await
        .expect("admin login");
    let bad = Client::new(&n2.base_url).expect("client");
    let bad_id = bad
        .register(&unique("cl_bad"), PASSWORD, None)
        .await
        .expect("register")
        .user
        .id;
    // An admin delete on node 1 reaches a member connected to node 2.
    let witness = Client::new(&n2.base_url).expect("client");
    let witness_id = witness
        .register(&unique("cl_wit"), PASSWORD, None)
        .await
        .expect("register")
        .user
        .id;
    let conv = bad.create_direct(&witness_id).await.expect("direct").0;
    let rude = bad.send_text(&conv.id, "rude").await.expect("send");
    let witness_gw = Gateway::connect(&witness).await.expect("witness gateway");
    witness_gw.sync(Default::default()).await.expect("sync");
    let r = root
        .raw("DELETE", &format!("/admin/messages/{}", rude.id), None)
        .await
        .expect("delete");
    assert_eq!(r.status, 200, "{}", r.text);
    let deleted = loop {
        let e = witness_gw.next_event(WAIT).await.expect("event on node 2");
        if e.kind() == "message.deleted" {
            break e;
        }
    };
    assert_eq!(deleted.conversation_id, conv.id);
    let gw = Gateway::connect(&bad).await.expect("gateway on node 2");
    let r = root
        .raw("POST", &format!("/admin/users/{bad_id}/ban"), None)
        .await
        .expect("ban");
    assert_eq!(r.status, 204, "{}", r.text);
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match gw.next_push(WAIT).await {
                Err(parley_sdk::Error::Closed { code, .. }) => break code,
                Err(e) => panic!("{e}"),
                Ok(ServerFrame::Ready { .. }) | Ok(_) => {}
            }
        }
    })
    .await
    .expect("closed within 2 s on the other process");
    assert_eq!(closed, 4003);
    assert_code(bad.me().await, "unauthenticated");
}

#[tokio::test]
async fn bad_admin_input_is_refused_in_the_error_shape_and_changes_nothing() {
    let app = app().await;
    let (root, _) = admin(&app, "mod-root-bad").await;
    let name = unique("mod_bad_in");
    app.client()
        .register(&name, PASSWORD, None)
        .await
        .expect("register");
    let target = app
        .client()
        .login(&name, PASSWORD)
        .await
        .expect("login")
        .user
        .id;
    let ban = format!("/admin/users/{target}/ban");
    for body in [
        r#"{"reason": 5}"#,
        r#"{"reason": "spam", "extra": true}"#,
        r#"["spam"]"#,
        r#"{"reason": "#,
        r#"{"reason": "a\u0000b"}"#,
    ] {
        let (code, json) = status(&root, "POST", &ban, Some(body)).await;
        assert_eq!(code, 400, "{body}: {json}");
        assert_eq!(json["error"]["code"], "invalid_request", "{body}");
    }
    let long_id = "x".repeat(300);
    for (method, path) in [
        ("POST", format!("/admin/users/{long_id}/ban")),
        ("DELETE", format!("/admin/users/{long_id}/ban")),
        ("DELETE", format!("/admin/messages/{long_id}")),
    ] {
        assert_eq!(
            status(&root, method, &path, None).await.0,
            404,
            "{method} {path}"
        );
    }
    for q in ["limit=0", "limit=abc", "limit=201", "cursor=!!"] {
        assert_eq!(
            status(&root, "GET", &format!("/admin/audit?{q}"), None)
                .await
                .0,
            400,
            "{q}"
        );
    }
    app.client()
        .login(&name, PASSWORD)
        .await
        .expect("nothing was banned");
    let (_, audit) = status(&root, "GET", "/admin/audit", None).await;
    assert_eq!(audit["entries"], json!([]), "nothing was audited");
    app.stop().await;
}
