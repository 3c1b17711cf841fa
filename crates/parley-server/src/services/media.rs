//! Media (protocol.md §10): uploads (streamed to the blob store, then
//! inspected off the runtime), reading them back, signed URLs, the
//! per-conversation media, files and links lists, and the sweep of
//! uploads nobody attached. Storage decides who may see what.

use super::check_id;
use crate::error::{AppError, AppResult};
use crate::metrics;
use crate::ratelimit::{Action, Limiter};
use hmac::{Hmac, Mac};
use parley_domain::DomainError;
use parley_domain::media::{self as rules, MediaLimits, MediaRow, Thumbnail};
use parley_media::{BlobStore, ByteStream, InspectError, Served, Upload};
use parley_protocol::media::{LinkItem, MediaItem, SignedMedia};
use parley_protocol::{Media, MediaKind, Timestamp};
use parley_store::ids::new_id;
use parley_store::{ListCursor, ListPage, MediaStore};
use sha2::Sha256;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a signed URL works.
const SIGNED_TTL_MS: i64 = 10 * 60 * 1000;
/// Uploads inspected at once (an image decode may take up to the
/// decoder's allocation limit).
const INSPECTORS: usize = 2;
/// Uploads removed per sweep, and how often it runs.
const SWEEP_BATCH: u32 = 500;
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// An upload (or its thumbnail) the caller may read.
pub struct Opened {
    pub row: MediaRow,
    pub key: String,
    pub size: u64,
    pub mime: String,
}

#[derive(Clone)]
pub struct MediaService {
    store: Arc<dyn MediaStore>,
    blobs: Arc<dyn BlobStore>,
    limiter: Limiter,
    limits: MediaLimits,
    inspectors: Arc<Semaphore>,
    /// HMAC key of signed URLs, derived from the server's signing secret.
    url_key: Arc<[u8]>,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

fn thumbnail_key(id: &str) -> String {
    format!("{id}.thumb")
}

impl MediaService {
    pub fn new(
        store: Arc<dyn MediaStore>,
        blobs: Arc<dyn BlobStore>,
        limiter: Limiter,
        limits: MediaLimits,
        secret: &[u8],
    ) -> Self {
        // A key of its own, so a media signature is never a token's.
        let url_key = match Hmac::<Sha256>::new_from_slice(secret) {
            Ok(mut mac) => {
                mac.update(b"parley media urls");
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => secret.to_vec(),
        };
        MediaService {
            store,
            blobs,
            limiter,
            limits,
            inspectors: Arc::new(Semaphore::new(INSPECTORS)),
            url_key: url_key.into(),
        }
    }

    /// Spends `upload` and opens a temporary file for the bytes.
    pub async fn begin_upload(&self, uploader: &str) -> AppResult<Upload> {
        self.limiter.spend(Action::Upload, uploader).await?;
        self.blobs.begin().await.map_err(internal)
    }

    /// Appends a chunk. Past the largest limit the upload is refused at
    /// once; the dropped `Upload` removes its file.
    pub async fn write_chunk(&self, up: &mut Upload, chunk: &[u8]) -> AppResult<()> {
        let limit = self.limits.largest();
        if up.len().saturating_add(chunk.len() as u64) > limit {
            metrics::media_refused("too_large");
            return Err(AppError::UploadTooLarge { limit_bytes: limit });
        }
        up.write(chunk).await.map_err(internal)
    }

    /// Inspects the streamed upload (type, limits, bombs, metadata,
    /// thumbnail) and stores it.
    pub async fn finish_upload(
        &self,
        uploader: &str,
        mut up: Upload,
        name: Option<String>,
        filename: Option<String>,
    ) -> AppResult<Media> {
        if up.is_empty() {
            metrics::media_refused("empty");
            return Err(AppError::invalid("file", "the file is empty"));
        }
        let name = rules::display_name(name.as_deref(), filename.as_deref())?;
        up.flush().await.map_err(internal)?;
        let inspected = {
            let _permit = self.inspectors.acquire().await.map_err(internal)?;
            let path = up.path().to_path_buf();
            let limits = self.limits;
            tokio::task::spawn_blocking(move || parley_media::inspect(&path, &limits))
                .await
                .map_err(internal)?
                .map_err(refusal)?
        };
        let id = new_id();
        let size = match inspected.served {
            Served::AsUploaded => {
                let size = up.len();
                self.blobs.commit(up, &id).await.map_err(internal)?;
                size
            }
            Served::Rewritten(bytes) => {
                let size = bytes.len() as u64;
                self.blobs.put(&id, bytes.into()).await.map_err(internal)?;
                size
            }
        };
        let thumbnail = match inspected.thumbnail {
            Some((bytes, mime)) => {
                let size = bytes.len() as u64;
                self.blobs
                    .put(&thumbnail_key(&id), bytes.into())
                    .await
                    .map_err(internal)?;
                Some(Thumbnail {
                    mime: mime.to_string(),
                    size,
                })
            }
            None => None,
        };
        let row = MediaRow {
            id,
            uploader_id: uploader.to_string(),
            kind: inspected.kind,
            mime: inspected.mime.to_string(),
            size,
            name,
            width: inspected.width,
            height: inspected.height,
            duration_ms: inspected.duration_ms,
            thumbnail,
            public: false,
            removed: false,
            created_at: Timestamp::now().millis(),
        };
        // The bytes are written first, so a row never names missing bytes.
        self.store.create_media(row.clone()).await?;
        metrics::media_stored(size);
        Ok(row.to_wire())
    }

    /// Makes `uploader`'s own image `id` their avatar: a square cut from its
    /// thumbnail, stored as a new public upload (so the photo itself stays
    /// as private as it was, and the sweeper keeps the avatar). Returns the
    /// avatar's URL, for `avatar_url`.
    pub async fn make_avatar(&self, uploader: &str, id: &str) -> AppResult<String> {
        check_id(id, "media")?;
        let facts = self.store.media_read_facts(uploader, id).await?;
        let source = rules::avatar_source(uploader, facts)?;
        let Some(thumb) = source.thumbnail.as_ref() else {
            return Err(AppError::NotFound("media"));
        };
        let mut stream = self
            .bytes(&thumbnail_key(&source.id), 0, thumb.size)
            .await?;
        let mut small = Vec::with_capacity(thumb.size as usize);
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            small.extend_from_slice(&chunk.map_err(internal)?);
        }
        let (bytes, mime, side) = {
            let _permit = self.inspectors.acquire().await.map_err(internal)?;
            tokio::task::spawn_blocking(move || {
                parley_media::square_avatar(&small, rules::AVATAR_SIDE)
            })
            .await
            .map_err(internal)?
            .map_err(refusal)?
        };
        let avatar_id = new_id();
        let size = bytes.len() as u64;
        let bytes = bytes::Bytes::from(bytes);
        // The avatar is its own thumbnail: lists and `<img>` get the same
        // small square.
        self.blobs
            .put(&avatar_id, bytes.clone())
            .await
            .map_err(internal)?;
        self.blobs
            .put(&thumbnail_key(&avatar_id), bytes)
            .await
            .map_err(internal)?;
        let name = if mime == "image/png" {
            "avatar.png"
        } else {
            "avatar.jpg"
        };
        let row = MediaRow {
            id: avatar_id,
            uploader_id: uploader.to_string(),
            kind: MediaKind::Image,
            mime: mime.to_string(),
            size,
            name: name.to_string(),
            width: Some(side),
            height: Some(side),
            duration_ms: None,
            thumbnail: Some(Thumbnail {
                mime: mime.to_string(),
                size,
            }),
            public: true,
            removed: false,
            created_at: Timestamp::now().millis(),
        };
        self.store.create_media(row.clone()).await?;
        metrics::media_stored(size);
        Ok(rules::media_url(&row.id))
    }

