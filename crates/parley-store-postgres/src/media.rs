//! Media: uploads, attachments and links (`parley_store::MediaStore`).
//! A send reads the uploads it names `FOR UPDATE` after the conversation
//! lock ([`WriteTx::media_for_send`]): the sweeper's `UPDATE` of an
//! unattached upload then either ran first (the send sees `removed`) or
//! waits and re-checks `attached`, which the send has raised.

use crate::events::WriteTx;
use crate::rows::{
    Params, col, col_opt_u64, col_parsed, col_u64, execute, query, query_opt, seq_param,
};
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use parley_domain::media::{self as rules, MediaRow, ReadFacts, Thumbnail};
use parley_domain::visibility;
use parley_protocol::media::{LinkItem, MediaItem};
use parley_protocol::{MediaKind, Timestamp};
use parley_store::{ListCursor, ListPage, MediaStore, StoreError, StoreResult};
use tokio_postgres::Row;

const MEDIA_COLS: &str = "md.id, md.uploader_id, md.kind, md.mime, md.size, md.name, md.width, md.height, \
     md.duration_ms, md.thumbnail_mime, md.thumbnail_size, md.public, md.removed, md.created_at";

fn dimension(r: &Row, idx: usize) -> StoreResult<Option<u32>> {
    col::<Option<i32>>(r, idx)?
        .map(|v| {
            u32::try_from(v)
                .map_err(|_| StoreError::Internal(format!("negative value {v} in column {idx}")))
        })
        .transpose()
}

fn media_row(r: &Row) -> StoreResult<MediaRow> {
    Ok(MediaRow {
        id: col(r, 0)?,
        uploader_id: col(r, 1)?,
        kind: col_parsed(r, 2, "media kind", MediaKind::parse)?,
        mime: col(r, 3)?,
        size: col_u64(r, 4)?,
        name: col(r, 5)?,
        width: dimension(r, 6)?,
        height: dimension(r, 7)?,
        duration_ms: col_opt_u64(r, 8)?,
        thumbnail: match (col::<Option<String>>(r, 9)?, col_opt_u64(r, 10)?) {
            (Some(mime), Some(size)) => Some(Thumbnail { mime, size }),
            _ => None,
        },
        public: col(r, 11)?,
        removed: col(r, 12)?,
        created_at: col(r, 13)?,
    })
}

fn position_of(r: &Row, idx: usize) -> StoreResult<u32> {
    let v: i32 = col(r, idx)?;
    u32::try_from(v).map_err(|_| StoreError::Internal(format!("negative position {v}")))
}

fn dim_param(v: Option<u32>) -> Option<i32> {
    v.map(|v| i32::try_from(v).unwrap_or(i32::MAX))
}

