-- Media (protocol.md §10). `attached` counts the live messages that
-- attach an upload: the sweeper removes an upload nobody attached for a
-- day by looking at the row alone. `removed` uploads are unreadable at
-- once; their bytes and then their rows go with the next sweeps.
CREATE TABLE media (
    id            TEXT PRIMARY KEY,
    uploader_id   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    mime          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    name          TEXT NOT NULL,
    width         INTEGER,
    height        INTEGER,
    duration_ms   INTEGER,
    thumbnail_mime TEXT,
    thumbnail_size INTEGER,
    public        INTEGER NOT NULL DEFAULT 0,
    removed       INTEGER NOT NULL DEFAULT 0,
    attached      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE INDEX media_unattached ON media(created_at) WHERE attached = 0 AND public = 0 AND removed = 0;
CREATE INDEX media_removed ON media(id) WHERE removed = 1;

-- A live message's attachments, in order (deleted with the message's
-- tombstone): what reading an upload and the media lists look at.
CREATE TABLE message_media (
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    message_id      TEXT NOT NULL,
    media_id        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq, position)
);
CREATE INDEX message_media_by_media ON message_media(media_id);
CREATE INDEX message_media_by_kind ON message_media(conversation_id, kind, seq);

-- A live message's links, in order; an edit replaces them.
CREATE TABLE message_links (
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    message_id      TEXT NOT NULL,
    url             TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq, position)
);
