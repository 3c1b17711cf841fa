//! Media (protocol.md §10) through real sockets: what a send may attach,
//! and the per-conversation media, files and links lists. (Uploading and
//! serving bytes land with `POST /media`; the storage conformance suite
//! covers attaching, access and the sweep on both backends.)

use crate::helpers::*;
use parley_protocol::{ClientFrame, SendMessageRequest};
use serde_json::{Value, json};

async fn status(
    c: &parley_sdk::Client,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let r = c.raw(method, path, body.as_deref()).await.expect("request");
    (r.status, r.json)
}

fn urls(page: &Value) -> Vec<String> {
    page["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| l["url"].as_str().expect("url").to_string())
        .collect()
}

#[tokio::test]
async fn links_are_listed_newest_first_follow_edits_and_deletes() {
    let app = spawn_app().await;
    let (a, au) = app.user("ln_a").await;
    let (b, bu) = app.user("ln_b").await;
    let (outsider, _) = app.user("ln_out").await;
    let c = app.direct(&a, &bu).await;
    let first = a
        .send_text(
            &c.id,
            "read https://a.example/x. and (https://b.example/y) twice https://a.example/x",
        )
        .await
        .expect("send");
    let second = b
        .send_text(&c.id, "http://c.example/?q=1, ok")
        .await
        .expect("send");
    b.send_text(&c.id, "no links, just ftp://d.example")
        .await
        .expect("send");

    let path = format!("/conversations/{}/links", c.id);
    let (code, page) = status(&b, "GET", &path, None).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(
        urls(&page),
        vec![
            "http://c.example/?q=1",
            "https://a.example/x",
            "https://b.example/y"
        ]
    );
    assert_eq!(page["next_cursor"], Value::Null);
    let newest = &page["links"][0];
    assert_eq!(newest["message_id"], second.id.as_str());
    assert_eq!(newest["seq"], second.seq);
    assert_eq!(newest["sender_id"], bu.id.as_str());
    assert!(newest["created_at"].is_string(), "{newest}");
    assert_eq!(page["links"][1]["sender_id"], au.id.as_str());

    // Pages of one cover the list once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{path}?limit=1&cursor={c}"),
            None => format!("{path}?limit=1"),
        };
        let (code, page) = status(&a, "GET", &q, None).await;
        assert_eq!(code, 200, "{page}");
        seen.extend(urls(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");

    a.edit_message(&first.id, "now only https://e.example/z")
        .await
        .expect("edit");
    b.delete_message(&second.id).await.expect("delete");
    let (_, page) = status(&a, "GET", &path, None).await;
    assert_eq!(
        urls(&page),
        vec!["https://e.example/z"],
        "edits replace, deletes remove"
    );

    let (code, body) = status(&outsider, "GET", &path, None).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (code, body) = status(&a, "GET", &format!("{path}?cursor=%%%"), None).await;
    assert_eq!(
        (code, body["error"]["details"]["field"].as_str()),
        (400, Some("cursor"))
    );
    let (code, _) = status(&a, "GET", "/conversations/nope/links", None).await;
    assert_eq!(code, 404);
    let r = app.client().raw("GET", &path, None).await.expect("raw");
    assert_eq!(r.status, 401, "no token");
}

#[tokio::test]
async fn media_and_files_lists_check_kind_membership_and_cursor() {
    let app = spawn_app().await;
    let (a, _) = app.user("ml_a").await;
    let (_, bu) = app.user("ml_b").await;
    let (outsider, _) = app.user("ml_out").await;
    let c = app.direct(&a, &bu).await;
    for q in [
        "",
        "?kind=image",
        "?kind=video",
        "?kind=audio",
        "?kind=file",
    ] {
        let (code, page) = status(
            &a,
            "GET",
            &format!("/conversations/{}/media{q}", c.id),
            None,
        )
        .await;
        assert_eq!(code, 200, "{q}: {page}");
        assert_eq!(page["media"], json!([]));
        assert_eq!(page["next_cursor"], Value::Null);
    }
    let (code, page) = status(&a, "GET", &format!("/conversations/{}/files", c.id), None).await;
    assert_eq!((code, &page["files"]), (200, &json!([])));
    let (code, body) = status(
        &a,
        "GET",
        &format!("/conversations/{}/media?kind=pdf", c.id),
        None,
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(body["error"]["details"]["field"], "kind");
    for path in ["media", "files"] {
        let (code, _) = status(
            &outsider,
            "GET",
            &format!("/conversations/{}/{path}", c.id),
            None,
        )
        .await;
        assert_eq!(code, 404, "{path}: non-members get not_found");
        let (code, body) = status(
            &a,
            "GET",
            &format!("/conversations/{}/{path}?limit=0", c.id),
            None,
        )
        .await;
        assert_eq!(
            (code, body["error"]["details"]["field"].as_str()),
            (400, Some("limit"))
        );
    }
}

#[tokio::test]
async fn attachments_must_be_the_senders_own_uploads_and_are_refused_cleanly() {
    let app = spawn_app().await;
    let (a, _) = app.user("at_a").await;
    let (_, bu) = app.user("at_b").await;
    let c = app.direct(&a, &bu).await;
    let path = format!("/conversations/{}/messages", c.id);
    let unknown = "01234567-89ab-7def-8123-456789abcdef";
    let cases = [
        (
            json!({"client_id": "x1", "attachments": [unknown]}),
            404,
            "not_found",
            "attachments",
        ),
        (
            json!({"client_id": "x2", "text": "hi", "attachments": ["../etc"]}),
            404,
            "not_found",
            "attachments",
        ),
        (
            json!({"client_id": "x3", "attachments": [unknown, unknown]}),
            400,
            "invalid_request",
            "attachments",
        ),
        (
            json!({"client_id": "x4", "attachments": (0..11).map(|i| format!("{unknown}{i}")).collect::<Vec<_>>()}),
            400,
            "invalid_request",
            "attachments",
        ),
        (
            json!({"client_id": "x6", "attachments": []}),
            400,
            "invalid_request",
            "text",
        ),
        (json!({"client_id": "x7"}), 400, "invalid_request", "text"),
    ];
    for (body, code, error, field) in cases {
        let (got, reply) = status(&a, "POST", &path, Some(body.clone())).await;
        assert_eq!(got, code, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], error, "{body}: {reply}");
        assert_eq!(reply["error"]["details"]["field"], field, "{body}: {reply}");
    }
    let (got, reply) = status(
        &a,
        "POST",
        &path,
        Some(json!({"client_id": "x5", "attachments": [7]})),
    )
    .await;
    assert_eq!(
        (got, reply["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{reply}"
    );
    // `attachments: []` with text is a text message.
    let (m, created) = a
        .send_message(
            &c.id,
            &SendMessageRequest {
                client_id: "x8".into(),
                text: Some("plain".into()),
                attachments: Some(vec![]),
                reply_to: None,
            },
        )
        .await
        .expect("send");
    assert!(created);
    assert_eq!(m.kind, parley_protocol::MessageKind::Text);
    assert!(m.attachments.is_empty());
    let history = a.messages(&c.id, None, None, None).await.expect("history");
    assert_eq!(
        history
            .messages
            .iter()
            .filter(|m| m.client_id.as_deref() != Some("x8"))
            .filter(|m| m.kind != parley_protocol::MessageKind::System)
            .count(),
        0,
        "refused sends stored nothing"
    );

    // The gateway refuses the same way.
    let g = app.gateway(&a).await;
    let r = g
        .request(ClientFrame::MessageSend {
            reference: Some("r1".into()),
            conversation_id: c.id.clone(),
            client_id: "g1".into(),
            text: None,
            attachments: Some(vec![unknown.into()]),
            reply_to: None,
        })
        .await;
    assert_code(r, "not_found");
}

// ------------------------------------------------------------ uploads

use parley_media::fixtures;
use std::time::{Duration, Instant};

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

const BOUNDARY: &str = "parleytestboundary7MA4YWxk";

/// A multipart body: a `file` part (with `filename` and a client type the
/// server must ignore) and, optionally, a `name` part.
fn form(filename: &str, bytes: &[u8], name: Option<&str>) -> Vec<u8> {
    let mut b = Vec::new();
    if let Some(n) = name {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{n}\r\n")
                .as_bytes(),
        );
    }
    b.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(bytes);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

async fn request(
    app: &TestApp,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Reply {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", app.base_url));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    if let Some(b) = body {
        r = r.body(b);
    }
    let resp = r.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn upload(
    app: &TestApp,
    c: &parley_sdk::Client,
    filename: &str,
    bytes: &[u8],
    name: Option<&str>,
) -> Reply {
    let token = c.token().expect("token");
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    request(
        app,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/media",
        &[("content-type", &ct)],
        Some(form(filename, bytes, name)),
    )
    .await
}

async fn fetch(
    app: &TestApp,
    c: &parley_sdk::Client,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let token = c.token().expect("token");
    request(app, Some(&token), reqwest::Method::GET, path, headers, None).await
}

fn png(w: u32, h: u32) -> Vec<u8> {
    fixtures::png_of(&image::DynamicImage::ImageRgb8(fixtures::gradient(w, h)))
}

async fn send_with(
    c: &parley_sdk::Client,
    conv: &str,
    client_id: &str,
    ids: &[&str],
) -> parley_protocol::Message {
    c.send_message(
        conv,
        &SendMessageRequest {
            client_id: client_id.into(),
            text: None,
            attachments: Some(ids.iter().map(|s| s.to_string()).collect()),
            reply_to: None,
        },
    )
    .await
    .expect("send with attachments")
    .0
}

#[tokio::test]
async fn an_upload_is_served_with_its_headers_ranges_and_thumbnail_only_to_who_may_see_it() {
    let app = spawn_app().await;
    let (a, _) = app.user("up_a").await;
    let (b, bu) = app.user("up_b").await;
    let (outsider, _) = app.user("up_out").await;
    let c = app.direct(&a, &bu).await;
    let bytes = png(1000, 500);
    let r = upload(&app, &a, "beach.png", &bytes, None).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = r.json();
    let id = m["id"].as_str().expect("id").to_string();
    assert_eq!(
        (m["kind"].as_str(), m["mime"].as_str()),
        (Some("image"), Some("image/png"))
    );
    assert_eq!(
        (m["width"].as_u64(), m["height"].as_u64()),
        (Some(1000), Some(500))
    );
    assert_eq!(m["name"], "beach.png");
    assert_eq!(m["url"], format!("/api/v1/media/{id}"));
    assert_eq!(m["thumbnail_url"], format!("/api/v1/media/{id}/thumbnail"));
    assert_eq!(m["duration_ms"], Value::Null);
    let size = m["size"].as_u64().expect("size");

    let url = format!("/api/v1/media/{id}");
    let got = fetch(&app, &a, &url, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body.len() as u64, size);
    assert_eq!(got.header("content-type"), "image/png");
    assert_eq!(got.header("content-length"), size.to_string());
    assert_eq!(got.header("x-content-type-options"), "nosniff");
    assert_eq!(
        got.header("content-security-policy"),
        "sandbox; default-src 'none'"
    );
    assert_eq!(got.header("accept-ranges"), "bytes");
    assert_eq!(got.header("cache-control"), "private");
    assert_eq!(
        got.header("content-disposition"),
        "inline; filename=\"beach.png\""
    );
    let thumb = fetch(&app, &a, &format!("{url}/thumbnail"), &[]).await;
    assert_eq!(thumb.status, 200);
    let t = image::load_from_memory(&thumb.body).expect("thumbnail decodes");
    assert_eq!(
        (t.width(), t.height()),
        (320, 160),
        "longest side 320, aspect kept"
    );

    // Ranges: Safari's probe, a middle, a suffix, past the end, several.
    let probe = fetch(&app, &a, &url, &[("range", "bytes=0-1")]).await;
    assert_eq!(probe.status, 206);
    assert_eq!(probe.header("content-range"), format!("bytes 0-1/{size}"));
    assert_eq!(probe.body, got.body[..2]);
    let middle = fetch(&app, &a, &url, &[("range", "bytes=10-19")]).await;
    assert_eq!((middle.status, &middle.body[..]), (206, &got.body[10..20]));
    let tail = fetch(&app, &a, &url, &[("range", "bytes=-5")]).await;
    assert_eq!(
        (tail.status, &tail.body[..]),
        (206, &got.body[got.body.len() - 5..])
    );
    let clamped = fetch(
        &app,
        &a,
        &url,
        &[("range", &format!("bytes=5-{}", size + 100))],
    )
    .await;
    assert_eq!(
        clamped.header("content-range"),
        format!("bytes 5-{}/{size}", size - 1)
    );
    let past = fetch(&app, &a, &url, &[("range", &format!("bytes={size}-"))]).await;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), format!("bytes */{size}"));
    assert_eq!(past.json()["error"]["code"], "range_not_satisfiable");
    let several = fetch(&app, &a, &url, &[("range", "bytes=0-1,5-6")]).await;
    assert_eq!((several.status, several.body.len() as u64), (200, size));
    let etag = got.header("etag").to_string();
    assert!(!etag.is_empty());
    let again = fetch(&app, &a, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);

    // Who may read it: the uploader; members once a message attaches it.
    assert_eq!(
        fetch(&app, &b, &url, &[]).await.status,
        404,
        "not attached yet"
    );
    let msg = send_with(&a, &c.id, "att-1", &[&id]).await;
    assert_eq!(msg.kind, parley_protocol::MessageKind::Media);
    assert_eq!(msg.text, None);
    assert_eq!(msg.attachments[0]["id"], id.as_str());
    assert_eq!(fetch(&app, &b, &url, &[]).await.status, 200);
    assert_eq!(
        fetch(&app, &b, &format!("{url}/thumbnail"), &[])
            .await
            .status,
        200
    );
    for path in [
        url.clone(),
        format!("{url}/thumbnail"),
        format!("{url}/signed"),
    ] {
        assert_eq!(
            fetch(&app, &outsider, &path, &[]).await.status,
            404,
            "{path}: outsiders"
        );
        let anon = request(&app, None, reqwest::Method::GET, &path, &[], None).await;
        assert_eq!(anon.status, 401, "{path}: no token");
    }
    assert_eq!(
        fetch(
            &app,
            &a,
            "/api/v1/media/01234567-89ab-7def-8123-456789abcdef",
            &[]
        )
        .await
        .status,
        404
    );
    let (_, list) = status(&b, "GET", &format!("/conversations/{}/media", c.id), None).await;
    assert_eq!(list["media"][0]["id"], id.as_str());
    assert_eq!(list["media"][0]["message_id"], msg.id.as_str());

    // Signed URLs work without a token, for the user they were made for.
    let (code, signed) = status(&b, "GET", &format!("/media/{id}/signed"), None).await;
    assert_eq!(code, 200, "{signed}");
    let surl = signed["url"].as_str().expect("url").to_string();
    let anon = request(&app, None, reqwest::Method::GET, &surl, &[], None).await;
    assert_eq!((anon.status, anon.body.len() as u64), (200, size));
    let sthumb = signed["thumbnail_url"]
        .as_str()
        .expect("thumbnail url")
        .to_string();
    assert_eq!(
        request(&app, None, reqwest::Method::GET, &sthumb, &[], None)
            .await
            .status,
        200
    );
    let tampered = surl.replace("sig=", "sig=00");
    assert_eq!(
        request(&app, None, reqwest::Method::GET, &tampered, &[], None)
            .await
            .status,
        404
    );
    let other_user = surl.replace(&bu.id, "someone-else");
    assert_eq!(
        request(&app, None, reqwest::Method::GET, &other_user, &[], None)
            .await
            .status,
        404
    );
    let thumb_with_main_sig = sthumb.replace(
        &sthumb[sthumb.find("sig=").unwrap_or(0)..],
        &surl[surl.find("sig=").unwrap_or(0)..],
    );
    assert_eq!(
        request(
            &app,
            None,
            reqwest::Method::GET,
            &thumb_with_main_sig,
            &[],
            None
        )
        .await
        .status,
        404
    );

    // Deleting the message detaches it: others lose access, the uploader keeps it.
    a.delete_message(&msg.id).await.expect("delete");
    assert_eq!(fetch(&app, &b, &url, &[]).await.status, 404);
    assert_eq!(
        request(&app, None, reqwest::Method::GET, &surl, &[], None)
            .await
            .status,
        404,
        "a signed URL is re-authorised"
    );
    assert_eq!(fetch(&app, &a, &url, &[]).await.status, 200);
}

#[tokio::test]
async fn hostile_and_bad_uploads_are_refused_or_made_inert() {
    let app = spawn_app_with(parley_server::config::Settings {
        rate_limits: Some("off".into()),
        media_other_bytes: Some(64 * 1024),
        ..Default::default()
    })
    .await;
    let (a, _) = app.user("hx_a").await;

    let started = Instant::now();
    let bomb = upload(
        &app,
        &a,
        "bomb.png",
        &fixtures::png_header_only(50_000, 50_000),
        None,
    )
    .await;
    assert_eq!(bomb.status, 413, "{}", String::from_utf8_lossy(&bomb.body));
    assert_eq!(bomb.json()["error"]["code"], "payload_too_large");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a bomb is refused from its header"
    );
    let frames = upload(
        &app,
        &a,
        "frames.gif",
        &fixtures::gif_frames(300, 300, 5000),
        None,
    )
    .await;
    assert_eq!(frames.status, 413, "thousands of frames are a bomb too");

    let html = upload(
        &app,
        &a,
        "x.png",
        b"<html><script>alert(1)</script></html>",
        None,
    )
    .await;
    assert_eq!(html.status, 201);
    let h = html.json();
    assert_eq!(
        (h["kind"].as_str(), h["mime"].as_str()),
        (Some("file"), Some("text/plain; charset=utf-8"))
    );
    let served = fetch(&app, &a, h["url"].as_str().unwrap_or(""), &[]).await;
    assert_eq!(served.header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(
        served.header("content-disposition"),
        "attachment; filename=\"x.png\""
    );
    let svg = upload(
        &app,
        &a,
        "s.svg",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
        Some("Pic \u{e9}t\u{e9}.svg"),
    )
    .await;
    assert_eq!(svg.status, 201);
    let s = svg.json();
    assert_eq!(s["mime"], "text/plain; charset=utf-8");
    assert_eq!(
        s["name"], "Pic \u{e9}t\u{e9}.svg",
        "the name part wins over the filename"
    );
    let served = fetch(&app, &a, s["url"].as_str().unwrap_or(""), &[]).await;
    assert_eq!(
        served.header("content-disposition"),
        "attachment; filename=\"Pic _t_.svg\"; filename*=UTF-8''Pic%20%C3%A9t%C3%A9%2Esvg"
    );

    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
        .collect();
    let r = upload(&app, &a, "r.bin", &random, None).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let truncated = fixtures::jpeg_of(&fixtures::gradient(64, 64));
    let r = upload(&app, &a, "t.jpg", &truncated[..100], None).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = upload(&app, &a, "e.txt", b"", None).await;
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("file"))
    );
    let big = vec![b'a'; 200 * 1024];
    let r = upload(&app, &a, "big.txt", &big, None).await;
    assert_eq!(r.status, 413, "over the configured limit");
    assert_eq!(r.json()["error"]["details"]["field"], "file");
    let token = a.token().expect("token");
    let r = request(
        &app,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/media",
        &[("content-type", "application/json")],
        Some(b"{}".to_vec()),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("file"))
    );
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let only_name = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    );
    let r = request(
        &app,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/media",
        &[("content-type", &ct)],
        Some(only_name.into_bytes()),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("file"))
    );
    let r = upload(&app, &a, "n.txt", b"hello", Some("bad\u{7}name")).await;
    assert_eq!(
        (r.status, r.json()["error"]["details"]["field"].as_str()),
        (400, Some("name"))
    );
    let tmp = app.dir.path().join("media").join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "refused uploads leave nothing behind: {left:?}"
    );

    // Photos lose their metadata (GPS included); orientation is applied.
    let photo = fixtures::jpeg_with_metadata(&fixtures::gradient(40, 20), Some(6));
    let r = upload(&app, &a, "photo.jpg", &photo, None).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let p = r.json();
    assert_eq!(
        (p["width"].as_u64(), p["height"].as_u64()),
        (Some(20), Some(40)),
        "shown upright"
    );
    let served = fetch(&app, &a, p["url"].as_str().unwrap_or(""), &[]).await;
    for marker in [
        &b"GPSMARKER"[..],
        b"XMPMARKER",
        b"IPTCMARKER",
        b"COMMENTMARKER",
        b"Exif",
    ] {
        assert!(
            !served.body.windows(marker.len()).any(|w| w == marker),
            "{} is gone",
            String::from_utf8_lossy(marker)
        );
    }
    assert_eq!(
        served.body.len() as u64,
        p["size"].as_u64().unwrap_or(0),
        "size is the bytes served"
    );
    let img = image::load_from_memory(&served.body).expect("served photo decodes");
    assert_eq!((img.width(), img.height()), (20, 40));
    let upright = fixtures::jpeg_with_metadata(&fixtures::gradient(40, 20), None);
    let r = upload(&app, &a, "upright.jpg", &upright, None).await;
    let u = r.json();
    assert_eq!(
        (u["width"].as_u64(), u["height"].as_u64()),
        (Some(40), Some(20))
    );
    let served = fetch(&app, &a, u["url"].as_str().unwrap_or(""), &[]).await;
    assert!(
        !served.body.windows(9).any(|w| w == b"GPSMARKER"),
        "stripped without re-encoding"
    );
}

