"""One-time login tokens for the chat page (as Jupyter prints one).

``threadkit serve`` on a loopback address issues a token and prints the page's URL with
it. The page exchanges it once for a fresh API key of the UI's project. A token is an
API key row of a reserved project (``LOGIN_PROJECT``), so every worker, and every
process on the same database, accepts it; it is never accepted as an API key.
"""

from __future__ import annotations

import time

from threadkit.stores import ThreadStore

from .errors import Unauthenticated
from .keys import LOGIN_PREFIX, CreatedKey, KeyService, hash_secret

#: the project of the token rows; a token for another project P than the server's
#: default lives in ``LOGIN_PROJECT + "/" + P``
LOGIN_PROJECT = LOGIN_PREFIX

USED_OR_UNKNOWN = (
    "This login token is unknown or was already used. Start the page again from the "
    "URL the server printed last, or sign in with a project API key."
)


def is_login_project(project: str) -> bool:
    return project == LOGIN_PROJECT or project.startswith(LOGIN_PROJECT + "/")


class UILogin:
    """Issues and exchanges login tokens; ``project`` is where exchanged keys go."""

    def __init__(self, store: ThreadStore, project: str = "default") -> None:
        self.store = store
        self.keys = KeyService(store)
        self.project = project

    async def issue(self, project: str | None = None) -> str:
        """A new token (its secret), for ``project`` or else the default project."""
        where = LOGIN_PROJECT if project is None else f"{LOGIN_PROJECT}/{project}"
        return (await self.keys.create(where)).secret

    async def retire_unused(self) -> int:
        """Revoke every token not yet exchanged (a new ``serve`` does, before it issues
        its own); returns how many."""
        now = int(time.time())
        retired = 0
        for row in await self.store.list_keys():
            if row.revoked_at is None and is_login_project(row.project):
                retired += await self.store.revoke_key(row.id, now)
        return retired

    async def exchange(self, token: str | None) -> CreatedKey:
        """A fresh API key for the token's project; the token stops working first.

        Revoking is one conditional update, so of two concurrent exchanges of the same
        token (even in two processes) exactly one gets a key.
        """
        if not token:
            raise Unauthenticated(USED_OR_UNKNOWN, param="token", code="invalid_login_token")
        row = await self.store.find_key(hash_secret(token))
        if (
            row is None
            or row.revoked_at is not None
            or not is_login_project(row.project)
            or not await self.store.revoke_key(row.id, int(time.time()))
        ):
            raise Unauthenticated(USED_OR_UNKNOWN, param="token", code="invalid_login_token")
        _, _, project = row.project.partition("/")
        return await self.keys.create(project or self.project)
