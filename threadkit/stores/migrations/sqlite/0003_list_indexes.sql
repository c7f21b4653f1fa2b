-- threadkit schema, version 3 (SQLite): indexes shaped by the benchmarks (docs/performance.md).
--
-- A user's thread list reads every column of the page's rows. A user's threads are
-- created among everyone else's, so with a key-only index each row of a page was a
-- lookup on a table page of its own (21 random pages at a million threads). Carrying
-- the listed columns in the index makes the page one contiguous range.
DROP INDEX threads_by_user_time;
CREATE INDEX threads_by_user_time
    ON threads (project, user_id, created_us, seq, id, title, status, extra);

-- The partial index held, for REST-shaped items, the very entries of items_by_thread_time
-- and cost a fifth of every insert. REST listings walk items_by_thread_time and skip the
-- few protocol-only items (hidden context and the like) on the row they read anyway.
DROP INDEX items_rest_by_thread_time;
