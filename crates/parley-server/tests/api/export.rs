//! Conversation export (protocol.md §13) through real sockets, on both
//! backends: the caller's view in seq order with tombstones, as JSON and
//! as text, as a download; refusals before the first byte; a history
//! longer than one page streamed whole.

use crate::helpers::*;
use parley_server::config::Settings;
use serde_json::Value;

struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    body: String,
}

async fn export(app: &TestApp, c: &parley_sdk::Client, conv: &str, format: &str) -> Download {
    let q = if format.is_empty() {
        String::new()
    } else {
        format!("?format={format}")
    };
    download(app, c, &format!("/conversations/{conv}/export{q}")).await
}

async fn download(app: &TestApp, c: &parley_sdk::Client, path: &str) -> Download {
    let token = c.token().expect("token");
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1{path}", app.base_url))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = r.status().as_u16();
    let body = r.text().await.expect("body");
    Download {
        status,
        content_type,
        disposition,
        body,
    }
}

fn settings(backend: &Backend) -> Settings {
    Settings {
        rate_limits: Some("off".into()),
        database_url: backend.database_url(),
        ..Default::default()
    }
}

async fn exports_the_callers_view_as_json_and_text(backend: Backend) {
    let app = spawn_app_with(settings(&backend)).await;
    let (a, au) = app.user("ex_a").await;
    let (b, bu) = app.user("ex_b").await;
    let (c, cu) = app.user("ex_c").await;
    let (outsider, _) = app.user("ex_out").await;
    let g = a
        .create_group("Export me", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("group");
    let first = a
        .send_text(&g.id, "first line\nsecond line")
        .await
        .expect("send");
    let gone = b.send_text(&g.id, "regrettable").await.expect("send");
    b.delete_message(&gone.id).await.expect("delete");
    a.send_text(&g.id, "last").await.expect("send");

    let d = export(&app, &c, &g.id, "").await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert!(
        d.content_type.starts_with("application/json"),
        "{}",
        d.content_type
    );
    assert_eq!(
        d.disposition,
        format!("attachment; filename=\"parley-{}.json\"", g.id)
    );
    let v: Value = serde_json::from_str(&d.body).expect("json");
    assert_eq!(v["conversation"]["id"], g.id.as_str());
    assert!(v["exported_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let msgs = v["messages"].as_array().expect("messages");
    let history = c
        .messages(&g.id, None, None, Some(100))
        .await
        .expect("history");
    let texts: Vec<Value> = msgs.iter().map(|m| m["text"].clone()).collect();
    assert_eq!(
        texts,
        [
            Value::from("first line\nsecond line"),
            Value::Null,
            Value::from("last")
        ]
    );
    assert_eq!(msgs[1]["deleted"], true, "tombstones included");
    assert_eq!(
        msgs.len(),
        history.messages.len(),
        "what history pages through"
    );
    assert_eq!(msgs[0]["id"], first.id.as_str());

    let t = export(&app, &c, &g.id, "text").await;
    assert_eq!(t.status, 200);
    assert_eq!(t.content_type, "text/plain; charset=utf-8");
    assert_eq!(
        t.disposition,
        format!("attachment; filename=\"parley-{}.txt\"", g.id)
    );
    let lines: Vec<&str> = t.body.lines().collect();
    assert_eq!(
        lines,
        [
            format!("[{}] {}: first line", first.created_at, au.display_name).as_str(),
            "  second line",
            &format!(
                "[{}] {}: (message deleted)",
                gone.created_at, bu.display_name
            ),
            &format!(
                "[{}] {}: last",
                msgs[2]["created_at"].as_str().expect("at"),
                au.display_name
            ),
        ]
    );

    let d = export(&app, &outsider, &g.id, "json").await;
    assert_eq!(d.status, 404, "{}", d.body);
    let v: Value = serde_json::from_str(&d.body).expect("error");
    assert_eq!(v["error"]["code"], "not_found");
    let d = export(&app, &a, &g.id, "csv").await;
    assert_eq!(d.status, 400);
    let v: Value = serde_json::from_str(&d.body).expect("error");
    assert_eq!(v["error"]["details"]["field"], "format");
    let d = export(&app, &a, "nope", "json").await;
    assert_eq!(d.status, 404);

    // A member added later exports from where they joined.
    let (late, lu) = app.user("ex_late").await;
    a.add_members(&g.id, std::slice::from_ref(&lu.id))
        .await
        .expect("add");
    a.send_text(&g.id, "welcome").await.expect("send");
    let v: Value =
        serde_json::from_str(&export(&app, &late, &g.id, "json").await.body).expect("json");
    let texts: Vec<&str> = v["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        !texts.contains(&"last"),
        "history before joining stays hidden: {texts:?}"
    );
    assert!(texts.contains(&"welcome"));
}

async fn a_long_history_streams_whole(backend: Backend) {
    let app = spawn_app_with(settings(&backend)).await;
    let (a, _) = app.user("el_a").await;
    let (_b, bu) = app.user("el_b").await;
    let d = app.direct(&a, &bu).await;
    let n = 450; // more than two pages of the export
    for i in 0..n {
        a.send_text(&d.id, &format!("m{i}")).await.expect("send");
    }
    let v: Value = serde_json::from_str(&export(&app, &a, &d.id, "json").await.body).expect("json");
    let got: Vec<String> = v["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_string())
        .collect();
    let want: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    assert_eq!(got, want, "every message once, in seq order");
    let t = export(&app, &a, &d.id, "text").await;
    assert_eq!(t.body.lines().count(), n);
}

/// The admin (compliance) export: the whole conversation, history a late
/// member does not see included, for admins only, audited.
async fn admins_export_whole_conversations(backend: Backend) {
    const SECRET: &str = "export-admin-secret-export-admin-secret";
    let app = spawn_app_with(Settings {
        external_jwt_alg: Some("HS256".into()),
        external_jwt_secret: Some(SECRET.into()),
        ..settings(&backend)
    })
    .await;
    let root = app
        .client()
        .with_token(&platform_token(SECRET, &unique("ex-root"), "admin"));
    root.me().await.expect("admin");
    let (a, au) = app.user("exa_a").await;
    let (_, bu) = app.user("exa_b").await;
    let (_, cu) = app.user("exa_c").await;
    let (d, du) = app.user("exa_d").await;
    let g = a
        .create_group("Audit me", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("group");
    a.send_text(&g.id, "before dora").await.expect("send");
    let gone = a.send_text(&g.id, "withdrawn").await.expect("send");
    a.delete_message(&gone.id).await.expect("delete");
    a.add_members(&g.id, std::slice::from_ref(&du.id))
        .await
        .expect("add");
    a.send_text(&g.id, "after dora").await.expect("send");

    let mine = export(&app, &d, &g.id, "").await;
    assert!(
        !mine.body.contains("before dora"),
        "a late member's own export starts at their join"
    );

    let path = format!("/admin/conversations/{}/export", g.id);
    let whole = download(&app, &root, &path).await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    assert!(whole.content_type.starts_with("application/json"));
    assert_eq!(
        whole.disposition,
        format!("attachment; filename=\"parley-{}.json\"", g.id)
    );
    let v: Value = serde_json::from_str(&whole.body).expect("json");
    let mut members: Vec<String> = v["conversation"]["member_ids"]
        .as_array()
        .expect("member_ids")
        .iter()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    members.sort();
    let mut want = vec![au.id, bu.id.clone(), cu.id.clone(), du.id.clone()];
    want.sort();
    assert_eq!(members, want);
    let messages = v["messages"].as_array().expect("messages");
    let texts: Vec<Value> = messages.iter().map(|m| m["text"].clone()).collect();
    assert_eq!(
        texts,
        [
            Value::from("before dora"),
            Value::Null,
            Value::from("after dora")
        ],
        "every message from the first seq, tombstones included"
    );
    let seqs: Vec<u64> = messages.iter().filter_map(|m| m["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in seq order");
    assert!(messages.iter().all(|m| m.get("status").is_none()));

    let text = download(&app, &root, &format!("{path}?format=text")).await;
    assert_eq!(text.status, 200);
    assert!(text.body.contains("before dora") && text.body.contains("(message deleted)"));

    for (who, path, code) in [
        (&a, path.clone(), 403),
        (&root, "/admin/conversations/nope/export".to_string(), 404),
        (&root, format!("{path}?format=xml"), 400),
    ] {
        let r = download(&app, who, &path).await;
        assert_eq!(r.status, code, "{path}: {}", r.body);
    }
    let audit = root
        .raw("GET", "/admin/audit", None)
        .await
        .expect("audit")
        .json;
    let exports = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "conversation.export" && e["target_id"] == g.id.as_str())
        .count();
    assert_eq!(exports, 2, "each admin export is audited: {audit}");
}

on_both_backends!(
    exports_the_callers_view_as_json_and_text,
    a_long_history_streams_whole,
    admins_export_whole_conversations,
    messages_deleted_for_me_leave_my_export_and_my_search,
);

/// "Delete for me" takes a message out of the caller's own export and
/// search (and only theirs); undoing it brings it back.
async fn messages_deleted_for_me_leave_my_export_and_my_search(backend: Backend) {
    let app = spawn_app_with(settings(&backend)).await;
    let (a, _) = app.user("exh_a").await;
    let (b, bu) = app.user("exh_b").await;
    let (_, cu) = app.user("exh_c").await;
    let g = a
        .create_group("Hide", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("group");
    a.send_text(&g.id, "kept zebra").await.expect("send");
    let hid = a.send_text(&g.id, "hidden zebra").await.expect("send");
    a.send_text(&g.id, "after zebra").await.expect("send");
    a.hide_message(&hid.id, true).await.expect("delete for me");

    let texts = |body: &str| -> Vec<String> {
        let v: Value = serde_json::from_str(body).expect("json");
        v["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter_map(|m| m["text"].as_str().map(str::to_string))
            .collect()
    };
    let found = |c: &parley_sdk::Client| {
        let c = c.clone();
        async move {
            let r = c
                .raw("GET", "/search/messages?q=zebra", None)
                .await
                .expect("search");
            assert_eq!(r.status, 200, "{}", r.json);
            let mut t: Vec<String> = r.json["hits"]
                .as_array()
                .expect("hits")
                .iter()
                .filter_map(|h| h["message"]["text"].as_str().map(str::to_string))
                .collect();
            t.sort();
            t
        }
    };

    let mine = export(&app, &a, &g.id, "json").await;
    assert_eq!(texts(&mine.body), ["kept zebra", "after zebra"]);
    let text = export(&app, &a, &g.id, "text").await;
    assert!(!text.body.contains("hidden zebra"), "{}", text.body);
    assert_eq!(found(&a).await, ["after zebra", "kept zebra"]);
    // Not hidden for anyone else.
    let theirs = export(&app, &b, &g.id, "json").await;
    assert_eq!(
        texts(&theirs.body),
        ["kept zebra", "hidden zebra", "after zebra"]
    );
    assert_eq!(found(&b).await.len(), 3);

    a.hide_message(&hid.id, false).await.expect("undo");
    assert_eq!(texts(&export(&app, &a, &g.id, "json").await.body).len(), 3);
    assert_eq!(found(&a).await.len(), 3);
}
