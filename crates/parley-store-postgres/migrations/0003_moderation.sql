-- Admin moderation (protocol.md §11). A ban sets banned_at and moves
-- sessions_valid_after: credentials issued at or before it stay refused,
-- even after the ban is lifted.
ALTER TABLE users ADD COLUMN banned_at BIGINT;
ALTER TABLE users ADD COLUMN ban_reason TEXT;
ALTER TABLE users ADD COLUMN sessions_valid_after BIGINT;
CREATE INDEX users_banned_at ON users(banned_at) WHERE banned_at IS NOT NULL;
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

-- Append-only: ids are time-ordered (UUIDv7), newest first is id order.
CREATE TABLE audit_log (
    id          TEXT COLLATE "C" PRIMARY KEY,
    actor_id    TEXT COLLATE "C",
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT COLLATE "C" NOT NULL,
    at          BIGINT NOT NULL,
    details     TEXT NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
