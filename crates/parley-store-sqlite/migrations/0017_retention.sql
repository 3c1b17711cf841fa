-- Retention (protocol.md §13). A conversation's own retention in days
-- (NULL: the server's retention.message_days), and the seq up to which its
-- messages are expired: a conversation's expired messages are a prefix of
-- its history, so a pass only looks past this mark.
ALTER TABLE conversations ADD COLUMN retention_days INTEGER;
ALTER TABLE conversations ADD COLUMN expired_seq INTEGER NOT NULL DEFAULT 0;

-- The message.edited events of each message, so that retention redacts a
-- message's edits without scanning its conversation's log.
CREATE TABLE message_edits (
    message_id      TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;
INSERT INTO message_edits (message_id, conversation_id, seq)
    SELECT json_extract(body, '$.data.message_id'), conversation_id, seq
    FROM events WHERE type = 'message.edited';
