-- threadkit schema, version 5 (SQLite): what `threadkit sync` keeps between runs.
--
-- Per copied thread, the newest item of the source copied into it. It is written in the
-- transaction that appends those items, so it never says more or less than is stored.
-- Ids are kept from the source, so the row names no source: the same thread copied
-- from a mirror of the source continues from the same item.
CREATE TABLE sync_threads (
    project      TEXT NOT NULL,
    thread_id    TEXT NOT NULL,
    last_item_id TEXT NOT NULL,
    PRIMARY KEY (project, thread_id)
) WITHOUT ROWID;

-- Per source and user filter ('' for all users), a run that has not finished: the last
-- thread it finished in the source's oldest-first listing, where a new run resumes.
-- Deleted when the run finishes.
CREATE TABLE sync_runs (
    project      TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    user_filter  TEXT    NOT NULL,
    resume_after TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (project, source, user_filter)
) WITHOUT ROWID;
