"""Every statement the PostgreSQL store runs outside paging (``listings``) and migrations.

Each write is one statement where it can be (one round trip, its own transaction).
Order within a thread: appends take a per-thread transaction lock first, so ``seq``
(from a sequence, handed out in call order) is commit order within a thread, and a
reader paging while writers append never skips an item.
"""

from __future__ import annotations

from dataclasses import dataclass

from threadkit.stores.rows import (
    FEEDBACK_COLUMNS,
    ITEM_COLUMNS,
    KEY_COLUMNS,
    SESSION_COLUMNS,
    THREAD_COLUMNS,
)


@dataclass(frozen=True, slots=True)
class Query:
    """A statement and the names of its parameters ``$1, $2, ...`` in order."""

    sql: str
    params: tuple[str, ...]


_LOCK_THREAD = "pg_advisory_xact_lock(hashtextextended($1::text || ' ' || $2::text, 0))"

GET_THREAD = Query(
    f"SELECT {THREAD_COLUMNS} FROM threads WHERE project = $1 AND id = $2",
    ("project", "thread_id"),
)
UPSERT_THREAD = Query(
    "INSERT INTO threads (project, id, user_id, created_us, title, status, extra)"
    " VALUES ($1, $2, $3, $4, $5, $6::json, $7::json)"
    " ON CONFLICT (project, id) DO UPDATE"
    " SET title = excluded.title, status = excluded.status, extra = excluded.extra"
    " WHERE threads.user_id = excluded.user_id"
    " RETURNING seq",
    ("project", "thread_id", "user", "created_us", "title", "status", "extra"),
)
REPLACE_THREAD = Query(
    "UPDATE threads SET title = $4, status = $5::json, extra = $6::json"
    " WHERE project = $1 AND id = $2 AND user_id = $3",
    ("project", "thread_id", "user", "title", "status", "extra"),
)
# Data-modifying CTEs share one snapshot and always run to completion: one statement
# deletes the thread, its items, attachment records and feedback, or nothing.
DELETE_THREAD = Query(
    "WITH gone AS (DELETE FROM threads WHERE project = $1 AND id = $2 RETURNING id),"
    " gone_items AS (DELETE FROM items"
    " WHERE project = $1 AND thread_id = $2 AND EXISTS (SELECT 1 FROM gone)),"
    " gone_attachments AS (DELETE FROM attachments"
    " WHERE project = $1 AND thread_id = $2 AND EXISTS (SELECT 1 FROM gone)),"
    " gone_feedback AS (DELETE FROM feedback"
    " WHERE project = $1 AND thread_id = $2 AND EXISTS (SELECT 1 FROM gone))"
    " SELECT count(*) FROM gone",
    ("project", "thread_id"),
)
GET_ITEM = Query(
    f"SELECT {ITEM_COLUMNS} FROM items WHERE project = $1 AND id = $2 AND thread_id = $3",
    ("project", "item_id", "thread_id"),
)
_ITEM_VALUES = (
    f"WITH serialize AS MATERIALIZED (SELECT {_LOCK_THREAD})"
    " INSERT INTO items (project, thread_id, id, created_us, shape, rest_type, payload)"
    " SELECT $1::text, $2::text, $3::text, $4::bigint, $5::text, $6::text, $7::json"
    " FROM serialize"
)
_ITEM_PARAMS = ("project", "thread_id", "item_id", "created_us", "shape", "rest_type", "payload")
INSERT_ITEM = Query(_ITEM_VALUES, _ITEM_PARAMS)
# The same, only into a thread of the user ($8): nothing inserted otherwise.
INSERT_OWNED_ITEM = Query(
    _ITEM_VALUES
    + " WHERE EXISTS (SELECT 1 FROM threads WHERE project = $1 AND id = $2 AND user_id = $8)",
    (*_ITEM_PARAMS, "user"),
)
UPSERT_ITEM = Query(
    _ITEM_VALUES + " ON CONFLICT (project, id) DO UPDATE"
    " SET shape = excluded.shape, rest_type = excluded.rest_type, payload = excluded.payload"
    " WHERE items.thread_id = excluded.thread_id"
    " RETURNING seq",
    _ITEM_PARAMS,
)
DELETE_ITEM = Query(
    "DELETE FROM items WHERE project = $1 AND id = $2 AND thread_id = $3",
    ("project", "item_id", "thread_id"),
)
PUT_ATTACHMENT = Query(
    "INSERT INTO attachments (project, id, user_id, thread_id, payload)"
    " VALUES ($1, $2, $3, $4, $5::json)"
    " ON CONFLICT (project, id) DO UPDATE"
    " SET thread_id = excluded.thread_id, payload = excluded.payload"
    " WHERE attachments.user_id = excluded.user_id",
    ("project", "attachment_id", "user", "thread_id", "payload"),
)
GET_ATTACHMENT = Query(
    "SELECT user_id, payload FROM attachments WHERE project = $1 AND id = $2",
    ("project", "attachment_id"),
)
REMOVE_ATTACHMENT = Query(
    "DELETE FROM attachments WHERE project = $1 AND id = $2", ("project", "attachment_id")
)
THREAD_ATTACHMENTS = Query(
    "SELECT id FROM attachments WHERE project = $1 AND thread_id = $2 ORDER BY id",
    ("project", "thread_id"),
)

