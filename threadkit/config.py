"""Server settings, from command-line options and ``THREADKIT_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///./threadkit.db"


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off", "")


def database_url(option: str | None = None) -> str:
    """``--db``, else ``THREADKIT_DATABASE_URL``, else a SQLite file in the working folder."""
    return option or os.environ.get("THREADKIT_DATABASE_URL") or DEFAULT_DATABASE_URL


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    #: the hosted API refuses REST calls without ``OpenAI-Beta: chatkit_beta=v1``
    require_beta_header: bool = True

    @classmethod
    def from_env(cls, db: str | None = None) -> Settings:
        return cls(
            database_url=database_url(db),
            require_beta_header=_flag("THREADKIT_REQUIRE_BETA_HEADER", True),
        )