impl WriteTx<'_> {
    async fn insert_media(&self, row: &MediaRow) -> StoreResult<()> {
        execute(
            &self.tx,
            "INSERT INTO media (id, uploader_id, kind, mime, size, name, width, height, duration_ms,
                                thumbnail_mime, thumbnail_size, public, removed, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &row.id,
                &row.uploader_id,
                &row.kind.as_str(),
                &row.mime,
                &seq_param(row.size),
                &row.name,
                &dim_param(row.width),
                &dim_param(row.height),
                &row.duration_ms.map(seq_param),
                &row.thumbnail.as_ref().map(|t| t.mime.as_str()),
                &row.thumbnail.as_ref().map(|t| seq_param(t.size)),
                &row.public,
                &row.removed,
                &row.created_at,
            ],
        )
        .await?;
        Ok(())
    }

    /// The uploads among `ids`, locked until commit (a send's facts).
    pub async fn media_for_send(&self, ids: &[String]) -> StoreResult<Vec<MediaRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        query(
            &self.tx,
            &format!("SELECT {MEDIA_COLS} FROM media md WHERE md.id = ANY($1) FOR UPDATE"),
            &[&ids],
        )
        .await?
        .iter()
        .map(media_row)
        .collect()
    }

    /// Records what the message at `seq` attaches and links.
    pub async fn attach(
        &self,
        conv: &str,
        seq: u64,
        message_id: &str,
        media: &[MediaRow],
        text: Option<&str>,
    ) -> StoreResult<()> {
        let seq = seq_param(seq);
        if !media.is_empty() {
            let ids: Vec<&str> = media.iter().map(|m| m.id.as_str()).collect();
            let kinds: Vec<&str> = media.iter().map(|m| m.kind.as_str()).collect();
            let attach_params: Params<'_> = &[&conv, &seq, &message_id, &ids, &kinds];
            let count_params: Params<'_> = &[&ids];
            let attach = execute(
                &self.tx,
                "INSERT INTO message_media (conversation_id, seq, position, message_id, media_id, kind)
                 SELECT $1, $2, (t.n - 1)::int, $3, t.id, t.kind
                 FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS t(id, kind, n)",
                attach_params,
            );
            let count = execute(
                &self.tx,
                "UPDATE media SET attached = attached + 1 WHERE id = ANY($1)",
                count_params,
            );
            tokio::try_join!(attach, count)?;
        }
        self.index_message(conv, seq, text).await?;
        self.insert_links(conv, seq, message_id, text).await
    }

    /// Replaces the links of the message at `seq` (an edit).
    pub async fn relink(
        &self,
        conv: &str,
        seq: u64,
        message_id: &str,
        text: Option<&str>,
    ) -> StoreResult<()> {
        let seq = seq_param(seq);
        execute(
            &self.tx,
            "DELETE FROM message_links WHERE conversation_id = $1 AND seq = $2",
            &[&conv, &seq],
        )
        .await?;
        self.unindex_message(conv, seq).await?;
        self.index_message(conv, seq, text).await?;
        self.insert_links(conv, seq, message_id, text).await
    }

    async fn insert_links(
        &self,
        conv: &str,
        seq: i64,
        message_id: &str,
        text: Option<&str>,
    ) -> StoreResult<()> {
        let links = rules::links_of(text);
        if links.is_empty() {
            return Ok(());
        }
        execute(
            &self.tx,
            "INSERT INTO message_links (conversation_id, seq, position, message_id, url)
             SELECT $1, $2, (t.n - 1)::int, $3, t.url FROM unnest($4::text[]) WITH ORDINALITY AS t(url, n)",
            &[&conv, &seq, &message_id, &links],
        )
        .await?;
        Ok(())
    }

    /// Detaches the media and drops the links of the message at `seq` (a
    /// tombstone); `remove` also deletes the media outright (an admin
    /// delete). The conversation is locked.
    pub async fn detach(&self, conv: &str, seq: u64, remove: bool) -> StoreResult<()> {
        let seq = seq_param(seq);
        self.unindex_message(conv, seq).await?;
        execute(
            &self.tx,
            "UPDATE media SET attached = greatest(attached - 1, 0), removed = removed OR $3
             WHERE id IN (SELECT media_id FROM message_media WHERE conversation_id = $1 AND seq = $2)",
            &[&conv, &seq, &remove],
        )
        .await?;
        execute(
            &self.tx,
            "DELETE FROM message_media WHERE conversation_id = $1 AND seq = $2",
            &[&conv, &seq],
        )
        .await?;
        execute(
            &self.tx,
            "DELETE FROM message_links WHERE conversation_id = $1 AND seq = $2",
            &[&conv, &seq],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl MediaStore for PostgresStore {
    async fn create_media(&self, row: MediaRow) -> StoreResult<()> {
        in_tx!(self, move |w, _out| w.insert_media(&row))
    }

    async fn media_read_facts(&self, viewer: &str, id: &str) -> StoreResult<ReadFacts> {
        let c = self.client().await?;
        let Some(row) = query_opt(
            &c,
            &format!("SELECT {MEDIA_COLS} FROM media md WHERE md.id = $1"),
            &[&id],
        )
        .await?
        .map(|r| media_row(&r))
        .transpose()?
        else {
            return Ok(ReadFacts::default());
        };
        let attached_visible = if row.uploader_id == viewer {
            false
        } else {
            let r = crate::rows::query_one(
                &c,
                "SELECT EXISTS(SELECT 1 FROM message_media mm JOIN members mb
                   ON mb.conversation_id = mm.conversation_id AND mb.user_id = $2 AND mb.active = TRUE
                 WHERE mm.media_id = $1 AND mm.seq >= mb.joined_seq)",
                &[&id, &viewer],
            )
            .await?;
            col::<bool>(&r, 0)?
        };
        Ok(ReadFacts {
            row: Some(row),
            attached_visible,
        })
    }

    async fn conversation_media(
        &self,
        viewer: &str,
        conv: &str,
        kinds: &[MediaKind],
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> StoreResult<ListPage<MediaItem>> {
        let c = self.client().await?;
        let me = crate::rows::require_member(&c, conv, viewer).await?;
        let floor = seq_param(visibility::history_floor(&me));
        let (before, after_position) = ListCursor::bounds(cursor);
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let rows = query(
            &c,
            &format!(
                "SELECT {MEDIA_COLS}, mm.message_id, mm.seq, mm.position, m.sender_id, m.created_at
                 FROM message_media mm JOIN media md ON md.id = mm.media_id JOIN messages m ON m.id = mm.message_id
                 WHERE mm.conversation_id = $1 AND mm.seq >= $2 AND md.removed = FALSE AND mm.kind = ANY($3)
                   AND (mm.seq < $4 OR (mm.seq = $4 AND mm.position > $5::bigint))
                 ORDER BY mm.seq DESC, mm.position ASC LIMIT $6"
            ),
            &[&conv, &floor, &kinds, &before, &after_position, &(i64::from(limit) + 1)],
        )
        .await?;
        let fetched = rows
            .iter()
            .map(|r| {
                let media = media_row(r)?.to_wire();
                let seq = col_u64(r, 15)?;
                let position = position_of(r, 16)?;
                let item =
                    MediaItem::new(media, col(r, 14)?, seq, col(r, 17)?, Timestamp(col(r, 18)?));
                Ok((item, ListCursor { seq, position }))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(ListPage::from_fetched(fetched, limit))
    }

    async fn conversation_links(
        &self,
        viewer: &str,
        conv: &str,
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> StoreResult<ListPage<LinkItem>> {
        let c = self.client().await?;
        let me = crate::rows::require_member(&c, conv, viewer).await?;
        let floor = seq_param(visibility::history_floor(&me));
        let (before, after_position) = ListCursor::bounds(cursor);
        let rows = query(
            &c,
            "SELECT ml.url, ml.message_id, ml.seq, ml.position, m.sender_id, m.created_at
             FROM message_links ml JOIN messages m ON m.id = ml.message_id
             WHERE ml.conversation_id = $1 AND ml.seq >= $2
               AND (ml.seq < $3 OR (ml.seq = $3 AND ml.position > $4::bigint))
             ORDER BY ml.seq DESC, ml.position ASC LIMIT $5",
            &[
                &conv,
                &floor,
                &before,
                &after_position,
                &(i64::from(limit) + 1),
            ],
        )
        .await?;
        let fetched = rows
            .iter()
            .map(|r| {
                let seq = col_u64(r, 2)?;
                let position = position_of(r, 3)?;
                let item = LinkItem {
                    url: col(r, 0)?,
                    message_id: col(r, 1)?,
                    seq,
                    sender_id: col(r, 4)?,
                    created_at: Timestamp(col(r, 5)?),
                };
                Ok((item, ListCursor { seq, position }))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(ListPage::from_fetched(fetched, limit))
    }

    async fn expire_unattached(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        let c = self.client().await?;
        // The conditions are on the row itself: a send that attached it
        // meanwhile has raised `attached`, and the re-check after the row
        // lock sees that.
        execute(
            &c,
            "UPDATE media SET removed = TRUE WHERE id IN (
               SELECT id FROM media WHERE attached = 0 AND public = FALSE AND removed = FALSE AND created_at < $1
               LIMIT $2)
             AND attached = 0 AND public = FALSE AND removed = FALSE",
            &[&before.millis(), &i64::from(limit)],
        )
        .await
    }

    async fn retire_avatar(&self, uploader: &str, id: &str) -> StoreResult<bool> {
        let c = self.client().await?;
        let n = execute(
            &c,
            "UPDATE media SET removed = TRUE
             WHERE id = $1 AND uploader_id = $2 AND public = TRUE AND removed = FALSE",
            &[&id, &uploader],
        )
        .await?;
        Ok(n == 1)
    }

    async fn removed_media(&self, limit: u32) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        crate::rows::strings(
            &c,
            "SELECT id FROM media WHERE removed = TRUE LIMIT $1",
            &[&i64::from(limit)],
        )
        .await
    }

    async fn purge_media(&self, ids: &[String]) -> StoreResult<()> {
        let c = self.client().await?;
        let ids = ids.to_vec();
        execute(
            &c,
            "WITH gone AS (DELETE FROM media WHERE id = ANY($1) AND removed = TRUE RETURNING id)
             DELETE FROM message_media WHERE media_id IN (SELECT id FROM gone)",
            &[&ids],
        )
        .await?;
        Ok(())
    }
}
