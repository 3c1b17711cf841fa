-- Support inboxes (protocol.md §9). This version routes support on the
-- SQLite backend only; PostgreSQL gains the message column so that both
-- backends read messages the same way.

-- A system message's report (`system` on the wire), JSON; NULL otherwise.
ALTER TABLE messages ADD COLUMN system TEXT;
