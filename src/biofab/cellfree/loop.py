"""The self-driving cell-free loop: recommend, plan the plate, measure, import, learn.

Each round of :class:`CellFreeLoop` does what a lab does with a liquid handler
and a plate reader, and writes every file a person would use:

1. the campaign recommends a batch of compositions (snapped to the dispenser);
2. the batch is laid out on plates with replicates, reference controls and
   blanks (``layout.csv``);
3. the layout becomes transfers and either an Echo picklist with its source
   plate map or one Opentrons protocol per plate, plus the reagent cost;
4. the plates are read: by the lab (``read`` is a file the user drops in) or,
   here, by a testbed's simulated plate reader (``plate_reader.csv``);
5. the readings are blank-subtracted, normalised to each plate's reference and
   aggregated over replicates, then ingested with their plate and wells as
   provenance.

Nothing in steps 1-3 and 5 knows whether step 4 was a simulator, so the same
loop runs against the TX-TL testbed first and the lab second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from biofab.cellfree.cost import cost_objective, plate_cost, plate_totals, reaction_cost
from biofab.cellfree.layout import layout_plates, write_layout
from biofab.cellfree.picklist import (
    echo_picklist,
    source_plate_map,
    transfers,
    write_source_plate_map,
    write_transfers,
)
from biofab.cellfree.platereader import PlateResult, import_plates
from biofab.cellfree.stocks import (
    Dispenser,
    Echo,
    Opentrons,
    StockTable,
    composition_space,
    snap_reference,
)
from biofab.core import Execution, InputError, Objective, Space
from biofab.core.atomic import output_folder, write_atomic

if TYPE_CHECKING:
    from biofab.campaign import Campaign
    from biofab.cellfree.opentrons import ProtocolPlan
    from biofab.learn import Recommender

#: What the loop maximises: blank-subtracted signal over the plate's reference.
YIELD = Objective("relative_yield", "max", unit="x reference")

#: A plate reader: layout frame -> readings ``plate, well, value`` (RFU).
PlateReader = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass
class RoundFiles:
    """What one round wrote (paths) and what it learned."""

    round: int
    directory: Path
    layout: Path
    build: list[Path]
    readings: Path
    results: Path
    plates: int
    cost: pd.DataFrame
    qc: pd.DataFrame
    best: float


@dataclass
class LoopResult:
    """The rounds run, the campaign's history and the report."""

    rounds: list[RoundFiles] = field(default_factory=list)
    history: pd.DataFrame | None = None
    report: Path | None = None


@dataclass
class BuildPlan:
    """One batch's build, computed but not yet written.

    ``layout``: one row per well; ``transfers``: one row per liquid transfer (nL);
    ``costs``: stock consumed per component and plate; either ``protocols`` (one
    Opentrons protocol per plate) or ``source_map`` and ``picklist`` (Echo).
    """

    layout: pd.DataFrame
    transfers: pd.DataFrame
    costs: pd.DataFrame
    protocols: dict[str, ProtocolPlan] | None = None
    source_map: pd.DataFrame | None = None
    picklist: pd.DataFrame | None = None

    @property
    def totals(self) -> pd.DataFrame:
        """Per plate: reactions, reagent cost and cost per reaction."""
        return plate_totals(self.costs)

    def write(self, directory: Path) -> tuple[Path, list[Path]]:
        """Write every file into the existing ``directory``; returns the layout path and
        the build files (transfers first)."""
        build = [write_transfers(directory / "transfers.csv", self.transfers)]
        if self.protocols is not None:
            folder = output_folder(directory / "opentrons")
            for name, protocol in self.protocols.items():
                protocol.path = write_atomic(folder / f"{name}.py", protocol.text)
                build.append(protocol.path)
        elif self.source_map is not None and self.picklist is not None:
            text = self.picklist.to_csv(index=False, float_format="%.6g")
            build += [
                write_atomic(directory / "echo_picklist.csv", text),
                write_source_plate_map(directory / "source_plate_map.csv", self.source_map),
            ]
        write_atomic(directory / "cost.csv", self.costs.to_csv(index=False, float_format="%.6g"))
        return write_layout(directory / "layout.csv", self.layout), build


def dispenser_named(name: str, pipette: str = "p20_single_gen2") -> Dispenser:
    """``"echo"`` (2.5 nL droplets) or ``"opentrons"`` (the given pipette)."""
    if name == "echo":
        return Echo()
    if name == "opentrons":
        return Opentrons(pipette=pipette)
    raise InputError(
        "unknown dispenser", column="dispenser", expected="echo or opentrons", found=name
    )


