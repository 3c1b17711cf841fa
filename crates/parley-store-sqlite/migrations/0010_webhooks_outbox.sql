-- Webhooks (protocol.md §12) and the durable outbox every outbound call
-- goes through. An outbox row is written in the transaction of the event
-- that causes it (events.rs), so a crash loses nothing; its id is the
-- `webhook-id` of every attempt.
CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    url           TEXT NOT NULL,
    description   TEXT,
    secret        TEXT NOT NULL,
    active        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    -- First failed attempt since the last success (automatic disable).
    failing_since INTEGER
);
CREATE TABLE webhook_events (
    event_type TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    PRIMARY KEY (event_type, webhook_id)
) WITHOUT ROWID;
CREATE INDEX webhook_events_by_webhook ON webhook_events (webhook_id);
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,   -- webhook
    target          TEXT NOT NULL,   -- the webhook's id
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,   -- the section 5 event
    status          TEXT NOT NULL,   -- pending | delivered | failed
    attempts        INTEGER NOT NULL,
    last_status     INTEGER,
    created_at      INTEGER NOT NULL,
    -- Due time while pending (a claimed row's lease); NULL once settled.
    next_attempt_at INTEGER
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_by_target ON outbox (target, created_at, id);
