//! Email digests (protocol.md §12) through real sockets, on both
//! backends, with a real SMTP server on 127.0.0.1 (`smtp.rs`) receiving
//! them. Covered: the address on `/users/me` and its refusals; one digest
//! for an offline user with unread messages older than `--email-after`,
//! with a text and an HTML part, previews only when allowed, and RFC 8058
//! one-click unsubscribe; nothing for messages read, muted, from blocked
//! senders, for `email: off` or a connected user; a conversation listed at
//! most hourly and a message never twice; 4xx from the relay retried with
//! the same `Message-ID`, 5xx not; two processes sending each digest once.

use crate::cluster::services;
use crate::helpers::*;
use crate::smtp::{Rcpt, SmtpServer};
use parley_sdk::Client;
use parley_server::config::Settings;
use serde_json::{Value, json};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(20);

fn settings(backend: &Backend, smtp: &SmtpServer, after: &str) -> Settings {
    Settings {
        rate_limits: Some("off".into()),
        database_url: backend.database_url(),
        smtp_url: Some(smtp.url.clone()),
        smtp_from: Some("Parley <chat@example.com>".into()),
        email_after: Some(after.into()),
        ..Default::default()
    }
}

async fn call(c: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let r = c.raw(method, path, body.as_deref()).await.expect("request");
    (r.status, r.json)
}

/// A user with an address.
async fn with_address(app: &TestApp, name: &str) -> (Client, parley_protocol::User, String) {
    let (c, u) = app.user(name).await;
    let address = format!("{}@example.com", u.username);
    let (code, v) = call(&c, "PATCH", "/users/me", Some(json!({"email": address}))).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["email"], address.as_str());
    (c, u, address)
}

async fn the_address_is_the_users_own(backend: Backend) {
    let smtp = SmtpServer::start(Rcpt::Accept).await;
    let app = spawn_app_with(settings(&backend, &smtp, "15m")).await;
    let (c, me) = app.user("ea_").await;
    let (code, v) = call(&c, "GET", "/users/me", None).await;
    assert_eq!(code, 200);
    assert!(
        v.get("email").is_none(),
        "no address at first: absent, the user object as §3 has it"
    );
    assert_eq!(v["id"], me.id.as_str(), "the profile is all there");
    let (code, v) = call(
        &c,
        "PATCH",
        "/users/me",
        Some(json!({"email": " Ann@Example.com "})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["email"], "Ann@Example.com", "trimmed, kept as written");
    for bad in [
        json!("not an address"),
        json!("a@b"),
        json!("x@example.com\r\nBcc: y@example.com"),
        json!(format!("{}@example.com", "a".repeat(300))),
        json!(42),
        json!(["a@example.com"]),
    ] {
        let (code, v) = call(
            &c,
            "PATCH",
            "/users/me",
            Some(json!({"email": bad, "about": "changed"})),
        )
        .await;
        assert_eq!(code, 400, "{bad}: {v}");
        assert_eq!(v["error"]["code"], "invalid_request", "{v}");
        let (_, now) = call(&c, "GET", "/users/me", None).await;
        assert_eq!(now["email"], "Ann@Example.com", "{bad} changed nothing");
        assert_ne!(now["about"], "changed", "{bad} changed nothing");
    }
    let (_, other) = app.user("eo_").await;
    let (code, v) = call(&c, "GET", &format!("/users/{}", other.id), None).await;
    assert_eq!(code, 200);
    assert!(
        v.get("email").is_none(),
        "nobody sees another's address: {v}"
    );
    let (code, v) = call(&c, "PATCH", "/users/me", Some(json!({"email": ""}))).await;
    assert_eq!(code, 200, "{v}");
    assert!(v.get("email").is_none(), "an empty string clears it");
    app.stop().await;
}

async fn an_offline_user_gets_one_digest_and_can_unsubscribe(backend: Backend) {
    let smtp = SmtpServer::start(Rcpt::Accept).await;
    let app = spawn_app_with(settings(&backend, &smtp, "1s")).await;
    let (a, alice) = app.user("da_").await;
    let (b, bob, address) = with_address(&app, "db_").await;
    let d = app.direct(&a, &bob).await;
    let (_, third) = app.user("dt_").await;
    let g = a
        .create_group("Launch <plans>", &[bob.id.clone(), third.id])
        .await
        .expect("group");
    a.send_text(&d.id, "are you there?").await.expect("send");
    a.send_text(&d.id, "ping <b>bold</b> & more")
        .await
        .expect("send");
    a.send_text(&g.id, "kickoff at 10").await.expect("send");
    let got = smtp.wait_for(&address, 1, LONG).await;
    let m = &got[0];
    assert_eq!(
        m.from, "chat@example.com",
        "the envelope sender is --smtp-from"
    );
    assert_eq!(m.subject(), "3 unread messages in 2 conversations");
    assert!(m.header("From").contains("chat@example.com"));
    assert!(
        m.header("Message-ID").contains("eml_"),
        "{}",
        m.header("Message-ID")
    );
    let types = m.content_types();
    assert!(
        types.iter().any(|t| t == "multipart/alternative")
            && types.iter().any(|t| t == "text/plain")
            && types.iter().any(|t| t == "text/html"),
        "a text and an HTML part: {types:?}"
    );
    let (text, html) = (m.text(), m.html());
    for quote in ["are you there?", "kickoff at 10"] {
        assert!(text.contains(quote), "{quote} in the text part: {text}");
        assert!(html.contains(quote), "{quote} in the HTML part");
    }
    assert!(text.contains("Launch <plans> (1 unread message)"), "{text}");
    assert!(text.contains(&format!("{} (2 unread messages)", alice.display_name)));
    assert!(html.contains("Launch &lt;plans&gt;"), "escaped: {html}");
    assert!(
        html.contains("ping &lt;b&gt;bold&lt;/b&gt; &amp; more"),
        "escaped"
    );
    assert!(!html.contains("<b>bold</b>"));
    assert_eq!(
        m.header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let unsubscribe = m.unsubscribe_url();
    assert!(
        unsubscribe.starts_with(&format!("{}/api/v1/email/unsubscribe?", app.base_url)),
        "{unsubscribe}"
    );
    assert!(text.contains(&unsubscribe), "the link in the text part too");

    // Nothing more for what was mailed, nor within the hour for a
    // conversation listed: a new message waits.
    a.send_text(&d.id, "one more").await.expect("send");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(smtp.mail_to(&address).len(), 1, "one digest per window");

    // RFC 8058: a POST with the one-click body, no session.
    let http = reqwest::Client::new();
    let page = http.get(&unsubscribe).send().await.expect("GET");
    assert_eq!(page.status(), 200);
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        page.text()
            .await
            .expect("body")
            .contains("<form method=\"post\">")
    );
    let (_, prefs) = call(&b, "GET", "/users/me/notifications", None).await;
    assert_eq!(prefs["email"], "digest", "GET alone changes nothing");
    let forged = unsubscribe.replace("token=", "token=x");
    for url in [
        forged.clone(),
        unsubscribe.replace(&bob.id, &alice.id),
        format!(
            "{}/api/v1/email/unsubscribe?user={}&token=",
            app.base_url, bob.id
        ),
    ] {
        let r = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 404, "{url}");
        let v: Value = r.json().await.expect("error JSON");
        assert_eq!(v["error"]["code"], "not_found");
    }
    let (_, prefs) = call(&b, "GET", "/users/me/notifications", None).await;
    assert_eq!(prefs["email"], "digest", "a forged link changes nothing");
    let r = http
        .post(&unsubscribe)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 200);
    let (_, prefs) = call(&b, "GET", "/users/me/notifications", None).await;
    assert_eq!(prefs["email"], "off", "one click turned digests off");
    app.stop().await;
}

