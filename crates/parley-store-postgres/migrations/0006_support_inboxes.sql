-- Support inboxes (protocol.md §9), as on SQLite (migration 0007 there).
-- Decisions lock rows in one order: inboxes (by id), then agent_states
-- (by user id), then the conversation, then its support row; see
-- src/support.rs.

CREATE TABLE inboxes (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    timezone            TEXT NOT NULL,
    hours               TEXT,            -- JSON list of intervals; NULL: always open
    holidays            TEXT NOT NULL,   -- JSON list of local dates
    offline_message     TEXT NOT NULL,
    routing             TEXT NOT NULL,
    max_chats_per_agent INTEGER NOT NULL,
    created_at          BIGINT NOT NULL,
    -- round_robin: the agent assigned last in this inbox.
    last_agent_id       TEXT
);

-- Agents of an inbox, in the order they were added (`position`).
CREATE TABLE inbox_agents (
    inbox_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    max_chats INTEGER,                  -- NULL: the inbox's max_chats_per_agent
    position  BIGINT NOT NULL,
    PRIMARY KEY (inbox_id, user_id)
);
CREATE INDEX inbox_agents_by_user ON inbox_agents(user_id);

-- Per agent, for every inbox: availability and the last assignment
-- (least_busy's tie-break). Its row is also the agent's capacity lock.
-- No row: available, never assigned.
CREATE TABLE agent_states (
    user_id          TEXT PRIMARY KEY,
    status           TEXT NOT NULL,
    last_assigned_at BIGINT,
    last_assigned_n  BIGINT,            -- a counter breaking ties within one millisecond
    -- The combined connection state, kept by the routing job (read by a
    -- customer's message that reopens a resolved chat).
    connected        BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE support_conversations (
    conversation_id TEXT PRIMARY KEY,
    inbox_id        TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    state           TEXT NOT NULL,      -- queued | assigned | resolved
    assignee_id     TEXT,               -- the current (or, once resolved, last) assignee
    queued_at       BIGINT,
    assigned_at     BIGINT,
    resolved_at     BIGINT,
    -- Queue order: returned chats (front = 1) first, then by rank.
    queue_front     INTEGER NOT NULL DEFAULT 0,
    queue_rank      BIGINT NOT NULL DEFAULT 0
);
-- One open conversation per customer and inbox, whatever races.
CREATE UNIQUE INDEX support_one_open ON support_conversations(inbox_id, customer_id)
    WHERE state <> 'resolved';
CREATE INDEX support_queue ON support_conversations(inbox_id, queue_front DESC, queue_rank, conversation_id)
    WHERE state = 'queued';
CREATE INDEX support_by_assignee ON support_conversations(assignee_id, state);
CREATE INDEX support_by_customer ON support_conversations(customer_id);
