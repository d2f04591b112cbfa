"""The main job: a complete multi-round campaign against a built-in testbed.

By default the self-driving cell-free loop runs on the TX-TL kinetic testbed,
through the same plate layouts, picklists and plate-reader files a lab would
use. With ``data`` (the Borkowski 2020 cell-free folder, or any folder the
cell-free loaders read) the campaign replays measured compositions, choosing
from the pool of what was really measured.

Both are :func:`biofab.cellfree.workflows.run`; this interface-layer module only
chooses where the files go and writes the report page with the pillar's sections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from biofab.campaign import Campaign
from biofab.cellfree.loop import CellFreeLoop, LoopResult
from biofab.cellfree.workflows import RunRequest, run
from biofab.core.atomic import require_folder
from biofab.report import write_report
from biofab.store import DEFAULT_URL, Store


@dataclass
class DemoResult:
    campaign: Campaign
    history: pd.DataFrame
    report: Path
    testbed: str


def run_demo(
    *,
    data: str | Path | None = None,
    rounds: int = 6,
    batch: int = 20,
    out: str | Path = "report.html",
    store: Store | str | None = None,
    seed: int = 0,
    name: str | None = None,
    progress: bool = True,
) -> DemoResult:
    """Run ``rounds`` rounds of ``batch`` designs and write the HTML report ``out``.

    Without ``data`` this is the self-driving cell-free loop on the TX-TL testbed
    (:func:`run_cellfree`), whose round files and campaign go to ``<report stem>_rounds/``.
    With ``data`` the replay's campaign goes to ``store`` (default ``$BIOFAB_DB`` or
    ``sqlite:///biofab.db``).
    """
    page = Path(out)
    require_folder(page)  # before minutes of work, not after
    if data is None:
        request = RunRequest(
            out=page.with_name(page.stem + "_rounds"),
            report=page,
            rounds=rounds,
            batch=batch,
            store=store,
            name=name,
            seed=seed,
            progress=progress,
        )
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        request = RunRequest(
            out=page.parent,
            replay=Path(data),
            report=page,
            rounds=rounds,
            batch=batch,
            # the replay's campaign joins the user's default store, as every campaign does
            store=store if store is not None else os.environ.get("BIOFAB_DB") or DEFAULT_URL,
            name=name or f"demo-{stamp}",
            seed=seed,
            progress=progress,
            who="biofab demo",
        )
    result = run(request)
    report = write_report(result.campaign, result.report, result.sections)
    return DemoResult(result.campaign, result.history, report, result.testbed)


@dataclass
class CellFreeResult:
    campaign: Campaign
    loop: CellFreeLoop | None
    result: LoopResult
    report: Path


def run_cellfree(
    *,
    out: str | Path,
    report: str | Path | None = None,
    rounds: int = 10,
    batch: int = 20,
    stocks: str | Path | None = None,
    volume_ul: float = 10.0,
    dispenser: str = "echo",
    plate: int = 96,
    replicates: int = 2,
    cost: bool = False,
    noise: float = 0.05,
    plate_sd: float = 0.1,
    store: Store | str | None = None,
    name: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> CellFreeResult:
    """A self-driving cell-free campaign on the TX-TL testbed, through plate files.

    :func:`biofab.cellfree.workflows.run` (round files under ``out/round_NN``, the
    campaign in ``out/campaign.db`` unless ``store`` is given), then the report page
    (default ``out/report.html``) with the pillar's time course, plate QC, cost and files.
    """
    result = run(
        RunRequest(
            out=Path(out),
            report=None if report is None else Path(report),
            rounds=rounds,
            batch=batch,
            stocks=None if stocks is None else Path(stocks),
            volume_ul=volume_ul,
            dispenser=dispenser,
            plate=plate,
            replicates=replicates,
            cost=cost,
            noise=noise,
            plate_sd=plate_sd,
            store=store,
            name=name,
            seed=seed,
            progress=progress,
        )
    )
    page = write_report(result.campaign, result.report, result.sections)
    rounds_run = LoopResult(rounds=result.rounds, history=result.history)
    return CellFreeResult(result.campaign, result.loop, rounds_run, page)
