//! Regression tests for hostile input found by probing the server.

use crate::helpers::*;
use parley_protocol::ServerFrame;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn out_of_range_times_are_refused_and_nothing_breaks() {
    let app = spawn_app().await;
    let (a, _) = app.user("t_a").await;
    let (_, bu) = app.user("t_b").await;
    let c = app.direct(&a, &bu).await;
    for until in [
        "9999-12-31T23:59:59.999-23:59",
        "0000-01-01T00:00:00+23:59",
        "tomorrow",
    ] {
        let r = a
            .raw(
                "PUT",
                &format!("/conversations/{}/mute", c.id),
                Some(&format!(r#"{{"until":"{until}"}}"#)),
            )
            .await
            .expect("raw");
        assert_eq!(
            (r.status, r.json["error"]["details"]["field"].as_str()),
            (400, Some("until")),
            "{until}: {}",
            r.text
        );
    }
    let past = a
        .raw(
            "PUT",
            &format!("/conversations/{}/mute", c.id),
            Some(r#"{"until":"2001-01-01T00:00:00Z"}"#),
        )
        .await
        .expect("raw");
    assert_eq!(
        (past.status, past.json["muted_until"].is_null()),
        (200, true),
        "a past time unmutes"
    );
    a.conversations(None, None)
        .await
        .expect("the list still works");
    assert!(
        app.client()
            .raw("GET", "/users/me", None)
            .await
            .expect("raw")
            .json["error"]
            .is_object()
    );
}

#[tokio::test]
async fn oversized_member_lists_are_refused_at_once() {
    let app = spawn_app().await;
    let (a, _) = app.user("big_g").await;
    let ids: Vec<String> = (0..20_000).map(|i| format!("{i:032x}")).collect();
    let body = serde_json::json!({"kind": "group", "title": "t", "member_ids": ids}).to_string();
    let started = Instant::now();
    let r = a
        .raw("POST", "/conversations", Some(&body))
        .await
        .expect("raw");
    assert_eq!(
        (r.status, r.json["error"]["details"]["field"].as_str()),
        (400, Some("member_ids"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bodies_must_be_exactly_one_object_and_errors_name_fields() {
    let app = spawn_app().await;
    let (a, _) = app.user("obj_a").await;
    let (_, bu) = app.user("obj_b").await;
    let c = app.direct(&a, &bu).await;
    let send = format!("/conversations/{}/messages", c.id);
    for body in [
        r#"["cid1","hello"]"#,
        r#"{"client_id":"a","text":"x"} xx"#,
        r#"{"client_id":"a","text":"x"}{"client_id":"b","text":"y"}"#,
        "3",
        "null",
    ] {
        let r = a.raw("POST", &send, Some(body)).await.expect("raw");
        assert_eq!(r.status, 400, "{body}: {}", r.text);
    }
    assert!(
        a.messages(&c.id, None, None, None)
            .await
            .expect("history")
            .messages
            .is_empty(),
        "nothing stored"
    );
    for (body, field) in [
        (r#"{"kind":"direct","user_id":5}"#, "user_id"),
        (r#"{"kind":"group","title":null,"member_ids":[]}"#, "title"),
        (
            r#"{"kind":"group","title":"x","member_ids":"abc"}"#,
            "member_ids",
        ),
        (r#"{"kind":"channel"}"#, "kind"),
        (r#"{"user_id":"x"}"#, "kind"),
    ] {
        let r = a
            .raw("POST", "/conversations", Some(body))
            .await
            .expect("raw");
        assert_eq!(
            (r.status, r.json["error"]["details"]["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }
    let r = a
        .raw(
            "POST",
            &format!("/conversations/{}/read", c.id),
            Some(r#"{"seq":18446744073709551615}"#),
        )
        .await
        .expect("raw");
    assert_eq!(
        (r.status, r.json["read_seq"].as_u64()),
        (200, Some(1)),
        "a huge seq is clamped: {}",
        r.text
    );
    let g = app.gateway(&a).await;
    for (frame, field) in [
        (
            format!(
                r#"{{"type":"message.read","ref":"r1","conversation_id":"{}","seq":"1"}}"#,
                c.id
            ),
            "seq",
        ),
        (
            r#"{"type":"sync","ref":"r2","since":[]}"#.to_string(),
            "since",
        ),
        (
            r#"{"type":"typing.start","ref":"r3","conversation_id":7}"#.to_string(),
            "conversation_id",
        ),
    ] {
        g.send_raw(frame.clone()).await.expect("send");
        let field_seen = loop {
            match g.next_push(WAIT).await.expect("reply") {
                ServerFrame::Error { error, .. } => {
                    break error.details["field"].as_str().map(str::to_string);
                }
                _ => continue,
            }
        };
        assert_eq!(field_seen.as_deref(), Some(field), "{frame}");
    }
}

#[tokio::test]
async fn search_folds_unicode_and_matches_any_word() {
    let app = spawn_app().await;
    let (a, _) = app.user("srch_a").await;
    let (e, _) = app.user("emile").await;
    e.update_me(&parley_protocol::UpdateMeRequest {
        display_name: Some("Émile Zola".into()),
        ..Default::default()
    })
    .await
    .expect("rename");
    for q in ["Émile", "émile", "ÉMILE", "zol"] {
        let found = a.search_users(q, None, None).await.expect("search");
        assert!(
            found.users.iter().any(|u| u.display_name == "Émile Zola"),
            "{q}"
        );
    }
    assert!(
        a.search_users("%%", None, None)
            .await
            .expect("search")
            .users
            .is_empty(),
        "wildcards are literal"
    );
}

#[tokio::test]
async fn reactions_take_exactly_one_emoji() {
    let app = spawn_app().await;
    let (a, _) = app.user("emo_a").await;
    let (_, bu) = app.user("emo_b").await;
    let c = app.direct(&a, &bu).await;
    let m = a.send_text(&c.id, "react to me").await.expect("send");
    for bad in ["👍👎", "👍/x", "é", "中", "ok"] {
        assert_code(a.add_reaction(&m.id, bad).await, "invalid_request");
    }
    for good in ["👍🏽", "🇫🇷", "❤️", "👨‍👩‍👧"] {
        a.add_reaction(&m.id, good)
            .await
            .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let app = spawn_app().await;
    let mut s = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection was held open");
    assert!(started.elapsed() >= Duration::from_secs(5));
}

#[tokio::test]
async fn a_plain_get_does_not_use_up_a_ticket() {
    let app = spawn_app().await;
    let (a, _) = app.user("tk_plain").await;
    let t = a.ticket().await.expect("ticket");
    let plain = reqwest::get(format!(
        "{}/api/v1/gateway?ticket={}",
        app.base_url, t.ticket
    ))
    .await
    .expect("get");
    assert_eq!(plain.status(), 400);
    let url = format!("ws://{}/api/v1/gateway?ticket={}", app.addr, t.ticket);
    tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("the ticket still works");
    let bad = reqwest::get(format!("{}/api/v1/gateway?ticket=forged", app.base_url))
        .await
        .expect("get");
    assert_eq!(bad.status(), 401);
}