CREATE_SESSION = Query(
    "INSERT INTO sessions (project, id, user_id, secret_hash, secret_hint, created_at,"
    " expires_at, cancelled_at, workflow, rate_limit, configuration, files_used)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::json, $10, $11::json, $12)",
    (
        "project",
        "session_id",
        "user",
        "secret_hash",
        "secret_hint",
        "created_at",
        "expires_at",
        "cancelled_at",
        "workflow",
        "rate_limit",
        "configuration",
        "files_used",
    ),
)
GET_SESSION = Query(
    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project = $1 AND id = $2",
    ("project", "session_id"),
)
FIND_SESSION = Query(
    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE secret_hash = $1", ("secret_hash",)
)
CANCEL_SESSION = Query(
    "UPDATE sessions SET cancelled_at = $3 WHERE project = $1 AND id = $2"
    " AND cancelled_at IS NULL AND expires_at > $3",
    ("project", "session_id", "at"),
)
RESERVE_UPLOAD = Query(
    "UPDATE sessions SET files_used = files_used + 1"
    " WHERE project = $1 AND id = $2 AND ($3::integer IS NULL OR files_used < $3::integer)",
    ("project", "session_id", "max_files"),
)
# Rate limit: the session's window counted per time bucket; the check, the slots taken,
# those given back and, when asked, a bounded purge of idle sessions' windows in one
# round trip (migration 9).
TAKE_REQUEST_SLOTS = Query(
    "SELECT granted, wait_ms, purged"
    " FROM threadkit_take_request_slots($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    (
        "project",
        "session_id",
        "now_ms",
        "limit",
        "window_ms",
        "bucket_ms",
        "want",
        "back_bucket",
        "back",
        "purge",
    ),
)
#: a purge that dropped this many idle windows (the function's batch) may have left more
PURGE_BATCH = 20
# Feedback is exported by `seq`; a per-project lock taken before the sequence is read
# makes `seq` order commit order, so an export paging by `seq` never skips a row.
PUT_FEEDBACK = Query(
    "WITH serialize AS MATERIALIZED ("
    "SELECT pg_advisory_xact_lock(hashtextextended('feedback ' || $1::text, 0)))"
    " INSERT INTO feedback (project, thread_id, item_id, user_id, kind, created_at)"
    " SELECT $1::text, t, i, u, k, c FROM serialize,"
    " unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])"
    " WITH ORDINALITY AS r(t, i, u, k, c, n) ORDER BY n"
    " ON CONFLICT (project, thread_id, item_id, user_id) DO UPDATE"
    " SET kind = excluded.kind, created_at = excluded.created_at, seq = excluded.seq",
    ("project", "thread_ids", "item_ids", "users", "kinds", "created_ats"),
)
LIST_FEEDBACK = Query(
    f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE project = $1 AND seq > $2"
    " ORDER BY seq LIMIT $3",
    ("project", "after_seq", "limit"),
)
LIST_USER_FEEDBACK = Query(
    f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE project = $1 AND seq > $2"
    " AND user_id = $3 ORDER BY seq LIMIT $4",
    ("project", "after_seq", "user", "limit"),
)
LIST_THREAD_FEEDBACK = Query(
    f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE project = $1 AND thread_id = $2 ORDER BY seq",
    ("project", "thread_id"),
)

