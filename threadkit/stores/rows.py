"""Table columns, row encoders and row decoders shared by the SQL backends.

Both backends select the same columns in the same order and keep JSON documents as
text, so one decoder per row type serves SQLite tuples and asyncpg records alike,
and one encoder per row type gives the parameters of both backends' inserts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .records import FeedbackRow, ItemRow, KeyRow, SessionRow, ThreadRow, ThreadText

THREAD_COLUMNS = "id, user_id, created_us, title, status, extra"
ITEM_COLUMNS = "id, thread_id, created_us, shape, rest_type, payload"
#: what the protocol reads take of an item (``records.ItemText``)
ITEM_TEXT_COLUMNS = "id, shape, payload"
KEY_COLUMNS = "id, project, hint, created_at, revoked_at"
SESSION_COLUMNS = (
    "id, project, user_id, secret_hint, created_at, expires_at, workflow, rate_limit,"
    " configuration, cancelled_at, files_used"
)
FEEDBACK_COLUMNS = "thread_id, item_id, user_id, kind, created_at, seq"


def thread_row(r: Sequence[Any]) -> ThreadRow:
    return ThreadRow(
        id=r[0],
        user=r[1],
        created_us=r[2],
        title=r[3],
        status=orjson.loads(r[4]),
        extra=orjson.loads(r[5]) if r[5] is not None else None,
    )


def thread_text(t: ThreadRow) -> ThreadText:
    """The columns a decoded thread row came from (``records.ThreadText``)."""
    return (t.id, t.user, t.created_us, t.title, dump_json(t.status) or "{}", dump_json(t.extra))


def item_row(r: Sequence[Any]) -> ItemRow:
    return ItemRow(
        id=r[0], thread_id=r[1], created_us=r[2], shape=r[3], rest_type=r[4], payload=r[5]
    )


def key_row(r: Sequence[Any]) -> KeyRow:
    return KeyRow(id=r[0], project=r[1], hint=r[2], created_at=r[3], revoked_at=r[4])


def session_row(r: Sequence[Any]) -> SessionRow:
    return SessionRow(
        id=r[0],
        project=r[1],
        user=r[2],
        secret_hint=r[3],
        created_at=r[4],
        expires_at=r[5],
        workflow=orjson.loads(r[6]),
        rate_limit=r[7],
        configuration=orjson.loads(r[8]),
        cancelled_at=r[9],
        files_used=r[10],
    )


def feedback_row(r: Sequence[Any]) -> FeedbackRow:
    return FeedbackRow(
        thread_id=r[0], item_id=r[1], user=r[2], kind=r[3], created_at=r[4], seq=r[5]
    )


def dump_json(value: Any) -> str | None:
    """JSON text for a nullable document column."""
    return None if value is None else orjson.dumps(value).decode()


# --- encoders: a row's parameters, in the column order of the backends' inserts -----------


def thread_params(project: str, t: ThreadRow) -> tuple[Any, ...]:
    """``(project, id, user_id, created_us, title, status, extra)``."""
    return (project, t.id, t.user, t.created_us, t.title, dump_json(t.status), dump_json(t.extra))


def item_params(project: str, r: ItemRow) -> tuple[Any, ...]:
    """``(project, thread_id, id, created_us, shape, rest_type, payload)``."""
    return (project, r.thread_id, r.id, r.created_us, r.shape, r.rest_type, r.payload)


def threads_params(project: str, threads: Sequence[ThreadRow]) -> list[tuple[Any, ...]]:
    return [thread_params(project, t) for t in threads]


def items_params(project: str, items: Sequence[ItemRow]) -> list[tuple[Any, ...]]:
    # ``item_params`` spelled out: a bulk import builds a million of these, and a call
    # per row is measurable there.
    return [
        (project, r.thread_id, r.id, r.created_us, r.shape, r.rest_type, r.payload) for r in items
    ]


def session_params(row: SessionRow, secret_hash: str) -> tuple[Any, ...]:
    """``(project, id, user_id, secret_hash, secret_hint, created_at, expires_at,
    cancelled_at, workflow, rate_limit, configuration, files_used)``."""
    return (
        row.project,
        row.id,
        row.user,
        secret_hash,
        row.secret_hint,
        row.created_at,
        row.expires_at,
        row.cancelled_at,
        dump_json(row.workflow),
        row.rate_limit,
        dump_json(row.configuration),
        row.files_used,
    )


def key_params(row: KeyRow, secret_hash: str) -> tuple[Any, ...]:
    """``(id, project, secret_hash, hint, created_at, revoked_at)``."""
    return (row.id, row.project, secret_hash, row.hint, row.created_at, row.revoked_at)
