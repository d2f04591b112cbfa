"""``progress``: how every long job tells a person it is alive.

On a terminal a job shows a Rich bar; otherwise (CI logs, a pipe, a file, a
service's job log) it writes one plain line per step to stderr, so a three-minute
run is never silent. A job reports steps; where they go is decided here, once.

>>> with progress("round", total=10) as bar:
...     for r in range(10):
...         ...
...         bar.advance(note=f"best 1.42")
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any, Protocol


class Steps(Protocol):
    """What a job calls on its progress reporter."""

    def advance(self, n: int = 1, note: str = "") -> None:
        """``n`` more steps are done; ``note`` is a short status (e.g. ``best 1.42``)."""
        ...


@dataclass(frozen=True)
class Step:
    """One reported step: ``done`` of ``total`` (None: unknown) of the reporter
    ``label``; ``depth`` 0 for a job's outermost reporter, 1 for one opened inside it."""

    label: str
    done: int
    total: int | None
    note: str
    depth: int


#: Where steps go instead of the terminal (a background job's record in the store).
#: It may raise to stop the job (a cancel).
ProgressSink = Callable[[Step], None]

_sink: ContextVar[ProgressSink | None] = ContextVar("biofab_progress_sink", default=None)
_depth: ContextVar[int] = ContextVar("biofab_progress_depth", default=0)


@contextmanager
def report_to(sink: ProgressSink) -> Iterator[None]:
    """Send every progress step of this context to ``sink`` (even of reporters
    asked to be silent: they are silent on the terminal, not towards a job record)."""
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)


class _ToSink:
    def __init__(self, label: str, total: int | None, sink: ProgressSink, depth: int) -> None:
        self.label, self.total, self.sink, self.depth = label, total, sink, depth
        self.done = 0

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        self.sink(Step(self.label, self.done, self.total, note, self.depth))


class _Silent:
    def advance(self, n: int = 1, note: str = "") -> None:
        return None


class _Lines:
    """One line per step: ``label 3/10 (12 s) note``."""

    def __init__(self, label: str, total: int | None, stream: IO[str], every: float) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.done = 0
        self.every = every  # seconds between lines, so a million-step job is not a million lines
        self.t0 = time.perf_counter()
        self._last = -float("inf")

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        now = time.perf_counter()
        final = self.total is not None and self.done >= self.total
        if now - self._last < self.every and not final:
            return
        self._last = now
        of = f"/{self.total}" if self.total is not None else ""
        tail = f" {note}" if note else ""
        self.stream.write(f"{self.label} {self.done}{of} ({now - self.t0:.0f} s){tail}\n")
        self.stream.flush()


class _Bar:
    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task = bar, task

    def advance(self, n: int = 1, note: str = "") -> None:
        self.bar.update(self.task, advance=n, note=note)


def _is_terminal(stream: IO[str]) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


@contextmanager
def progress(
    label: str,
    total: int | None = None,
    *,
    enabled: bool = True,
    stream: IO[str] | None = None,
    every: float = 0.0,
) -> Iterator[Steps]:
    """A progress reporter for a job of ``total`` steps (None: unknown).

    ``enabled=False`` reports nothing (``--json`` output, library calls that
    asked for silence). ``every`` is the least number of seconds between two
    plain lines (the last step is always written). Inside :func:`report_to`,
    steps go to its sink instead.
    """
    sink = _sink.get()
    if sink is not None:
        depth = _depth.get()
        token = _depth.set(depth + 1)
        try:
            yield _ToSink(label, total, sink, depth)
        finally:
            _depth.reset(token)
        return
    if not enabled:
        yield _Silent()
        return
    out = stream if stream is not None else sys.stderr
    if not _is_terminal(out):
        yield _Lines(label, total, out, every)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
    )
    with Progress(*columns, console=Console(file=out), transient=True) as bar:
        yield _Bar(bar, bar.add_task(label, total=total, note=""))
