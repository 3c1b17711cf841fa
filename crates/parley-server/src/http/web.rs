//! The web client: static files embedded in the binary (no build step) and
//! served at `/` with a strict Content-Security-Policy.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

static WEB: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/web");

/// Scripts and styles only from this origin, no inline script, no plugins,
/// no framing; the gateway is reached on this origin too.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; \
     connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    // Unknown paths that look like client routes get the app; files that do
    // not exist get 404.
    let file = WEB.get_file(path).or_else(|| {
        (!path.contains('.'))
            .then(|| WEB.get_file("index.html"))
            .flatten()
    });
    let Some(file) = file else {
        return crate::error::AppError::NotFound("file").into_response();
    };
    let mime = mime_guess::from_path(file.path()).first_or_octet_stream();
    let mut resp = (StatusCode::OK, file.contents()).into_response();
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
