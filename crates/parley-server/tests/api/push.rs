//! Web Push (protocol.md §12) through real sockets, on both backends. The
//! push service is a real HTTP server on 127.0.0.1 (`receiver.rs`) and
//! the test plays the browser: it holds the subscription's P-256 key and
//! auth secret, decrypts every push (RFC 8291 aes128gcm) and verifies its
//! VAPID header (an ES256 JWT checked with the server's public key).
//! Covered: the subscription API and its refusals; a push within 2 s for
//! a recipient without an online connection, held for one who is online,
//! and never once read; mute, `push: off`, `mentions`, blocked senders,
//! previews off; pushes pending together merged into one for the newest;
//! 404/410 removing the subscription, 429/5xx retried at most twice with
//! `Retry-After`, other 4xx dropped; `kill -9` with a push in flight; two
//! processes sending each push once.

use crate::cluster::services;
use crate::helpers::*;
use crate::receiver::{Received, Receiver, Reply};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use parley_sdk::Client;
use parley_server::config::Settings;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(20);

fn settings(backend: &Backend, hold: &str) -> Settings {
    Settings {
        rate_limits: Some("off".into()),
        database_url: backend.database_url(),
        outbound_allow_hosts: Some(vec!["127.0.0.1".into()]),
        outbound_timeout: Some("1s".into()),
        push_hold: Some(hold.into()),
        ..Default::default()
    }
}

async fn call(c: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let r = c.raw(method, path, body.as_deref()).await.expect("request");
    (r.status, r.json)
}

/// A browser's push subscription: its keys, and the push service it
/// points at.
struct Device {
    secret: p256::SecretKey,
    auth: [u8; 16],
    rx: Receiver,
}

impl Device {
    async fn new(reply: Reply) -> Device {
        let mut seed = [0u8; 32];
        rand_bytes(&mut seed);
        let secret = p256::SecretKey::from_slice(&seed).expect("scalar");
        let mut auth = [0u8; 16];
        rand_bytes(&mut auth);
        Device {
            secret,
            auth,
            rx: Receiver::start(reply).await,
        }
    }

    fn endpoint(&self) -> String {
        format!("{}/push/v1/abc", self.rx.url)
    }

    fn subscription(&self) -> Value {
        let p256dh =
            URL_SAFE_NO_PAD.encode(self.secret.public_key().to_encoded_point(false).as_bytes());
        json!({
            "endpoint": self.endpoint(),
            "expirationTime": null,
            "keys": {"p256dh": p256dh, "auth": URL_SAFE_NO_PAD.encode(self.auth)},
        })
    }

    async fn subscribe(&self, c: &Client) -> Value {
        let (code, v) = call(c, "POST", "/push/subscriptions", Some(self.subscription())).await;
        assert!(code == 201 || code == 200, "{code} {v}");
        v
    }

    /// The plaintext of a push, decrypted with this device's keys.
    fn open(&self, r: &Received) -> Value {
        let plain = web_push_native::decrypt(
            r.body.to_vec(),
            &self.secret,
            &web_push_native::Auth::from(self.auth),
        )
        .expect("an aes128gcm body for this subscription");
        assert!(plain.len() <= 3072, "at most 3 KiB");
        serde_json::from_slice(&plain).expect("JSON")
    }

    fn pushes(&self) -> Vec<Received> {
        self.rx.got()
    }

    async fn wait_pushes(&self, n: usize, what: &str) -> Vec<Received> {
        self.rx.wait_until(LONG, what, |g| g.len() >= n).await
    }
}

fn rand_bytes(buf: &mut [u8]) {
    use rand::RngCore;
    rand::rng().fill_bytes(buf);
}

/// Checks `Authorization: vapid t=JWT, k=KEY` against the server's key
/// and the push service's origin.
fn check_vapid(r: &Received, public_key: &str, origin: &str) {
    let header = r.header("authorization");
    let rest = header.strip_prefix("vapid t=").expect("vapid scheme");
    let (token, k) = rest.split_once(", k=").expect("k");
    assert_eq!(k, public_key, "k is GET /push/vapid-public-key");
    let (signed, sig) = token.rsplit_once('.').expect("a JWT");
    let (head, claims) = signed.split_once('.').expect("a JWT");
    let head: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).expect("b64")).expect("json");
    assert_eq!(head["alg"], "ES256");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("b64")).expect("json");
    assert_eq!(claims["aud"], origin, "aud is the endpoint's origin");
    let now = parley_protocol::Timestamp::now().millis() / 1000;
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(
        exp > now && exp <= now + 24 * 3600,
        "exp within 24 h: {exp}"
    );
    let sub = claims["sub"].as_str().expect("sub");
    assert!(
        sub.starts_with("mailto:") || sub.starts_with("https:"),
        "{sub}"
    );
    let key = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).expect("b64")).expect("key");
    let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).expect("b64")).expect("sig");
    key.verify(signed.as_bytes(), &sig)
        .expect("signed by the server's VAPID key");
}

