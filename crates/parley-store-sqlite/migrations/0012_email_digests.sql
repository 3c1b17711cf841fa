-- Email digests (protocol.md §12). A user's address (PATCH /users/me or
-- the platform JWT's email claim); no row: no digests.
CREATE TABLE user_emails (
    user_id TEXT PRIMARY KEY,
    address TEXT NOT NULL
);
-- What the last digest listed of each conversation, per user: when
-- (a conversation is listed at most once an hour) and up to which seq
-- (a message is mailed once).
CREATE TABLE email_digests (
    user_id         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    sent_at         INTEGER NOT NULL,
    sent_seq        INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) WITHOUT ROWID;
-- A digest is an outbox row (channel 'email', target the user, body the
-- listed seq ranges); one pending per user.
CREATE UNIQUE INDEX outbox_one_digest ON outbox (target) WHERE channel = 'email';
