//! The REST API: routes, middleware (request ids, tracing, body limits)
//! and the OpenAPI document generated from the handlers' annotations.

mod admin;
mod auth;
mod blocks;
mod chat_state;
mod conversations;
mod cursor;
mod email;
mod export;
pub mod extract;
mod media;
mod message_marks;
mod messages;
mod notifications;
mod openapi;
mod ops;
mod push;
mod reactors;
mod retention;
mod search;
mod support;
mod users;
mod web;
mod webhooks;

use crate::app::AppState;
use crate::error::AppError;
use crate::gateway;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parley_protocol::{ApiError, ErrorBody, ErrorCode};
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Parley", description = "Parley chat server REST API (protocol version 1). The WebSocket gateway is at GET /api/v1/gateway."),
    servers((url = "/api/v1")),
    components(schemas(ErrorBody, ApiError, ErrorCode, parley_protocol::AuditEntry)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The API routes and the OpenAPI document describing exactly them.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(users::me, users::update_me))
        .routes(routes!(notifications::prefs, notifications::update_prefs))
        .routes(routes!(email::confirm, email::unsubscribe))
        .routes(routes!(push::vapid_public_key))
        .routes(routes!(push::subscribe, push::list, push::unsubscribe))
        .routes(routes!(users::user))
        .routes(routes!(users::search))
        .routes(routes!(conversations::create, conversations::list))
        .routes(routes!(conversations::unread))
        .routes(routes!(conversations::get, conversations::update))
        .routes(routes!(conversations::members, conversations::add_members))
        .routes(routes!(
            conversations::remove_member,
            conversations::change_role
        ))
        .routes(routes!(conversations::read))
        .routes(routes!(conversations::mute))
        .routes(routes!(chat_state::pin))
        .routes(routes!(chat_state::archive))
        .routes(routes!(chat_state::list))
        .routes(routes!(message_marks::star))
        .routes(routes!(message_marks::hide))
        .routes(routes!(message_marks::marks))
        .routes(routes!(message_marks::starred))
        .routes(routes!(export::export))
        .routes(routes!(messages::send, messages::history))
        .routes(routes!(messages::events))
        .routes(routes!(messages::get, messages::edit, messages::delete))
        .routes(routes!(messages::context))
        .routes(routes!(messages::add_reaction, messages::remove_reaction))
        .routes(routes!(messages::receipts))
        .routes(routes!(reactors::list))
        .routes(routes!(media::upload))
        .routes(routes!(media::get))
        .routes(routes!(media::thumbnail))
        .routes(routes!(media::signed))
        .routes(routes!(media::media))
        .routes(routes!(media::files))
        .routes(routes!(media::links))
        .routes(routes!(search::messages))
        .routes(routes!(blocks::block, blocks::list))
        .routes(routes!(blocks::unblock, blocks::status))
        .routes(routes!(support::create_inbox, support::list_inboxes))
        .routes(routes!(support::get_inbox, support::update_inbox))
        .routes(routes!(support::put_agent, support::remove_agent))
        .routes(routes!(support::list_agents))
        .routes(routes!(support::queue))
        .routes(routes!(support::open))
        .routes(routes!(support::get_status, support::set_status))
        .routes(routes!(support::mine))
        .routes(routes!(support::claim))
        .routes(routes!(support::transfer))
        .routes(routes!(support::resolve))
        .routes(routes!(support::reopen))
        .routes(routes!(support::note))
        .routes(routes!(gateway::ticket))
        .routes(routes!(admin::delete_message))
        .routes(routes!(admin::ban, admin::unban))
        .routes(routes!(admin::audit))
        .routes(routes!(retention::run))
        .routes(routes!(export::compliance))
        .routes(routes!(retention::get, retention::set))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .split_for_parts();
    let mut doc = doc;
    openapi::complete_all(&mut doc);
    (router, doc)
}

/// The OpenAPI document, as served at `/api/v1/openapi.json`.
pub fn openapi_json() -> String {
    let (_, doc) = api();
    doc.to_pretty_json().unwrap_or_else(|_| "{}".into())
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = api();
    let doc = Arc::new(doc.to_pretty_json().unwrap_or_else(|_| "{}".into()));
    let api = api
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        doc.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/gateway", get(gateway::upgrade))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let body_limit = state.config.limits.body_bytes;
    // With a listener of its own, /metrics is not on this one.
    let metrics = match state.config.metrics_listen {
        None => get(ops::metrics),
        Some(_) => get(not_found),
    };
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", metrics)
        .fallback(web::serve)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(bounded_head))
        .layer(axum::middleware::map_response(json_charset))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(client_request_id))
}

/// `/metrics` alone, for `--metrics-listen`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::map_response(json_charset))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(client_request_id))
}

/// A client's `x-request-id` is kept (echoed, logged) only if it is 1-128
/// visible ASCII characters; otherwise it is dropped and one is generated.
async fn client_request_id<B>(mut req: Request<B>) -> Request<B> {
    if req
        .headers()
        .get(&REQUEST_ID)
        .is_some_and(|v| !parley_domain::input::is_short_token(v.as_bytes()))
    {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

/// The longest request target (path and query) we take; a common reverse
/// proxy default.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes (names and values) we take.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// 414 and 431, in the error shape, for requests hyper took but we will
/// not (hyper answers larger ones itself: `net::error_bodies`).
async fn bounded_head(req: Request<axum::body::Body>, next: axum::middleware::Next) -> Response {
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    let refused = if uri > MAX_URI_BYTES {
        Some((
            StatusCode::URI_TOO_LONG,
            format!("the request URI is longer than {MAX_URI_BYTES} bytes"),
        ))
    } else if headers > MAX_HEADER_BYTES {
        Some((
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
        ))
    } else {
        None
    };
    match refused {
        Some((status, message)) => {
            let mut resp = AppError::PayloadTooLarge(message).into_response();
            *resp.status_mut() = status;
            resp
        }
        None => next.run(req).await,
    }
}

/// protocol.md §1: JSON bodies are `application/json; charset=utf-8`.
async fn json_charset(mut resp: Response) -> Response {
    let ct = axum::http::header::CONTENT_TYPE;
    if resp
        .headers()
        .get(&ct)
        .is_some_and(|v| v == "application/json")
    {
        resp.headers_mut().insert(
            ct,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    resp
}

async fn not_found() -> AppError {
    AppError::NotFound("route")
}

async fn method_not_allowed() -> Response {
    let body = ErrorBody {
        error: ApiError::new(ErrorCode::InvalidRequest, "method not allowed on this path"),
    };
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}
