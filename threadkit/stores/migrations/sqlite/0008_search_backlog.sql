-- threadkit schema, version 8 (SQLite): a bulk import leaves its rows to be indexed for
-- search after it commits (PostgreSQL: the same in its version 8).
--
-- Indexing its messages made an import take 1.5 times as long (docs/performance.md), so a
-- bulk import records the seq ranges it inserted here instead, and every server works
-- them off in the background (threadkit/services/search_index.py), a few thousand rows a
-- transaction. Until then a search does not find those rows through the index. Rows
-- written any other way are indexed in their own transaction, as before.
--
-- The rows of a range are not in the contentless FTS5 tables, which forget a row only
-- when given the very text it indexed, so the triggers that take a changed or deleted
-- row out of the index leave the rows of a range alone. SQLite gives a new row the
-- highest seq plus one, so after the last rows of a range are deleted a new row could
-- take one of their seqs: every insert first cuts the ranges down to the highest seq it
-- found (threadkit/stores/sqlite/bulk.py, insert_unique).

CREATE TABLE search_backlog (
    tbl       TEXT    NOT NULL CHECK (tbl IN ('threads', 'items')),
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    PRIMARY KEY (tbl, first_seq)
) WITHOUT ROWID;

DROP TRIGGER items_search_delete;
DROP TRIGGER items_search_update_old;
DROP TRIGGER items_search_update_new;
DROP TRIGGER threads_search_delete;
DROP TRIGGER threads_search_update_old;
DROP TRIGGER threads_search_update_new;

CREATE TRIGGER items_search_delete BEFORE DELETE ON items
WHEN old.rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')
    AND NOT EXISTS (SELECT 1 FROM search_backlog
                    WHERE tbl = 'items' AND old.seq BETWEEN first_seq AND last_seq)
BEGIN
    INSERT INTO item_search (item_search, rowid, body)
    SELECT 'delete', seq, body FROM item_search_text WHERE seq = old.seq;
END;

CREATE TRIGGER items_search_update_old BEFORE UPDATE OF payload, rest_type ON items
WHEN old.rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')
    AND NOT EXISTS (SELECT 1 FROM search_backlog
                    WHERE tbl = 'items' AND old.seq BETWEEN first_seq AND last_seq)
BEGIN
    INSERT INTO item_search (item_search, rowid, body)
    SELECT 'delete', seq, body FROM item_search_text WHERE seq = old.seq;
END;

CREATE TRIGGER items_search_update_new AFTER UPDATE OF payload, rest_type ON items
WHEN new.rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')
    AND NOT EXISTS (SELECT 1 FROM search_backlog
                    WHERE tbl = 'items' AND new.seq BETWEEN first_seq AND last_seq)
BEGIN
    INSERT INTO item_search (rowid, body)
    SELECT seq, body FROM item_search_text WHERE seq = new.seq;
END;

CREATE TRIGGER threads_search_delete BEFORE DELETE ON threads
WHEN old.title IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM search_backlog
                    WHERE tbl = 'threads' AND old.seq BETWEEN first_seq AND last_seq)
BEGIN
    INSERT INTO title_search (title_search, rowid, body)
    SELECT 'delete', seq, body FROM title_search_text WHERE seq = old.seq;
END;

CREATE TRIGGER threads_search_update_old BEFORE UPDATE OF title ON threads
WHEN old.title IS NOT new.title AND old.title IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM search_backlog
                    WHERE tbl = 'threads' AND old.seq BETWEEN first_seq AND last_seq)
BEGIN
    INSERT INTO title_search (title_search, rowid, body)
    SELECT 'delete', seq, body FROM title_search_text WHERE seq = old.seq;
END;

CREATE TRIGGER threads_search_update_new AFTER UPDATE OF title ON threads
WHEN old.title IS NOT new.title AND new.title IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM search_backlog
                    WHERE tbl = 'threads' AND new.seq BETWEEN first_seq AND last_seq)
BEGIN
    INSERT INTO title_search (rowid, body)
    SELECT seq, body FROM title_search_text WHERE seq = new.seq;
END;
