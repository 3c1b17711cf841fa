//! Conformance: email digests. A user is due with an address, `email` not
//! off, and a message from someone else (not blocked, not deleted) older
//! than the cutoff, unread, in an unmuted conversation, newer than the
//! last digest, which was long enough ago; queueing one records what it
//! lists, once however many callers race; claims lease rows and read the
//! facts afresh.

use super::*;
use crate::{DigestSettle, DigestWindow};
use parley_protocol::notifications::{EmailPreference, NotificationPrefsPatch};

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    addresses_are_set_replaced_and_cleared(factory).await;
    a_digest_lists_unread_messages_from_others_once(factory).await;
    read_muted_blocked_and_off_are_not_due(factory).await;
    racing_enqueues_queue_one_digest(factory).await;
    claims_lease_digests_and_read_the_facts_afresh(factory).await;
}

/// Every message so far is old enough; the last digest long enough ago.
fn window() -> DigestWindow {
    let now = Timestamp::now().millis();
    DigestWindow {
        now: Timestamp(now),
        cutoff: Timestamp(now + 1_000),
        again_before: Timestamp(now - 3_600_000),
    }
}

async fn due(f: &Fixture, w: DigestWindow) -> Vec<String> {
    f.store
        .digest_candidates(w, None, 100)
        .await
        .expect("candidates")
}

async fn claim(f: &Fixture, now: Timestamp) -> Vec<crate::ClaimedDigest> {
    f.store
        .claim_digests(now, Timestamp(now.millis() + 60_000), 10)
        .await
        .expect("claim")
}

/// Users `dg0` (the sender) and `dg1` (with an address) in a group with
/// `dg2` (without one).
async fn setup(f: &Fixture, tag: &str) -> (Vec<String>, String) {
    let names: Vec<String> = (0..3).map(|i| format!("{tag}{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let u = users(&f.store, &refs).await;
    for who in [&u[0], &u[1]] {
        f.store
            .set_email_address(who, Some(format!("{who}@example.com")))
            .await
            .expect("address");
    }
    let g = group(f, &u[0], &u[1..3]).await;
    (u, g)
}

pub async fn addresses_are_set_replaced_and_cleared(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["ea1"]).await;
    assert_eq!(f.store.email_address(&u[0]).await.expect("read"), None);
    for a in ["a@example.com", "b@example.com"] {
        f.store
            .set_email_address(&u[0], Some(a.into()))
            .await
            .expect("set");
        assert_eq!(
            f.store.email_address(&u[0]).await.expect("read").as_deref(),
            Some(a),
            "the last address set is the one kept"
        );
    }
    f.store.set_email_address(&u[0], None).await.expect("clear");
    assert_eq!(f.store.email_address(&u[0]).await.expect("read"), None);
}

pub async fn a_digest_lists_unread_messages_from_others_once(factory: &Factory) {
    let f = fresh(factory).await;
    let (u, g) = setup(&f, "dl").await;
    assert!(
        due(&f, window()).await.is_empty(),
        "nothing unread, nobody due"
    );
    for (i, body) in ["first", "second"].iter().enumerate() {
        f.store
            .send_message(text(&g, &u[0], &format!("c{i}"), body), None)
            .await
            .expect("send");
    }
    let mut early = window();
    early.cutoff = Timestamp(early.now.millis() - 60_000);
    assert!(
        due(&f, early).await.is_empty(),
        "messages newer than the cutoff wait"
    );
    assert_eq!(
        due(&f, window()).await,
        vec![u[1].clone()],
        "only the recipient with an address (never the sender for their own messages)"
    );
    assert!(
        f.store
            .enqueue_digest(&u[1], "eml_1", window())
            .await
            .expect("enqueue")
    );
    assert!(
        due(&f, window()).await.is_empty(),
        "a user with a pending digest is not due"
    );
    let claimed = claim(&f, Timestamp::now()).await;
    assert_eq!(claimed.len(), 1);
    let d = &claimed[0];
    assert_eq!(d.id, "eml_1");
    assert_eq!(d.retries, 0);
    assert_eq!(d.facts.user_id, u[1]);
    assert_eq!(
        d.facts.address.as_deref(),
        Some(format!("{}@example.com", u[1]).as_str())
    );
    assert_eq!(d.facts.conversations.len(), 1);
    let c = &d.facts.conversations[0];
    assert_eq!(c.conversation_id, g);
    assert_eq!(c.unread, 2);
    assert!(!c.muted);
    let texts: Vec<Option<&str>> = c.latest.iter().map(|m| m.text.as_deref()).collect();
    assert_eq!(texts, vec![Some("first"), Some("second")], "oldest first");
    assert_eq!(c.latest[0].sender_name, "dl0");
    f.store
        .settle_digest("eml_1", DigestSettle::Done)
        .await
        .expect("settle");
    assert!(
        claim(&f, Timestamp::now()).await.is_empty(),
        "settled: gone"
    );

    let mut again = window();
    again.again_before = Timestamp(again.now.millis() + 1_000);
    assert!(
        due(&f, again).await.is_empty(),
        "what a digest listed is never listed again"
    );
    f.store
        .send_message(text(&g, &u[0], "c3", "third"), None)
        .await
        .expect("send");
    assert!(
        due(&f, window()).await.is_empty(),
        "a conversation digested within the hour waits"
    );
    assert_eq!(due(&f, again).await, vec![u[1].clone()]);
    assert!(
        f.store
            .enqueue_digest(&u[1], "eml_2", again)
            .await
            .expect("enqueue")
    );
    let claimed = claim(&f, Timestamp::now()).await;
    let c = &claimed[0].facts.conversations[0];
    assert_eq!(c.unread, 1, "only what is newer than the last digest");
    assert_eq!(c.latest[0].text.as_deref(), Some("third"));
}

pub async fn read_muted_blocked_and_off_are_not_due(factory: &Factory) {
    let f = fresh(factory).await;
    let (u, g) = setup(&f, "dn").await;
    let (m, _) = f
        .store
        .send_message(text(&g, &u[0], "c1", "hi"), None)
        .await
        .expect("send");
    assert_eq!(due(&f, window()).await, vec![u[1].clone()]);

    f.store
        .set_mute(
            &u[1],
            &g,
            Some(Timestamp(Timestamp::now().millis() + 60_000)),
        )
        .await
        .expect("mute");
    assert!(due(&f, window()).await.is_empty(), "muted");
    f.store.set_mute(&u[1], &g, None).await.expect("unmute");
    assert_eq!(due(&f, window()).await, vec![u[1].clone()]);

    f.store
        .update_notification_prefs(
            &u[1],
            NotificationPrefsPatch {
                email: Some(EmailPreference::Off),
                ..Default::default()
            },
        )
        .await
        .expect("prefs");
    assert!(due(&f, window()).await.is_empty(), "email off");
    f.store
        .update_notification_prefs(
            &u[1],
            NotificationPrefsPatch {
                email: Some(EmailPreference::Digest),
                ..Default::default()
            },
        )
        .await
        .expect("prefs");

    f.store
        .block(&u[1], &u[0], Timestamp::now())
        .await
        .expect("block");
    assert!(due(&f, window()).await.is_empty(), "a blocked sender");
    f.store.unblock(&u[1], &u[0]).await.expect("unblock");
    assert_eq!(due(&f, window()).await, vec![u[1].clone()]);

    f.store.set_email_address(&u[1], None).await.expect("clear");
    assert!(due(&f, window()).await.is_empty(), "no address");
    f.store
        .set_email_address(&u[1], Some("x@example.com".into()))
        .await
        .expect("set");

    f.store
        .mark_read(&u[1], &g, m.seq, Timestamp::now())
        .await
        .expect("read");
    assert!(due(&f, window()).await.is_empty(), "read");
    assert!(
        !f.store
            .enqueue_digest(&u[1], "eml_x", window())
            .await
            .expect("enqueue"),
        "nothing due, nothing queued"
    );
    assert!(claim(&f, Timestamp::now()).await.is_empty());
}

pub async fn racing_enqueues_queue_one_digest(factory: &Factory) {
    let f = fresh(factory).await;
    let (u, g) = setup(&f, "dr").await;
    f.store
        .send_message(text(&g, &u[0], "c1", "hi"), None)
        .await
        .expect("send");
    let w = window();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = f.store.clone();
        let user = u[1].clone();
        tasks.push(tokio::spawn(async move {
            s.enqueue_digest(&user, &format!("eml_r{i}"), w)
                .await
                .expect("enqueue")
        }));
    }
    let mut queued = 0;
    for t in tasks {
        queued += usize::from(t.await.expect("task"));
    }
    assert_eq!(queued, 1, "eight scans at once queue one digest");
    assert_eq!(claim(&f, Timestamp::now()).await.len(), 1);
}

