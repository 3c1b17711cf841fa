-- Pinned and archived chats (docs/protocol.md, "Pinned and archived
-- chats"), per user. A row belongs to the membership it was made in
-- (joined_seq): after leaving and rejoining it no longer matches and is
-- ignored, then replaced by the next change. A row holding neither a pin
-- nor an archive mark is deleted.
CREATE TABLE chat_states (
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    joined_seq      BIGINT NOT NULL,
    pinned_at       BIGINT,
    archived_seq    BIGINT,
    PRIMARY KEY (user_id, conversation_id)
);
