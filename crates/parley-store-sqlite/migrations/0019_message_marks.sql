-- Starred and deleted-for-me messages (docs/protocol.md, "Starred messages
-- and delete for me"), per user. The conversation and seq are copied from
-- the message so that a chat's marks are one range read. A row holding no
-- mark is deleted.
CREATE TABLE message_marks (
    user_id         TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    starred_at      INTEGER,
    hidden_at       INTEGER,
    PRIMARY KEY (user_id, message_id)
) WITHOUT ROWID;
CREATE INDEX message_marks_by_conversation ON message_marks(user_id, conversation_id, seq);
CREATE INDEX message_marks_starred ON message_marks(user_id, starred_at) WHERE starred_at IS NOT NULL;
