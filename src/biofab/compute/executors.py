"""Task executors: one interface, a local process pool or a Ray cluster behind it.

A caller writes ``executor(workers).map(fn, items, progress="label")`` and gets
``[fn(x) for x in items]`` in input order, whichever executor runs it:

- :class:`LocalPool` (the default): a :class:`~concurrent.futures.ProcessPoolExecutor`
  of ``BIOFAB_WORKERS`` processes (default: the machine's cores). One worker runs
  in this process, which keeps tracebacks simple and avoids pool start-up.
- :class:`RayExecutor`, chosen by ``BIOFAB_RAY`` (``127.0.0.1:6379``,
  ``ray://head:10001`` or ``auto``): the same calls as Ray tasks. Every Ray worker
  must import biofab (install it on each node, or start the cluster with
  ``PYTHONPATH`` pointing at it).

**Lost workers.** A task whose worker process dies (killed, out of memory,
``os._exit``) is run again, up to ``retries`` more times (default 1): the local
pool reruns the tasks it lost in a fresh pool; Ray reruns them itself
(``max_retries``). When the tries are spent the map fails with one
:class:`WorkerLostError` line; a result is never silently missing. An exception
raised *by* ``fn`` is not retried: it reaches the caller as itself (on Ray too).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from biofab.core.errors import BiofabError, InputError
from biofab.core.progress import progress as progress_reporter

T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

#: Least seconds between two plain progress lines: a map over 10,000 knock-outs
#: reports every few seconds, not 10,000 times.
LINE_EVERY_S = 5.0

#: How many more times a task whose worker died is run (so 2 tries in all).
DEFAULT_RETRIES = 1

RAY_ENV = "BIOFAB_RAY"
WORKERS_ENV = "BIOFAB_WORKERS"

_RAY_ADDRESS = re.compile(r"^(auto|ray://[^\s/:]+:\d{1,5}|[^\s/:]+:\d{1,5})$")


class WorkerLostError(BiofabError):
    """A task's worker process died on every try (killed, out of memory, crashed)."""


class TaskExecutor(Protocol):
    """Where tasks run. ``fn`` must be picklable (a module-level function)."""

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], *, progress: str | None = None
    ) -> list[R]:
        """``[fn(x) for x in items]`` in parallel, results in input order; ``progress``
        (a label) turns on :func:`biofab.core.progress.progress`."""
        ...

    def submit(self, fn: Callable[..., R], *args: Any) -> TaskHandle[R]:
        """Start ``fn(*args)`` in a worker (never in this process) and return at once."""
        ...


class TaskHandle(Protocol[R_co]):
    """A task started by :meth:`TaskExecutor.submit`."""

    def done(self) -> bool: ...

    def result(self) -> R_co:
        """The task's value; its own exception; or :class:`WorkerLostError`."""
        ...

    def cancel(self) -> None:
        """Stop the task if it can still be stopped (best effort)."""
        ...


def worker_count(workers: int | None = None) -> int:
    """Workers to use: the argument, else ``BIOFAB_WORKERS``, else the core count."""
    if workers is not None:
        return max(1, workers)
    env = os.environ.get(WORKERS_ENV)
    if env:
        if not env.strip().isdigit():
            raise InputError(
                f"{WORKERS_ENV} is not a number of workers", expected="an integer >= 1", found=env
            )
        return max(1, int(env))
    return max(1, os.cpu_count() or 1)


def ray_address() -> str | None:
    """``BIOFAB_RAY`` checked (``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``), or None."""
    raw = os.environ.get(RAY_ENV, "").strip()
    if not raw:
        return None
    if not _RAY_ADDRESS.match(raw):
        raise InputError(
            f"{RAY_ENV} is not a Ray address",
            expected="auto, HOST:PORT or ray://HOST:PORT",
            found=raw,
        )
    return raw


