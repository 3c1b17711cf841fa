//! Mentions: the server fills a message's `mentions` from the `@username`s
//! of its text that name current members, the same for REST and the
//! gateway, and nobody else.

use crate::helpers::*;
use parley_protocol::ClientFrame;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_name_members_the_text_addresses() {
    let app = spawn_app().await;
    let (a, au) = app.user("mn_a").await;
    let (_b, bu) = app.user("mn_b").await;
    let (_c, cu) = app.user("mn_c").await;
    let (_out, outsider) = app.user("mn_out").await;
    let g = a
        .create_group("mentions", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("group");
    let text = format!(
        "hey @{} and @{}. also @{} (not here), mail {}@example.com, me @{}",
        bu.username,
        cu.username.to_uppercase(),
        outsider.username,
        cu.username,
        au.username
    );
    let m = a.send_text(&g.id, &text).await.expect("send");
    assert_eq!(
        m.mentions,
        vec![bu.id.clone(), cu.id.clone()],
        "members only, in order, case folded, not the sender, not an e-mail"
    );
    let stored = a.message(&m.id).await.expect("get");
    assert_eq!(stored.mentions, m.mentions, "stored as sent");
    let plain = a.send_text(&g.id, "no handles at all").await.expect("send");
    assert!(plain.mentions.is_empty());

    // Through the gateway, the same rule.
    let gw = app.gateway(&a).await;
    gw.request(ClientFrame::MessageSend {
        reference: Some("r1".into()),
        conversation_id: g.id.clone(),
        client_id: "gw-mention".into(),
        text: Some(format!("@{} over the socket", cu.username)),
        attachments: None,
        reply_to: None,
    })
    .await
    .expect("send frame");
    let page = a
        .raw(
            "GET",
            &format!("/conversations/{}/messages?limit=5", g.id),
            None,
        )
        .await
        .expect("history");
    let found = page.json["messages"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["client_id"] == "gw-mention"))
        .map(|m| m["mentions"].clone());
    assert_eq!(found, Some(serde_json::json!([cu.id])));
}
