-- Parley schema for PostgreSQL, version 1: the SQLite migrations 0001 to
-- 0003 combined. Never edit an applied migration: add a new file.
--
-- Times are milliseconds since the Unix epoch (UTC) in BIGINT, as in
-- SQLite; every integer is BIGINT so that both backends map columns to i64.
-- Flags are BOOLEAN (SQLite stores 0/1; the queries say TRUE/FALSE).
-- Text that is compared or ordered (ids, usernames, display names, emoji)
-- is COLLATE "C": byte order, like SQLite's BINARY collation and Rust's
-- `str` ordering, whatever the database's locale; it also makes ILIKE fold
-- ASCII letters only, like SQLite's LIKE.

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name  TEXT COLLATE "C" NOT NULL,
    avatar_url    TEXT,
    about         TEXT,
    role          TEXT NOT NULL DEFAULT 'user',
    password_hash TEXT,
    external_sub  TEXT COLLATE "C" UNIQUE,
    is_bot        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT,
    -- Lower-cased "username display name" for prefix search on any word,
    -- folded by the server (Unicode-aware), compared folded to folded.
    search_name   TEXT COLLATE "C" NOT NULL DEFAULT ''
);

CREATE TABLE refresh_tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    family_id  TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

CREATE TABLE api_keys (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   TEXT COLLATE "C" NOT NULL UNIQUE,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE conversations (
    id               TEXT COLLATE "C" PRIMARY KEY,
    kind             TEXT NOT NULL,
    title            TEXT,
    avatar_url       TEXT,
    created_at       BIGINT NOT NULL,
    -- The last allocated seq. Incremented in the transaction that stores
    -- the event, so seqs have no gaps and no reuse; the row lock taken by
    -- that UPDATE serialises writers of one conversation across processes.
    last_seq         BIGINT NOT NULL DEFAULT 0,
    last_message_seq BIGINT,
    last_activity_at BIGINT NOT NULL,
    member_count     BIGINT NOT NULL DEFAULT 0,
    -- "smaller_id:larger_id" for direct conversations: one per pair.
    direct_key       TEXT COLLATE "C" UNIQUE
);

CREATE TABLE members (
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations(id),
    user_id         TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    role            TEXT NOT NULL,
    joined_seq      BIGINT NOT NULL,
    joined_at       BIGINT NOT NULL,
    read_seq        BIGINT NOT NULL DEFAULT 0,
    delivered_seq   BIGINT NOT NULL DEFAULT 0,
    muted_until     BIGINT,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_by_user ON members(user_id, active);

CREATE TABLE events (
    conversation_id TEXT COLLATE "C" NOT NULL,
    seq             BIGINT NOT NULL,
    type            TEXT NOT NULL,
    -- The event exactly as it goes on the wire, serialized once (TEXT, not
    -- JSONB: JSONB would reorder keys and change the bytes).
    body            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE TABLE messages (
    id              TEXT COLLATE "C" PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL,
    seq             BIGINT NOT NULL,
    sender_id       TEXT COLLATE "C" NOT NULL,
    client_id       TEXT COLLATE "C",
    kind            TEXT NOT NULL,
    text            TEXT,
    attachments     TEXT NOT NULL DEFAULT '[]',
    reply_to        TEXT COLLATE "C",
    mentions        TEXT NOT NULL DEFAULT '[]',
    created_at      BIGINT NOT NULL,
    edited_at       BIGINT,
    deleted         BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (conversation_id, seq),
    -- The arbiter of idempotent sends, across processes.
    UNIQUE (conversation_id, sender_id, client_id)
);

CREATE TABLE reactions (
    message_id TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    emoji      TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);

-- Every forward move of a member's watermark, with its time, so that
-- "when did X receive / read message N" is the first move to >= N.
CREATE TABLE watermark_moves (
    conversation_id TEXT COLLATE "C" NOT NULL,
    user_id         TEXT COLLATE "C" NOT NULL,
    kind            TEXT NOT NULL, -- 'delivered' or 'read'
    seq             BIGINT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX watermark_moves_lookup ON watermark_moves(conversation_id, user_id, kind, seq);

CREATE TABLE blocks (
    blocker_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    blocked_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_by_blocked ON blocks(blocked_id, blocker_id);
