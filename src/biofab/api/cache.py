"""Views of a campaign kept per version, shared by the API and the dashboard.

A campaign's ``version`` counts its writes (every round, snapshot and ingest adds
one inside its own transaction), so anything computed from a campaign at version
``v`` stays true while the version is ``v``: a team polling one campaign's
status, or opening its page, reads its measurements once per write instead of
once per request. Keys carry the store's URL, so two stores never mix.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class VersionCache:
    """A small thread-safe LRU of values keyed by ``(store URL, campaign, version, part)``."""

    def __init__(self, kept: int = 256) -> None:
        self.kept = kept
        self._values: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every kept value."""
        with self._lock:
            self._values.clear()

    def get(
        self, store_url: str, campaign: str, version: int, part: str, build: Callable[[], T]
    ) -> T:
        """The kept value, or ``build()`` kept (two racing builders both build; one wins)."""
        key = (store_url, campaign, version, part)
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                found: T = self._values[key]
                return found
        value = build()
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.kept:
                self._values.popitem(last=False)
        return value


#: The process's one cache of campaign views (status, history, dashboard parts).
VIEWS = VersionCache()
