//! Message search (protocol.md §13) through real sockets, on both
//! backends: found as soon as the send is acknowledged, only by who may
//! see it, with its conversation and an escaped, marked snippet; refusals
//! in the protocol's shape; hostile queries never 5xx; pages that neither
//! repeat nor skip while messages arrive.

use crate::helpers::*;
use parley_server::config::Settings;
use serde_json::Value;
use std::collections::HashSet;

async fn search(c: &parley_sdk::Client, params: &str) -> (u16, Value) {
    let r = c
        .raw("GET", &format!("/search/messages?{params}"), None)
        .await
        .expect("request");
    (r.status, r.json)
}

async fn hits(c: &parley_sdk::Client, q: &str) -> Vec<Value> {
    let (code, v) = search(c, &format!("q={}", query_escape(q))).await;
    assert_eq!(code, 200, "{q}: {v}");
    v["hits"].as_array().expect("hits").clone()
}

fn app_settings(backend: &Backend) -> Settings {
    Settings {
        rate_limits: Some("off".into()),
        database_url: backend.database_url(),
        ..Default::default()
    }
}

async fn found_by_who_may_see_it_with_a_snippet(backend: Backend) {
    let app = spawn_app_with(app_settings(&backend)).await;
    let (a, _) = app.user("ss_a").await;
    let (b, bu) = app.user("ss_b").await;
    let (outsider, _) = app.user("ss_out").await;
    let (_c, cu) = app.user("ss_c").await;
    let g = a
        .create_group("Trip planning", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("group");
    let sent = a
        .send_text(&g.id, "The quick <brown> fox & \"friends\"")
        .await
        .expect("send");
    let got = hits(&b, "BROWN").await;
    assert_eq!(got.len(), 1, "found as soon as the send is acknowledged");
    let hit = &got[0];
    assert_eq!(hit["message"]["id"], sent.id.as_str());
    assert_eq!(hit["message"]["seq"], sent.seq);
    assert_eq!(
        hit["message"]["text"],
        "The quick <brown> fox & \"friends\""
    );
    assert_eq!(hit["conversation"]["id"], g.id.as_str());
    assert_eq!(hit["conversation"]["kind"], "group");
    assert_eq!(hit["conversation"]["title"], "Trip planning");
    assert_eq!(
        hit["snippet"],
        "The quick &lt;<mark>brown</mark>&gt; fox &amp; &quot;friends&quot;"
    );
    assert!(hits(&outsider, "brown").await.is_empty(), "not a member");
    let (code, v) = search(&outsider, &format!("q=brown&conversation_id={}", g.id)).await;
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );
    let (code, v) = search(&b, &format!("q=brown&conversation_id={}", g.id)).await;
    assert_eq!((code, v["hits"].as_array().map(Vec::len)), (200, Some(1)));
    // The direct conversation is titled by the other person.
    let d = app.direct(&b, &app.user("ss_peer").await.1).await;
    b.send_text(&d.id, "brown bread").await.expect("send");
    let got = hits(&b, "bread").await;
    assert_eq!(got[0]["conversation"]["kind"], "direct");
    assert!(
        got[0]["conversation"]["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("ss_peer"))
    );

    for (params, field) in [
        ("", "q"),
        ("q=", "q"),
        ("q=%20%20", "q"),
        (&*format!("q={}", "a".repeat(513)), "q"),
        ("q=a&limit=0", "limit"),
        ("q=a&limit=101", "limit"),
        ("q=a&limit=ten", "limit"),
        ("q=a&cursor=%%%", "cursor"),
        ("q=a&cursor=bm9wZQ", "cursor"),
    ] {
        let (code, v) = search(&b, params).await;
        assert_eq!(code, 400, "{params}: {v}");
        assert_eq!(v["error"]["code"], "invalid_request", "{params}: {v}");
        assert_eq!(v["error"]["details"]["field"], field, "{params}: {v}");
    }
    let (code, _) = search(&b, &format!("q={}", "a".repeat(512))).await;
    assert_eq!(code, 200, "512 characters are allowed");
    let r = app
        .client()
        .raw("GET", "/search/messages?q=brown", None)
        .await
        .expect("request");
    assert_eq!(r.status, 401, "a credential is needed");
}

async fn hostile_queries_never_fail(backend: Backend) {
    let app = spawn_app_with(app_settings(&backend)).await;
    let (a, _) = app.user("sq_a").await;
    let g = app.direct(&a, &app.user("sq_b").await.1).await;
    a.send_text(&g.id, "plain words with O'Brien & co. 100% sure")
        .await
        .expect("send");
    for q in [
        "\"",
        "\"\"",
        "\"unbalanced",
        "-",
        "--",
        "-\"",
        "OR",
        "OR OR",
        "a OR",
        "AND",
        "NOT",
        "NEAR(a b)",
        "a*",
        "*",
        "()",
        "(a",
        "a)",
        "text:words",
        "doc:words",
        "{a b}",
        "^a",
        "a:b:c",
        "from:",
        "from:@@@",
        "has:",
        "has:nothing",
        "before:",
        "before:2026-99-99",
        "after:yesterday",
        "'; DROP TABLE messages; --",
        "\\",
        "\\\"",
        "%",
        "_",
        "&",
        "|",
        "!",
        "<->",
        ":*",
        "'a':*",
        "\u{0}",
        "\u{202e}",
        "🙂",
        "ＡＢＣ",
        "ß",
        "İ",
        "日",
        "words\u{301}",
        "O'Brien",
        "100%",
    ] {
        let (code, v) = search(&a, &format!("q={}", query_escape(q))).await;
        assert_eq!(code, 200, "{q:?}: {v}");
    }
    assert_eq!(hits(&a, "o'brien").await.len(), 1);
    assert_eq!(hits(&a, "100%").await.len(), 1);
    assert!(hits(&a, "* ( ) ---").await.is_empty());
}

async fn pages_neither_repeat_nor_skip(backend: Backend) {
    let app = spawn_app_with(app_settings(&backend)).await;
    let (a, _) = app.user("sp_a").await;
    let g = app.direct(&a, &app.user("sp_b").await.1).await;
    let mut want = HashSet::new();
    for i in 0..23 {
        let m = a
            .send_text(&g.id, &format!("report {i} {}", "filler ".repeat(i % 4)))
            .await
            .expect("send");
        want.insert(m.id);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = "q=report&limit=10".to_string();
        if let Some(c) = &cursor {
            params.push_str(&format!("&cursor={c}"));
        }
        let (code, v) = search(&a, &params).await;
        assert_eq!(code, 200, "{v}");
        let page = v["hits"].as_array().expect("hits");
        seen.extend(
            page.iter()
                .map(|h| h["message"]["id"].as_str().expect("id").to_string()),
        );
        a.send_text(&g.id, "report arriving late")
            .await
            .expect("send");
        match v["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(page.len(), 10, "a page is full while more exist");
                cursor = Some(c.to_string());
            }
            None => break,
        }
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no hit twice");
    assert!(want.is_subset(&unique), "every earlier match is on a page");
}

on_both_backends!(
    found_by_who_may_see_it_with_a_snippet,
    hostile_queries_never_fail,
    pages_neither_repeat_nor_skip,
);
