//! Rate limits on every action (protocol.md §11): one token bucket per
//! user and action, spent alike by REST and every gateway connection,
//! refused with `rate_limited` and the wait, changing nothing; shared by
//! the processes of a cluster through Redis.

use crate::helpers::*;
use parley_protocol::{ClientFrame, SendMessageRequest, ServerFrame};
use parley_server::config::Settings;
use std::time::Duration;

fn limited(overrides: &[&str]) -> Settings {
    Settings {
        rate_limits: Some("on".into()),
        rate_limit: Some(overrides.iter().map(|s| s.to_string()).collect()),
        ..Settings::default()
    }
}

fn send_body(client_id: &str, text: &str) -> String {
    serde_json::json!({ "client_id": client_id, "text": text }).to_string()
}

/// The wait of a refusal: `Retry-After` in whole seconds, at least 1, and
/// `details.retry_after_ms` above 0.
#[track_caller]
fn assert_refused(r: &parley_sdk::RawResponse) -> u64 {
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "rate_limited", "{}", r.text);
    let ms = r.json["error"]["details"]["retry_after_ms"]
        .as_u64()
        .expect("details.retry_after_ms");
    assert!(ms > 0);
    let secs: u64 = r
        .retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert_eq!(secs, ms.div_ceil(1000).max(1), "Retry-After rounds up");
    ms
}

