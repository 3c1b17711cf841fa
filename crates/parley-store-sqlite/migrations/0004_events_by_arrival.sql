-- Events are stored in arrival order (an append-only rowid table) and found
-- by the (conversation_id, seq) index. Keyed by (conversation_id, seq)
-- themselves, every commit of sends to n conversations inserted into n places
-- of the largest table, and SQLite's page balancing rewrote neighbouring
-- pages on each split: in the W3 shape (64 sends to 16 conversations per
-- commit) the events B-tree alone wrote 95 of 196 WAL pages per commit;
-- appended, the table and its index write 50 (issue 6).
CREATE TABLE events_by_arrival (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    type            TEXT NOT NULL,
    -- The event exactly as it goes on the wire, serialized once.
    body            TEXT NOT NULL,
    UNIQUE (conversation_id, seq)
);
INSERT INTO events_by_arrival (conversation_id, seq, type, body)
    SELECT conversation_id, seq, type, body FROM events ORDER BY conversation_id, seq;
DROP TABLE events;
ALTER TABLE events_by_arrival RENAME TO events;
