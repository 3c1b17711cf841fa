//! HTTP plumbing of the REST client: sending a request with the bearer
//! token, and turning a response into a typed body or an [`Error`].

use super::Client;
use crate::error::{Error, Result};
use parley_protocol::ErrorBody;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use url::Url;

/// Header the server echoes or assigns to every response (protocol.md §1).
const REQUEST_ID: &str = "x-request-id";

/// The `None` body of calls that send none (a typed `None` for generics).
pub(super) const NO_BODY: Option<&()> = None;

/// What [`Client::raw`] returns: everything a bad-input test asserts on.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// The body parsed as JSON; `Value::Null` when empty or not JSON.
    pub json: serde_json::Value,
    /// The `x-request-id` response header.
    pub request_id: Option<String>,
    /// The `Retry-After` response header, verbatim.
    pub retry_after: Option<String>,
    /// The body as text (lossy UTF-8).
    pub text: String,
}

/// A response read in full.
pub(super) struct Reply {
    pub(super) status: u16,
    request_id: Option<String>,
    retry_after: Option<String>,
    body: Vec<u8>,
}

/// Serializes a request body.
pub(super) fn encode<B: serde::Serialize>(body: &B) -> Result<Vec<u8>> {
    serde_json::to_vec(body).map_err(|e| Error::Decode(format!("cannot encode the body: {e}")))
}

impl Client {
    /// Sends one request (with the bearer token, if set) and reads the whole
    /// response. Only transport failures are errors here; statuses are
    /// judged by the caller.
    pub(super) async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<Reply> {
        let mut req = self.http.request(method, url);
        if let Some(token) = self.token() {
            req = req.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .body(body);
        }
        let resp = req.send().await.map_err(transport)?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header(REQUEST_ID);
        let retry_after = header(RETRY_AFTER.as_str());
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(transport)?.to_vec();
        Ok(Reply {
            status,
            request_id,
            retry_after,
            body,
        })
    }
}

/// Transport errors, with their cause chain (reqwest's own message is
/// often just "error sending request").
fn transport(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        return Error::Timeout;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Http(text)
}

impl Reply {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A 2xx body decoded as `T`, or the server's error.
    pub(super) fn decode<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        if !self.is_success() {
            return Err(self.into_error());
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Decode(format!(
                "HTTP {} body does not match the expected type: {e}; body: {}",
                self.status,
                snippet(&self.body)
            ))
        })
    }

    /// Success without a body to decode (204), or the server's error.
    pub(super) fn expect_success(self) -> Result<()> {
        if self.is_success() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    /// A non-2xx response as [`Error::Api`]. A body without the protocol's
    /// error shape is a server bug, reported as [`Error::Decode`] rather
    /// than dressed up as a code the server never sent.
    fn into_error(self) -> Error {
        decode_error(self.status, &self.body, self.retry_after.as_deref())
    }

    pub(super) fn into_raw(self) -> RawResponse {
        RawResponse {
            status: self.status,
            json: serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null),
            request_id: self.request_id,
            retry_after: self.retry_after,
            text: String::from_utf8_lossy(&self.body).into_owned(),
        }
    }
}

/// Decodes a non-2xx response into [`Error::Api`]; see [`Reply::into_error`].
pub(crate) fn decode_error(status: u16, body: &[u8], retry_after: Option<&str>) -> Error {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => Error::Api {
            status,
            error,
            retry_after: retry_after.and_then(|v| v.trim().parse().ok()),
        },
        Err(e) => Error::Decode(format!(
            "HTTP {status} without the protocol's error body ({e}): {}",
            snippet(body)
        )),
    }
}

/// The start of a body, for error messages.
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::ErrorCode;

    fn reply(status: u16, body: &str, retry_after: Option<&str>) -> Reply {
        Reply {
            status,
            request_id: Some("req-1".into()),
            retry_after: retry_after.map(str::to_owned),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn error_bodies_become_api_errors() {
        let body = r#"{"error":{"code":"rate_limited","message":"slow down","details":{"retry_after_ms":3000}}}"#;
        let err = reply(429, body, Some("3"))
            .decode::<serde_json::Value>()
            .expect_err("429 is an error");
        match err {
            Error::Api {
                status,
                error,
                retry_after,
            } => {
                assert_eq!(status, 429);
                assert_eq!(error.code, ErrorCode::RateLimited);
                assert_eq!(error.details["retry_after_ms"], 3000);
                assert_eq!(retry_after, Some(3));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn missing_details_are_tolerated() {
        let body = r#"{"error":{"code":"not_found","message":"no"}}"#;
        let err = reply(404, body, None).expect_success().expect_err("404");
        assert_eq!(err.code(), Some(ErrorCode::NotFound));
    }

    #[test]
    fn error_responses_without_the_shape_are_decode_errors() {
        let err = reply(405, "Method Not Allowed", None)
            .expect_success()
            .expect_err("405");
        match err {
            Error::Decode(text) => {
                assert!(text.contains("HTTP 405"), "{text}");
                assert!(text.contains("Method Not Allowed"), "{text}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn success_bodies_are_decoded_or_reported() {
        let v: serde_json::Value = reply(200, r#"{"a":1}"#, None).decode().expect("json");
        assert_eq!(v["a"], 1);
        let err = reply(200, "<html>", None)
            .decode::<serde_json::Value>()
            .expect_err("not json");
        assert!(matches!(err, Error::Decode(_)));
        assert!(reply(204, "", None).expect_success().is_ok());
    }

    #[test]
    fn raw_responses_keep_everything() {
        let raw = reply(
            400,
            r#"{"error":{"code":"invalid_request","message":"x"}}"#,
            None,
        )
        .into_raw();
        assert_eq!(raw.status, 400);
        assert_eq!(raw.json["error"]["code"], "invalid_request");
        assert_eq!(raw.request_id.as_deref(), Some("req-1"));
        let raw = reply(502, "bad gateway", Some("5")).into_raw();
        assert_eq!(raw.json, serde_json::Value::Null);
        assert_eq!(raw.text, "bad gateway");
        assert_eq!(raw.retry_after.as_deref(), Some("5"));
    }

    #[test]
    fn snippets_are_cut_on_char_boundaries() {
        let long = "é".repeat(400);
        let s = snippet(long.as_bytes());
        assert!(s.ends_with("..."));
        assert_eq!(s.chars().count(), 303);
    }
}