fn origin(rx: &Receiver) -> String {
    let u = url::Url::parse(&rx.url).expect("url");
    u.origin().ascii_serialization()
}

async fn vapid_key(c: &Client) -> String {
    let (code, v) = call(c, "GET", "/push/vapid-public-key", None).await;
    assert_eq!(code, 200, "{v}");
    v["public_key"].as_str().expect("public_key").to_string()
}

async fn subscriptions_are_checked_and_owned(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "30s")).await;
    let (a, _) = app.user("pa").await;
    let (b, _) = app.user("pb").await;

    let key = vapid_key(&a).await;
    let raw = URL_SAFE_NO_PAD
        .decode(&key)
        .expect("base64url without padding");
    assert_eq!((raw.len(), raw[0]), (65, 4), "an uncompressed P-256 point");
    assert!(VerifyingKey::from_sec1_bytes(&raw).is_ok());
    assert_eq!(vapid_key(&b).await, key, "one key for everyone");
    let anon = app.client();
    let (code, _) = call(&anon, "GET", "/push/vapid-public-key", None).await;
    assert_eq!(code, 401);
    let (code, _) = call(&anon, "GET", "/push/subscriptions", None).await;
    assert_eq!(code, 401);

    let d = Device::new(Reply::Status(201)).await;
    let (code, v) = call(&a, "POST", "/push/subscriptions", Some(d.subscription())).await;
    assert_eq!(code, 201, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    assert_eq!(v["endpoint"], d.endpoint());
    assert!(v["created_at"].is_string());
    assert!(v.get("keys").is_none(), "keys are never shown back");
    let (code, again) = call(&a, "POST", "/push/subscriptions", Some(d.subscription())).await;
    assert_eq!((code, again["id"].as_str()), (200, Some(id.as_str())));
    // The same endpoint by another user: the same id, now theirs.
    let (code, moved) = call(&b, "POST", "/push/subscriptions", Some(d.subscription())).await;
    assert_eq!((code, moved["id"].as_str()), (200, Some(id.as_str())));
    let (_, mine) = call(&a, "GET", "/push/subscriptions", None).await;
    assert_eq!(mine["subscriptions"], json!([]), "{mine}");
    let (_, theirs) = call(&b, "GET", "/push/subscriptions", None).await;
    assert_eq!(theirs["subscriptions"][0]["id"], id.as_str());
    assert_eq!(theirs["subscriptions"].as_array().map(Vec::len), Some(1));

    let good = d.subscription();
    let with = |path: &[&str], value: Value| {
        let mut v = good.clone();
        match path {
            [k] => v[*k] = value,
            [k, j] => v[*k][*j] = value,
            _ => unreachable!(),
        }
        v
    };
    let compressed =
        URL_SAFE_NO_PAD.encode(d.secret.public_key().to_encoded_point(true).as_bytes());
    let mut off_curve = vec![4u8];
    off_curve.extend([7u8; 64]);
    for (body, field) in [
        (with(&["endpoint"], json!("not a url")), "endpoint"),
        (
            with(&["endpoint"], json!("ftp://push.example.com/x")),
            "endpoint",
        ),
        (
            with(&["endpoint"], json!("http://push.example.com/x")),
            "endpoint",
        ),
        (with(&["endpoint"], json!("https://10.1.2.3/x")), "endpoint"),
        (
            with(&["endpoint"], json!("https://169.254.169.254/x")),
            "endpoint",
        ),
        (
            with(
                &["endpoint"],
                json!(format!("https://e.example/{}", "x".repeat(2100))),
            ),
            "endpoint",
        ),
        (with(&["keys", "p256dh"], json!(compressed)), "keys.p256dh"),
        (
            with(
                &["keys", "p256dh"],
                json!(URL_SAFE_NO_PAD.encode(off_curve)),
            ),
            "keys.p256dh",
        ),
        (with(&["keys", "p256dh"], json!("%%%")), "keys.p256dh"),
        (
            with(&["keys", "auth"], json!(URL_SAFE_NO_PAD.encode([1u8; 15]))),
            "keys.auth",
        ),
        (
            with(&["keys", "auth"], json!(URL_SAFE_NO_PAD.encode([1u8; 17]))),
            "keys.auth",
        ),
    ] {
        let (code, v) = call(&a, "POST", "/push/subscriptions", Some(body.clone())).await;
        assert_eq!(
            (
                code,
                v["error"]["code"].as_str(),
                v["error"]["details"]["field"].as_str()
            ),
            (400, Some("invalid_request"), Some(field)),
            "{body}: {v}"
        );
    }
    for body in [
        json!({"endpoint": d.endpoint()}),
        json!({"keys": good["keys"]}),
        json!([1]),
    ] {
        let (code, v) = call(&a, "POST", "/push/subscriptions", Some(body)).await;
        assert_eq!(
            (code, v["error"]["code"].as_str()),
            (400, Some("invalid_request")),
            "{v}"
        );
    }
    let (_, mine) = call(&a, "GET", "/push/subscriptions", None).await;
    assert_eq!(mine["subscriptions"], json!([]), "refusals change nothing");

    // Deleting: only one's own.
    let (code, v) = call(
        &a,
        "DELETE",
        "/push/subscriptions",
        Some(json!({"endpoint": d.endpoint()})),
    )
    .await;
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (code, _) = call(
        &b,
        "DELETE",
        "/push/subscriptions",
        Some(json!({"endpoint": d.endpoint()})),
    )
    .await;
    assert_eq!(code, 204);
    let (_, theirs) = call(&b, "GET", "/push/subscriptions", None).await;
    assert_eq!(theirs["subscriptions"], json!([]));
    let (code, _) = call(
        &b,
        "DELETE",
        "/push/subscriptions",
        Some(json!({"endpoint": d.endpoint()})),
    )
    .await;
    assert_eq!(code, 404, "gone");

    // At most 20 per user: the oldest goes.
    let mut devices = Vec::new();
    for _ in 0..21 {
        let dev = Device::new(Reply::Status(201)).await;
        dev.subscribe(&a).await;
        devices.push(dev);
    }
    let (_, mine) = call(&a, "GET", "/push/subscriptions", None).await;
    let list = mine["subscriptions"].as_array().expect("list");
    assert_eq!(list.len(), 20);
    assert!(
        list.iter()
            .all(|s| s["endpoint"] != devices[0].endpoint().as_str()),
        "the oldest was dropped"
    );
}

