"""In-memory sliding-window rate limit (one server process; a restart forgets it)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable


class RateLimiter:
    """At most ``attempts`` hits per ``window_s`` seconds for each key.

    ``hit(keys)`` counts one attempt against every key (say, the client address
    and the user name) and returns None when all are within their limit, else
    the seconds until the most limited key frees a slot (for ``Retry-After``).
    A refused attempt is not counted, so waiting out the delay always works.
    """

    def __init__(
        self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.attempts, self.window_s, self.clock = attempts, window_s, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, keys: Iterable[str]) -> float | None:
        now = self.clock()
        with self._lock:
            queues = [self._hits.setdefault(k, deque()) for k in keys]
            wait = 0.0
            for q in queues:
                while q and q[0] <= now - self.window_s:
                    q.popleft()
                if len(q) >= self.attempts:
                    wait = max(wait, q[0] + self.window_s - now)
            if wait > 0:
                return wait
            for q in queues:
                q.append(now)
            if len(self._hits) > 100_000:  # many one-off keys: drop the idle ones
                self._hits = {k: q for k, q in self._hits.items() if q}
            return None


def retry_after(seconds: float) -> str:
    """``Retry-After`` header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
