-- A message's pushes are written as one 'push_fanout' outbox row in the
-- send's transaction (target = the sender, topic = the conversation, seq =
-- the message); the push worker expands it into one 'push' row per
-- subscription of every other member, a chunk of members per transaction,
-- and keeps here the last member (user id) it expanded (protocol.md §12, issue 15:
-- a send to a group of 10,000 stays as fast as with nobody subscribed).
ALTER TABLE outbox ADD COLUMN fanout_cursor TEXT COLLATE "C";