async fn an_offline_recipient_gets_the_push_at_once(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "30s")).await;
    let (a, alice) = app.user("po_a").await;
    let (b, bob) = app.user("po_b").await;
    let key = vapid_key(&b).await;
    let phone = Device::new(Reply::Status(201)).await;
    let laptop = Device::new(Reply::Status(201)).await;
    phone.subscribe(&b).await;
    laptop.subscribe(&b).await;
    let own = Device::new(Reply::Status(201)).await;
    own.subscribe(&a).await;
    let d = app.direct(&a, &bob).await;
    let sent_at = Instant::now();
    let m = a.send_text(&d.id, "hello bob").await.expect("send");
    let got = phone.wait_pushes(1, "the push").await;
    assert!(
        got[0].at.duration_since(sent_at) < Duration::from_secs(2),
        "within 2 s: {:?}",
        got[0].at.duration_since(sent_at)
    );
    laptop.wait_pushes(1, "every device").await;
    let r = &got[0];
    assert_eq!(r.header("content-encoding"), "aes128gcm");
    assert_eq!(r.header("ttl"), "86400");
    assert_eq!(r.header("urgency"), "high", "direct conversations are high");
    let topic = r.header("topic");
    assert!(!topic.is_empty() && topic.len() <= 32, "{topic}");
    assert!(
        topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    check_vapid(r, &key, &origin(&phone.rx));
    let p = phone.open(r);
    assert_eq!(
        p,
        json!({
            "type": "message",
            "conversation_id": d.id,
            "message_id": m.id,
            "seq": m.seq,
            "title": alice.display_name,
            "sender_id": alice.id,
            "sender_name": alice.display_name,
            "preview": "hello bob",
            "unread_count": 1,
        })
    );
    // A second message: a second push, the same Topic, the count grows.
    let long = "é".repeat(300);
    a.send_text(&d.id, &long).await.expect("send");
    let got = phone.wait_pushes(2, "the second push").await;
    assert_eq!(got[1].header("topic"), topic, "one Topic per conversation");
    let p = phone.open(&got[1]);
    assert_eq!(p["unread_count"], 2);
    assert_eq!(
        p["preview"].as_str().map(|t| t.chars().count()),
        Some(200),
        "the first 200 characters"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(own.pushes().is_empty(), "never to the sender");
    assert_eq!(phone.pushes().len(), 2, "nothing more");
}

async fn an_online_recipient_is_held_and_a_read_drops_the_push(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "2s")).await;
    let (a, _) = app.user("ph_a").await;
    let (b, bob) = app.user("ph_b").await;
    let dev = Device::new(Reply::Status(201)).await;
    dev.subscribe(&b).await;
    let d = app.direct(&a, &bob).await;
    let _live = app.gateway(&b).await;

    // Unread: it leaves after the hold.
    let sent_at = Instant::now();
    a.send_text(&d.id, "are you there?").await.expect("send");
    let got = dev.wait_pushes(1, "the held push").await;
    let waited = got[0].at.duration_since(sent_at);
    assert!(
        waited >= Duration::from_millis(1900),
        "held for the hold delay: {waited:?}"
    );
    assert_eq!(dev.open(&got[0])["preview"], "are you there?");

    // Read before the hold ends (on any device): never sent. (The read
    // also covers the message shown above: that one is closed.)
    let m = a.send_text(&d.id, "read me").await.expect("send");
    b.mark_read(&d.id, m.seq as i64).await.expect("read");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let got = dev.pushes();
    assert_eq!(got.len(), 2, "a message read in time is not pushed");
    assert_eq!(
        dev.open(&got[1])["type"],
        "read",
        "only the update closing the earlier one"
    );

    // Pending together: merged into one push, for the newest.
    for t in ["one", "two", "three"] {
        a.send_text(&d.id, t).await.expect("send");
    }
    let got = dev.wait_pushes(3, "the merged push").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(dev.pushes().len(), 3, "three messages, one push");
    let p = dev.open(&got[2]);
    assert_eq!(p["preview"], "three", "for the newest");
    assert_eq!(p["unread_count"], 3);
}

