//! Receipts and status that tell the truth (protocol.md §5 status, §7).

use crate::helpers::*;
use parley_protocol::{ClientFrame, MessageStatus, ServerFrame};
use parley_sdk::Gateway;
use std::sync::Arc;
use std::time::Duration;

async fn status_of(c: &parley_sdk::Client, id: &str) -> Option<MessageStatus> {
    c.message(id).await.expect("message").status
}

async fn next_receipt(g: &Gateway) -> (String, u64, u64) {
    loop {
        match g.next_push(WAIT).await.expect("push") {
            ServerFrame::Receipt {
                user_id,
                delivered_seq,
                read_seq,
                ..
            } => return (user_id, delivered_seq, read_seq),
            ServerFrame::Event { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::ConversationAdded { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn direct_status_goes_sent_delivered_read_with_pushes_and_times() {
    let app = spawn_app().await;
    let (a, _) = app.user("st_a").await;
    let (b, bu) = app.user("st_b").await;
    let c = app.direct(&a, &bu).await;
    let a_gw = app.gateway(&a).await;
    let m = a.send_text(&c.id, "are you there?").await.expect("send");
    assert_eq!(m.status, Some(MessageStatus::Sent));
    let b_gw = app.gateway(&b).await;
    b_gw.request(ClientFrame::MessageDelivered {
        reference: None,
        conversation_id: c.id.clone(),
        seq: m.seq as i64,
    })
    .await
    .expect("delivered");
    assert_eq!(next_receipt(&a_gw).await, (bu.id.clone(), m.seq, 1));
    assert_eq!(status_of(&a, &m.id).await, Some(MessageStatus::Delivered));
    let r = b_gw
        .request(ClientFrame::MessageRead {
            reference: None,
            conversation_id: c.id.clone(),
            seq: m.seq as i64,
        })
        .await
        .expect("read");
    assert!(
        matches!(
            r,
            ServerFrame::Ack {
                read_seq: Some(2),
                unread_count: Some(0),
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(next_receipt(&a_gw).await, (bu.id.clone(), m.seq, m.seq));
    assert_eq!(status_of(&a, &m.id).await, Some(MessageStatus::Read));
    assert_eq!(
        status_of(&b, &m.id).await,
        None,
        "status only on one's own messages"
    );
    let receipts = a.receipts(&m.id).await.expect("receipts");
    assert_eq!(receipts.receipts.len(), 1);
    let rc = &receipts.receipts[0];
    assert_eq!(rc.user_id, bu.id);
    let (d, rd) = (
        rc.delivered_at.expect("delivered_at"),
        rc.read_at.expect("read_at"),
    );
    assert!(d <= rd, "delivered no later than read");
    // Watermarks never move back.
    let back = b_gw
        .request(ClientFrame::MessageDelivered {
            reference: None,
            conversation_id: c.id.clone(),
            seq: 1,
        })
        .await
        .expect("ack");
    assert!(
        matches!(
            back,
            ServerFrame::Ack {
                delivered_seq: Some(2),
                ..
            }
        ),
        "{back:?}"
    );
}

#[tokio::test]
async fn group_status_waits_for_every_other_member_and_late_joiners_do_not_count() {
    let app = spawn_app().await;
    let p = app.users(4).await;
    let g = p[0]
        .0
        .create_group("receipts", &[p[1].1.id.clone(), p[2].1.id.clone()])
        .await
        .expect("group");
    let m = p[0].0.send_text(&g.id, "hello all").await.expect("send");
    p[1].0.mark_read(&g.id, m.seq as i64).await.expect("read 1");
    assert_eq!(
        status_of(&p[0].0, &m.id).await,
        Some(MessageStatus::Sent),
        "one of two has not got it yet"
    );
    let gw2 = app.gateway(&p[2].0).await;
    gw2.request(ClientFrame::MessageDelivered {
        reference: None,
        conversation_id: g.id.clone(),
        seq: m.seq as i64,
    })
    .await
    .expect("delivered");
    assert_eq!(
        status_of(&p[0].0, &m.id).await,
        Some(MessageStatus::Delivered)
    );
    p[2].0.mark_read(&g.id, m.seq as i64).await.expect("read 2");
    assert_eq!(status_of(&p[0].0, &m.id).await, Some(MessageStatus::Read));
    // A member added later does not make the old message unread for anyone.
    p[0].0
        .add_members(&g.id, &[p[3].1.id.clone()])
        .await
        .expect("add");
    assert_eq!(status_of(&p[0].0, &m.id).await, Some(MessageStatus::Read));
    assert_eq!(
        p[3].0.conversation(&g.id).await.expect("view").unread_count,
        0
    );
    let receipts = p[0].0.receipts(&m.id).await.expect("receipts");
    let ids: Vec<&str> = receipts
        .receipts
        .iter()
        .map(|r| r.user_id.as_str())
        .collect();
    assert_eq!(ids.len(), 2, "only members who were there: {ids:?}");
    assert!(receipts.receipts.iter().all(|r| r.read_at.is_some()));
    assert_code(p[3].0.receipts(&m.id).await, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_counts_stay_exact_under_concurrent_sends_and_reads() {
    let app = spawn_app().await;
    let p = app.users(7).await;
    let ids: Vec<String> = p[1..].iter().map(|(_, u)| u.id.clone()).collect();
    let g = Arc::new(p[0].0.create_group("busy", &ids).await.expect("group"));
    let per = 12;
    let mut tasks = Vec::new();
    for (s, (c, _)) in p.iter().enumerate().take(5) {
        let c = c.clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                c.send_text(&g.id, &format!("{s}:{i}")).await.expect("send");
            }
        }));
    }
    for (c, _) in &p[5..7] {
        let c = c.clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                let v = c.conversation(&g.id).await.expect("view");
                c.mark_read(&g.id, (v.last_seq as i64 - 3).max(0))
                    .await
                    .expect("read");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    let page = p[5]
        .0
        .messages(&g.id, None, None, Some(200))
        .await
        .expect("history");
    assert_eq!(page.messages.len(), 5 * per);
    // Delete two messages: they stop counting.
    p[0].0
        .delete_message(&page.messages[page.messages.len() - 1].id)
        .await
        .ok();
    for (c, _) in &p[5..7] {
        let v = c.conversation(&g.id).await.expect("view");
        let expected = c
            .messages(&g.id, Some(u64::MAX / 2), None, Some(200))
            .await
            .expect("history")
            .messages
            .iter()
            .filter(|m| m.seq > v.read_seq && !m.deleted)
            .count() as u64;
        assert_eq!(
            v.unread_count, expected,
            "unread = messages after read_seq from others, not deleted"
        );
        assert_eq!(c.unread().await.expect("total").total_unread, expected);
    }
}

#[tokio::test]
async fn receipt_frames_refuse_bad_input() {
    let app = spawn_app().await;
    let (a, _) = app.user("rb_a").await;
    let (_, bu) = app.user("rb_b").await;
    let (_, cu) = app.user("rb_c").await;
    let c = app.direct(&a, &bu).await;
    let foreign = app
        .users(1)
        .await
        .remove(0)
        .0
        .create_direct(&cu.id)
        .await
        .expect("foreign")
        .0;
    let g = app.gateway(&a).await;
    let clamped = g
        .request(ClientFrame::MessageRead {
            reference: None,
            conversation_id: c.id.clone(),
            seq: 1_000_000,
        })
        .await
        .expect("clamped");
    assert!(
        matches!(
            clamped,
            ServerFrame::Ack {
                read_seq: Some(1),
                ..
            }
        ),
        "{clamped:?}"
    );
    assert_code(
        g.request(ClientFrame::MessageRead {
            reference: None,
            conversation_id: c.id.clone(),
            seq: -5,
        })
        .await,
        "invalid_request",
    );
    assert_code(
        g.request(ClientFrame::MessageDelivered {
            reference: None,
            conversation_id: foreign.id.clone(),
            seq: 1,
        })
        .await,
        "not_found",
    );
    g.send_raw(format!(
        r#"{{"type":"message.read","ref":"x1","conversation_id":"{}","seq":"7"}}"#,
        c.id
    ))
    .await
    .expect("send");
    loop {
        match g.next_push(WAIT).await {
            Ok(ServerFrame::Error { error, .. }) => {
                break assert_eq!(error.code.as_str(), "invalid_request");
            }
            Ok(ServerFrame::ConversationAdded { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_code(
        a.receipts("01900000-0000-7000-8000-000000000000").await,
        "not_found",
    );
}

/// Protocol.md §7: a reply moves the replier's watermarks to it, and that
/// move is a read like any other: pushed, recorded with its time and
/// reflected in `status`, whether or not the replier ever sent a read.
#[tokio::test]
async fn answering_without_reading_first_is_a_read_pushed_recorded_and_in_status() {
    let app = spawn_app().await;
    let (a, _) = app.user("ans_a").await;
    let (b, bu) = app.user("ans_b").await;
    let c = app.direct(&a, &bu).await;
    let a_gw = app.gateway(&a).await;
    let m = a.send_text(&c.id, "lunch?").await.expect("send");
    let reply = b.send_text(&c.id, "yes!").await.expect("reply");
    assert_eq!(
        next_receipt(&a_gw).await,
        (bu.id.clone(), reply.seq, reply.seq),
        "the reply's read is pushed to the sender"
    );
    assert_eq!(status_of(&a, &m.id).await, Some(MessageStatus::Read));
    let receipts = a.receipts(&m.id).await.expect("receipts");
    let rc = &receipts.receipts[0];
    assert_eq!(rc.user_id, bu.id);
    assert!(rc.read_at.is_some(), "read_at recorded: {rc:?}");
    assert!(rc.delivered_at.is_some(), "delivered_at recorded: {rc:?}");

    // In a group, "message info" names the replier as having read it.
    let (g1, g1u) = app.user("ans_g1").await;
    let (g2, g2u) = app.user("ans_g2").await;
    let group = a
        .create_group("lunch crew", &[g1u.id.clone(), g2u.id.clone()])
        .await
        .expect("group");
    let q = a.send_text(&group.id, "pizza?").await.expect("send");
    g1.send_text(&group.id, "sure").await.expect("g1 answers");
    let info = a.receipts(&q.id).await.expect("receipts");
    let by = |u: &str| {
        info.receipts
            .iter()
            .find(|r| r.user_id == u)
            .cloned()
            .expect("listed")
    };
    assert!(by(&g1u.id).read_at.is_some(), "the replier has read it");
    assert!(by(&g2u.id).read_at.is_none(), "the silent member has not");
    assert_eq!(status_of(&a, &q.id).await, Some(MessageStatus::Sent));
    g2.send_text(&group.id, "ok").await.expect("g2 answers");
    assert_eq!(status_of(&a, &q.id).await, Some(MessageStatus::Read));
    app.stop().await;
}
