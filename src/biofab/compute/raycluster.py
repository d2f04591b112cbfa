"""``RayExecutor``: the executor interface on a Ray cluster (``BIOFAB_RAY``).

Ray is an optional extra (``pip install 'biofab[ray]'``), imported only here and
only when asked for. Tasks whose worker dies are rerun by Ray itself
(``max_retries``); an exception raised by the task's own code is never retried
and reaches the caller as the original exception, as with the local pool.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from biofab.compute.executors import (
    DEFAULT_RETRIES,
    LINE_EVERY_S,
    RAY_ENV,
    TaskHandle,
    WorkerLostError,
    lost_message,
)
from biofab.core.errors import BiofabError
from biofab.core.progress import progress as progress_reporter

T = TypeVar("T")
R = TypeVar("R")

#: Seconds ``map`` waits for finished tasks before reporting progress again.
_WAIT_S = 0.5

_lock = threading.Lock()
_connected: str | None = None


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BiofabError(
            f"{RAY_ENV} is set but Ray is not installed; pip install 'biofab[ray]'"
        ) from None
    return ray


def connect(address: str) -> Any:
    """The ``ray`` module, connected to the cluster at ``address`` (once per process)."""
    global _connected
    ray = _ray()
    with _lock:
        if ray.is_initialized() and _connected in (None, address):
            # Inside a Ray task (None) or already connected: use the running cluster.
            return ray
        if ray.is_initialized():
            ray.shutdown()
        try:
            ray.init(
                address=address,
                ignore_reinit_error=True,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        except Exception as err:  # Ray raises several types; the user needs one line
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise BiofabError(f"cannot connect to the Ray cluster at {address}: {reason}") from None
        _connected = address
    return ray


def _apply(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """The one remote function: runs ``fn(*args)`` on a worker.

    Ray hands NumPy arrays over read-only (zero copy from its object store); a task
    that updates an array in place (an LP's bounds) must see what it would see in a
    local pool worker, so it gets its own writable copy of the arguments.
    """
    return fn(*copy.deepcopy(args))


class RayExecutor:
    """Tasks on the Ray cluster at ``address``; a task whose worker dies runs again up
    to ``retries`` times, then the map fails with one :class:`WorkerLostError` line."""

    def __init__(self, address: str, *, retries: int = DEFAULT_RETRIES) -> None:
        self.address = address
        self.retries = max(0, retries)

    def _remote(self, retries: int) -> Any:
        ray = connect(self.address)
        # retry_exceptions=False: only a lost worker is retried, never the task's own error
        return ray.remote(_apply).options(max_retries=retries, retry_exceptions=False)

    def map(
        self, fn: Callable[[T], R], items: Iterable[T], *, progress: str | None = None
    ) -> list[R]:
        jobs = list(items)
        remote = self._remote(self.retries)
        ray = _ray()
        refs = [remote.remote(fn, (job,)) for job in jobs]
        where = {ref: i for i, ref in enumerate(refs)}
        results: dict[int, Any] = {}
        pending = list(refs)
        with progress_reporter(
            progress or "", total=len(jobs), enabled=progress is not None, every=LINE_EVERY_S
        ) as bar:
            try:
                while pending:
                    done, pending = ray.wait(pending, num_returns=len(pending), timeout=_WAIT_S)
                    for ref in done:
                        results[where[ref]] = _get(ray, ref, fn, len(jobs), 1 + self.retries)
                        bar.advance()
            except BaseException:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise
        return [results[i] for i in range(len(jobs))]

    def submit(self, fn: Callable[..., R], *args: Any) -> TaskHandle[R]:
        # A job's own attempts are counted by the job queue: no hidden retries here.
        return _RayHandle(self._remote(0).remote(fn, args), fn)


def _get(ray: Any, ref: Any, fn: Callable[..., Any], total: int, tries: int) -> Any:
    """The value behind ``ref``; a lost worker is one line, a task's error is itself."""
    from ray import exceptions as rx

    try:
        value = ray.get(ref)
    except rx.RayTaskError as err:
        cause = getattr(err, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise
    except (
        rx.WorkerCrashedError,
        rx.NodeDiedError,
        rx.LocalRayletDiedError,
        rx.OutOfMemoryError,
        rx.ObjectLostError,
    ):
        raise WorkerLostError(lost_message(fn, 1, total, tries, "Ray")) from None
    # A writable copy, as a local pool hands back (Ray's arrays are read-only views).
    return copy.deepcopy(value)


class _RayHandle:
    def __init__(self, ref: Any, fn: Callable[..., Any]) -> None:
        self._ref = ref
        self._fn = fn

    def done(self) -> bool:
        ray = _ray()
        ready, _ = ray.wait([self._ref], num_returns=1, timeout=0)
        return bool(ready)

    def result(self) -> Any:
        return _get(_ray(), self._ref, self._fn, 1, 1)

    def cancel(self) -> None:
        _ray().cancel(self._ref, force=True)
