-- threadkit schema, version 9 (PostgreSQL): a rate-limit check takes up to p_want slots
-- of a session's window at once (a lease, threadkit/services/ratelimit.py) and gives
-- back, in the same call, the unused slots of an earlier bucket; and the purge of idle
-- sessions' windows runs only when the caller asks for it (at most once per bucket and
-- process) instead of on every call, where it took 40-60 us of a 140 us check.
--
-- The tables are those of version 6. threadkit_take_request_slot stays for the
-- processes of the previous version that may run beside this one during an upgrade:
-- both count in the same rows under the same locks.
--
-- granted: the slots counted in the bucket of p_now (request_window.grant_for: at most
-- p_want, more than one only while the room left is at least 16); 0 when refused, with
-- wait_ms the milliseconds until the oldest counted bucket leaves the window. p_back
-- slots of bucket p_back_bucket are uncounted first (never below zero; nothing if the
-- bucket has left the window), and a bucket given back to 0 is dropped. p_want 0 only
-- gives back. purged: how many idle windows were dropped (a full batch: ask again).
-- Its commit does not wait for the WAL flush, as in version 6.
CREATE FUNCTION threadkit_take_request_slots(
    p_project TEXT, p_session TEXT, p_now BIGINT, p_limit BIGINT, p_window BIGINT,
    p_width BIGINT, p_want BIGINT, p_back_bucket BIGINT, p_back BIGINT, p_purge BOOLEAN,
    OUT granted BIGINT, OUT wait_ms BIGINT, OUT purged BIGINT
) LANGUAGE plpgsql AS $$
DECLARE
    current BIGINT := floor(p_now::numeric / p_width);
    gone BIGINT := floor((p_now - p_window - p_width + 1)::numeric / p_width);
    counted BIGINT;
    stored BIGINT;
    expired BIGINT;
    have BIGINT;
    given BIGINT;
    oldest BIGINT;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    granted := 0;
    wait_ms := 0;
    purged := 0;
    IF p_purge THEN
        -- Skipping rows another call holds; the row is locked before its buckets
        -- everywhere, so the two never wait on each other in opposite orders.
        WITH idle AS (
            DELETE FROM session_windows w USING (
                SELECT project, session_id FROM session_windows WHERE last_bucket <= gone
                LIMIT 20 FOR UPDATE SKIP LOCKED) AS i
            WHERE w.project = i.project AND w.session_id = i.session_id
                AND w.last_bucket <= gone
            RETURNING w.project, w.session_id),
        buckets AS (
            DELETE FROM session_buckets b USING idle
            WHERE b.project = idle.project AND b.session_id = idle.session_id
                AND b.bucket <= gone)
        SELECT count(*) INTO purged FROM idle;
    END IF;

    PERFORM pg_advisory_xact_lock(hashtextextended('session ' || p_project || ' ' || p_session, 0));
    SELECT total INTO stored FROM session_windows
        WHERE project = p_project AND session_id = p_session FOR UPDATE;
    IF NOT FOUND THEN
        IF p_want <= 0 THEN
            RETURN;  -- nothing to give back to
        END IF;
        counted := 0;
    ELSE
        WITH dropped AS (
            DELETE FROM session_buckets
            WHERE project = p_project AND session_id = p_session AND bucket <= gone
            RETURNING n)
        SELECT coalesce(sum(n), 0) INTO expired FROM dropped;
        counted := stored - expired;
        IF p_back > 0 AND p_back_bucket > gone THEN
            SELECT n INTO have FROM session_buckets
                WHERE project = p_project AND session_id = p_session AND bucket = p_back_bucket;
            IF FOUND THEN
                given := least(have, p_back);
                IF given = have THEN
                    DELETE FROM session_buckets
                        WHERE project = p_project AND session_id = p_session
                            AND bucket = p_back_bucket;
                ELSE
                    UPDATE session_buckets SET n = n - given
                        WHERE project = p_project AND session_id = p_session
                            AND bucket = p_back_bucket;
                END IF;
                counted := counted - given;
            END IF;
        END IF;
    END IF;

    IF p_want <= 0 OR counted >= p_limit THEN
        IF stored IS NOT NULL AND counted <> stored THEN
            UPDATE session_windows SET total = counted
                WHERE project = p_project AND session_id = p_session;
        END IF;
        IF p_want <= 0 THEN
            RETURN;
        END IF;
        SELECT min(bucket) INTO oldest FROM session_buckets
            WHERE project = p_project AND session_id = p_session;
        IF oldest IS NULL THEN
            wait_ms := p_window;
        ELSE
            wait_ms := greatest(1, (oldest + 1) * p_width - 1 + p_window - p_now);
        END IF;
        RETURN;
    END IF;
    granted := least(p_want, (p_limit - counted) / 8);
    IF granted < 2 THEN
        granted := 1;
    END IF;
    INSERT INTO session_buckets AS b VALUES (p_project, p_session, current, granted)
        ON CONFLICT (project, session_id, bucket) DO UPDATE SET n = b.n + EXCLUDED.n;
    INSERT INTO session_windows AS w VALUES (p_project, p_session, counted + granted, current)
        ON CONFLICT (project, session_id) DO UPDATE
        SET total = EXCLUDED.total, last_bucket = greatest(w.last_bucket, EXCLUDED.last_bucket);
END
$$;
