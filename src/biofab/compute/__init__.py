"""Where work runs: a local process pool by default, a Ray cluster by address.

``BIOFAB_RAY`` (``127.0.0.1:6379``, ``ray://head:10001`` or ``auto``) sends the
same calls to Ray; otherwise tasks run in a local
:class:`~concurrent.futures.ProcessPoolExecutor` (``BIOFAB_WORKERS`` workers,
default: the machine's cores). The code path a caller writes is the same either
way (:func:`executor` / :func:`parallel_map`); a task whose worker dies is rerun,
and when its tries are spent the call fails with one :class:`WorkerLostError` line.
See ``docs/jobs.md``.
"""

from biofab.compute.executors import (
    LocalPool,
    TaskExecutor,
    TaskHandle,
    WorkerLostError,
    executor,
    ray_address,
    worker_count,
)
from biofab.compute.pool import parallel_map

__all__ = [
    "LocalPool",
    "TaskExecutor",
    "TaskHandle",
    "WorkerLostError",
    "executor",
    "parallel_map",
    "ray_address",
    "worker_count",
]
