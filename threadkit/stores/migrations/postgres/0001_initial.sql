-- threadkit schema, version 1 (PostgreSQL). Same tables as sqlite/0001_initial.sql.
-- seq is the tie-breaker of the total order (created_us, seq). The sequences keep
-- the default CACHE 1, so numbers grow across all connections in call order.
-- JSON columns are json, not jsonb: json keeps the text as given (key order, spacing),
-- so what the API returns is byte for byte what was stored; nothing queries inside them.

CREATE TABLE threads (
    seq        BIGSERIAL PRIMARY KEY,
    project    TEXT   NOT NULL,
    id         TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    created_us BIGINT NOT NULL,
    title      TEXT,
    status     JSON   NOT NULL,
    extra      JSON
);
CREATE UNIQUE INDEX threads_by_id ON threads (project, id);
CREATE INDEX threads_by_time ON threads (project, created_us, seq);
CREATE INDEX threads_by_user_time ON threads (project, user_id, created_us, seq);

CREATE TABLE items (
    seq        BIGSERIAL PRIMARY KEY,
    project    TEXT   NOT NULL,
    thread_id  TEXT   NOT NULL,
    id         TEXT   NOT NULL,
    created_us BIGINT NOT NULL,
    shape      TEXT   NOT NULL CHECK (shape IN ('rest', 'protocol')),
    rest_type  TEXT,
    payload    JSON   NOT NULL
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
    payload   JSON NOT NULL,
    PRIMARY KEY (project, id)
);
CREATE INDEX attachments_by_thread ON attachments (project, thread_id);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    project     TEXT   NOT NULL,
    secret_hash TEXT   NOT NULL UNIQUE,
    hint        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_by_project ON api_keys (project);
