"""SQLite queries for sessions (their rate limits and upload counts) and API keys."""

from __future__ import annotations

import sqlite3

from threadkit.stores.records import KeyRow, SessionRow
from threadkit.stores.request_window import Grant
from threadkit.stores.rows import (
    KEY_COLUMNS,
    SESSION_COLUMNS,
    key_params,
    key_row,
    session_params,
    session_row,
)

from .connections import Database
from .windows import RequestWindows


class AccessQueries:
    """The part of ``SQLiteStore`` that serves authentication and sessions."""

    _db: Database
    _windows: RequestWindows

    # -- sessions ------------------------------------------------------------------------

    async def create_session(self, row: SessionRow, secret_hash: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO sessions (project, id, user_id, secret_hash, secret_hint,"
                " created_at, expires_at, cancelled_at, workflow, rate_limit, configuration,"
                " files_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                session_params(row, secret_hash),
            )

        await self._db.transaction(run)

    async def get_session(self, project: str, session_id: str) -> SessionRow | None:
        r = (
            self._db.conn()
            .execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project = ? AND id = ?",
                (project, session_id),
            )
            .fetchone()
        )
        return session_row(r) if r is not None else None

    async def find_session(self, secret_hash: str) -> SessionRow | None:
        r = (
            self._db.conn()
            .execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE secret_hash = ?", (secret_hash,)
            )
            .fetchone()
        )
        return session_row(r) if r is not None else None

    async def cancel_session(self, project: str, session_id: str, at: int) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "UPDATE sessions SET cancelled_at = ? WHERE project = ? AND id = ?"
                    " AND cancelled_at IS NULL AND expires_at > ?",
                    (at, project, session_id, at),
                ).rowcount
            )

        return await self._db.transaction(run)

    async def take_request_slots(
        self,
        project: str,
        session_id: str,
        now_ms: int,
        limit: int,
        window_ms: int,
        want: int = 1,
        give_back: tuple[int, int] | None = None,
    ) -> Grant:
        # In the windows file (see ``windows``), on this thread: no flush to wait for.
        return self._windows.take(project, session_id, now_ms, limit, window_ms, want, give_back)

    async def reserve_upload(self, project: str, session_id: str, max_files: int | None) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "UPDATE sessions SET files_used = files_used + 1"
                    " WHERE project = ? AND id = ? AND (? IS NULL OR files_used < ?)",
                    (project, session_id, max_files, max_files),
                ).rowcount
            )

        return await self._db.transaction(run)

    # -- keys ----------------------------------------------------------------------------

    async def create_key(self, row: KeyRow, secret_hash: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO api_keys (id, project, secret_hash, hint, created_at, revoked_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                key_params(row, secret_hash),
            )

        await self._db.transaction(run)

    def keys_version(self) -> bytes | None:
        """Changes with every write, API keys included (the WAL-index header)."""
        return self._db.wal_header()

    async def find_key(self, secret_hash: str) -> KeyRow | None:
        r = (
            self._db.conn()
            .execute(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = ?", (secret_hash,))
            .fetchone()
        )
        return key_row(r) if r is not None else None

    async def list_keys(self, project: str | None = None) -> list[KeyRow]:
        if project is None:
            cur = self._db.conn().execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
            )
        else:
            cur = self._db.conn().execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE project = ? ORDER BY created_at, id",
                (project,),
            )
        return [key_row(r) for r in cur.fetchall()]

    async def revoke_key(self, key_id: str, revoked_at: int) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    (revoked_at, key_id),
                ).rowcount
            )

        return await self._db.transaction(run)
