"""Bringing a SQLite database's schema up to date."""

from __future__ import annotations

import sqlite3

from threadkit.stores import migrations


def migrate(conn: sqlite3.Connection) -> tuple[int, list[str]]:
    """Apply pending migrations in one transaction; returns the schema version and the
    migrations applied. Safe across processes: ``BEGIN IMMEDIATE`` takes the write lock
    before the version is read."""
    applied: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(migrations.CREATE_TABLE)
        version = conn.execute(migrations.CURRENT_VERSION).fetchone()[0]
        for step in migrations.pending("sqlite", version):
            for statement in statements(step.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, CAST(strftime('%s') AS INTEGER))",
                (step.version, step.name),
            )
            version = step.version
            applied.append(step.label)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return version, applied


def schema_version(path: str) -> int:
    """The version recorded in the file (0 for an empty or missing database)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return 0
    try:
        row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()
    return row[0] or 0


def statements(script: str) -> list[str]:
    """Split a migration file into statements. A piece ending in ``;`` is a statement
    once SQLite says it is complete, so a trigger's body stays whole."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    found: list[str] = []
    pending = ""
    for piece in "\n".join(lines).split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                found.append(pending.strip().removesuffix(";"))
            pending = ""
    if pending.strip(" \n;"):
        found.append(pending.strip().removesuffix(";"))
    return found