#[tokio::test]
async fn the_send_budget_is_shared_by_rest_and_the_gateway_and_a_refusal_takes_nothing() {
    // 3 at once, then one a second.
    let app = spawn_app_with(limited(&["send=60/min:3"])).await;
    let (a, _) = app.user("rl_a").await;
    let (b, bu) = app.user("rl_b").await;
    let c = app.direct(&a, &bu).await;
    let path = format!("/conversations/{}/messages", c.id);
    for i in 0..2 {
        let r = a
            .raw("POST", &path, Some(&send_body(&format!("ok{i}"), "hi")))
            .await
            .expect("send");
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // The third from the gateway: the same bucket.
    let gw = app.gateway(&a).await;
    gw.send_message(&c.id, "gw-ok", "from the socket")
        .await
        .expect("third send passes");
    // The fourth, over REST, is refused; its client_id is not taken.
    let refused = a
        .raw("POST", &path, Some(&send_body("later", "wait for it")))
        .await
        .expect("send");
    let wait = assert_refused(&refused);
    assert!(wait <= 1000, "one token a second: {wait} ms");
    // And over the gateway: an error with the code and the wait, the
    // connection stays usable.
    match gw.send_message(&c.id, "gw-later", "too soon").await {
        Err(parley_sdk::Error::Api { error, .. }) => {
            assert_eq!(error.code.as_str(), "rate_limited");
            assert!(
                error.details["retry_after_ms"]
                    .as_u64()
                    .is_some_and(|ms| ms > 0)
            );
        }
        other => panic!("expected rate_limited, got {other:?}"),
    }
    assert!(matches!(
        gw.request(ClientFrame::Ping { reference: None }).await,
        Ok(ServerFrame::Pong { .. })
    ));
    // One user's limits never slow another: b sends at once.
    b.send_text(&c.id, "me too")
        .await
        .expect("b is not limited");
    let page = b.messages(&c.id, None, None, None).await.expect("history");
    let texts: Vec<_> = page
        .messages
        .iter()
        .filter_map(|m| m.text.clone())
        .collect();
    assert!(
        !texts.iter().any(|t| t == "wait for it" || t == "too soon"),
        "refused sends stored nothing: {texts:?}"
    );

    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    let r = a
        .raw("POST", &path, Some(&send_body("later", "wait for it")))
        .await
        .expect("send");
    assert_eq!(r.status, 201, "the refused client_id is free: {}", r.text);
    app.stop().await;
}

#[tokio::test]
async fn a_limited_gateway_request_without_a_ref_is_dropped_silently() {
    let app = spawn_app_with(limited(&["read=1/min"])).await;
    let (a, _) = app.user("rl_nr_a").await;
    let (_, bu) = app.user("rl_nr_b").await;
    let c = app.direct(&a, &bu).await;
    a.send_text(&c.id, "one").await.expect("send");
    a.mark_read(&c.id, 1).await.expect("first read passes");
    let gw = app.gateway(&a).await;
    gw.send_frame(&ClientFrame::MessageRead {
        reference: None,
        conversation_id: c.id.clone(),
        seq: 1,
    })
    .await
    .expect("send frame");
    loop {
        match gw.next_push(Duration::from_millis(500)).await {
            Err(parley_sdk::Error::Timeout) => break,
            Ok(f @ ServerFrame::Error { .. }) => panic!("nothing is answered, got {f:?}"),
            Ok(_) => {} // what the sync brought
            Err(e) => panic!("{e}"),
        }
    }
    match gw
        .request(ClientFrame::MessageRead {
            reference: None,
            conversation_id: c.id.clone(),
            seq: 1,
        })
        .await
    {
        Err(parley_sdk::Error::Api { error, .. }) => {
            assert_eq!(error.code.as_str(), "rate_limited")
        }
        other => panic!("with a ref: rate_limited, got {other:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn every_section_11_action_is_limited() {
    let app = spawn_app_with(limited(&[
        "create_conversation=1/min",
        "list_conversations=1/min",
        "history=1/min",
        "search=1/min",
        "add_members=1/min",
    ]))
    .await;
    let (a, _) = app.user("rl_all_a").await;
    let (_, bu) = app.user("rl_all_b").await;
    let (_, cu) = app.user("rl_all_c").await;
    let (_, du) = app.user("rl_all_d").await;
    let g = a
        .create_group("limits", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("the first creation passes");
    let cases: Vec<(&str, String, Option<String>)> = vec![
        (
            "POST",
            "/conversations".into(),
            Some(serde_json::json!({"kind": "direct", "user_id": bu.id}).to_string()),
        ),
        ("GET", "/conversations".into(), None),
        ("GET", "/conversations".into(), None),
        ("GET", format!("/conversations/{}/messages", g.id), None),
        ("GET", format!("/conversations/{}/events", g.id), None),
        ("GET", "/users?query=rl_all".into(), None),
        ("GET", "/users?query=rl_all".into(), None),
        (
            "POST",
            format!("/conversations/{}/members", g.id),
            Some(serde_json::json!({"user_ids": [du.id]}).to_string()),
        ),
        (
            "POST",
            format!("/conversations/{}/members", g.id),
            Some(serde_json::json!({"user_ids": [du.id]}).to_string()),
        ),
    ];
    // The first of each pair passes, the second (and the direct creation
    // after the group) is refused.
    let mut refused = Vec::new();
    for (method, path, body) in &cases {
        let r = a.raw(method, path, body.as_deref()).await.expect("request");
        if r.status == 429 {
            assert_refused(&r);
            refused.push(format!("{method} {path}"));
        } else {
            assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.text);
        }
    }
    assert_eq!(
        refused,
        vec![
            "POST /conversations".to_string(),
            "GET /conversations".to_string(),
            format!("GET /conversations/{}/events", g.id),
            "GET /users?query=rl_all".to_string(),
            format!("POST /conversations/{}/members", g.id),
        ]
    );
    let members = a.members(&g.id).await.expect("members");
    assert_eq!(
        members.members.len(),
        4,
        "the refused addition added nobody"
    );
    // Refusals are counted per action.
    let metrics = reqwest_text(&format!("{}/metrics", app.base_url)).await;
    for action in [
        "create_conversation",
        "list_conversations",
        "history",
        "search",
        "add_members",
    ] {
        let line = format!("parley_rate_limited_total{{action=\"{action}\"}}");
        assert!(
            metrics.lines().any(|l| l.starts_with(&line)),
            "{line} in /metrics"
        );
    }
    app.stop().await;
}

async fn reqwest_text(url: &str) -> String {
    reqwest::get(url)
        .await
        .expect("get")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn typing_spends_only_the_starts_the_protocol_does_not_ignore() {
    let app = spawn_app_with(limited(&["typing=1/min"])).await;
    let (a, _) = app.user("rl_ty_a").await;
    let (_, bu) = app.user("rl_ty_b").await;
    let (_, cu) = app.user("rl_ty_c").await;
    let c1 = app.direct(&a, &bu).await;
    let c2 = app.direct(&a, &cu).await;
    let gw = app.gateway(&a).await;
    let start = |conv: &str| ClientFrame::TypingStart {
        reference: None,
        conversation_id: conv.to_string(),
    };
    gw.request(start(&c1.id)).await.expect("first start");
    // A repeat within 2 s is ignored, not an error, and costs nothing.
    gw.request(start(&c1.id)).await.expect("ignored repeat");
    match gw.request(start(&c2.id)).await {
        Err(parley_sdk::Error::Api { error, .. }) => {
            assert_eq!(error.code.as_str(), "rate_limited")
        }
        other => panic!("the second real start is limited, got {other:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn a_connection_flooding_frames_is_refused_then_closed_with_4029() {
    let app = spawn_app_with(limited(&["frames=10/s:10"])).await;
    let (a, _) = app.user("rl_fl").await;
    let gw = app.gateway(&a).await;
    let other = app.gateway(&a).await;
    for i in 0..200 {
        if gw
            .send_raw(format!(r#"{{"type":"ping","ref":"p{i}"}}"#))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut limited_replies = 0;
    let code = loop {
        match gw.next_push(WAIT).await {
            Ok(ServerFrame::Error { error, .. }) if error.code.as_str() == "rate_limited" => {
                limited_replies += 1
            }
            Ok(_) => {}
            Err(parley_sdk::Error::Closed { code, .. }) => break code,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(code, 4029);
    assert!(
        limited_replies > 0,
        "frames over the budget were answered rate_limited first"
    );
    // The budget is the connection's: another connection of the user is fine.
    assert!(matches!(
        other.request(ClientFrame::Ping { reference: None }).await,
        Ok(ServerFrame::Pong { .. })
    ));
    app.stop().await;
}

#[tokio::test]
async fn bad_limit_settings_are_refused_at_start() {
    for bad in [
        "send",
        "send=0/min",
        "sned=1/s",
        "send=1/week",
        "send=5/min:0",
    ] {
        let s = Settings {
            rate_limit: Some(vec![bad.to_string()]),
            ..Settings::default()
        };
        let e = parley_server::config::Config::from_settings(s).expect_err(bad);
        assert!(e.to_string().contains("rate_limit"), "{bad}: {e}");
    }
}

/// Sends `n` messages as one user, alternating between two processes on
/// one Redis that run with `send_rate`; returns how many passed.
async fn sends_spread_over_two_processes(send_rate: &str, n: usize) -> Option<usize> {
    let services = crate::cluster::services().await?;
    let (d1, d2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let rate = format!("send={send_rate}");
    let on = ["--rate-limits", "on", "--rate-limit", rate.as_str()];
    let n1 = services.node_with_args(d1.path(), &services.redis_url, &on);
    let n2 = services.node_with_args(d2.path(), &services.redis_url, &on);
    let a = parley_sdk::Client::new(&n1.base_url).expect("client");
    let auth = a
        .register(&unique("rl_cl_a"), PASSWORD, None)
        .await
        .expect("register");
    let b = parley_sdk::Client::new(&n1.base_url).expect("client");
    let bu = b
        .register(&unique("rl_cl_b"), PASSWORD, None)
        .await
        .expect("register")
        .user;
    let conv = a.create_direct(&bu.id).await.expect("direct").0;
    let a2 = parley_sdk::Client::new(&n2.base_url)
        .expect("client")
        .with_token(&auth.access_token);
    let mut passed = 0;
    for i in 0..n {
        let c = if i % 2 == 0 { &a } else { &a2 };
        let req = SendMessageRequest {
            client_id: format!("cl{i}"),
            text: Some(format!("m{i}")),
            attachments: None,
            reply_to: None,
        };
        match c.send_message(&conv.id, &req).await {
            Ok(_) => passed += 1,
            Err(parley_sdk::Error::Api { error, .. }) if error.code.as_str() == "rate_limited" => {}
            Err(e) => panic!("{e}"),
        }
    }
    Some(passed)
}

/// Section 11: limits hold across nodes. Two processes on one Redis: a
/// user who spreads sends over both still gets only one budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_budget() {
    let Some(passed) = sends_spread_over_two_processes("6/min:4", 8).await else {
        return;
    };
    assert_eq!(passed, 4, "one burst of 4 across both processes");
}

/// With a larger burst each process leases several tokens at a time from
/// Redis; the two together still never spend more than the one bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_tokens_never_add_up_to_more_than_the_bucket() {
    let Some(passed) = sends_spread_over_two_processes("1/min:40", 60).await else {
        return;
    };
    assert!(
        (36..=40).contains(&passed),
        "one bucket of 40 across both processes, leases included: {passed}"
    );
}
