//! Messages: send, history, events, edit, delete, reactions, context (§5).

use crate::helpers::*;
use parley_protocol::{MessageStatus, SendMessageRequest};

#[tokio::test]
async fn send_and_page_through_history() {
    let app = spawn_app().await;
    let (a, _) = app.user("h_a").await;
    let (_, bu) = app.user("h_b").await;
    let c = app.direct(&a, &bu).await;
    let req = SendMessageRequest {
        client_id: "c-1".into(),
        text: Some("  spaced  ".into()),
        attachments: None,
        reply_to: None,
    };
    let (m, created) = a.send_message(&c.id, &req).await.expect("send");
    assert!(created);
    assert_eq!(m.text.as_deref(), Some("  spaced  "), "stored as sent");
    assert_eq!((m.seq, m.status), (2, Some(MessageStatus::Sent)));
    let (again, created) = a.send_message(&c.id, &req).await.expect("resend");
    assert!(!created, "200 for a repeat");
    assert_eq!(again.id, m.id);
    for i in 0..30 {
        a.send_text(&c.id, &format!("n{i}")).await.expect("send");
    }
    let newest = a
        .messages(&c.id, None, None, Some(10))
        .await
        .expect("newest");
    assert_eq!(newest.messages.first().map(|m| m.seq), Some(23));
    assert_eq!(newest.messages.last().map(|m| m.seq), Some(32));
    assert!(newest.has_more);
    let older = a
        .messages(&c.id, Some(23), None, Some(50))
        .await
        .expect("before");
    assert_eq!(
        older.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (2..23).collect::<Vec<_>>()
    );
    assert!(!older.has_more);
    let after = a
        .messages(&c.id, None, Some(30), Some(50))
        .await
        .expect("after");
    assert_eq!(
        after.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![31, 32]
    );
    let events = a.events(&c.id, Some(30), None).await.expect("events");
    assert_eq!(
        events.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![31, 32]
    );
    assert_eq!(
        events.events[0].message().and_then(|m| m.text).as_deref(),
        Some("n28")
    );
    let ctx = a
        .message_context(&newest.messages[5].id, Some(2))
        .await
        .expect("context");
    assert_eq!(
        ctx.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![26, 27, 28, 29, 30]
    );
    assert!(ctx.has_more_before && ctx.has_more_after);
}

#[tokio::test]
async fn replies_edits_deletes_and_reactions() {
    let app = spawn_app().await;
    let (a, _) = app.user("e_a").await;
    let (b, bu) = app.user("e_b").await;
    let c = app.direct(&a, &bu).await;
    let m = a.send_text(&c.id, "helo").await.expect("send");
    let reply = SendMessageRequest {
        client_id: "r1".into(),
        text: Some("hi!".into()),
        attachments: None,
        reply_to: Some(m.id.clone()),
    };
    let (r, _) = b.send_message(&c.id, &reply).await.expect("reply");
    assert_eq!(r.reply_to.as_deref(), Some(m.id.as_str()));
    assert_code(b.edit_message(&m.id, "not mine").await, "forbidden");
    let edited = a.edit_message(&m.id, "hello").await.expect("edit");
    assert_eq!(edited.text.as_deref(), Some("hello"));
    assert!(edited.edited_at.is_some());
    let with = b.add_reaction(&m.id, "👍").await.expect("react");
    assert_eq!((with.reactions[0].count, with.reactions[0].me), (1, true));
    b.add_reaction(&m.id, "👍").await.expect("idempotent");
    let seen_by_a = a.message(&m.id).await.expect("get");
    assert_eq!(
        (seen_by_a.reactions[0].count, seen_by_a.reactions[0].me),
        (1, false)
    );
    b.remove_reaction(&m.id, "👍").await.expect("unreact");
    b.remove_reaction(&m.id, "👍")
        .await
        .expect("idempotent unreact");
    assert_code(b.add_reaction(&m.id, "thumbs").await, "invalid_request");
    assert_code(b.delete_message(&m.id).await, "forbidden");
    let t = a.delete_message(&m.id).await.expect("delete");
    assert!(t.deleted && t.text.is_none());
    let kinds: Vec<&str> = a
        .events(&c.id, None, None)
        .await
        .expect("events")
        .events
        .into_iter()
        .map(|e| e.kind())
        .collect();
    assert_eq!(
        kinds,
        [
            "conversation.created",
            "message.created",
            "message.created",
            "message.edited",
            "reaction.added",
            "reaction.removed",
            "message.deleted"
        ]
    );
    assert_code(a.edit_message(&m.id, "again").await, "conflict");
}

#[tokio::test]
async fn edit_window_is_enforced() {
    let app = spawn_app_with(parley_server::config::Settings {
        rate_limits: Some("off".into()),
        edit_window: Some(0),
        ..Default::default()
    })
    .await;
    let (a, _) = app.user("w_a").await;
    let (_, bu) = app.user("w_b").await;
    let c = app.direct(&a, &bu).await;
    let m = a.send_text(&c.id, "quick").await.expect("send");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_code(a.edit_message(&m.id, "too late").await, "forbidden");
}
