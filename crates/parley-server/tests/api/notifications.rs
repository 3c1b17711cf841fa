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

/// Do not disturb (beyond §12's three fields): paused until a time, and
/// daily quiet hours in an IANA zone; absent from the object until set,
/// `null` clears; refusals name the field and change nothing.
async fn do_not_disturb_is_set_checked_and_cleared(backend: Backend) {
    let app = spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        database_url: backend.database_url(),
        ..Default::default()
    })
    .await;
    let (a, _) = app.user("ndnd").await;
    let until = parley_protocol::Timestamp(parley_protocol::Timestamp::now().millis() + 3_600_000);
    let quiet = json!({"from": "22:00", "to": "07:30", "time_zone": "Europe/Berlin"});
    let (code, v) = call(
        &a,
        "PATCH",
        Some(json!({"dnd_until": until, "quiet_hours": quiet})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["dnd_until"], json!(until));
    assert_eq!(v["quiet_hours"], quiet);
    assert_eq!(call(&a, "GET", None).await.1, v, "stored");
    let set = v;
    let far =
        parley_protocol::Timestamp(parley_protocol::Timestamp::now().millis() + 400 * 86_400_000);
    for (bad, field) in [
        (json!({"dnd_until": "tomorrow"}), "dnd_until"),
        (json!({"dnd_until": far}), "dnd_until"),
        (
            json!({"quiet_hours": {"from": "22:00", "to": "22:00", "time_zone": "UTC"}}),
            "quiet_hours",
        ),
        (
            json!({"quiet_hours": {"from": "25:00", "to": "07:00", "time_zone": "UTC"}}),
            "quiet_hours",
        ),
        (
            json!({"quiet_hours": {"from": "22:00", "to": "07:00", "time_zone": "Nowhere/Land"}}),
            "quiet_hours",
        ),
        (
            json!({"quiet_hours": {"from": "22:00", "to": "07:00"}}),
            "quiet_hours",
        ),
        (json!({"quiet_hours": "nights"}), "quiet_hours"),
    ] {
        let (code, v) = call(&a, "PATCH", Some(bad.clone())).await;
        assert_eq!(code, 400, "{bad}: {v}");
        assert_eq!(v["error"]["code"], "invalid_request", "{v}");
        assert_eq!(v["error"]["details"]["field"], field, "{bad}: {v}");
    }
    assert_eq!(
        call(&a, "GET", None).await.1,
        set,
        "refusals change nothing"
    );
    // A time already past, and null: both clear.
    let past = parley_protocol::Timestamp(parley_protocol::Timestamp::now().millis() - 1000);
    let (_, v) = call(&a, "PATCH", Some(json!({"dnd_until": past}))).await;
    assert!(v.get("dnd_until").is_none(), "{v}");
    let (_, v) = call(&a, "PATCH", Some(json!({"quiet_hours": null}))).await;
    assert_eq!(
        v,
        json!({"push": "all", "email": "digest", "previews": true}),
        "back to §12's object"
    );
    app.stop().await;
}

on_both_backends!(
    preferences_default_patch_and_refuse_bad_input,
    do_not_disturb_is_set_checked_and_cleared
);
