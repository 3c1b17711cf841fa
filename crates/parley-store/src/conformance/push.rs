//! Conformance: Web Push. The first server key stored wins everywhere;
//! an endpoint is one subscription whoever registers it, at most 20 per
//! user; a new message becomes one pending push per subscription of every
//! other current member, written with it (as one fan-out row the claims
//! expand, in chunks, once however many claim at once) and merged per
//! subscription and conversation; claims lease rows so no two hold one at
//! once; settling keeps a row a newer message merged into; a read past
//! a delivered push queues one silent update for that subscription.

use super::*;
use crate::{NewSubscription, PushSettle};
use parley_domain::push::MAX_SUBSCRIPTIONS;
use parley_protocol::push::{GatewayDevice, GatewayPlatform};

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    the_first_server_key_wins(factory).await;
    an_endpoint_is_one_subscription_and_a_user_keeps_at_most_the_cap(factory).await;
    a_message_becomes_a_push_per_other_members_subscription(factory).await;
    pushes_of_one_conversation_merge_and_settling_keeps_a_merged_row(factory).await;
    claims_lease_rows_and_never_share_them(factory).await;
    a_large_group_expands_to_each_subscription_once(factory).await;
    a_gone_subscription_takes_its_pushes(factory).await;
}

fn sub(user: &str, endpoint: &str, at: i64) -> NewSubscription {
    NewSubscription {
        id: new_id(),
        user_id: user.to_string(),
        endpoint: endpoint.to_string(),
        p256dh: format!("key-{endpoint}"),
        auth: "auth".into(),
        gateway: None,
        created_at: Timestamp(at),
    }
}

fn device(user: &str, token: &str, at: i64) -> NewSubscription {
    let gateway = GatewayDevice {
        platform: GatewayPlatform::Fcm,
        token: token.to_string(),
    };
    NewSubscription {
        id: new_id(),
        user_id: user.to_string(),
        endpoint: crate::gateway_key(&gateway),
        p256dh: String::new(),
        auth: String::new(),
        gateway: Some(gateway),
        created_at: Timestamp(at),
    }
}

fn soon(ms: i64) -> Timestamp {
    Timestamp(Timestamp::now().millis() + ms)
}

async fn claim_all(f: &Fixture, now: Timestamp) -> Vec<crate::ClaimedPush> {
    f.store
        .claim_pushes(now, Timestamp(now.millis() + 60_000), 100)
        .await
        .expect("claim")
}

pub async fn the_first_server_key_wins(factory: &Factory) {
    let f = fresh(factory).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = f.store.clone();
        tasks.push(tokio::spawn(async move {
            s.server_key("vapid", format!("k{i}")).await.expect("key")
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.expect("task"));
    }
    assert!(
        seen.iter().all(|k| *k == seen[0]),
        "every caller gets the one stored key: {seen:?}"
    );
    assert_eq!(
        f.store
            .server_key("vapid", "later".into())
            .await
            .expect("again"),
        seen[0]
    );
    assert_eq!(
        f.store
            .server_key("other", "x".into())
            .await
            .expect("other"),
        "x",
        "keys are per name"
    );
}

pub async fn an_endpoint_is_one_subscription_and_a_user_keeps_at_most_the_cap(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["ps1", "ps2"]).await;
    let (a, created) = f
        .store
        .subscribe(sub(&u[0], "https://push.example/a", 1))
        .await
        .expect("subscribe");
    assert!(created);
    let (again, created) = f
        .store
        .subscribe(sub(&u[1], "https://push.example/a", 2))
        .await
        .expect("again");
    assert!(!created, "the same endpoint is not a new subscription");
    assert_eq!(again.id, a.id, "it keeps its id");
    assert!(
        f.store.subscriptions(&u[0]).await.expect("list").is_empty(),
        "the endpoint moved to its last registrant"
    );
    assert_eq!(
        f.store.subscriptions(&u[1]).await.expect("list"),
        vec![a.clone()]
    );
    assert!(
        !f.store
            .unsubscribe(&u[0], "https://push.example/a")
            .await
            .expect("not theirs"),
        "one may not delete another's subscription"
    );
    assert!(
        f.store
            .unsubscribe(&u[1], "https://push.example/a")
            .await
            .expect("own")
    );
    assert!(f.store.subscriptions(&u[1]).await.expect("list").is_empty());
    for i in 0..=MAX_SUBSCRIPTIONS {
        f.store
            .subscribe(sub(
                &u[0],
                &format!("https://push.example/d{i}"),
                100 + i as i64,
            ))
            .await
            .expect("subscribe");
    }
    let kept = f.store.subscriptions(&u[0]).await.expect("list");
    assert_eq!(kept.len(), MAX_SUBSCRIPTIONS, "at most the cap");
    assert_eq!(
        kept[0].endpoint.as_deref(),
        Some("https://push.example/d1"),
        "the oldest went first"
    );
    assert_eq!(
        kept[MAX_SUBSCRIPTIONS - 1].endpoint,
        Some(format!("https://push.example/d{MAX_SUBSCRIPTIONS}"))
    );
    // A push-gateway device: listed with its platform and token, one
    // registration per device whoever registers it.
    let (g, created) = f
        .store
        .subscribe(device(&u[1], "tok-1", 500))
        .await
        .expect("device");
    assert!(created);
    assert_eq!(g.endpoint, None);
    assert_eq!(g.gateway.as_ref().map(|d| d.token.as_str()), Some("tok-1"));
    let (again, created) = f
        .store
        .subscribe(device(&u[1], "tok-1", 600))
        .await
        .expect("again");
    assert!(!created);
    assert_eq!(again, g);
    assert_eq!(
        f.store.subscriptions(&u[1]).await.expect("list"),
        vec![g.clone()]
    );
}

