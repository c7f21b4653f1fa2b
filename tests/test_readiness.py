"""``/readyz`` answers for the database; ``/healthz`` for the process alone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.chatkit_helpers import error_of
from tests.conftest import (
    IN_CI,
    create_postgres_database,
    drop_postgres_database,
    postgres_problem,
    start_server,
    stop_server,
)


def assert_not_ready(url: str) -> None:
    response = httpx.get(f"{url}/readyz", timeout=30)
    assert response.status_code == 503
    error = error_of(response)
    assert error["type"] == "service_unavailable_error"
    assert error["message"].startswith("The database does not answer: ")
    assert response.headers["x-request-id"].startswith("req_")
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_sqlite_file_gone(tmp_path: Path) -> None:
    path = tmp_path / "threadkit.db"
    server = start_server(f"sqlite:///{path}", "sqlite", tmp_path)
    try:
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        path.rename(tmp_path / "elsewhere.db")
        path.mkdir()  # where the file was, something SQLite cannot open
        assert_not_ready(server.url)
        path.rmdir()
        (tmp_path / "elsewhere.db").rename(path)
        assert httpx.get(f"{server.url}/readyz").status_code == 200
    finally:
        stop_server(server)


def test_postgres_database_dropped(tmp_path: Path) -> None:
    problem = postgres_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true and {problem}", pytrace=False)
        pytest.skip(f"PostgreSQL tests skipped: {problem}")
    url = create_postgres_database()
    server = start_server(url, "postgres", tmp_path)
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        drop_postgres_database(url)
        assert_not_ready(server.url)
    finally:
        stop_server(server)
        drop_postgres_database(url)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_need_no_key(server: object, path: str) -> None:
    response = httpx.get(f"{server.url}{path}")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.json()["backend"] in ("sqlite", "postgres")
