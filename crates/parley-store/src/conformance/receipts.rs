//! Conformance: Watermarks and receipts.

use super::*;
use crate::*;
use parley_protocol::MessageStatus;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    read_watermark_moves_forward_and_clamps(factory).await;
    receipts_record_first_times(factory).await;
}

pub async fn read_watermark_moves_forward_and_clamps(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["f1", "f2"]).await;
    let (d, _) = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], Timestamp::now())
        .await
        .expect("direct");
    for i in 0..3 {
        f.store
            .send_message(text(&d, &u[0], &format!("m{i}"), "x"), None)
            .await
            .expect("send");
    }
    let r = f
        .store
        .mark_read(&u[1], &d, 3, Timestamp::now())
        .await
        .expect("read");
    assert_eq!((r.read_seq, r.unread_count), (3, 1));
    let r = f
        .store
        .mark_read(&u[1], &d, 2, Timestamp::now())
        .await
        .expect("read back");
    assert_eq!(r.read_seq, 3, "a lower seq is a no-op");
    let r = f
        .store
        .mark_read(&u[1], &d, 1_000_000, Timestamp::now())
        .await
        .expect("read far");
    assert_eq!((r.read_seq, r.unread_count), (4, 0), "clamped to last_seq");
    let v = f.store.conversation(&u[1], &d).await.expect("view");
    assert!(v.delivered_seq >= v.read_seq, "read implies delivered");
    let mine = f
        .store
        .messages(&u[0], &d, HistoryPage::Latest, 10)
        .await
        .expect("history");
    assert!(
        mine.messages
            .iter()
            .all(|m| m.status == Some(MessageStatus::Read))
    );
}

pub async fn receipts_record_first_times(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["y1", "y2", "y3"]).await;
    let g = group(&f, &u[0], &u[1..]).await;
    let (m, _) = f
        .store
        .send_message(text(&g, &u[0], "r", "x"), None)
        .await
        .expect("send");
    let t1 = Timestamp(Timestamp::now().millis() + 1_000);
    let t2 = Timestamp(t1.millis() + 1_000);
    f.store
        .mark_delivered(&u[1], &g, m.seq, t1)
        .await
        .expect("delivered");
    f.store.mark_read(&u[1], &g, m.seq, t2).await.expect("read");
    f.store
        .mark_read(&u[1], &g, m.seq, Timestamp(t2.millis() + 5_000))
        .await
        .expect("repeat read");
    let r = f.store.receipts(&u[0], &m.id).await.expect("receipts");
    assert_eq!(r.len(), 2);
    let r1 = r.iter().find(|x| x.user_id == u[1]).expect("y2");
    assert_eq!(
        (r1.delivered_at, r1.read_at),
        (Some(t1), Some(t2)),
        "the first move to the seq"
    );
    let r2 = r.iter().find(|x| x.user_id == u[2]).expect("y3");
    assert_eq!((r2.delivered_at, r2.read_at), (None, None));
    let mine = f.store.message(&u[0], &m.id).await.expect("message");
    assert_eq!(
        mine.status,
        Some(MessageStatus::Sent),
        "not everyone has it yet"
    );
}