async fn preferences_mute_and_blocks_are_obeyed(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "30s")).await;
    let (a, alice) = app.user("pp_a").await;
    let (b, bob) = app.user("pp_b").await;
    let (c, carol) = app.user("pp_c").await;
    let (e, erin) = app.user("pp_e").await;
    let (db, dc, de) = (
        Device::new(Reply::Status(201)).await,
        Device::new(Reply::Status(201)).await,
        Device::new(Reply::Status(201)).await,
    );
    db.subscribe(&b).await;
    dc.subscribe(&c).await;
    de.subscribe(&e).await;
    let g = a
        .create_group(
            "prefs",
            &[bob.id.clone(), carol.id.clone(), erin.id.clone()],
        )
        .await
        .expect("group");

    // Bob mutes the group, Carol wants mentions only, Erin blocks Alice.
    let until = parley_protocol::Timestamp(parley_protocol::Timestamp::now().millis() + 3_600_000);
    b.mute(&g.id, Some(until)).await.expect("mute");
    let (code, _) = call(
        &c,
        "PATCH",
        "/users/me/notifications",
        Some(json!({"push": "mentions", "previews": false})),
    )
    .await;
    assert_eq!(code, 200);
    e.block(&alice.id).await.expect("block");
    a.send_text(&g.id, "group news").await.expect("send");
    // Carol still hears a direct message, without its text.
    let dm = app.direct(&a, &carol).await;
    a.send_text(&dm.id, "secret words").await.expect("send");
    let got = dc.wait_pushes(1, "carol's direct push").await;
    let plain = web_push_native::decrypt(
        got[0].body.to_vec(),
        &dc.secret,
        &web_push_native::Auth::from(dc.auth),
    )
    .expect("decrypts");
    let text = String::from_utf8(plain).expect("utf-8");
    assert!(
        !text.contains("secret words"),
        "no text with previews off: {text}"
    );
    let p: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(p["preview"], Value::Null);
    assert_eq!(p["conversation_id"], dm.id.as_str());
    // And a push that does leave, to bound the wait for the ones that
    // must not: Bob's direct conversation is not muted.
    let dmb = app.direct(&a, &bob).await;
    a.send_text(&dmb.id, "to bob").await.expect("send");
    db.wait_pushes(1, "bob's direct push").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let bob_got = db.pushes();
    assert_eq!(bob_got.len(), 1, "nothing for the muted group");
    assert_eq!(db.open(&bob_got[0])["conversation_id"], dmb.id.as_str());
    assert_eq!(
        dc.pushes().len(),
        1,
        "mentions only: not a group message without one"
    );
    assert!(de.pushes().is_empty(), "never from a blocked sender");

    // Unmuted and `push: off`.
    b.mute(&g.id, None).await.expect("unmute");
    let (code, _) = call(
        &b,
        "PATCH",
        "/users/me/notifications",
        Some(json!({"push": "off"})),
    )
    .await;
    assert_eq!(code, 200);
    a.send_text(&dmb.id, "off now").await.expect("send");
    // Preferences are read when a push would leave: wait past that.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(db.pushes().len(), 1, "nothing while off");
    let (code, _) = call(
        &b,
        "PATCH",
        "/users/me/notifications",
        Some(json!({"push": "all"})),
    )
    .await;
    assert_eq!(code, 200);
    let _ = erin;
    a.send_text(&g.id, "all again").await.expect("send");
    let got = db.wait_pushes(2, "bob's push after all").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(db.pushes().len(), 2, "one push once on again");
    let p = db.open(&got[1]);
    assert_eq!(p["preview"], "all again");
    assert_eq!(p["title"], "prefs", "a group's title");
    assert_eq!(
        got[1].header("urgency"),
        "normal",
        "a group message without a mention"
    );
}

