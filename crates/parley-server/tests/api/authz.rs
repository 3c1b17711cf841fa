//! What a caller may not see is `not_found`, on every endpoint and every
//! gateway request that names it (protocol.md §1).

use crate::helpers::*;
use parley_protocol::ClientFrame;

#[tokio::test]
async fn non_members_get_not_found_everywhere() {
    let app = spawn_app().await;
    let p = app.users(4).await;
    let g = p[0]
        .0
        .create_group("private", &[p[1].1.id.clone(), p[2].1.id.clone()])
        .await
        .expect("group");
    let m = p[0].0.send_text(&g.id, "members only").await.expect("send");
    let outsider = &p[3].0;
    let c = &g.id;
    let mid = &m.id;
    let who = &p[1].1.id;
    let calls: Vec<(&str, String, Option<String>)> = vec![
        ("GET", format!("/conversations/{c}"), None),
        (
            "PATCH",
            format!("/conversations/{c}"),
            Some(r#"{"title":"mine now"}"#.into()),
        ),
        ("GET", format!("/conversations/{c}/members"), None),
        (
            "POST",
            format!("/conversations/{c}/members"),
            Some(format!(r#"{{"user_ids":["{who}"]}}"#)),
        ),
        ("DELETE", format!("/conversations/{c}/members/{who}"), None),
        (
            "PATCH",
            format!("/conversations/{c}/members/{who}"),
            Some(r#"{"role":"admin"}"#.into()),
        ),
        (
            "POST",
            format!("/conversations/{c}/read"),
            Some(r#"{"seq":1}"#.into()),
        ),
        (
            "PUT",
            format!("/conversations/{c}/mute"),
            Some(r#"{"until":null}"#.into()),
        ),
        (
            "PUT",
            format!("/conversations/{c}/pin"),
            Some(r#"{"pinned":true}"#.into()),
        ),
        (
            "PUT",
            format!("/conversations/{c}/archive"),
            Some(r#"{"archived":true}"#.into()),
        ),
        (
            "POST",
            format!("/conversations/{c}/messages"),
            Some(r#"{"client_id":"x","text":"hi"}"#.into()),
        ),
        ("GET", format!("/conversations/{c}/messages"), None),
        ("GET", format!("/conversations/{c}/events"), None),
        ("GET", format!("/messages/{mid}"), None),
        ("GET", format!("/messages/{mid}/context"), None),
        (
            "PATCH",
            format!("/messages/{mid}"),
            Some(r#"{"text":"edited"}"#.into()),
        ),
        ("DELETE", format!("/messages/{mid}"), None),
        (
            "PUT",
            format!("/messages/{mid}/star"),
            Some(r#"{"starred":true}"#.into()),
        ),
        (
            "PUT",
            format!("/messages/{mid}/hidden"),
            Some(r#"{"hidden":true}"#.into()),
        ),
        ("GET", format!("/conversations/{c}/marks"), None),
        (
            "PUT",
            format!("/messages/{mid}/reactions/%F0%9F%91%8D"),
            None,
        ),
        (
            "DELETE",
            format!("/messages/{mid}/reactions/%F0%9F%91%8D"),
            None,
        ),
    ];
    for (method, path, body) in &calls {
        let r = outsider
            .raw(method, path, body.as_deref())
            .await
            .expect("raw");
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
        assert_eq!(r.json["error"]["code"], "not_found", "{method} {path}");
    }
    // Nothing changed.
    let v = p[0].0.conversation(c).await.expect("view");
    assert_eq!(
        (v.title.as_deref(), v.member_count, v.last_seq),
        (Some("private"), 3, 2)
    );
    // The gateway answers the same for foreign ids.
    let gw = app.gateway(outsider).await;
    let frames = vec![
        ClientFrame::MessageSend {
            reference: None,
            conversation_id: c.clone(),
            client_id: "z".into(),
            text: Some("hi".into()),
            attachments: None,
            reply_to: None,
        },
        ClientFrame::MessageRead {
            reference: None,
            conversation_id: c.clone(),
            seq: 1,
        },
        ClientFrame::MessageDelivered {
            reference: None,
            conversation_id: c.clone(),
            seq: 1,
        },
        ClientFrame::TypingStart {
            reference: None,
            conversation_id: c.clone(),
        },
    ];
    for f in frames {
        assert_code(gw.request(f.clone()).await, "not_found");
    }
    // A sync naming it reveals nothing.
    let resync = gw
        .sync([(c.clone(), 0)].into_iter().collect())
        .await
        .expect("sync");
    assert!(resync.is_empty());
    assert!(
        gw.next_push(std::time::Duration::from_millis(300))
            .await
            .is_err(),
        "no events leak"
    );
    // A former member is a non-member.
    p[2].0.remove_member(c, &p[2].1.id).await.expect("leave");
    assert_code(p[2].0.messages(c, None, None, None).await, "not_found");
    assert_code(p[2].0.message(mid).await, "not_found");
}
