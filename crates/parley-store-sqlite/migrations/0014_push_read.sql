-- Closing notifications read elsewhere (issue 15, beyond protocol.md
-- §12): which conversation each subscription was last shown a
-- notification for, up to which seq. A read at or past it writes a
-- 'push_read' outbox row (one per subscription and conversation, merged)
-- that the push worker sends as a silent update.
CREATE TABLE push_notified (
    subscription_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, conversation_id)
);
CREATE INDEX push_notified_by_reader ON push_notified (user_id, conversation_id);
CREATE UNIQUE INDEX outbox_push_read_merge ON outbox (target, topic) WHERE channel = 'push_read';
