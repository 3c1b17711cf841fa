//! Starred messages and delete for me (docs/protocol.md, "Starred messages
//! and delete for me"): per user, told to the user's other devices,
//! invisible to everyone else, and refused cleanly.

use crate::helpers::*;
use parley_protocol::ServerFrame;
use parley_protocol::message_marks::MessageMark;

on_both_backends!(
    stars_and_deletes_for_me_sync_to_the_users_devices_only,
    marks_refuse_outsiders_tombstones_and_bad_bodies
);

/// The next `message.mark` frame on `g`.
async fn next_mark(g: &parley_sdk::Gateway) -> Option<MessageMark> {
    next_push_of(g, |f| match f {
        ServerFrame::MessageMark { mark } => Some(mark),
        _ => None,
    })
    .await
}

async fn stars_and_deletes_for_me_sync_to_the_users_devices_only(backend: Backend) {
    let app = spawn_on(backend).await;
    let (a, au) = app.user("mm_a").await;
    let (b, bu) = app.user("mm_b").await;
    let (_c, cu) = app.user("mm_c").await;
    let a2 = app.client();
    a2.login(&au.username, PASSWORD)
        .await
        .expect("second device");
    let g = a
        .create_group("marks", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("group");
    let keep = b.send_text(&g.id, "keep this one").await.expect("send");
    let drop = b.send_text(&g.id, "not for me").await.expect("send");
    let second = app.gateway(&a2).await;
    let peer = app.gateway(&b).await;

    let starred = a.star_message(&keep.id, true).await.expect("star");
    assert!(starred.starred && !starred.hidden && starred.seq == keep.seq);
    assert_eq!(
        next_mark(&second).await.as_ref(),
        Some(&starred),
        "the other device hears the star"
    );
    let hidden = a.hide_message(&drop.id, true).await.expect("delete for me");
    assert!(hidden.hidden);
    assert_eq!(next_mark(&second).await.as_ref(), Some(&hidden));
    assert_eq!(
        a2.message_marks(&g.id).await.expect("marks").marks,
        vec![starred.clone(), hidden.clone()],
        "the other device reads both"
    );
    let list = a2.starred(None, None).await.expect("starred");
    assert_eq!(list.starred.len(), 1);
    assert_eq!(
        list.starred[0].message.text.as_deref(),
        Some("keep this one")
    );

    // Everyone else still has the message, and hears nothing.
    assert!(b.message_marks(&g.id).await.expect("b").marks.is_empty());
    assert_eq!(
        b.message(&drop.id)
            .await
            .expect("still there for b")
            .text
            .as_deref(),
        Some("not for me")
    );
    assert!(
        next_mark(&peer).await.is_none(),
        "no message.mark for others"
    );

    // Undo.
    let back = a2.hide_message(&drop.id, false).await.expect("undo");
    assert!(!back.hidden);
    assert_eq!(next_mark(&second).await.map(|m| m.hidden), Some(false));
    assert_eq!(
        a.message_marks(&g.id).await.expect("marks").marks,
        vec![starred]
    );
    let _ = (second, peer);
}

async fn marks_refuse_outsiders_tombstones_and_bad_bodies(backend: Backend) {
    let app = spawn_on(backend).await;
    let (a, _au) = app.user("mr_a").await;
    let (b, bu) = app.user("mr_b").await;
    let (c, cu) = app.user("mr_c").await;
    let (outsider, _) = app.user("mr_out").await;
    let g = a
        .create_group("marks", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("group");
    let m = b.send_text(&g.id, "hello").await.expect("send");
    assert_code(outsider.star_message(&m.id, true).await, "not_found");
    assert_code(outsider.hide_message(&m.id, true).await, "not_found");
    assert_code(outsider.message_marks(&g.id).await, "not_found");
    assert_code(a.star_message("not-an-id", true).await, "not_found");
    assert_code(a.message_marks("not-an-id").await, "not_found");
    for (path, body) in [
        (format!("/messages/{}/star", m.id), r#"{"starred":"yes"}"#),
        (format!("/messages/{}/star", m.id), r#"{}"#),
        (
            format!("/messages/{}/hidden", m.id),
            r#"{"hidden":true,"x":1}"#,
        ),
        (format!("/messages/{}/hidden", m.id), "[]"),
    ] {
        let r = a.raw("PUT", &path, Some(body)).await.expect("raw");
        assert_eq!(r.status, 400, "{path} {body}: {}", r.text);
        assert_eq!(r.json["error"]["code"], "invalid_request", "{body}");
    }
    let r = a
        .raw("GET", "/users/me/starred?limit=0", None)
        .await
        .expect("raw");
    assert_eq!(r.status, 400);
    assert!(
        a.message_marks(&g.id)
            .await
            .expect("marks")
            .marks
            .is_empty(),
        "nothing changed"
    );

    // Hidden messages cannot be starred; tombstones neither.
    a.hide_message(&m.id, true).await.expect("hide");
    assert_code(a.star_message(&m.id, true).await, "conflict");
    b.delete_message(&m.id).await.expect("delete for everyone");
    assert_code(c.star_message(&m.id, true).await, "conflict");

    // The starred list pages newest first, and forgets chats left.
    let mut ids = Vec::new();
    for i in 0..3 {
        let m = b
            .send_text(&g.id, &format!("star {i}"))
            .await
            .expect("send");
        c.star_message(&m.id, true).await.expect("star");
        ids.push(m.id);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let page = c.starred(None, Some(2)).await.expect("page");
    assert_eq!(
        page.starred
            .iter()
            .map(|s| s.message.id.clone())
            .collect::<Vec<_>>(),
        vec![ids[2].clone(), ids[1].clone()]
    );
    let rest = c
        .starred(page.next_cursor.as_deref(), Some(2))
        .await
        .expect("next");
    assert_eq!(
        rest.starred
            .iter()
            .map(|s| s.message.id.clone())
            .collect::<Vec<_>>(),
        vec![ids[0].clone()]
    );
    assert!(rest.next_cursor.is_none());
    c.remove_member(&g.id, &cu.id).await.expect("leave");
    assert!(
        c.starred(None, None)
            .await
            .expect("after leaving")
            .starred
            .is_empty()
    );
}
