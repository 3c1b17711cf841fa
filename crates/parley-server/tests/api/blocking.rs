//! Blocking (protocol.md §11): every effect, both directions, and undone.

use crate::helpers::*;
use parley_protocol::{ClientFrame, PresenceState, ServerFrame};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_hide_and_refuse_in_both_directions_until_lifted() {
    let app = spawn_app().await;
    let (a, au) = app.user("bl_a").await;
    let (b, bu) = app.user("bl_b").await;
    let (c, cu) = app.user("bl_c").await;
    let (d, du) = app.user("bl_d").await;
    let dm = app.direct(&a, &bu).await;
    let group = c
        .create_group("shared", &[au.id.clone(), bu.id.clone()])
        .await
        .expect("group");
    let m = a
        .send_text(&group.id, "before the block")
        .await
        .expect("send");

    let (s, created) = a.block(&bu.id).await.expect("block");
    assert!(created && s.blocked_by_me && !s.blocked_me);
    assert!(
        !a.block(&bu.id).await.expect("again").1,
        "repeat is 200, not a new block"
    );
    let seen_by_b = b.block_status(&au.id).await.expect("status");
    assert!(!seen_by_b.blocked_by_me && seen_by_b.blocked_me);
    assert_eq!(
        a.blocks(None, None)
            .await
            .expect("list")
            .blocks
            .iter()
            .map(|x| x.user_id.clone())
            .collect::<Vec<_>>(),
        vec![bu.id.clone()]
    );

    for (x, y) in [(&a, &bu), (&b, &au)] {
        assert_code(x.send_text(&dm.id, "hi").await, "blocked");
        assert_code(x.create_direct(&y.id).await, "blocked");
        assert_code(
            x.create_group("new", &[y.id.clone(), du.id.clone()]).await,
            "blocked",
        );
    }
    // Neither can add the other to a group.
    let g2 = a
        .create_group("mine", &[cu.id.clone(), du.id.clone()])
        .await
        .expect("group");
    assert_code(
        a.add_members(&g2.id, std::slice::from_ref(&bu.id)).await,
        "blocked",
    );
    // Presence hidden both ways.
    let bg = app.gateway(&b).await;
    let ag = app.gateway(&a).await;
    let p = a.user(&bu.id).await.expect("user").presence;
    assert_eq!((p.state, p.last_seen_at), (PresenceState::Offline, None));
    assert_eq!(
        b.user(&au.id).await.expect("user").presence.state,
        PresenceState::Offline
    );
    assert_eq!(
        c.user(&au.id).await.expect("user").presence.state,
        PresenceState::Online,
        "others still see it"
    );
    // Typing and receipts hidden between them in the shared group.
    ag.request(ClientFrame::TypingStart {
        reference: None,
        conversation_id: group.id.clone(),
    })
    .await
    .expect("typing");
    b.mark_read(&group.id, m.seq as i64).await.expect("read");
    let leaked = async {
        loop {
            match bg.next_push(Duration::from_millis(400)).await {
                Ok(ServerFrame::Typing { .. }) | Ok(ServerFrame::Presence { .. }) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    };
    assert!(!leaked.await, "b hears nothing of a's typing or presence");
    let receipts = a.receipts(&m.id).await.expect("receipts");
    assert!(
        receipts.receipts.iter().all(|r| r.user_id != bu.id),
        "b's receipt is hidden from a"
    );
    // Sends in the shared group still work.
    b.send_text(&group.id, "still here")
        .await
        .expect("group send is not blocked");

    a.unblock(&bu.id).await.expect("unblock");
    assert!(!a.block_status(&bu.id).await.expect("status").blocked_by_me);
    b.send_text(&dm.id, "hello again")
        .await
        .expect("direct works again");
    assert_eq!(
        a.user(&bu.id).await.expect("user").presence.state,
        PresenceState::Online
    );
    a.add_members(&g2.id, std::slice::from_ref(&bu.id))
        .await
        .expect("adding works again");
    assert_code(a.block(&au.id).await, "invalid_request");
    assert_code(
        a.block("01900000-0000-7000-8000-000000000000").await,
        "not_found",
    );
    let _ = (d, c);
}
