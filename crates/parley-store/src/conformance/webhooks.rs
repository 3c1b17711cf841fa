//! Conformance: webhooks and the outbox. Every event of a listed type
//! becomes one pending delivery per active webhook in its own
//! transaction; claims never hand one delivery to two workers while its
//! lease holds, and hand it again after; outcomes follow the retry
//! schedule; days of failure turn a webhook off once, with an audit entry;
//! deleting a webhook drops its pending deliveries; the creation limit
//! holds under concurrent creates.

use super::*;
use crate::{NewWebhook, WebhookPatch};
use parley_domain::webhooks::{MAX_WEBHOOKS, Outcome, RetryPolicy};
use parley_protocol::webhooks::DeliveryStatus;
use std::collections::HashSet;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    events_become_deliveries_of_listing_active_webhooks(factory).await;
    claims_are_exclusive_while_leased_and_return_after(factory).await;
    outcomes_follow_the_retry_schedule(factory).await;
    days_of_failure_turn_the_webhook_off_once(factory).await;
    deleting_a_webhook_drops_its_deliveries(factory).await;
    the_creation_limit_holds_under_concurrent_creates(factory).await;
}

fn hook(events: &[&str]) -> NewWebhook {
    NewWebhook {
        id: new_id(),
        url: "https://hooks.example.com/in".into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        description: None,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        created_at: Timestamp::now(),
    }
}

fn later(ms: i64) -> Timestamp {
    Timestamp(Timestamp::now().millis() + ms)
}

async fn send(f: &Fixture, conv: &str, sender: &str, n: usize) {
    for i in 0..n {
        f.store
            .send_message(text(conv, sender, &format!("c{i}"), "hello"), None)
            .await
            .expect("send");
    }
}

async fn all_deliveries(
    f: &Fixture,
    webhook: &str,
) -> Vec<parley_protocol::webhooks::WebhookDelivery> {
    f.store
        .webhook_deliveries(webhook, None, 1000)
        .await
        .expect("deliveries")
}

pub async fn events_become_deliveries_of_listing_active_webhooks(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["wh1", "wh2"]).await;
    let messages = f
        .store
        .create_webhook(hook(&["message.created"]))
        .await
        .expect("create");
    assert!(messages.active);
    let joins = f
        .store
        .create_webhook(hook(&["conversation.created"]))
        .await
        .expect("create");
    let paused = f
        .store
        .create_webhook(hook(&["message.created"]))
        .await
        .expect("create");
    f.store
        .update_webhook(
            &paused.id,
            WebhookPatch {
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("pause");
    let conv = group(&f, &u[0], &u[1..]).await;
    group(&f, &u[1], &u[..1]).await;
    send(&f, &conv, &u[0], 1).await;

    let got = all_deliveries(&f, &messages.id).await;
    assert_eq!(got.len(), 1, "one message.created, one delivery");
    let d = &got[0];
    assert_eq!(d.event_type, "message.created");
    assert_eq!(
        (d.status, d.attempts, d.last_status),
        (DeliveryStatus::Pending, 0, None)
    );
    assert_eq!(d.next_attempt_at, Some(d.created_at), "due at once");
    assert!(
        d.id.starts_with("msg_") && d.id.len() > 20,
        "a unique webhook-id: {}",
        d.id
    );

    let joined = all_deliveries(&f, &joins.id).await;
    assert_eq!(joined.len(), 2, "conversation.created of each group");
    assert!(
        joined
            .iter()
            .all(|d| d.event_type == "conversation.created")
    );
    assert_ne!(joined[0].id, joined[1].id);
    assert!(
        all_deliveries(&f, &paused.id).await.is_empty(),
        "an inactive webhook gets nothing"
    );

    // Newest first, by keyset pages.
    let first = f
        .store
        .webhook_deliveries(&joins.id, None, 1)
        .await
        .expect("page");
    let key = (first[0].created_at.millis(), first[0].id.clone());
    let second = f
        .store
        .webhook_deliveries(&joins.id, Some(key), 1)
        .await
        .expect("page");
    assert_eq!(first.len() + second.len(), 2);
    assert_ne!(first[0].id, second[0].id, "pages do not repeat");

    // What a worker claims is the stored event.
    let claimed = f
        .store
        .claim_deliveries(
            later(1_000),
            later(60_000),
            10,
            100,
            std::slice::from_ref(&joins.id),
        )
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "the skipped webhook's deliveries stay");
    let event: serde_json::Value = serde_json::from_str(&claimed[0].event).expect("event json");
    assert_eq!(event["type"], "message.created");
    assert_eq!(event["conversation_id"], conv.as_str());
    assert_eq!(event["data"]["message"]["text"], "hello");
    assert_eq!(claimed[0].id, d.id);
}

