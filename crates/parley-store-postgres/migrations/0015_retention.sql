-- Retention (protocol.md §13). A conversation's own retention in days
-- (NULL: the server's retention.message_days), and the seq up to which its
-- messages are expired: a conversation's expired messages are a prefix of
-- its history, so a pass only looks past this mark.
ALTER TABLE conversations ADD COLUMN retention_days INTEGER;
ALTER TABLE conversations ADD COLUMN expired_seq BIGINT NOT NULL DEFAULT 0;

-- The message.edited events of each message, so that retention redacts a
-- message's edits without scanning its conversation's log.
CREATE TABLE message_edits (
    message_id      TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    seq             BIGINT NOT NULL,
    PRIMARY KEY (message_id, seq)
);
INSERT INTO message_edits (message_id, conversation_id, seq)
    SELECT body::json -> 'data' ->> 'message_id', conversation_id, seq
    FROM events WHERE type = 'message.edited';
