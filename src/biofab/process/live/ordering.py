"""The rule for late, duplicated and out-of-order readings.

Readings reach the twin on the clocks of several sources and networks, so they arrive
late, twice or out of order. One rule, applied by :class:`ReorderBuffer` to every
valid reading (times in hours, per twin variable):

* **Exact duplicate** — the same variable, time and value as a reading already
  received (a source re-sending after a reconnect, an at-least-once transport): dropped
  and counted; the first copy is the one stored and used.
* **Conflict** — the same variable and time as a reading already received but another
  value: rejected (two values for one instant cannot both be true; the first stands).
* **Out of order within the window** — the estimator advances in steps of ``step_h``
  and closes the step ending at ``t`` only once a reading at or after
  ``t + window_h`` has arrived (the watermark). Until then the step's readings wait in
  a small buffer and are fed in time order, whatever order they came in.
* **Late** — a reading at or before the end of a step already closed: stored with status
  ``late`` but not fed to the estimator (the filter cannot go back in time).

``window_h`` defaults to one estimator step. At the end of a stream every remaining
step is closed. The buffer holds at most the readings of ``window_h / step_h + 1``
steps; the keys of readings received are kept for the duplicate check (a few MB for a
three-day, one-minute log of ten signals).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from biofab.core.errors import InputError
from biofab.process.live.readings import CheckedReading, ReadingError

__all__ = ["ReorderBuffer", "Step"]


@dataclass(frozen=True)
class Step:
    """One closed estimator step: ``(start, end]`` h and its readings in time order."""

    start: float
    end: float
    readings: tuple[CheckedReading, ...] = field(default_factory=tuple)


class ReorderBuffer:
    """Sort readings into estimator steps (module docstring has the rule).

    ``t0``: start of the first step, h (readings at exactly ``t0`` belong to it);
    ``step_h``: estimator step, h; ``window_h``: how long a step stays open after its
    end for readings that come out of order (default ``step_h``).
    """

    def __init__(self, t0: float = 0.0, step_h: float = 0.25, window_h: float | None = None):
        if not (math.isfinite(step_h) and step_h > 0):
            raise InputError("the estimator step must be positive", expected="> 0 h", found=step_h)
        window = step_h if window_h is None else window_h
        if not (math.isfinite(window) and window >= 0):
            raise InputError("the reorder window must be >= 0", expected=">= 0 h", found=window)
        self.t0 = float(t0)
        self.step_h = float(step_h)
        self.window_h = float(window)
        self.closed_until: float | None = None  # end of the last closed step
        self.watermark = -math.inf  # latest reading time received
        self._pending: list[CheckedReading] = []
        self._seen: dict[tuple[str, float], float] = {}
        self._steps = 0

    def offer(self, reading: CheckedReading) -> str:
        """``'accepted'`` (will be fed), ``'late'`` or ``'duplicate'``; a conflicting
        second value raises :class:`ReadingError`."""
        t = reading.time_h
        key = (reading.variable, t)
        if key in self._seen:
            if self._seen[key] == reading.value:
                return "duplicate"
            raise ReadingError(
                f"{reading.reading.label()}: a second, different value for the same time",
                column="time_h",
                expected="one value per variable and time (the first one stands)",
                found=f"{reading.value:g} after {self._seen[key]:g} {reading.unit}",
            )
        self._seen[key] = reading.value
        if t < self.t0 or (self.closed_until is not None and t <= self.closed_until):
            return "late"
        self._pending.append(reading)
        self.watermark = max(self.watermark, t)
        return "accepted"

    def _end(self, index: int) -> float:
        # multiply instead of adding, so step ends do not drift by round-off
        return round(self.t0 + index * self.step_h, 9)

    def ready(self) -> Iterator[Step]:
        """Steps whose end plus the window lies at or before the watermark."""
        while self._end(self._steps + 1) + self.window_h <= self.watermark + 1e-12:
            yield self._close()

    def drain(self) -> Iterator[Step]:
        """Close every step up to the last reading received (end of stream)."""
        while self._pending:
            yield self._close()

    def _close(self) -> Step:
        start, end = self._end(self._steps), self._end(self._steps + 1)
        self._steps += 1
        taken = sorted(
            (r for r in self._pending if r.time_h <= end + 1e-12),
            key=lambda r: (r.time_h, r.variable),
        )
        self._pending = [r for r in self._pending if r.time_h > end + 1e-12]
        self.closed_until = end
        return Step(start, end, tuple(taken))
