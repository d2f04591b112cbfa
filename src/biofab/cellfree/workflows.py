"""Cell-free workflows: a typed request in, a typed result out, and the files written.

One function per job of the cell-free pillar — :func:`run`, :func:`plan`,
:func:`import_plates` — holding what ``biofab cellfree`` and ``biofab demo`` used to do
themselves (reading and checking the stock table and designs, building the loop, creating
the campaign, choosing a replay loader, ingesting plate results). The CLI parses arguments
and prints; a web service calls the same functions. Every result has ``to_frame()`` (its
main table), ``to_dict()`` / ``to_json()`` (what ``--json`` prints) and ``files`` (paths
written, in order).

A pillar does not write the campaign report page (that is the interface layer's
:func:`biofab.report.write_report`): :class:`RunResult` carries the pillar's report
sections and the page they are meant for, and the caller writes
``write_report(result.campaign, result.report, result.sections)``.

Bad input raises a :class:`~biofab.core.errors.BiofabError` (one line) before anything is
written. Units: volumes in µL, well noise as a log-sd, plate readings in RFU, yields
relative to the plate's reference composition.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from biofab.core.errors import InputError

if TYPE_CHECKING:
    from biofab.campaign import Campaign
    from biofab.cellfree.datasets import ReplayData
    from biofab.cellfree.loop import CellFreeLoop, RoundFiles
    from biofab.cellfree.platereader import PlateResult
    from biofab.cellfree.stocks import StockTable
    from biofab.store import Store

__all__ = [
    "DISPENSERS",
    "PLATES",
    "TESTBEDS",
    "ImportRequest",
    "ImportResult",
    "PlanRequest",
    "PlanResult",
    "RunRequest",
    "RunResult",
    "import_plates",
    "plan",
    "read_designs",
    "read_replay",
    "run",
]

TESTBEDS = ("txtl",)
"""Built-in testbeds :func:`run` drives through plate files."""
DISPENSERS = ("echo", "opentrons")
"""Echo (2.5 nL droplets, picklists) or Opentrons OT-2 (one protocol per plate)."""
PLATES = (96, 384)
"""Plate formats (wells)."""


# ---------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------


def _dumps(data: Any) -> str:
    def plain(x: Any) -> Any:
        return x.item() if hasattr(x, "item") else str(x)

    return json.dumps(data, indent=2, default=plain) + "\n"


def _choice(value: Any, what: str, options: Sequence[Any]) -> None:
    if value not in options:
        shown = " | ".join(str(o) for o in options)
        raise InputError(f"unknown {what}", column=what, expected=shown, found=value)


def _at_least(value: int, what: str, low: int) -> None:
    if value < low:
        raise InputError(f"{what} too small", column=what, expected=f">= {low}", found=value)


def _positive(value: float, what: str, *, zero: bool = False) -> None:
    ok = math.isfinite(value) and (value >= 0 if zero else value > 0)
    if not ok:
        expected = "a finite number >= 0" if zero else "a finite number > 0"
        raise InputError(f"bad {what}", column=what, expected=expected, found=value)


def _build_checks(volume_ul: float, dispenser: str, plate: int, replicates: int) -> None:
    _positive(volume_ul, "volume")
    _choice(dispenser, "dispenser", DISPENSERS)
    _choice(plate, "plate", PLATES)
    _at_least(replicates, "replicates", 1)


def _stocks(path: Path | None) -> StockTable:
    from biofab.cellfree.stocks import StockTable

    return StockTable.read(path) if path is not None else StockTable.default()


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")


def read_designs(path: Path, names: Sequence[str]) -> pd.DataFrame:
    """The component columns ``names`` of a designs CSV (one row per composition)."""
    from biofab.core.textfile import read_text

    if not path.is_file():
        raise InputError("designs file not found", file=str(path))
    try:
        frame = pd.read_csv(io.StringIO(read_text(path)))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        found = str(err).splitlines()[0] if str(err) else "parse error"
        raise InputError("cannot read designs", file=str(path), found=found) from None
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InputError(
            "missing component column",
            file=str(path),
            column=missing[0],
            expected=f"columns {list(names)}",
            found=list(frame.columns),
        )
    if len(frame) == 0:
        raise InputError("no designs", file=str(path), expected="at least one row")
    return frame[list(names)]


def read_replay(path: Path) -> ReplayData:
    """A published campaign folder or file: METIS (``Results_*.csv``) or Borkowski 2020."""
    from biofab.cellfree.datasets import load_borkowski, load_metis

    if not path.exists():
        raise InputError("replay data not found", file=str(path))
    metis = any(path.glob("Results_*.csv")) or path.name.startswith("Results_")
    return (load_metis if metis else load_borkowski)(path)


# ---------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    """A closed cell-free campaign of ``rounds`` rounds of ``batch`` designs.

    Without ``replay``: the self-driving loop on the ``testbed`` (``txtl``: the TX-TL
    kinetic model with well noise ``noise`` (log-sd) and plate effect ``plate_sd``)
    through plate files — per round ``out/round_NN/`` holds the layout, the Echo
    picklist (or Opentrons protocols with ``dispenser="opentrons"``), the cost, the
    plate-reader file and the results. ``stocks``: a stock table (CSV/YAML; None: the
    default TX-TL table); ``volume_ul``: reaction volume (µL); ``plate``: 96 or 384;
    ``replicates``: wells per design; ``cost``: also minimise the reagent cost per
    reaction (a two-objective campaign).

    With ``replay`` (a Borkowski 2020 or METIS folder): a pool replay — the campaign
    chooses only among the compositions that were really measured and is answered with
    the measured yields; the build options do not apply.

    ``store``: a :class:`~biofab.store.Store` or SQLAlchemy URL (None:
    ``out/campaign.db``); ``name``: the campaign (None: ``cellfree-<UTC time>`` or
    ``replay-<UTC time>``); ``report``: the page the result's sections are meant for
    (None: ``out/report.html``; its folder must exist). ``progress``: one line per round
    on stderr (a bar on a terminal); ``who``: the campaign's creator in its provenance.
    """

    out: Path
    testbed: str = "txtl"
    replay: Path | None = None
    rounds: int = 10
    batch: int = 20
    stocks: Path | None = None
    volume_ul: float = 10.0
    dispenser: str = "echo"
    plate: int = 96
    replicates: int = 2
    cost: bool = False
    noise: float = 0.05
    plate_sd: float = 0.1
    store: Store | str | None = None
    name: str | None = None
    report: Path | None = None
    seed: int = 0
    progress: bool = True
    who: str = "biofab cellfree run"


@dataclass
class RunResult:
    """The campaign run, its history and what the report page should show.

    ``testbed``: in words; ``rounds``: each round's files (empty for a replay);
    ``sections``: the pillar's report sections, ``(title, figure or table)``, for
    :func:`biofab.report.write_report`; ``report``: the page they are meant for (not
    written by the workflow); ``loop``: the cell-free loop (None for a replay).
    """

    campaign: Campaign
    testbed: str
    history: pd.DataFrame
    report: Path
    sections: list[tuple[str, Any]] = field(default_factory=list)
    rounds: list[RoundFiles] = field(default_factory=list)
    loop: CellFreeLoop | None = None
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Per round: ``round``, ``n``, ``best``, ``best_so_far``, ``improvement``."""
        return self.history.copy()

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign.name,
            "testbed": self.testbed,
            "report": str(self.report),
            "history": self.history.to_dict("records"),
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def run(request: RunRequest) -> RunResult:
    """Check the request, then run the loop (or the replay) and build the report sections."""
    from biofab.core.atomic import require_folder

    _at_least(request.rounds, "rounds", 1)
    _at_least(request.batch, "batch", 1)
    if request.report is not None:
        require_folder(request.report)  # before minutes of work, not after
    if request.replay is not None:
        return _replay(request, request.replay)
    return _loop(request)


