//! Health, readiness, request ids and the OpenAPI document (§1, §14).

use crate::helpers::*;
use parley_server::config::Settings;

#[tokio::test]
async fn health_ready_request_ids_and_openapi() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let h = http
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .expect("healthz");
    assert_eq!(h.status(), 200);
    assert!(
        h.headers().get("x-request-id").is_some(),
        "a request id is generated"
    );
    let r = http
        .get(format!("{}/readyz", app.base_url))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("trace-me-123"),
        "echoed"
    );
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json; charset=utf-8")
    );
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["checks"]["database"]["ok"], true);
    let doc: serde_json::Value = http
        .get(format!("{}/api/v1/openapi.json", app.base_url))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    for path in [
        "/auth/register",
        "/conversations",
        "/conversations/{id}/messages",
        "/messages/{id}/reactions/{emoji}",
        "/gateway/ticket",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
}

#[tokio::test]
async fn metrics_count_sends_deliveries_and_connections() {
    let app = spawn_app().await;
    let (a, _) = app.user("met_a").await;
    let (b, bu) = app.user("met_b").await;
    let c = app.direct(&a, &bu).await;
    let g = app.gateway(&b).await;
    let scrape = || async {
        let r = reqwest::get(format!("{}/metrics", app.base_url))
            .await
            .expect("metrics");
        assert!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/plain"))
        );
        r.text().await.expect("text")
    };
    let value = |text: &str, name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let before = scrape().await;
    assert!(value(&before, "parley_connections") >= 1.0);
    a.send_text(&c.id, "count me").await.expect("send");
    g.next_event(WAIT).await.expect("delivered");
    let after = scrape().await;
    // Counters are per process and tests run in parallel: they only grow.
    assert!(
        value(&after, "parley_messages_sent_total") > value(&before, "parley_messages_sent_total")
    );
    assert!(
        value(&after, "parley_delivery_latency_seconds_count")
            > value(&before, "parley_delivery_latency_seconds_count")
    );
    assert!(after.contains("# TYPE parley_db_send_seconds histogram"));
}

#[tokio::test]
async fn the_web_client_is_served_with_a_strict_csp() {
    let app = spawn_app().await;
    let r = reqwest::get(format!("{}/", app.base_url))
        .await
        .expect("index");
    assert_eq!(r.status(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("default-src 'self'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
    );
    let js = reqwest::get(format!("{}/js/main.js", app.base_url))
        .await
        .expect("js");
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("javascript"))
    );
    let route = reqwest::get(format!("{}/chats/some-id", app.base_url))
        .await
        .expect("client route");
    assert_eq!(route.status(), 200, "client routes get the app");
    let missing = reqwest::get(format!("{}/nope.js", app.base_url))
        .await
        .expect("missing");
    assert_eq!(missing.status(), 404);
}

/// `--web-dir` serves the client from a folder, and a path climbing out of
/// it (sent raw, as no HTTP library would normalise it away) gets 404.
#[tokio::test]
async fn web_dir_serves_from_disk_and_never_outside_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let web = tempfile::tempdir().expect("web dir");
    std::fs::write(web.path().join("index.html"), "<p>custom client</p>").expect("index");
    std::fs::create_dir(web.path().join("js")).expect("js dir");
    std::fs::write(web.path().join("js/app.js"), "export const x = 1;").expect("js");
    let secret = web
        .path()
        .parent()
        .expect("parent")
        .join("outside-secret.txt");
    std::fs::write(&secret, "do not serve").expect("secret");
    let app = spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        web_dir: Some(web.path().to_path_buf()),
        ..Settings::default()
    })
    .await;

    let index = reqwest::get(format!("{}/", app.base_url))
        .await
        .expect("index");
    assert_eq!(index.status(), 200);
    assert!(index.headers().contains_key("content-security-policy"));
    assert_eq!(index.text().await.expect("body"), "<p>custom client</p>");
    let js = reqwest::get(format!("{}/js/app.js", app.base_url))
        .await
        .expect("js");
    assert_eq!(js.status(), 200);
    assert_eq!(js.text().await.expect("body"), "export const x = 1;");
    let route = reqwest::get(format!("{}/chats/abc", app.base_url))
        .await
        .expect("route");
    assert_eq!(route.text().await.expect("body"), "<p>custom client</p>");

    for raw in [
        "/../outside-secret.txt",
        "/js/../../outside-secret.txt",
        "/%2e%2e/outside-secret.txt",
    ] {
        let mut s = tokio::net::TcpStream::connect(app.addr)
            .await
            .expect("connect");
        let req = format!("GET {raw} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.expect("read");
        assert!(resp.starts_with("HTTP/1.1 404"), "{raw}: {resp}");
        assert!(!resp.contains("do not serve"), "{raw}");
    }
    let _ = std::fs::remove_file(secret);
}

/// The OpenAPI document says what the server answers (issue 12): every
/// operation documents the refusals any request can get, and the auth
/// endpoints need no Bearer token.
#[tokio::test]
async fn the_openapi_document_declares_every_refusal() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app
        .client()
        .raw("GET", "/openapi.json", None)
        .await
        .expect("openapi")
        .json;
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            operations += 1;
            let responses = op["responses"].as_object().expect("responses");
            // The unsubscribe link's signature is its credential (RFC 8058).
            let public = path.starts_with("/auth/") || path == "/email/unsubscribe";
            for code in ["400", "429", "503"] {
                assert!(responses.contains_key(code), "{method} {path} lacks {code}");
            }
            // Public operations may still answer 401 (a wrong password).
            assert!(
                public || responses.contains_key("401"),
                "{method} {path} lacks 401"
            );
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path} lacks 404");
            }
            if public {
                assert_eq!(op["security"], serde_json::json!([]), "{path} is public");
            }
        }
    }
    assert!(operations >= 38, "{operations} operations");
    app.stop().await;
}