pub async fn claims_are_exclusive_while_leased_and_return_after(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["wc1", "wc2"]).await;
    let w = f
        .store
        .create_webhook(hook(&["message.created"]))
        .await
        .expect("create");
    let conv = group(&f, &u[0], &u[1..]).await;
    send(&f, &conv, &u[0], 20).await;
    let now = later(1_000);
    let lease = later(30_000);
    let claims = (0..4).map(|_| {
        let s = f.store.clone();
        tokio::spawn(async move {
            s.claim_deliveries(now, lease, 10, 100, &[])
                .await
                .expect("claim")
        })
    });
    let mut seen = HashSet::new();
    for c in claims {
        for d in c.await.expect("join") {
            assert!(seen.insert(d.id.clone()), "{} claimed twice", d.id);
        }
    }
    // A claim may skip rows a concurrent one held without taking: what is
    // left goes to the next.
    loop {
        let more = f
            .store
            .claim_deliveries(now, lease, 10, 100, &[])
            .await
            .expect("claim");
        if more.is_empty() {
            break;
        }
        for d in more {
            assert!(seen.insert(d.id.clone()), "{} claimed twice", d.id);
        }
    }
    assert_eq!(seen.len(), 20, "every due delivery claimed once");
    assert!(
        f.store
            .claim_deliveries(now, lease, 50, 100, &[])
            .await
            .expect("claim")
            .is_empty(),
        "leased deliveries are not handed out again"
    );
    let after = f
        .store
        .claim_deliveries(Timestamp(lease.millis() + 1), later(90_000), 50, 100, &[])
        .await
        .expect("claim");
    assert_eq!(
        after.len(),
        20,
        "a lease that ran out (its worker died) hands them out again"
    );
    let capped = f
        .store
        .claim_deliveries(
            Timestamp(lease.millis() + 120_000),
            later(300_000),
            50,
            5,
            &[],
        )
        .await
        .expect("claim");
    assert_eq!(
        capped.len(),
        5,
        "at most per_webhook of one webhook at once"
    );
    let d = all_deliveries(&f, &w.id).await;
    assert!(
        d.iter()
            .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0)
    );
}

