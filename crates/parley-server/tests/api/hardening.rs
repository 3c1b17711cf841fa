//! Hardening: what a hostile or careless client can no longer do (bounded
//! connections, error shapes for what hyper refuses, request ids, the user
//! directory, avatars, spoofing text, the metrics endpoint).

use crate::helpers::*;
use parley_protocol::UpdateMeRequest;
use parley_server::config::Settings;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn settings() -> Settings {
    Settings {
        rate_limits: Some("off".into()),
        ..Settings::default()
    }
}

/// A connection from another loopback address (Linux answers for all of
/// 127/8), so that it counts as another client.
async fn connect_from(local: &str, to: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{local}:0").parse().expect("addr"))
        .expect("bind");
    socket.connect(to).await.expect("connect")
}

/// Everything the server sends until it closes (or resets) the connection.
async fn read_to_close(s: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(wait, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()?;
    Some(out)
}

/// Status, lower-cased head and body of a raw HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> (u16, String, serde_json::Value) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

async fn healthz_from(local: &str, addr: SocketAddr) -> u16 {
    let mut s = connect_from(local, addr).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let raw = read_to_close(&mut s, WAIT).await.expect("answered");
    parse_response(&raw).0
}

#[tokio::test]
async fn idle_connections_are_capped_per_address_and_closed_when_silent() {
    let app = spawn_app_with(Settings {
        max_connections_per_ip: Some(5),
        idle_timeout: Some(2),
        ..settings()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(connect_from("127.0.0.1", app.addr).await);
    }
    // The 35 over the cap are refused at once, politely (all looked at
    // together: the idle timeout runs meanwhile).
    let mut looks = Vec::new();
    for mut s in idle {
        looks.push(tokio::spawn(async move {
            let seen = read_to_close(&mut s, Duration::from_millis(500)).await;
            (s, seen)
        }));
    }
    let mut refused = 0;
    let mut kept = Vec::new();
    for look in looks {
        match look.await.expect("look") {
            (_, Some(raw)) => {
                let (status, head, body) = parse_response(&raw);
                assert_eq!(status, 429, "{}", String::from_utf8_lossy(&raw));
                assert!(head.contains("application/json"), "{head}");
                assert!(head.contains("retry-after: 1"), "{head}");
                assert_eq!(body["error"]["code"], "rate_limited");
                refused += 1;
            }
            (s, None) => kept.push(s),
        }
    }
    assert_eq!((refused, kept.len()), (35, 5));
    // Another client is served meanwhile.
    assert_eq!(healthz_from("127.0.0.2", app.addr).await, 200);
    // The silent ones are closed after the idle timeout.
    let started = Instant::now();
    for s in &mut kept {
        assert!(
            read_to_close(s, Duration::from_secs(10)).await.is_some(),
            "a silent connection was held open"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(6));
    // Their slots are free again.
    assert_eq!(healthz_from("127.0.0.1", app.addr).await, 200);
    app.stop().await;
}

#[tokio::test]
async fn at_the_global_cap_new_connections_get_a_503_in_the_error_shape() {
    let app = spawn_app_with(Settings {
        max_tcp_connections: Some(4),
        ..settings()
    })
    .await;
    let mut held = Vec::new();
    for i in 0..4 {
        held.push(connect_from(&format!("127.0.0.{}", i + 10), app.addr).await);
    }
    // The listener accepts in order; give it a moment to count them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut s = connect_from("127.0.0.20", app.addr).await;
    let raw = read_to_close(&mut s, WAIT).await.expect("closed");
    let (status, head, body) = parse_response(&raw);
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&raw));
    assert!(head.contains("x-request-id"), "{head}");
    assert_eq!(body["error"]["code"], "unavailable");
    drop(held);
    let deadline = Instant::now() + WAIT;
    loop {
        let status = healthz_from("127.0.0.20", app.addr).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A gateway upgrade with a fresh ticket: the socket, or the refusal's
/// status and body.
async fn ws_connect(app: &TestApp, c: &parley_sdk::Client) -> Result<Ws, (u16, serde_json::Value)> {
    let t = c.ticket().await.expect("ticket");
    let url = format!("ws://{}/api/v1/gateway?ticket={}", app.addr, t.ticket);
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(serde_json::Value::Null);
            Err((resp.status().as_u16(), body))
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn gateway_connections_are_capped_per_user() {
    let app = spawn_app_with(Settings {
        max_connections_per_user: Some(3),
        ..settings()
    })
    .await;
    let (a, _) = app.user("cap_a").await;
    let (b, _) = app.user("cap_b").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(app.gateway(&a).await);
    }
    let (status, body) = ws_connect(&app, &a).await.expect_err("the 4th is refused");
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(body["error"]["details"]["retry_after_ms"].as_u64() > Some(0));
    // Another user is not affected.
    let _b = app.gateway(&b).await;
    // A closed connection frees its place.
    open.pop().expect("one").close().await;
    let deadline = Instant::now() + WAIT;
    loop {
        match parley_sdk::Gateway::connect(&a).await {
            Ok(g) => {
                open.push(g);
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "never freed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn the_origin_check_compares_scheme_host_and_port() {
    let app = spawn_app_with(Settings {
        allowed_origins: Some(vec!["https://app.example".into()]),
        ..settings()
    })
    .await;
    let (a, _) = app.user("orig_a").await;
    let try_origin = |origin: String| {
        let a = a.clone();
        let addr = app.addr;
        async move {
            let t = a.ticket().await.expect("ticket");
            let mut req = format!("ws://{addr}/api/v1/gateway?ticket={}", t.ticket)
                .into_client_request()
                .expect("req");
            req.headers_mut()
                .insert("origin", origin.parse().expect("hv"));
            tokio_tungstenite::connect_async(req).await.map(|_| ())
        }
    };
    let port = app.addr.port();
    for refused in [
        format!("https://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        format!("http://localhost:{port}"),
        "http://app.example".to_string(),
        "https://app.example:8443".to_string(),
        "https://app.example.evil".to_string(),
        "null".to_string(),
    ] {
        assert!(
            try_origin(refused.clone()).await.is_err(),
            "{refused} was accepted"
        );
    }
    for allowed in [
        format!("http://127.0.0.1:{port}"),
        "https://app.example".to_string(),
        "https://APP.example:443".to_string(),
    ] {
        assert!(
            try_origin(allowed.clone()).await.is_ok(),
            "{allowed} was refused"
        );
    }
}

async fn raw_request(addr: SocketAddr, head: Vec<u8>) -> (u16, String, serde_json::Value) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = s.split();
    let write = async {
        let _ = wr.write_all(&head).await;
    };
    let read = async {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    let ((), raw) = tokio::time::timeout(WAIT, async { tokio::join!(write, read) })
        .await
        .expect("answered");
    parse_response(&raw)
}

#[tokio::test]
async fn oversized_uris_and_headers_answer_in_the_error_shape() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "a 100k-character cursor",
            format!(
                "GET /api/v1/conversations?cursor={} HTTP/1.1\r\nHost: x\r\n\r\n",
                "a".repeat(100_000)
            )
            .into_bytes(),
            414,
        ),
        (
            "a 10k-character URI",
            format!(
                "GET /api/v1/conversations?cursor={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                "a".repeat(10_000)
            )
            .into_bytes(),
            414,
        ),
        (
            "a 1 MB URL",
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(1_000_000)).into_bytes(),
            431,
        ),
        (
            "100 KB of headers",
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
                "b".repeat(100_000)
            )
            .into_bytes(),
            431,
        ),
        (
            "many headers",
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
                (0..200).map(|i| format!("X-H{i}: v\r\n")).collect::<String>()
            )
            .into_bytes(),
            431,
        ),
    ];
    for (what, head, want) in cases {
        let (status, head, body) = raw_request(app.addr, head).await;
        assert_eq!(status, want, "{what}: {head}");
        assert!(
            head.contains("content-type: application/json; charset=utf-8"),
            "{what}: {head}"
        );
        assert!(head.contains("x-request-id: "), "{what}: {head}");
        assert_eq!(body["error"]["code"], "payload_too_large", "{what}: {body}");
        assert!(body["error"]["message"].is_string(), "{what}");
        assert!(body["error"]["details"].is_object(), "{what}");
    }
    // Still serving.
    assert_eq!(
        app.client()
            .raw("GET", "/users/me", None)
            .await
            .expect("raw")
            .status,
        401
    );
}

#[tokio::test]
async fn request_ids_are_echoed_only_when_short_and_visible() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let url = format!("{}/healthz", app.base_url);
    let echo = |id: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.get(&url)
                .header("x-request-id", id)
                .send()
                .await
                .expect("get")
                .headers()
                .get("x-request-id")
                .expect("x-request-id")
                .to_str()
                .expect("ascii")
                .to_string()
        }
    };
    let fine = "a".repeat(128);
    assert_eq!(echo(fine.clone()).await, fine);
    assert_eq!(echo("req-1".into()).await, "req-1");
    for bad in ["x".repeat(5000), "a".repeat(129), "two words".into()] {
        let got = echo(bad.clone()).await;
        assert_ne!(got, bad);
        assert!((1..=128).contains(&got.len()), "{got}");
        assert!(got.bytes().all(|b| b.is_ascii_graphic()));
    }
}

