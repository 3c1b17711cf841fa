-- The idempotency key moves out of messages into a compact table
-- (src/client_keys.rs says why): a 64-bit hash of (conversation_id,
-- sender_id, client_id) next to the message's rowid. The table is rebuilt
-- without its UNIQUE (conversation_id, sender_id, client_id) constraint,
-- keeping every rowid (the search index refers to messages by rowid); the
-- keys of the messages already stored are written by the migration's Rust
-- step in the same transaction.
CREATE TABLE message_keys (
    key           INTEGER NOT NULL,
    message_rowid INTEGER NOT NULL,
    PRIMARY KEY (key, message_rowid)
) WITHOUT ROWID;

CREATE TABLE messages_rebuilt (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    sender_id       TEXT NOT NULL,
    client_id       TEXT,
    kind            TEXT NOT NULL,
    text            TEXT,
    attachments     TEXT NOT NULL DEFAULT '[]',
    reply_to        TEXT,
    mentions        TEXT NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL,
    edited_at       INTEGER,
    deleted         INTEGER NOT NULL DEFAULT 0,
    system          TEXT,
    UNIQUE (conversation_id, seq)
);
INSERT INTO messages_rebuilt (rowid, id, conversation_id, seq, sender_id, client_id, kind, text,
                              attachments, reply_to, mentions, created_at, edited_at, deleted, system)
    SELECT rowid, id, conversation_id, seq, sender_id, client_id, kind, text,
           attachments, reply_to, mentions, created_at, edited_at, deleted, system
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;
