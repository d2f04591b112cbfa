"""Replay a recorded run (a long or wide CSV, as :func:`~biofab.process.batchdata.read_batches`
reads it) as a live source at N× speed.

Readings come out in time order (online and offline together; within one time, in the
file's signal order), in the batch's standard signal names and units. Between two reading
times the source sleeps ``(t2 - t1) * 3600 / speed`` seconds: ``speed=60`` plays an hour
in a minute; ``speed=0`` or ``inf`` plays as fast as possible (tests, back-filling a
store). The file is read and validated whole before the first reading is sent, so a bad
file is one error line and nothing is replayed.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from biofab.core.errors import InputError
from biofab.process.live.readings import Reading

__all__ = ["ReplaySource", "batch_readings"]


def batch_readings(batch: Any, source: str = "") -> list[Reading]:
    """Every reading of a :class:`~biofab.process.batchdata.BatchData`, in time order."""
    long = batch.to_long()
    order = (
        long.reset_index(drop=True).reset_index().sort_values(["time_h", "index"], kind="stable")
    )
    return [
        Reading(float(t), str(v), float(x), str(u), source)
        for t, v, x, u in zip(
            order["time_h"], order["variable"], order["value"], order["unit"], strict=True
        )
    ]


class ReplaySource:
    """A run CSV played back as a :class:`~biofab.process.live.loop.LiveSource`.

    ``path``: the CSV; ``mapping``: its column-mapping YAML (optional); ``speed``: how
    many times faster than real time (0 or ``inf``: no waiting); ``batch``: which batch of
    a multi-batch file (default: the only one).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        mapping: str | Path | None = None,
        speed: float = 60.0,
        batch: str | None = None,
    ) -> None:
        from biofab.process.batchdata import read_batches

        if not (speed >= 0 and not math.isnan(speed)):
            raise InputError(
                "replay speed must be >= 0", expected=">= 0 (0: no waiting)", found=speed
            )
        self.path = Path(path)
        self.speed = float(speed)
        batches = read_batches(self.path, mapping)
        if batch is None and len(batches) > 1:
            raise InputError(
                "the file holds several batches; name one (--batch)",
                file=str(self.path),
                expected=", ".join(b.batch_id for b in batches),
            )
        chosen = [b for b in batches if batch is None or b.batch_id == batch]
        if not chosen:
            raise InputError(
                "no such batch in the file",
                file=str(self.path),
                expected=", ".join(b.batch_id for b in batches),
                found=batch,
            )
        self.batch = chosen[0]
        self.name = f"replay {self.path.name} x{self.speed:g}"
        self.readings = batch_readings(self.batch, source=f"replay:{self.path.name}")

    @property
    def batch_id(self) -> str:
        return str(self.batch.batch_id)

    def _pause(self, hours: float) -> float:
        if self.speed == 0 or math.isinf(self.speed) or hours <= 0:
            return 0.0
        return hours * 3600.0 / self.speed

    async def __aiter__(self) -> AsyncIterator[Reading]:
        previous: float | None = None
        for reading in self.readings:
            if previous is not None and reading.time_h > previous:
                # sleep(0) still lets other tasks (the store flusher, a server) run
                await asyncio.sleep(self._pause(reading.time_h - previous))
            previous = reading.time_h
            yield reading