def _create(request: RunRequest, folder: Path, space: Any, objectives: Any, kind: str) -> Campaign:
    from biofab.campaign import Campaign

    store = request.store if request.store is not None else f"sqlite:///{folder / 'campaign.db'}"
    return Campaign.create(
        request.name or f"{kind}-{_stamp()}",
        space,
        list(objectives),
        store=store,
        who=request.who,
    )


def _loop(request: RunRequest) -> RunResult:
    from biofab.cellfree.loop import CellFreeLoop, dispenser_named
    from biofab.cellfree.report import cost_table, files_table, plate_qc_table, time_course_figure
    from biofab.cellfree.txtl import TxTlModel
    from biofab.core.atomic import output_folder

    _choice(request.testbed, "testbed", TESTBEDS)
    _build_checks(request.volume_ul, request.dispenser, request.plate, request.replicates)
    _positive(request.noise, "noise", zero=True)
    _positive(request.plate_sd, "plate_sd", zero=True)
    table = _stocks(request.stocks)
    testbed = TxTlModel(noise=request.noise, plate_sd=request.plate_sd, seed=request.seed)
    loop = CellFreeLoop(
        table,
        testbed.measure_plate,
        request.out,
        volume_ul=request.volume_ul,
        dispenser=dispenser_named(request.dispenser),
        plate=request.plate,
        replicates=request.replicates,
        cost=request.cost,
        seed=request.seed,
    )
    folder = output_folder(request.out)  # everything checked: now the folder may exist
    campaign = _create(request, folder, loop.space, loop.objectives, "cellfree")
    result = loop.run(
        campaign, rounds=request.rounds, batch=request.batch, progress=request.progress
    )
    best = campaign.best(1)
    courses = {"reference": {n: loop.reference[n] for n in loop.space.names}}
    if len(best):
        courses["best measured"] = {n: float(best[n].iloc[0]) for n in loop.space.names}
    sections: list[tuple[str, Any]] = [
        (
            "GFP time course (noise-free testbed): best measured vs reference",
            time_course_figure(testbed.simulate, courses, testbed.hours),
        ),
        ("Plate QC per round", plate_qc_table(result.rounds)),
        ("Reagent cost per plate", cost_table(result.rounds)),
        ("Files per round", files_table(result.rounds)),
    ]
    files = [
        str(p)
        for r in result.rounds
        for p in (r.layout, *r.build, r.directory / "cost.csv", r.readings, r.results)
    ]
    return RunResult(
        campaign,
        "TX-TL kinetic testbed through plate files (Echo picklists, plate reader)"
        if request.dispenser == "echo"
        else "TX-TL kinetic testbed through plate files (Opentrons protocols, plate reader)",
        campaign.history(),
        request.report if request.report is not None else folder / "report.html",
        sections,
        result.rounds,
        loop,
        files,
    )


