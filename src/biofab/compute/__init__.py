"""Where work runs: a local process pool by default, a Ray cluster by address.

``BIOFAB_RAY`` (e.g. ``ray://head:10001`` or ``auto``) sends the same calls to
Ray; otherwise tasks run in a local :class:`~concurrent.futures.ProcessPoolExecutor`
(``BIOFAB_WORKERS`` workers, default: the machine's cores). The code path a
caller writes is the same either way.
"""

from biofab.compute.pool import parallel_map, worker_count

__all__ = ["parallel_map", "worker_count"]