pub async fn outcomes_follow_the_retry_schedule(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["wr1", "wr2"]).await;
    let w = f
        .store
        .create_webhook(hook(&["message.created"]))
        .await
        .expect("create");
    let conv = group(&f, &u[0], &u[1..]).await;
    send(&f, &conv, &u[0], 2).await;
    let policy = RetryPolicy {
        schedule_ms: vec![1_000, 5_000],
        disable_after_ms: i64::MAX,
    };
    let t = later(1_000);
    let claimed = f
        .store
        .claim_deliveries(t, later(30_000), 10, 100, &[])
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    let (a, b) = (&claimed[0].id, &claimed[1].id);

    f.store
        .finish_delivery(b, Outcome::Delivered(204), t, &policy)
        .await
        .expect("finish");
    f.store
        .finish_delivery(a, Outcome::Failed(Some(500)), t, &policy)
        .await
        .expect("finish");
    let by_id = |all: &[parley_protocol::webhooks::WebhookDelivery], id: &str| {
        all.iter().find(|d| d.id == id).cloned().expect("listed")
    };
    let all = all_deliveries(&f, &w.id).await;
    let db = by_id(&all, b);
    assert_eq!(
        (db.status, db.attempts, db.last_status, db.next_attempt_at),
        (DeliveryStatus::Delivered, 1, Some(204), None)
    );
    let da = by_id(&all, a);
    assert_eq!(
        (da.status, da.attempts, da.last_status),
        (DeliveryStatus::Pending, 1, Some(500))
    );
    assert_eq!(
        da.next_attempt_at,
        Some(Timestamp(t.millis() + 1_000)),
        "the first step of the schedule"
    );

    // A delivered attempt is never repeated; a finish of it changes nothing.
    f.store
        .finish_delivery(b, Outcome::Failed(None), t, &policy)
        .await
        .expect("finish");
    assert_eq!(
        by_id(&all_deliveries(&f, &w.id).await, b).status,
        DeliveryStatus::Delivered
    );

    let early = f
        .store
        .claim_deliveries(Timestamp(t.millis() + 999), later(60_000), 10, 100, &[])
        .await
        .expect("claim");
    assert!(early.is_empty(), "not before its retry is due");
    let t2 = Timestamp(t.millis() + 1_000);
    let again = f
        .store
        .claim_deliveries(t2, later(60_000), 10, 100, &[])
        .await
        .expect("claim");
    assert_eq!(
        again
            .iter()
            .map(|d| (d.id.as_str(), d.attempts))
            .collect::<Vec<_>>(),
        vec![(a.as_str(), 1)],
        "the same id, its attempts so far"
    );
    f.store
        .finish_delivery(a, Outcome::Failed(None), t2, &policy)
        .await
        .expect("finish");
    let da = by_id(&all_deliveries(&f, &w.id).await, a);
    assert_eq!(
        (da.status, da.attempts, da.last_status),
        (DeliveryStatus::Pending, 2, None)
    );
    assert_eq!(da.next_attempt_at, Some(Timestamp(t2.millis() + 5_000)));
    let t3 = Timestamp(t2.millis() + 5_000);
    assert_eq!(
        f.store
            .claim_deliveries(t3, later(60_000), 10, 100, &[])
            .await
            .expect("claim")
            .len(),
        1
    );
    f.store
        .finish_delivery(a, Outcome::Failed(Some(503)), t3, &policy)
        .await
        .expect("finish");
    let da = by_id(&all_deliveries(&f, &w.id).await, a);
    assert_eq!(
        (da.status, da.attempts, da.next_attempt_at),
        (DeliveryStatus::Failed, 3, None),
        "failed after the last step"
    );
    assert!(
        f.store
            .claim_deliveries(later(10_000_000), later(20_000_000), 10, 100, &[])
            .await
            .expect("claim")
            .is_empty()
    );
    let stats = f.store.outbox_stats().await.expect("stats");
    assert_eq!(stats.pending, 0);
    assert_eq!(f.store.next_delivery_due().await.expect("due"), None);
}

