"""``parallel_map``: order-preserving map over a process pool or Ray, with progress."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from biofab.core.errors import BiofabError
from biofab.core.progress import progress

#: Least seconds between two plain progress lines: a map over 10,000 knock-outs
#: reports every few seconds, not 10,000 times.
_LINE_EVERY_S = 5.0

T = TypeVar("T")
R = TypeVar("R")


def worker_count(workers: int | None = None) -> int:
    """Workers to use: the argument, else ``BIOFAB_WORKERS``, else the core count."""
    if workers is not None:
        return max(1, workers)
    env = os.environ.get("BIOFAB_WORKERS")
    return max(1, int(env)) if env else max(1, os.cpu_count() or 1)


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int | None = None,
    description: str | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` in parallel, results in input order.

    ``fn`` must be picklable (a module-level function). One worker runs in
    this process, which keeps tracebacks simple and avoids pool start-up for
    small jobs. ``description`` turns progress on (:func:`biofab.core.progress.progress`:
    a bar on a terminal, else a line on stderr at most every few seconds).
    """
    jobs = list(items)
    address = os.environ.get("BIOFAB_RAY")
    if address:
        return _ray_map(fn, jobs, address)
    n = min(worker_count(workers), max(1, len(jobs)))
    results: list[Any] = [None] * len(jobs)
    with progress(
        description or "", total=len(jobs), enabled=description is not None, every=_LINE_EVERY_S
    ) as bar:
        if n == 1:
            for i, job in enumerate(jobs):
                results[i] = fn(job)
                bar.advance()
            return results
        with ProcessPoolExecutor(max_workers=n) as pool:
            futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.advance()
    return results


def _ray_map(fn: Callable[[T], R], jobs: list[T], address: str) -> list[R]:
    try:
        import ray
    except ImportError:
        raise BiofabError(
            f"BIOFAB_RAY={address} is set but Ray is not installed; pip install 'ray[default]'"
        ) from None
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    remote = ray.remote(fn)
    return list(ray.get([remote.remote(job) for job in jobs]))
