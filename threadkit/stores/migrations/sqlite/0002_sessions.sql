-- threadkit schema, version 2 (SQLite): ChatKit sessions, their request log for the
-- per-session rate limit, and feedback on thread items.

CREATE TABLE sessions (
    project       TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    secret_hash   TEXT    NOT NULL UNIQUE,
    secret_hint   TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    cancelled_at  INTEGER,
    workflow      TEXT    NOT NULL,
    rate_limit    INTEGER NOT NULL,
    configuration TEXT    NOT NULL,
    files_used    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project, id)
) WITHOUT ROWID;

-- One row per admitted request, kept for the length of the sliding window.
CREATE TABLE session_requests (
    project    TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL
);
CREATE INDEX session_requests_by_session ON session_requests (project, session_id, at_ms);
CREATE INDEX session_requests_by_time ON session_requests (at_ms);

-- AUTOINCREMENT: a replaced row must get a new, higher seq even when it was the newest,
-- so an export paging by seq never misses it.
CREATE TABLE feedback (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    project    TEXT    NOT NULL,
    thread_id  TEXT    NOT NULL,
    item_id    TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('positive', 'negative')),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX feedback_by_item ON feedback (project, thread_id, item_id, user_id);
CREATE INDEX feedback_by_project ON feedback (project, seq);