async fn push_service_answers_are_applied(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "30s")).await;
    let (a, _) = app.user("pr_a").await;
    let (b, bob) = app.user("pr_b").await;
    let d = app.direct(&a, &bob).await;

    // 410: the subscription is gone after the first try.
    let gone = Device::new(Reply::Status(410)).await;
    gone.subscribe(&b).await;
    a.send_text(&d.id, "one").await.expect("send");
    gone.wait_pushes(1, "the 410").await;
    let list = async |c: &Client| {
        let (_, v) = call(c, "GET", "/push/subscriptions", None).await;
        v["subscriptions"].as_array().map(Vec::len).unwrap_or(99)
    };
    let deadline = Instant::now() + LONG;
    while list(&b).await != 0 {
        assert!(Instant::now() < deadline, "a 410 deletes the subscription");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.send_text(&d.id, "two").await.expect("send");

    // 503 with Retry-After: retried, at most twice.
    let busy = Device::new(Reply::Later(503, 1)).await;
    busy.subscribe(&b).await;
    a.send_text(&d.id, "three").await.expect("send");
    let got = busy.wait_pushes(3, "three attempts").await;
    assert!(
        got[1].at.duration_since(got[0].at) >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(busy.pushes().len(), 3, "at most two retries");
    assert_eq!(
        gone.pushes().len(),
        1,
        "nothing more to a gone subscription"
    );
    assert_eq!(list(&b).await, 1, "a 5xx keeps the subscription");

    // 429 then success: delivered on the retry.
    busy.rx.script(&[Reply::Later(429, 1)]);
    busy.rx.set_default(Reply::Status(201));
    a.send_text(&d.id, "four").await.expect("send");
    let got = busy.wait_pushes(5, "the retry").await;
    assert_eq!(busy.open(&got[4])["preview"], "four");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(busy.pushes().len(), 5, "delivered: not repeated");

    // Another 4xx: dropped, not retried, the subscription stays.
    busy.rx.set_default(Reply::Status(400));
    a.send_text(&d.id, "five").await.expect("send");
    busy.wait_pushes(6, "the 400").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(busy.pushes().len(), 6);
    assert_eq!(list(&b).await, 1);
}

const GATEWAY_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The push gateway for native apps: registrations listed alongside,
/// notifications `POST`ed as signed `{platform, token, notification}`, a
/// `410` or a `rejected` entry deleting the registration.
async fn the_push_gateway_gets_signed_notifications(backend: Backend) {
    // Without a gateway configured, a registration is refused.
    let plain = spawn_app_with(settings(&backend, "30s")).await;
    let (u, _) = plain.user("pg_x").await;
    let device = json!({"gateway": {"platform": "fcm", "token": "tok-a"}});
    let (code, v) = call(&u, "POST", "/push/subscriptions", Some(device.clone())).await;
    assert_eq!(
        (code, v["error"]["details"]["field"].as_str()),
        (400, Some("gateway")),
        "{v}"
    );
    plain.stop().await;

    let gw = Receiver::start(Reply::Status(200)).await;
    let app = spawn_app_with(Settings {
        push_gateway_url: Some(gw.url.clone()),
        push_gateway_secret: Some(GATEWAY_SECRET.into()),
        ..settings(&backend, "30s")
    })
    .await;
    let (a, alice) = app.user("pg_a").await;
    let (b, bob) = app.user("pg_b").await;
    for (body, field) in [
        (
            json!({"gateway": {"platform": "gcm", "token": "t"}}),
            "gateway.platform",
        ),
        (
            json!({"gateway": {"platform": "fcm", "token": ""}}),
            "gateway.token",
        ),
        (
            json!({"gateway": {"platform": "fcm", "token": "t"}, "endpoint": "https://x.example/p"}),
            "gateway",
        ),
        (json!({}), "endpoint"),
    ] {
        let (code, v) = call(&b, "POST", "/push/subscriptions", Some(body.clone())).await;
        assert_eq!(code, 400, "{body}: {v}");
        assert_eq!(v["error"]["code"], "invalid_request");
        let got = v["error"]["details"]["field"].as_str().unwrap_or_default();
        assert!(
            got.starts_with(field.split('.').next().unwrap_or(field)),
            "{body}: {v}"
        );
    }
    let (code, reg) = call(&b, "POST", "/push/subscriptions", Some(device.clone())).await;
    assert_eq!(code, 201, "{reg}");
    assert_eq!(reg["gateway"], json!({"platform": "fcm", "token": "tok-a"}));
    assert!(reg.get("endpoint").is_none(), "{reg}");
    let (code, again) = call(&b, "POST", "/push/subscriptions", Some(device.clone())).await;
    assert_eq!((code, &again["id"]), (200, &reg["id"]));
    let browser = Device::new(Reply::Status(201)).await;
    browser.subscribe(&b).await;
    let (_, list) = call(&b, "GET", "/push/subscriptions", None).await;
    assert_eq!(
        list["subscriptions"].as_array().map(Vec::len),
        Some(2),
        "listed alongside"
    );

    let d = app.direct(&a, &bob).await;
    let m = a.send_text(&d.id, "native hello").await.expect("send");
    let got = gw
        .wait_until(LONG, "the gateway's notification", |g| !g.is_empty())
        .await;
    browser.wait_pushes(1, "the browser's push too").await;
    let r = &got[0];
    assert!(
        crate::webhooks::signed_by(GATEWAY_SECRET, r),
        "signed with the gateway secret"
    );
    assert!(r.header("content-type").starts_with("application/json"));
    let body = r.json();
    assert_eq!(body["platform"], "fcm");
    assert_eq!(body["token"], "tok-a");
    assert_eq!(
        body["notification"],
        json!({
            "type": "message",
            "conversation_id": d.id,
            "message_id": m.id,
            "seq": m.seq,
            "title": alice.display_name,
            "sender_id": alice.id,
            "sender_name": alice.display_name,
            "preview": "native hello",
            "unread_count": 1,
        })
    );

    // A `rejected` answer unsubscribes the device; so does a 410; and
    // its owner can delete it.
    let gone_after = async |b: &Client| {
        let deadline = Instant::now() + LONG;
        loop {
            let (_, list) = call(b, "GET", "/push/subscriptions", None).await;
            let gateways = list["subscriptions"]
                .as_array()
                .map(|l| l.iter().filter(|s| s.get("gateway").is_some()).count())
                .unwrap_or(99);
            if gateways == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the registration is deleted: {list}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (code, _) = call(
        &b,
        "POST",
        "/push/subscriptions",
        Some(json!({"gateway": {"platform": "fcm", "token": "tok-c"}})),
    )
    .await;
    assert_eq!(code, 201);
    // Every answer names tok-c (each request carries one device): only
    // the request for tok-c unsubscribes anything.
    gw.set_default(Reply::Json(200, r#"{"rejected":["tok-c"]}"#));
    a.send_text(&d.id, "rejected").await.expect("send");
    gw.wait_until(LONG, "the rejection", |g| g.len() >= 3).await;
    // tok-a is still there: only the rejected one goes.
    let deadline = Instant::now() + LONG;
    loop {
        let (_, list) = call(&b, "GET", "/push/subscriptions", None).await;
        let tokens: Vec<&str> = list["subscriptions"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|s| s["gateway"]["token"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if tokens == ["tok-a"] {
            break;
        }
        assert!(Instant::now() < deadline, "rejected: deleted, {tokens:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, _) = call(
        &b,
        "DELETE",
        "/push/subscriptions",
        Some(json!({"gateway": {"platform": "fcm", "token": "tok-a"}})),
    )
    .await;
    assert_eq!(code, 204);
    let (_, list) = call(&b, "GET", "/push/subscriptions", None).await;
    assert_eq!(list["subscriptions"].as_array().map(Vec::len), Some(1));
    gw.set_default(Reply::Status(410));
    let (code, _) = call(
        &b,
        "POST",
        "/push/subscriptions",
        Some(json!({"gateway": {"platform": "apns", "token": "tok-b"}})),
    )
    .await;
    assert_eq!(code, 201);
    a.send_text(&d.id, "again").await.expect("send");
    gw.wait_until(LONG, "the 410", |g| g.len() >= 4).await;
    gone_after(&b).await;
}

/// Beyond §12: a read on one device sends a silent update to the devices
/// that were shown a notification for the conversation, so they close it;
/// never to a device that was shown none, never for a read that moves
/// nothing.
async fn a_read_elsewhere_closes_the_notification(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "30s")).await;
    let (a, _) = app.user("pr_a").await;
    let (b, bob) = app.user("pr_b").await;
    let key = vapid_key(&b).await;
    let phone = Device::new(Reply::Status(201)).await;
    phone.subscribe(&b).await;
    let d = app.direct(&a, &bob).await;
    let m = a.send_text(&d.id, "are you there?").await.expect("send");
    let shown = phone.wait_pushes(1, "the notification").await;
    assert_eq!(phone.open(&shown[0])["type"], "message");
    // Read on the laptop.
    b.mark_read(&d.id, m.seq as i64).await.expect("read");
    let got = phone.wait_pushes(2, "the silent update").await;
    let r = &got[1];
    assert_eq!(
        phone.open(r),
        json!({"type": "read", "conversation_id": d.id, "read_seq": m.seq})
    );
    assert_eq!(
        r.header("topic"),
        shown[0].header("topic"),
        "the same Topic: a push service still holding the message push replaces it"
    );
    check_vapid(r, &key, &origin(&phone.rx));
    // Reading again moves nothing; a conversation whose pushes were all
    // dropped (muted) was shown nothing: no update for either.
    b.mark_read(&d.id, m.seq as i64).await.expect("read again");
    let e = a
        .create_group("muted here", &[bob.id.clone(), app.user("pr_c").await.1.id])
        .await
        .expect("group");
    let until = parley_protocol::Timestamp(parley_protocol::Timestamp::now().millis() + 3_600_000);
    b.mute(&e.id, Some(until)).await.expect("mute");
    let muted = a.send_text(&e.id, "quiet").await.expect("send");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    b.mark_read(&e.id, muted.seq as i64).await.expect("read");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(phone.pushes().len(), 2, "nothing more");
    app.stop().await;
}

/// Do not disturb: while paused, or within the quiet hours, a message
/// pushes nothing (not later either); once cleared, pushes flow again.
async fn do_not_disturb_holds_pushes_back(backend: Backend) {
    let app = spawn_app_with(settings(&backend, "30s")).await;
    let (a, _) = app.user("pd_a").await;
    let (b, bob) = app.user("pd_b").await;
    let dev = Device::new(Reply::Status(201)).await;
    dev.subscribe(&b).await;
    let d = app.direct(&a, &bob).await;
    let prefs = |body: Value| {
        let b = b.clone();
        async move {
            let (code, v) = call(&b, "PATCH", "/users/me/notifications", Some(body)).await;
            assert_eq!(code, 200, "{v}");
        }
    };
    let now = parley_protocol::Timestamp::now().millis();
    prefs(json!({"dnd_until": parley_protocol::Timestamp(now + 3_600_000)})).await;
    a.send_text(&d.id, "paused").await.expect("send");
    // Quiet hours around now, in UTC.
    let hhmm = |ms: i64| {
        let t = parley_protocol::Timestamp(ms).to_string();
        t[11..16].to_string()
    };
    prefs(json!({"dnd_until": null,
                 "quiet_hours": {"from": hhmm(now - 3_600_000), "to": hhmm(now + 3_600_000), "time_zone": "UTC"}}))
    .await;
    a.send_text(&d.id, "quiet").await.expect("send");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        dev.pushes().is_empty(),
        "nothing while do not disturb holds"
    );
    prefs(json!({"quiet_hours": null})).await;
    a.send_text(&d.id, "back").await.expect("send");
    let got = dev.wait_pushes(1, "the push after").await;
    assert_eq!(dev.open(&got[0])["preview"], "back");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(dev.pushes().len(), 1, "the held-back ones never follow");
}

on_both_backends!(
    do_not_disturb_holds_pushes_back,
    a_read_elsewhere_closes_the_notification,
    subscriptions_are_checked_and_owned,
    the_push_gateway_gets_signed_notifications,
    an_offline_recipient_gets_the_push_at_once,
    an_online_recipient_is_held_and_a_read_drops_the_push,
    preferences_mute_and_blocks_are_obeyed,
    push_service_answers_are_applied,
);

fn process_args() -> Vec<String> {
    [
        "--outbound-allow-hosts",
        "127.0.0.1",
        "--outbound-timeout",
        "1s",
    ]
    .map(str::to_string)
    .to_vec()
}

async fn registered(base_url: &str, name: &str) -> (Client, parley_protocol::User) {
    let c = Client::new(base_url).expect("client");
    let auth = c
        .register(&unique(name), PASSWORD, None)
        .await
        .expect("register");
    (c, auth.user)
}

/// A push in flight when the process is killed (no shutdown path runs)
/// is sent after the restart; the VAPID key survives it.
async fn kill_9_loses_no_push(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let mut args = process_args();
    if let Some(url) = backend.database_url() {
        args.extend(["--database-url".to_string(), url]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = ServerProcess::start(dir.path(), &args);
    let (a, _) = registered(&node.base_url, "pk_a").await;
    let (b, bob) = registered(&node.base_url, "pk_b").await;
    let key = vapid_key(&b).await;
    let dev = Device::new(Reply::Hang).await;
    dev.subscribe(&b).await;
    let d = a.create_direct(&bob.id).await.expect("direct").0;
    a.send_text(&d.id, "survive").await.expect("send");
    dev.wait_pushes(1, "the attempt in flight").await;
    node.kill9();
    dev.rx.set_default(Reply::Status(201));
    let node = ServerProcess::start(dir.path(), &args);
    let got = dev
        .rx
        .wait_until(LONG, "the push after the restart", |g| {
            g.iter().any(Received::delivered)
        })
        .await;
    let r = got.iter().find(|r| r.delivered()).expect("delivered");
    assert_eq!(dev.open(r)["preview"], "survive");
    let b = Client::new(&node.base_url)
        .expect("client")
        .with_token(b.token().as_deref().unwrap_or_default());
    assert_eq!(vapid_key(&b).await, key, "the same key after a restart");
    check_vapid(r, &key, &origin(&dev.rx));
    drop(node);
}

on_both_backends!(kill_9_loses_no_push);

/// Two processes on one PostgreSQL database and Redis, both running the
/// push worker: each push reaches the push service once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_send_each_push_once() {
    let Some(svc) = services().await else {
        return;
    };
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let args = process_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = svc.node_with_args(da.path(), &svc.redis_url, &args);
    let b = svc.node_with_args(db.path(), &svc.redis_url, &args);
    let dev = Device::new(Reply::Status(201)).await;
    let (rc, recipient) = registered(&a.base_url, "p2_r").await;
    dev.subscribe(&rc).await;
    // 20 senders, half on each process, each in a conversation of its
    // own with the recipient (so no two pushes merge).
    let mut senders = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 { &a.base_url } else { &b.base_url };
        let (s, _) = registered(base, "p2_s").await;
        let d = s.create_direct(&recipient.id).await.expect("direct").0;
        senders.push((s, d.id));
    }
    let sends = senders
        .iter()
        .map(|(s, conv)| async move { s.send_text(conv, "hi").await.expect("send") });
    futures_util::future::join_all(sends).await;
    dev.wait_pushes(20, "20 pushes").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut count: HashMap<String, usize> = HashMap::new();
    for r in dev.pushes() {
        *count
            .entry(
                dev.open(&r)["conversation_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
            .or_default() += 1;
    }
    assert_eq!(count.len(), 20, "every conversation's push");
    assert!(count.values().all(|n| *n == 1), "each once: {count:?}");
}
