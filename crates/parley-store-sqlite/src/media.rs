//! Media: uploads, attachments and links (`parley_store::MediaStore`).
//! The writer attaches in the send's transaction ([`WriterState::attach`])
//! and detaches in a tombstone's ([`WriterState::detach`]); the search
//! index follows the same three steps (`search.rs`).

use crate::rows::{db_err, opt_u64_col, parsed, require_member, seq_param, u64_col};
use crate::{SqliteStore, WriterState};
use async_trait::async_trait;
use parley_domain::media::{self as rules, MediaRow, ReadFacts, Thumbnail};
use parley_domain::visibility;
use parley_protocol::media::{LinkItem, MediaItem};
use parley_protocol::{MediaKind, Timestamp};
use parley_store::{ListCursor, ListPage, MediaStore, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

const MEDIA_COLS: &str = "md.id, md.uploader_id, md.kind, md.mime, md.size, md.name, md.width, md.height, \
     md.duration_ms, md.thumbnail_mime, md.thumbnail_size, md.public, md.removed, md.created_at";

fn media_row(r: &Row<'_>) -> rusqlite::Result<MediaRow> {
    Ok(MediaRow {
        id: r.get(0)?,
        uploader_id: r.get(1)?,
        kind: parsed(r, 2, "media kind", MediaKind::parse)?,
        mime: r.get(3)?,
        size: u64_col(r, 4)?,
        name: r.get(5)?,
        width: r.get(6)?,
        height: r.get(7)?,
        duration_ms: opt_u64_col(r, 8)?,
        thumbnail: match (r.get::<_, Option<String>>(9)?, opt_u64_col(r, 10)?) {
            (Some(mime), Some(size)) => Some(Thumbnail { mime, size }),
            _ => None,
        },
        public: r.get::<_, i64>(11)? != 0,
        removed: r.get::<_, i64>(12)? != 0,
        created_at: r.get(13)?,
    })
}

impl WriterState {
    /// The uploads among `ids` (a send's facts).
    pub(crate) fn media_by_ids(&self, ids: &[String]) -> StoreResult<Vec<MediaRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MEDIA_COLS} FROM media md WHERE md.id IN ({marks})"
            ))
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params_from_iter(ids.iter()), media_row)
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        Ok(rows)
    }

    /// Records what the message at `seq` attaches and links.
    pub(crate) fn attach(
        &self,
        conv: &str,
        seq: u64,
        message_id: &str,
        media: &[MediaRow],
        text: Option<&str>,
    ) -> StoreResult<()> {
        for (position, m) in media.iter().enumerate() {
            self.conn
                .prepare_cached(
                    "INSERT INTO message_media (conversation_id, seq, position, message_id, media_id, kind)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(db_err)?
                .execute(params![conv, seq_param(seq), position as i64, message_id, m.id, m.kind.as_str()])
                .map_err(db_err)?;
            self.conn
                .prepare_cached("UPDATE media SET attached = attached + 1 WHERE id = ?1")
                .map_err(db_err)?
                .execute([&m.id])
                .map_err(db_err)?;
        }
        self.index_message(conv, seq, text)?;
        self.insert_links(conv, seq, message_id, text)
    }

    /// Replaces the links of the message at `seq` (an edit).
    pub(crate) fn relink(
        &self,
        conv: &str,
        seq: u64,
        message_id: &str,
        text: Option<&str>,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached("DELETE FROM message_links WHERE conversation_id = ?1 AND seq = ?2")
            .map_err(db_err)?
            .execute(params![conv, seq_param(seq)])
            .map_err(db_err)?;
        self.unindex_message(conv, seq)?;
        self.index_message(conv, seq, text)?;
        self.insert_links(conv, seq, message_id, text)
    }

    fn insert_links(
        &self,
        conv: &str,
        seq: u64,
        message_id: &str,
        text: Option<&str>,
    ) -> StoreResult<()> {
        for (position, url) in rules::links_of(text).iter().enumerate() {
            self.conn
                .prepare_cached(
                    "INSERT INTO message_links (conversation_id, seq, position, message_id, url)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(db_err)?
                .execute(params![
                    conv,
                    seq_param(seq),
                    position as i64,
                    message_id,
                    url
                ])
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// Detaches the media and drops the links of the message at `seq` (a
    /// tombstone); `remove` also deletes the media outright (an admin
    /// delete).
    pub(crate) fn detach(&self, conv: &str, seq: u64, remove: bool) -> StoreResult<()> {
        self.unindex_message(conv, seq)?;
        let seq = seq_param(seq);
        self.conn
            .prepare_cached(
                "UPDATE media SET attached = max(attached - 1, 0), removed = removed OR ?3
                 WHERE id IN (SELECT media_id FROM message_media WHERE conversation_id = ?1 AND seq = ?2)",
            )
            .map_err(db_err)?
            .execute(params![conv, seq, remove])
            .map_err(db_err)?;
        for table in ["message_media", "message_links"] {
            self.conn
                .prepare_cached(&format!(
                    "DELETE FROM {table} WHERE conversation_id = ?1 AND seq = ?2"
                ))
                .map_err(db_err)?
                .execute(params![conv, seq])
                .map_err(db_err)?;
        }
        Ok(())
    }
}

fn read_facts(c: &Connection, viewer: &str, id: &str) -> StoreResult<ReadFacts> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {MEDIA_COLS} FROM media md WHERE md.id = ?1"
        ))
        .map_err(db_err)?
        .query_row([id], media_row)
        .optional()
        .map_err(db_err)?;
    let Some(row) = row else {
        return Ok(ReadFacts::default());
    };
    let attached_visible = row.uploader_id != viewer
        && c.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM message_media mm JOIN members mb
               ON mb.conversation_id = mm.conversation_id AND mb.user_id = ?2 AND mb.active = 1
             WHERE mm.media_id = ?1 AND mm.seq >= mb.joined_seq)",
        )
        .map_err(db_err)?
        .query_row(params![id, viewer], |r| r.get::<_, bool>(0))
        .map_err(db_err)?;
    Ok(ReadFacts {
        row: Some(row),
        attached_visible,
    })
}