    /// Removes `uploader`'s previous avatar, the upload `id` (if it is
    /// their own public one), once a new one has replaced it; the sweeper
    /// then deletes its bytes. A failure only leaves it in place.
    pub async fn retire_avatar(&self, uploader: &str, id: &str) {
        if let Err(e) = self.store.retire_avatar(uploader, id).await {
            tracing::warn!(error = %e, "could not retire a replaced avatar");
        }
    }

    /// A public upload (an avatar) for a request without credentials; for
    /// anything else 401, whether or not it exists.
    pub async fn open_public(&self, id: &str, thumbnail: bool) -> AppResult<Opened> {
        match self.open("", id, thumbnail).await {
            Ok(opened) if opened.row.public => Ok(opened),
            _ => Err(AppError::Unauthenticated("a token is required")),
        }
    }

    /// The upload (or its thumbnail) if `viewer` may read it; for everyone
    /// else, and for a thumbnail that does not exist, `not_found`.
    pub async fn open(&self, viewer: &str, id: &str, thumbnail: bool) -> AppResult<Opened> {
        check_id(id, "media")?;
        let facts = self.store.media_read_facts(viewer, id).await?;
        let row = rules::can_read(viewer, facts)?;
        if !thumbnail {
            return Ok(Opened {
                key: row.id.clone(),
                size: row.size,
                mime: row.mime.clone(),
                row,
            });
        }
        // What serving the thumbnail needs was stored with it: no blob
        // round trip before the bytes.
        let Some(t) = row.thumbnail.clone() else {
            return Err(AppError::NotFound("media"));
        };
        Ok(Opened {
            key: thumbnail_key(&row.id),
            size: t.size,
            mime: t.mime,
            row,
        })
    }

    /// Bytes `[start, end)` of a stored object.
    pub async fn bytes(&self, key: &str, start: u64, end: u64) -> AppResult<ByteStream> {
        self.blobs
            .read_range(key, start, end)
            .await
            .map_err(internal)
    }

