//! Who is calling: built-in access tokens, external platform JWTs, API keys.

pub mod external;
pub mod password;
pub mod provisioned;
pub mod tokens;

use crate::app::AppState;
use crate::error::AppError;
use crate::store::NewUser;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use parley_protocol::{Role, Timestamp};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub role: Role,
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

impl AppState {
    /// Resolves a Bearer credential of any kind to a principal.
    pub async fn authenticate(&self, credential: &str) -> Result<Principal, AppError> {
        if credential.len() > 8192 {
            return Err(AppError::Unauthenticated("invalid credentials"));
        }
        if credential.starts_with("pk_") {
            let hash = tokens::sha256_hex(credential);
            let user_id = self
                .store
                .api_key_user(&hash)
                .await?
                .ok_or(AppError::Unauthenticated("invalid API key"))?;
            let user = self
                .store
                .user_by_id(&user_id)
                .await?
                .ok_or(AppError::Unauthenticated("invalid API key"))?;
            return Ok(Principal {
                user_id: user.id,
                role: user.role,
            });
        }
        if let Some(s) = self.tokens.verify_access(credential) {
            return Ok(Principal {
                user_id: s.user_id,
                role: s.role,
            });
        }
        if let Some(verifier) = &self.external
            && let Some(claims) = verifier.verify(credential)
        {
            return self.provision_external(claims).await;
        }
        Err(AppError::Unauthenticated("invalid or expired token"))
    }

    async fn provision_external(&self, c: external::ExternalClaims) -> Result<Principal, AppError> {
        let role = c
            .roles
            .as_ref()
            .and_then(|roles| {
                [Role::Admin, Role::Agent]
                    .into_iter()
                    .find(|r| roles.iter().any(|x| x == r.as_str()))
            })
            .unwrap_or(Role::User);
        // A username from the subject: folded, invalid characters dropped.
        let mut username: String = c
            .sub
            .to_lowercase()
            .chars()
            .filter(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || *ch == '_' || *ch == '.')
            .take(32)
            .collect();
        if username.len() < 3 {
            username = format!("user_{}", &tokens::sha256_hex(&c.sub)[..10]);
        }
        let display_name = c
            .name
            .as_deref()
            .and_then(|n| crate::validate::label("name", n, 64).ok())
            .unwrap_or_else(|| username.clone());
        let avatar_url = c
            .picture
            .as_deref()
            .and_then(|p| crate::validate::url("picture", p).ok())
            .filter(|p| !p.is_empty());
        let profile = provisioned::profile(&display_name, avatar_url.as_deref(), role.as_str());
        if let Some(p) = self.external_users.get(&c.sub, &profile) {
            return Ok(p);
        }
        let sub = c.sub.clone();
        let user = self
            .store
            .upsert_external_user(NewUser {
                id: crate::ids::new_id(),
                username,
                display_name,
                role,
                password_hash: None,
                external_sub: Some(c.sub),
                avatar_url,
                is_bot: false,
                created_at: Timestamp::now(),
            })
            .await?;
        let principal = Principal {
            user_id: user.id,
            role: user.role,
        };
        self.external_users.insert(sub, profile, principal.clone());
        Ok(principal)
    }
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
        state.authenticate(credential).await.map(Auth)
    }
}
