-- threadkit schema, version 4 (SQLite): a covering index for retrieving a thread by id.
--
-- Retrieving a thread was two B-tree descents, threads_by_id to the rowid and then the
-- table. SQLite has no INCLUDE columns, so the unique index stays for uniqueness and this
-- one carries the row; the lookup by id names it with INDEXED BY, since the planner prefers
-- the unique index for an equality on all of its columns. At a million threads it made a
-- retrieve 1.03-1.10x faster under load, and its p50 went from 1.22x that at a thousand
-- threads to 1.14x (docs/performance.md, change 29).
CREATE INDEX threads_by_id_covering
    ON threads (project, id, user_id, created_us, title, status, extra);
