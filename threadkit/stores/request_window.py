"""The arithmetic of the sessions' rate-limit windows, shared by the backends.

A session's admitted requests are counted per bucket of ``BUCKET_MS`` (one row per
session and bucket with a count, plus the session's running total), so a check costs
the same whatever the load, instead of counting every request of the last minute.
A bucket counts in full while any millisecond of it is inside the sliding window
``(now - window, now]``: a request leaves the window at the end of its bucket plus the
window, never before, so the limit may refuse up to ``BUCKET_MS`` early but never
admits more than it allows.
"""

from __future__ import annotations

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
