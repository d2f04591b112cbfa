"""``biofab``: campaign, space and demo commands (Typer + Rich).

Every command is a thin wrapper over the Python API. Read commands take
``--json``. Bad input prints one line and exits with code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from biofab.cli import (
    gem_analysis,
    gem_design,
    gem_dfba,
    gem_ec,
    gem_reconstruct,
    parts_signal,
)
from biofab.cli.cellfree import cellfree_app
from biofab.cli.gem import gem_app
from biofab.cli.parts import parts_app
from biofab.cli.process import process_app
from biofab.core import BiofabError, Objective, Space

app = typer.Typer(
    help="biofab: AI-driven design-build-test-learn for biomanufacturing.", no_args_is_help=True
)
campaign_app = typer.Typer(help="Persistent DBTL campaigns.", no_args_is_help=True)
space_app = typer.Typer(help="Design spaces.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
app.add_typer(space_app, name="space")
app.add_typer(gem_app, name="gem")
app.add_typer(parts_app, name="parts")
app.add_typer(cellfree_app, name="cellfree")
app.add_typer(process_app, name="process")
for _commands in (gem_analysis, gem_design, gem_dfba, gem_ec, gem_reconstruct):
    _commands.register(gem_app)
parts_signal.register(parts_app)

out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="BIOFAB_DB", help="SQLAlchemy URL (default: sqlite:///biofab.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

RECOMMENDERS = ("auto", "sobol", "bo", "ucb", "mobo")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "isoformat"):
        return x.isoformat()
    return str(x)


def _table(frame: Any, title: str | None = None) -> Table:
    t = Table(title=title)
    for c in frame.columns:
        t.add_column(str(c), justify="right")
    for row in frame.itertuples(index=False):
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    return t


def _campaign(name: str, db: str | None) -> Any:
    from biofab.campaign import Campaign

    return Campaign.load(name, store=db)


@campaign_app.command("create")
def campaign_create(
    name: str,
    space: Annotated[Path, typer.Option("--space", help="Space YAML file.")],
    objective: Annotated[list[str], typer.Option("--objective", help="NAME:max|min|target=V[@W]")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a campaign over SPACE with one or more objectives."""
    from biofab.campaign import Campaign

    sp = Space.from_yaml(space)
    objs = [Objective.parse(o) for o in objective]
    c = Campaign.create(name, sp, list(objs), store=db)
    if json_out:
        _print_json(c.status())
    else:
        out.print(
            f"created campaign [bold]{name}[/]: {len(sp.names)} parameters, "
            f"objectives {', '.join(map(str, objs))}"
        )


@campaign_app.command("list")
def campaign_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List campaigns in the store."""
    from biofab.store import Store

    records = Store(db).list_campaigns()
    rows = [
        {"name": r.name, "created_at": r.created_at, "created_by": r.created_by} for r in records
    ]
    if json_out:
        _print_json(rows)
        return
    t = Table("name", "created", "by")
    for r in rows:
        t.add_row(str(r["name"]), str(r["created_at"])[:19], str(r["created_by"]))
    out.print(t)


@campaign_app.command("recommend")
def campaign_recommend(
    name: str,
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="Batch size.")] = 20,
    output: Annotated[Path | None, typer.Option("--out", help="Write the batch as CSV.")] = None,
    recommender: Annotated[str, typer.Option(help=f"One of {', '.join(RECOMMENDERS)}.")] = "auto",
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    candidates: Annotated[
        Path | None,
        typer.Option(help="CSV of the only designs to choose from (e.g. premixed stocks)."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Recommend the next batch of N designs (stored as a new round)."""
    from rich.status import Status

    from biofab.learn import BayesianOptimization, EnsembleUCB, MultiObjective, SpaceFilling

    choices = {
        "sobol": SpaceFilling,
        "bo": BayesianOptimization,
        "ucb": EnsembleUCB,
        "mobo": MultiObjective,
    }
    if recommender not in RECOMMENDERS:
        raise BiofabError(
            f"--recommender: expected one of {', '.join(RECOMMENDERS)}; found '{recommender}'"
        )
    c = _campaign(name, db)
    rec_obj = None if recommender == "auto" else choices[recommender]()
    pool = None if candidates is None else _read_candidates(c, candidates)
    with Status("fitting the model and choosing the batch...", console=err):
        rec = c.recommend(n, recommender=rec_obj, seed=seed, candidates=pool)
    frame = rec.to_frame()
    if output is not None:
        frame.to_csv(output, index=False)
    if json_out:
        _print_json(
            {
                "round": rec.notes["round"],
                "recommender": rec.recommender,
                "designs": frame.to_dict("records"),
            }
        )
        return
    out.print(_table(frame, title=f"round {rec.notes['round']}: {rec.recommender}"))
    if output is not None:
        out.print(f"wrote {len(frame)} designs to {output}")


def _read_candidates(campaign: Any, path: Path) -> Any:
    """A candidate CSV, every row checked against the campaign's space."""
    from biofab.campaign.results import read_table

    frame, _ = read_table(path)
    for name, p in campaign.space.parameters.items():
        if p.numeric and name in frame.columns:
            frame[name] = frame[name].apply(_maybe_float)
    return campaign.space.validate(frame, file=str(path))


