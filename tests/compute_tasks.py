"""Module-level tasks for the executor tests (workers import them by name)."""

from __future__ import annotations

import os
from pathlib import Path

from biofab.core.errors import InputError


def square_with_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def die_once(job: tuple[str, int]) -> int:
    """Kill this worker the first time (the marker file does not exist yet), then answer."""
    marker, x = job
    if marker and not Path(marker).exists():
        Path(marker).write_text("died once\n")
        os._exit(17)
    return x * 10


def always_die(x: int) -> int:
    os._exit(17)


def refuse(x: int) -> int:
    """A task's own error: never retried, reaches the caller as itself."""
    if x == 2:
        raise InputError("bad value", row=x, expected="not 2", found=x)
    return x
