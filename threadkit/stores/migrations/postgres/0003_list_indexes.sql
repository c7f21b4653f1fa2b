-- threadkit schema, version 3 (PostgreSQL). Same change to items as sqlite/0003_list_indexes.sql.
--
-- The partial index held, for REST-shaped items, the very entries of items_by_thread_time
-- and was paid for on every insert. REST listings walk items_by_thread_time and skip the
-- few protocol-only items (hidden context and the like) on the row they read anyway.
-- (The SQLite migration also widens threads_by_user_time; PostgreSQL meets the same
-- target without it, its buffer cache holding the table pages a page of threads needs.)
DROP INDEX items_rest_by_thread_time;
