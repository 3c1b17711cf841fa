//! The SDK's one error type.
//!
//! Server-side refusals keep the protocol's error body intact
//! ([`Error::Api`]) so that callers and tests switch on the stable
//! [`ErrorCode`], never on messages. Everything else says which layer failed:
//! the HTTP transport, decoding, the WebSocket, a close by the server, or a
//! timeout of ours.

use parley_protocol::{ApiError, ErrorCode};

/// Everything an SDK call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with the protocol's error shape: a non-2xx REST
    /// response, a refused gateway upgrade, or a gateway `error` reply.
    /// `retry_after` is in seconds (the `Retry-After` header, or
    /// `details.retry_after_ms` rounded up for gateway errors).
    #[error("{} (HTTP {status}): {}{}", error.code, error.message, RetryAfter(*retry_after))]
    Api {
        status: u16,
        error: ApiError,
        retry_after: Option<u64>,
    },
    /// The request never got a response: connection refused, reset, bad URL.
    #[error("HTTP transport error: {0}")]
    Http(String),
    /// A response or frame did not have the shape the protocol promises.
    #[error("unexpected response: {0}")]
    Decode(String),
    /// The WebSocket failed below the protocol (handshake, I/O, framing).
    #[error("gateway error: {0}")]
    Gateway(String),
    /// The gateway connection is closed. `code` is the close code the server
    /// sent, or 1006 when the connection ended without a close frame.
    #[error("gateway closed with code {code}: {reason}")]
    Closed { code: u16, reason: String },
    /// Our own deadline passed (a request, a reply, or a wait for a push).
    #[error("timed out")]
    Timeout,
}

/// `Result` with the SDK's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The protocol error code, when the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { error, .. } => Some(error.code),
            _ => None,
        }
    }

    /// The HTTP status of a server refusal (for gateway errors, the status
    /// that the error code maps to).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Builds [`Error::Api`] from a gateway `error` frame: there is no HTTP
    /// status on a WebSocket, so the code's status stands in, and the retry
    /// hint comes from `details.retry_after_ms`.
    pub(crate) fn from_gateway(error: ApiError) -> Error {
        let retry_after = error
            .details
            .get("retry_after_ms")
            .and_then(serde_json::Value::as_u64)
            .map(|ms| ms.div_ceil(1000));
        Error::Api {
            status: error.code.http_status(),
            error,
            retry_after,
        }
    }
}

/// Formats the optional retry hint of [`Error::Api`] only when present.
struct RetryAfter(Option<u64>);

impl std::fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(secs) => write!(f, " (retry after {secs} s)"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_errors_expose_code_and_status() {
        let e = Error::Api {
            status: 404,
            error: ApiError::new(ErrorCode::NotFound, "conversation not found"),
            retry_after: None,
        };
        assert_eq!(e.code(), Some(ErrorCode::NotFound));
        assert_eq!(e.status(), Some(404));
        assert_eq!(
            e.to_string(),
            "not_found (HTTP 404): conversation not found"
        );
        assert_eq!(Error::Timeout.code(), None);
    }

    #[test]
    fn gateway_errors_round_retry_hints_up_to_seconds() {
        let e = Error::from_gateway(
            ApiError::new(ErrorCode::RateLimited, "slow down")
                .with_details(json!({"retry_after_ms": 1500})),
        );
        match &e {
            Error::Api {
                status,
                retry_after,
                ..
            } => {
                assert_eq!(*status, 429);
                assert_eq!(*retry_after, Some(2));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(e.to_string().ends_with("(retry after 2 s)"), "{e}");
    }
}
