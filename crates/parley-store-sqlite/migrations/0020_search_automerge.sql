-- The search index merges its segments eight at a time instead of four:
-- every send's transaction writes a new level-0 segment (the writer's group
-- commit batches sends, but a batch is still one segment), and at four per
-- level the merges rewrote the fresh segments twice as often as at eight.
-- Queries read at most eight segments per level instead of four.
INSERT INTO message_search(message_search, rank) VALUES ('automerge', 8);
