//! Pinned and archived chats (docs/protocol.md, "Pinned and archived
//! chats"): per user, told to the user's other devices, invisible to the
//! other members, and refused cleanly.

use crate::helpers::*;
use parley_protocol::{ChatState, ServerFrame};

on_both_backends!(
    pins_and_archives_sync_to_the_users_other_devices_only,
    pin_limit_outsiders_and_bad_bodies_change_nothing
);

/// The next `chat.state` frame on `g`.
async fn next_state(g: &parley_sdk::Gateway) -> Option<ChatState> {
    next_push_of(g, |f| match f {
        ServerFrame::ChatState { state } => Some(state),
        _ => None,
    })
    .await
}

async fn pins_and_archives_sync_to_the_users_other_devices_only(backend: Backend) {
    let app = spawn_on(backend).await;
    let (a, au) = app.user("cs_a").await;
    let (b, bu) = app.user("cs_b").await;
    let (_c, cu) = app.user("cs_c").await;
    let a2 = app.client();
    a2.login(&au.username, PASSWORD)
        .await
        .expect("second device");
    let dm = app.direct(&a, &bu).await;
    let g = a
        .create_group("team", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("group");
    let second = app.gateway(&a2).await;
    let peer = app.gateway(&b).await;

    let pinned = a.pin_chat(&dm.id, true).await.expect("pin");
    assert!(pinned.pinned_at.is_some() && !pinned.archived);
    assert_eq!(
        next_state(&second).await.as_ref(),
        Some(&pinned),
        "the user's other device hears the pin"
    );
    let archived = a.archive_chat(&g.id, true).await.expect("archive");
    assert!(archived.archived && archived.pinned_at.is_none());
    assert_eq!(next_state(&second).await.as_ref(), Some(&archived));
    assert_eq!(
        a2.chat_states().await.expect("list").chats,
        vec![pinned.clone(), archived.clone()],
        "the other device reads both, pinned first"
    );
    assert!(
        b.chat_states().await.expect("peer list").chats.is_empty(),
        "the other member sees none of it"
    );
    assert!(
        next_state(&peer).await.is_none(),
        "nor hears a chat.state frame"
    );

    // A new message brings the archived chat back.
    b.send_text(&g.id, "are you there?").await.expect("send");
    assert_eq!(
        a.chat_states().await.expect("list").chats,
        vec![pinned.clone()],
        "unarchived by a new message"
    );
    // Muted: it stays archived whatever arrives.
    a.archive_chat(&g.id, true).await.expect("archive again");
    a.mute(&g.id, Some(parley_protocol::Timestamp(i64::MAX / 2)))
        .await
        .expect("mute");
    b.send_text(&g.id, "still there?").await.expect("send");
    let now = a.chat_states().await.expect("list").chats;
    assert!(
        now.iter().any(|s| s.conversation_id == g.id && s.archived),
        "a muted archived chat stays archived: {now:?}"
    );
    let _ = (second, peer);
}

async fn pin_limit_outsiders_and_bad_bodies_change_nothing(backend: Backend) {
    let app = spawn_on(backend).await;
    let (a, _au) = app.user("cl_a").await;
    let (b, bu) = app.user("cl_b").await;
    let (c, _cu) = app.user("cl_c").await;
    let (_d, du) = app.user("cl_d").await;
    let mut groups = Vec::new();
    for i in 0..4 {
        groups.push(
            a.create_group(&format!("g{i}"), &[bu.id.clone(), du.id.clone()])
                .await
                .expect("group")
                .id,
        );
    }
    for g in &groups[..3] {
        a.pin_chat(g, true).await.expect("pin");
    }
    assert_code(a.pin_chat(&groups[3], true).await, "conflict");
    assert_code(c.pin_chat(&groups[0], true).await, "not_found");
    assert_code(c.archive_chat(&groups[0], true).await, "not_found");
    assert_code(a.pin_chat("not-an-id", true).await, "not_found");
    assert_code(
        a.pin_chat("01900000-0000-7000-8000-000000000000", true)
            .await,
        "not_found",
    );
    for body in [
        r#"{"pinned":"yes"}"#,
        r#"{}"#,
        r#"{"pinned":true,"extra":1}"#,
        "not json",
    ] {
        let r = a
            .raw(
                "PUT",
                &format!("/conversations/{}/pin", groups[3]),
                Some(body),
            )
            .await
            .expect("raw");
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(
            r.json["error"]["code"], "invalid_request",
            "{body}: {}",
            r.text
        );
    }
    let listed = a.chat_states().await.expect("list").chats;
    assert_eq!(
        listed
            .iter()
            .map(|s| s.conversation_id.clone())
            .collect::<Vec<_>>(),
        groups[..3].to_vec(),
        "nothing changed"
    );
    // Leaving drops the state; rejoining starts clean.
    b.pin_chat(&groups[0], true).await.expect("b pins");
    b.remove_member(&groups[0], &bu.id).await.expect("leave");
    assert!(b.chat_states().await.expect("list").chats.is_empty());
    a.add_members(&groups[0], std::slice::from_ref(&bu.id))
        .await
        .expect("re-add");
    assert!(
        b.chat_states().await.expect("list").chats.is_empty(),
        "a rejoin starts unpinned"
    );
}
