"""``biofab cellfree``: the self-driving cell-free loop, build plans and plate import."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from biofab.cli.console import console

cellfree_app = typer.Typer(
    help="Cell-free protein synthesis: closed loops, build plans, plate-reader import.",
    no_args_is_help=True,
)
out = console()

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
StocksOption = Annotated[
    Path | None,
    typer.Option(help="Stock table (CSV/YAML: component, stock, unit, min, max[, price, fixed])."),
]
VolumeOption = Annotated[float, typer.Option("--volume", help="Reaction volume (µL).")]
DispenserOption = Annotated[
    str, typer.Option(help="echo (2.5 nL droplets, picklists) or opentrons (OT-2 protocols).")
]
PlateOption = Annotated[int, typer.Option(help="Plate format: 96 or 384.")]
ReplicatesOption = Annotated[int, typer.Option(min=1, help="Wells per design.")]


def _dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@cellfree_app.command("run")
def run(
    output: Annotated[Path, typer.Option("--out", help="Folder for rounds and the report.")],
    testbed: Annotated[str, typer.Option(help="Built-in testbed: txtl.")] = "txtl",
    replay: Annotated[
        Path | None,
        typer.Option(help="Replay a published campaign (Borkowski or METIS folder) instead."),
    ] = None,
    rounds: Annotated[int, typer.Option(min=1)] = 10,
    batch: Annotated[int, typer.Option(min=1)] = 20,
    stocks: StocksOption = None,
    volume: VolumeOption = 10.0,
    dispenser: DispenserOption = "echo",
    plate: PlateOption = 96,
    replicates: ReplicatesOption = 2,
    cost: Annotated[
        bool, typer.Option("--cost", help="Also minimise reagent cost per reaction (Pareto).")
    ] = False,
    noise: Annotated[float, typer.Option(help="Testbed well noise (log-sd).")] = 0.05,
    seed: int = 0,
    db: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (default OUT/campaign.db).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Run a self-driving campaign: each round's plan, picklist, plate read and report."""
    from biofab.cellfree.workflows import RunRequest
    from biofab.cellfree.workflows import run as run_campaign
    from biofab.report import write_report

    result = run_campaign(
        RunRequest(
            out=output,
            testbed=testbed,
            replay=replay,
            rounds=rounds,
            batch=batch,
            stocks=stocks,
            volume_ul=volume,
            dispenser=dispenser,
            plate=plate,
            replicates=replicates,
            cost=cost,
            noise=noise,
            store=db,
            seed=seed,
            progress=True,  # stderr: --json keeps stdout pure
        )
    )
    write_report(result.campaign, result.report, result.sections)
    if json_out:
        _dump(
            {
                "campaign": result.campaign.name,
                "report": str(result.report),
                "history": result.history.to_dict("records"),
            }
        )
        return
    out.print(result.history.to_string(index=False))
    out.print(f"campaign [bold]{result.campaign.name}[/]; report: {result.report}")


@cellfree_app.command("plan")
def plan(
    designs: Annotated[
        Path, typer.Argument(help="CSV of compositions (one column per component).")
    ],
    output: Annotated[Path, typer.Option("--out", help="Folder for the build files.")],
    stocks: StocksOption = None,
    volume: VolumeOption = 10.0,
    dispenser: DispenserOption = "echo",
    plate: PlateOption = 96,
    replicates: ReplicatesOption = 2,
    max_plates: Annotated[
        int | None, typer.Option(min=1, help="Refuse a batch that needs more plates.")
    ] = None,
    seed: int = 0,
    json_out: JsonOption = False,
) -> None:
    """Lay out DESIGNS on plates and write the layout, picklist or protocols, and cost."""
    from biofab.cellfree.workflows import PlanRequest
    from biofab.cellfree.workflows import plan as plan_plates

    result = plan_plates(
        PlanRequest(
            designs=designs,
            out=output,
            stocks=stocks,
            volume_ul=volume,
            dispenser=dispenser,
            plate=plate,
            replicates=replicates,
            max_plates=max_plates,
            seed=seed,
        )
    )
    if json_out:
        _dump({"files": result.files, "cost": result.cost.to_dict("records")})
        return
    out.print(result.cost.to_string(index=False))
    out.print("wrote " + ", ".join(result.files))


@cellfree_app.command("import")
def import_(
    readings: Annotated[list[Path], typer.Argument(help="Plate-reader files (long or grid).")],
    layout: Annotated[Path, typer.Option(help="The layout.csv the plates were built from.")],
    output: Annotated[Path, typer.Option("--out", help="Results table (CSV) to write.")],
    campaign: Annotated[
        str | None, typer.Option(help="Also ingest the results into this campaign.")
    ] = None,
    db: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the campaign store.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Blank-subtract, normalise to the plate reference, aggregate replicates, flag outliers."""
    from biofab.cellfree.workflows import ImportRequest, import_plates

    result = import_plates(
        ImportRequest(tuple(readings), layout, output, campaign=campaign, store=db)
    )
    if json_out:
        _dump(result.to_dict())
        return
    plates = result.plates
    out.print(plates.qc.to_string(index=False))
    counts = f"{len(plates.results)} designs, {len(plates.outliers)} outlier wells"
    out.print(f"{counts} ({plates.rule})")
    out.print(f"wrote {output}")
