"""``biofab jobs``: the background job queue from the command line (thin over
:mod:`biofab.compute.jobs`). Bad input is one line and exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from biofab.core.errors import InputError

jobs_app = typer.Typer(help="Background jobs: submit, list, show, cancel, run a worker.")

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="BIOFAB_DB", help="SQLAlchemy URL (default: sqlite:///biofab.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
#: Lines of a job's indented result that ``jobs show`` prints (``--json``: all of it).
RESULT_LINES = 200


def _queue(db: str | None, *, create: bool = False) -> Any:
    from biofab.compute.jobs import JobQueue
    from biofab.store import Store

    return JobQueue(Store(db, create=create))


def _print(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _line(job: Any) -> str:
    pct = f"{100 * job.progress:.0f}%"
    tail = f"  {job.error}" if job.error else (f"  {job.message}" if job.message else "")
    return f"{job.id:>6}  {job.kind:<16} {job.status:<10} {pct:>4}  {job.created_by}{tail}"


def _request(text: str | None, path: Path | None) -> Any:
    if (text is None) == (path is None):
        raise InputError("give exactly one of --request and --request-file")
    source = "--request"
    if path is not None:
        from biofab.core.textfile import read_text

        text, source = read_text(path), str(path)
    assert text is not None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"not JSON: {err.msg}", file=source, row=err.lineno, expected="a JSON object"
        ) from None


@jobs_app.command("kinds")
def kinds(json_out: JsonOption = False) -> None:
    """Job kinds the installed pillars offer."""
    from biofab.core import plugins

    offered = plugins.job_kinds()
    if json_out:
        _print(offered)
        return
    for kind, pillar in sorted(offered.items()):
        sys.stdout.write(f"{kind:<20} {pillar}\n")


@jobs_app.command("submit")
def submit(
    kind: str,
    request: Annotated[str | None, typer.Option("--request", help="The request as JSON.")] = None,
    request_file: Annotated[
        Path | None, typer.Option("--request-file", help="A JSON file holding the request.")
    ] = None,
    project: Annotated[int | None, typer.Option("--project", help="Project id.")] = None,
    attempts: Annotated[int, typer.Option("--attempts", help="Most attempts (1-10).")] = 2,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Queue a job of KIND (see `biofab jobs kinds`); prints its id."""
    data = _request(request, request_file)
    queue = _queue(db, create=True)
    job_id = queue.submit(kind, data, project_id=project, max_attempts=attempts)
    if json_out:
        _print({"id": job_id})
    else:
        sys.stdout.write(f"{job_id}\n")


@jobs_app.command("list")
def list_jobs(
    status: Annotated[str | None, typer.Option("--status", help="Only this state.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Jobs per page.")] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many (newest first).")] = 0,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Jobs, newest first."""
    page, total = _queue(db).list(status=status, kind=kind, limit=limit, offset=offset)
    if json_out:
        _print({"total": total, "jobs": [j.to_dict() for j in page]})
        return
    for job in page:
        sys.stdout.write(_line(job) + "\n")
    sys.stdout.write(f"{len(page)} of {total} job(s)\n")


@jobs_app.command("show")
def show(job_id: int, db: DbOption = None, json_out: JsonOption = False) -> None:
    """One job: state, progress, and its result or error."""
    job = _queue(db).get(job_id)
    if json_out:
        _print(job.to_dict())
        return
    sys.stdout.write(_line(job) + "\n")
    sys.stdout.write(f"request: {json.dumps(job.request)}\n")
    sys.stdout.write(f"attempts: {job.attempts} of {job.max_attempts}\n")
    if job.result is not None:
        # indented for a person (one line of thousands of characters is unreadable); a long
        # result is cut at whole lines, saying how to get all of it
        lines = json.dumps(job.result, indent=2, default=str).splitlines()
        sys.stdout.write("result:\n" + "\n".join(lines[:RESULT_LINES]) + "\n")
        if len(lines) > RESULT_LINES:
            more = len(lines) - RESULT_LINES
            sys.stdout.write(f"... {more} more lines (--json prints the whole job)\n")


@jobs_app.command("cancel")
def cancel(job_id: int, db: DbOption = None) -> None:
    """Cancel a queued job now, or a running one at its next progress report."""
    job = _queue(db).cancel(job_id)
    what = "cancelled" if job.status == "cancelled" else "cancel requested (running)"
    sys.stdout.write(f"job {job_id}: {what}\n")


@jobs_app.command("run-worker")
def run_worker(
    folder: Annotated[Path, typer.Option("--folder", help="Where job files go.")] = Path(
        "biofab-jobs"
    ),
    max_jobs: Annotated[
        int | None, typer.Option("--max-jobs", help="Stop after this many jobs.")
    ] = None,
    idle_exit: Annotated[
        float | None, typer.Option("--idle-exit", help="Stop after this many idle seconds.")
    ] = None,
    heartbeat: Annotated[float, typer.Option("--heartbeat", help="Seconds.")] = 2.0,
    stale_after: Annotated[
        float, typer.Option("--stale-after", help="Seconds without heartbeat = dead runner.")
    ] = 30.0,
    db: DbOption = None,
) -> None:
    """Run queued jobs (on the local pool, or Ray when BIOFAB_RAY is set)."""
    from biofab.compute.jobs import JobRunner

    if max_jobs is not None and max_jobs < 1:
        raise InputError("--max-jobs must be at least 1", found=max_jobs)
    queue = _queue(db)
    runner = JobRunner(queue.store, folder=folder, heartbeat_s=heartbeat, stale_after_s=stale_after)
    for job in runner.run(max_jobs=max_jobs, idle_exit_s=idle_exit):
        sys.stderr.write(_line(job) + "\n")
