"""The dashboard's job list: a project's background jobs with progress bars.

Thin over the API's job routes (:mod:`biofab.api.jobs`): the same visibility
(another project's jobs are 404), the editor role to cancel, the same one-line
refusals. While a job is queued or running, the page reloads itself every few
seconds, so a scan's progress moves without a click.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from biofab.api import jobs as api_jobs
from biofab.api.auth import Caller
from biofab.web import render
from biofab.web.pages import _csrf_form, _guard, _page, _see, _take_flash
from biofab.web.render import e
from biofab.web.session import PATH

router = APIRouter(prefix=PATH, include_in_schema=False)

JOBS_PER_PAGE = 25
REFRESH_S = 3  # reload period while a job is live


def _row(job: api_jobs.JobOut, can_cancel: bool, csrf_field: str) -> str:
    live = job.status in ("queued", "running")
    pct = round(100 * job.progress)
    bar = (
        f"<progress max='100' value='{pct}' aria-label='job {job.id} progress'>{pct} %</progress>"
        f" {pct} %"
    )
    cancel = (
        f"<form method='post' action='{PATH}/jobs/{job.id}/cancel' class='inline'>{csrf_field}"
        f"<button type='submit' aria-label='Cancel job {job.id}'>Cancel</button></form>"
        if live and can_cancel and not job.cancel_requested
        else ""
    )
    result = f"<a href='/api/v1/jobs/{job.id}/result'>JSON</a>" if job.status == "succeeded" else ""
    note = e(job.error or job.message)
    return (
        f"<tr><td>{job.id}</td><td>{e(job.kind)}</td><td>{e(job.status)}</td><td>{bar}</td>"
        f"<td>{note}</td><td>{e(job.created_by)}</td>"
        f"<td>{job.created_at:%Y-%m-%d %H:%M}</td><td>{result}</td><td>{cancel}</td></tr>"
    )


def jobs_body(who: Caller, project: str, page: int, csrf_field: str) -> tuple[str, bool]:
    """The table of a project's jobs (newest first) and whether any is still live."""
    listing = api_jobs.list_jobs(
        who, project=project, limit=JOBS_PER_PAGE, offset=(page - 1) * JOBS_PER_PAGE
    )
    can_cancel = who.may(who.project(project), "editor")
    if not listing.items:
        return "<p>No background jobs in this project yet.</p>", False
    rows = "".join(_row(j, can_cancel, csrf_field) for j in listing.items)
    pages = max(1, -(-listing.total // JOBS_PER_PAGE))
    table = (
        "<div class='scroll'><table><caption>Background jobs (newest first)</caption>"
        "<thead><tr><th scope='col'>Job</th><th scope='col'>Kind</th>"
        "<th scope='col'>State</th><th scope='col'>Progress</th><th scope='col'>Now / error</th>"
        "<th scope='col'>By</th><th scope='col'>Submitted (UTC)</th>"
        "<th scope='col'>Result</th><th scope='col'>Cancel</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )
    live = any(j.status in ("queued", "running") for j in listing.items)
    return table + render.pager(f"{PATH}/projects/{project}/jobs", page, pages), live


@router.get("/projects/{project}/jobs")
def jobs_page(request: Request, project: str, page: int = 1) -> Response:
    def build(who: Caller) -> Response:
        body, live = jobs_body(who, project, max(page, 1), _csrf_form(request))
        note = render.message(_take_flash(request))
        crumbs = [("Projects", f"{PATH}/"), (project, f"{PATH}/projects/{project}")]
        return _page(
            request,
            f"Jobs of {project}",
            note + body,
            who,
            crumbs=crumbs,
            refresh_s=REFRESH_S if live else None,
        )

    return _guard(request, build)


@router.post("/jobs/{job_id}/cancel")
def cancel_job(request: Request, job_id: int, csrf: Annotated[str, Form()] = "") -> Response:
    def build(who: Caller) -> Response:
        job = api_jobs.cancel(job_id, who)
        back = f"{PATH}/projects/{job.project}/jobs" if job.project else f"{PATH}/"
        return _see(back, f"job {job_id}: {job.status}")

    return _guard(request, build, csrf=csrf)