pub async fn claims_lease_digests_and_read_the_facts_afresh(factory: &Factory) {
    let f = fresh(factory).await;
    let (u, g) = setup(&f, "dc").await;
    let (m, _) = f
        .store
        .send_message(text(&g, &u[0], "c1", "hi"), None)
        .await
        .expect("send");
    assert!(
        f.store
            .enqueue_digest(&u[1], "eml_c", window())
            .await
            .expect("enqueue")
    );
    let now = Timestamp::now();
    assert_eq!(
        f.store
            .next_digest_due()
            .await
            .expect("due")
            .map(|t| t.millis() <= now.millis()),
        Some(true)
    );
    assert_eq!(claim(&f, now).await.len(), 1);
    assert!(
        claim(&f, now).await.is_empty(),
        "a leased digest is nobody else's"
    );
    f.store
        .mark_read(&u[1], &g, m.seq, Timestamp::now())
        .await
        .expect("read");
    let later = Timestamp(now.millis() + 61_000);
    let again = claim(&f, later).await;
    assert_eq!(again.len(), 1, "the lease ended: claimable again");
    assert_eq!(again[0].id, "eml_c", "with the same id");
    assert_eq!(
        again[0].facts.conversations[0].unread, 0,
        "read meanwhile: the facts say so"
    );
    f.store
        .settle_digest(
            "eml_c",
            DigestSettle::Retry(Timestamp(later.millis() + 5_000)),
        )
        .await
        .expect("retry");
    assert!(
        claim(&f, Timestamp(later.millis() + 1_000))
            .await
            .is_empty()
    );
    let retried = claim(&f, Timestamp(later.millis() + 5_000)).await;
    assert_eq!(retried[0].retries, 1, "a retry counts");
}
