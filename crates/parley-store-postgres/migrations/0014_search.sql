-- Message search (protocol.md §13). One row per message with text, written
-- in the transaction of its send, edit or tombstone. `doc` is built from
-- the tokens parley_domain::search makes (words folded to lower case,
-- Han/Kana/Hangul as character pairs), given in tsvector input form so
-- PostgreSQL's parser never re-splits them; queries are tsquery input of
-- the same tokens, so both backends find the same messages.
CREATE TABLE message_search (
    conversation_id TEXT COLLATE "C" NOT NULL,
    seq             BIGINT NOT NULL,
    doc             tsvector NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE INDEX message_search_doc ON message_search USING GIN (doc);
