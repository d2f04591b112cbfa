"""``parallel_map``: order-preserving map on this process's executor, with progress."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from biofab.compute.executors import executor

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int | None = None,
    description: str | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` in parallel, results in input order.

    Runs on :func:`biofab.compute.executor` (a local pool of ``workers``
    processes, or Ray when ``BIOFAB_RAY`` is set). ``fn`` must be picklable (a
    module-level function). ``description`` turns progress on
    (:func:`biofab.core.progress.progress`: a bar on a terminal, else a line on
    stderr at most every few seconds). A task whose worker dies is retried once;
    then :class:`~biofab.compute.WorkerLostError`.
    """
    return executor(workers).map(fn, items, progress=description)
