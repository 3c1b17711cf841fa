//! Notification preferences (protocol.md §12) through real sockets, on
//! both backends: the defaults, a PATCH of some fields, refusals that
//! name the field and change nothing, and one user's preferences kept
//! from another.

use crate::helpers::*;
use parley_server::config::Settings;
use serde_json::{Value, json};

async fn call(c: &parley_sdk::Client, method: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let r = c
        .raw(method, "/users/me/notifications", body.as_deref())
        .await
        .expect("request");
    (r.status, r.json)
}

async fn preferences_default_patch_and_refuse_bad_input(backend: Backend) {
    let app = spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        database_url: backend.database_url(),
        ..Default::default()
    })
    .await;
    let (a, _) = app.user("nprefs").await;
    let (b, _) = app.user("nprefs").await;
    let defaults = json!({"push": "all", "email": "digest", "previews": true});
    let (code, v) = call(&a, "GET", None).await;
    assert_eq!((code, &v), (200, &defaults));

    let (code, v) = call(
        &a,
        "PATCH",
        Some(json!({"push": "mentions", "previews": false})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let changed = json!({"push": "mentions", "email": "digest", "previews": false});
    assert_eq!(v, changed);
    let (code, v) = call(&a, "PATCH", Some(json!({"email": "off"}))).await;
    assert_eq!(code, 200, "{v}");
    let changed = json!({"push": "mentions", "email": "off", "previews": false});
    assert_eq!(v, changed);
    assert_eq!(call(&a, "GET", None).await.1, changed);
    assert_eq!(call(&b, "GET", None).await.1, defaults, "b's are b's");

    for (bad, field) in [
        (json!({"push": "sometimes"}), "push"),
        (json!({"push": 1}), "push"),
        (json!({"email": "weekly"}), "email"),
        (json!({"previews": "yes"}), "previews"),
        (json!({"sound": true}), "sound"),
    ] {
        let (code, v) = call(&a, "PATCH", Some(bad.clone())).await;
        assert_eq!(code, 400, "{bad}: {v}");
        assert_eq!(v["error"]["code"], "invalid_request", "{v}");
        assert_eq!(v["error"]["details"]["field"], field, "{bad}: {v}");
    }
    assert_eq!(
        call(&a, "GET", None).await.1,
        changed,
        "refusals change nothing"
    );
    let (code, _) = call(&app.client(), "GET", None).await;
    assert_eq!(code, 401, "signed in only");
    app.stop().await;
}

on_both_backends!(preferences_default_patch_and_refuse_bad_input);