def _replay(request: RunRequest, replay: Path) -> RunResult:
    from biofab.core.atomic import output_folder
    from biofab.core.replay import ReplayTestbed

    data = read_replay(replay)
    testbed = ReplayTestbed.from_data(data)
    folder = output_folder(request.out)
    campaign = _create(request, folder, testbed.space, testbed.objectives, "replay")
    history = campaign.run(
        testbed,
        rounds=request.rounds,
        batch=request.batch,
        seed=request.seed,
        progress=request.progress,
    )
    return RunResult(
        campaign,
        f"replay of {data.source} ({len(data.table)} compositions)",
        history,
        request.report if request.report is not None else folder / "report.html",
    )


# ---------------------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRequest:
    """Lay out the compositions of ``designs`` (CSV, one column per varied component of
    the stock table) on plates and write the layout, transfers, Echo picklist and source
    plate map (or one Opentrons protocol per plate) and the cost into the folder ``out``
    (made if missing; its parent must exist). ``max_plates``: refuse a batch that needs
    more plates (None: any); ``seed``: well randomisation."""

    designs: Path
    out: Path
    stocks: Path | None = None
    volume_ul: float = 10.0
    dispenser: str = "echo"
    plate: int = 96
    replicates: int = 2
    max_plates: int | None = None
    seed: int = 0


