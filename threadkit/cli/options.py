"""What the commands share: the console for messages, common options, a store to work on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from rich.console import Console

from threadkit.config import database_url, store_options
from threadkit.services.errors import ServiceError
from threadkit.stores import ThreadStore, open_store
from threadkit.stores.errors import StoreUnavailable

T = TypeVar("T")
err = Console(stderr=True)

db_option = click.option(
    "--db",
    "db",
    default=None,
    metavar="URL",
    help="Database URL (default: $THREADKIT_DATABASE_URL, else sqlite:///./threadkit.db).",
)
project_option = click.option(
    "--project", default="default", show_default=True, help="Project the data belongs to."
)


def with_store(db: str | None, work: Callable[[ThreadStore], Awaitable[T]]) -> T:
    async def run() -> T:
        url = database_url(db)
        store = open_store(url, **store_options(url))
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except (ServiceError, ValueError, StoreUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