def _maybe_float(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text  # validate() names the row and column


@campaign_app.command("ingest")
def campaign_ingest(
    name: str,
    results: Path,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add measurements from RESULTS (CSV: parameters, objective values, optional _std and _n)."""
    c = _campaign(name, db)
    res = c.ingest(results)
    data = {
        "file": str(results),
        "added_designs": res.added_designs,
        "added_measurements": res.added_measurements,
        "skipped": res.skipped,
        "duplicate_file": res.duplicate_file,
        "duplicate_of": res.duplicate_of,
    }
    if json_out:
        _print_json(data)
    elif res.duplicate_file:
        out.print(f"{results}: already imported as {res.duplicate_of}, nothing added")
    else:
        out.print(
            f"{results}: {res.added_measurements} measurements added "
            f"({res.skipped} already present)"
        )


@campaign_app.command("status")
def campaign_status(name: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Rounds, designs, pending results and the best design so far."""
    c = _campaign(name, db)
    st = c.status()
    if json_out:
        st["history"] = c.history().to_dict("records")
        _print_json(st)
        return
    out.print(f"[bold]{st['campaign']}[/] objectives {', '.join(st['objectives'])}")
    out.print(
        f"rounds {st['rounds']}, designs {st['designs']}, "
        f"measured {st['measured']}, pending {st['pending']}"
    )
    hist = c.history()
    if len(hist):
        out.print(_table(hist, title="best so far"))
    if st["best"]:
        out.print("best design: " + ", ".join(f"{k}={v}" for k, v in st["best"].items()))


@campaign_app.command("explain")
def campaign_explain(name: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Per-parameter importance (permutation) and error-bar calibration of the surrogates."""
    c = _campaign(name, db)
    importance = c.explain().reset_index()
    calibration = c.calibration()
    if json_out:
        _print_json(
            {
                "importance": importance.to_dict("records"),
                "calibration": calibration.to_dict("records"),
            }
        )
        return
    out.print(_table(importance, title="parameter importance (permutation, latest model)"))
    out.print(_table(calibration, title="calibration on 25 % held out (nominal 0.68 / 0.95)"))


@campaign_app.command("report")
def campaign_report(
    name: str,
    output: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path(
        "report.html"
    ),
    db: DbOption = None,
) -> None:
    """Write the self-contained HTML report (Plotly)."""
    c = _campaign(name, db)
    c.report(output)
    out.print(f"wrote {output}")


@space_app.command("check")
def space_check(path: Path, json_out: JsonOption = False) -> None:
    """Validate a space YAML and describe it."""
    sp = Space.from_yaml(path)
    if json_out:
        _print_json(sp.to_dict())
        return
    t = Table("parameter", "type", "range / choices", "step", "unit")
    for n, p in sp.parameters.items():
        d = p.to_dict()
        rng = d.get("choices") or (
            f"{d['lo']} .. {d['hi']}" if "lo" in d else f"length {d.get('length')}"
        )
        t.add_row(n, d["type"], str(rng), str(d.get("step", "")), str(d.get("unit", "")))
    out.print(t)
    for c in sp.constraints:
        out.print(f"constraint: {c.describe()}")


@app.command("demo")
def demo(
    data: Annotated[
        Path | None, typer.Option(help="Cell-free data folder to replay (Borkowski or METIS).")
    ] = None,
    rounds: Annotated[int, typer.Option(min=1)] = 6,
    batch: Annotated[int, typer.Option(min=1)] = 20,
    output: Annotated[Path, typer.Option("--out", help="HTML report.")] = Path("report.html"),
    seed: int = 0,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run a complete multi-round campaign on a built-in testbed and write the report."""
    import time

    from biofab.demo import run_demo

    t0 = time.perf_counter()
    if not json_out:
        out.print("[bold]biofab demo[/]: closed-loop campaign on a built-in testbed")
    result = run_demo(
        data=data,
        rounds=rounds,
        batch=batch,
        out=output,
        store=db,
        seed=seed,
        progress=not json_out,
    )
    hist = result.history
    if json_out:
        _print_json(
            {
                "campaign": result.campaign.name,
                "testbed": result.testbed,
                "report": str(result.report),
                "history": hist.to_dict("records"),
            }
        )
        return
    out.print(f"testbed: {result.testbed}")
    out.print(
        _table(
            hist.rename(
                columns={"n": "designs", "best": "best in round", "improvement": "x first round"}
            ),
            title=f"campaign {result.campaign.name}",
        )
    )
    out.print(f"wrote {result.report} in {time.perf_counter() - t0:.0f} s")


def main() -> None:
    """Entry point: one line and exit code 2 for bad input, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except BiofabError as e:
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(e.exit_code) from None
    except typer.Abort:
        raise SystemExit(1) from None
    except Exception as e:  # click usage errors carry their own exit codes
        import click

        if isinstance(e, click.ClickException):
            e.show()
            raise SystemExit(e.exit_code) from None
        raise
    if isinstance(code, int) and code:  # `typer.Exit(n)` returns n without standalone mode
        raise SystemExit(code)
