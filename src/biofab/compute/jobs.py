"""Background jobs: a persistent queue in the store and runners that work it off.

``JobQueue(store).submit(kind, request, who)`` validates the request against the
kind's typed workflow (a pillar's :class:`~biofab.core.jobs.JobKind`, found through
the plug-in registry: this module names no pillar) and stores it ``queued``; a
bad request is one line and nothing is stored. A :class:`JobRunner` (``biofab jobs
run-worker``, or a service's background thread) claims queued jobs one at a time,
runs each on the executor (a process of the local pool, or a Ray task when
``BIOFAB_RAY`` is set), and stores the result or the error line.

States: ``queued -> running -> succeeded | failed | cancelled``; a running job
whose worker was lost goes back to ``queued`` while it has attempts left.

- **Progress.** The job's worker writes every progress step of the workflow
  (:func:`biofab.core.progress.report_to`) to the job's row, at most every
  ``REPORT_EVERY_S`` seconds: ``progress`` (a fraction that never goes back) and
  ``message``.
- **Cancel.** A queued job is cancelled at once; a running one gets
  ``cancel_requested`` and stops at its next progress report.
- **Heartbeats and recovery.** The runner stamps ``heartbeat_at`` every
  ``heartbeat_s`` while its job runs. A runner starting up (and every
  ``heartbeat_s`` while idle) treats a ``running`` job whose heartbeat is older
  than ``stale_after_s`` as orphaned by a dead runner: it is queued again when
  attempts remain, else marked failed with one line saying so. Never lost.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from biofab.compute.executors import TaskExecutor, TaskHandle, WorkerLostError, executor
from biofab.core import plugins
from biofab.core.errors import BiofabError, InputError
from biofab.core.progress import Step, report_to
from biofab.store.jobs import JobPage, JobRecord, JobTable
from biofab.store.store import Store

#: Least seconds between two progress writes of one job (the last step is always written).
REPORT_EVERY_S = 0.5
MAX_ATTEMPTS = 2


class JobCancelled(BiofabError):
    """The job's cancel was asked for; raised at its next progress report."""


class JobLost(BiofabError):
    """The job is no longer this worker's (its runner was presumed dead)."""


def _store(store: Store | str | None) -> Store:
    return store if isinstance(store, Store) else Store(store)


