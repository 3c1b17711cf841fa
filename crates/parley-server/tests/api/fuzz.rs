//! Property tests through real sockets: arbitrary frames on the gateway
//! and arbitrary bodies on REST never take the server down, never answer
//! outside the protocol's error shape, and change nothing.

use crate::helpers::*;
use parley_protocol::{ClientFrame, ServerFrame};
use parley_sdk::Gateway;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// Frames that are almost right: JSON objects with a real `type` and
/// fields of the wrong type or value, plus arbitrary text.
fn frame() -> impl Strategy<Value = String> {
    let types = prop::sample::select(vec![
        "message.send",
        "message.read",
        "message.delivered",
        "typing.start",
        "typing.stop",
        "presence.set",
        "sync",
        "ping",
        "nope",
        "",
    ]);
    let value = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,80}".prop_map(serde_json::Value::from),
        Just(serde_json::json!([1, "x"])),
        Just(serde_json::json!({"a": -1})),
    ];
    let field = prop::sample::select(vec![
        "ref",
        "conversation_id",
        "client_id",
        "text",
        "seq",
        "since",
        "state",
        "reply_to",
        "attachments",
        "extra",
    ]);
    let object = (types, prop::collection::vec((field, value), 0..5)).prop_map(|(t, fields)| {
        let mut m = serde_json::Map::new();
        m.insert("type".into(), t.into());
        for (k, v) in fields {
            m.insert(k.into(), v);
        }
        serde_json::Value::Object(m).to_string()
    });
    prop_oneof![4 => object, 1 => any::<String>(), 1 => Just("[]".to_string()), 1 => Just("{".to_string())]
}

#[tokio::test]
async fn arbitrary_gateway_frames_are_answered_in_the_error_shape() {
    let app = spawn_app().await;
    let (a, _) = app.user("fz_gw").await;
    let mut runner = TestRunner::deterministic();
    let strategy = frame();
    let mut gw = app.gateway(&a).await;
    let mut closes = 0;
    for _ in 0..400 {
        let text = strategy.new_tree(&mut runner).expect("case").current();
        let sent = gw.send_raw(text.clone()).await;
        // Each frame gets at most one answer; an error must have the shape.
        let wait = std::time::Duration::from_millis(if sent.is_ok() { 150 } else { 2000 });
        match gw.next_push(wait).await {
            Ok(ServerFrame::Error { error, .. }) => {
                assert!(
                    [
                        "invalid_request",
                        "not_found",
                        "forbidden",
                        "payload_too_large"
                    ]
                    .contains(&error.code.as_str()),
                    "{text}: {error:?}"
                );
                assert!(!error.message.is_empty());
            }
            Ok(_) | Err(parley_sdk::Error::Timeout) => {}
            Err(parley_sdk::Error::Closed { code, .. }) => {
                // Only the malformed-frame limit may close it.
                assert_eq!(code, 4400, "after {text}");
                closes += 1;
                gw = app.gateway(&a).await;
            }
            Err(e) => panic!("{text}: {e}"),
        }
    }
    assert!(
        closes > 0,
        "400 mostly malformed frames must hit the 4400 limit"
    );
    // The server is fine, for this user and for another.
    assert!(matches!(
        gw.request(ClientFrame::Ping { reference: None }).await,
        Ok(ServerFrame::Pong { .. })
    ));
    let (b, _) = app.user("fz_gw_b").await;
    Gateway::connect(&b).await.expect("others connect");
    app.stop().await;
}

#[tokio::test]
async fn arbitrary_rest_bodies_are_refused_in_the_error_shape_and_change_nothing() {
    let app = spawn_app().await;
    let (a, _) = app.user("fz_rest").await;
    let (_, bu) = app.user("fz_rest_b").await;
    let c = app.direct(&a, &bu).await;
    let before = a.conversation(&c.id).await.expect("conversation").last_seq;
    let mut runner = TestRunner::deterministic();
    let strategy = frame();
    let paths = [
        format!("/conversations/{}/messages", c.id),
        "/conversations".to_string(),
        format!("/conversations/{}/read", c.id),
        "/blocks".to_string(),
    ];
    for i in 0..200 {
        let body = strategy.new_tree(&mut runner).expect("case").current();
        let path = &paths[i % paths.len()];
        let r = a.raw("POST", path, Some(&body)).await.expect("answered");
        assert!(r.status < 500, "{path} {body}: {} {}", r.status, r.text);
        if r.status >= 400 {
            assert!(
                r.json["error"]["code"].is_string(),
                "{path} {body}: {}",
                r.text
            );
            assert!(r.json["error"]["message"].is_string());
        }
    }
    let after = a.conversation(&c.id).await.expect("conversation").last_seq;
    assert_eq!(before, after, "no malformed send created anything");
    app.stop().await;
}
