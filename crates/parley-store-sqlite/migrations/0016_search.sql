-- Message search (protocol.md §13). One document per message with text,
-- keyed by the message's rowid, written in the transaction of its send,
-- edit or tombstone. The document is the tokens parley_domain::search
-- makes (words folded to lower case, Han/Kana/Hangul as character pairs)
-- separated by spaces, so unicode61 keeps each whole; contentless (the text
-- is in messages) with deletes, so a tombstone leaves nothing behind.
CREATE VIRTUAL TABLE message_search USING fts5(
    doc,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0'
);