class JobQueue:
    """Submit, read and cancel jobs of ``store`` (a :class:`Store` or a URL)."""

    def __init__(self, store: Store | str | None = None) -> None:
        self.store = _store(store)
        self.table = JobTable(self.store)

    @staticmethod
    def kinds() -> dict[str, str]:
        """Job kinds on offer -> the pillar offering each."""
        return plugins.job_kinds()

    def submit(
        self,
        kind: str,
        request: Mapping[str, Any],
        who: str | None = None,
        *,
        project_id: int | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> int:
        """Queue a job; returns its id. The request is checked first (one line if bad)."""
        if not isinstance(kind, str):
            raise InputError("job kind must be a string", found=kind)
        spec = plugins.job_kind(kind)
        spec.parse(request, kind=kind)
        if project_id is not None and (
            isinstance(project_id, bool) or not isinstance(project_id, int)
        ):
            raise InputError("project id must be an integer", column="project_id", found=project_id)
        if (
            isinstance(max_attempts, bool)
            or not isinstance(max_attempts, int)
            or not (1 <= max_attempts <= 10)
        ):
            raise InputError(
                "bad max_attempts", column="max_attempts", expected="1 to 10", found=max_attempts
            )
        record = self.table.add(
            kind,
            dict(request),
            who or self.store.who,
            project_id=project_id,
            max_attempts=max_attempts,
        )
        return record.id

    def get(self, job_id: int) -> JobRecord:
        """The job ``job_id`` (one line when unknown)."""
        return self.table.get(job_id)

    def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        project_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobPage:
        """A page of jobs, newest first, and the number matching in all."""
        return self.table.page(
            status=status, kind=kind, project_id=project_id, limit=limit, offset=offset
        )

    def cancel(self, job_id: int, who: str | None = None) -> JobRecord:
        """Cancel (queued: at once; running: at its next progress report)."""
        return self.table.cancel(job_id, who or self.store.who)

    def result(self, job_id: int) -> dict[str, Any]:
        """The stored result of a succeeded job; one line for any other state."""
        job = self.get(job_id)
        if job.status != "succeeded" or job.result is None:
            detail = f": {job.error}" if job.error else ""
            raise InputError(
                f"job {job_id} has no result{detail}", expected="succeeded", found=job.status
            )
        return job.result


# ----------------------------------------------------------------------- the worker side


class _StoreSink:
    """Progress steps of one job attempt -> its row; raises to stop a cancelled job."""

    def __init__(self, table: JobTable, job: int, worker: str, attempt: int) -> None:
        self.table, self.job, self.worker, self.attempt = table, job, worker, attempt
        self._last = -float("inf")
        self.fraction = 0.0

    def __call__(self, step: Step) -> None:
        final = step.total is not None and step.done >= step.total
        if step.depth == 0 and step.total:
            self.fraction = max(self.fraction, min(1.0, step.done / step.total))
        now = time.monotonic()
        if now - self._last < REPORT_EVERY_S and not (final and step.depth == 0):
            return
        self._last = now
        of = f"/{step.total}" if step.total is not None else ""
        message = " ".join(x for x in (step.label, f"{step.done}{of}", step.note) if x)
        cancel = self.table.report(self.job, self.worker, self.attempt, self.fraction, message)
        if cancel is None:
            raise JobLost(f"job {self.job} is no longer run by {self.worker}")
        if cancel:
            raise JobCancelled(f"job {self.job} cancelled")


def run_job(
    url: str,
    job_id: int,
    worker: str,
    attempt: int,
    kind: str,
    request: dict[str, Any],
    folder: str,
    pillars: tuple[Any, ...] = (),
) -> Any:
    """Run one job attempt (in a worker process or Ray task); returns its JSON result.

    ``pillars``: the runner's in-process plug-in records, registered here when missing
    (a worker that was not forked from the runner knows only the installed entry points).
    """
    known = {p.name for p in plugins.pillars()}
    for pillar in pillars:
        if pillar.name not in known:
            plugins.register(pillar)
    spec = plugins.job_kind(kind)
    typed = spec.parse(request, kind=kind)
    store = Store(url, create=False)
    try:
        sink = _StoreSink(JobTable(store), job_id, worker, attempt)
        with report_to(sink):
            out = Path(folder)
            out.mkdir(parents=True, exist_ok=True)
            return spec.execute(typed, out)
    finally:
        store.close()


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else ""
    return line if isinstance(err, BiofabError) else f"{type(err).__name__}: {line}"


# ----------------------------------------------------------------------- the runner


class JobRunner:
    """Claims queued jobs of ``store`` and runs them one at a time.

    Parameters
    ----------
    folder
        Where each job's files go (``folder/job-<id>/``).
    executor
        Runs each attempt away from this process (default: :func:`biofab.compute.executor`,
        Ray when ``BIOFAB_RAY`` is set).
    heartbeat_s
        Seconds between heartbeats of a running job (and between polls when idle).
    stale_after_s
        A running job whose heartbeat is older than this was left by a dead runner.
    kinds
        Only these job kinds (None: all).
    cancel_grace_s
        A job asked to cancel that has not stopped at a progress report within this
        many seconds (a workflow that reports rarely) has its attempt ended by the runner.
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        folder: Path | str = "biofab-jobs",
        executor: TaskExecutor | None = None,
        heartbeat_s: float = 2.0,
        stale_after_s: float = 30.0,
        kinds: tuple[str, ...] | None = None,
        worker_id: str | None = None,
        cancel_grace_s: float = 10.0,
    ) -> None:
        if heartbeat_s <= 0 or stale_after_s <= heartbeat_s:
            raise InputError(
                "stale_after_s must exceed heartbeat_s > 0", found=(heartbeat_s, stale_after_s)
            )
        self.store = _store(store)
        self.table = JobTable(self.store)
        self.folder = Path(folder)
        self.executor = executor
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.kinds = kinds
        self.cancel_grace_s = cancel_grace_s
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def recover(self) -> list[JobRecord]:
        """Requeue (or fail, when out of attempts) jobs whose runner stopped heartbeating."""
        return self.table.recover(self.stale_after_s)

    def run(
        self,
        *,
        max_jobs: int | None = None,
        idle_exit_s: float | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[JobRecord]:
        """Work off the queue: recover orphans, then claim and run jobs until ``max_jobs``
        have run, the queue stayed empty for ``idle_exit_s`` s, or ``should_stop()``."""
        done: list[JobRecord] = []
        idle_since = time.monotonic()
        while not should_stop() and (max_jobs is None or len(done) < max_jobs):
            self.recover()
            finished = self.run_once()
            if finished is not None:
                done.append(finished)
                idle_since = time.monotonic()
                continue
            if idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                break
            time.sleep(min(self.heartbeat_s, 1.0))
        return done

    def run_once(self) -> JobRecord | None:
        """Claim one queued job and run it to its end; None when the queue is empty."""
        job = self.table.claim(self.worker_id, self.kinds)
        if job is None:
            return None
        self._attempt(job)
        return self.table.get(job.id)

    def _attempt(self, job: JobRecord) -> None:
        mine = (job.id, self.worker_id, job.attempts)
        try:
            runner = self.executor or executor()
            handle = runner.submit(
                run_job,
                self.store.full_url,
                job.id,
                self.worker_id,
                job.attempts,
                job.kind,
                job.request,
                str((self.folder / f"job-{job.id}").resolve()),
                plugins.registered(),
            )
        except BiofabError as err:  # no executor (e.g. Ray unreachable): the job fails
            self.table.finish(*mine, "failed", error=_one_line(err))
            return
        outcome = self._wait(handle, mine)
        if outcome == "lost":
            return  # the job was taken from us; its new holder owns the outcome
        if outcome == "cancelled":
            self.table.finish(*mine, "cancelled")
            return
        try:
            result = handle.result()
        except JobCancelled:
            self.table.finish(*mine, "cancelled")
        except JobLost:
            return
        except WorkerLostError as err:
            again = job.attempts < job.max_attempts
            line = f"attempt {job.attempts} of {job.max_attempts}: {_one_line(err)}"
            self.table.finish(*mine, "queued" if again else "failed", error=line)
        except Exception as err:  # the job's own error: stored as its one line
            self.table.finish(*mine, "failed", error=_one_line(err))
        else:
            self.table.finish(*mine, "succeeded", result=_as_object(result))

    def _wait(self, handle: TaskHandle[Any], mine: tuple[int, str, int]) -> str:
        """Heartbeat until the attempt ends: ``done``; ``lost`` when the job is no longer
        ours; ``cancelled`` when a cancel was not honoured within the grace time."""
        next_beat = time.monotonic() + self.heartbeat_s
        cancel_seen: float | None = None
        while not handle.done():
            time.sleep(min(0.1, self.heartbeat_s / 4))
            now = time.monotonic()
            if now < next_beat:
                continue
            next_beat = now + self.heartbeat_s
            cancel = self.table.heartbeat(*mine)
            if cancel and cancel_seen is None:
                cancel_seen = now
            if cancel is None or (
                cancel_seen is not None and now - cancel_seen >= self.cancel_grace_s
            ):
                with contextlib.suppress(Exception):
                    handle.cancel()
                return "lost" if cancel is None else "cancelled"
        return "done"


def _as_object(result: Any) -> dict[str, Any]:
    """A JSON object for the ``result`` column (a bare value is wrapped)."""
    return result if isinstance(result, dict) else {"value": result}
