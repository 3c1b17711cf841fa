//! Bad input gets the protocol's error and changes nothing.

use crate::helpers::*;

#[tokio::test]
async fn malformed_and_invalid_bodies_are_refused_with_the_field() {
    let app = spawn_app().await;
    let (a, _) = app.user("bad_a").await;
    let (_, bu) = app.user("bad_b").await;
    let c = app.direct(&a, &bu).await;
    let path = format!("/conversations/{}/messages", c.id);
    let long = "x".repeat(10_001);
    let cases: Vec<(String, u16, Option<&str>)> = vec![
        ("{not json".into(), 400, None),
        ("[]".into(), 400, None),
        (r#"{"text":"hi"}"#.into(), 400, Some("client_id")),
        (
            r#"{"client_id":5,"text":"hi"}"#.into(),
            400,
            Some("client_id"),
        ),
        (r#"{"client_id":"a","text":7}"#.into(), 400, Some("text")),
        (r#"{"client_id":"a"}"#.into(), 400, Some("text")),
        (
            r#"{"client_id":"a","text":"   \n "}"#.into(),
            400,
            Some("text"),
        ),
        (
            r#"{"client_id":"a","text":"bell\u0007"}"#.into(),
            400,
            Some("text"),
        ),
        (
            r#"{"client_id":"a","text":"c1\u0085"}"#.into(),
            400,
            Some("text"),
        ),
        (format!(r#"{{"client_id":"a","text":"{long}"}}"#), 413, None),
        (
            r#"{"client_id":"","text":"hi"}"#.into(),
            400,
            Some("client_id"),
        ),
        (
            r#"{"client_id":"a","text":"hi","reply_to":"nope"}"#.into(),
            400,
            Some("reply_to"),
        ),
        (
            r#"{"client_id":"a","text":"hi","surprise":1}"#.into(),
            400,
            None,
        ),
    ];
    for (body, status, field) in &cases {
        let r = a.raw("POST", &path, Some(body)).await.expect("raw");
        assert_eq!(r.status, *status, "{body:.60}: {}", r.text);
        assert!(
            r.json["error"]["code"].is_string(),
            "error shape: {}",
            r.text
        );
        if let Some(f) = field {
            assert_eq!(r.json["error"]["details"]["field"], *f, "{body:.60}");
        }
    }
    let huge = format!(
        r#"{{"client_id":"a","text":"{}"}}"#,
        "y".repeat(2 * 1024 * 1024)
    );
    let r = a.raw("POST", &path, Some(&huge)).await.expect("raw");
    assert_eq!(
        (r.status, r.json["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    // Exactly the limit is fine, and nothing else was stored.
    let ok = format!(r#"{{"client_id":"ok","text":"{}"}}"#, "é".repeat(10_000));
    assert_eq!(
        a.raw("POST", &path, Some(&ok)).await.expect("raw").status,
        201
    );
    assert_eq!(
        a.messages(&c.id, None, None, None)
            .await
            .expect("history")
            .messages
            .len(),
        1
    );
}

#[tokio::test]
async fn bad_registration_queries_and_ids() {
    let app = spawn_app().await;
    let c = app.client();
    for (body, field) in [
        (r#"{"username":"ab","password":"long enough"}"#, "username"),
        (
            r#"{"username":"has space","password":"long enough"}"#,
            "username",
        ),
        (r#"{"username":"okname","password":"short"}"#, "password"),
        (r#"{"username":"okname"}"#, "password"),
        (
            r#"{"username":"okname","password":"long enough","display_name":""}"#,
            "display_name",
        ),
    ] {
        let r = c
            .raw("POST", "/auth/register", Some(body))
            .await
            .expect("raw");
        assert_eq!(
            (r.status, r.json["error"]["details"]["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }
    let (a, _) = app.user("q_a").await;
    let (_, bu) = app.user("q_b").await;
    let conv = app.direct(&a, &bu).await;
    for q in [
        "limit=0",
        "limit=201",
        "limit=abc",
        "before=-1",
        "after=x",
        "before=3&after=1",
    ] {
        let r = a
            .raw(
                "GET",
                &format!("/conversations/{}/messages?{q}", conv.id),
                None,
            )
            .await
            .expect("raw");
        assert_eq!(r.status, 400, "{q}: {}", r.text);
    }
    let r = a
        .raw("GET", "/conversations?cursor=%%%", None)
        .await
        .expect("raw");
    assert_eq!(r.status, 400);
    let r = a
        .raw("GET", "/conversations/..%2F..%2Fetc", None)
        .await
        .expect("raw");
    assert_eq!(r.status, 404);
    let r = a
        .raw("POST", "/conversations", Some(r#"{"kind":"channel"}"#))
        .await
        .expect("raw");
    assert_eq!(r.status, 400);
    let r = a.raw("DELETE", "/users/me", None).await.expect("raw");
    assert_eq!(r.status, 405);
    assert!(r.json["error"]["code"].is_string());
    let r = a.raw("GET", "/no/such/route", None).await.expect("raw");
    assert_eq!(
        (r.status, r.json["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}
