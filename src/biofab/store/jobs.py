"""The ``jobs`` table: every state change of a background job is one transaction.

:class:`JobTable` is what the job queue (``biofab.compute.jobs``) reads and
writes; it knows rows and states, not what a job kind does. Claiming is atomic
on SQLite and PostgreSQL alike: ``UPDATE jobs SET status='running' ... WHERE
id=:id AND status='queued'`` succeeds for exactly one runner (its row count is
1); a runner that loses the race tries the next queued job. A runner only writes
to a job it holds (``worker`` and ``attempts`` match), so a runner that was
presumed dead and comes back cannot overwrite the job's next attempt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from biofab.core.errors import InputError
from biofab.store.schema import JOB_STATES, JobRow, utcnow
from biofab.store.store import Store


class UnknownJobError(InputError):
    """No job has this id (the API answers 404)."""


#: A page of jobs and how many match in all.
JobPage = tuple[list["JobRecord"], int]

LIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class JobRecord:
    """A job as stored (timestamps are aware UTC datetimes)."""

    id: int
    kind: str
    request: dict[str, Any]
    status: str
    progress: float
    message: str
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    max_attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    created_by: str
    project_id: int | None
    worker: str | None
    cancel_requested: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON data: timestamps as ISO 8601 strings."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        return out


def _record(row: JobRow) -> JobRecord:
    return JobRecord(
        id=row.id,
        kind=row.kind,
        request=dict(row.request),
        status=row.status,
        progress=float(row.progress),
        message=row.message,
        result=row.result,
        error=row.error,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        created_by=row.created_by,
        project_id=row.project_id,
        worker=row.worker,
        cancel_requested=bool(row.cancel_requested),
    )


class JobTable:
    """Reads and state changes of the ``jobs`` table of ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- submit and read

    def add(
        self,
        kind: str,
        request: dict[str, Any],
        who: str,
        *,
        project_id: int | None = None,
        max_attempts: int = 2,
    ) -> JobRecord:
        """Queue a job (its request already validated); audited as ``submit_job``."""
        with self.store._write() as s:
            row = JobRow(
                kind=kind,
                request=request,
                status="queued",
                progress=0.0,
                message="queued",
                attempts=0,
                max_attempts=max_attempts,
                created_at=utcnow(),
                created_by=who,
                project_id=project_id,
                cancel_requested=False,
            )
            s.add(row)
            s.flush()
            self.store._audit(s, who, "submit_job", None, {"job": row.id, "kind": kind})
            return _record(row)

    def get(self, job_id: int) -> JobRecord:
        """The job ``job_id``; one line when there is none."""
        with self.store._read() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise UnknownJobError("unknown job", found=job_id)
            return _record(row)

    def page(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        project_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobPage:
        """Newest first, ``limit`` from ``offset``, and how many match in all."""
        if status is not None and status not in JOB_STATES:
            raise InputError("unknown job status", expected=", ".join(JOB_STATES), found=status)
        if not (1 <= limit <= 1000) or offset < 0:
            raise InputError(
                "bad page", expected="1 <= limit <= 1000, offset >= 0", found=(limit, offset)
            )
        query = select(JobRow)
        if status is not None:
            query = query.where(JobRow.status == status)
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        if project_id is not None:
            query = query.where(JobRow.project_id == project_id)
        with self.store._read() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = s.scalars(query.order_by(JobRow.id.desc()).limit(limit).offset(offset)).all()
            return [_record(r) for r in rows], int(total)

    def cancel(self, job_id: int, who: str) -> JobRecord:
        """Cancel a queued job at once; ask a running one to stop at its next progress report."""
        with self.store._write() as s:
            row = s.get(JobRow, job_id, with_for_update=True)
            if row is None:
                raise UnknownJobError("unknown job", found=job_id)
            if row.status in FINISHED:
                raise InputError(
                    f"job {job_id} has already finished",
                    expected="a queued or running job",
                    found=row.status,
                )
            if row.status == "queued":
                row.status, row.finished_at, row.message = "cancelled", utcnow(), "cancelled"
            row.cancel_requested = True
            self.store._audit(s, who, "cancel_job", None, {"job": job_id, "was": row.status})
            s.flush()
            return _record(row)

    # -- a runner's side

    def claim(self, worker: str, kinds: tuple[str, ...] | None = None) -> JobRecord | None:
        """Take the oldest queued job (of ``kinds``) for ``worker``; None when there is none."""
        for _ in range(20):  # another runner may win a race; then try the next job
            with self.store._read() as s:
                query = select(JobRow.id).where(JobRow.status == "queued")
                if kinds is not None:
                    query = query.where(JobRow.kind.in_(kinds))
                job_id = s.scalar(query.order_by(JobRow.id).limit(1))
            if job_id is None:
                return None
            now = utcnow()
            with self.store._write() as s:
                taken = s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == "queued")
                    .values(
                        status="running",
                        worker=worker,
                        attempts=JobRow.attempts + 1,
                        started_at=now,
                        heartbeat_at=now,
                        message="started",
                    )
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    row = s.get(JobRow, job_id, populate_existing=True)
                    assert row is not None
                    return _record(row)
        return None

    def _mine(self, job_id: int, worker: str, attempt: int) -> Any:
        return (
            JobRow.id == job_id,
            JobRow.status == "running",
            JobRow.worker == worker,
            JobRow.attempts == attempt,
        )

    def report(
        self, job_id: int, worker: str, attempt: int, progress: float, message: str
    ) -> bool | None:
        """Record progress (never backwards); returns whether a cancel was asked for,
        or None when the job is no longer this worker's. Not a heartbeat: only the
        runner's own heartbeats keep a job from being presumed orphaned, so a worker
        that outlives its runner cannot hold the job."""
        with self.store._write() as s:
            row = s.scalar(select(JobRow).where(*self._mine(job_id, worker, attempt)))
            if row is None:
                return None
            row.progress = max(float(row.progress), min(1.0, max(0.0, progress)))
            row.message = message[:2000]
            return bool(row.cancel_requested)

    def heartbeat(self, job_id: int, worker: str, attempt: int) -> bool | None:
        """Say the runner is alive; returns cancel_requested, None when not ours."""
        with self.store._write() as s:
            row = s.scalar(select(JobRow).where(*self._mine(job_id, worker, attempt)))
            if row is None:
                return None
            row.heartbeat_at = utcnow()
            return bool(row.cancel_requested)

    def finish(
        self,
        job_id: int,
        worker: str,
        attempt: int,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> bool:
        """End the attempt: ``succeeded`` (with ``result``), ``failed`` (``error``),
        ``cancelled``, or ``queued`` again (a lost worker with attempts left)."""
        if status not in (*FINISHED, "queued"):
            raise ValueError(f"not an end state: {status}")
        now = utcnow()
        values: dict[str, Any] = {"status": status, "heartbeat_at": now}
        if status == "queued":
            values.update(worker=None, message=f"requeued: {error}", progress=0.0)
        else:
            values.update(finished_at=now, result=result, error=error, message=status)
            if status == "succeeded":
                values["progress"] = 1.0
        with self.store._write() as s:
            done = s.execute(
                update(JobRow)
                .where(*self._mine(job_id, worker, attempt))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def recover(self, stale_after_s: float) -> list[JobRecord]:
        """Jobs left ``running`` by a runner whose heartbeat is older than
        ``stale_after_s``: queued again when attempts remain, else failed. Returns them."""
        cutoff = utcnow() - timedelta(seconds=stale_after_s)
        out = []
        with self.store._write() as s:
            rows = s.scalars(
                select(JobRow)
                .where(JobRow.status == "running", JobRow.heartbeat_at < cutoff)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                dead = row.worker or "?"
                if row.cancel_requested:
                    row.status, row.finished_at = "cancelled", utcnow()
                    row.message = f"cancelled (runner {dead} stopped)"
                elif row.attempts < row.max_attempts:
                    row.status, row.progress = "queued", 0.0
                    row.message = f"requeued: runner {dead} stopped during attempt {row.attempts}"
                    row.worker = None
                else:
                    row.status, row.finished_at = "failed", utcnow()
                    row.error = (
                        f"runner {dead} stopped during attempt {row.attempts} of "
                        f"{row.max_attempts} (no heartbeat for over {stale_after_s:g} s); "
                        "no attempts left"
                    )
                    row.message = "failed"
                out.append(_record(row))
        return out
