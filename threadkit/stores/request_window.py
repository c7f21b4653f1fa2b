"""The arithmetic of the sessions' rate-limit windows, shared by the backends.

A session's admitted requests are counted per bucket of ``BUCKET_MS`` (one row per
session and bucket with a count, plus the session's running total), so a check costs
the same whatever the load, instead of counting every request of the last minute.
A bucket counts in full while any millisecond of it is inside the sliding window
``(now - window, now]``: a request leaves the window at the end of its bucket plus the
window, never before, so the limit may refuse up to ``BUCKET_MS`` early but never
admits more than it allows.

A check takes slots, not requests: it may take several at once for requests still to
come (a lease, ``threadkit.services.ratelimit``) and give back the unused ones of an
earlier bucket. A slot counts in its bucket from when it is taken until it is given
back or leaves the window, used or not, so the window never counts fewer than the
requests admitted in it.
"""

from __future__ import annotations

from typing import NamedTuple

#: the width of a bucket; 600 of them in a 60-second window
BUCKET_MS = 100


def bucket_of(now_ms: int, width: int = BUCKET_MS) -> int:
    """The bucket a request made at ``now_ms`` is counted in."""
    return now_ms // width


def last_gone(now_ms: int, window_ms: int, width: int = BUCKET_MS) -> int:
    """The newest bucket wholly outside the window at ``now_ms`` (it and older ones no
    longer count)."""
    return (now_ms - window_ms - width + 1) // width


def wait_for(oldest: int, now_ms: int, window_ms: int, width: int = BUCKET_MS) -> int:
    """Milliseconds from ``now_ms`` until bucket ``oldest`` leaves the window (at least 1)."""
    return max(1, (oldest + 1) * width - 1 + window_ms - now_ms)


#: a lease bigger than one slot takes at most this share of the room left
LEASE_SHARE = 8


class Grant(NamedTuple):
    """The answer of ``ThreadStore.take_request_slots``."""

    #: slots taken in the bucket of the check (0: refused, or none asked for)
    granted: int
    #: when refused, the milliseconds until the oldest counted bucket leaves the window
    #: (at least 1); else 0
    wait_ms: int


def grant_for(room: int, want: int) -> int:
    """How many of ``want`` slots a check grants when the window has ``room`` left
    (both above 0): more than one only while the room is large (``want`` at most
    ``room // LEASE_SHARE``), so that slots leased and not used yet keep few others out
    near the limit, and a small limit is handed out a slot at a time."""
    share = min(want, room // LEASE_SHARE)
    return share if share >= 2 else 1
