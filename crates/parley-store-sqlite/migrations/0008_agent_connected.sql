-- Support: an agent's combined connection state, kept by the routing job
-- (the one process announcing a change writes it), read by a customer's
-- message that reopens a resolved chat (protocol.md §9, reopen).
ALTER TABLE agent_states ADD COLUMN connected INTEGER NOT NULL DEFAULT 0;
