"""The dashboard's routes: thin handlers over the API's own route functions.

Each handler finds the caller from the session cookie (as :func:`biofab.api.auth.caller`
would from a Bearer header), calls the same function the HTTP route calls (so the
checks, roles, ETags and audit are the API's), and renders the answer. A refusal
or a bad input is shown as its one line on the page, with the API's status code.
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from fastapi import APIRouter, FastAPI, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from pydantic import ValidationError

from biofab.api import accounts as api_accounts
from biofab.api import campaigns as api_campaigns
from biofab.api.auth import Caller
from biofab.api.cache import VIEWS
from biofab.api.errors import one_line, status_of
from biofab.api.models import CampaignIn, LoginIn, RecommendIn
from biofab.api.service import app_service
from biofab.campaign import Campaign
from biofab.campaign.measured import best_so_far
from biofab.core import plugins
from biofab.core.errors import BiofabError, NotEnoughDataError
from biofab.store import CampaignRecord, Store
from biofab.web import assets, render
from biofab.web.render import e
from biofab.web.session import (
    COOKIE,
    FLASH,
    PATH,
    LoginRequired,
    check_csrf,
    csrf_value,
    current,
    session_token,
)

router = APIRouter(prefix=PATH, include_in_schema=False)
T = TypeVar("T")

ROUNDS_PER_PAGE = 20
CAMPAIGNS_PER_PAGE = 50
BATCH_ROWS = 96  # rows of the batch table shown (the CSV has them all)
SCATTER_POINTS = 1000  # most recent predictions drawn in predicted vs measured
EXPLAIN_MAX = 1000  # measured designs: a GP refit for permutation importance stays ~seconds


def mount(app: FastAPI) -> None:
    """Add the dashboard to the service's app (``/ui``; ``/`` redirects there)."""
    from biofab.web import jobs

    app.include_router(router)
    app.include_router(jobs.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/", status_code=307)

    @app.exception_handler(LoginRequired)
    async def _login(_request: Request, err: LoginRequired) -> Response:
        if _request.headers.get("X-Fragment"):
            return HTMLResponse("<p class='error'>Signed out: reload the page.</p>", 401)
        return RedirectResponse(f"{PATH}/login?next={err.next_url}", status_code=303)


class _Builds:
    """Builds of a large view in flight; the cyclic collector waits while there are any.

    A build allocates thousands of short-lived records, which sets off full
    collections that walk every object the process holds (torch and the model
    libraries too, once a page has fitted a model): about half of a cold build. Most
    records are freed by reference counting when the build returns and any cycle among
    them once the collector resumes, with the last build in flight (unless it was off
    before), so waiting leaks nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._running == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._running += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0 and self._was_enabled:
                gc.enable()


_BUILDS = _Builds()


def _quietly(build: Callable[..., T], *args: Any) -> T:
    """``build(*args)`` with the cyclic collector waiting (see :class:`_Builds`)."""
    with _BUILDS:
        return build(*args)


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def _failure(err: Exception) -> tuple[int, str]:
    """The status and one line the API would answer for ``err``."""
    if isinstance(err, BiofabError):
        return status_of(err), one_line(str(err))
    if isinstance(err, HTTPException):
        return err.status_code, one_line(str(err.detail))
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return 422, one_line(f"{where}: {first['msg']}")
    raise err


FAILURES = (BiofabError, HTTPException, ValidationError)


def _page(request: Request, title: str, body: str, who: Caller, **kw: Any) -> HTMLResponse:
    token = session_token(request) or ""
    status_code = kw.pop("status_code", 200)
    html = render.layout(title, body, user=who.user.username, csrf=csrf_value(token), **kw)
    return HTMLResponse(html, status_code=status_code)


def _error_page(request: Request, err: Exception, who: Caller | None = None) -> HTMLResponse:
    code, line = _failure(err)
    title = {403: "Not allowed", 404: "Not found"}.get(code, "Request refused")
    body = render.message(line, error=True) + "<p><a href='/ui/'>Back to the projects</a></p>"
    if who is None:
        return HTMLResponse(render.layout(title, body), status_code=code)
    return _page(request, title, body, who, status_code=code)


def _flash(response: Response, text: str) -> None:
    response.set_cookie(FLASH, text[:300], max_age=60, path=PATH, httponly=True, samesite="strict")


def _take_flash(request: Request) -> str:
    return request.cookies.get(FLASH, "")


def _done(response: Response, request: Request) -> Response:
    if request.cookies.get(FLASH):
        response.delete_cookie(FLASH, path=PATH)
    return response


def _see(url: str, note: str = "") -> RedirectResponse:
    answer = RedirectResponse(url, status_code=303)
    if note:
        _flash(answer, note)
    return answer


def _csrf_form(request: Request) -> str:
    return render.csrf_field(csrf_value(session_token(request) or ""))


def _guard(
    request: Request, build: Callable[[Caller], Response], csrf: str | None = None
) -> Response:
    """Run a page builder for the signed-in caller; refusals become an error page.
    ``csrf``: the value a form posted (checked first)."""
    who = current(request)
    try:
        if csrf is not None:
            check_csrf(request, csrf)
        return _done(build(who), request)
    except FAILURES as err:
        return _error_page(request, err, who)


# ---------------------------------------------------------------------------------------
# static files
# ---------------------------------------------------------------------------------------

_CACHE = {"Cache-Control": "public, max-age=86400"}


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(assets.plotly_js(), media_type="text/javascript", headers=_CACHE)


@router.get("/static/app.js")
def app_js() -> Response:
    return Response(assets.JS, media_type="text/javascript", headers=_CACHE)


@router.get("/static/app.css")
def app_css() -> Response:
    return Response(assets.CSS, media_type="text/css", headers=_CACHE)


# ---------------------------------------------------------------------------------------
# login
# ---------------------------------------------------------------------------------------


def _safe_next(url: str | None) -> str:
    """Only a path of this dashboard (never another site)."""
    if url and url.startswith(f"{PATH}/") and not url.startswith("//"):
        return url
    return f"{PATH}/"


def _login_page(next_url: str, error: str = "", status_code: int = 200) -> HTMLResponse:
    body = (
        render.message(error, error=True)
        + "<div class='grid'><section class='card' aria-labelledby='pw'>"
        "<h2 id='pw'>User name and password</h2>"
        "<form method='post' action='/ui/login' class='stack'>"
        f"<input type='hidden' name='next' value='{e(next_url)}'>"
        "<label for='username'>User name</label>"
        "<input id='username' name='username' autocomplete='username'>"
        "<label for='password'>Password</label>"
        "<input id='password' name='password' type='password' autocomplete='current-password'>"
        "<button type='submit'>Sign in</button></form></section>"
        "<section class='card' aria-labelledby='tk'><h2 id='tk'>API token</h2>"
        "<form method='post' action='/ui/login' class='stack'>"
        f"<input type='hidden' name='next' value='{e(next_url)}'>"
        "<label for='token'>Token (bfk_…)</label>"
        "<input id='token' name='token' type='password' autocomplete='off'>"
        "<button type='submit'>Sign in with token</button></form></section></div>"
    )
    return HTMLResponse(render.layout("Sign in", body), status_code=status_code)


@router.get("/login")
def login_form(next: str | None = None) -> HTMLResponse:
    return _login_page(_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Sign in with a token, or a user name and password (the API's rate-limited login)."""
    svc = app_service(request)
    target = _safe_next(next)
    if token:
        if svc.accounts.authenticate(token.strip()) is None:
            return _login_page(target, "invalid, expired or revoked token", 401)
        secret = token.strip()
    else:
        try:
            body = LoginIn(username=username, password=password)
            secret = api_accounts.login(body, request, svc).token
        except FAILURES as err:
            code, line = _failure(err)
            return _login_page(target, line, code)
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(COOKIE, secret, path="/", httponly=True, samesite="strict")
    return answer


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    answer = RedirectResponse(f"{PATH}/login", status_code=303)
    answer.delete_cookie(COOKIE, path="/")
    return answer


# ---------------------------------------------------------------------------------------
# projects and campaigns
# ---------------------------------------------------------------------------------------


@router.get("/")
def projects(request: Request) -> Response:
    def build(who: Caller) -> Response:
        rows = api_accounts.list_projects(who)
        if rows:
            items = "".join(
                f"<tr><td><a href='/ui/projects/{e(p.name)}'>{e(p.name)}</a></td>"
                f"<td>{e(p.role or '')}</td><td>{e(p.description)}</td>"
                f"<td>{p.created_at:%Y-%m-%d}</td></tr>"
                for p in rows
            )
            body = (
                "<div class='scroll'><table><caption>Your projects</caption><thead><tr>"
                "<th scope='col'>Project</th><th scope='col'>Your role</th>"
                "<th scope='col'>Description</th><th scope='col'>Created</th></tr></thead>"
                f"<tbody>{items}</tbody></table></div>"
            )
        else:
            body = "<p>You are not a member of any project yet: ask a project admin.</p>"
        return _page(request, "Projects", render.message(_take_flash(request)) + body, who)

    return _guard(request, build)


SPACE_EXAMPLE = """parameters:
  temp: {type: continuous, lo: 20, hi: 40}
  ph: {type: continuous, lo: 5, hi: 8}
"""


def _project_body(request: Request, who: Caller, project: str, page: int, error: str = "") -> str:
    project_id = who.project(project)
    records, total = who.store.campaign_page(
        [project_id], limit=CAMPAIGNS_PER_PAGE, offset=(page - 1) * CAMPAIGNS_PER_PAGE
    )
    rows = "".join(
        f"<tr><td><a href='/ui/campaigns/{e(r.name)}'>{e(r.name)}</a></td>"
        f"<td>{e(', '.join(_objective_text(o) for o in r.objectives))}</td>"
        f"<td>{r.version}</td><td>{e(r.created_by)}</td><td>{r.created_at:%Y-%m-%d %H:%M}</td></tr>"
        for r in records
    )
    listing = (
        "<div class='scroll'><table><caption>Campaigns</caption><thead><tr>"
        "<th scope='col'>Campaign</th><th scope='col'>Objectives</th>"
        "<th scope='col'>Version</th><th scope='col'>Created by</th>"
        f"<th scope='col'>Created (UTC)</th></tr></thead><tbody>{rows}</tbody></table></div>"
        if records
        else "<p>No campaigns yet.</p>"
    )
    pages = max(1, math.ceil(total / CAMPAIGNS_PER_PAGE))
    body = render.message(error, error=True) + render.message(_take_flash(request))
    body += listing + render.pager(f"/ui/projects/{project}", page, pages)
    body += f"<p><a href='/ui/projects/{e(project)}/jobs'>Background jobs of {e(project)}</a></p>"
    if who.may(project_id, "editor"):
        body += (
            "<section class='card' aria-labelledby='new'><h2 id='new'>New campaign</h2>"
            f"<form method='post' action='/ui/projects/{e(project)}/campaigns' class='stack'>"
            f"{_csrf_form(request)}"
            "<label for='name'>Name</label>"
            "<input id='name' name='name' required pattern='[A-Za-z0-9][A-Za-z0-9_.-]*'>"
            "<label for='objectives'>Objectives (one per line: NAME:max, NAME:min or "
            "NAME:target=VALUE)</label>"
            "<textarea id='objectives' name='objectives' rows='2' required>yield:max</textarea>"
            "<label for='space'>Design space (YAML)</label>"
            f"<textarea id='space' name='space' rows='6' required>{e(SPACE_EXAMPLE)}</textarea>"
            "<button type='submit'>Create campaign</button></form></section>"
        )
    return body


def _objective_text(objective: Any) -> str:
    if isinstance(objective, dict):
        goal = objective.get("direction", objective.get("goal", ""))
        return f"{objective.get('name', '?')}:{goal}"
    return str(objective)


@router.get("/projects/{project}")
def project_page(request: Request, project: str, page: int = 1) -> Response:
    def build(who: Caller) -> Response:
        body = _project_body(request, who, project, max(page, 1))
        crumbs = [("Projects", "/ui/")]
        return _page(request, f"Project {project}", body, who, crumbs=crumbs)

    return _guard(request, build)


@router.post("/projects/{project}/campaigns")
def create_campaign(
    request: Request,
    project: str,
    name: Annotated[str, Form()] = "",
    objectives: Annotated[str, Form()] = "",
    space: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The API's create: same name rules, space reader and objective parser."""

    def build(who: Caller) -> Response:
        try:
            wanted = [o.strip() for o in objectives.replace(",", "\n").splitlines() if o.strip()]
            body = CampaignIn(name=name.strip(), project=project, space=space, objectives=wanted)
            api_campaigns.create_campaign(body, who, Response())
        except FAILURES as err:
            code, line = _failure(err)
            if code in (403, 404):
                raise
            page = _project_body(request, who, project, 1, error=line)
            return _page(request, f"Project {project}", page, who, status_code=code)
        return _see(f"/ui/campaigns/{name.strip()}", f"Campaign '{name.strip()}' created.")

    return _guard(request, build, csrf)


# ---------------------------------------------------------------------------------------
# a campaign
# ---------------------------------------------------------------------------------------


def _latest_batch(campaign: Campaign) -> tuple[int | None, pd.DataFrame, pd.DataFrame]:
    """The latest round's number, its designs (parameters, predictions) and the designs
    table of the campaign."""
    designs = campaign.store.design_table(campaign.name)
    rounds = designs["round"].dropna()
    if len(rounds) == 0:
        return None, designs.iloc[0:0], designs
    number = int(rounds.max())
    batch = designs[designs["round"] == number]
    return number, batch, designs


def _batch_frame(campaign: Campaign, batch: pd.DataFrame) -> pd.DataFrame:
    """Parameters, then ``pred_<objective>`` and ``std_<objective>``, as the API returns."""
    out = batch[campaign.space.names].reset_index(drop=True).copy()
    for name in campaign.objective_names:
        mean, std = [], []
        for p in batch["predicted"]:
            pair = p.get(name) if isinstance(p, dict) else None
            mean.append(float(pair[0]) if pair else math.nan)
            std.append(float(pair[1]) if pair else math.nan)
        out[f"pred_{name}"] = mean
        out[f"std_{name}"] = std
    return out


Measured = dict[int, dict[str, Any]]  # design id -> its measured record (Campaign.measured)


def _figures(
    campaign: Campaign, history: list[dict[str, Any]], designs: pd.DataFrame, measured: Measured
) -> str:
    """Best so far per round, and predicted vs measured."""
    from biofab.report.campaign import best_so_far_figure

    label = campaign.objectives[0].name if len(campaign.objectives) == 1 else "weighted score"
    parts = []
    if history:
        fig = best_so_far_figure(pd.DataFrame(history), label)
        fig.update_layout(legend={"orientation": "h", "y": 1.12})
        parts.append(
            "<section class='card' aria-labelledby='bsf'><h2 id='bsf'>Best so far</h2>"
            f"{render.figure(fig, f'best {label} per round and best so far')}</section>"
        )
    else:
        parts.append(
            "<section class='card'><h2>Best so far</h2>"
            "<p>No measurements yet: upload a results file.</p></section>"
        )
    predicted = designs.dropna(subset=["predicted"])
    if len(predicted):
        recent = predicted[predicted["design_id"].isin(list(measured))].tail(SCATTER_POINTS)
        for obj in campaign.objective_names:
            fig = _predicted_vs_measured(recent, measured, obj)
            if fig is None:
                continue
            note = ""
            if len(predicted) > len(recent):
                note = (
                    f"<p class='muted'>The latest {len(recent)} of {len(predicted)} "
                    "recommended designs.</p>"
                )
            parts.append(
                f"<section class='card'><h2>Predicted vs measured: {e(obj)}</h2>"
                f"{render.figure(fig, f'predicted against measured {obj}')}{note}</section>"
            )
    return "<div class='grid'>" + "".join(parts) + "</div>"


def _predicted_vs_measured(
    designs: pd.DataFrame, measured: Measured, objective: str
) -> go.Figure | None:
    """Each design's prediction when recommended against its measurement (SVG: WebGL
    falls back to a slow software renderer on machines without a GPU)."""
    pairs = designs["predicted"].map(lambda p: p.get(objective) if isinstance(p, dict) else None)
    keep = pairs.notna()
    if not keep.any():
        return None
    ids = designs.loc[keep, "design_id"]
    pred = np.array([p[0] for p in pairs[keep]], dtype=float)
    sd = np.array([p[1] for p in pairs[keep]], dtype=float)
    meas = np.array([measured[i][objective] for i in ids], dtype=float)
    rounds = designs.loc[keep, "round"].astype("float").to_numpy()
    lo = float(np.nanmin([pred.min(), meas.min()]))
    hi = float(np.nanmax([pred.max(), meas.max()]))
    fig = go.Figure()
    fig.add_scatter(
        x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line={"dash": "dot", "color": "#888"}
    )
    fig.add_trace(
        go.Scatter(
            x=meas,
            y=pred,
            mode="markers",
            name="designs",
            error_y={
                "type": "data",
                "array": sd,
                "visible": True,
                "thickness": 0.6,
                "width": 0,
                "color": "rgba(60,60,60,0.35)",
            },
            marker={
                "color": rounds,
                "colorscale": "Viridis",
                "showscale": True,
                "size": 6,
                "colorbar": {"title": {"text": "round"}},
            },
        )
    )
    fig.update_layout(
        xaxis_title=f"measured {objective}",
        yaxis_title=f"predicted {objective} (±1 sd)",
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


def _rounds_table(store: Store, name: str, history: list[dict[str, Any]], page: int) -> str:
    """One page of the rounds, newest first (``page`` already within the pages)."""
    rounds = store.rounds(name)
    best = {int(h["round"]): h for h in history}
    rows = []
    for r in rounds.to_dict("records"):
        number = int(r["number"])
        h = best.get(number, {})
        rows.append(
            (
                number,
                r["recommender"],
                int(r["n_designs"]),
                h.get("n", 0),
                h.get("best"),
                h.get("best_so_far"),
                f"{r['created_at']:%Y-%m-%d %H:%M}",
                r["created_by"],
            )
        )
    if 0 in best:  # measurements imported before any recommendation
        h = best[0]
        rows.insert(0, (0, "import", h["n"], h["n"], h["best"], h["best_so_far"], "", ""))
    columns = ["round", "recommender", "designs", "measured", "best", "best so far"]
    frame = pd.DataFrame(rows, columns=[*columns, "created (UTC)", "by"])
    if len(frame) == 0:
        return "<p>No rounds yet.</p>"
    pages = _pages(len(frame))
    newest_first = frame.iloc[::-1]
    shown = newest_first.iloc[(page - 1) * ROUNDS_PER_PAGE : page * ROUNDS_PER_PAGE]
    return render.table(shown, caption=f"{len(frame)} rounds, newest first") + render.pager(
        f"/ui/campaigns/{name}", page, pages, "rounds"
    )


def _pages(rows: int) -> int:
    """Pages of the rounds table for ``rows`` rows (at least one)."""
    return max(1, math.ceil(rows / ROUNDS_PER_PAGE))


def _exports(campaign: Campaign, number: int) -> str:
    base = f"/ui/campaigns/{e(campaign.name)}/rounds/{number}"
    links = [f"<a class='button' href='{base}.csv' download>Download CSV</a>"]
    notes = []
    for pillar in plugins.pillars():
        for offer in pillar.batch_exports:
            fits = offer.applies is None or plugins.resolve(offer.applies)(campaign.space)
            if fits:
                links.append(
                    f"<a class='button' href='{base}/export/{e(pillar.name)}/{e(offer.name)}' "
                    f"download>{e(offer.label)}</a>"
                )
            else:
                notes.append(
                    f"<li>{e(offer.label)} ({e(pillar.name)}): not applicable to this "
                    f"campaign's space; needs {e(offer.requires or 'another space')}.</li>"
                )
    extra = f"<ul class='muted'>{''.join(notes)}</ul>" if notes else ""
    return f"<p>{''.join(links)}</p>{extra}"


def _kept(who: Caller, record: CampaignRecord, part: str, build: Callable[[], T]) -> T:
    """A part of a campaign's page that every member sees alike, kept per campaign
    version (never stale: the version counts the campaign's writes)."""
    return VIEWS.get(who.store.url, record.name, record.version, part, build)


@dataclass(frozen=True)
class _View:
    """What every rounds page of a campaign shows alike at one version (HTML, escaped)."""

    head: str  # the summary and the plots
    batch: str  # the next batch section, open: the page adds its form and closes it
    history: list[dict[str, Any]]  # per round: n, best, best_so_far (the rounds table's)
    table_rows: int  # rows of the rounds table (rounds, plus round 0 for imports)


def _campaign_view(who: Caller, record: CampaignRecord, rounds_page: int) -> str:
    """Summary, plots, rounds and the latest batch: all but the rounds table are kept
    once per version, so the next page of rounds reads the rounds alone."""
    view = _kept(who, record, "view", lambda: _quietly(_build_view, who, record))
    page = min(max(rounds_page, 1), _pages(view.table_rows))  # a few keys, whatever is asked
    table = _kept(
        who,
        record,
        f"rounds {page}",
        lambda: _rounds_table(who.store, record.name, view.history, page),
    )
    fragment = f"/ui/campaigns/{e(record.name)}/importance"
    return (
        view.head
        + "<div class='grid'>"
        + "<section class='card' aria-labelledby='rounds'><h2 id='rounds'>Rounds</h2>"
        + f"{table}</section>"
        + "<section class='card' aria-labelledby='imp'><h2 id='imp'>Parameter importance</h2>"
        f"<div data-load='{fragment}'><p><a href='{fragment}'>Compute parameter importance</a> "
        "(permutation importance of the current model)</p></div></section>"
        "</div>" + view.batch
    )


def _build_view(who: Caller, record: CampaignRecord) -> _View:
    campaign = Campaign.of(record, who.store)
    counts = who.store.counts(record.name)
    # The measurements are read once (the costliest read of the page) for the summary,
    # the history, the plots and the pending count; Campaign.status and Campaign.data
    # would read them once each.
    rows = campaign.measured()
    history = best_so_far([r["round"] for r in rows], campaign.score(rows)) if rows else []
    measured = {int(r["design_id"]): r for r in rows}
    number, batch, designs = _latest_batch(campaign)
    objectives = ", ".join(str(o) for o in campaign.objectives)
    head = (
        "<ul class='stats' aria-label='Summary'>"
        f"<li>rounds<b>{counts['rounds']}</b></li><li>designs<b>{counts['designs']}</b></li>"
        f"<li>measured<b>{len(rows)}</b></li>"
        f"<li>pending<b>{max(counts['designs'] - len(rows), 0)}</b></li>"
        f"<li>objectives<b>{e(objectives)}</b></li>"
        f"<li>version<b>{record.version}</b></li></ul>"
    ) + _figures(campaign, history, designs, measured)
    table_rows = counts["rounds"] + (1 if history and history[0]["round"] == 0 else 0)
    return _View(head, _next_batch(campaign, number, batch, measured), history, table_rows)


def _next_batch(
    campaign: Campaign, number: int | None, batch: pd.DataFrame, measured: Measured
) -> str:
    out = "<section class='card' aria-labelledby='batch' id='next'><h2 id='batch'>Next batch</h2>"
    if number is None:
        return out + "<p>No batch recommended yet.</p>"
    frame = _batch_frame(campaign, batch)
    pending = int((~batch["design_id"].isin(list(measured))).sum())
    return (
        out
        + f"<p>Round {number}: {len(frame)} designs, {pending} not measured yet.</p>"
        + _exports(campaign, number)
        + render.table(
            frame.head(BATCH_ROWS),
            caption=f"Round {number} designs with predictions (±1 sd)"
            + (f", first {BATCH_ROWS} of {len(frame)}" if len(frame) > BATCH_ROWS else ""),
        )
    )


def _campaign_body(
    request: Request, who: Caller, name: str, rounds_page: int, error: str = ""
) -> str:
    record = who.campaign(name)
    editor = who.may(record.project_id, "editor")
    body = render.message(error, error=True) + render.message(_take_flash(request))
    body += _campaign_view(who, record, rounds_page)
    if editor:
        csrf = _csrf_form(request)
        version = f"<input type='hidden' name='version' value='{record.version}'>"
        body += (
            f"<form method='post' action='/ui/campaigns/{e(name)}/recommend' class='inline'>"
            f"{csrf}{version}<label for='n'>Batch size</label>"
            "<input id='n' name='n' type='number' min='1' max='1000' value='8' size='4'>"
            "<button type='submit' id='recommend'>Recommend the next batch</button></form>"
        )
    body += "</section>"
    if editor:
        body += (
            "<section class='card' aria-labelledby='up'><h2 id='up'>Upload results</h2>"
            f"<form method='post' action='/ui/campaigns/{e(name)}/ingest' "
            f"enctype='multipart/form-data' class='stack'>{_csrf_form(request)}"
            f"<input type='hidden' name='version' value='{record.version}'>"
            "<label for='file'>Results table (CSV, or TSV by extension): one row per "
            "design, a column per parameter and objective</label>"
            "<input id='file' name='file' type='file' accept='.csv,.tsv,.txt' required>"
            "<button type='submit' id='upload'>Upload results</button></form>"
            "<p class='muted'>All rows or none: a file with a bad row adds nothing.</p></section>"
        )
    else:
        body += (
            "<p class='muted'>You are a viewer of this project: recommending and uploading "
            "need the editor role.</p>"
        )
    body += (
        f"<p><a href='/ui/campaigns/{e(name)}/report'>Full HTML report</a> (calibration, "
        "Pareto front, best designs)</p>"
    )
    return body


def _crumbs(who: Caller, name: str) -> list[tuple[str, str]]:
    record = who.store.get_campaign(name)
    crumbs = [("Projects", "/ui/")]
    if record.project_id is not None:
        names = {p.id: p.name for p in who.accounts.projects()}
        project = names.get(record.project_id, "")
        crumbs.append((f"Project {project}", f"/ui/projects/{project}"))
    return crumbs


@router.get("/campaigns/{name}")
def campaign_page(request: Request, name: str, rounds: int = 1) -> Response:
    def build(who: Caller) -> Response:
        body = _campaign_body(request, who, name, rounds)
        return _page(request, f"Campaign {name}", body, who, plots=True, crumbs=_crumbs(who, name))

    return _guard(request, build)


def _importance(who: Caller, name: str) -> str:
    from biofab.report.campaign import importance_figure

    campaign = Campaign.load(name, store=who.store)
    measured = campaign.status()["measured"]
    if measured > EXPLAIN_MAX:  # a page view must not refit a GP on thousands of points
        return (
            f"<p>{measured} measured designs: importance is computed on a page for up to "
            f"{EXPLAIN_MAX}; run <code>biofab campaign explain {e(name)}</code> instead.</p>"
        )
    try:
        fig = importance_figure(campaign.explain())
    except NotEnoughDataError as err:
        return f"<p>{e(one_line(str(err)))}</p>"
    return render.figure(fig, "permutation importance per parameter", height=300)


@router.get("/campaigns/{name}/importance")
def importance(request: Request, name: str) -> Response:
    """Parameter importance (a fragment the campaign page loads after its first paint)."""

    def build(who: Caller) -> Response:
        record = who.campaign(name)
        html = _kept(who, record, "importance", lambda: _importance(who, name))
        if request.headers.get("X-Fragment"):
            return HTMLResponse(html)
        return _page(request, f"Parameter importance: {name}", html, who, plots=True)

    return _guard(request, build)


@router.get("/campaigns/{name}/report")
def report(request: Request, name: str) -> Response:
    def build(who: Caller) -> Response:
        return api_campaigns.report(name, who)

    return _guard(request, build)


@router.post("/campaigns/{name}/recommend")
def recommend(
    request: Request,
    name: str,
    n: Annotated[int, Form()] = 8,
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The API's recommend, with the version the page showed as If-Match."""

    def build(who: Caller) -> Response:
        try:
            if_match = f'"{version}"' if version.isdigit() else None
            wanted = RecommendIn(n=n, recommender="auto", seed=None)
            out = api_campaigns.recommend(name, wanted, who, Response(), if_match)
        except FAILURES as err:
            return _refused(request, who, name, err)
        note = f"Round {out.round}: {len(out.designs)} designs recommended ({out.recommender})."
        return _see(f"/ui/campaigns/{name}#next", note)

    return _guard(request, build, csrf)


def _refused(request: Request, who: Caller, name: str, err: Exception) -> Response:
    """The campaign page with the refusal's one line (403/404 stay an error page)."""
    code, line = _failure(err)
    if code in (403, 404):
        raise err
    body = _campaign_body(request, who, name, 1, error=line)
    return _page(request, f"Campaign {name}", body, who, plots=True, status_code=code)


@router.post("/campaigns/{name}/ingest")
def ingest(
    request: Request,
    name: str,
    file: Annotated[UploadFile, File()],
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The API's ingest: the CLI's checks, all rows or none."""

    def build(who: Caller) -> Response:
        try:
            if_match = f'"{version}"' if version.isdigit() else None
            svc = app_service(request)
            out = api_campaigns.ingest(name, who, Response(), svc, file, if_match)
        except FAILURES as err:
            return _refused(request, who, name, err)
        if out.duplicate_file:
            note = f"{out.file}: already ingested (as {out.duplicate_of}); nothing added."
        else:
            note = (
                f"{out.file}: {out.added_measurements} measurements of "
                f"{out.added_designs} new designs added, {out.skipped} rows skipped."
            )
        return _see(f"/ui/campaigns/{name}", note)

    return _guard(request, build, csrf)


@router.get("/campaigns/{name}/rounds/{number}.csv")
def round_csv(request: Request, name: str, number: int) -> Response:
    """A round's designs with their predictions, as CSV (the API's recommend columns)."""

    def build(who: Caller) -> Response:
        who.campaign(name)
        campaign = Campaign.load(name, store=who.store)
        frame = _round_frame(campaign, number)
        return Response(
            _batch_frame(campaign, frame).to_csv(index=False),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}-round{number}.csv"'},
        )

    return _guard(request, build)


def _round_frame(campaign: Campaign, number: int) -> pd.DataFrame:
    designs = campaign.store.design_table(campaign.name)
    frame = designs[designs["round"] == number]
    if len(frame) == 0:
        raise HTTPException(404, f"campaign '{campaign.name}' has no round {number}")
    return frame


@router.get("/campaigns/{name}/rounds/{number}/export/{pillar}/{export}")
def round_export(request: Request, name: str, number: int, pillar: str, export: str) -> Response:
    """A pillar's worklist of a round (e.g. an Echo picklist), when it applies."""

    def build(who: Caller) -> Response:
        who.campaign(name)
        campaign = Campaign.load(name, store=who.store)
        offers = {o.name: o for o in plugins.get(pillar).batch_exports}
        if export not in offers:
            raise HTTPException(404, f"pillar '{pillar}' offers no export '{export}'")
        offer = offers[export]
        if offer.applies is not None and not plugins.resolve(offer.applies)(campaign.space):
            raise HTTPException(
                409, f"{offer.label} does not apply to campaign '{name}'; needs {offer.requires}"
            )
        frame = _round_frame(campaign, number)
        filename, media_type, content = plugins.resolve(offer.build)(campaign.space, frame)
        disposition = f'attachment; filename="{name}-round{number}-{filename}"'
        headers = {"Content-Disposition": disposition}
        return Response(content, media_type=media_type, headers=headers)

    return _guard(request, build)


# ---------------------------------------------------------------------------------------
# pillar pages
# ---------------------------------------------------------------------------------------


@router.get("/pillars")
def pillar_index(request: Request) -> Response:
    def build(who: Caller) -> Response:
        items = [
            f"<li><a href='/ui/pillars/{e(p.name)}/{e(w.name)}'>{e(w.title)}</a> "
            f"<span class='muted'>({e(p.name)}: {e(p.help)})</span></li>"
            for p in plugins.pillars()
            for w in p.web_pages
        ]
        body = f"<ul>{''.join(items)}</ul>" if items else "<p>No pillar offers a page.</p>"
        return _page(request, "Pillar pages", body, who)

    return _guard(request, build)


@router.get("/pillars/{pillar}/{page}")
def pillar_page(request: Request, pillar: str, page: str) -> Response:
    """A pillar's page: its form (GET, nothing is written) and, once run, its sections."""

    def build(who: Caller) -> Response:
        offers = {w.name: w for w in plugins.get(pillar).web_pages}
        if page not in offers:
            raise HTTPException(404, f"pillar '{pillar}' has no page '{page}'")
        offer = offers[page]
        values = {f.name: request.query_params.get(f.name, f.default) for f in offer.fields}
        form = _pillar_form(pillar, offer, values)
        result = ""
        code = 200
        if request.query_params.get("run"):
            try:
                result = render.sections(plugins.resolve(offer.build)(values))
            except BiofabError as err:
                code, line = _failure(err)
                result = render.message(line, error=True)
        crumbs = [("Pillar pages", "/ui/pillars")]
        return _page(
            request, offer.title, form + result, who, plots=True, crumbs=crumbs, status_code=code
        )

    return _guard(request, build)


def _pillar_form(pillar: str, offer: plugins.WebPage, values: dict[str, str]) -> str:
    inputs = []
    for f in offer.fields:
        fid = f"f-{f.name}"
        inputs.append(f"<label for='{fid}'>{e(f.label)}</label>")
        value = values.get(f.name, "")
        if f.choices:
            options = "".join(
                f"<option{' selected' if c == value else ''}>{e(c)}</option>" for c in f.choices
            )
            inputs.append(f"<select id='{fid}' name='{e(f.name)}'>{options}</select>")
        elif f.multiline:
            inputs.append(
                f"<textarea id='{fid}' name='{e(f.name)}' rows='8' "
                f"placeholder='empty: the built-in example'>{e(value)}</textarea>"
            )
        else:
            inputs.append(f"<input id='{fid}' name='{e(f.name)}' value='{e(value)}'>")
    return (
        f"<form method='get' action='/ui/pillars/{e(pillar)}/{e(offer.name)}' class='stack'>"
        f"{''.join(inputs)}<input type='hidden' name='run' value='1'>"
        "<button type='submit'>Run</button></form>"
    )