/// A process's resident set, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_large_upload_streams_to_disk_without_growing_memory() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The server in a process of its own, so that no other test's
    // allocations count.
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(dir.path(), &[]);
    let pid = server.child.id();
    let a = parley_sdk::Client::new(&server.base_url).expect("client");
    a.register(&unique("big_a"), PASSWORD, None)
        .await
        .expect("register");
    let token = a.token().expect("token");
    let addr = server.base_url.trim_start_matches("http://").to_string();
    // 80 MiB: an MP4 header, then zeros, written in 64 KiB chunks over a
    // raw socket (the client holds one chunk at a time).
    const TOTAL: usize = 80 * 1024 * 1024;
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let mut ftyp = vec![0, 0, 0, 24];
    ftyp.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    let length = head.len() + TOTAL + tail.len();
    let mut sock = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let before = rss_kib(pid);
    sock.write_all(
        format!(
            "POST /api/v1/media HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{head}"
        )
        .as_bytes(),
    )
    .await
    .expect("head");
    sock.write_all(&ftyp).await.expect("ftyp");
    let chunk = vec![0u8; 64 * 1024];
    let mut sent = ftyp.len();
    let mut peak = before;
    while sent < TOTAL {
        let n = chunk.len().min(TOTAL - sent);
        sock.write_all(&chunk[..n]).await.expect("body");
        sent += n;
        if sent % (4 * 1024 * 1024) < chunk.len() {
            peak = peak.max(rss_kib(pid));
        }
    }
    sock.write_all(tail.as_bytes()).await.expect("tail");
    let mut reply = Vec::new();
    sock.read_to_end(&mut reply).await.expect("reply");
    peak = peak.max(rss_kib(pid));
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.starts_with("HTTP/1.1 201"),
        "{}",
        &reply[..reply.len().min(400)]
    );
    assert!(reply.contains("\"mime\":\"video/mp4\""), "{reply}");
    assert!(reply.contains(&format!("\"size\":{TOTAL}")), "{reply}");
    assert!(before > 0, "RSS is readable");
    let grew_mib = peak.saturating_sub(before) / 1024;
    assert!(
        grew_mib < 32,
        "RSS grew by {grew_mib} MiB for an 80 MiB upload"
    );
}

