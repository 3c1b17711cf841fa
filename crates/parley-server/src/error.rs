//! The server's one error type, mapped once to the protocol's error shape.
//! Internal detail is logged (with the request id from the current span),
//! never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_domain::DomainError;
use parley_protocol::{ApiError, ErrorBody, ErrorCode};
use parley_store::StoreError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid request: {message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("blocked")]
    Blocked,
    /// A banned user's login (`forbidden`, `details.reason: "banned"`).
    #[error("banned")]
    Banned,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// `not_found` with `details.field`.
    #[error("{0} not found")]
    NotFoundIn(&'static str, &'static str),
    /// An upload over its limit: 413 with `details: {field: "file", limit_bytes}`.
    #[error("upload too large")]
    UploadTooLarge { limit_bytes: u64 },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 416 with `Content-Range: bytes */SIZE`.
    #[error("range not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    #[error("rate limited")]
    RateLimited { retry_after_ms: u64 },
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// `rate_limited` with the wait in whole milliseconds, at least 1.
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        AppError::RateLimited {
            retry_after_ms: (wait.as_nanos().div_ceil(1_000_000) as u64).max(1),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Invalid { .. } => ErrorCode::InvalidRequest,
            AppError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            AppError::Forbidden(_) => ErrorCode::Forbidden,
            AppError::Blocked => ErrorCode::Blocked,
            AppError::Banned => ErrorCode::Forbidden,
            AppError::NotFound(_) | AppError::NotFoundIn(..) => ErrorCode::NotFound,
            AppError::UploadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            AppError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            AppError::RangeNotSatisfiable { .. } => ErrorCode::RangeNotSatisfiable,
            AppError::Conflict(_) => ErrorCode::Conflict,
            AppError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::Unavailable(_) => ErrorCode::Unavailable,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The error as a client sees it. Logs what the client must not see.
    pub fn to_api(&self) -> ApiError {
        let code = self.code();
        match self {
            AppError::Invalid { field, message } => {
                let details = match field {
                    Some(f) => json!({ "field": f }),
                    None => json!({}),
                };
                ApiError::new(code, message.clone()).with_details(details)
            }
            AppError::Unauthenticated(m) => ApiError::new(code, *m),
            AppError::Forbidden(m) | AppError::Conflict(m) | AppError::PayloadTooLarge(m) => {
                ApiError::new(code, m.clone())
            }
            AppError::Blocked => ApiError::new(code, DomainError::Blocked.to_string()),
            AppError::Banned => ApiError::new(code, parley_domain::moderation::BANNED)
                .with_details(json!({ "reason": "banned" })),
            AppError::NotFound(what) => ApiError::new(code, format!("{what} not found")),
            AppError::NotFoundIn(what, field) => ApiError::new(code, format!("{what} not found"))
                .with_details(json!({ "field": field })),
            AppError::UploadTooLarge { limit_bytes } => ApiError::new(
                code,
                parley_domain::media::TooLarge {
                    limit_bytes: *limit_bytes,
                }
                .message(),
            )
            .with_details(json!({ "field": "file", "limit_bytes": limit_bytes })),
            AppError::UnsupportedMediaType => {
                ApiError::new(code, parley_domain::media::UNSUPPORTED)
            }
            AppError::RangeNotSatisfiable { size } => ApiError::new(
                code,
                format!("the range is outside the media's {size} bytes"),
            ),
            AppError::RateLimited { retry_after_ms } => {
                ApiError::new(code, "too many requests; slow down")
                    .with_details(json!({ "retry_after_ms": retry_after_ms }))
            }
            AppError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "dependency unavailable");
                ApiError::new(code, "a dependency is unavailable; try again shortly")
            }
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                ApiError::new(code, "internal error")
            }
        }
    }
}

/// The domain's refusals, with the text it wrote, in the protocol's codes.
impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => AppError::NotFound(what),
            DomainError::NotFoundIn { what, field } => AppError::NotFoundIn(what, field),
            DomainError::Blocked => AppError::Blocked,
            DomainError::Forbidden(m) => AppError::Forbidden(m.to_string()),
            DomainError::Conflict(m) => AppError::Conflict(m.to_string()),
            DomainError::TooLarge(m) => AppError::PayloadTooLarge(m.into_owned()),
            DomainError::Invalid { field, message } => AppError::Invalid {
                field: Some(field.into_owned()),
                message: message.into_owned(),
            },
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            StoreError::Unavailable(m) => AppError::Unavailable(m),
            StoreError::Internal(m) => AppError::Internal(m),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let api = self.to_api();
        let status = StatusCode::from_u16(api.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(ErrorBody { error: api })).into_response();
        if let AppError::RangeNotSatisfiable { size } = self
            && let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        if let AppError::RateLimited { retry_after_ms } = self {
            let secs = retry_after_ms.div_ceil(1000).max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

pub type AppResult<T> = Result<T, AppError>;
