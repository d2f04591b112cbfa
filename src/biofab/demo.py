"""The main job: a complete multi-round campaign against a built-in testbed.

By default the self-driving cell-free loop runs on the TX-TL kinetic testbed,
through the same plate layouts, picklists and plate-reader files a lab would
use. With ``data`` (the Borkowski 2020 cell-free folder, or any folder the
cell-free loaders read) the campaign replays measured compositions, choosing
from the pool of what was really measured. :class:`biofab.testbeds.SyntheticCellFree`
(a documented synthetic yield surface) remains available to code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from biofab.campaign import Campaign
from biofab.core import Testbed
from biofab.core.atomic import output_folder, require_folder
from biofab.report import write_report
from biofab.store import Store
from biofab.testbeds import ReplayTestbed, SyntheticCellFree


@dataclass
class DemoResult:
    campaign: Campaign
    history: pd.DataFrame
    report: Path
    testbed: str


def make_testbed(data: str | Path | None, seed: int = 0) -> tuple[Testbed, str]:
    """A replay testbed over ``data`` or, without it, the synthetic surface."""
    if data is None:
        return SyntheticCellFree(seed=seed), "synthetic cell-free surface (8 components)"
    from biofab.cellfree import load_borkowski, load_metis

    path = Path(data)
    loader = (
        load_metis
        if any(path.glob("Results_*.csv")) or path.name.startswith("Results_")
        else load_borkowski
    )
    replay = loader(path)
    return ReplayTestbed.from_data(
        replay
    ), f"replay of {replay.source} ({len(replay.table)} compositions)"


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
    """Run ``rounds`` rounds of ``batch`` designs and write the HTML report.

    Without ``data`` this is the self-driving cell-free loop on the TX-TL testbed
    (:func:`run_cellfree`), whose round files go to ``<report stem>_rounds/``.
    """
    require_folder(out)  # before minutes of work, not after
    if data is None:
        report_path = Path(out)
        run = run_cellfree(
            out=report_path.with_name(report_path.stem + "_rounds"),
            report=report_path,
            rounds=rounds,
            batch=batch,
            store=store,
            name=name,
            seed=seed,
            progress=progress,
        )
        label = "TX-TL kinetic testbed through plate files (Echo picklists, plate reader)"
        return DemoResult(run.campaign, run.campaign.history(), run.report, label)
    testbed, label = make_testbed(data, seed)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    campaign = Campaign.create(
        name or f"demo-{stamp}",
        testbed.space,
        list(testbed.objectives),
        store=store,
        who="biofab demo",
    )
    history = campaign.run(testbed, rounds=rounds, batch=batch, seed=seed, progress=progress)
    report = write_report(campaign, out)
    return DemoResult(campaign, history, report, label)


@dataclass
class CellFreeResult:
    campaign: Campaign
    loop: Any
    result: Any
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

    Every round writes its layout, Echo picklist (or Opentrons protocols), cost
    and simulated plate-reader file under ``out/round_NN``; the campaign lives in
    ``out/campaign.db`` unless ``store`` is given; the report (default
    ``out/report.html``) shows the
    campaign, plate QC, cost and the GFP time course of the best composition
    against the reference.
    """
    from biofab.cellfree.loop import CellFreeLoop, dispenser_named
    from biofab.cellfree.report import cost_table, files_table, plate_qc_table, time_course_figure
    from biofab.cellfree.stocks import StockTable
    from biofab.cellfree.txtl import TxTlModel

    folder = output_folder(out)
    if report is not None:
        require_folder(report)
    table = StockTable.read(stocks) if stocks is not None else StockTable.default()
    testbed = TxTlModel(noise=noise, plate_sd=plate_sd, seed=seed)
    loop = CellFreeLoop(
        table,
        testbed.measure_plate,
        folder,
        volume_ul=volume_ul,
        dispenser=dispenser_named(dispenser),
        plate=plate,
        replicates=replicates,
        cost=cost,
        seed=seed,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    campaign = Campaign.create(
        name or f"cellfree-{stamp}",
        loop.space,
        list(loop.objectives),
        store=store if store is not None else f"sqlite:///{folder / 'campaign.db'}",
        who="biofab cellfree run",
    )
    result = loop.run(campaign, rounds=rounds, batch=batch, progress=progress)
    best = campaign.best(1)
    courses = {"reference": {n: loop.reference[n] for n in loop.space.names}}
    if len(best):
        courses["best measured"] = {n: float(best[n].iloc[0]) for n in loop.space.names}
    extra: list[tuple[str, Any]] = [
        (
            "GFP time course (noise-free testbed): best measured vs reference",
            time_course_figure(testbed.simulate, courses, testbed.hours),
        ),
        ("Plate QC per round", plate_qc_table(result.rounds)),
        ("Reagent cost per plate", cost_table(result.rounds)),
        ("Files per round", files_table(result.rounds)),
    ]
    page = Path(report) if report is not None else folder / "report.html"
    write_report(campaign, page, extra)
    return CellFreeResult(campaign, loop, result, page)
