//! Extractors whose rejections speak the protocol's error shape (axum's
//! own answer in plain text), naming the offending field where possible.

use crate::error::AppError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Deserializes a parsed JSON value with the offending field's path in the
/// error (for bodies whose shape depends on a tag read first).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = strip_position(&e.into_inner().to_string());
        let field = (!path.is_empty() && path != ".")
            .then_some(path)
            .or_else(|| named_field(&message));
        AppError::Invalid { field, message }
    })
}

/// A JSON body.
pub struct Json<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.to_ascii_lowercase().ends_with("+json")
        })
        .unwrap_or(false)
}

fn not_json() -> AppError {
    AppError::Invalid {
        field: None,
        message: "expected Content-Type: application/json".into(),
    }
}

/// The body's bytes, bounded in size and in time.
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    // A slow client may not hold a request open forever.
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, Bytes::from_request(req, state))
        .await
        .map_err(|_| AppError::Invalid {
            field: None,
            message: "the request body took too long to arrive".into(),
        })?;
    read.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge("request body is too large".into())
        } else {
            AppError::Invalid {
                field: None,
                message: "could not read the request body".into(),
            }
        }
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(not_json());
        }
        parse_json(&body_bytes(req, state).await?).map(Json)
    }
}

/// A JSON body that may be left out entirely (then `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(&req);
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !json {
            return Err(not_json());
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// Parses one JSON object, mapping errors to `invalid_request` with the
/// field's path. Arrays, scalars and trailing data are refused: every body
/// and frame of the protocol is exactly one object.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AppError::Invalid {
            field: None,
            message: "expected one JSON object".into(),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = match inner.classify() {
            // serde_json reports a value of the wrong JSON type for an
            // enum (`"push": 1`) as a syntax error; well-formed JSON is a
            // type error at the path instead.
            serde_json::error::Category::Syntax
                if !path.is_empty()
                    && path != "."
                    && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() =>
            {
                "invalid value: not one of the allowed values".to_string()
            }
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                return AppError::Invalid {
                    field: None,
                    message: "malformed JSON".into(),
                };
            }
            _ => strip_position(&inner.to_string()),
        };
        let field = (!path.is_empty() && path != ".")
            .then_some(path)
            .or_else(|| named_field(&message));
        AppError::Invalid { field, message }
    })?;
    de.end().map_err(|_| AppError::Invalid {
        field: None,
        message: "unexpected data after the JSON object".into(),
    })?;
    Ok(value)
}

fn strip_position(s: &str) -> String {
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// The field serde names in "missing field `x`", "duplicate field `x`" or
/// "unknown field `x`" (paths are lost inside tagged enums).
fn named_field(message: &str) -> Option<String> {
    let rest = ["missing field `", "duplicate field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))?;
    Some(rest.split('`').next()?.to_string())
}

/// Path parameters.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_| AppError::NotFound("resource"))
    }
}

/// Query parameters.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                AppError::Invalid {
                    field: (!path.is_empty() && path != ".").then_some(path),
                    message: format!("invalid query: {}", e.into_inner()),
                }
            })
    }
}

/// `?limit=` within 1..=200, default 50.
pub fn page_limit(raw: Option<&str>) -> Result<u32, AppError> {
    match raw {
        None | Some("") => Ok(parley_protocol::limits::DEFAULT_PAGE),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=parley_protocol::limits::MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(AppError::invalid(
                "limit",
                "limit must be an integer from 1 to 200",
            )),
        },
    }
}

/// A non-negative seq given as a query string.
pub fn seq_param(field: &str, raw: Option<&str>) -> Result<Option<u64>, AppError> {
    match raw {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<u64>().map(Some).map_err(|_| {
            AppError::invalid(field, format!("{field} must be a non-negative integer"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    enum Choice {
        One,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        pick: Option<Choice>,
    }

    fn field_of(body: &str) -> (Option<String>, String) {
        match parse_json::<Body>(body.as_bytes()) {
            Err(AppError::Invalid { field, message }) => (field, message),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_wrongly_typed_enum_value_names_its_field_and_malformed_json_does_not() {
        assert!(parse_json::<Body>(br#"{"pick": "one"}"#).is_ok());
        assert_eq!(field_of(r#"{"pick": 1}"#).0.as_deref(), Some("pick"));
        assert_eq!(field_of(r#"{"pick": "two"}"#).0.as_deref(), Some("pick"));
        assert_eq!(
            field_of(r#"{"pick": tru}"#),
            (None, "malformed JSON".into())
        );
        assert_eq!(
            field_of(r#"{"pick": "one""#),
            (None, "malformed JSON".into())
        );
    }
}
