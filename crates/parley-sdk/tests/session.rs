//! The session (ordering, gap filling, reconnects) against a scripted fake
//! server.
#![allow(clippy::unwrap_used)]

mod fake;

use fake::Fake;
use parley_protocol::{
    Conversation, ConversationKind, MemberRole, ServerFrame, SinceMap, Timestamp,
};
use parley_sdk::{Client, Error, Session};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);
const SHORT: Duration = Duration::from_millis(300);

fn client(fake: &Fake) -> Client {
    let client = Client::new(&fake.base).unwrap();
    client.set_token(Some("tok".into()));
    client
}

fn conversation(id: &str, joined_seq: u64, last_seq: u64) -> Conversation {
    Conversation {
        id: id.into(),
        kind: ConversationKind::Group,
        title: Some("T".into()),
        avatar_url: None,
        created_at: Timestamp(0),
        member_count: 3,
        my_role: MemberRole::Member,
        last_seq,
        last_message: None,
        read_seq: 0,
        delivered_seq: 0,
        unread_count: 0,
        muted_until: None,
        joined_seq,
        peer: None,
        support: None,
    }
}

async fn next(session: &Session) -> (String, u64) {
    let e = session.next_event(WAIT).await.unwrap();
    (e.conversation_id, e.seq)
}

fn pairs(conv: &str, seqs: impl IntoIterator<Item = u64>) -> Vec<(String, u64)> {
    seqs.into_iter().map(|s| (conv.to_owned(), s)).collect()
}

async fn take(session: &Session, n: usize) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(next(session).await);
    }
    out
}

async fn wait_for_reconnects(session: &Session, n: u64) {
    for _ in 0..100 {
        if session.reconnects() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} reconnects, have {}", session.reconnects());
}

#[tokio::test]
async fn gap_free_across_reorders_gaps_and_reconnects() {
    let mut fake = Fake::start().await;
    fake.append("c1", 1..=5);
    let since = SinceMap::from([("c1".to_owned(), 2)]);
    let c = client(&fake);
    let server = async {
        let mut conn = fake.next_conn().await;
        let (reference, since) = conn.recv_sync().await;
        assert_eq!(since, SinceMap::from([("c1".to_owned(), 2)]));
        // 4 is missing from the sync: filled over REST after sync.done.
        conn.push("c1", 3).await;
        conn.push("c1", 5).await;
        conn.sync_done(&reference, &[]).await;
        conn
    };
    let (session, mut conn) = tokio::join!(Session::start_from(c, since), server);
    let session = session.unwrap();
    assert_eq!(take(&session, 3).await, pairs("c1", 3..=5));
    assert_eq!(
        fake.event_queries.lock().unwrap().as_slice(),
        ["after=3&limit=200"]
    );

    // Live: out of order and duplicated.
    fake.append("c1", 6..=7);
    conn.push("c1", 7).await;
    conn.push("c1", 6).await;
    conn.push("c1", 5).await;
    conn.push("c1", 7).await;
    assert_eq!(take(&session, 2).await, pairs("c1", 6..=7));
    assert!(matches!(
        session.next_event(SHORT).await,
        Err(Error::Timeout)
    ));

    // A network cut: reconnect and sync from the applied seq.
    session.drop_connection().await;
    let mut conn = fake.next_conn().await;
    let (reference, since) = conn.recv_sync().await;
    assert_eq!(since, SinceMap::from([("c1".to_owned(), 7)]));
    fake.append("c1", [8]);
    conn.push("c1", 8).await;
    conn.sync_done(&reference, &[]).await;
    assert_eq!(next(&session).await, ("c1".to_owned(), 8));
    wait_for_reconnects(&session, 1).await;

    // The server goes away; the next sync says c1 is too far behind.
    conn.close(1001, "restarting").await;
    let mut conn = fake.next_conn().await;
    let (reference, since) = conn.recv_sync().await;
    assert_eq!(since, SinceMap::from([("c1".to_owned(), 8)]));
    fake.append("c1", 9..=10);
    conn.sync_done(&reference, &["c1"]).await;
    assert_eq!(take(&session, 2).await, pairs("c1", 9..=10));
    wait_for_reconnects(&session, 2).await;

    // A live gap that pushes never fill is fetched after about a second.
    fake.append("c1", 11..=12);
    conn.push("c1", 12).await;
    assert!(matches!(
        session.next_event(SHORT).await,
        Err(Error::Timeout)
    ));
    assert_eq!(take(&session, 2).await, pairs("c1", 11..=12));

    assert_eq!(session.applied(), SinceMap::from([("c1".to_owned(), 12)]));
    session.close().await;
}

#[tokio::test]
async fn new_conversations_start_where_they_should() {
    let mut fake = Fake::start().await;
    fake.append("c1", 1..=5);
    let c = client(&fake);
    let server = async {
        let mut conn = fake.next_conn().await;
        let (reference, since) = conn.recv_sync().await;
        assert!(since.is_empty());
        conn.send(&ServerFrame::ConversationAdded {
            conversation: conversation("c1", 1, 5),
        })
        .await;
        conn.sync_done(&reference, &[]).await;
        conn
    };
    let (session, mut conn) = tokio::join!(Session::start(c), server);
    let session = session.unwrap();
    // A fresh session follows existing conversations from now on.
    assert_eq!(session.applied(), SinceMap::from([("c1".to_owned(), 5)]));
    assert!(matches!(
        session.next_event(SHORT).await,
        Err(Error::Timeout)
    ));
    conn.push("c1", 6).await;
    assert_eq!(next(&session).await, ("c1".to_owned(), 6));

    // Added to a group at seq 3: everything from there, in order.
    fake.append("c2", 3..=4);
    conn.push("c2", 4).await;
    conn.send(&ServerFrame::ConversationAdded {
        conversation: conversation("c2", 3, 4),
    })
    .await;
    conn.push("c2", 3).await;
    assert_eq!(take(&session, 2).await, pairs("c2", 3..=4));

    // Removed: no longer followed.
    conn.send(&ServerFrame::ConversationRemoved {
        conversation_id: "c2".into(),
    })
    .await;
    conn.push("c1", 7).await;
    assert_eq!(next(&session).await, ("c1".to_owned(), 7));
    assert!(!session.applied().contains_key("c2"));

    // First heard of through an event in the middle: fetched from the start.
    fake.append("c3", 1..=3);
    conn.push("c3", 3).await;
    assert_eq!(take(&session, 3).await, pairs("c3", 1..=3));

    session.close().await;
}
