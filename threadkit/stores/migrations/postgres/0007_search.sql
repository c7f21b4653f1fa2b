-- threadkit schema, version 6 (PostgreSQL): full-text search over thread titles and message
-- text (SQLite: its version 7, the same tokens from FTS5).
--
-- search_documents holds one tsvector per thread title (item_seq 0) and per user or
-- assistant message (item_seq = items.seq), with a GIN index. A table of its own rather
-- than a column of items: the rows a listing reads stay as narrow as before. Triggers
-- keep it current on every write, whoever writes (the store, imports, sync, maintenance);
-- inserts and deletes are handled per statement, so a bulk import's batch of 5,000 items
-- is indexed by one statement.
--
-- Tokens are runs of letters and digits: everything else becomes a space before the
-- 'simple' configuration lowercases the words (no stemming, no stop words: language-
-- neutral, and accents kept), so that hosts, e-mail addresses and hyphenated words split
-- into words as SQLite's unicode61 tokenizer splits them. A message's text is its content
-- parts' text (and, in the protocol's shape, its quoted text), the first 100,000
-- characters, which also keeps a vector far below PostgreSQL's 1 MB limit.

-- Names are schema-qualified: the functions give the same result whatever the caller's
-- search_path (pg_restore runs with an empty one).
CREATE FUNCTION threadkit_search_vector(body TEXT) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT pg_catalog.to_tsvector('pg_catalog.simple'::pg_catalog.regconfig,
        pg_catalog.regexp_replace(pg_catalog.left(body, 100000), '[^[:alnum:]]+', ' ', 'g'))
$$;

-- A message's text, as a one-row table: used in FROM (CROSS JOIN LATERAL), PostgreSQL
-- inlines it into the statement, where a call per row cost twice as much. PostgreSQL text
-- cannot hold NUL, and its JSON operators refuse a document with an escaped one (\u0000),
-- so such a payload is read with every \u0000 made \u0020 (a space; after an escaping
-- backslash, the same number of plain characters).
CREATE FUNCTION threadkit_item_text(payload JSON) RETURNS TABLE (body TEXT)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.concat_ws(' ', clean ->> 'quoted_text', (
        SELECT pg_catalog.string_agg(part ->> 'text', ' ')
        FROM pg_catalog.json_array_elements(
            CASE WHEN pg_catalog.json_typeof(clean -> 'content') = 'array'
            THEN clean -> 'content' ELSE '[]'::pg_catalog.json END) AS part))
    FROM (SELECT CASE WHEN pg_catalog.strpos(payload::pg_catalog.text, '\u0000') = 0
        THEN payload
        ELSE pg_catalog.replace(payload::pg_catalog.text, '\u0000', '\u0020')::pg_catalog.json
        END AS clean) AS cleaned
$$;

CREATE TABLE search_documents (
    project   TEXT     NOT NULL,
    thread_id TEXT     NOT NULL,
    item_seq  BIGINT   NOT NULL,
    vector    tsvector NOT NULL,
    PRIMARY KEY (project, thread_id, item_seq)
);
CREATE INDEX search_documents_vector ON search_documents USING gin (vector);

CREATE FUNCTION threadkit_items_searched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        DELETE FROM search_documents d USING gone g
        WHERE d.project = g.project AND d.thread_id = g.thread_id AND d.item_seq = g.seq;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO search_documents (project, thread_id, item_seq, vector)
        SELECT project, thread_id, seq, vector FROM (
            SELECT a.project, a.thread_id, a.seq, threadkit_search_vector(t.body) AS vector
            FROM added AS a CROSS JOIN LATERAL threadkit_item_text(a.payload) AS t
            WHERE a.rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')
        ) AS documents WHERE vector <> ''::tsvector;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER items_search_insert AFTER INSERT ON items
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION threadkit_items_searched();
CREATE TRIGGER items_search_update AFTER UPDATE ON items
    REFERENCING OLD TABLE AS gone NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION threadkit_items_searched();
CREATE TRIGGER items_search_delete AFTER DELETE ON items
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION threadkit_items_searched();

-- An update re-indexes only the titles it changed: most thread updates are of the status
-- or the protocol's fields.
CREATE FUNCTION threadkit_titles_searched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_documents d USING gone g
        WHERE d.project = g.project AND d.thread_id = g.id AND d.item_seq = 0;
    ELSIF TG_OP = 'UPDATE' THEN
        DELETE FROM search_documents d USING gone g JOIN added a ON a.seq = g.seq
        WHERE a.title IS DISTINCT FROM g.title
            AND d.project = g.project AND d.thread_id = g.id AND d.item_seq = 0;
        INSERT INTO search_documents (project, thread_id, item_seq, vector)
        SELECT project, id, 0, vector FROM (
            SELECT a.project, a.id, threadkit_search_vector(a.title) AS vector
            FROM added a JOIN gone g ON g.seq = a.seq WHERE a.title IS DISTINCT FROM g.title
        ) AS documents WHERE vector <> ''::tsvector;
    ELSE
        INSERT INTO search_documents (project, thread_id, item_seq, vector)
        SELECT project, id, 0, vector FROM (
            SELECT project, id, threadkit_search_vector(title) AS vector FROM added
        ) AS documents WHERE vector <> ''::tsvector;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER threads_search_insert AFTER INSERT ON threads
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION threadkit_titles_searched();
CREATE TRIGGER threads_search_update AFTER UPDATE ON threads
    REFERENCING OLD TABLE AS gone NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION threadkit_titles_searched();
CREATE TRIGGER threads_search_delete AFTER DELETE ON threads
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION threadkit_titles_searched();

-- What was stored before this version.
INSERT INTO search_documents (project, thread_id, item_seq, vector)
SELECT project, id, 0, vector FROM (
    SELECT project, id, threadkit_search_vector(title) AS vector FROM threads
) AS documents WHERE vector <> ''::tsvector;
INSERT INTO search_documents (project, thread_id, item_seq, vector)
SELECT project, thread_id, seq, vector FROM (
    SELECT i.project, i.thread_id, i.seq, threadkit_search_vector(t.body) AS vector
    FROM items AS i CROSS JOIN LATERAL threadkit_item_text(i.payload) AS t
    WHERE i.rest_type IN ('chatkit.user_message', 'chatkit.assistant_message')
) AS documents WHERE vector <> ''::tsvector;