#[tokio::test]
async fn the_directory_needs_a_query_and_presence_needs_a_shared_conversation() {
    let app = spawn_app().await;
    let (a, _) = app.user("dir_a").await;
    let (b, bu) = app.user("dir_b").await;
    for q in ["", " ", "d", " d "] {
        let r = a
            .raw("GET", &format!("/users?query={q}"), None)
            .await
            .expect("raw");
        assert_eq!(
            (r.status, r.json["error"]["details"]["field"].as_str()),
            (400, Some("query")),
            "{q:?}: {}",
            r.text
        );
    }
    let r = a.raw("GET", "/users", None).await.expect("raw");
    assert_eq!(r.status, 400, "no query at all: {}", r.text);
    let found = a
        .search_users(&bu.username, None, None)
        .await
        .expect("search");
    assert_eq!(found.users.len(), 1);
    // b is online, but a shares nothing with b.
    let _g = app.gateway(&b).await;
    let deadline = Instant::now() + WAIT;
    while b.user(&bu.id).await.expect("self").presence.state
        != parley_protocol::PresenceState::Online
    {
        assert!(Instant::now() < deadline, "b never came online");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = a.user(&bu.id).await.expect("profile");
    assert_eq!(
        (seen.presence.state, seen.presence.last_seen_at),
        (parley_protocol::PresenceState::Offline, None),
        "presence of a stranger"
    );
    let found = a
        .search_users(&bu.username, None, None)
        .await
        .expect("search");
    assert_eq!(
        found.users[0].presence.state,
        parley_protocol::PresenceState::Offline
    );
    app.direct(&a, &bu).await;
    assert_eq!(
        a.user(&bu.id).await.expect("profile").presence.state,
        parley_protocol::PresenceState::Online,
        "a contact's presence"
    );
}

#[tokio::test]
async fn the_directory_can_be_restricted_to_contacts_or_exact_usernames() {
    let contacts = spawn_app_with(Settings {
        user_directory: Some("contacts".into()),
        ..settings()
    })
    .await;
    let (a, _) = contacts.user("dirc_a").await;
    let (_, bu) = contacts.user("dirc_b").await;
    let (_, cu) = contacts.user("dirc_c").await;
    assert!(
        a.search_users("dirc", None, None)
            .await
            .expect("search")
            .users
            .is_empty()
    );
    contacts.direct(&a, &bu).await;
    let found = a.search_users("dirc", None, None).await.expect("search");
    assert_eq!(
        found.users.iter().map(|u| &u.id).collect::<Vec<_>>(),
        vec![&bu.id],
        "only the contact, not {}",
        cu.username
    );

    let off = spawn_app_with(Settings {
        user_directory: Some("off".into()),
        ..settings()
    })
    .await;
    let (a, _) = off.user("diro_a").await;
    let (_, bu) = off.user("diro_b").await;
    assert!(
        a.search_users("diro", None, None)
            .await
            .expect("search")
            .users
            .is_empty()
    );
    let found = a
        .search_users(&bu.username.to_uppercase(), None, None)
        .await
        .expect("search");
    assert_eq!(
        found.users.iter().map(|u| &u.id).collect::<Vec<_>>(),
        vec![&bu.id]
    );
}

fn avatar(url: &str) -> UpdateMeRequest {
    UpdateMeRequest {
        display_name: None,
        avatar_url: Some(url.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn avatars_only_from_our_media_or_listed_hosts_and_the_csp_says_so() {
    let app = spawn_app_with(Settings {
        avatar_hosts: Some(vec!["img.example".into()]),
        ..settings()
    })
    .await;
    let (a, _) = app.user("av_a").await;
    let (_, bu) = app.user("av_b").await;
    let (_, cu) = app.user("av_c").await;
    for bad in [
        "https://tracker.example/pixel.gif",
        "http://img.example/a.png",
        "//tracker.example/x.png",
    ] {
        let r = a
            .raw(
                "PATCH",
                "/users/me",
                Some(&serde_json::json!({ "avatar_url": bad }).to_string()),
            )
            .await
            .expect("raw");
        assert_eq!(
            (r.status, r.json["error"]["details"]["field"].as_str()),
            (400, Some("avatar_url")),
            "{bad}"
        );
    }
    for good in ["/api/v1/media/abc", "https://img.example/a.png", ""] {
        a.update_me(&avatar(good))
            .await
            .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    let g = a
        .create_group("Avatars", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("group");
    let r = a
        .raw(
            "PATCH",
            &format!("/conversations/{}", g.id),
            Some(r#"{"avatar_url":"https://tracker.example/g.png"}"#),
        )
        .await
        .expect("raw");
    assert_eq!(
        (r.status, r.json["error"]["details"]["field"].as_str()),
        (400, Some("avatar_url"))
    );
    let r = a
        .raw(
            "PATCH",
            &format!("/conversations/{}", g.id),
            Some(r#"{"avatar_url":"https://img.example/g.png"}"#),
        )
        .await
        .expect("raw");
    assert_eq!(r.status, 200, "{}", r.text);

    let page = reqwest::get(format!("{}/", app.base_url))
        .await
        .expect("get");
    let csp = page
        .headers()
        .get("content-security-policy")
        .expect("csp")
        .to_str()
        .expect("ascii")
        .to_string();
    let directive = |name: &str| {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.starts_with(name))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        directive("img-src"),
        "img-src 'self' data: blob: https://img.example"
    );
    // Local previews of a picked video or voice note play from a blob: URL.
    assert_eq!(directive("media-src"), "media-src 'self' blob:");
    assert_eq!(
        directive("connect-src"),
        format!("connect-src 'self' ws://{}", app.addr)
    );
}

#[tokio::test]
async fn spoofing_text_is_refused() {
    let app = spawn_app().await;
    let (a, _) = app.user("sp_a").await;
    let (_, bu) = app.user("sp_b").await;
    let c = app.direct(&a, &bu).await;
    let send = format!("/conversations/{}/messages", c.id);
    let r = a
        .raw(
            "POST",
            &send,
            Some(r#"{"client_id":"inv-1","text":"\u200b\u200b\ufeff\u2060"}"#),
        )
        .await
        .expect("raw");
    assert_eq!(
        (r.status, r.json["error"]["details"]["field"].as_str()),
        (400, Some("text")),
        "{}",
        r.text
    );
    a.send_text(&c.id, "\u{202e}txt.exe\u{202c}")
        .await
        .expect("bidi stays allowed in message text");

    let r = app
        .client()
        .raw(
            "POST",
            "/auth/register",
            Some(&serde_json::json!({"username": "...", "password": PASSWORD}).to_string()),
        )
        .await
        .expect("raw");
    assert_eq!(
        (r.status, r.json["error"]["details"]["field"].as_str()),
        (400, Some("username")),
        "{}",
        r.text
    );

    let r = a
        .raw(
            "PATCH",
            "/users/me",
            Some(r#"{"display_name":"Admin\u202egnp.exe"}"#),
        )
        .await
        .expect("raw");
    assert_eq!(
        (r.status, r.json["error"]["details"]["field"].as_str()),
        (400, Some("display_name")),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn the_text_limit_applies_after_trimming() {
    let app = spawn_app().await;
    let (a, _) = app.user("trim_a").await;
    let (_, bu) = app.user("trim_b").await;
    let c = app.direct(&a, &bu).await;
    let text = format!("   {} \n ", "x".repeat(10_000));
    let m = a.send_text(&c.id, &text).await.expect("within the limit");
    assert_eq!(m.text.as_deref(), Some(text.as_str()), "stored as sent");
    assert_code(
        a.send_text(&c.id, &format!(" {} ", "x".repeat(10_001)))
            .await,
        "payload_too_large",
    );
}

/// A port nobody listens on now (bound, then released).
async fn free_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    l.local_addr().expect("addr")
}

#[tokio::test]
async fn metrics_on_a_separate_listener_behind_a_token() {
    let metrics_addr = free_port().await;
    let token = "metrics-token-0123456789";
    let app = spawn_app_with(Settings {
        metrics_listen: Some(metrics_addr.to_string()),
        metrics_token: Some(token.into()),
        ..settings()
    })
    .await;
    let http = reqwest::Client::new();
    let up = http
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .expect("get");
    assert_eq!(up.status(), 200);
    let on_main = http
        .get(format!("{}/metrics", app.base_url))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    assert_eq!(on_main.status(), 404, "not on the main listener");
    let url = format!("http://{metrics_addr}/metrics");
    let anonymous = http.get(&url).send().await.expect("get");
    assert_eq!(anonymous.status(), 401);
    let body: serde_json::Value = anonymous.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthenticated");
    let wrong = http
        .get(&url)
        .bearer_auth("metrics-token-wrong-123")
        .send()
        .await
        .expect("get");
    assert_eq!(wrong.status(), 401);
    let ok = http.get(&url).bearer_auth(token).send().await.expect("get");
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.expect("body").contains("parley_"));
    app.stop().await;
    assert!(
        TcpStream::connect(metrics_addr).await.is_err(),
        "the metrics listener stops with the server"
    );
}

#[tokio::test]
async fn metrics_token_on_the_main_listener() {
    let app = spawn_app_with(Settings {
        metrics_token: Some("main-metrics-token-0123".into()),
        ..settings()
    })
    .await;
    // Served at the root, not under /api/v1 (where the SDK's raw() asks).
    let http = reqwest::Client::new();
    let url = format!("{}/metrics", app.base_url);
    let anonymous = http.get(&url).send().await.expect("get");
    assert_eq!(anonymous.status(), 401);
    let ok = http
        .get(&url)
        .bearer_auth("main-metrics-token-0123")
        .send()
        .await
        .expect("get");
    assert_eq!(ok.status(), 200);
}
