-- Parley schema, version 1. Never edit an applied migration: add a new file.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    avatar_url    TEXT,
    about         TEXT,
    role          TEXT NOT NULL DEFAULT 'user',
    password_hash TEXT,
    external_sub  TEXT UNIQUE,
    is_bot        INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE conversations (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    title            TEXT,
    avatar_url       TEXT,
    created_at       INTEGER NOT NULL,
    -- The last allocated seq. Incremented in the transaction that stores
    -- the event, so seqs have no gaps and no reuse.
    last_seq         INTEGER NOT NULL DEFAULT 0,
    last_message_seq INTEGER,
    last_activity_at INTEGER NOT NULL,
    member_count     INTEGER NOT NULL DEFAULT 0,
    -- "smaller_id:larger_id" for direct conversations: one per pair.
    direct_key       TEXT UNIQUE
);

CREATE TABLE members (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    role            TEXT NOT NULL,
    joined_seq      INTEGER NOT NULL,
    joined_at       INTEGER NOT NULL,
    read_seq        INTEGER NOT NULL DEFAULT 0,
    delivered_seq   INTEGER NOT NULL DEFAULT 0,
    muted_until     INTEGER,
    active          INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_by_user ON members(user_id, active);

CREATE TABLE events (
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    type            TEXT NOT NULL,
    -- The event exactly as it goes on the wire, serialized once.
    body            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;

CREATE TABLE messages (
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
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, sender_id, client_id)
);

CREATE TABLE reactions (
    message_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    emoji      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) WITHOUT ROWID;
