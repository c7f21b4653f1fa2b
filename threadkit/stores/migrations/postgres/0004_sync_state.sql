-- threadkit schema, version 4 (PostgreSQL). Same tables as sqlite/0005_sync_state.sql
-- (SQLite's version 4, a covering index, has no PostgreSQL counterpart): what
-- `threadkit sync` keeps between runs.
--
-- Per copied thread, the newest item of the source copied into it, written in the
-- transaction that appends those items.
CREATE TABLE sync_threads (
    project      TEXT NOT NULL,
    thread_id    TEXT NOT NULL,
    last_item_id TEXT NOT NULL,
    PRIMARY KEY (project, thread_id)
);

-- Per source and user filter ('' for all users), a run that has not finished: the last
-- thread it finished in the source's oldest-first listing. Deleted when the run finishes.
CREATE TABLE sync_runs (
    project      TEXT   NOT NULL,
    source       TEXT   NOT NULL,
    user_filter  TEXT   NOT NULL,
    resume_after TEXT   NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (project, source, user_filter)
);
