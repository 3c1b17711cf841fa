//! Who is calling: built-in access tokens, external platform JWTs, API keys.

pub mod external;
pub mod password;
pub mod provisioned;
pub mod tokens;

use crate::app::AppState;
use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use parley_protocol::Role;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub role: Role,
    /// The session (refresh-token family) of the credential, if it has
    /// one; gateway tickets carry it on.
    pub session_id: Option<String>,
}

/// Extracts the Bearer credential of a request.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Axum extractor: the request's authenticated caller, or `unauthenticated`.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let credential = bearer(parts).ok_or(AppError::Unauthenticated(
            "missing Authorization: Bearer credential",
        ))?;
        state
            .services
            .accounts
            .authenticate(credential)
            .await
            .map(Auth)
    }
}
