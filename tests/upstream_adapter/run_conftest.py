"""The ``conftest.py`` of the folder openai-chatkit's own tests run in."""

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.mock_store import close_stores


def pytest_collection_finish(session: pytest.Session) -> None:
    """Record how many tests were collected, for the caller to compare with those run."""
    if target := os.environ.get("THREADKIT_UPSTREAM_COLLECTED"):
        Path(target).write_text(str(len(session.items)))


@pytest.fixture(autouse=True)
async def _close_stores_of_the_test() -> AsyncIterator[None]:
    """Close the stores a test made, in its own event loop (PostgreSQL pools belong to one)."""
    yield
    await close_stores()
