//! Health, readiness, request ids and the OpenAPI document (§1, §14).

use crate::helpers::*;

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
