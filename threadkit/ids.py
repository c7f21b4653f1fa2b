"""Identifier formats shared by every layer.

New ids look like the hosted API's: a short prefix and 48 lowercase hex characters.
"""

import random
import secrets

THREAD_PREFIX = "cthr_"
ITEM_PREFIX = "cthi_"
ATTACHMENT_PREFIX = "cfile_"
SESSION_PREFIX = "cksess_"
KEY_PREFIX = "key_"
REQUEST_PREFIX = "req_"


def _new(prefix: str) -> str:
    return prefix + secrets.token_hex(24)


def new_thread_id() -> str:
    """A fresh thread id: ``cthr_`` + 48 hex characters."""
    return _new(THREAD_PREFIX)


def new_item_id() -> str:
    """A fresh thread item id: ``cthi_`` + 48 hex characters."""
    return _new(ITEM_PREFIX)


def new_attachment_id() -> str:
    """A fresh attachment id: ``cfile_`` + 48 hex characters."""
    return _new(ATTACHMENT_PREFIX)


def new_session_id() -> str:
    """A fresh session id: ``cksess_`` + 48 hex characters."""
    return _new(SESSION_PREFIX)


def new_key_id() -> str:
    """A fresh API key id (public, safe to print): ``key_`` + 24 hex characters."""
    return KEY_PREFIX + secrets.token_hex(12)


def new_request_id() -> str:
    """A fresh request id for the ``x-request-id`` header: 32 hex characters.

    Unique, not secret, so it comes from ``random`` (reseeded in every forked worker)
    rather than the OS: one system call fewer on every request."""
    return f"{REQUEST_PREFIX}{random.getrandbits(128):032x}"
