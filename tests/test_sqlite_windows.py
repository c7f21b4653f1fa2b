"""The SQLite rate-limit windows (``threadkit.stores.sqlite.windows``): two connections to
one file, as two worker processes have, share each session's window, and the packed
window answers what the sliding window of ``request_window`` defines (slots taken
several at a time and given back included), including checks whose clock reads a
little earlier than one already counted (another process's)."""

from __future__ import annotations

import random
from pathlib import Path

from tests.window_reference import Reference
from threadkit.stores import request_window
from threadkit.stores.request_window import Grant
from threadkit.stores.sqlite.windows import RequestWindows

WINDOW = 10_000


def test_two_connections_share_one_window(tmp_path: Path) -> None:
    first = RequestWindows(str(tmp_path / "w"))
    second = RequestWindows(str(tmp_path / "w"))
    try:
        answers = [
            (first if n % 2 else second).take("p", "s", 1_000_000 + n, 5, WINDOW) for n in range(12)
        ]
        assert answers[:5] == [Grant(1, 0)] * 5
        assert all(a.granted == 0 and a.wait_ms > 0 for a in answers[5:])
        # refusals were not counted: the window opens when the first five leave it
        assert first.take("p", "s", 1_000_000 + WINDOW + 99, 5, WINDOW) == Grant(1, 0)
        assert second.take("p", "other", 1_000_000, 1, WINDOW) == Grant(1, 0)  # its own
    finally:
        first.close()
        second.close()


def test_a_lease_and_its_give_back(tmp_path: Path) -> None:
    first = RequestWindows(str(tmp_path / "w"))
    second = RequestWindows(str(tmp_path / "w"))
    at = 2_000_000
    bucket = request_window.bucket_of(at)
    try:
        # room 400: an eighth of it at most
        assert first.take("p", "s", at, 400, WINDOW, want=64) == Grant(50, 0)
        assert second.take("p", "s", at + 1, 400, WINDOW, want=30) == Grant(30, 0)
        # 20 of the first lease given back with the next check, a bucket later
        answer = first.take("p", "s", at + 100, 400, WINDOW, want=64, give_back=(bucket, 20))
        assert answer == Grant((400 - 60) // 8, 0)
        # more than the bucket holds: down to zero, not below (the second's 30 and the
        # first's 30 left: 60 given back at most)
        assert first.take("p", "s", at + 100, 400, WINDOW, want=0, give_back=(bucket, 999)) == (
            Grant(0, 0)
        )
        assert second.take("p", "s", at + 200, 400, WINDOW, want=1) == Grant(1, 0)
        # what is counted now: the 42 of the bucket after, and this one
        assert second.take("p", "s", at + 200, 44, WINDOW, want=1) == Grant(1, 0)
        assert second.take("p", "s", at + 200, 44, WINDOW, want=1).granted == 0
        # a bucket that has left the window takes nothing back: the two of the bucket
        # after it still count
        later = at + 200 + WINDOW
        assert first.take("p", "s", later, 3, WINDOW, give_back=(bucket + 1, 42)) == Grant(1, 0)
        assert first.take("p", "s", later, 3, WINDOW, give_back=(bucket + 1, 42)).granted == 0
        # giving back to a session without a window creates none
        assert first.take("p", "none", later, 1, WINDOW, want=0, give_back=(bucket, 1)) == (
            Grant(0, 0)
        )
        assert first.forget([("p", "none")], dry_run=True) == 0
    finally:
        first.close()
        second.close()


def test_windows_answer_as_the_sliding_window_defines(tmp_path: Path) -> None:
    windows = [RequestWindows(str(tmp_path / "w")) for _ in range(2)]
    reference = Reference(WINDOW)
    rng = random.Random(7)
    now = 50_000_000
    taken: dict[str, list[tuple[int, int]]] = {}
    try:
        for n in range(8_000):
            now += rng.choice([0, 1, 7, 60, 350, 2_500, -40])  # -40: another clock
            session = f"s{rng.randrange(3)}"
            limit = rng.choice([1, 3, 10, 40, 200, 1_000])
            want = rng.choice([0, 1, 1, 2, 9, 64])
            give_back = None
            if taken.get(session) and rng.random() < 0.5:
                bucket, n_taken = taken[session].pop(rng.randrange(len(taken[session])))
                give_back = (bucket, rng.randrange(1, n_taken + 3))
            got = windows[n % 2].take("p", session, now, limit, WINDOW, want, give_back)
            assert got == reference.take(session, now, limit, want, give_back), n
            if got.granted:
                taken.setdefault(session, []).append((request_window.bucket_of(now), got.granted))
        assert windows[0].forget([("p", "s0"), ("p", "s1")], dry_run=True) > 0
        assert windows[1].forget([("p", "s0"), ("p", "s1")]) > 0
        assert windows[0].forget([("p", "s0"), ("p", "s1")]) == 0
    finally:
        for w in windows:
            w.close()
