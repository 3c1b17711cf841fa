//! Media (protocol.md §10) through real sockets: what a send may attach,
//! and the per-conversation media, files and links lists. (Uploading and
//! serving bytes land with `POST /media`; the storage conformance suite
//! covers attaching, access and the sweep on both backends.)

use crate::helpers::*;
use parley_protocol::{ClientFrame, SendMessageRequest};
use serde_json::{Value, json};

async fn status(
    c: &parley_sdk::Client,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let r = c.raw(method, path, body.as_deref()).await.expect("request");
    (r.status, r.json)
}

fn urls(page: &Value) -> Vec<String> {
    page["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| l["url"].as_str().expect("url").to_string())
        .collect()
}

#[tokio::test]
async fn links_are_listed_newest_first_follow_edits_and_deletes() {
    let app = spawn_app().await;
    let (a, au) = app.user("ln_a").await;
    let (b, bu) = app.user("ln_b").await;
    let (outsider, _) = app.user("ln_out").await;
    let c = app.direct(&a, &bu).await;
    let first = a
        .send_text(
            &c.id,
            "read https://a.example/x. and (https://b.example/y) twice https://a.example/x",
        )
        .await
        .expect("send");
    let second = b
        .send_text(&c.id, "http://c.example/?q=1, ok")
        .await
        .expect("send");
    b.send_text(&c.id, "no links, just ftp://d.example")
        .await
        .expect("send");

    let path = format!("/conversations/{}/links", c.id);
    let (code, page) = status(&b, "GET", &path, None).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(
        urls(&page),
        vec![
            "http://c.example/?q=1",
            "https://a.example/x",
            "https://b.example/y"
        ]
    );
    assert_eq!(page["next_cursor"], Value::Null);
    let newest = &page["links"][0];
    assert_eq!(newest["message_id"], second.id.as_str());
    assert_eq!(newest["seq"], second.seq);
    assert_eq!(newest["sender_id"], bu.id.as_str());
    assert!(newest["created_at"].is_string(), "{newest}");
    assert_eq!(page["links"][1]["sender_id"], au.id.as_str());

    // Pages of one cover the list once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{path}?limit=1&cursor={c}"),
            None => format!("{path}?limit=1"),
        };
        let (code, page) = status(&a, "GET", &q, None).await;
        assert_eq!(code, 200, "{page}");
        seen.extend(urls(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");

    a.edit_message(&first.id, "now only https://e.example/z")
        .await
        .expect("edit");
    b.delete_message(&second.id).await.expect("delete");
    let (_, page) = status(&a, "GET", &path, None).await;
    assert_eq!(
        urls(&page),
        vec!["https://e.example/z"],
        "edits replace, deletes remove"
    );

    let (code, body) = status(&outsider, "GET", &path, None).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (code, body) = status(&a, "GET", &format!("{path}?cursor=%%%"), None).await;
    assert_eq!(
        (code, body["error"]["details"]["field"].as_str()),
        (400, Some("cursor"))
    );
    let (code, _) = status(&a, "GET", "/conversations/nope/links", None).await;
    assert_eq!(code, 404);
    let r = app.client().raw("GET", &path, None).await.expect("raw");
    assert_eq!(r.status, 401, "no token");
}

#[tokio::test]
async fn media_and_files_lists_check_kind_membership_and_cursor() {
    let app = spawn_app().await;
    let (a, _) = app.user("ml_a").await;
    let (_, bu) = app.user("ml_b").await;
    let (outsider, _) = app.user("ml_out").await;
    let c = app.direct(&a, &bu).await;
    for q in [
        "",
        "?kind=image",
        "?kind=video",
        "?kind=audio",
        "?kind=file",
    ] {
        let (code, page) = status(
            &a,
            "GET",
            &format!("/conversations/{}/media{q}", c.id),
            None,
        )
        .await;
        assert_eq!(code, 200, "{q}: {page}");
        assert_eq!(page["media"], json!([]));
        assert_eq!(page["next_cursor"], Value::Null);
    }
    let (code, page) = status(&a, "GET", &format!("/conversations/{}/files", c.id), None).await;
    assert_eq!((code, &page["files"]), (200, &json!([])));
    let (code, body) = status(
        &a,
        "GET",
        &format!("/conversations/{}/media?kind=pdf", c.id),
        None,
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(body["error"]["details"]["field"], "kind");
    for path in ["media", "files"] {
        let (code, _) = status(
            &outsider,
            "GET",
            &format!("/conversations/{}/{path}", c.id),
            None,
        )
        .await;
        assert_eq!(code, 404, "{path}: non-members get not_found");
        let (code, body) = status(
            &a,
            "GET",
            &format!("/conversations/{}/{path}?limit=0", c.id),
            None,
        )
        .await;
        assert_eq!(
            (code, body["error"]["details"]["field"].as_str()),
            (400, Some("limit"))
        );
    }
}

#[tokio::test]
async fn attachments_must_be_the_senders_own_uploads_and_are_refused_cleanly() {
    let app = spawn_app().await;
    let (a, _) = app.user("at_a").await;
    let (_, bu) = app.user("at_b").await;
    let c = app.direct(&a, &bu).await;
    let path = format!("/conversations/{}/messages", c.id);
    let unknown = "01234567-89ab-7def-8123-456789abcdef";
    let cases = [
        (
            json!({"client_id": "x1", "attachments": [unknown]}),
            404,
            "not_found",
            "attachments",
        ),
        (
            json!({"client_id": "x2", "text": "hi", "attachments": ["../etc"]}),
            404,
            "not_found",
            "attachments",
        ),
        (
            json!({"client_id": "x3", "attachments": [unknown, unknown]}),
            400,
            "invalid_request",
            "attachments",
        ),
        (
            json!({"client_id": "x4", "attachments": (0..11).map(|i| format!("{unknown}{i}")).collect::<Vec<_>>()}),
            400,
            "invalid_request",
            "attachments",
        ),
        (
            json!({"client_id": "x6", "attachments": []}),
            400,
            "invalid_request",
            "text",
        ),
        (json!({"client_id": "x7"}), 400, "invalid_request", "text"),
    ];
    for (body, code, error, field) in cases {
        let (got, reply) = status(&a, "POST", &path, Some(body.clone())).await;
        assert_eq!(got, code, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], error, "{body}: {reply}");
        assert_eq!(reply["error"]["details"]["field"], field, "{body}: {reply}");
    }
    let (got, reply) = status(
        &a,
        "POST",
        &path,
        Some(json!({"client_id": "x5", "attachments": [7]})),
    )
    .await;
    assert_eq!(
        (got, reply["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{reply}"
    );
    // `attachments: []` with text is a text message.
    let (m, created) = a
        .send_message(
            &c.id,
            &SendMessageRequest {
                client_id: "x8".into(),
                text: Some("plain".into()),
                attachments: Some(vec![]),
                reply_to: None,
            },
        )
        .await
        .expect("send");
    assert!(created);
    assert_eq!(m.kind, parley_protocol::MessageKind::Text);
    assert!(m.attachments.is_empty());
    let history = a.messages(&c.id, None, None, None).await.expect("history");
    assert_eq!(
        history
            .messages
            .iter()
            .filter(|m| m.client_id.as_deref() != Some("x8"))
            .filter(|m| m.kind != parley_protocol::MessageKind::System)
            .count(),
        0,
        "refused sends stored nothing"
    );

    // The gateway refuses the same way.
    let g = app.gateway(&a).await;
    let r = g
        .request(ClientFrame::MessageSend {
            reference: Some("r1".into()),
            conversation_id: c.id.clone(),
            client_id: "g1".into(),
            text: None,
            attachments: Some(vec![unknown.into()]),
            reply_to: None,
        })
        .await;
    assert_code(r, "not_found");
}
