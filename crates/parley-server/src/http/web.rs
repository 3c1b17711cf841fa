//! The web client: static files embedded in the binary (no build step) and
//! served at `/` with a strict Content-Security-Policy. `--web-dir` serves
//! them from a folder instead.

use std::borrow::Cow;
use std::path::{Component, Path};

use crate::app::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use parley_web::ASSETS as WEB;

/// Scripts and styles only from this origin, no inline script, no plugins,
/// no framing; the gateway is reached on this origin too.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; \
     connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub async fn serve(State(state): State<AppState>, uri: Uri) -> Response {
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
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
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