fn media_list(
    c: &Connection,
    viewer: &str,
    conv: &str,
    kinds: &[MediaKind],
    cursor: Option<ListCursor>,
    limit: u32,
) -> StoreResult<ListPage<MediaItem>> {
    let me = require_member(c, conv, viewer)?;
    let floor = seq_param(visibility::history_floor(&me));
    let (before, after_position) = ListCursor::bounds(cursor);
    let kind = |i: usize| {
        kinds
            .get(i)
            .or(kinds.first())
            .map(|k| k.as_str())
            .unwrap_or("")
    };
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {MEDIA_COLS}, mm.message_id, mm.seq, mm.position, m.sender_id, m.created_at
             FROM message_media mm JOIN media md ON md.id = mm.media_id JOIN messages m ON m.id = mm.message_id
             WHERE mm.conversation_id = ?1 AND mm.seq >= ?2 AND md.removed = 0 AND mm.kind IN (?3, ?4)
               AND (mm.seq < ?5 OR (mm.seq = ?5 AND mm.position > ?6))
             ORDER BY mm.seq DESC, mm.position ASC LIMIT ?7"
        ))
        .map_err(db_err)?;
    let fetched = stmt
        .query_map(
            params![
                conv,
                floor,
                kind(0),
                kind(1),
                before,
                after_position,
                i64::from(limit) + 1
            ],
            |r| {
                let media = media_row(r)?.to_wire();
                let seq = u64_col(r, 15)?;
                let position = u32::try_from(r.get::<_, i64>(16)?).unwrap_or(u32::MAX);
                let item =
                    MediaItem::new(media, r.get(14)?, seq, r.get(17)?, Timestamp(r.get(18)?));
                Ok((item, ListCursor { seq, position }))
            },
        )
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    Ok(ListPage::from_fetched(fetched, limit))
}

fn link_list(
    c: &Connection,
    viewer: &str,
    conv: &str,
    cursor: Option<ListCursor>,
    limit: u32,
) -> StoreResult<ListPage<LinkItem>> {
    let me = require_member(c, conv, viewer)?;
    let floor = seq_param(visibility::history_floor(&me));
    let (before, after_position) = ListCursor::bounds(cursor);
    let mut stmt = c
        .prepare_cached(
            "SELECT ml.url, ml.message_id, ml.seq, ml.position, m.sender_id, m.created_at
             FROM message_links ml JOIN messages m ON m.id = ml.message_id
             WHERE ml.conversation_id = ?1 AND ml.seq >= ?2
               AND (ml.seq < ?3 OR (ml.seq = ?3 AND ml.position > ?4))
             ORDER BY ml.seq DESC, ml.position ASC LIMIT ?5",
        )
        .map_err(db_err)?;
    let fetched = stmt
        .query_map(
            params![conv, floor, before, after_position, i64::from(limit) + 1],
            |r| {
                let seq = u64_col(r, 2)?;
                let position = u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX);
                let item = LinkItem {
                    url: r.get(0)?,
                    message_id: r.get(1)?,
                    seq,
                    sender_id: r.get(4)?,
                    created_at: Timestamp(r.get(5)?),
                };
                Ok((item, ListCursor { seq, position }))
            },
        )
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    Ok(ListPage::from_fetched(fetched, limit))
}