FIND_KEY = Query(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1", ("secret_hash",))
CREATE_KEY = Query(
    "INSERT INTO api_keys (id, project, secret_hash, hint, created_at, revoked_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)",
    ("key_id", "project", "secret_hash", "hint", "created_at", "revoked_at"),
)
#: LISTEN/NOTIFY channel told of every key revocation (see ``keys_version``)
KEYS_CHANNEL = "threadkit_keys"
# The notification is sent if and only if the revocation commits.
REVOKE_KEY = Query(
    "WITH revoked AS (UPDATE api_keys SET revoked_at = $2 WHERE id = $1"
    " AND revoked_at IS NULL RETURNING id)"
    f" SELECT pg_notify('{KEYS_CHANNEL}', id) FROM revoked",
    ("key_id", "revoked_at"),
)
LIST_KEYS = Query(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id", ())
LIST_PROJECT_KEYS = Query(
    f"SELECT {KEY_COLUMNS} FROM api_keys WHERE project = $1 ORDER BY created_at, id",
    ("project",),
)

# Import: arrays in, one statement per batch; WITH ORDINALITY keeps the given order,
# which the sequence turns into the tie-break order.
IMPORT_LOCK_THREADS = Query(
    "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ' ' || t, 0))"
    " FROM (SELECT DISTINCT t FROM unnest($2::text[]) AS u(t) ORDER BY t) AS in_order",
    ("project", "thread_ids"),
)
IMPORT_THREADS = Query(
    "INSERT INTO threads (project, id, user_id, created_us, title, status, extra)"
    " SELECT $1, i, u, c, t, s::json, e::json"
    " FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[])"
    " WITH ORDINALITY AS r(i, u, c, t, s, e, n) ORDER BY n",
    ("project", "ids", "users", "created_us", "titles", "statuses", "extras"),
)
IMPORT_ITEMS = Query(
    "INSERT INTO items (project, thread_id, id, created_us, shape, rest_type, payload)"
    " SELECT $1, t, i, c, s, r, p::json"
    " FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[])"
    " WITH ORDINALITY AS x(t, i, c, s, r, p, n) ORDER BY n",
    ("project", "thread_ids", "ids", "created_us", "shapes", "rest_types", "payloads"),
)

# Sync state (migration 4). A step of a sync appends to a thread like any append: under
# the thread's lock, so seq stays commit order within the thread.
LOCK_THREAD = Query(f"SELECT {_LOCK_THREAD}", ("project", "thread_id"))
THREAD_EXISTS = Query(
    "SELECT 1 FROM threads WHERE project = $1 AND id = $2", ("project", "thread_id")
)
SYNC_CURSORS = Query(
    "SELECT thread_id, last_item_id FROM sync_threads"
    " WHERE project = $1 AND thread_id = ANY($2::text[])",
    ("project", "thread_ids"),
)
PUT_SYNC_CURSOR = Query(
    "INSERT INTO sync_threads (project, thread_id, last_item_id) VALUES ($1, $2, $3)"
    " ON CONFLICT (project, thread_id) DO UPDATE SET last_item_id = excluded.last_item_id",
    ("project", "thread_id", "item_id"),
)
SYNC_RESUME_POINT = Query(
    "SELECT resume_after FROM sync_runs WHERE project = $1 AND source = $2 AND user_filter = $3",
    ("project", "source", "user_filter"),
)
SET_SYNC_RESUME_POINT = Query(
    "INSERT INTO sync_runs (project, source, user_filter, resume_after, updated_at)"
    " VALUES ($1, $2, $3, $4, extract(epoch FROM now())::bigint)"
    " ON CONFLICT (project, source, user_filter) DO UPDATE"
    " SET resume_after = excluded.resume_after, updated_at = excluded.updated_at",
    ("project", "source", "user_filter", "thread_id"),
)
CLEAR_SYNC_RESUME_POINT = Query(
    "DELETE FROM sync_runs WHERE project = $1 AND source = $2 AND user_filter = $3",
    ("project", "source", "user_filter"),
)
