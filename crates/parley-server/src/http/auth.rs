//! `/auth/*`: built-in accounts (protocol.md §2).

use super::extract::Json;
use crate::app::AppState;
use crate::error::AppResult;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parley_protocol::{AuthResponse, ErrorBody, LoginRequest, RefreshRequest, RegisterRequest};
use std::net::SocketAddr;

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = AuthResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(req): Json<RegisterRequest>,
) -> AppResult<impl IntoResponse> {
    let session = state.services.accounts.register(req, peer.ip()).await?;
    Ok((StatusCode::CREATED, axum::Json(session)))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(req): Json<LoginRequest>,
) -> AppResult<axum::Json<AuthResponse>> {
    Ok(axum::Json(
        state
            .services
            .accounts
            .login(&req.username, &req.password, peer.ip())
            .await?,
    ))
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> AppResult<axum::Json<AuthResponse>> {
    Ok(axum::Json(
        state.services.accounts.refresh(&req.refresh_token).await?,
    ))
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204), (status = 400, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> AppResult<StatusCode> {
    state.services.accounts.logout(&req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}
