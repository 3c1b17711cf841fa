-- Lower-cased "username display name" for prefix search on any word.
-- SQLite's LIKE folds only ASCII, so the server stores the Unicode-folded
-- form and compares folded to folded.
ALTER TABLE users ADD COLUMN search_name TEXT NOT NULL DEFAULT '';
UPDATE users SET search_name = lower(username || ' ' || display_name);