@dataclass
class PlanResult:
    """The plate layout (one row per well) and the cost per plate."""

    layout: pd.DataFrame
    cost: pd.DataFrame
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The layout: plate, well, role, design, replicate and each final concentration."""
        return self.layout.copy()

    def to_dict(self) -> dict[str, Any]:
        return {
            "plates": int(self.layout["plate"].nunique()),
            "wells": len(self.layout),
            "files": self.files,
            "cost": self.cost.to_dict("records"),
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def plan(request: PlanRequest) -> PlanResult:
    """Read and check the designs, build the plates in memory, then write every file."""
    from biofab.cellfree.loop import CellFreeLoop, dispenser_named
    from biofab.core.atomic import output_folder

    _build_checks(request.volume_ul, request.dispenser, request.plate, request.replicates)
    if request.max_plates is not None:
        _at_least(request.max_plates, "max_plates", 1)
    loop = CellFreeLoop(
        _stocks(request.stocks),
        reader=lambda layout: layout,  # nothing is read: plan only builds
        out=request.out,
        volume_ul=request.volume_ul,
        dispenser=dispenser_named(request.dispenser),
        plate=request.plate,
        replicates=request.replicates,
        max_plates=request.max_plates,
        seed=request.seed,
    )
    frame = read_designs(request.designs, loop.space.names)
    loop.space.validate(frame, file=str(request.designs), first_row=1)
    build = loop.build(frame, 0)
    folder = output_folder(request.out)
    layout_path, paths = build.write(folder)
    files = [str(layout_path), *(str(p) for p in paths)]
    return PlanResult(build.layout, build.totals, files)


# ---------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRequest:
    """Import the plate-reader files ``readings`` (long CSV or the grid exports of Gen5,
    Tecan and BMG readers) of the plates laid out in ``layout`` (the ``layout.csv`` of
    :func:`plan`); write the results table to ``out`` (CSV; its folder must exist) and,
    with ``campaign``, ingest the results into that existing campaign of ``store`` (a
    SQLAlchemy URL; None: ``$BIOFAB_DB`` or ``sqlite:///biofab.db``; never created)."""

    readings: tuple[Path, ...]
    layout: Path
    out: Path
    campaign: str | None = None
    store: str | None = None


@dataclass
class ImportResult:
    """Blank-subtracted, reference-normalised, replicate-aggregated results and plate QC."""

    plates: PlateResult
    campaign: str | None = None
    ingested: int = 0
    """Measurements added to the campaign (0 when the same rows were ingested before)."""
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per design: the components, ``relative_yield`` (+ ``_std``, ``_n``),
        ``signal_rfu``, wells, outliers and ``source``."""
        return self.plates.results.copy()

    def to_dict(self) -> dict[str, Any]:
        return {
            "designs": len(self.plates.results),
            "outliers": len(self.plates.outliers),
            "rule": self.plates.rule,
            "qc": self.plates.qc.to_dict("records"),
            "out": self.files[0] if self.files else None,
            "campaign": self.campaign,
            "ingested": self.ingested,
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def import_plates(request: ImportRequest) -> ImportResult:
    """Read and process the plates; ingest (all rows or none); then write the table."""
    from biofab.cellfree.platereader import import_plates as process
    from biofab.core.atomic import require_folder

    require_folder(request.out)  # before anything is ingested: all or nothing
    plates = process(list(request.readings), request.layout)
    result = ImportResult(plates)
    if request.campaign is not None:
        from biofab.campaign import Campaign
        from biofab.store import Store

        with Store(request.store, create=False) as store:
            target = Campaign.load(request.campaign, store=store)
            ingest = target.ingest(
                plates.results, filename=",".join(str(r) for r in request.readings)
            )
        result.campaign = request.campaign
        result.ingested = ingest.added_measurements
    plates.to_csv(request.out)
    result.files = [str(request.out)]
    return result