#[tokio::test]
async fn an_upload_that_stalls_is_ended_and_leaves_nothing_behind() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProcess::start(dir.path(), &["--idle-timeout", "1"]);
    let a = parley_sdk::Client::new(&server.base_url).expect("client");
    a.register(&unique("stall_a"), PASSWORD, None)
        .await
        .expect("register");
    let token = a.token().expect("token");
    let addr = server.base_url.trim_start_matches("http://").to_string();
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\n\r\n"
    );
    // Announces a megabyte, sends 64 KiB of it, then nothing.
    let length = head.len() + 1024 * 1024;
    let mut sock = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    sock.write_all(
        format!(
            "POST /api/v1/media HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n{head}"
        )
        .as_bytes(),
    )
    .await
    .expect("head");
    sock.write_all(&vec![b'a'; 64 * 1024]).await.expect("body");
    let tmp = dir.path().join("media").join("tmp");
    let in_tmp = || {
        std::fs::read_dir(&tmp)
            .map(|d| d.flatten().count())
            .unwrap_or(0)
    };
    // The upload is in progress: its temporary file exists.
    let mut seen = false;
    for _ in 0..50 {
        if in_tmp() > 0 {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen, "the upload's temporary file exists while it streams");
    let started = std::time::Instant::now();
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), sock.read(&mut reply))
        .await
        .expect("the server answers a stalled upload within the idle timeout")
        .expect("read");
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("stalled"), "{reply}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "ended after {:?}",
        started.elapsed()
    );
    assert_eq!(in_tmp(), 0, "the stalled upload's file is removed");
}

