"""Table columns and row decoding shared by the SQL backends.

Both backends select the same columns in the same order and keep JSON documents as
text, so one decoder per row type serves SQLite tuples and asyncpg records alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .base import FeedbackRow, ItemRow, KeyRow, SessionRow, ThreadRow

THREAD_COLUMNS = "id, user_id, created_us, title, status, extra"
ITEM_COLUMNS = "id, thread_id, created_us, shape, rest_type, payload"
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
