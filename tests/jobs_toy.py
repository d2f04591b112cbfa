"""A fifth pillar for the job-queue tests: a ``count`` job that reports each step.

It counts ``steps`` steps of ``step_s`` seconds through `biofab.core.progress`, so a
test sees progress rise, can cancel it mid-way and can kill its runner mid-job.
With ``die_marker`` it ends its own worker process the first time (a lost worker).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from biofab.core import plugins
from biofab.core.jobs import JobKind
from biofab.core.progress import progress


@dataclass(frozen=True)
class CountRequest:
    steps: int
    step_s: float = 0.05
    die_marker: str | None = None
    always_die: bool = False
    quiet: bool = False  # no progress reports (a workflow that reports rarely)


def count_steps(request: CountRequest) -> dict[str, int]:
    if request.always_die or (request.die_marker and not Path(request.die_marker).exists()):
        if request.die_marker:
            Path(request.die_marker).write_text("died\n")
        os._exit(17)
    if request.quiet:
        time.sleep(request.steps * request.step_s)
        return {"counted": request.steps, "pid": os.getpid()}
    with progress("count", request.steps) as bar:
        for i in range(request.steps):
            time.sleep(request.step_s)
            bar.advance(note=f"at {i + 1}")
    return {"counted": request.steps, "pid": os.getpid()}


count = JobKind(CountRequest, count_steps, help="Count slowly (tests).")
pillar = plugins.Pillar(
    name="toyjobs", help="Job-queue test kinds.", jobs={"count": "jobs_toy:count"}
)


def register() -> None:
    if "toyjobs" not in {p.name for p in plugins.pillars()}:
        plugins.register(pillar)