async fn nothing_for_read_muted_blocked_off_or_connected(backend: Backend) {
    let smtp = SmtpServer::start(Rcpt::Accept).await;
    let app = spawn_app_with(settings(&backend, &smtp, "2s")).await;
    let (a, alice) = app.user("ns_").await;
    let (reader, reader_u, reader_at) = with_address(&app, "nr_").await;
    let (muter, muter_u, muter_at) = with_address(&app, "nm_").await;
    let (blocker, blocker_u, blocker_at) = with_address(&app, "nb_").await;
    let (off, off_u, off_at) = with_address(&app, "no_").await;
    let (online, online_u, online_at) = with_address(&app, "nc_").await;
    let (_, control_u, control_at) = with_address(&app, "nx_").await;
    let _gateway = app.gateway(&online).await;
    let (code, _) = call(
        &off,
        "PATCH",
        "/users/me/notifications",
        Some(json!({"email": "off"})),
    )
    .await;
    assert_eq!(code, 200);
    let mut convs = Vec::new();
    for u in [&reader_u, &muter_u, &off_u, &online_u, &control_u] {
        convs.push(app.direct(&a, u).await.id);
    }
    // A group from before the block, where the sender can still post.
    let (_, third) = app.user("nt_").await;
    let blocked_group = a
        .create_group("with a blocker", &[blocker_u.id.clone(), third.id])
        .await
        .expect("group")
        .id;
    blocker.block(&alice.id).await.expect("block");
    let until = parley_protocol::Timestamp(parley_protocol::Timestamp::now().millis() + 3_600_000);
    muter.mute(&convs[1], Some(until)).await.expect("mute");
    let mut sent = Vec::new();
    for conv in &convs {
        sent.push(a.send_text(conv, "unread text").await.expect("send"));
    }
    a.send_text(&blocked_group, "from a blocked sender")
        .await
        .expect("send");
    reader
        .mark_read(&convs[0], sent[0].seq as i64)
        .await
        .expect("read");

    // The control recipient's digest shows the pipeline works; the others
    // get the same time and more scans.
    smtp.wait_for(&control_at, 1, LONG).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (who, at) in [
        ("read before the threshold", &reader_at),
        ("muted", &muter_at),
        ("email off", &off_at),
        ("connected", &online_at),
        ("only a blocked sender wrote", &blocker_at),
    ] {
        assert!(smtp.mail_to(at).is_empty(), "no digest when {who}");
    }
    app.stop().await;
}