pub async fn a_message_becomes_a_push_per_other_members_subscription(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["pm1", "pm2", "pm3", "pm4"]).await;
    for (i, user) in u.iter().enumerate() {
        f.store
            .subscribe(sub(user, &format!("https://push.example/m{i}"), 1))
            .await
            .expect("subscribe");
    }
    f.store
        .subscribe(device(&u[1], "m1-phone", 2))
        .await
        .expect("second device");
    let g = group(&f, &u[0], &u[1..3]).await;
    assert!(
        claim_all(&f, soon(0)).await.is_empty(),
        "member events push nothing"
    );
    let (m, _) = f
        .store
        .send_message(text(&g, &u[0], "p1", "hello push"), None)
        .await
        .expect("send");
    let claimed = claim_all(&f, soon(0)).await;
    let mut endpoints: Vec<&str> = claimed.iter().map(|c| c.endpoint.as_str()).collect();
    endpoints.sort();
    assert_eq!(
        endpoints,
        vec![
            "gateway:fcm:m1-phone",
            "https://push.example/m1",
            "https://push.example/m2"
        ],
        "every subscription of every other current member, not the sender's, not a non-member's"
    );
    let c = claimed
        .iter()
        .find(|c| c.endpoint == "https://push.example/m2")
        .expect("m2");
    assert_eq!(c.seq, m.seq);
    assert_eq!(c.gateway, None);
    assert_eq!(c.p256dh, "key-https://push.example/m2");
    let phone = claimed
        .iter()
        .find(|c| c.endpoint == "gateway:fcm:m1-phone")
        .expect("the gateway device");
    assert_eq!(
        phone
            .gateway
            .as_ref()
            .map(|g| (g.platform, g.token.as_str())),
        Some((GatewayPlatform::Fcm, "m1-phone"))
    );
    assert_eq!(c.retries, 0);
    assert_eq!(c.facts.subscriber, u[2]);
    assert_eq!(c.facts.conversation_id, g);
    assert_eq!(c.facts.title.as_deref(), Some("team"));
    assert_eq!(c.facts.sender_name, "pm1");
    assert!(c.facts.member);
    assert_eq!(c.facts.unread_count, 1);
    assert!(c.facts.read_seq < m.seq);
    let msg = c.facts.message.as_ref().expect("message");
    assert_eq!(msg.id, m.id);
    assert_eq!(msg.text.as_deref(), Some("hello push"));
    assert!(!c.facts.blocked_sender);
    // The facts are read at claim time: a read moves read_seq.
    f.store
        .mark_read(&u[2], &g, m.seq, Timestamp::now())
        .await
        .expect("read");
    f.store
        .settle_push(&c.id, c.seq, PushSettle::Hold(soon(-1)), Timestamp::now())
        .await
        .expect("hold");
    let again = claim_all(&f, soon(0)).await;
    assert_eq!(again.len(), 1, "a held push is due again");
    assert_eq!(again[0].facts.read_seq, m.seq, "facts are current");
    assert_eq!(again[0].facts.unread_count, 0);
}

