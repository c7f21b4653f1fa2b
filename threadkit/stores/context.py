"""Who a store call is for: the request context of ``chatkit.store.Store`` methods.

A context is any object with a ``user_id`` attribute; an optional ``project``
attribute scopes it to a project, else the store's own ``project`` applies
(``"default"`` unless the store was made with another). ``StoreContext`` is a ready
one for servers that have nothing of their own to pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_PROJECT = "default"


@dataclass(frozen=True, slots=True)
class StoreContext:
    """A minimal context: the user the threads belong to and, optionally, the project."""

    user_id: str
    project: str | None = None


def user_of(context: Any) -> str:
    """The context's ``user_id``; a context without one is a programming error."""
    user = getattr(context, "user_id", None)
    if not user:
        raise ValueError("the store context needs a non-empty user_id attribute")
    return str(user)


def project_of(context: Any, default: str = DEFAULT_PROJECT) -> str:
    """The context's ``project`` attribute, else ``default``."""
    return getattr(context, "project", None) or default
