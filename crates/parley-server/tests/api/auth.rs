//! Accounts and credentials (protocol.md §2).

use crate::helpers::*;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use parley_server::config::Settings;
use serde_json::{Value, json};

#[tokio::test]
async fn register_login_refresh_logout() {
    let app = spawn_app().await;
    let c = app.client();
    let name = unique("Carol");
    let reg = c
        .register(&name, PASSWORD, Some("Carol C"))
        .await
        .expect("register");
    assert_eq!(
        reg.user.username,
        name.to_lowercase(),
        "usernames fold to lower case"
    );
    assert_eq!(reg.user.display_name, "Carol C");
    assert_eq!(reg.expires_in, 900);
    assert_eq!(c.me().await.expect("me").id, reg.user.id);
    assert_code(
        c.register(&name.to_uppercase(), PASSWORD, None).await,
        "conflict",
    );
    assert_code(
        app.client().login(&name, "wrong password").await,
        "unauthenticated",
    );
    assert_code(
        app.client().login("nobody_here", PASSWORD).await,
        "unauthenticated",
    );
    let login = app
        .client()
        .login(&name.to_uppercase(), PASSWORD)
        .await
        .expect("login");
    let r1 = c.refresh(&login.refresh_token).await.expect("refresh");
    assert_ne!(
        r1.refresh_token, login.refresh_token,
        "refresh tokens rotate"
    );
    c.logout(&r1.refresh_token).await.expect("logout");
    assert_code(c.refresh(&r1.refresh_token).await, "unauthenticated");
}

#[tokio::test]
async fn reused_refresh_token_revokes_its_family() {
    // No reuse window: every second presentation is theft.
    let app = spawn_app_with(parley_server::config::Settings {
        rate_limits: Some("off".into()),
        refresh_reuse_window: Some(0),
        ..Default::default()
    })
    .await;
    let c = app.client();
    let reg = c
        .register(&unique("dave"), PASSWORD, None)
        .await
        .expect("register");
    let next = c.refresh(&reg.refresh_token).await.expect("rotate");
    // The stolen, already-used token comes back:
    assert_code(c.refresh(&reg.refresh_token).await, "unauthenticated");
    // ...and the legitimate newer one is now revoked too.
    assert_code(c.refresh(&next.refresh_token).await, "unauthenticated");
}

fn sign(claims: serde_json::Value, alg: Algorithm, secret: &[u8]) -> String {
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64
}

