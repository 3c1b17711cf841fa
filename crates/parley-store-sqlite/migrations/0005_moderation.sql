-- Admin moderation (protocol.md §11). A ban sets banned_at and moves
-- sessions_valid_after: credentials issued at or before it stay refused,
-- even after the ban is lifted.
ALTER TABLE users ADD COLUMN banned_at INTEGER;
ALTER TABLE users ADD COLUMN ban_reason TEXT;
ALTER TABLE users ADD COLUMN sessions_valid_after INTEGER;
CREATE INDEX users_banned_at ON users(banned_at) WHERE banned_at IS NOT NULL;
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

-- Append-only: ids are time-ordered (UUIDv7), newest first is id order.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    at          INTEGER NOT NULL,
    details     TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
