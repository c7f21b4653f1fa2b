"""A session's rate-limit window by its definition (``threadkit.stores.request_window``
and ``ThreadStore.take_request_slots``): every bucket's count kept, summed each time."""

from __future__ import annotations

from threadkit.stores import request_window
from threadkit.stores.request_window import Grant


class Reference:
    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.buckets: dict[str, dict[int, int]] = {}

    def take(
        self,
        session: str,
        now_ms: int,
        limit: int,
        want: int = 1,
        give_back: tuple[int, int] | None = None,
    ) -> Grant:
        counts = self.buckets.setdefault(session, {})
        gone = request_window.last_gone(now_ms, self.window_ms)
        for bucket in [b for b in counts if b <= gone]:
            del counts[bucket]
        if give_back is not None:
            bucket, n = give_back
            if bucket in counts:
                counts[bucket] -= min(n, counts[bucket])
                if not counts[bucket]:
                    del counts[bucket]
        if want <= 0:
            return Grant(0, 0)
        room = limit - sum(counts.values())
        if room <= 0:
            if not counts:
                return Grant(0, self.window_ms)
            return Grant(0, request_window.wait_for(min(counts), now_ms, self.window_ms))
        # several at once only while an eighth of the room holds two or more
        granted = min(want, room // 8) if room >= 16 and want >= 2 else 1
        current = request_window.bucket_of(now_ms)
        counts[current] = counts.get(current, 0) + granted
        return Grant(granted, 0)

    def counted(self, session: str, now_ms: int) -> int:
        """The slots counted in the window of ``session`` at ``now_ms``."""
        gone = request_window.last_gone(now_ms, self.window_ms)
        return sum(n for b, n in self.buckets.get(session, {}).items() if b > gone)