#[tokio::test]
async fn forged_expired_and_confused_tokens_are_refused() {
    let app = spawn_app().await;
    let (good, me) = app.user("tok").await;
    let base = json!({"sub": me.id, "role": "user", "iss": "parley", "aud": "parley-api", "iat": now(), "exp": now() + 600, "jti": "x"});
    let wrong_key = sign(
        base.clone(),
        Algorithm::HS256,
        b"not-the-server-secret-not-the-server-secret",
    );
    let mut expired = base.clone();
    expired["exp"] = json!(now() - 600);
    let secret = std::fs::read(app.dir.path().join("secret.key")).expect("secret");
    let expired = sign(expired, Algorithm::HS256, &secret);
    let mut wrong_aud = base.clone();
    wrong_aud["aud"] = json!("someone-else");
    let wrong_aud = sign(wrong_aud, Algorithm::HS256, &secret);
    let mut wrong_iss = base.clone();
    wrong_iss["iss"] = json!("evil");
    let wrong_iss = sign(wrong_iss, Algorithm::HS256, &secret);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let alg_none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(base.to_string())
    );
    let hs512 = sign(base.clone(), Algorithm::HS512, &secret);
    let control = sign(base.clone(), Algorithm::HS256, &secret);
    assert_eq!(
        good.with_token(&control)
            .me()
            .await
            .expect("a correctly signed token works")
            .id,
        me.id
    );
    for (name, t) in [
        ("wrong key", wrong_key),
        ("expired", expired),
        ("wrong aud", wrong_aud),
        ("wrong iss", wrong_iss),
        ("alg none", alg_none),
        ("HS512", hs512),
        ("garbage", "abc.def.ghi".into()),
    ] {
        let r = good.with_token(&t).me().await;
        assert!(
            matches!(&r, Err(parley_sdk::Error::Api { status: 401, .. })),
            "{name}: {r:?}"
        );
    }
    let none = app
        .client()
        .raw("GET", "/users/me", None)
        .await
        .expect("raw");
    assert_eq!(none.status, 401);
    assert_eq!(none.json["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn external_hs256_jwt_provisions_users_and_checks_claims() {
    let secret = "platform-shared-secret-platform-shared-secret";
    let app = spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        external_jwt_alg: Some("HS256".into()),
        external_jwt_secret: Some(secret.into()),
        external_jwt_issuer: Some("https://shop.example".into()),
        external_jwt_audience: Some("parley".into()),
        ..Default::default()
    })
    .await;
    let claims = json!({"sub": "Shop-User-42", "name": "Erin", "iss": "https://shop.example", "aud": "parley", "exp": now() + 300, "roles": ["agent"]});
    let token = sign(claims.clone(), Algorithm::HS256, secret.as_bytes());
    let c = app.client().with_token(&token);
    let me = c.me().await.expect("provisioned on first sight");
    assert_eq!(me.display_name, "Erin");
    assert_eq!(me.role, parley_protocol::Role::Agent);
    assert_eq!(
        c.me().await.expect("again").id,
        me.id,
        "the same user next time"
    );
    // The platform renames the user and drops the role: the next token
    // carries it, and the profile follows (known users skip the write only
    // while their claims are unchanged).
    let renamed = json!({"sub": "Shop-User-42", "name": "Erin Renamed", "iss": "https://shop.example", "aud": "parley", "exp": now() + 300});
    let c2 = app
        .client()
        .with_token(&sign(renamed, Algorithm::HS256, secret.as_bytes()));
    let after = c2.me().await.expect("renamed");
    assert_eq!(after.id, me.id);
    assert_eq!(after.display_name, "Erin Renamed");
    assert_eq!(after.role, parley_protocol::Role::User);
    // And back: the first token's profile is written again, not served
    // from what was cached before the rename.
    let again = c.me().await.expect("first token again");
    assert_eq!(again.display_name, "Erin");
    assert_eq!(again.role, parley_protocol::Role::Agent);
    for (field, value) in [
        ("iss", json!("https://evil.example")),
        ("aud", json!("other")),
        ("exp", json!(now() - 300)),
        ("nbf", json!(now() + 3600)),
    ] {
        let mut bad = claims.clone();
        bad[field] = value;
        let t = sign(bad, Algorithm::HS256, secret.as_bytes());
        assert_code(app.client().with_token(&t).me().await, "unauthenticated");
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none"}"#),
        b64.encode(claims.to_string())
    );
    assert_code(app.client().with_token(&none).me().await, "unauthenticated");
}

