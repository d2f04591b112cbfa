"""Buffered, transactional writes of a live run's readings to the store.

Every reading the twin receives (accepted, late or rejected) is appended to an in-memory
buffer; the buffer is written in one transaction when it holds ``flush_every`` readings
or ``flush_seconds`` have passed since the last write, and when the run ends. A write is
all or nothing, so the store never holds half a batch.

Durability: a crash of the process loses at most the readings not yet flushed (at most
``flush_every`` readings or ``flush_seconds`` of data); everything flushed before is in
the store. A failed write (database unreachable) keeps the buffer and raises; the next
flush retries it.

The run itself is created (:meth:`~biofab.store.Store.open_run`) with the first write, not
before: a source that never delivers a reading (a server that cannot be reached, a node
map it refuses, an HTTP endpoint nobody posts to) leaves no empty run in the store.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime

from biofab.core.errors import InputError
from biofab.process.live.readings import Reading
from biofab.store import ReadingRecord, Store
from biofab.store.schema import utcnow

__all__ = ["ReadingWriter"]


class ReadingWriter:
    """Buffer a run's readings and write them in batches (module docstring).

    ``store``: an open :class:`~biofab.store.Store`; ``run``: the run name (1 to 200
    characters; opened with ``model`` as its twin kind at the first write, see the module
    docstring); ``flush_every``: readings per transaction;
    ``flush_seconds``: longest time a reading waits in the buffer (checked on each
    :meth:`add` and by :meth:`flush_if_due`).
    """

    def __init__(
        self,
        store: Store,
        run: str,
        model: str,
        *,
        flush_every: int = 500,
        flush_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if flush_every < 1:
            raise InputError("flush_every must be >= 1", expected=">= 1", found=flush_every)
        if not (math.isfinite(flush_seconds) and flush_seconds > 0):
            raise InputError("flush_seconds must be > 0", expected="> 0 s", found=flush_seconds)
        if not run or len(run) > 200:  # the store's rule, checked before any reading waits
            raise InputError("bad run name", expected="1 to 200 characters", found=run)
        self.store = store
        self.run = run
        self.model = model
        self.opened = False  # the run exists in the store (created by the first write)
        self.flush_every = int(flush_every)
        self.flush_seconds = float(flush_seconds)
        self._clock = clock
        self._buffer: list[ReadingRecord] = []
        self._last = clock()
        self.written = 0
        self.flushes = 0

    @property
    def pending(self) -> int:
        """Readings received but not yet written."""
        return len(self._buffer)

    def add(
        self,
        reading: Reading,
        status: str,
        reason: str | None = None,
        received_at: datetime | None = None,
    ) -> None:
        """Buffer one reading with its status; flushes when the buffer is full or old."""
        self._buffer.append(
            ReadingRecord(
                time_h=_number(reading.time_h),
                variable=str(reading.variable),
                value=_number(reading.value),
                unit=None if reading.unit is None else str(reading.unit),
                source=reading.source or None,
                received_at=received_at or utcnow(),
                status=status,
                reason=reason,
            )
        )
        if len(self._buffer) >= self.flush_every:
            self.flush()
        else:
            self.flush_if_due()

    def flush_if_due(self) -> int:
        """Flush when the oldest buffered reading has waited ``flush_seconds``."""
        if self._buffer and self._clock() - self._last >= self.flush_seconds:
            return self.flush()
        return 0

    def flush(self) -> int:
        """Write the buffer in one transaction; returns how many readings were written."""
        if not self._buffer:
            self._last = self._clock()
            return 0
        batch = list(self._buffer)
        if not self.opened:  # raises like a failed write: the buffer is kept
            self.store.open_run(self.run, self.model)
            self.opened = True
        count = self.store.add_readings(self.run, batch)  # raises: the buffer is kept
        del self._buffer[: len(batch)]
        self.written += count
        self.flushes += 1
        self._last = self._clock()
        return count

    def close(self) -> int:
        """Write what is left (end of the run)."""
        return self.flush()


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
