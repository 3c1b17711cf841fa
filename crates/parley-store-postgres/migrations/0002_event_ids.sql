-- A global, ordered id for every event, as SQLite has had since its
-- migration 4 (the rowid of its arrival-ordered events table): what an
-- outbox or a search indexer will tail. Existing rows are numbered in the
-- order they are stored. Ids are handed out at insert, so under concurrent
-- writers one may commit before a smaller one: a tailer must allow for
-- ids becoming visible out of order (e.g. re-read a short window behind
-- its cursor).
ALTER TABLE events ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX events_by_id ON events (id);
