-- threadkit schema, version 6 (SQLite): the sessions' rate-limit windows leave the main
-- database for the file `<database>-windows` (threadkit/stores/sqlite/windows.py), which
-- is written on every request made with a session secret without a flush to disk and
-- without taking the main database's write lock. The counts of the last minute are not
-- carried over: for one window after the upgrade a session may be admitted again.
DROP TABLE session_requests;
