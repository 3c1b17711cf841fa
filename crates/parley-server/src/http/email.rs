//! `/email/unsubscribe` (protocol.md §12, "Email digests"): the link in
//! every digest. `GET` (a person clicking it) shows a page with one
//! button; `POST` (that button, or a mail client's RFC 8058 one-click
//! request, body `List-Unsubscribe=One-Click`) turns email digests off.
//! Neither needs a session: the link's token is the credential.

use super::extract::Query;
use crate::app::AppState;
use crate::error::AppResult;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use parley_domain::digest::escape_html;
use parley_protocol::ErrorBody;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct UnsubscribeParams {
    user: String,
    token: String,
}

/// The page's own policy: nothing loads, the form posts only here, and
/// the token in the URL is not sent on as a referrer.
fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>"
    );
    let mut r = html.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[utoipa::path(get, path = "/email/unsubscribe", tag = "notifications",
    params(("user" = String, Query), ("token" = String, Query)),
    responses((status = 200, content_type = "text/html", body = String, description = "a page with a button that turns email digests off"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody, description = "not a link this server made")))]
pub async fn confirm(
    State(state): State<AppState>,
    Query(p): Query<UnsubscribeParams>,
) -> AppResult<Response> {
    let name = state.services.email.check(&p.user, &p.token).await?;
    Ok(page(
        "Turn off email digests",
        &format!(
            "<p>Parley emails {} a digest of unread messages.</p>\
             <form method=\"post\"><button type=\"submit\">Turn off email digests</button></form>",
            escape_html(&name)
        ),
    ))
}

#[utoipa::path(post, path = "/email/unsubscribe", tag = "notifications",
    params(("user" = String, Query), ("token" = String, Query)),
    responses((status = 200, content_type = "text/html", body = String, description = "email digests are off"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody, description = "not a link this server made")))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    Query(p): Query<UnsubscribeParams>,
) -> AppResult<Response> {
    state.services.email.unsubscribe(&p.user, &p.token).await?;
    Ok(page(
        "Email digests are off",
        "<p>You will get no more email digests. \
         You can turn them on again in Parley's notification settings.</p>",
    ))
}
