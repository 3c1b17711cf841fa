//! Typing and presence (protocol.md §3, §7).

use crate::helpers::*;
use parley_protocol::{ClientFrame, PresenceState, ServerFrame};
use parley_sdk::Gateway;
use std::time::{Duration, Instant};

async fn next_typing(g: &Gateway, wait: Duration) -> Option<(String, bool)> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match g.next_push(left).await {
            Ok(ServerFrame::Typing {
                user_id, typing, ..
            }) => return Some((user_id, typing)),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

async fn next_presence(g: &Gateway, wait: Duration) -> Option<(String, PresenceState, bool)> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match g.next_push(left).await {
            Ok(ServerFrame::Presence {
                user_id,
                state,
                last_seen_at,
            }) => return Some((user_id, state, last_seen_at.is_some())),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_starts_is_rate_limited_expires_and_stops_on_send() {
    let app = spawn_app().await;
    let (a, au) = app.user("ty_a").await;
    let (b, bu) = app.user("ty_b").await;
    let c = app.direct(&a, &bu).await;
    let ag = app.gateway(&a).await;
    let bg = app.gateway(&b).await;
    let start = ClientFrame::TypingStart {
        reference: None,
        conversation_id: c.id.clone(),
    };
    ag.request(start.clone()).await.expect("start");
    assert_eq!(next_typing(&bg, WAIT).await, Some((au.id.clone(), true)));
    // A flood of starts: each acked, none pushed again, no error.
    for _ in 0..25 {
        ag.request(start.clone())
            .await
            .expect("extra starts are ignored, not errors");
    }
    assert_eq!(
        next_typing(&bg, Duration::from_millis(500)).await,
        None,
        "no repeated pushes"
    );
    // Without renewal it expires after about 6 s.
    let began = Instant::now();
    assert_eq!(
        next_typing(&bg, Duration::from_secs(9)).await,
        Some((au.id.clone(), false))
    );
    let took = began.elapsed();
    assert!(
        took > Duration::from_secs(4) && took < Duration::from_secs(8),
        "expired after {took:?}"
    );
    // A send stops it.
    ag.request(start.clone()).await.expect("start");
    assert_eq!(next_typing(&bg, WAIT).await, Some((au.id.clone(), true)));
    ag.send_message(&c.id, "typed", "typed")
        .await
        .expect("send");
    assert_eq!(next_typing(&bg, WAIT).await, Some((au.id.clone(), false)));
    // The typist's own connections are not told.
    assert_eq!(next_typing(&ag, Duration::from_millis(200)).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_follows_devices_and_reaches_only_contacts() {
    let app = spawn_app().await;
    let (a, au) = app.user("pr_a").await;
    let (b, bu) = app.user("pr_b").await;
    let (stranger, _) = app.user("pr_s").await;
    app.direct(&a, &bu).await;
    let watcher = app.gateway(&b).await;
    let outsider = app.gateway(&stranger).await;
    assert_eq!(
        b.user(&au.id).await.expect("user").presence.state,
        PresenceState::Offline
    );
    let d1 = app.gateway(&a).await;
    assert_eq!(
        next_presence(&watcher, WAIT).await,
        Some((au.id.clone(), PresenceState::Online, false))
    );
    let d2 = app.gateway(&a).await;
    assert_eq!(
        next_presence(&watcher, Duration::from_millis(300)).await,
        None,
        "a second device changes nothing"
    );
    // One tab hidden: still online thanks to the other.
    d1.request(ClientFrame::PresenceSet {
        reference: None,
        state: PresenceState::Away,
    })
    .await
    .expect("away");
    assert_eq!(
        next_presence(&watcher, Duration::from_millis(300)).await,
        None
    );
    // The visible one closes: away, with a last-seen time.
    d2.close().await;
    assert_eq!(
        next_presence(&watcher, WAIT).await,
        Some((au.id.clone(), PresenceState::Away, true))
    );
    let seen = b.user(&au.id).await.expect("user").presence;
    assert_eq!(seen.state, PresenceState::Away);
    assert!(seen.last_seen_at.is_some());
    d1.close().await;
    assert_eq!(
        next_presence(&watcher, WAIT).await,
        Some((au.id.clone(), PresenceState::Offline, true))
    );
    let after = b.user(&au.id).await.expect("user").presence;
    assert_eq!(after.state, PresenceState::Offline);
    assert!(
        after.last_seen_at.is_some(),
        "last_seen_at survives going offline"
    );
    assert_eq!(
        next_presence(&outsider, Duration::from_millis(300)).await,
        None,
        "no push to users who share no conversation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_count_as_away() {
    let app = spawn_app_with(parley_server::config::Settings {
        rate_limits: Some("off".into()),
        presence_idle: Some(1),
        ..Default::default()
    })
    .await;
    let (a, au) = app.user("idle_a").await;
    let (b, bu) = app.user("idle_b").await;
    let c = app.direct(&a, &bu).await;
    let watcher = app.gateway(&b).await;
    let ag = app.gateway(&a).await;
    assert_eq!(
        next_presence(&watcher, WAIT).await.map(|p| p.1),
        Some(PresenceState::Online)
    );
    assert_eq!(
        next_presence(&watcher, Duration::from_secs(4)).await,
        Some((au.id.clone(), PresenceState::Away, true))
    );
    ag.request(ClientFrame::TypingStart {
        reference: None,
        conversation_id: c.id.clone(),
    })
    .await
    .expect("activity");
    assert_eq!(
        next_presence(&watcher, WAIT).await.map(|p| p.1),
        Some(PresenceState::Online)
    );
}
