"""Routes of background jobs: thin over :class:`biofab.compute.jobs.JobQueue`.

A job belongs to a project (or, submitted by a site admin without one, to none,
like a campaign made with the CLI). Submitting and cancelling need the editor
role there; reading needs any role; a job of a project the caller is not in
answers 404, like one that does not exist. The job kinds come from the pillars'
plug-in records (``GET /jobs/kinds``); the request is checked at submit, so a
bad one is a 422 and nothing is queued. The work itself runs in a job runner
(``biofab serve`` starts one beside the API; ``biofab jobs run-worker`` starts
more), on the local process pool or on a Ray cluster (``BIOFAB_RAY``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from biofab.api.auth import Caller, CallerDep
from biofab.api.models import NAME, Strict
from biofab.api.service import Service, service
from biofab.compute.jobs import JobQueue
from biofab.core.jsonable import plain
from biofab.store.jobs import JobRecord, UnknownJobError

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobIn(Strict):
    kind: str = Field(max_length=100, description="A job kind from GET /jobs/kinds.")
    request: dict[str, Any] = Field(description="The kind's request (its fields and units).")
    project: str | None = Field(
        None, pattern=NAME, description="The project it belongs to (site admins may omit it)."
    )
    max_attempts: int = Field(2, ge=1, le=10, description="Starts allowed if a worker dies.")


class JobOut(BaseModel):
    id: int
    kind: str
    status: JobStatus
    progress: float = Field(description="Fraction done, 0 to 1; never goes back.")
    message: str = Field(description="What runs now.")
    error: str | None = Field(description="One line, when the job failed.")
    attempts: int
    max_attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_by: str
    project: str | None
    cancel_requested: bool
    request: dict[str, Any]


class JobPageOut(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


def _out(job: JobRecord, caller: Caller) -> JobOut:
    names = {p.id: p.name for p in caller.accounts.projects()}
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,  # type: ignore[arg-type]  # one of JOB_STATES, checked by the store
        progress=job.progress,
        message=job.message,
        error=job.error,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        created_by=job.created_by,
        project=None if job.project_id is None else names.get(job.project_id),
        cancel_requested=job.cancel_requested,
        request=plain(job.request),
    )


def _job(caller: Caller, job_id: int, role: Literal["viewer", "editor"] = "viewer") -> JobRecord:
    """The job if the caller sees it (else 404, as if it did not exist) with ``role`` (else 403)."""
    job = JobQueue(caller.store).get(job_id)
    if caller.role_in(job.project_id) is None:
        raise UnknownJobError("unknown job", found=job_id)
    caller.require(job.project_id, role, f"job {job_id}")
    return job


def _confine_paths(value: Any, base: Path | None, where: str = "request") -> Any:
    """``value`` with every path made absolute inside ``base``; 422 for one outside.

    A job runs on the server, so a path in its request would let a caller read any
    file the server can (a proteome "/etc/shadow"). Any string that looks like a path
    (a separator, "..", or the name of something that exists) must resolve inside the
    service's job data folder; relative ones are read from there.
    """
    if isinstance(value, dict):
        return {k: _confine_paths(v, base, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_confine_paths(v, base, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    in_base = base is not None and value not in (".", "") and (base / value).exists()
    if not (in_base or "/" in value or "\\" in value or ".." in value or Path(value).exists()):
        return value
    if base is not None:
        resolved = Path(base, value).resolve()
        if resolved.is_relative_to(base):
            return str(resolved)
    allowed = f"a file under {base}" if base else "no server file (no job data folder is set)"
    raise HTTPException(
        422,
        f"{where}: a job over HTTP may name {allowed}; found {value!r}",
    )


@router.get("/kinds")
def kinds(caller: CallerDep) -> dict[str, str]:
    """Job kinds on offer -> the pillar offering each."""
    return JobQueue.kinds()


@router.post("", response_model=JobOut, status_code=201)
def submit(body: JobIn, caller: CallerDep, svc: Annotated[Service, Depends(service)]) -> JobOut:
    """Queue a job in a project where you are an editor; the request is checked first.
    Files it names must lie in the service's job data folder (relative paths are
    read from there)."""
    root = svc.settings.job_data_dir
    request = _confine_paths(body.request, None if root is None else Path(root).resolve())
    if body.project is None:
        caller.require_site_admin("a job outside any project")
        project_id = None
    else:
        project_id = caller.project(body.project, "editor")
    queue = JobQueue(caller.store)
    job_id = queue.submit(
        body.kind,
        request,
        caller.user.username,
        project_id=project_id,
        max_attempts=body.max_attempts,
    )
    return _out(queue.get(job_id), caller)


@router.get("", response_model=JobPageOut)
def list_jobs(
    caller: CallerDep,
    project: Annotated[str | None, Query(pattern=NAME)] = None,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    kind: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> JobPageOut:
    """A page of jobs, newest first, with the number matching in all. Without
    ``project``, site admins see every job; others must name a project."""
    if project is None:
        if not caller.user.site_admin:
            raise HTTPException(
                422,
                "name a project (?project=NAME); only site admins list every job",
            )
        project_id = None
    else:
        project_id = caller.project(project)
    items, total = JobQueue(caller.store).list(
        status=status_, kind=kind, project_id=project_id, limit=limit, offset=offset
    )
    return JobPageOut(
        items=[_out(j, caller) for j in items], total=total, limit=limit, offset=offset
    )


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: int, caller: CallerDep) -> JobOut:
    """A job's state and progress (poll this)."""
    return _out(_job(caller, job_id), caller)


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel(job_id: int, caller: CallerDep) -> JobOut:
    """Cancel: a queued job at once, a running one at its next progress report."""
    _job(caller, job_id, "editor")
    return _out(JobQueue(caller.store).cancel(job_id, caller.user.username), caller)


@router.get("/{job_id}/result")
def result(job_id: int, caller: CallerDep) -> dict[str, Any]:
    """The JSON result of a succeeded job (409 while it runs or when it failed)."""
    _job(caller, job_id)
    job = JobQueue(caller.store).get(job_id)
    if job.status != "succeeded" or job.result is None:
        detail = f": {job.error}" if job.error else ""
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"job {job_id} has no result ({job.status}){detail}"
        )
    return plain(job.result)
