-- Media (protocol.md §10). `attached` counts the live messages that
-- attach an upload: the sweeper removes an upload nobody attached for a
-- day by looking at the row alone. `removed` uploads are unreadable at
-- once; their bytes and then their rows go with the next sweeps.
CREATE TABLE media (
    id            TEXT COLLATE "C" PRIMARY KEY,
    uploader_id   TEXT COLLATE "C" NOT NULL,
    kind          TEXT NOT NULL,
    mime          TEXT NOT NULL,
    size          BIGINT NOT NULL,
    name          TEXT NOT NULL,
    width         INTEGER,
    height        INTEGER,
    duration_ms   BIGINT,
    thumbnail_mime TEXT,
    thumbnail_size BIGINT,
    public        BOOLEAN NOT NULL DEFAULT FALSE,
    removed       BOOLEAN NOT NULL DEFAULT FALSE,
    attached      INTEGER NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE INDEX media_unattached ON media(created_at) WHERE attached = 0 AND public = FALSE AND removed = FALSE;
CREATE INDEX media_removed ON media(id) WHERE removed = TRUE;

-- A live message's attachments, in order (deleted with the message's
-- tombstone): what reading an upload and the media lists look at.
CREATE TABLE message_media (
    conversation_id TEXT COLLATE "C" NOT NULL,
    seq             BIGINT NOT NULL,
    position        INTEGER NOT NULL,
    message_id      TEXT COLLATE "C" NOT NULL,
    media_id        TEXT COLLATE "C" NOT NULL,
    kind            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq, position)
);
CREATE INDEX message_media_by_media ON message_media(media_id);
CREATE INDEX message_media_by_kind ON message_media(conversation_id, kind, seq);

-- A live message's links, in order; an edit replaces them.
CREATE TABLE message_links (
    conversation_id TEXT COLLATE "C" NOT NULL,
    seq             BIGINT NOT NULL,
    position        INTEGER NOT NULL,
    message_id      TEXT COLLATE "C" NOT NULL,
    url             TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq, position)
);
