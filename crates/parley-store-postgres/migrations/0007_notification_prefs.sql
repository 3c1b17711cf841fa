-- Notification preferences (protocol.md §12). No row: the defaults.
CREATE TABLE notification_prefs (
    user_id  TEXT PRIMARY KEY,
    push     TEXT NOT NULL,      -- all | mentions | off
    email    TEXT NOT NULL,      -- digest | off
    previews BOOLEAN NOT NULL
);
