"""``biofab cellfree``: the self-driving cell-free loop, build plans and plate import."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from biofab.core import InputError

cellfree_app = typer.Typer(
    help="Cell-free protein synthesis: closed loops, build plans, plate-reader import.",
    no_args_is_help=True,
)
out = Console()

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
    from biofab.demo import run_cellfree, run_demo

    if replay is not None:
        folder = _folder(output)
        result = run_demo(
            data=replay,
            rounds=rounds,
            batch=batch,
            out=folder / "report.html",
            store=db if db is not None else f"sqlite:///{folder / 'campaign.db'}",
            seed=seed,
            progress=True,  # stderr: --json keeps stdout pure
        )
        history, report, name = result.history, result.report, result.campaign.name
    else:
        if testbed != "txtl":
            raise InputError("unknown testbed", column="--testbed", expected="txtl", found=testbed)
        loop = run_cellfree(
            out=output,
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
        history, report, name = loop.campaign.history(), loop.report, loop.campaign.name
    if json_out:
        _dump({"campaign": name, "report": str(report), "history": history.to_dict("records")})
        return
    out.print(history.to_string(index=False))
    out.print(f"campaign [bold]{name}[/]; report: {report}")


def _folder(path: Path) -> Path:
    from biofab.core.atomic import output_folder

    return output_folder(path)


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
    import pandas as pd

    from biofab.cellfree.loop import CellFreeLoop, dispenser_named
    from biofab.cellfree.stocks import StockTable

    table = StockTable.read(stocks) if stocks is not None else StockTable.default()
    loop = CellFreeLoop(
        table,
        reader=lambda layout: layout,
        out=output,
        volume_ul=volume,
        dispenser=dispenser_named(dispenser),
        plate=plate,
        replicates=replicates,
        max_plates=max_plates,
        seed=seed,
    )
    frame = _read_designs(designs, loop.space.names)
    loop.space.validate(frame, file=str(designs), first_row=1)
    result = loop.plan(frame, _folder(output), 0)
    files = [str(result["layout_path"]), *(str(p) for p in result["build"])]
    if json_out:
        _dump({"files": files, "cost": result["cost"].to_dict("records")})
        return
    out.print(pd.DataFrame(result["cost"]).to_string(index=False))
    out.print("wrote " + ", ".join(files))


def _read_designs(path: Path, names: list[str]) -> Any:
    import pandas as pd

    if not path.is_file():
        raise InputError("designs file not found", file=str(path))
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError("cannot read designs", file=str(path), found=str(e)) from None
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InputError(
            "missing component column",
            file=str(path),
            column=missing[0],
            expected=f"columns {names}",
            found=list(frame.columns),
        )
    if len(frame) == 0:
        raise InputError("no designs", file=str(path), expected="at least one row")
    return frame[names]


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
    from biofab.cellfree.platereader import import_plates
    from biofab.core.atomic import require_folder

    require_folder(output)  # before anything is ingested: all or nothing
    result = import_plates(list(readings), layout)
    if campaign is not None:
        from biofab.campaign import Campaign
        from biofab.store import Store

        target = Campaign.load(campaign, store=Store(db, create=False))
        target.ingest(result.results, filename=",".join(str(r) for r in readings))
    result.to_csv(output)
    summary = {
        "designs": len(result.results),
        "outliers": len(result.outliers),
        "rule": result.rule,
        "qc": result.qc.to_dict("records"),
        "out": str(output),
    }
    if json_out:
        _dump(summary)
        return
    out.print(result.qc.to_string(index=False))
    out.print(f"{summary['designs']} designs, {summary['outliers']} outlier wells ({result.rule})")
    out.print(f"wrote {output}")