def executor(workers: int | None = None, *, retries: int = DEFAULT_RETRIES) -> TaskExecutor:
    """The executor this process should use: Ray when ``BIOFAB_RAY`` is set, else a
    local pool of ``workers`` processes (see :func:`worker_count`)."""
    address = ray_address()
    if address is not None:
        from biofab.compute.raycluster import RayExecutor

        return RayExecutor(address, retries=retries)
    return LocalPool(workers, retries=retries)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def lost_message(fn: Callable[..., Any], lost: int, total: int, tries: int, where: str) -> str:
    """The one line of a :class:`WorkerLostError`."""
    return (
        f"{lost} of {total} {_name(fn)} task(s) lost: their {where} worker process died "
        f"on each of {tries} tries (killed, out of memory or crashed); nothing was returned"
    )


class LocalPool:
    """A local process pool; a pool broken by a dead worker is replaced and the
    tasks it lost are run again, ``retries`` more times at most."""

    def __init__(self, workers: int | None = None, *, retries: int = DEFAULT_RETRIES) -> None:
        self.workers = worker_count(workers)
        self.retries = max(0, retries)
        self._submit_pool: ProcessPoolExecutor | None = None

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], *, progress: str | None = None
    ) -> list[R]:
        jobs = list(items)
        results: dict[int, R] = {}
        n = min(self.workers, max(1, len(jobs)))
        with progress_reporter(
            progress or "", total=len(jobs), enabled=progress is not None, every=LINE_EVERY_S
        ) as bar:
            if n == 1:
                return [_advance(bar, fn(job)) for job in jobs]
            todo = list(range(len(jobs)))
            for _ in range(1 + self.retries):
                todo = self._run(fn, jobs, todo, n, results, bar)
                if not todo:
                    return [results[i] for i in range(len(jobs))]
        raise WorkerLostError(lost_message(fn, len(todo), len(jobs), 1 + self.retries, "local"))

    @staticmethod
    def _run(
        fn: Callable[[T], R],
        jobs: list[T],
        todo: list[int],
        n: int,
        results: dict[int, R],
        bar: Any,
    ) -> list[int]:
        """Run ``todo`` in a fresh pool; returns the indices lost to a dead worker."""
        pool = ProcessPoolExecutor(max_workers=min(n, len(todo)))
        futures: dict[Future[R], int] = {}
        try:
            # submit itself raises BrokenProcessPool once a worker has died
            for i in todo:
                futures[pool.submit(fn, jobs[i])] = i
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.advance()
        except BrokenProcessPool:
            # Keep what finished before the pool broke; the rest was lost with it.
            for fut, i in futures.items():
                if i in results or not fut.done() or fut.cancelled():
                    continue
                if fut.exception() is None:
                    results[i] = fut.result()
                    bar.advance()
        finally:
            # cancel_futures: an error in one task does not wait for all the others
            pool.shutdown(wait=True, cancel_futures=True)
        return [i for i in todo if i not in results]

    def submit(self, fn: Callable[..., R], *args: Any) -> TaskHandle[R]:
        # One process per running task: a job that kills its worker takes no other down.
        # Not forked from this process: a job runner has threads, and a fork taken while
        # one of them holds a lock in a C library (SQLite's allocator mutex, seen in the
        # test suite) leaves the child blocked on it forever.
        pool = ProcessPoolExecutor(max_workers=1, mp_context=_clean_start())
        return _LocalHandle(pool, fn, args)


def _clean_start() -> Any:
    """A start method that does not fork this process: ``forkserver`` (a clean
    single-threaded server forks the workers) where the platform has it, else ``spawn``."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _advance(bar: Any, value: R) -> R:
    bar.advance()
    return value


class _LocalHandle:
    """A task in its own one-process pool."""

    def __init__(self, pool: ProcessPoolExecutor, fn: Callable[..., Any], args: tuple[Any, ...]):
        self._pool = pool
        self._fn = fn
        self._future: Future[Any] = pool.submit(fn, *args)

    def done(self) -> bool:
        return self._future.done()

    def result(self) -> Any:
        try:
            return self._future.result()
        except BrokenProcessPool:
            raise WorkerLostError(lost_message(self._fn, 1, 1, 1, "local")) from None
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def cancel(self) -> None:
        self._future.cancel()
        # A running task cannot be cancelled through the future: end its process.
        for proc in list(getattr(self._pool, "_processes", {}).values()):
            proc.kill()
        self._pool.shutdown(wait=False, cancel_futures=True)