#[tokio::test]
async fn a_browser_escaped_file_name_is_stored_as_the_user_named_it() {
    let app = spawn_app().await;
    let (a, _) = app.user("esc_a").await;
    // What Chromium sends for a file named `say "hi".txt`.
    let r = upload(&app, &a, "say %22hi%22%0A.txt", b"hello", None).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["name"].as_str(), Some("say \"hi\".txt"));
    // Other percent sequences are the user's own text.
    let r = upload(&app, &a, "100%25 done.txt", b"hello", None).await;
    assert_eq!(r.json()["name"].as_str(), Some("100%25 done.txt"));
}

/// `PATCH /users/me {avatar_media_id}`, which must succeed: the profile.
async fn set_avatar(c: &parley_sdk::Client, media_id: &str) -> Value {
    let (code, me) = status(
        c,
        "PATCH",
        "/users/me",
        Some(json!({"avatar_media_id": media_id})),
    )
    .await;
    assert_eq!(code, 200, "{me}");
    me
}

#[tokio::test]
async fn an_avatar_is_a_square_public_copy_of_the_users_own_image() {
    let app = spawn_app().await;
    let (a, au) = app.user("av_a").await;
    let (b, _) = app.user("av_b").await;
    let photo = upload(&app, &a, "me.png", &png(800, 400), None).await;
    assert_eq!(photo.status, 201);
    let photo_id = photo.json()["id"].as_str().expect("id").to_string();

    let me = set_avatar(&a, &photo_id).await;
    let avatar_url = me["avatar_url"].as_str().expect("avatar_url").to_string();
    assert!(avatar_url.starts_with("/api/v1/media/"), "{avatar_url}");
    assert!(
        !avatar_url.contains(&photo_id),
        "a copy, not the photo itself"
    );

    // Anyone's <img> loads it without a token (browsers send none): a
    // square cut from the thumbnail (320 x 160 -> 160 x 160).
    let anon = request(&app, None, reqwest::Method::GET, &avatar_url, &[], None).await;
    assert_eq!(anon.status, 200);
    let img = image::load_from_memory(&anon.body).expect("an image");
    assert_eq!((img.width(), img.height()), (160, 160));
    assert_eq!(
        anon.headers
            .get("x-content-type-options")
            .map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    // Other users see it in the profile and can load it with their token.
    let (_, seen) = status(&b, "GET", &format!("/users/{}", au.id), None).await;
    assert_eq!(seen["avatar_url"], avatar_url.as_str());
    assert_eq!(fetch(&app, &b, &avatar_url, &[]).await.status, 200);

    // The photo itself stays private: no token 401, another user 404.
    let original = format!("/api/v1/media/{photo_id}");
    let no_token = request(&app, None, reqwest::Method::GET, &original, &[], None).await;
    assert_eq!(no_token.status, 401);
    assert_eq!(fetch(&app, &b, &original, &[]).await.status, 404);
    // Without a token, an unknown id answers as a private one does.
    let unknown = request(
        &app,
        None,
        reqwest::Method::GET,
        "/api/v1/media/0000000000000000000000000000",
        &[],
        None,
    )
    .await;
    assert_eq!(unknown.status, 401);

    // Someone else's upload: not_found, and b's profile is unchanged.
    let (code, err) = status(
        &b,
        "PATCH",
        "/users/me",
        Some(json!({"avatar_media_id": photo_id})),
    )
    .await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (_, b_me) = status(&b, "GET", "/users/me", None).await;
    assert!(b_me["avatar_url"].is_null(), "{b_me}");

    // Not an image, or both fields: invalid_request, nothing changes.
    let pdf = upload(
        &app,
        &a,
        "cv.pdf",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        None,
    )
    .await;
    assert_eq!(pdf.status, 201, "{}", String::from_utf8_lossy(&pdf.body));
    let pdf_id = pdf.json()["id"].as_str().expect("id").to_string();
    for body in [
        json!({"avatar_media_id": pdf_id}),
        json!({"avatar_media_id": photo_id, "avatar_url": ""}),
    ] {
        let (code, err) = status(&a, "PATCH", "/users/me", Some(body)).await;
        assert_eq!(code, 400, "{err}");
        assert_eq!(err["error"]["code"], "invalid_request");
        assert_eq!(err["error"]["details"]["field"], "avatar_media_id");
    }
    // Empty, wrong-typed, huge and unknown ids: refused, nothing changes.
    let huge = "x".repeat(10_000);
    for (body, want) in [
        (json!({"avatar_media_id": ""}), 404),
        (json!({"avatar_media_id": 5}), 400),
        (json!({"avatar_media_id": null, "bogus": 1}), 400),
        (json!({"avatar_media_id": huge}), 404),
        (
            json!({"avatar_media_id": "0000000000000000000000000000"}),
            404,
        ),
    ] {
        let (code, err) = status(&a, "PATCH", "/users/me", Some(body.clone())).await;
        assert_eq!(code, want, "{body}: {err}");
        assert!(err["error"]["code"].is_string(), "{err}");
    }
    let (_, still) = status(&a, "GET", "/users/me", None).await;
    assert_eq!(still["avatar_url"], avatar_url.as_str());

    // A new avatar replaces the old one, which stops being served.
    let me = set_avatar(&a, &photo_id).await;
    let newer = me["avatar_url"].as_str().expect("avatar_url").to_string();
    assert_ne!(newer, avatar_url);
    let old = request(&app, None, reqwest::Method::GET, &avatar_url, &[], None).await;
    assert_eq!(old.status, 401, "the replaced avatar is gone");
    assert_eq!(fetch(&app, &a, &avatar_url, &[]).await.status, 404);
    let new = request(&app, None, reqwest::Method::GET, &newer, &[], None).await;
    assert_eq!(new.status, 200);
    // Clearing the avatar retires it too.
    let (code, me) = status(&a, "PATCH", "/users/me", Some(json!({"avatar_url": ""}))).await;
    assert_eq!(code, 200, "{me}");
    assert!(me["avatar_url"].is_null(), "{me}");
    assert_eq!(fetch(&app, &a, &newer, &[]).await.status, 404);
}

/// `has:image` and `has:file` (protocol.md §13) find messages by the kind
/// of what they attach, with or without a caption, and forget it when the
/// message is deleted.
async fn search_finds_attachments_by_kind(backend: Backend) {
    let app = spawn_app_with(parley_server::config::Settings {
        database_url: backend.database_url(),
        ..Default::default()
    })
    .await;
    let (a, _) = app.user("sh_a").await;
    let (_b, bu) = app.user("sh_b").await;
    let c = app.direct(&a, &bu).await;
    let r = upload(&app, &a, "beach.png", &png(40, 20), None).await;
    assert_eq!(r.status, 201);
    let image = r.json()["id"].as_str().expect("id").to_string();
    let r = upload(&app, &a, "notes.txt", b"hello", None).await;
    assert_eq!(r.status, 201);
    let file = r.json()["id"].as_str().expect("id").to_string();
    let photo = a
        .send_message(
            &c.id,
            &SendMessageRequest {
                client_id: "sh1".into(),
                text: Some("holiday photo".into()),
                attachments: Some(vec![image]),
                reply_to: None,
            },
        )
        .await
        .expect("send")
        .0;
    let notes = send_with(&a, &c.id, "sh2", &[&file]).await;
    a.send_text(&c.id, "a holiday without pictures")
        .await
        .expect("send");
    let ids = |v: &Value| -> Vec<String> {
        v["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["message"]["id"].as_str().expect("id").to_string())
            .collect()
    };
    let search = |q: &'static str| {
        let a = a.clone();
        async move {
            let (code, v) = status(
                &a,
                "GET",
                &format!("/search/messages?q={}", query_escape(q)),
                None,
            )
            .await;
            assert_eq!(code, 200, "{v}");
            v
        }
    };
    assert_eq!(ids(&search("has:image").await), [photo.id.as_str()]);
    assert_eq!(ids(&search("holiday has:image").await), [photo.id.as_str()]);
    assert_eq!(ids(&search("has:file").await), [notes.id.as_str()]);
    assert_eq!(ids(&search("holiday").await).len(), 2);
    assert!(ids(&search("has:file has:image").await).is_empty());
    a.delete_message(&photo.id).await.expect("delete");
    assert!(
        ids(&search("has:image").await).is_empty(),
        "a tombstone attaches nothing"
    );
}

on_both_backends!(search_finds_attachments_by_kind);

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                found.push(p);
            }
        }
    }
    found
}