pub async fn pushes_of_one_conversation_merge_and_settling_keeps_a_merged_row(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["pg1", "pg2"]).await;
    f.store
        .subscribe(sub(&u[1], "https://push.example/g", 1))
        .await
        .expect("subscribe");
    let (d, _) = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], Timestamp::now())
        .await
        .expect("direct");
    let (m1, _) = f
        .store
        .send_message(text(&d, &u[0], "a", "one"), None)
        .await
        .expect("send");
    let (m2, _) = f
        .store
        .send_message(text(&d, &u[0], "b", "two"), None)
        .await
        .expect("send");
    let claimed = claim_all(&f, soon(0)).await;
    assert_eq!(claimed.len(), 1, "pending together: one push");
    assert_eq!(claimed[0].seq, m2.seq, "for the newest message");
    assert!(m2.seq > m1.seq);
    // A third message while the push is in flight merges into its row;
    // settling the claim for m2 then keeps the row, due at once.
    let (m3, _) = f
        .store
        .send_message(text(&d, &u[0], "c", "three"), None)
        .await
        .expect("send");
    assert!(
        claim_all(&f, soon(0)).await.is_empty(),
        "the message merged into the leased row, which nobody else claims"
    );
    f.store
        .settle_push(
            &claimed[0].id,
            claimed[0].seq,
            PushSettle::Done,
            Timestamp::now(),
        )
        .await
        .expect("settle");
    let next = claim_all(&f, soon(0)).await;
    assert_eq!(next.len(), 1, "the merged message still leaves");
    assert_eq!(next[0].seq, m3.seq);
    assert_eq!(next[0].id, claimed[0].id);
    f.store
        .settle_push(&next[0].id, next[0].seq, PushSettle::Done, Timestamp::now())
        .await
        .expect("settle");
    assert!(
        claim_all(&f, soon(600_000)).await.is_empty(),
        "settled: gone"
    );
    assert_eq!(f.store.next_push_due().await.expect("due"), None);
}

pub async fn claims_lease_rows_and_never_share_them(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["pl1", "pl2", "pl3"]).await;
    for i in 0..30 {
        f.store
            .subscribe(sub(
                &u[1 + i % 2],
                &format!("https://push.example/l{i}"),
                i as i64,
            ))
            .await
            .expect("subscribe");
    }
    let g = group(&f, &u[0], &u[1..]).await;
    f.store
        .send_message(text(&g, &u[0], "x", "hi"), None)
        .await
        .expect("send");
    assert!(f.store.next_push_due().await.expect("due").is_some());
    let now = soon(0);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = f.store.clone();
        tasks.push(tokio::spawn(async move {
            s.claim_pushes(now, Timestamp(now.millis() + 60_000), 10)
                .await
                .expect("claim")
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.expect("task").into_iter().map(|c| c.id));
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no row claimed twice");

    // The rest, then nothing until the leases end.
    let rest = claim_all(&f, now).await;
    assert_eq!(ids.len() + rest.len(), 30);
    assert!(
        claim_all(&f, now).await.is_empty(),
        "leased rows are not due"
    );
    assert_eq!(
        claim_all(&f, Timestamp(now.millis() + 60_001)).await.len(),
        30,
        "an expired lease makes a row due again"
    );
}

pub async fn a_gone_subscription_takes_its_pushes(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["pu1", "pu2"]).await;
    f.store
        .subscribe(sub(&u[1], "https://push.example/gone", 1))
        .await
        .expect("subscribe");
    let (d, _) = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], Timestamp::now())
        .await
        .expect("direct");
    f.store
        .send_message(text(&d, &u[0], "a", "one"), None)
        .await
        .expect("send");
    let c = claim_all(&f, soon(0)).await;
    assert_eq!(c.len(), 1);
    f.store
        .settle_push(
            &c[0].id,
            c[0].seq,
            PushSettle::Retry(soon(-1)),
            Timestamp::now(),
        )
        .await
        .expect("retry");
    let r = claim_all(&f, soon(0)).await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].retries, 1, "a retry counts");
    f.store
        .settle_push(
            &r[0].id,
            r[0].seq,
            PushSettle::Unsubscribe,
            Timestamp::now(),
        )
        .await
        .expect("unsubscribe");
    assert!(f.store.subscriptions(&u[1]).await.expect("list").is_empty());
    assert!(claim_all(&f, soon(600_000)).await.is_empty());
}

