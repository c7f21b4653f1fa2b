-- threadkit schema, version 2 (PostgreSQL). Same tables as sqlite/0002_sessions.sql.
-- json, not jsonb, as in 0001: the objects come back with their keys in the order stored.

CREATE TABLE sessions (
    project       TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    secret_hash   TEXT    NOT NULL UNIQUE,
    secret_hint   TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    cancelled_at  BIGINT,
    workflow      JSON    NOT NULL,
    rate_limit    INTEGER NOT NULL,
    configuration JSON    NOT NULL,
    files_used    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project, id)
);

-- One row per admitted request, kept for the length of the sliding window.
CREATE TABLE session_requests (
    -- the purge deletes old rows by id (an index lookup), a few at a time
    id         BIGSERIAL PRIMARY KEY,
    project    TEXT   NOT NULL,
    session_id TEXT   NOT NULL,
    at_ms      BIGINT NOT NULL
);
CREATE INDEX session_requests_by_session ON session_requests (project, session_id, at_ms);
CREATE INDEX session_requests_by_time ON session_requests (at_ms);

CREATE TABLE feedback (
    seq        BIGSERIAL PRIMARY KEY,
    project    TEXT   NOT NULL,
    thread_id  TEXT   NOT NULL,
    item_id    TEXT   NOT NULL,
    user_id    TEXT   NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('positive', 'negative')),
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX feedback_by_item ON feedback (project, thread_id, item_id, user_id);
CREATE INDEX feedback_by_project ON feedback (project, seq);