async fn previews_off_keeps_the_text_out(backend: Backend) {
    let smtp = SmtpServer::start(Rcpt::Accept).await;
    let app = spawn_app_with(settings(&backend, &smtp, "1s")).await;
    let (a, _) = app.user("pa_").await;
    let (b, bob, address) = with_address(&app, "pb_").await;
    let (code, _) = call(
        &b,
        "PATCH",
        "/users/me/notifications",
        Some(json!({"previews": false})),
    )
    .await;
    assert_eq!(code, 200);
    let d = app.direct(&a, &bob).await;
    a.send_text(&d.id, "the launch code is 1234")
        .await
        .expect("send");
    let got = smtp.wait_for(&address, 1, LONG).await;
    assert!(
        got[0].text().contains("1 unread message"),
        "{}",
        got[0].text()
    );
    for part in [got[0].text(), got[0].html(), got[0].subject()] {
        assert!(!part.contains("1234"), "no message text: {part}");
    }
    app.stop().await;
}

async fn relay_failures_are_retried_only_when_temporary(backend: Backend) {
    let smtp = SmtpServer::start(Rcpt::Accept).await;
    smtp.script(&[Rcpt::Transient]);
    let app = spawn_app_with(settings(&backend, &smtp, "1s")).await;
    let (a, _) = app.user("ra_").await;
    let (_, bob, address) = with_address(&app, "rb_").await;
    let d = app.direct(&a, &bob).await;
    a.send_text(&d.id, "try again").await.expect("send");
    // The first attempt is refused with 451; the retry comes 5 s later.
    let got = smtp.wait_for(&address, 1, LONG).await;
    assert_eq!(smtp.attempts(), 2, "one refused attempt, one accepted");
    let id = got[0].header("Message-ID");
    assert!(id.contains("eml_"));

    // A permanent refusal is not retried.
    smtp.script(&[Rcpt::Permanent]);
    let (_, carol, carol_at) = with_address(&app, "rc_").await;
    let d = app.direct(&a, &carol).await;
    a.send_text(&d.id, "never").await.expect("send");
    let deadline = tokio::time::Instant::now() + LONG;
    while smtp.attempts() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the attempt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(smtp.attempts(), 3, "550 is final");
    assert!(smtp.mail_to(&carol_at).is_empty());
    app.stop().await;
}

on_both_backends!(
    the_address_is_the_users_own,
    an_offline_user_gets_one_digest_and_can_unsubscribe,
    nothing_for_read_muted_blocked_off_or_connected,
    previews_off_keeps_the_text_out,
    relay_failures_are_retried_only_when_temporary,
);

/// Two processes on one PostgreSQL database and Redis, both scanning and
/// sending: each user gets one digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_send_each_digest_once() {
    let Some(svc) = services().await else {
        return;
    };
    let smtp = SmtpServer::start(Rcpt::Accept).await;
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let args = [
        "--smtp-url",
        smtp.url.as_str(),
        "--smtp-from",
        "chat@example.com",
        "--email-after",
        "1s",
    ];
    let a = svc.node_with_args(da.path(), &svc.redis_url, &args);
    let b = svc.node_with_args(db.path(), &svc.redis_url, &args);
    let sender = Client::new(&a.base_url).expect("client");
    let s = sender
        .register(&unique("d2_s"), PASSWORD, None)
        .await
        .expect("register");
    let mut addresses = Vec::new();
    for i in 0..10 {
        let base = if i % 2 == 0 { &a.base_url } else { &b.base_url };
        let c = Client::new(base).expect("client");
        let u = c
            .register(&unique("d2_r"), PASSWORD, None)
            .await
            .expect("register")
            .user;
        let address = format!("{}@example.com", u.username);
        let (code, _) = call(&c, "PATCH", "/users/me", Some(json!({"email": address}))).await;
        assert_eq!(code, 200);
        let d = sender.create_direct(&u.id).await.expect("direct").0;
        sender.send_text(&d.id, "hello").await.expect("send");
        addresses.push(address);
    }
    let _ = s;
    for at in &addresses {
        smtp.wait_for(at, 1, LONG).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for at in &addresses {
        assert_eq!(smtp.mail_to(at).len(), 1, "{at}: one digest");
    }
}