pub async fn days_of_failure_turn_the_webhook_off_once(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["wd1", "wd2"]).await;
    let w = f
        .store
        .create_webhook(hook(&["message.created"]))
        .await
        .expect("create");
    let conv = group(&f, &u[0], &u[1..]).await;
    send(&f, &conv, &u[0], 3).await;
    let policy = RetryPolicy {
        schedule_ms: vec![10; 10],
        disable_after_ms: 10_000,
    };
    let t0 = later(1_000);
    let claimed = f
        .store
        .claim_deliveries(t0, later(5_000), 10, 100, &[])
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 3);
    f.store
        .finish_delivery(&claimed[0].id, Outcome::Failed(Some(500)), t0, &policy)
        .await
        .expect("finish");
    let t1 = Timestamp(t0.millis() + 9_999);
    f.store
        .finish_delivery(&claimed[1].id, Outcome::Failed(Some(500)), t1, &policy)
        .await
        .expect("finish");
    let active = |f: &Fixture, id: String| {
        let s = f.store.clone();
        async move {
            s.webhook(&id)
                .await
                .expect("read")
                .expect("exists")
                .webhook
                .active
        }
    };
    assert!(
        active(&f, w.id.clone()).await,
        "not yet: the streak is shorter than the limit"
    );
    let t2 = Timestamp(t0.millis() + 10_000);
    let (x, y) = (claimed[1].id.clone(), claimed[2].id.clone());
    let (s1, s2, p1, p2) = (
        f.store.clone(),
        f.store.clone(),
        policy.clone(),
        policy.clone(),
    );
    let (r1, r2) = tokio::join!(
        tokio::spawn(async move { s1.finish_delivery(&x, Outcome::Failed(None), t2, &p1).await }),
        tokio::spawn(async move { s2.finish_delivery(&y, Outcome::Failed(None), t2, &p2).await }),
    );
    r1.expect("join").expect("finish");
    r2.expect("join").expect("finish");
    assert!(
        !active(&f, w.id.clone()).await,
        "the streak reached the limit: off"
    );
    let audits: Vec<_> = f
        .store
        .audit_log(None, 50)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "webhook.disable" && e.target_id == w.id)
        .collect();
    assert_eq!(audits.len(), 1, "turned off once, with one audit entry");
    assert_eq!(audits[0].actor_id, None);

    send(&f, &conv, &u[0], 1).await;
    assert_eq!(
        all_deliveries(&f, &w.id).await.len(),
        3,
        "no deliveries for an inactive webhook"
    );
    assert!(
        f.store
            .claim_deliveries(later(10_000_000), later(20_000_000), 10, 100, &[])
            .await
            .expect("claim")
            .is_empty(),
        "nor attempts of its pending ones"
    );
    let on = f
        .store
        .update_webhook(
            &w.id,
            WebhookPatch {
                active: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("on");
    assert!(on.active);
    let due = f
        .store
        .claim_deliveries(later(10_000_000), later(20_000_000), 10, 100, &[])
        .await
        .expect("claim");
    assert_eq!(
        due.len(),
        3,
        "turned on again, its pending deliveries resume"
    );
    let t3 = Timestamp(t2.millis() + 1);
    f.store
        .finish_delivery(&due[0].id, Outcome::Failed(None), t3, &policy)
        .await
        .expect("finish");
    assert!(
        active(&f, w.id.clone()).await,
        "turning it on starts the streak afresh"
    );
}

pub async fn deleting_a_webhook_drops_its_deliveries(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["wx1", "wx2"]).await;
    let w = f
        .store
        .create_webhook(hook(&["message.created"]))
        .await
        .expect("create");
    let keep = f
        .store
        .create_webhook(hook(&["message.created"]))
        .await
        .expect("create");
    let conv = group(&f, &u[0], &u[1..]).await;
    send(&f, &conv, &u[0], 3).await;
    assert!(f.store.delete_webhook(&w.id).await.expect("delete"));
    assert!(
        !f.store.delete_webhook(&w.id).await.expect("delete"),
        "gone already"
    );
    assert!(f.store.webhook(&w.id).await.expect("read").is_none());
    assert!(all_deliveries(&f, &w.id).await.is_empty());
    let claimed = f
        .store
        .claim_deliveries(later(1_000), later(60_000), 50, 100, &[])
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 3);
    assert!(
        claimed.iter().all(|d| d.webhook_id == keep.id),
        "only the remaining webhook's"
    );
    assert!(matches!(
        f.store.update_webhook(&w.id, WebhookPatch::default()).await,
        Err(crate::StoreError::Domain(
            parley_domain::DomainError::NotFound("webhook")
        ))
    ));
    let listed = f.store.webhooks(None, 50).await.expect("list");
    assert_eq!(
        listed.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(),
        vec![keep.id.as_str()]
    );
    let patched = f
        .store
        .update_webhook(
            &keep.id,
            WebhookPatch {
                events: Some(vec!["member.left".into(), "message.edited".into()]),
                description: Some(Some("crm".into())),
                ..Default::default()
            },
        )
        .await
        .expect("patch");
    assert_eq!(patched.events, vec!["member.left", "message.edited"]);
    let read = f
        .store
        .webhook(&keep.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(read.webhook, patched);
    send(&f, &conv, &u[0], 1).await;
    assert_eq!(
        all_deliveries(&f, &keep.id).await.len(),
        3,
        "message.created is no longer listed"
    );
}

pub async fn the_creation_limit_holds_under_concurrent_creates(factory: &Factory) {
    let f = fresh(factory).await;
    let extra = 8;
    let tasks: Vec<_> = (0..MAX_WEBHOOKS + extra)
        .map(|_| {
            let s = f.store.clone();
            tokio::spawn(async move { s.create_webhook(hook(&["message.created"])).await })
        })
        .collect();
    let mut made = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => made += 1,
            Err(crate::StoreError::Domain(parley_domain::DomainError::Conflict(_))) => refused += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!((made, refused), (MAX_WEBHOOKS, extra));
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = f.store.webhooks(after.clone(), 30).await.expect("list");
        if page.is_empty() {
            break;
        }
        after = page.last().map(|w| w.id.clone());
        all.extend(page);
    }
    assert_eq!(all.len() as u64, MAX_WEBHOOKS);
}