#[async_trait]
impl MediaStore for SqliteStore {
    async fn create_media(&self, row: MediaRow) -> StoreResult<()> {
        self.write(move |s, _| {
            s.conn
                .prepare_cached(
                    "INSERT INTO media (id, uploader_id, kind, mime, size, name, width, height, duration_ms,
                                        thumbnail_mime, thumbnail_size, public, removed, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(db_err)?
                .execute(params![
                    row.id,
                    row.uploader_id,
                    row.kind.as_str(),
                    row.mime,
                    seq_param(row.size),
                    row.name,
                    row.width,
                    row.height,
                    row.duration_ms.map(seq_param),
                    row.thumbnail.as_ref().map(|t| t.mime.as_str()),
                    row.thumbnail.as_ref().map(|t| seq_param(t.size)),
                    row.public,
                    row.removed,
                    row.created_at
                ])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn media_read_facts(&self, viewer: &str, id: &str) -> StoreResult<ReadFacts> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| read_facts(c, &viewer, &id)).await
    }

    async fn conversation_media(
        &self,
        viewer: &str,
        conv: &str,
        kinds: &[MediaKind],
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> StoreResult<ListPage<MediaItem>> {
        let (viewer, conv, kinds) = (viewer.to_string(), conv.to_string(), kinds.to_vec());
        self.read(move |c| media_list(c, &viewer, &conv, &kinds, cursor, limit))
            .await
    }

    async fn conversation_links(
        &self,
        viewer: &str,
        conv: &str,
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> StoreResult<ListPage<LinkItem>> {
        let (viewer, conv) = (viewer.to_string(), conv.to_string());
        self.read(move |c| link_list(c, &viewer, &conv, cursor, limit))
            .await
    }

    async fn expire_unattached(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.write(move |s, _| {
            let n = s
                .conn
                .prepare_cached(
                    "UPDATE media SET removed = 1 WHERE id IN (
                       SELECT id FROM media WHERE attached = 0 AND public = 0 AND removed = 0 AND created_at < ?1
                       LIMIT ?2)",
                )
                .map_err(db_err)?
                .execute(params![before.millis(), limit])
                .map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn retire_avatar(&self, uploader: &str, id: &str) -> StoreResult<bool> {
        let (uploader, id) = (uploader.to_string(), id.to_string());
        self.write(move |s, _| {
            let n = s
                .conn
                .prepare_cached(
                    "UPDATE media SET removed = 1
                     WHERE id = ?1 AND uploader_id = ?2 AND public = 1 AND removed = 0",
                )
                .map_err(db_err)?
                .execute(params![id, uploader])
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn removed_media(&self, limit: u32) -> StoreResult<Vec<String>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT id FROM media WHERE removed = 1 LIMIT ?1")
                .map_err(db_err)?;
            let ids = stmt
                .query_map([limit], |r| r.get(0))
                .map_err(db_err)?
                .collect::<Result<Vec<String>, _>>()
                .map_err(db_err)?;
            Ok(ids)
        })
        .await
    }

    async fn purge_media(&self, ids: &[String]) -> StoreResult<()> {
        let ids = ids.to_vec();
        self.write(move |s, _| {
            for id in &ids {
                s.conn
                    .prepare_cached("DELETE FROM media WHERE id = ?1 AND removed = 1")
                    .map_err(db_err)?
                    .execute([id])
                    .map_err(db_err)?;
                s.conn
                    .prepare_cached(
                        "DELETE FROM message_media WHERE media_id = ?1 AND NOT EXISTS (SELECT 1 FROM media WHERE id = ?1)",
                    )
                    .map_err(db_err)?
                    .execute([id])
                    .map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }
}
