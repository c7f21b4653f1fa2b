-- threadkit schema, version 5 (PostgreSQL): a session's rate-limit check and the record
-- of the admitted request in one function, so that a request made with a session secret
-- costs one round trip instead of four (BEGIN, the session's lock, the check, COMMIT).
-- Its commit does not wait for the WAL flush (synchronous_commit off for that transaction
-- only): a crash of the database server may forget the last requests of a window, never
-- anything else.
--
-- Returns NULL when the request is admitted (and recorded), else the milliseconds until
-- the oldest counted request leaves the window (nothing recorded). Entries older than the
-- window are purged for all sessions, 100 at a time, skipping rows another call holds.
CREATE FUNCTION threadkit_take_request_slot(
    p_project TEXT, p_session TEXT, p_now BIGINT, p_limit BIGINT, p_window BIGINT
) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    counted BIGINT;
    oldest BIGINT;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(hashtextextended('session ' || p_project || ' ' || p_session, 0));
    DELETE FROM session_requests WHERE id = ANY(ARRAY(
        SELECT id FROM session_requests WHERE at_ms <= p_now - p_window
        ORDER BY at_ms LIMIT 100 FOR UPDATE SKIP LOCKED));
    SELECT count(*), min(at_ms) INTO counted, oldest FROM session_requests
        WHERE project = p_project AND session_id = p_session AND at_ms > p_now - p_window;
    IF counted >= p_limit THEN
        RETURN greatest(1, oldest + p_window - p_now);
    END IF;
    INSERT INTO session_requests (project, session_id, at_ms) VALUES (p_project, p_session, p_now);
    RETURN NULL;
END
$$;
