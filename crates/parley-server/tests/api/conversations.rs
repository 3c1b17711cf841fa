//! Conversations, members, watermarks (protocol.md §4).

use crate::helpers::*;
use parley_protocol::{ConversationKind, MemberRole, Timestamp, UpdateConversationRequest};

#[tokio::test]
async fn direct_is_get_or_create_from_either_side() {
    let app = spawn_app().await;
    let (a, au) = app.user("dir_a").await;
    let (b, bu) = app.user("dir_b").await;
    let (c1, created) = a.create_direct(&bu.id).await.expect("create");
    assert!(created, "201 the first time");
    assert_eq!(c1.kind, ConversationKind::Direct);
    assert_eq!(c1.peer.as_ref().map(|p| p.id.clone()), Some(bu.id.clone()));
    assert_eq!((c1.last_seq, c1.joined_seq), (1, 1));
    let (c2, created2) = b.create_direct(&au.id).await.expect("get");
    assert!(!created2, "200 from the other side");
    assert_eq!(c1.id, c2.id);
    assert_code(a.create_direct(&au.id).await, "invalid_request");
    assert_code(
        a.create_direct("01900000-0000-7000-8000-000000000000")
            .await,
        "not_found",
    );
}

#[tokio::test]
async fn groups_roles_membership_and_handover() {
    let app = spawn_app().await;
    let p = app.users(5).await;
    let (owner, _) = &p[0];
    assert_code(
        owner.create_group("too small", &[p[1].1.id.clone()]).await,
        "invalid_request",
    );
    let g = owner
        .create_group("Launch", &[p[1].1.id.clone(), p[2].1.id.clone()])
        .await
        .expect("group");
    assert_eq!(
        (g.member_count, g.my_role, g.title.as_deref()),
        (3, MemberRole::Owner, Some("Launch"))
    );
    // A plain member cannot manage.
    assert_code(
        p[1].0.add_members(&g.id, &[p[3].1.id.clone()]).await,
        "forbidden",
    );
    assert_code(
        p[1].0
            .update_conversation(
                &g.id,
                &UpdateConversationRequest {
                    title: Some("x".into()),
                    avatar_url: None,
                },
            )
            .await,
        "forbidden",
    );
    assert_code(
        p[1].0
            .change_role(&g.id, &p[2].1.id, MemberRole::Admin)
            .await,
        "forbidden",
    );
    // The owner promotes, renames, adds.
    assert_eq!(
        owner
            .change_role(&g.id, &p[1].1.id, MemberRole::Admin)
            .await
            .expect("promote")
            .role,
        MemberRole::Admin
    );
    let renamed = p[1]
        .0
        .update_conversation(
            &g.id,
            &UpdateConversationRequest {
                title: Some("Launch 2".into()),
                avatar_url: None,
            },
        )
        .await
        .expect("admin renames");
    assert_eq!(renamed.title.as_deref(), Some("Launch 2"));
    let members = p[1]
        .0
        .add_members(&g.id, &[p[3].1.id.clone(), p[4].1.id.clone()])
        .await
        .expect("admin adds");
    assert_eq!(members.members.len(), 5);
    let late = p[3]
        .0
        .conversation(&g.id)
        .await
        .expect("new member sees it");
    assert!(late.joined_seq > 1);
    // Admins remove members, not the owner; a member leaves by removing itself.
    assert_code(p[1].0.remove_member(&g.id, &p[0].1.id).await, "forbidden");
    p[1].0
        .remove_member(&g.id, &p[4].1.id)
        .await
        .expect("admin removes");
    assert_code(p[4].0.conversation(&g.id).await, "not_found");
    p[3].0
        .remove_member(&g.id, &p[3].1.id)
        .await
        .expect("leave");
    assert_code(p[3].0.conversation(&g.id).await, "not_found");
    // The owner leaves: the oldest admin takes over.
    owner
        .remove_member(&g.id, &p[0].1.id)
        .await
        .expect("owner leaves");
    assert_eq!(
        p[1].0.conversation(&g.id).await.expect("view").my_role,
        MemberRole::Owner
    );
    // Ownership hand-over by role change.
    p[1].0
        .change_role(&g.id, &p[2].1.id, MemberRole::Owner)
        .await
        .expect("hand over");
    assert_eq!(
        p[1].0.conversation(&g.id).await.expect("view").my_role,
        MemberRole::Admin
    );
    assert_eq!(
        p[2].0.conversation(&g.id).await.expect("view").my_role,
        MemberRole::Owner
    );
}

#[tokio::test]
async fn list_is_sorted_by_activity_and_paginates() {
    let app = spawn_app().await;
    let (a, _) = app.user("list_a").await;
    let mut convs = Vec::new();
    for i in 0..5 {
        let (_, u) = app.user(&format!("list_p{i}_")).await;
        convs.push(app.direct(&a, &u).await);
    }
    a.send_text(&convs[1].id, "bump").await.expect("send");
    let first = a.conversations(None, Some(2)).await.expect("page 1");
    assert_eq!(first.conversations.len(), 2);
    assert_eq!(
        first.conversations[0].id, convs[1].id,
        "the most recent activity first"
    );
    assert_eq!(
        first.conversations[0]
            .last_message
            .as_ref()
            .and_then(|m| m.text.clone())
            .as_deref(),
        Some("bump")
    );
    assert_eq!(
        first.conversations[0]
            .last_message
            .as_ref()
            .and_then(|m| m.status),
        Some(parley_protocol::MessageStatus::Sent),
        "one's own last message carries its status in the list"
    );
    let mut all: Vec<String> = first.conversations.iter().map(|c| c.id.clone()).collect();
    let mut cursor = first.next_cursor.clone();
    while let Some(cur) = cursor {
        let page = a.conversations(Some(&cur), Some(2)).await.expect("page");
        all.extend(page.conversations.iter().map(|c| c.id.clone()));
        cursor = page.next_cursor;
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 5, "every conversation once across pages");
}

#[tokio::test]
async fn read_watermarks_unread_counts_and_mute() {
    let app = spawn_app().await;
    let (a, au) = app.user("rd_a").await;
    let (b, bu) = app.user("rd_b").await;
    let c = app.direct(&a, &bu).await;
    for i in 0..4 {
        a.send_text(&c.id, &format!("m{i}")).await.expect("send");
    }
    let v = b.conversation(&c.id).await.expect("view");
    assert_eq!((v.unread_count, v.last_seq), (4, 5));
    assert_eq!(b.unread().await.expect("unread").total_unread, 4);
    let r = b.mark_read(&c.id, 3).await.expect("read");
    assert_eq!((r.read_seq, r.unread_count), (3, 2));
    assert_eq!(
        b.mark_read(&c.id, 1).await.expect("no-op").read_seq,
        3,
        "never moves back"
    );
    assert_eq!(b.mark_read(&c.id, 999).await.expect("clamped").read_seq, 5);
    assert_code(b.mark_read(&c.id, -1).await, "invalid_request");
    let mine = a.messages(&c.id, None, None, None).await.expect("history");
    assert!(
        mine.messages
            .iter()
            .all(|m| m.status == Some(parley_protocol::MessageStatus::Read))
    );
    let until = Timestamp(Timestamp::now().millis() + 3_600_000);
    assert_eq!(
        b.mute(&c.id, Some(until)).await.expect("mute").muted_until,
        Some(until)
    );
    assert_eq!(
        b.conversation(&c.id).await.expect("view").muted_until,
        Some(until)
    );
    assert_eq!(b.mute(&c.id, None).await.expect("unmute").muted_until, None);
    let _ = au;
}
