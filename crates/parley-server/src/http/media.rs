//! Media routes (protocol.md §10): uploads, the bytes (with ranges, ETags
//! and signed URLs), and the per-conversation media, files and links lists.

use super::cursor;
use super::extract::{Path, Query, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppError;
use crate::error::AppResult;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parley_domain::media::MediaRow;
use parley_protocol::media::{FilesPage, LinksPage, MediaPage, SignedMedia};
use parley_protocol::{ErrorBody, Media, MediaKind};
use parley_store::{ListCursor, ListPage};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct ListParams {
    kind: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

impl ListParams {
    fn page(&self) -> AppResult<(Option<ListCursor>, u32)> {
        let limit = page_limit(self.limit.as_deref())?;
        let cursor = cursor::decode_position(self.cursor.as_deref())?
            .map(|(seq, position)| ListCursor { seq, position });
        Ok((cursor, limit))
    }
}

fn next_cursor<T>(page: &ListPage<T>) -> Option<String> {
    page.next
        .map(|c| cursor::encode_position(c.seq, c.position))
}

#[utoipa::path(get, path = "/conversations/{id}/media", tag = "media",
    params(("id" = String, Path),
        ("kind" = Option<String>, Query, description = "image, video, audio or file; default images and videos"),
        ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, body = MediaPage, description = "newest message first"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn media(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<ListParams>,
) -> AppResult<axum::Json<MediaPage>> {
    let (cursor, limit) = p.page()?;
    let page = state
        .services
        .media
        .media(&who.user_id, &id, p.kind.as_deref(), cursor, limit)
        .await?;
    Ok(axum::Json(MediaPage {
        next_cursor: next_cursor(&page),
        media: page.items,
    }))
}

#[utoipa::path(get, path = "/conversations/{id}/files", tag = "media",
    params(("id" = String, Path), ("cursor" = Option<String>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, body = FilesPage, description = "newest message first"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn files(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<ListParams>,
) -> AppResult<axum::Json<FilesPage>> {
    let (cursor, limit) = p.page()?;
    let page = state
        .services
        .media
        .files(&who.user_id, &id, cursor, limit)
        .await?;
    Ok(axum::Json(FilesPage {
        next_cursor: next_cursor(&page),
        files: page.items,
    }))
}

#[utoipa::path(get, path = "/conversations/{id}/links", tag = "media",
    params(("id" = String, Path), ("cursor" = Option<String>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, body = LinksPage, description = "newest message first"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn links(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<ListParams>,
) -> AppResult<axum::Json<LinksPage>> {
    let (cursor, limit) = p.page()?;
    let page = state
        .services
        .media
        .links(&who.user_id, &id, cursor, limit)
        .await?;
    Ok(axum::Json(LinksPage {
        next_cursor: next_cursor(&page),
        links: page.items,
    }))
}

/// Longest `name` part read (the rule allows 255 characters).
const NAME_PART_BYTES: usize = 4 * 255;

fn bad_form(e: impl std::fmt::Display) -> AppError {
    AppError::invalid(
        "file",
        format!("expected a multipart/form-data body with one file part ({e})"),
    )
}

/// A multipart `filename` as the user named the file. Browsers (the HTML
/// standard's form encoding) send `"`, CR and LF in it as `%22`, `%0D` and
/// `%0A`; these three are decoded (CR and LF are then dropped with every
/// other control character), anything else is kept as sent.
fn unescape_filename(raw: &str) -> String {
    raw.replace("%22", "\"")
        .replace("%0D", "\r")
        .replace("%0A", "\n")
}

/// The next chunk of a part. A body that sends nothing for `stall` (the
/// connection idle timeout) ends the upload, so a client that stops
/// mid-file cannot hold a temporary file and a connection forever; hyper's
/// own timers only cover a request's headers.
async fn next_chunk(
    field: &mut multer::Field<'_>,
    stall: std::time::Duration,
) -> AppResult<Option<bytes::Bytes>> {
    match tokio::time::timeout(stall, field.chunk()).await {
        Ok(chunk) => chunk.map_err(bad_form),
        Err(_) => Err(AppError::invalid(
            "file",
            format!("the upload stalled: no bytes for {} s", stall.as_secs_f64()),
        )),
    }
}

/// `POST /media`: streams the `file` part into a temporary file, refusing
/// it as soon as it passes the largest limit (the route has no body limit
/// of its own: the service counts), then inspects and stores it.
#[utoipa::path(post, path = "/media", tag = "media",
    request_body(content_type = "multipart/form-data", description = "part `file` (required), part `name` (optional)"),
    responses((status = 201, body = Media), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    Auth(who): Auth,
    req: Request,
) -> AppResult<(StatusCode, axum::Json<Media>)> {
    let svc = &state.services.media;
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad_form("no Content-Type"))
        .and_then(|ct| multer::parse_boundary(ct).map_err(bad_form))?;
    let mut form = multer::Multipart::new(req.into_body().into_data_stream(), boundary);
    let stall = state.config.idle_timeout;
    let mut file = None;
    let mut name = None;
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        match field.name() {
            Some("file") => {
                if file.is_some() {
                    return Err(AppError::invalid("file", "send exactly one file part"));
                }
                let filename = field.file_name().map(unescape_filename);
                let mut up = svc.begin_upload(&who.user_id).await?;
                while let Some(chunk) = next_chunk(&mut field, stall).await? {
                    svc.write_chunk(&mut up, &chunk).await?;
                }
                file = Some((up, filename));
            }
            Some("name") => {
                let mut raw = Vec::new();
                while let Some(chunk) = next_chunk(&mut field, stall).await? {
                    raw.extend_from_slice(&chunk);
                    if raw.len() > NAME_PART_BYTES {
                        return Err(AppError::invalid(
                            "name",
                            "name must be 1-255 characters without control characters",
                        ));
                    }
                }
                name = Some(
                    String::from_utf8(raw)
                        .map_err(|_| AppError::invalid("name", "name must be UTF-8 text"))?,
                );
            }
            // Other parts are read past and ignored.
            _ => while next_chunk(&mut field, stall).await?.is_some() {},
        }
    }
    let (up, filename) =
        file.ok_or_else(|| AppError::invalid("file", "a file part is required"))?;
    let media = svc.finish_upload(&who.user_id, up, name, filename).await?;
    Ok((StatusCode::CREATED, axum::Json(media)))
}

#[derive(Deserialize)]
pub struct SignedParams {
    exp: Option<String>,
    uid: Option<String>,
    sig: Option<String>,
}

/// The reader: a signed URL's user, else the bearer's; `None` for a
/// request with neither (which may read only public uploads: avatars).
async fn reader(
    state: &AppState,
    parts: &mut Parts,
    id: &str,
    thumb: bool,
    p: &SignedParams,
) -> AppResult<Option<String>> {
    if let (Some(exp), Some(uid), Some(sig)) = (&p.exp, &p.uid, &p.sig) {
        return exp
            .parse::<i64>()
            .ok()
            .and_then(|exp| state.services.media.signed_reader(id, thumb, uid, exp, sig))
            .map(Some)
            .ok_or(AppError::NotFound("media"));
    }
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Ok(None);
    }
    Ok(Some(
        Auth::from_request_parts(parts, state).await?.0.user_id,
    ))
}

#[utoipa::path(get, path = "/media/{id}", tag = "media",
    params(("id" = String, Path), ("exp" = Option<String>, Query), ("uid" = Option<String>, Query), ("sig" = Option<String>, Query)),
    responses((status = 200, description = "the bytes"), (status = 206, description = "the range asked for"),
        (status = 304, description = "unchanged (If-None-Match)"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 416, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<SignedParams>,
    req: Request,
) -> AppResult<Response> {
    let (mut parts, _) = req.into_parts();
    serve(&state, &mut parts, &id, false, &p).await
}

#[utoipa::path(get, path = "/media/{id}/thumbnail", tag = "media",
    params(("id" = String, Path), ("exp" = Option<String>, Query), ("uid" = Option<String>, Query), ("sig" = Option<String>, Query)),
    responses((status = 200, description = "the thumbnail"), (status = 206, description = "the range asked for"),
        (status = 304, description = "unchanged (If-None-Match)"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 416, body = ErrorBody)))]
pub async fn thumbnail(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<SignedParams>,
    req: Request,
) -> AppResult<Response> {
    let (mut parts, _) = req.into_parts();
    serve(&state, &mut parts, &id, true, &p).await
}

#[utoipa::path(get, path = "/media/{id}/signed", tag = "media", params(("id" = String, Path)),
    responses((status = 200, body = SignedMedia), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn signed(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<SignedMedia>> {
    Ok(axum::Json(
        state.services.media.signed(&who.user_id, &id).await?,
    ))
}

fn put(h: &mut HeaderMap, k: header::HeaderName, v: &str) {
    if let Ok(v) = HeaderValue::from_str(v) {
        h.insert(k, v);
    }
}

async fn serve(
    state: &AppState,
    parts: &mut Parts,
    id: &str,
    thumb: bool,
    p: &SignedParams,
) -> AppResult<Response> {
    let svc = &state.services.media;
    let opened = match reader(state, parts, id, thumb, p).await? {
        Some(viewer) => svc.open(&viewer, id, thumb).await?,
        None => svc.open_public(id, thumb).await?,
    };
    let etag = format!("\"{}{}\"", opened.row.id, if thumb { "-t" } else { "" });
    let mut out = HeaderMap::new();
    put(&mut out, header::CONTENT_TYPE, &opened.mime);
    put(&mut out, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    put(
        &mut out,
        header::CONTENT_SECURITY_POLICY,
        "sandbox; default-src 'none'",
    );
    put(&mut out, header::ACCEPT_RANGES, "bytes");
    put(&mut out, header::CACHE_CONTROL, "private");
    put(&mut out, header::ETAG, &etag);
    put(
        &mut out,
        header::CONTENT_DISPOSITION,
        &content_disposition(&opened.row),
    );
    let unchanged = parts
        .headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let size = opened.size;
    // One range as http-range-header reads it; a header it cannot parse,
    // or several ranges, get the whole body.
    let range = parts
        .headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|raw| http_range_header::parse_range_header(raw).map(|r| r.validate(size)));
    let (status, start, end) = match range {
        Some(Ok(Ok(ranges))) if ranges.len() == 1 => {
            let (start, last) = (*ranges[0].start(), *ranges[0].end());
            put(
                &mut out,
                header::CONTENT_RANGE,
                &format!("bytes {start}-{last}/{size}"),
            );
            (StatusCode::PARTIAL_CONTENT, start, last + 1)
        }
        Some(Ok(Err(_))) => return Err(AppError::RangeNotSatisfiable { size }),
        _ => (StatusCode::OK, 0, size),
    };
    put(&mut out, header::CONTENT_LENGTH, &(end - start).to_string());
    let stream = svc.bytes(&opened.key, start, end).await?;
    Ok((status, out, Body::from_stream(stream)).into_response())
}

/// `inline` for images, video and audio, `attachment` for the rest; a
/// plain-ASCII name, plus `filename*` when the name is not plain ASCII.
fn content_disposition(row: &MediaRow) -> String {
    let disposition = match row.kind {
        MediaKind::Image | MediaKind::Video | MediaKind::Audio => "inline",
        MediaKind::File => "attachment",
    };
    let ascii: String = row
        .name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if ascii == row.name {
        format!("{disposition}; filename=\"{ascii}\"")
    } else {
        let encoded =
            percent_encoding::utf8_percent_encode(&row.name, percent_encoding::NON_ALPHANUMERIC);
        format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
    }
}
