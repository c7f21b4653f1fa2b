-- threadkit schema, version 1 (SQLite).
-- seq (the rowid) is the tie-breaker of the total order (created_us, seq):
-- it only grows, so equal timestamps keep insertion order.

CREATE TABLE threads (
    seq        INTEGER PRIMARY KEY,
    project    TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    created_us INTEGER NOT NULL,
    title      TEXT,
    status     TEXT    NOT NULL,
    extra      TEXT
);
CREATE UNIQUE INDEX threads_by_id ON threads (project, id);
CREATE INDEX threads_by_time ON threads (project, created_us, seq);
CREATE INDEX threads_by_user_time ON threads (project, user_id, created_us, seq);

CREATE TABLE items (
    seq        INTEGER PRIMARY KEY,
    project    TEXT    NOT NULL,
    thread_id  TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    created_us INTEGER NOT NULL,
    shape      TEXT    NOT NULL CHECK (shape IN ('rest', 'protocol')),
    rest_type  TEXT,
    payload    TEXT    NOT NULL
);
CREATE UNIQUE INDEX items_by_id ON items (project, id);
CREATE INDEX items_by_thread_time ON items (project, thread_id, created_us, seq);
CREATE INDEX items_rest_by_thread_time ON items (project, thread_id, created_us, seq)
    WHERE rest_type IS NOT NULL;

CREATE TABLE attachments (
    project   TEXT NOT NULL,
    id        TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    thread_id TEXT,
    payload   TEXT NOT NULL,
    PRIMARY KEY (project, id)
) WITHOUT ROWID;
CREATE INDEX attachments_by_thread ON attachments (project, thread_id);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    project     TEXT    NOT NULL,
    secret_hash TEXT    NOT NULL UNIQUE,
    hint        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) WITHOUT ROWID;
CREATE INDEX api_keys_by_project ON api_keys (project);
