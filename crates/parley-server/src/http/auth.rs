//! `/auth/*`: built-in accounts (protocol.md §2).

use super::extract::Json;
use crate::app::AppState;
use crate::auth::tokens::{random_token, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::ratelimit::Bucket;
use crate::store::{NewUser, RefreshTokenRow, RotateOutcome, UserRow};
use crate::{ids, validate};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parley_protocol::{
    AuthResponse, ErrorBody, LoginRequest, RefreshRequest, RegisterRequest, Role, Timestamp,
};
use std::net::SocketAddr;

async fn limit(state: &AppState, bucket: Bucket, key: &str) -> AppResult<()> {
    state.limiter.check(bucket, key).await.map_err(|wait| {
        crate::metrics::METRICS
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        AppError::RateLimited {
            retry_after_ms: wait.as_millis().max(1) as u64,
        }
    })
}

/// Issues an access token and a refresh token in `family`.
async fn session(
    state: &AppState,
    user: &UserRow,
    family: Option<String>,
) -> AppResult<AuthResponse> {
    let refresh = format!("rt_{}", random_token(32));
    let now = Timestamp::now();
    let row = RefreshTokenRow {
        token_hash: sha256_hex(&refresh),
        family_id: family.unwrap_or_else(ids::new_id),
        user_id: user.id.clone(),
        created_at: now,
        expires_at: Timestamp(now.millis() + state.config.refresh_token_ttl_secs as i64 * 1000),
    };
    state.store.insert_refresh_token(row).await?;
    Ok(AuthResponse {
        user: user.to_wire(),
        access_token: state.tokens.issue_access(&user.id, user.role)?,
        refresh_token: refresh,
        expires_in: state.tokens.access_ttl_secs,
    })
}

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = AuthResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(req): Json<RegisterRequest>,
) -> AppResult<impl IntoResponse> {
    if !state.config.registration_open {
        return Err(AppError::Forbidden(
            "registration is closed on this server".into(),
        ));
    }
    let username = validate::username(&req.username)?;
    validate::password(&req.password)?;
    let display_name = match &req.display_name {
        Some(d) => validate::label("display_name", d, 64)?,
        None => username.clone(),
    };
    limit(&state, Bucket::RegisterPerIp, &peer.ip().to_string()).await?;
    if state.store.user_by_username(&username).await?.is_some() {
        return Err(AppError::Conflict("username taken".into()));
    }
    let hash = state.passwords.hash(&req.password).await?;
    let user = state
        .store
        .create_user(NewUser {
            id: ids::new_id(),
            username,
            display_name,
            role: Role::User,
            password_hash: Some(hash),
            external_sub: None,
            avatar_url: None,
            is_bot: false,
            created_at: Timestamp::now(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(session(&state, &user, None).await?),
    ))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(req): Json<LoginRequest>,
) -> AppResult<axum::Json<AuthResponse>> {
    if req.password.chars().count() > 256 || req.username.len() > 256 {
        return Err(AppError::Unauthenticated("wrong username or password"));
    }
    let username = req.username.to_lowercase();
    limit(&state, Bucket::LoginPerIp, &peer.ip().to_string()).await?;
    limit(&state, Bucket::LoginPerUsername, &username).await?;
    let user = state.store.user_by_username(&username).await?;
    let ok = state
        .passwords
        .verify(
            user.as_ref().and_then(|u| u.password_hash.as_deref()),
            &req.password,
        )
        .await?;
    match (ok, user) {
        (true, Some(user)) => Ok(axum::Json(session(&state, &user, None).await?)),
        _ => Err(AppError::Unauthenticated("wrong username or password")),
    }
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> AppResult<axum::Json<AuthResponse>> {
    if req.refresh_token.len() > 256 {
        return Err(AppError::Unauthenticated("invalid refresh token"));
    }
    let next = format!("rt_{}", random_token(32));
    let now = Timestamp::now();
    let row = RefreshTokenRow {
        token_hash: sha256_hex(&next),
        family_id: String::new(),
        user_id: String::new(),
        created_at: now,
        expires_at: Timestamp(now.millis() + state.config.refresh_token_ttl_secs as i64 * 1000),
    };
    match state
        .store
        .rotate_refresh_token(&sha256_hex(&req.refresh_token), row)
        .await?
    {
        RotateOutcome::Rotated { user_id } => {
            let user = state
                .store
                .user_by_id(&user_id)
                .await?
                .ok_or(AppError::Unauthenticated("invalid refresh token"))?;
            Ok(axum::Json(AuthResponse {
                user: user.to_wire(),
                access_token: state.tokens.issue_access(&user.id, user.role)?,
                refresh_token: next,
                expires_in: state.tokens.access_ttl_secs,
            }))
        }
        RotateOutcome::Reused => {
            tracing::warn!("refresh token reused; family revoked");
            Err(AppError::Unauthenticated(
                "refresh token already used; sign in again",
            ))
        }
        RotateOutcome::Invalid => Err(AppError::Unauthenticated("invalid refresh token")),
    }
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204), (status = 400, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> AppResult<StatusCode> {
    if req.refresh_token.len() <= 256 {
        state
            .store
            .revoke_refresh_family(&sha256_hex(&req.refresh_token))
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
