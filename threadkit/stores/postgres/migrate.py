"""Bringing a PostgreSQL database's schema up to date."""

from __future__ import annotations

from typing import Any

import asyncpg

from threadkit.stores import migrations

from .connections import UNAVAILABLE, close_quietly, unavailable

# Two int4 keys: a separate key space from the one-bigint per-thread locks.
_MIGRATION_LOCK = (0x74686B, 1)


async def migrate(url: str, options: dict[str, Any]) -> tuple[int, list[str]]:
    """Apply pending migrations; returns the schema version and the migrations applied.

    Everything happens in one transaction holding an advisory lock, so processes
    starting at once apply each migration exactly once: the others wait, then find
    the schema up to date.
    """
    try:
        conn = await asyncpg.connect(url, **options)
    except UNAVAILABLE as exc:
        raise unavailable(exc) from exc
    except asyncpg.PostgresError as exc:  # no such database, authentication failed, ...
        raise ValueError(f"cannot connect to PostgreSQL: {exc}") from exc
    applied: list[str] = []
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *_MIGRATION_LOCK)
            await conn.execute(migrations.CREATE_TABLE)
            version: int = await conn.fetchval(migrations.CURRENT_VERSION)
            for step in migrations.pending("postgres", version):
                await conn.execute(step.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations VALUES"
                    " ($1, $2, extract(epoch FROM now())::bigint)",
                    step.version,
                    step.name,
                )
                version = step.version
                applied.append(step.label)
    except UNAVAILABLE as exc:
        raise unavailable(exc) from exc
    finally:
        await close_quietly(conn, options["timeout"])
    return version, applied


async def schema_version(conn: asyncpg.Connection) -> int:
    """The recorded schema version (0 for an empty database)."""
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return 0
    return int(await conn.fetchval(migrations.CURRENT_VERSION))
