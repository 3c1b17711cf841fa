-- Web Push (protocol.md §12). server_keys holds keys every process must
-- share (the VAPID key pair), stored once by whichever process starts
-- first.
CREATE TABLE server_keys (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);
-- A browser's subscription (endpoint, p256dh, auth), or a native app's
-- push-gateway device (platform, token; endpoint is then
-- 'gateway:PLATFORM:TOKEN', so one registration per device too).
CREATE TABLE push_subscriptions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL,
    endpoint   TEXT COLLATE "C" NOT NULL UNIQUE,
    p256dh     TEXT NOT NULL,
    auth       TEXT NOT NULL,
    platform   TEXT,
    token      TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions (user_id, created_at);
-- A push row: target = the subscription, topic = the conversation, seq =
-- the newest message it is for. One per subscription and conversation,
-- so that a newer message merges into the pending push (events.rs).
ALTER TABLE outbox ADD COLUMN topic TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN seq BIGINT;
CREATE UNIQUE INDEX outbox_push_merge ON outbox (target, topic) WHERE channel = 'push';