/// The platform's `email` claim is the digest address (protocol.md §12):
/// written on first sight and when it changes; an invalid one is ignored;
/// a token without it leaves what the user set.
#[tokio::test]
async fn the_platform_jwt_email_claim_sets_the_address() {
    let secret = "platform-shared-secret-platform-shared-secret";
    let app = spawn_app_with(Settings {
        rate_limits: Some("off".into()),
        external_jwt_alg: Some("HS256".into()),
        external_jwt_secret: Some(secret.into()),
        ..Default::default()
    })
    .await;
    let token = |email: Value| {
        let mut claims = json!({"sub": "shop-user-7", "name": "Finn", "exp": now() + 300});
        if !email.is_null() {
            claims["email"] = email;
        }
        sign(claims, Algorithm::HS256, secret.as_bytes())
    };
    let email_of = |t: String| {
        let c = app.client().with_token(&t);
        async move {
            let r = c.raw("GET", "/users/me", None).await.expect("me");
            assert_eq!(r.status, 200, "{}", r.json);
            r.json["email"].clone()
        }
    };
    assert_eq!(
        email_of(token(json!("finn@shop.example"))).await,
        "finn@shop.example"
    );
    assert_eq!(
        email_of(token(json!("finn.new@shop.example"))).await,
        "finn.new@shop.example",
        "a changed claim is written"
    );
    assert_eq!(
        email_of(token(json!("not an address"))).await,
        "finn.new@shop.example",
        "an invalid claim is ignored"
    );
    assert_eq!(
        email_of(token(Value::Null)).await,
        "finn.new@shop.example",
        "no claim, no change"
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_username() {
    let app = spawn_app_with(Settings::default()).await;
    let c = app.client();
    let name = unique("frank");
    c.register(&name, PASSWORD, None).await.expect("register");
    let mut limited = None;
    for _ in 0..15 {
        match app.client().login(&name, "wrong password!").await {
            Err(parley_sdk::Error::Api {
                error, retry_after, ..
            }) if error.code.as_str() == "rate_limited" => {
                assert!(error.details["retry_after_ms"].as_u64().unwrap_or(0) > 0);
                limited = retry_after;
                break;
            }
            Err(parley_sdk::Error::Api { status: 401, .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(limited.is_some_and(|s| s >= 1), "Retry-After is sent");
}

#[tokio::test]
async fn closed_registration_refuses_sign_up() {
    let app = spawn_app_with(Settings {
        registration: Some("closed".into()),
        rate_limits: Some("off".into()),
        ..Default::default()
    })
    .await;
    assert_code(
        app.client().register(&unique("gina"), PASSWORD, None).await,
        "forbidden",
    );
}

#[tokio::test]
async fn api_key_from_the_cli_authenticates() {
    let dir = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args([
            "admin",
            "create-api-key",
            "--name",
            "Shop Backend",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string();
    assert!(key.starts_with("pk_"));
    let server = ServerProcess::start(dir.path(), &[]);
    let c = parley_sdk::Client::new(&server.base_url)
        .expect("client")
        .with_token(&key);
    let me = c.me().await.expect("the key works");
    assert_eq!(me.role, parley_protocol::Role::Admin);
    assert_code(
        c.with_token("pk_not-a-real-key").me().await,
        "unauthenticated",
    );
}

#[tokio::test]
async fn admin_create_user_reads_password_from_stdin() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("dir");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_parley"))
        .args([
            "admin",
            "create-user",
            "--username",
            "Root_Admin",
            "--password-stdin",
            "--role",
            "admin",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cli");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a long admin password\n")
        .expect("write");
    assert!(child.wait().expect("wait").success());
    let server = ServerProcess::start(dir.path(), &[]);
    let c = parley_sdk::Client::new(&server.base_url).expect("client");
    let auth = c
        .login("root_admin", "a long admin password")
        .await
        .expect("login");
    assert_eq!(auth.user.role, parley_protocol::Role::Admin);
}

/// Makes an Ed25519 key pair with the openssl CLI: (private PEM, public PEM,
/// raw 32-byte public key for a JWKS).
fn ed25519_keys(dir: &std::path::Path) -> (Vec<u8>, std::path::PathBuf, Vec<u8>) {
    let private = dir.join("ed.pem");
    let public = dir.join("ed.pub.pem");
    let run = |args: &[&str]| {
        let ok = std::process::Command::new("openssl")
            .args(args)
            .status()
            .expect("openssl")
            .success();
        assert!(ok, "openssl {args:?}");
    };
    run(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        private.to_str().expect("path"),
    ]);
    run(&[
        "pkey",
        "-in",
        private.to_str().expect("path"),
        "-pubout",
        "-out",
        public.to_str().expect("path"),
    ]);
    let der = std::process::Command::new("openssl")
        .args([
            "pkey",
            "-in",
            private.to_str().expect("path"),
            "-pubout",
            "-outform",
            "DER",
        ])
        .output()
        .expect("openssl")
        .stdout;
    let raw = der[der.len() - 32..].to_vec();
    (std::fs::read(&private).expect("read"), public, raw)
}

#[tokio::test]
async fn external_eddsa_jwt_from_a_pem_file_and_from_a_jwks_file() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").is_err(),
            "the openssl CLI is required under CI"
        );
        eprintln!("skipping: the openssl CLI makes the test keys and is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let (private, public_pem, raw) = ed25519_keys(dir.path());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks = dir.path().join("keys.json");
    std::fs::write(&jwks, json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "x": b64.encode(&raw)}]}).to_string()).expect("write");
    let key = EncodingKey::from_ed_pem(&private).expect("key");
    let claims = json!({"sub": unique("ed-user"), "name": "Ed", "exp": now() + 300, "aud": "chat"});
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".into());
    let token = encode(&header, &claims, &key).expect("sign");
    for (pem, set) in [(Some(public_pem.clone()), None), (None, Some(jwks.clone()))] {
        let app = spawn_app_with(Settings {
            rate_limits: Some("off".into()),
            external_jwt_alg: Some("EdDSA".into()),
            external_jwt_public_key: pem,
            external_jwt_jwks: set,
            external_jwt_audience: Some("chat".into()),
            ..Default::default()
        })
        .await;
        let me = app
            .client()
            .with_token(&token)
            .me()
            .await
            .expect("an EdDSA token signed by the platform works");
        assert_eq!(me.display_name, "Ed");
        // Algorithm confusion: an HS256 token "signed" with the public key is refused.
        let confused = sign(
            claims.clone(),
            Algorithm::HS256,
            &std::fs::read(&public_pem).expect("pem"),
        );
        assert_code(
            app.client().with_token(&confused).me().await,
            "unauthenticated",
        );
    }
}