/// Retention (protocol.md §13): the media of an expired message are
/// deleted, bytes and thumbnail, and no longer served to anyone; media a
/// live message still attaches stay.
#[tokio::test]
async fn retention_deletes_the_files_of_expired_messages() {
    const SECRET: &str = "media-retention-secret-media-retention-secret";
    let app = spawn_app_with(parley_server::config::Settings {
        rate_limits: Some("off".into()),
        external_jwt_alg: Some("HS256".into()),
        external_jwt_secret: Some(SECRET.into()),
        retention_message_days: Some(30),
        ..Default::default()
    })
    .await;
    let root = app
        .client()
        .with_token(&platform_token(SECRET, "media-ret-root", "admin"));
    root.me().await.expect("admin");
    let (a, _) = app.user("mret_a").await;
    let (b, bu) = app.user("mret_b").await;
    let c = app.direct(&a, &bu).await;
    let r = upload(&app, &a, "old.png", &png(400, 300), None).await;
    assert_eq!(r.status, 201);
    let id = r.json()["id"].as_str().expect("id").to_string();
    send_with(&a, &c.id, "mret-1", &[&id]).await;
    let path = format!("/api/v1/media/{id}");
    assert_eq!(fetch(&app, &b, &path, &[]).await.status, 200);
    let media_dir = app.dir.path().join("media");
    let stored = |id: &str| {
        files_under(&media_dir)
            .iter()
            .filter(|p| p.to_string_lossy().contains(id))
            .count()
    };
    assert!(stored(&id) >= 1, "the upload is on disk");

    let later =
        parley_protocol::Timestamp(parley_protocol::Timestamp::now().millis() + 31 * 86_400_000);
    let body = json!({ "now": later.to_string() }).to_string();
    let r = root
        .raw("POST", "/admin/retention/run", Some(&body))
        .await
        .expect("run");
    assert_eq!(
        (r.status, &r.json["tombstoned"]),
        (200, &json!(1)),
        "{}",
        r.json
    );
    for who in [&a, &b] {
        assert_eq!(
            fetch(&app, who, &path, &[]).await.status,
            404,
            "an expired message's media is gone for everyone"
        );
    }
    assert_eq!(stored(&id), 0, "its bytes and thumbnail are deleted");
    let (status, list) = {
        let r = fetch(
            &app,
            &a,
            &format!("/api/v1/conversations/{}/media", c.id),
            &[],
        )
        .await;
        (r.status, r.json())
    };
    assert_eq!(status, 200);
    assert_eq!(list["media"], json!([]), "{list}");
}