    /// URLs that work without an `Authorization` header until they expire
    /// (`<img src>`, `<video src>`, downloads): `?exp=MS&uid=U&sig=HMAC`.
    /// The reader is authorised again as `uid` when they are used.
    pub async fn signed(&self, viewer: &str, id: &str) -> AppResult<SignedMedia> {
        let opened = self.open(viewer, id, false).await?;
        let exp = Timestamp::now().millis() + SIGNED_TTL_MS;
        let url = |thumb: bool| {
            let path = if thumb {
                rules::thumbnail_url(id)
            } else {
                rules::media_url(id)
            };
            let sig = hex::encode(self.signature(id, thumb, viewer, exp));
            format!("{path}?exp={exp}&uid={viewer}&sig={sig}")
        };
        Ok(SignedMedia {
            url: url(false),
            thumbnail_url: opened.row.thumbnail.as_ref().map(|_| url(true)),
            expires_at: Timestamp(exp),
        })
    }

    /// The user a signed URL speaks for, if it has not expired and its
    /// signature holds (compared in constant time).
    pub fn signed_reader(
        &self,
        id: &str,
        thumb: bool,
        uid: &str,
        exp: i64,
        sig: &str,
    ) -> Option<String> {
        if exp <= Timestamp::now().millis() {
            return None;
        }
        let given = hex::decode(sig).ok()?;
        let mac = self.mac(id, thumb, uid, exp)?;
        mac.verify_slice(&given).ok()?;
        Some(uid.to_string())
    }

    fn mac(&self, id: &str, thumb: bool, uid: &str, exp: i64) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.url_key).ok()?;
        mac.update(format!("{id}\n{}\n{uid}\n{exp}", u8::from(thumb)).as_bytes());
        Some(mac)
    }

    fn signature(&self, id: &str, thumb: bool, uid: &str, exp: i64) -> Vec<u8> {
        self.mac(id, thumb, uid, exp)
            .map(|m| m.finalize().into_bytes().to_vec())
            .unwrap_or_default()
    }

    /// One sweep: uploads nobody attached for a day become removed; removed
    /// uploads lose their bytes, then their rows. Returns (expired, purged).
    pub async fn sweep(&self, now: Timestamp) -> AppResult<(u64, usize)> {
        let cutoff = Timestamp(now.millis() - rules::UNATTACHED_TTL_MS);
        let expired = self.store.expire_unattached(cutoff, SWEEP_BATCH).await?;
        let removed = self.store.removed_media(SWEEP_BATCH).await?;
        for id in &removed {
            self.blobs.delete(id).await.map_err(internal)?;
            self.blobs
                .delete(&thumbnail_key(id))
                .await
                .map_err(internal)?;
        }
        self.store.purge_media(&removed).await?;
        Ok((expired, removed.len()))
    }

    /// The supervised sweeper: a sweep every ten minutes until `stop`.
    pub async fn run_sweeper(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => match self.sweep(Timestamp::now()).await {
                    Ok((0, 0)) => {}
                    Ok((expired, purged)) => tracing::info!(expired, purged, "media swept"),
                    Err(e) => tracing::warn!(error = %e, "media sweep failed; next pass retries"),
                },
            }
        }
    }

    /// `GET /conversations/{id}/media?kind=` (no kind: images and videos).
    pub async fn media(
        &self,
        viewer: &str,
        conv: &str,
        kind: Option<&str>,
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> AppResult<ListPage<MediaItem>> {
        self.limiter.spend(Action::History, viewer).await?;
        let kinds = rules::list_kinds(kind)?;
        check_id(conv, "conversation")?;
        Ok(self
            .store
            .conversation_media(viewer, conv, &kinds, cursor, limit)
            .await?)
    }

    /// `GET /conversations/{id}/files`.
    pub async fn files(
        &self,
        viewer: &str,
        conv: &str,
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> AppResult<ListPage<MediaItem>> {
        self.limiter.spend(Action::History, viewer).await?;
        check_id(conv, "conversation")?;
        Ok(self
            .store
            .conversation_media(viewer, conv, &[MediaKind::File], cursor, limit)
            .await?)
    }

    /// `GET /conversations/{id}/links`.
    pub async fn links(
        &self,
        viewer: &str,
        conv: &str,
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> AppResult<ListPage<LinkItem>> {
        self.limiter.spend(Action::History, viewer).await?;
        check_id(conv, "conversation")?;
        Ok(self
            .store
            .conversation_links(viewer, conv, cursor, limit)
            .await?)
    }
}

/// An inspection's refusal in the protocol's terms (counted by reason).
fn refusal(e: InspectError) -> AppError {
    let (reason, err) = match e {
        InspectError::Unsupported => ("unsupported", AppError::UnsupportedMediaType),
        InspectError::TooLarge {
            limit_bytes: Some(limit_bytes),
        } => ("too_large", AppError::UploadTooLarge { limit_bytes }),
        InspectError::TooLarge { limit_bytes: None } => (
            "bomb",
            DomainError::TooLarge(rules::IMAGE_TOO_LARGE.into()).into(),
        ),
        InspectError::Undecodable => ("undecodable", AppError::invalid("file", rules::UNDECODABLE)),
        InspectError::Empty => ("empty", AppError::invalid("file", "the file is empty")),
        InspectError::Io(e) => return internal(e),
    };
    metrics::media_refused(reason);
    err
}
