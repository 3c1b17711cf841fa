//! Search routes (protocol.md §13).

use super::cursor;
use super::extract::Query;
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use axum::extract::State;
use parley_domain::search::{DEFAULT_LIMIT, MAX_LIMIT};
use parley_protocol::ErrorBody;
use parley_protocol::search::SearchPage;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    conversation_id: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

fn limit(raw: Option<&str>) -> AppResult<u32> {
    match raw {
        None | Some("") => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(AppError::invalid(
                "limit",
                "limit must be an integer from 1 to 100",
            )),
        },
    }
}

#[utoipa::path(get, path = "/search/messages", tag = "search",
    params(("q" = String, Query, description = "words, \"phrases\", -excluded, OR, from:, has:, before:, after: (protocol.md §13); at most 512 characters"),
        ("conversation_id" = Option<String>, Query), ("cursor" = Option<String>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = SearchPage, description = "the caller's visible messages that match, most relevant first, then newest"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn messages(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<SearchParams>,
) -> AppResult<axum::Json<SearchPage>> {
    let limit = limit(p.limit.as_deref())?;
    let after = cursor::decode_key(p.cursor.as_deref())?;
    let conversation = p.conversation_id.as_deref().filter(|c| !c.is_empty());
    let page = state
        .services
        .search
        .messages(
            &who.user_id,
            p.q.as_deref(),
            conversation,
            after.as_deref(),
            limit,
        )
        .await?;
    Ok(axum::Json(SearchPage {
        hits: page.hits,
        next_cursor: page.next.as_deref().map(cursor::encode_key),
    }))
}
