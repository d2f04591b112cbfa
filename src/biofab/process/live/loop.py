"""The live loop: source -> validator -> store buffer -> reorder buffer -> twin, per reading.

Every reading a source delivers is validated (:class:`~biofab.process.live.readings.
ReadingValidator`); a refused one is counted, buffered for the store with status
``rejected`` and its one-line reason, and the loop goes on. A valid one is offered to the
:class:`~biofab.process.live.ordering.ReorderBuffer` (accepted, late or duplicate); every
accepted or late reading is buffered for the store (a duplicate is not stored twice). Each
estimator step the buffer closes is fed to the :class:`~biofab.process.live.twin.LiveTwin`.
The store buffer is flushed by size or age (:mod:`biofab.process.live.writer`) and at the
end; a progress callback sees every step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from biofab.core.errors import BiofabError
from biofab.process.live.ordering import ReorderBuffer
from biofab.process.live.readings import (
    CheckedReading,
    Reading,
    ReadingError,
    ReadingValidator,
)
from biofab.process.live.twin import LiveTwin
from biofab.process.live.writer import ReadingWriter

__all__ = ["LiveLoop", "LiveSource", "LiveStats"]


@runtime_checkable
class LiveSource(Protocol):
    """Anything that yields :class:`Reading` objects asynchronously until the run ends.

    ``name`` says where readings come from (a URL, a file); it goes into progress lines.
    """

    name: str

    def __aiter__(self) -> AsyncIterator[Reading]: ...


@dataclass
class LiveStats:
    """Counts of a live run: readings ``received`` and what became of them."""

    received: int = 0
    resumed: int = 0  # of those, read back from the store (a restarted twin, see resume)
    accepted: int = 0
    late: int = 0
    duplicate: int = 0
    rejected: int = 0
    steps: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    last_rejection: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "resumed": self.resumed,
            "accepted": self.accepted,
            "late": self.late,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "steps": self.steps,
            "rejections": dict(self.reasons),
        }


class LiveLoop:
    """Drive a :class:`LiveTwin` from readings (module docstring).

    ``step_h``/``window_h``: estimator step and reorder window (h); ``writer``: the store
    buffer (None: nothing is stored); ``on_step``: called with each estimate row and the
    stats; ``flush_seconds``: how often the loop flushes the store buffer while a source
    is silent.
    """

    def __init__(
        self,
        twin: LiveTwin,
        validator: ReadingValidator,
        *,
        step_h: float = 0.25,
        window_h: float | None = None,
        writer: ReadingWriter | None = None,
        on_step: Callable[[dict[str, float], LiveStats], None] | None = None,
    ) -> None:
        self.twin = twin
        self.validator = validator
        self.order = ReorderBuffer(twin.t0, step_h, window_h)
        self.writer = writer
        self.on_step = on_step
        self.stats = LiveStats()
        self.readings_: list[CheckedReading] = []  # accepted readings, twin units (report)
        self.failed_ = False  # an estimator step failed; the run ends

    def offer(self, reading: Reading) -> str:
        """Take one reading; returns its status (``accepted``, ``late``, ``duplicate``,
        ``rejected``). Never raises for a bad reading."""
        self.stats.received += 1
        try:
            checked = self.validator.check(reading)
            status = self.order.offer(checked)
        except ReadingError as err:
            self.stats.rejected += 1
            self.stats.reasons[reading.variable] += 1
            self.stats.last_rejection = str(err)
            if self.writer is not None:
                self.writer.add(reading, "rejected", str(err))
            return "rejected"
        if status == "duplicate":
            self.stats.duplicate += 1
            return status
        if status == "late":
            self.stats.late += 1
        else:
            self.stats.accepted += 1
            self.readings_.append(checked)
        if self.writer is not None:
            self.writer.add(reading, status)
        for step in self.order.ready():
            self._step(step)
        return status

    def resume(self, stored: Iterable[Reading]) -> int:
        """Feed readings a run already holds in the store (its accepted and late ones, in
        the order received), before the source: a restarted twin then continues the
        run's estimates instead of starting again from the initial guess, and a reading
        the source sends again is an exact duplicate, dropped instead of stored twice.
        They go through the validator, the ordering rule and the estimator like new
        readings but are not written again. Returns how many were fed."""
        writer, self.writer = self.writer, None
        count = 0
        try:
            for reading in stored:
                self.offer(reading)
                count += 1
        finally:
            self.writer = writer
        self.stats.resumed += count
        return count

    def _step(self, step: Any) -> None:
        try:
            row = self.twin.step(step)
        except (BiofabError, ArithmeticError, np.linalg.LinAlgError) as err:
            # the filter's state is spoiled: say where, and which readings it was fed
            self.failed_ = True
            fed = ", ".join(f"{r.variable}={r.value:g}" for r in step.readings[:6])
            raise BiofabError(
                f"the estimator failed in the step ending at {step.end:g} h (readings fed: "
                f"{fed or 'none'}): {err}; the readings received are stored"
            ) from None
        self.stats.steps += 1
        if self.on_step is not None:
            self.on_step(row, self.stats)

    def finish(self) -> None:
        """End of the run: close every open step and flush the store buffer (also when
        a step fails: the readings received are kept)."""
        try:
            if not self.failed_:  # a spoiled filter cannot take the remaining steps
                for step in self.order.drain():
                    self._step(step)
        finally:
            if self.writer is not None:
                self.writer.close()

    def feed(self, readings: Iterable[Reading]) -> LiveStats:
        """Feed readings synchronously (tests, notebooks) and finish."""
        try:
            for reading in readings:
                self.offer(reading)
        finally:
            self.finish()
        return self.stats

    async def run(self, source: LiveSource, *, flush_seconds: float = 1.0) -> LiveStats:
        """Consume ``source`` until it ends, flushing the store buffer at least every
        ``flush_seconds`` while it is silent; then finish."""
        flusher = asyncio.create_task(self._flush_periodically(flush_seconds))
        try:
            async for reading in source:
                self.offer(reading)
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            self.finish()
        return self.stats

    async def _flush_periodically(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            if self.writer is not None:
                self.writer.flush_if_due()
