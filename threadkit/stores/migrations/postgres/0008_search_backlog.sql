-- threadkit schema, version 8 (PostgreSQL): a bulk import leaves its rows to be indexed
-- for search after it commits (SQLite: the same in its version 8).
--
-- Computing a message's tsvector cost an import 3.7 times its time without the index
-- (docs/performance.md), so a bulk import sets threadkit.search_later for its
-- transaction, which the insert triggers below obey, and records the seq ranges it
-- inserted here instead. Every server works them off in the background
-- (threadkit/services/search_index.py), a few thousand rows a transaction, with
-- FOR UPDATE SKIP LOCKED so that many servers share the work. Until then a search does
-- not find those rows. Rows written any other way are indexed by their own statement,
-- as before.
--
-- seq comes from a sequence, so a range may also hold other transactions' rows, which
-- their own statements indexed: the documents are inserted ON CONFLICT DO NOTHING, and
-- a change to a row of a range (re-indexed by the update trigger) or its deletion needs
-- nothing else.

CREATE TABLE search_backlog (
    tbl       TEXT   NOT NULL CHECK (tbl IN ('threads', 'items')),
    first_seq BIGINT NOT NULL,
    last_seq  BIGINT NOT NULL,
    PRIMARY KEY (tbl, first_seq)
);

CREATE OR REPLACE FUNCTION threadkit_items_searched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        DELETE FROM search_documents d USING gone g
        WHERE d.project = g.project AND d.thread_id = g.thread_id AND d.item_seq = g.seq;
    END IF;
    IF TG_OP = 'INSERT'
            AND pg_catalog.current_setting('threadkit.search_later', true) = 'on' THEN
        RETURN NULL;
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

CREATE OR REPLACE FUNCTION threadkit_titles_searched() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ELSIF pg_catalog.current_setting('threadkit.search_later', true) IS DISTINCT FROM 'on' THEN
        INSERT INTO search_documents (project, thread_id, item_seq, vector)
        SELECT project, id, 0, vector FROM (
            SELECT project, id, threadkit_search_vector(title) AS vector FROM added
        ) AS documents WHERE vector <> ''::tsvector;
    END IF;
    RETURN NULL;
END
$$;
