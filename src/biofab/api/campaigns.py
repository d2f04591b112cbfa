"""Routes of campaigns: thin over :class:`biofab.campaign.Campaign`.

Optimistic locking: a campaign's ``version`` counts its writes and is its ETag;
a write sent with ``If-Match`` is refused with 412 when the campaign has been
written since (checked inside the write's transaction by the store).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from typing import Annotated, Any

import yaml
from fastapi import (
    APIRouter,
    Depends,
    File,
    Header,
    HTTPException,
    Query,
    Response,
    UploadFile,
    status,
)
from fastapi.responses import HTMLResponse

from biofab.api.auth import Caller, CallerDep
from biofab.api.cache import VIEWS
from biofab.api.models import (
    CampaignIn,
    CampaignOut,
    CampaignPage,
    HistoryRow,
    IngestOut,
    RecommendIn,
    RecommendOut,
    SnapshotOut,
    StatusOut,
)
from biofab.api.service import Service, service
from biofab.campaign import Campaign
from biofab.core import Objective, Space
from biofab.core.errors import SpaceError, StaleVersionError
from biofab.core.jsonable import plain
from biofab.core.staging import safe_name, staged
from biofab.learn.registry import make_recommender
from biofab.store import CampaignRecord

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

IfMatch = Annotated[
    str | None,
    Header(description='The ETag read before (e.g. "3"); 412 if the campaign changed since.'),
]
_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None, record: CampaignRecord) -> int | None:
    """The version an ``If-Match`` asks for (None: no condition); 412 at once if stale."""
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match)
    if found is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f'bad If-Match header; expected a version ETag such as "3"; found {if_match!r}',
        )
    version = int(found.group(1))
    if version != record.version:
        raise StaleVersionError(record.name, version, record.version)
    return version


def _project_names(caller: Caller, records: Iterable[CampaignRecord]) -> dict[int, str]:
    ids = {r.project_id for r in records if r.project_id is not None}
    return caller.accounts.project_names(ids)


def _out(record: CampaignRecord, projects: dict[int, str]) -> CampaignOut:
    return CampaignOut(
        name=record.name,
        project=None if record.project_id is None else projects.get(record.project_id),
        version=record.version,
        created_at=record.created_at,
        created_by=record.created_by,
        objectives=plain(record.objectives),
    )


def _space(source: str | dict[str, Any]) -> Space:
    """The space of a request: YAML text or a JSON object (never a server path)."""
    if isinstance(source, str):
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise SpaceError(f"space: not YAML{where}", expected="YAML text") from None
    else:
        data = source
    return Space.from_dict(data, file="space")


@router.get("", response_model=CampaignPage)
def list_campaigns(
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> CampaignPage:
    """The campaigns you can see, oldest first, a page at a time, with the total."""
    records, total = caller.store.campaign_page(
        caller.visible_projects(), limit=limit, offset=offset
    )
    names = _project_names(caller, records)
    return CampaignPage(
        items=[_out(r, names) for r in records], total=total, limit=limit, offset=offset
    )


@router.post("", response_model=CampaignOut, status_code=201)
def create_campaign(body: CampaignIn, caller: CallerDep, response: Response) -> CampaignOut:
    """A new campaign in a project where you are an editor (names are unique store-wide)."""
    project_id = caller.project(body.project, "editor")
    space = _space(body.space)
    objectives = [Objective.parse(o) for o in body.objectives]
    Campaign.create(
        body.name,
        space,
        list(objectives),
        store=caller.store,
        who=caller.user.username,
        project_id=project_id,
    )
    record = caller.store.get_campaign(body.name)
    response.headers["ETag"] = etag(record.version)
    return _out(record, _project_names(caller, [record]))


@router.get("/{name}", response_model=CampaignOut)
def get_campaign(name: str, caller: CallerDep, response: Response) -> CampaignOut:
    record = caller.campaign(name)
    response.headers["ETag"] = etag(record.version)
    return _out(record, _project_names(caller, [record]))


@router.get("/{name}/status", response_model=StatusOut)
def campaign_status(name: str, caller: CallerDep, response: Response) -> StatusOut:
    """Rounds, designs, measured, pending and the best design so far."""
    record = caller.campaign(name)
    status_ = VIEWS.get(
        caller.store.url, name, record.version, "status", lambda: _status(record, caller)
    )
    response.headers["ETag"] = etag(record.version)
    return StatusOut(**status_, version=record.version)


@router.get("/{name}/history", response_model=list[HistoryRow])
def campaign_history(name: str, caller: CallerDep) -> list[HistoryRow]:
    """Per round: designs measured, best score, best so far, improvement."""
    record = caller.campaign(name)
    rows = VIEWS.get(
        caller.store.url, name, record.version, "history", lambda: _history(record, caller)
    )
    return [HistoryRow(**r) for r in rows]


def _status(record: CampaignRecord, caller: Caller) -> dict[str, Any]:
    found: dict[str, Any] = plain(Campaign.of(record, caller.store).status())
    return found


def _history(record: CampaignRecord, caller: Caller) -> list[dict[str, Any]]:
    rows = Campaign.of(record, caller.store).status(history=True)["history"]
    found: list[dict[str, Any]] = plain(rows)
    return found


@router.post("/{name}/recommend", response_model=RecommendOut)
def recommend(
    name: str, body: RecommendIn, caller: CallerDep, response: Response, if_match: IfMatch = None
) -> RecommendOut:
    """Choose the next batch, store it as a round and return it with predictions."""
    record = caller.campaign(name, "editor")
    expect = expected_version(if_match, record)
    recommender = make_recommender(body.recommender)
    campaign = Campaign.load(name, store=caller.store)
    rec = campaign.recommend(
        body.n,
        recommender=recommender,
        seed=body.seed,
        expect_version=expect,
        record_calibration=body.record_calibration,
    )
    version = caller.store.get_campaign(name).version
    response.headers["ETag"] = etag(version)
    frame = rec.to_frame()
    number = rec.notes["round"]
    assert isinstance(number, int)  # Campaign.recommend stores the round's number here
    scale = rec.notes.get("record_scale", {})
    assert isinstance(scale, dict)  # ... and the record factor per objective
    return RecommendOut(
        round=number,
        recommender=rec.recommender,
        designs=plain(frame.astype(object).to_dict("records")),
        record_scale=scale,
        version=version,
    )


@router.post("/{name}/ingest", response_model=IngestOut)
def ingest(
    name: str,
    caller: CallerDep,
    response: Response,
    svc: Annotated[Service, Depends(service)],
    file: Annotated[UploadFile, File(description="Results table (CSV, or TSV by extension).")],
    if_match: IfMatch = None,
) -> IngestOut:
    """Add the measurements of a results file: all rows or none, the CLI's checks."""
    record = caller.campaign(name, "editor")
    expect = expected_version(if_match, record)
    limit = svc.settings.max_upload_bytes
    if file.size is not None and file.size > limit:
        raise HTTPException(
            413,
            f"{file.filename}: file too large; expected at most {limit} bytes; found {file.size}",
        )
    shown = safe_name(file.filename, "results.csv")
    campaign = Campaign.load(name, store=caller.store)
    # The parser names the file it read: the upload's name, never the server's path.
    with staged("biofab-upload-") as folder:
        path = folder / shown
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        result = campaign.ingest(path, filename=shown, progress=False, expect_version=expect)
    version = caller.store.get_campaign(name).version
    response.headers["ETag"] = etag(version)
    return IngestOut(
        file=shown,
        added_designs=result.added_designs,
        added_measurements=result.added_measurements,
        skipped=result.skipped,
        duplicate_file=result.duplicate_file,
        duplicate_of=result.duplicate_of,
        version=version,
    )


@router.get("/{name}/report", response_class=HTMLResponse)
def report(name: str, caller: CallerDep) -> HTMLResponse:
    """The campaign's self-contained HTML report (Plotly)."""
    from biofab.report import campaign_report

    caller.campaign(name)
    return HTMLResponse(campaign_report(Campaign.load(name, store=caller.store)))


@router.get("/{name}/models", response_model=list[SnapshotOut])
def models(name: str, caller: CallerDep) -> list[SnapshotOut]:
    """Stored model snapshots: what, when, for which round, metrics (never the blob)."""
    caller.campaign(name)
    return [
        SnapshotOut(
            id=s.id,
            round=s.round,
            kind=s.kind,
            format=s.format,
            bytes=s.bytes,
            metrics=plain(s.metrics),
            created_at=s.created_at,
        )
        for s in caller.store.model_snapshots(name)
    ]
