"""The SQLite rate-limit windows (``threadkit.stores.sqlite.windows``): two connections to
one file, as two worker processes have, share each session's window, and the packed
window answers what the sliding window of ``request_window`` defines, including checks
whose clock reads a little earlier than one already counted (another process's)."""

from __future__ import annotations

import random
from pathlib import Path

from threadkit.stores import request_window
from threadkit.stores.sqlite.windows import RequestWindows

WINDOW = 10_000


class Reference:
    """The sliding window by its definition: every bucket's count, summed each time."""

    def __init__(self) -> None:
        self.buckets: dict[str, dict[int, int]] = {}

    def take(self, session: str, now_ms: int, limit: int) -> int | None:
        counts = self.buckets.setdefault(session, {})
        gone = request_window.last_gone(now_ms, WINDOW)
        for bucket in [b for b in counts if b <= gone]:
            del counts[bucket]
        if sum(counts.values()) >= limit:
            return request_window.wait_for(min(counts), now_ms, WINDOW) if counts else WINDOW
        current = request_window.bucket_of(now_ms)
        counts[current] = counts.get(current, 0) + 1
        return None


def test_two_connections_share_one_window(tmp_path: Path) -> None:
    first = RequestWindows(str(tmp_path / "w"))
    second = RequestWindows(str(tmp_path / "w"))
    try:
        answers = [
            (first if n % 2 else second).take("p", "s", 1_000_000 + n, 5, WINDOW) for n in range(12)
        ]
        assert answers[:5] == [None] * 5
        assert all(a is not None and a > 0 for a in answers[5:])
        # refusals were not counted: the window opens when the first five leave it
        assert first.take("p", "s", 1_000_000 + WINDOW + 99, 5, WINDOW) is None
        assert second.take("p", "other", 1_000_000, 1, WINDOW) is None  # its own window
    finally:
        first.close()
        second.close()


def test_windows_answer_as_the_sliding_window_defines(tmp_path: Path) -> None:
    windows = [RequestWindows(str(tmp_path / "w")) for _ in range(2)]
    reference = Reference()
    rng = random.Random(7)
    now = 50_000_000
    try:
        for n in range(5_000):
            now += rng.choice([0, 1, 7, 60, 350, 2_500, -40])  # -40: another clock
            session = f"s{rng.randrange(3)}"
            limit = rng.choice([1, 3, 10, 40])
            got = windows[n % 2].take("p", session, now, limit, WINDOW)
            assert got == reference.take(session, now, limit), n
        assert windows[0].forget([("p", "s0"), ("p", "s1")], dry_run=True) > 0
        assert windows[1].forget([("p", "s0"), ("p", "s1")]) > 0
        assert windows[0].forget([("p", "s0"), ("p", "s1")]) == 0
    finally:
        for w in windows:
            w.close()
