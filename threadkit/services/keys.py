"""Project API keys: created with a random secret, stored only as its SHA-256.

SHA-256 (not a slow password hash) is the right tool here: the secrets are 256-bit
random values, so there is nothing to brute-force, and the lookup sits on the
hot path of every request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Hashable
from dataclasses import dataclass

from threadkit import ids
from threadkit.stores import ThreadStore
from threadkit.stores.records import KeyRow

from .errors import NotFound, Unauthenticated

SECRET_PREFIX = "tk-"
#: the reserved projects of login tokens (``ui_login.LOGIN_PROJECT``)
LOGIN_PREFIX = "threadkit-ui-login"

NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). "
    "You can create a key with `threadkit keys create`."
)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mask(secret: str) -> str:
    """The secret as error messages show it: a few characters at each end, stars between."""
    if len(secret) <= 8:
        return "*" * len(secret)
    return secret[:3] + "*" * (len(secret) - 7) + secret[-4:]


@dataclass(frozen=True, slots=True)
class CreatedKey:
    row: KeyRow
    secret: str


#: how long a cached key lookup is trusted at most (see ``KeyService.authenticate``)
CACHE_SECONDS = 1.0
CACHE_ENTRIES = 1024


class KeyService:
    def __init__(self, store: ThreadStore) -> None:
        self.store = store
        # secret hash -> (live key, store.keys_version() before the lookup, trusted until)
        self._cache: dict[str, tuple[KeyRow, Hashable, float]] = {}

    async def create(self, project: str) -> CreatedKey:
        if not project or len(project) > 256:
            raise ValueError("a project name is 1 to 256 characters")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        row = KeyRow(
            id=ids.new_key_id(), project=project, hint=mask(secret), created_at=int(time.time())
        )
        await self.store.create_key(row, hash_secret(secret))
        return CreatedKey(row, secret)

    async def authenticate(self, secret: str | None) -> KeyRow:
        """The live key for ``secret``, or ``Unauthenticated`` with the hosted API's wording."""
        if not secret:
            raise Unauthenticated(NO_KEY_MESSAGE)
        digest = hash_secret(secret)
        # A live key is cached for at most CACHE_SECONDS, and only while the store's
        # keys_version() is unchanged: on SQLite any commit changes it, so a revocation
        # by another process is seen by the very next request; on PostgreSQL it follows
        # a notification sent with the revocation. Unknown keys are never cached.
        version = self.store.keys_version()
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and version is not None and cached[1] == version and now < cached[2]:
            return cached[0]
        row = await self.store.find_key(digest)
        # Login tokens of the chat page are key rows too, but never API keys.
        if row is None or row.revoked_at is not None or row.project.startswith(LOGIN_PREFIX):
            self._cache.pop(digest, None)
            raise Unauthenticated(
                f"Incorrect API key provided: {mask(secret)}. "
                "You can create a key with `threadkit keys create`.",
                code="invalid_api_key",
            )
        if version is not None:
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache.clear()
            self._cache[digest] = (row, version, now + CACHE_SECONDS)
        return row

    async def list(self, project: str | None = None) -> list[KeyRow]:
        return await self.store.list_keys(project)

    async def revoke(self, key_id: str) -> None:
        if not await self.store.revoke_key(key_id, int(time.time())):
            raise NotFound(f"No active key found with id '{key_id}'.")
        self._cache.clear()
