"""Verified tokens, kept briefly so a busy client is not looked up on every request.

Every API request needs the caller's user and roles. Reading them is two queries and
a pooled connection's ping, as much as a status request's own work, so each server
process keeps what it verified for ``ttl_s`` seconds (never past the token's own
expiry). A write to the accounts through this process (a revoked token, a changed
role, a new project) moves :attr:`Store.account_writes`, and everything kept before
it is read again; a write through another process (a second server worker, the CLI)
takes effect within ``ttl_s``. Tokens that fail verification are never kept.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from biofab.store import WriteCounter
from biofab.store.accounts import Identity
from biofab.store.schema import utcnow


class IdentityCache:
    """Identities by token digest, valid for ``ttl_s`` seconds and while ``writes``
    stands still; at most ``kept`` tokens (least recently used leave first)."""

    def __init__(self, ttl_s: float, writes: WriteCounter, kept: int = 4096) -> None:
        self.ttl_s = ttl_s
        self.writes = writes
        self.kept = kept
        self._kept: OrderedDict[bytes, tuple[Identity, float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def identify(self, secret: str, lookup: Callable[[str], Identity | None]) -> Identity | None:
        """The identity behind ``secret``: kept, or ``lookup(secret)`` (then kept)."""
        if self.ttl_s <= 0:
            return lookup(secret)
        key = hashlib.sha256(secret.encode()).digest()
        now = time.monotonic()
        count = self.writes.count
        with self._lock:
            found = self._kept.get(key)
            if found is not None and found[1] > now and found[2] == count:
                self._kept.move_to_end(key)
                return found[0]
        identity = lookup(secret)
        if identity is None:
            with self._lock:
                self._kept.pop(key, None)
            return None
        until = now + min(self.ttl_s, _seconds_left(identity.expires_at))
        with self._lock:
            # Kept under the count read before the lookup: a write that lands while
            # we look up makes the entry stale at once.
            self._kept[key] = (identity, until, count)
            self._kept.move_to_end(key)
            while len(self._kept) > self.kept:
                self._kept.popitem(last=False)
        return identity


def _seconds_left(expires_at: datetime | None) -> float:
    if expires_at is None:
        return float("inf")
    return (expires_at - utcnow()).total_seconds()