class CellFreeLoop:
    """A closed cell-free campaign whose rounds go through real build and import files.

    The loop owns the space (from the stock table and dispenser) and the
    objectives; the caller creates the campaign on them (its store, name and
    recommender) and passes it to :meth:`run`.

    Parameters
    ----------
    stocks
        The stock table; its varied components are the design space.
    reader
        The plate reader: a function from a layout frame to readings (RFU), e.g.
        :meth:`biofab.cellfree.txtl.TxTlModel.measure_plate`.
    out
        Folder for the round folders (``round_01`` ...).
    volume_ul
        Reaction volume (µL).
    dispenser
        :class:`~biofab.cellfree.stocks.Echo` (picklists) or
        :class:`~biofab.cellfree.stocks.Opentrons` (OT-2 protocols).
    plate, replicates, references, blanks, max_plates
        Plate format (96 or 384); wells per design, reference controls and
        blanks on every plate; the most plates a batch may take (None: any).
    cost
        Also minimise the reagent cost per reaction (from the stock table's
        prices): a two-objective campaign whose result is a Pareto front.
    recommender
        A :mod:`biofab.learn` recommender; None uses the campaign's default.
    """

    def __init__(
        self,
        stocks: StockTable,
        reader: PlateReader,
        out: str | Path,
        *,
        volume_ul: float = 10.0,
        dispenser: Dispenser | None = None,
        plate: int = 96,
        replicates: int = 2,
        references: int = 4,
        blanks: int = 2,
        max_plates: int | None = None,
        cost: bool = False,
        recommender: Recommender | None = None,
        seed: int = 0,
    ) -> None:
        self.stocks = stocks
        self.reader = reader
        self.out = Path(out)
        self.volume_ul = float(volume_ul)
        self.dispenser = dispenser if dispenser is not None else Echo()
        self.plate = plate
        self.replicates = replicates
        self.references = references
        self.blanks = blanks
        self.max_plates = max_plates
        self.cost = cost
        self.recommender = recommender
        self.seed = seed
        self.space: Space = composition_space(stocks, self.volume_ul, self.dispenser)
        self.reference = snap_reference(stocks, self.volume_ul, self.dispenser)
        self.objectives = [YIELD, cost_objective(stocks)] if cost else [YIELD]

    # -- one round ---------------------------------------------------------------
    def build(self, designs: pd.DataFrame, round_index: int) -> BuildPlan:
        """Layout, transfers, build files and cost for a batch, in memory.

        Every check (plate capacity, stock ranges, source dead volumes, pipette
        volumes) happens here, so :meth:`BuildPlan.write` cannot fail half-way on
        bad input.
        """
        layout = layout_plates(
            designs[self.space.names].reset_index(drop=True),
            self.stocks,
            reference=self.reference,
            plate=self.plate,
            replicates=self.replicates,
            references=self.references,
            blanks=self.blanks,
            max_plates=self.max_plates,
            seed=self.seed * 1000 + round_index,
        )
        moves = transfers(layout, self.stocks, self.volume_ul, self.dispenser)
        if isinstance(self.dispenser, Opentrons):
            from biofab.cellfree.opentrons import build_protocols

            protocols = build_protocols(moves, pipette=self.dispenser.pipette)
            return BuildPlan(layout, moves, plate_cost(moves, self.stocks, source=None), protocols)
        smap = source_plate_map(moves, max_plates=4)
        picklist = echo_picklist(moves, smap)
        return BuildPlan(
            layout, moves, plate_cost(moves, self.stocks), source_map=smap, picklist=picklist
        )

    def plan(self, designs: pd.DataFrame, directory: Path, round_index: int) -> dict[str, Any]:
        """:meth:`build` then write into ``directory``; nothing is measured.

        Returns ``layout`` (frame), ``layout_path``, ``build`` (paths) and ``cost``
        (per plate).
        """
        plan = self.build(designs, round_index)
        layout_path, build = plan.write(directory)
        return {
            "layout": plan.layout,
            "layout_path": layout_path,
            "build": build,
            "cost": plan.totals,
        }

    def results_table(self, result: PlateResult) -> pd.DataFrame:
        """The plate result as a campaign results table (adds the cost objective)."""
        table = result.results.copy()
        if self.cost:
            table["cost"] = reaction_cost(
                table[self.space.names], self.stocks, self.volume_ul, self.dispenser
            ).to_numpy()
        return table

    # -- rounds ----------------------------------------------------------------------
    def execute(self, designs: pd.DataFrame, round_index: int) -> Execution:
        """Build, read and import one batch: the loop runner's lab step.

        Writes the round folder (layout, build files, plate-reader file, results)
        and returns the results table with the plate and wells as provenance.
        """
        directory = output_folder(output_folder(self.out) / f"round_{round_index:02d}")
        plan = self.plan(designs, directory, round_index)
        readings = write_readings(directory / "plate_reader.csv", self.reader(plan["layout"]))
        result = import_plates([readings], plan["layout"])
        table = self.results_table(result)
        results = write_atomic(directory / "results.csv", table.to_csv(index=False))
        files = RoundFiles(
            round=round_index,
            directory=directory,
            layout=plan["layout_path"],
            build=plan["build"],
            readings=readings,
            results=results,
            plates=int(plan["layout"]["plate"].nunique()),
            cost=plan["cost"],
            qc=result.qc,
            best=float(table["relative_yield"].max()),
        )
        return Execution(
            table,
            source=str(readings),
            files=[plan["layout_path"], *plan["build"], readings, results],
            info={"round_files": files},
        )

    def run(
        self, campaign: Campaign, *, rounds: int, batch: int, progress: bool = True
    ) -> LoopResult:
        """``rounds`` rounds of ``batch`` designs; returns the files and the history.

        The loop is :class:`biofab.campaign.loop.LoopRunner` with this object as
        its executor; rounds continue the campaign's numbering.
        """
        from biofab.campaign.loop import LoopRunner

        history = campaign.history()
        done = len(history["round"].unique()) if len(history) else 0
        runner: LoopRunner[Recommender] = LoopRunner(self, recommender=self.recommender)
        run = runner.run(
            campaign,
            batch=batch,
            rounds=rounds,
            seed=self.seed,
            first_round=done + 1,
            progress=progress,
            label=f"cell-free campaign {campaign.name} round",
        )
        files = [r.execution.info["round_files"] for r in run.rounds]
        return LoopResult(
            rounds=[f for f in files if isinstance(f, RoundFiles)], history=run.history
        )


def write_readings(path: Path, readings: pd.DataFrame) -> Path:
    """A simulated plate read, as the generic long plate-reader CSV."""
    return write_atomic(path, readings[["plate", "well", "value"]].to_csv(index=False))