pub async fn a_large_group_expands_to_each_subscription_once(factory: &Factory) {
    let f = fresh(factory).await;
    // 1,100 recipients (more than two chunks of members), one with 20
    // subscriptions, some with none.
    let names: Vec<String> = (0..1101).map(|i| format!("pf{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let u = users(&f.store, &refs).await;
    let mut subs = std::collections::HashSet::new();
    for (n, user) in u[1..].iter().enumerate() {
        let count = match n {
            7 => MAX_SUBSCRIPTIONS,
            n if n % 10 == 3 => 0,
            _ => 1,
        };
        for i in 0..count {
            let (s, _) = f
                .store
                .subscribe(sub(
                    user,
                    &format!("https://push.example/f{n}-{i}"),
                    i as i64,
                ))
                .await
                .expect("subscribe");
            subs.insert(s.id);
        }
    }
    // The sender's own subscription gets nothing.
    f.store
        .subscribe(sub(&u[0], "https://push.example/sender", 0))
        .await
        .expect("subscribe");
    let g = group(&f, &u[0], &u[1..]).await;
    let (m, _) = f
        .store
        .send_message(text(&g, &u[0], "big", "to all"), None)
        .await
        .expect("send");
    // Four claimers at once, until nothing is left.
    let mut seen: Vec<String> = Vec::new();
    loop {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let s = f.store.clone();
            tasks.push(tokio::spawn(async move {
                let now = soon(0);
                s.claim_pushes(now, Timestamp(now.millis() + 60_000), 100)
                    .await
                    .expect("claim")
            }));
        }
        let mut got = 0;
        for t in tasks {
            for c in t.await.expect("task") {
                assert_eq!(c.seq, m.seq);
                seen.push(c.subscription_id);
                got += 1;
            }
        }
        if got == 0 {
            break;
        }
    }
    let distinct: std::collections::HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), distinct.len(), "no subscription pushed twice");
    assert!(
        distinct == subs,
        "every other member's subscription, once: {} pushed of {}, {} not theirs",
        distinct.intersection(&subs).count(),
        subs.len(),
        distinct.difference(&subs).count()
    );
}

pub async fn a_read_after_a_shown_push_queues_one_silent_update(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["pr1", "pr2"]).await;
    let (shown, _) = f
        .store
        .subscribe(sub(&u[1], "https://push.example/shown", 1))
        .await
        .expect("subscribe");
    f.store
        .subscribe(sub(&u[1], "https://push.example/dropped", 2))
        .await
        .expect("subscribe");
    let (d, _) = f
        .store
        .get_or_create_direct(&new_id(), &u[0], &u[1], Timestamp::now())
        .await
        .expect("direct");
    let (m, _) = f
        .store
        .send_message(text(&d, &u[0], "a", "one"), None)
        .await
        .expect("send");
    for c in claim_all(&f, soon(0)).await {
        assert!(!c.read_update);
        let settle = if c.subscription_id == shown.id {
            PushSettle::Delivered
        } else {
            PushSettle::Done
        };
        f.store
            .settle_push(&c.id, c.seq, settle, Timestamp::now())
            .await
            .expect("settle");
    }
    assert!(claim_all(&f, soon(0)).await.is_empty());
    f.store
        .mark_read(&u[1], &d, m.seq, Timestamp::now())
        .await
        .expect("read");
    let updates = claim_all(&f, soon(0)).await;
    assert_eq!(updates.len(), 1, "only the subscription that was shown it");
    assert!(updates[0].read_update);
    assert_eq!(updates[0].subscription_id, shown.id);
    assert_eq!(updates[0].seq, m.seq);
    f.store
        .settle_push(
            &updates[0].id,
            updates[0].seq,
            PushSettle::Done,
            Timestamp::now(),
        )
        .await
        .expect("settle");
    f.store
        .mark_read(&u[1], &d, m.seq, Timestamp::now())
        .await
        .expect("read again");
    assert!(
        claim_all(&f, soon(0)).await.is_empty(),
        "one update per notification shown"
    );
}
