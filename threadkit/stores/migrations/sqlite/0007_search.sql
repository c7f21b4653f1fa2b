-- threadkit schema, version 7 (SQLite): full-text search over thread titles and message text.
--
-- Two contentless FTS5 tables: item_search (rowid = items.seq) holds the text of user and
-- assistant messages, title_search (rowid = threads.seq) the titles. Contentless: the text
-- is in the items and threads already, so the index holds tokens only. A contentless table
-- forgets a row only when given the very text it indexed, so the text is defined once, by
-- the two views below, and read again from the row before it changes.
--
-- New rows are indexed by the store in the transaction that inserts them, with one
-- statement per batch of rows (threadkit/stores/sqlite/bulk.py, insert_unique, which every
-- insert of the store, its bulk import's helper process included, goes through). A
-- trigger per inserted row made FTS5 write out its pending terms at every row's statement:
-- a bulk import was 3x slower. Updates and deletes, whoever makes them (maintenance
-- included), are followed by the triggers below.
--
-- Tokens are runs of letters and digits, case folded, accents kept ('unicode61
-- remove_diacritics 0'), as PostgreSQL's 'simple' configuration does in its migration 6,
-- so that both backends find the same threads. A message's text is its content parts'
-- text (and, in the protocol's shape, its quoted text), the first 100,000 characters.

CREATE VIRTUAL TABLE item_search USING fts5 (
    body, content = '', tokenize = 'unicode61 remove_diacritics 0'
);
CREATE VIRTUAL TABLE title_search USING fts5 (
    body, content = '', tokenize = 'unicode61 remove_diacritics 0'
);

-- SQLite's JSON functions end a string at an escaped NUL (\u0000), so such a payload is
-- read with every \u0000 made \u0020 (a space; after an escaping backslash, the same
-- number of plain characters), as PostgreSQL reads it.
CREATE VIEW item_search_text (seq, body) AS
SELECT seq, substr(trim(
    coalesce(json_extract(doc, '$.quoted_text') || ' ', '')
    || coalesce((SELECT group_concat(json_extract(part.value, '$.text'), ' ')
                 FROM json_each(doc, '$.content') AS part), '')), 1, 100000)
FROM (SELECT seq, CASE WHEN instr(payload, '\u0000') > 0
             THEN replace(payload, '\u0000', '\u0020') ELSE payload END AS doc
      FROM items WHERE rest_type IN ('chatkit.user_message', 'chatkit.assistant_message'));

CREATE TRIGGER items_search_delete BEFORE DELETE ON items
WHEN old.rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')
BEGIN
    INSERT INTO item_search (item_search, rowid, body)
    SELECT 'delete', seq, body FROM item_search_text WHERE seq = old.seq;
END;

CREATE TRIGGER items_search_update_old BEFORE UPDATE OF payload, rest_type ON items
WHEN old.rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')
BEGIN
    INSERT INTO item_search (item_search, rowid, body)
    SELECT 'delete', seq, body FROM item_search_text WHERE seq = old.seq;
END;

CREATE TRIGGER items_search_update_new AFTER UPDATE OF payload, rest_type ON items
WHEN new.rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')
BEGIN
    INSERT INTO item_search (rowid, body)
    SELECT seq, body FROM item_search_text WHERE seq = new.seq;
END;

CREATE VIEW title_search_text (seq, body) AS
SELECT seq, substr(title, 1, 100000) FROM threads WHERE title IS NOT NULL;

CREATE TRIGGER threads_search_delete BEFORE DELETE ON threads
WHEN old.title IS NOT NULL
BEGIN
    INSERT INTO title_search (title_search, rowid, body)
    SELECT 'delete', seq, body FROM title_search_text WHERE seq = old.seq;
END;

CREATE TRIGGER threads_search_update_old BEFORE UPDATE OF title ON threads
WHEN old.title IS NOT new.title AND old.title IS NOT NULL
BEGIN
    INSERT INTO title_search (title_search, rowid, body)
    SELECT 'delete', seq, body FROM title_search_text WHERE seq = old.seq;
END;

CREATE TRIGGER threads_search_update_new AFTER UPDATE OF title ON threads
WHEN old.title IS NOT new.title AND new.title IS NOT NULL
BEGIN
    INSERT INTO title_search (rowid, body)
    SELECT seq, body FROM title_search_text WHERE seq = new.seq;
END;

-- What was stored before this version.
INSERT INTO item_search (rowid, body) SELECT seq, body FROM item_search_text;
INSERT INTO title_search (rowid, body) SELECT seq, body FROM title_search_text;
