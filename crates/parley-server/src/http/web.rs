//! The web client: static files embedded in the binary (no build step) and
//! served at `/` with a strict Content-Security-Policy. `--web-dir` serves
//! them from a folder instead.

use std::borrow::Cow;
use std::path::{Component, Path};

use crate::app::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use parley_web::ASSETS as WEB;

/// Scripts and styles only from this origin, no inline script, no plugins,
/// no framing. Images from this origin (and `data:`/`blob:` previews) plus
/// the operator's avatar hosts; connections only to this origin and its
/// gateway (`ws:`/`wss:` spelled out, since older browsers do not count
/// them as `'self'`).
/// Should a policy not make a header value: this origin only.
const FALLBACK_CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn csp(state: &AppState, headers: &HeaderMap) -> String {
    let mut img = String::from("'self' data: blob:");
    for host in &state.config.avatar_hosts {
        img.push_str(" https://");
        img.push_str(host);
    }
    let mut connect = String::from("'self'");
    if let Some(ws) = gateway_origin(state, headers) {
        connect.push(' ');
        connect.push_str(&ws);
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src {img}; \
         media-src 'self' blob:; connect-src {connect}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// `ws(s)://host[:port]` of this server: from `public_url`, else from the
/// `Host` it was reached at (only host characters, so that nothing can be
/// injected into the policy).
fn gateway_origin(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(public) = &state.config.public_url {
        let u = url::Url::parse(public).ok()?;
        let scheme = if u.scheme() == "https" { "wss" } else { "ws" };
        let host = u.host_str()?;
        return Some(match u.port() {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        });
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then(|| format!("ws://{host}"))
}

pub async fn serve(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    // Only plain relative paths: no `..`, no absolute or drive prefixes.
    if !Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return crate::error::AppError::NotFound("file").into_response();
    }
    // Unknown paths that look like client routes get the app; files that do
    // not exist get 404.
    let is_route = !path.contains('.');
    let found = match &state.config.web_dir {
        Some(dir) => from_dir(dir, path, is_route).await,
        None => WEB
            .get_file(path)
            .or_else(|| is_route.then(|| WEB.get_file("index.html")).flatten())
            .map(|f| (f.path().to_path_buf(), Cow::Borrowed(f.contents()))),
    };
    let Some((file, body)) = found else {
        return crate::error::AppError::NotFound("file").into_response();
    };
    let mime = mime_guess::from_path(&file).first_or_octet_stream();
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.essence_str()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let policy = HeaderValue::from_str(&csp(&state, &headers))
        .unwrap_or_else(|_| HeaderValue::from_static(FALLBACK_CSP));
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn from_dir(
    dir: &Path,
    path: &str,
    is_route: bool,
) -> Option<(std::path::PathBuf, Cow<'static, [u8]>)> {
    let file = dir.join(path);
    match tokio::fs::read(&file).await {
        Ok(bytes) => Some((file, Cow::Owned(bytes))),
        Err(_) if is_route => {
            let index = dir.join("index.html");
            let bytes = tokio::fs::read(&index).await.ok()?;
            Some((index, Cow::Owned(bytes)))
        }
        Err(_) => None,
    }
}
