-- Receipts, blocking and last-seen.

-- Every forward move of a member's watermark, with its time, so that
-- "when did X receive / read message N" is the first move to >= N.
CREATE TABLE watermark_moves (
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    kind            TEXT NOT NULL, -- 'delivered' or 'read'
    seq             INTEGER NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX watermark_moves_lookup ON watermark_moves(conversation_id, user_id, kind, seq);

CREATE TABLE blocks (
    blocker_id TEXT NOT NULL REFERENCES users(id),
    blocked_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX blocks_by_blocked ON blocks(blocked_id, blocker_id);

ALTER TABLE users ADD COLUMN last_seen_at INTEGER;
