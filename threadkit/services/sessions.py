"""ChatKit sessions: creation with the hosted API's validation rules, cancellation,
expiry, and authentication of client secrets.

A client secret is ``ek_`` plus 43 random URL-safe characters (256 bits). Like API
keys it is stored only as its SHA-256 (see ``keys``), with a masked hint for the
cancel response; create is the only call that returns it in full.

A live session found by its secret is remembered for ``SESSION_CACHE_SECONDS`` (never
past its expiry), so that a client's requests do not each look it up again. A cancel
made through this process drops the entry at once; one made through another process
(another worker, another host) takes effect here within ``SESSION_CACHE_SECONDS``.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Collection
from typing import Any

from threadkit import ids
from threadkit.stores import ThreadStore
from threadkit.stores.records import SessionRow

from .errors import InvalidRequest, NotFound, Unauthenticated
from .keys import hash_secret, mask
from .validation import (
    boolean,
    integer,
    json_object,
    optional,
    required,
    string,
    type_error,
)

SECRET_PREFIX = "ek_"
DEFAULT_EXPIRES_SECONDS = 600
MAX_EXPIRES_SECONDS = 600
DEFAULT_RATE_LIMIT = 10
DEFAULT_MAX_FILE_SIZE_MB = 512
DEFAULT_MAX_FILES = 10
MAX_STATE_VARIABLES = 64
MAX_STATE_KEY = 64
MAX_STATE_STRING = 10 * 1024 * 1024
#: longest ``user``: the REST API's ``user`` filter accepts up to this many characters
MAX_USER = 512
#: bound of the integers the spec leaves unbounded, so that every store can hold them
MAX_INT = 2**31 - 1
#: how long a looked-up session is trusted without asking the store again: the longest
#: a cancel made by another process can go unnoticed here
SESSION_CACHE_SECONDS = 2.0
#: most sessions remembered at once (the cache is emptied when it is full)
SESSION_CACHE_SIZE = 4096


def is_session_secret(token: str) -> bool:
    return token.startswith(SECRET_PREFIX)


# --- validation ------------------------------------------------------------------------


def _state_variables(value: Any, path: str) -> dict[str, str | int | bool | float]:
    if not isinstance(value, dict):
        raise type_error(path, "an object", value)
    if len(value) > MAX_STATE_VARIABLES:
        raise InvalidRequest(
            f"Invalid '{path}': too many properties. Expected an object with at most "
            f"{MAX_STATE_VARIABLES} properties, but got an object with {len(value)} "
            "properties instead.",
            param=path,
            code="object_above_max_properties",
        )
    for key, item in value.items():
        where = f"{path}.{key}"
        if len(key) > MAX_STATE_KEY:
            raise InvalidRequest(
                f"Invalid '{path}': key too long. Keys may be up to {MAX_STATE_KEY} "
                f"characters, but got a key with length {len(key)}.",
                param=path,
                code="invalid_key",
            )
        if isinstance(item, str):
            if len(item) > MAX_STATE_STRING:
                raise InvalidRequest(
                    f"Invalid '{where}': string too long. Expected a string with maximum "
                    f"length {MAX_STATE_STRING}, but got a string with length {len(item)} "
                    "instead.",
                    param=where,
                    code="string_above_max_length",
                )
        elif not isinstance(item, bool | int | float):
            raise type_error(where, "a string, integer, boolean or number", item)
    return value


def parse_create(body: Any, workflows: Collection[str]) -> dict[str, Any]:
    """Validate a create-session body; return the resolved fields (spec defaults applied).

    Raises ``InvalidRequest`` whose ``param`` is the dotted path of the bad field.
    """
    data = json_object(
        body, "", ("user", "workflow", "expires_after", "rate_limits", "chatkit_configuration")
    )
    user = string(required(data, "user", "user"), "user", max_length=MAX_USER)

    workflow = required(data, "workflow", "workflow")
    workflow = json_object(workflow, "workflow", ("id", "version", "state_variables", "tracing"))
    workflow_id = string(required(workflow, "id", "workflow.id"), "workflow.id")
    if workflow_id not in workflows:
        known = ", ".join(f"'{w}'" for w in sorted(workflows)) or "none"
        raise InvalidRequest(
            f"Invalid 'workflow.id': no workflow '{workflow_id}' is configured on this "
            f"server (configured: {known}).",
            param="workflow.id",
            code="invalid_value",
        )
    version = optional(workflow, "version", "workflow", string, None)
    state = optional(workflow, "state_variables", "workflow", _state_variables, None)
    tracing = optional(
        workflow,
        "tracing",
        "workflow",
        lambda v, p: json_object(v, p, ("enabled",)),
        {},
    )
    tracing_enabled = optional(tracing, "enabled", "workflow.tracing", boolean, True)

    expires_in = DEFAULT_EXPIRES_SECONDS
    if "expires_after" in data:
        expires = json_object(data["expires_after"], "expires_after", ("anchor", "seconds"))
        anchor = required(expires, "anchor", "expires_after.anchor")
        if anchor != "created_at":
            if not isinstance(anchor, str):
                raise type_error("expires_after.anchor", "a string", anchor)
            raise InvalidRequest(
                f"Invalid 'expires_after.anchor': unsupported value '{anchor}'. "
                "Supported values are: 'created_at'.",
                param="expires_after.anchor",
                code="invalid_value",
            )
        expires_in = integer(
            required(expires, "seconds", "expires_after.seconds"),
            "expires_after.seconds",
            1,
            MAX_EXPIRES_SECONDS,
        )

    rate = DEFAULT_RATE_LIMIT
    if "rate_limits" in data:
        limits = json_object(data["rate_limits"], "rate_limits", ("max_requests_per_1_minute",))
        rate = optional(
            limits,
            "max_requests_per_1_minute",
            "rate_limits",
            lambda v, p: integer(v, p, 1, MAX_INT),
            DEFAULT_RATE_LIMIT,
        )

    config = json_object(
        data.get("chatkit_configuration", {}),
        "chatkit_configuration",
        ("automatic_thread_titling", "file_upload", "history"),
    )
    base = "chatkit_configuration"
    titling = json_object(
        config.get("automatic_thread_titling", {}), f"{base}.automatic_thread_titling", ("enabled",)
    )
    upload = json_object(
        config.get("file_upload", {}),
        f"{base}.file_upload",
        ("enabled", "max_file_size", "max_files"),
    )
    history = json_object(
        config.get("history", {}), f"{base}.history", ("enabled", "recent_threads")
    )
    configuration = {
        "automatic_thread_titling": {
            "enabled": optional(
                titling, "enabled", f"{base}.automatic_thread_titling", boolean, True
            )
        },
        "file_upload": {
            "enabled": optional(upload, "enabled", f"{base}.file_upload", boolean, False),
            "max_file_size": optional(
                upload,
                "max_file_size",
                f"{base}.file_upload",
                lambda v, p: integer(v, p, 1, DEFAULT_MAX_FILE_SIZE_MB),
                DEFAULT_MAX_FILE_SIZE_MB,
            ),
            "max_files": optional(
                upload,
                "max_files",
                f"{base}.file_upload",
                lambda v, p: integer(v, p, 1, MAX_INT),
                DEFAULT_MAX_FILES,
            ),
        },
        "history": {
            "enabled": optional(history, "enabled", f"{base}.history", boolean, True),
            "recent_threads": optional(
                history,
                "recent_threads",
                f"{base}.history",
                lambda v, p: integer(v, p, 1, MAX_INT),
                None,
            ),
        },
    }
    return {
        "user": user,
        "workflow": {
            "id": workflow_id,
            "version": version,
            "state_variables": state,
            "tracing": {"enabled": tracing_enabled},
        },
        "expires_in": expires_in,
        "rate_limit": rate,
        "configuration": configuration,
    }


# --- the service -----------------------------------------------------------------------


def status_of(row: SessionRow, now: float) -> str:
    """``cancelled`` (only ever set before expiry), ``expired`` or ``active``."""
    if row.cancelled_at is not None:
        return "cancelled"
    if now >= row.expires_at:
        return "expired"
    return "active"


def session_object(row: SessionRow, client_secret: str, now: float) -> dict[str, Any]:
    """The ``chatkit.session`` object, fields in the order of the API reference."""
    return {
        "id": row.id,
        "object": "chatkit.session",
        "expires_at": row.expires_at,
        "client_secret": client_secret,
        "workflow": row.workflow,
        "user": row.user,
        "rate_limits": {"max_requests_per_1_minute": row.rate_limit},
        "max_requests_per_1_minute": row.rate_limit,
        "status": status_of(row, now),
        "chatkit_configuration": row.configuration,
    }


def session_not_found(session_id: str) -> NotFound:
    return NotFound(f"No session found with id '{session_id}'.")


class SessionService:
    def __init__(
        self,
        store: ThreadStore,
        workflows: Collection[str],
        *,
        cache_seconds: float = SESSION_CACHE_SECONDS,
    ) -> None:
        self.store = store
        self.workflows = workflows
        self.cache_seconds = cache_seconds
        #: secret hash -> (live session, monotonic time until which it is trusted)
        self._cache: dict[str, tuple[SessionRow, float]] = {}

    async def create(self, project: str, body: Any) -> dict[str, Any]:
        fields = parse_create(body, self.workflows)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        row = SessionRow(
            id=ids.new_session_id(),
            project=project,
            user=fields["user"],
            secret_hint=mask(secret),
            created_at=int(now),
            # Rounded up: a session never lives shorter than asked, and ``expires_at``
            # is exactly when its secret stops working.
            expires_at=math.ceil(now + fields["expires_in"]),
            workflow=fields["workflow"],
            rate_limit=fields["rate_limit"],
            configuration=fields["configuration"],
        )
        await self.store.create_session(row, hash_secret(secret))
        return session_object(row, secret, now)

    async def cancel(self, project: str, session_id: str) -> dict[str, Any]:
        """Cancel an active session; an expired or cancelled one is returned as it is."""
        now = time.time()
        if await self.store.get_session(project, session_id) is None:
            raise session_not_found(session_id)
        await self.store.cancel_session(project, session_id, int(now))
        self._forget(project, session_id)
        row = await self.store.get_session(project, session_id)
        if row is None:
            raise session_not_found(session_id)
        return session_object(row, row.secret_hint, now)

    def _forget(self, project: str, session_id: str) -> None:
        for key, (row, _) in list(self._cache.items()):
            if row.id == session_id and row.project == project:
                del self._cache[key]

    async def authenticate(self, secret: str) -> SessionRow:
        """The live session of a client secret, or ``Unauthenticated`` saying why not."""
        secret_hash = hash_secret(secret)
        cached = self._cache.get(secret_hash)
        if cached is not None:
            row, trusted_until = cached
            if time.monotonic() < trusted_until and time.time() < row.expires_at:
                return row
            del self._cache[secret_hash]
        row = await self.store.find_session(secret_hash)
        if row is None:
            raise Unauthenticated(
                f"Incorrect client secret provided: {mask(secret)}.",
                code="invalid_client_secret",
            )
        status = status_of(row, time.time())
        if status == "cancelled":
            raise Unauthenticated(
                f"The session '{row.id}' was cancelled; its client secret no longer works.",
                code="session_cancelled",
            )
        if status == "expired":
            raise Unauthenticated(
                f"The session '{row.id}' has expired; create a new session.",
                code="session_expired",
            )
        if self.cache_seconds > 0:
            if len(self._cache) >= SESSION_CACHE_SIZE:
                self._cache.clear()
            self._cache[secret_hash] = (row, time.monotonic() + self.cache_seconds)
        return row
