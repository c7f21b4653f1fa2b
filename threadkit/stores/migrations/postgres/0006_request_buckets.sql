-- threadkit schema, version 6 (PostgreSQL): a session's rate-limit window counted per
-- time bucket (threadkit/stores/request_window.py) instead of a row per request, so a
-- check costs the same however many requests the window holds: a row per (session,
-- bucket) with its count and a row per session with the running total of its buckets.
-- The counts of the last minute are not carried over: for one window after the upgrade
-- a session may be admitted again.
DROP FUNCTION threadkit_take_request_slot(TEXT, TEXT, BIGINT, BIGINT, BIGINT);
DROP TABLE session_requests;

CREATE TABLE session_windows (
    project     TEXT   NOT NULL,
    session_id  TEXT   NOT NULL,
    total       BIGINT NOT NULL,  -- the sum of n over the session's buckets
    last_bucket BIGINT NOT NULL,
    PRIMARY KEY (project, session_id)
);
CREATE INDEX session_windows_by_last ON session_windows (last_bucket);

CREATE TABLE session_buckets (
    project    TEXT   NOT NULL,
    session_id TEXT   NOT NULL,
    bucket     BIGINT NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (project, session_id, bucket)
);

-- One round trip per request made with a session secret, its commit not waiting for
-- the WAL flush (a crash of the database server may forget the last requests of a
-- window, never anything else). Returns NULL when the request is admitted (and
-- counted), else the milliseconds until the oldest counted bucket leaves the window
-- (nothing counted). Requests of one session take turns on the session's lock and its
-- window row; a few sessions idle for a whole window are dropped on the way, skipping
-- rows another call holds (the row is locked before its buckets everywhere, so the two
-- never wait on each other in opposite orders).
CREATE FUNCTION threadkit_take_request_slot(
    p_project TEXT, p_session TEXT, p_now BIGINT, p_limit BIGINT, p_window BIGINT,
    p_width BIGINT
) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    current BIGINT := floor(p_now::numeric / p_width);
    gone BIGINT := floor((p_now - p_window - p_width + 1)::numeric / p_width);
    counted BIGINT;
    expired BIGINT;
    oldest BIGINT;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    WITH idle AS (
        DELETE FROM session_windows w USING (
            SELECT project, session_id FROM session_windows WHERE last_bucket <= gone
            LIMIT 20 FOR UPDATE SKIP LOCKED) AS i
        WHERE w.project = i.project AND w.session_id = i.session_id AND w.last_bucket <= gone
        RETURNING w.project, w.session_id)
    DELETE FROM session_buckets b USING idle
        WHERE b.project = idle.project AND b.session_id = idle.session_id AND b.bucket <= gone;

    PERFORM pg_advisory_xact_lock(hashtextextended('session ' || p_project || ' ' || p_session, 0));
    SELECT total INTO counted FROM session_windows
        WHERE project = p_project AND session_id = p_session FOR UPDATE;
    IF FOUND THEN
        WITH dropped AS (
            DELETE FROM session_buckets
            WHERE project = p_project AND session_id = p_session AND bucket <= gone
            RETURNING n)
        SELECT coalesce(sum(n), 0) INTO expired FROM dropped;
        counted := counted - expired;
    ELSE
        counted := 0;
        expired := 0;
    END IF;
    IF counted >= p_limit THEN
        IF expired > 0 THEN
            UPDATE session_windows SET total = counted
                WHERE project = p_project AND session_id = p_session;
        END IF;
        SELECT min(bucket) INTO oldest FROM session_buckets
            WHERE project = p_project AND session_id = p_session;
        IF oldest IS NULL THEN
            RETURN p_window;
        END IF;
        RETURN greatest(1, (oldest + 1) * p_width - 1 + p_window - p_now);
    END IF;
    INSERT INTO session_buckets AS b VALUES (p_project, p_session, current, 1)
        ON CONFLICT (project, session_id, bucket) DO UPDATE SET n = b.n + 1;
    INSERT INTO session_windows AS w VALUES (p_project, p_session, counted + 1, current)
        ON CONFLICT (project, session_id) DO UPDATE
        SET total = EXCLUDED.total, last_bucket = greatest(w.last_bucket, EXCLUDED.last_bucket);
    RETURN NULL;
END
$$;
