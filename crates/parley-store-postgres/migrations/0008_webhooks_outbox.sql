-- Webhooks (protocol.md §12) and the durable outbox every outbound call
-- goes through. An outbox row is written by the statement that stores the
-- event causing it (events.rs, INSERT_EVENT), so a crash loses nothing;
-- its id is the `webhook-id` of every attempt. Workers of every process
-- claim due rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE webhooks (
    id            TEXT COLLATE "C" PRIMARY KEY,
    url           TEXT NOT NULL,
    description   TEXT,
    secret        TEXT NOT NULL,
    active        BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    -- First failed attempt since the last success (automatic disable).
    failing_since BIGINT
);
CREATE TABLE webhook_events (
    event_type TEXT COLLATE "C" NOT NULL,
    webhook_id TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    PRIMARY KEY (event_type, webhook_id)
);
CREATE INDEX webhook_events_by_webhook ON webhook_events (webhook_id);
CREATE TABLE outbox (
    id              TEXT COLLATE "C" PRIMARY KEY,
    channel         TEXT NOT NULL,   -- webhook
    target          TEXT COLLATE "C" NOT NULL,   -- the webhook's id
    event_type      TEXT NOT NULL,
    body            TEXT NOT NULL,   -- the section 5 event
    status          TEXT NOT NULL,   -- pending | delivered | failed
    attempts        INTEGER NOT NULL,
    last_status     INTEGER,
    created_at      BIGINT NOT NULL,
    -- Due time while pending (a claimed row's lease); NULL once settled.
    next_attempt_at BIGINT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_by_target ON outbox (target, created_at, id);
