"""``biofab``: campaign, space and demo commands (Typer + Rich).

Every command is a thin wrapper over the Python API. Read commands take
``--json``. Bad input prints one line and exits with code 2.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table

from biofab.cli.console import console
from biofab.cli.jobs import jobs_app
from biofab.cli.pillars import PillarGroup
from biofab.cli.replay import replay, space_infer
from biofab.cli.serve import serve
from biofab.core.errors import BiofabError
from biofab.learn.registry import make_recommender, recommender_names

# The pillars' groups (gem, parts, ...) come from the plug-in registry (entry points
# `biofab.pillars`), listed by PillarGroup and imported only when invoked.
app = typer.Typer(
    cls=PillarGroup,
    help="biofab: AI-driven design-build-test-learn for biomanufacturing.",
    no_args_is_help=True,
)
campaign_app = typer.Typer(help="Persistent DBTL campaigns.", no_args_is_help=True)
space_app = typer.Typer(help="Design spaces.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
app.add_typer(space_app, name="space")
app.command("serve")(serve)
app.add_typer(jobs_app, name="jobs")
app.command("replay")(replay)
space_app.command("infer")(space_infer)

out = console()
err = console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"biofab {installed_version()}\n")
        raise typer.Exit()


def installed_version() -> str:
    """The installed distribution's version (``unknown`` for a source tree never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("biofab")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    # Options of `biofab` itself; the commands are the sub-apps above.
    return None


DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="BIOFAB_DB", help="SQLAlchemy URL (default: sqlite:///biofab.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _print_json(data: Any) -> None:
    """Strict JSON: NaN and infinities (a space-filling round has no prediction) as null."""
    from biofab.core.jsonable import plain

    sys.stdout.write(json.dumps(plain(data), indent=2, default=_jsonable) + "\n")


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "isoformat"):
        return x.isoformat()
    return str(x)


def _table(frame: Any, title: str | None = None) -> Table:
    """A Rich table of a DataFrame, or of records (a list of dicts with the same keys)."""
    t = Table(title=title)
    if isinstance(frame, list):
        columns, rows = list(frame[0]) if frame else [], [list(r.values()) for r in frame]
    else:
        columns, rows = list(frame.columns), list(frame.itertuples(index=False))
    for c in columns:
        t.add_column(str(c), justify="right")
    for row in rows:
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    return t


def _campaign(name: str, db: str | None) -> Any:
    """An existing campaign; a missing database is an error, never created here."""
    from biofab.campaign import Campaign
    from biofab.store import Store

    return Campaign.load(name, store=Store(db, create=False))


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
    from biofab.core import Objective, Space

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

    records = Store(db, create=False).list_campaigns()
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
    recommender: Annotated[
        str, typer.Option(help=f"One of {', '.join(recommender_names())}.")
    ] = "auto",
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    candidates: Annotated[
        Path | None,
        typer.Option(help="CSV of the only designs to choose from (e.g. premixed stocks)."),
    ] = None,
    record_calibration: Annotated[
        bool,
        typer.Option(
            "--record-calibration/--no-record-calibration",
            help="Scale the batch's reported std by the factor earlier rounds' measured "
            "picks ask for (the choice is not changed).",
        ),
    ] = True,
    prior: Annotated[
        Path | None,
        typer.Option(
            "--prior",
            help="Site libraries: CSV of prior scores (columns site, residue, score; higher = "
            "fitter) for the variant recommender's prior mean, its weight fitted each round.",
        ),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Recommend the next batch of N designs (stored as a new round)."""
    from rich.status import Status

    from biofab.campaign.site_prior import read_site_prior
    from biofab.core.atomic import require_folder, write_atomic

    rec_obj = make_recommender(recommender)  # None for "auto": the campaign's default
    if output is not None:
        require_folder(output)  # before a round is stored
    c = _campaign(name, db)
    pool = None if candidates is None else _read_candidates(c, candidates)
    table = None if prior is None else read_site_prior(prior, c.space)
    with Status("fitting the model and choosing the batch...", console=err):
        rec = c.recommend(
            n,
            recommender=rec_obj,
            seed=seed,
            candidates=pool,
            record_calibration=record_calibration,
            prior=table,
        )
    frame = rec.to_frame()
    if output is not None:
        write_atomic(output, frame.to_csv(index=False))
    if json_out:
        _print_json(
            {
                "round": rec.notes["round"],
                "recommender": rec.recommender,
                "record_scale": rec.notes.get("record_scale", {}),
                **({} if prior is None else {"site_prior": rec.notes.get("site_prior")}),
                "designs": frame.to_dict("records"),
            }
        )
        return
    out.print(_table(frame, title=f"round {rec.notes['round']}: {rec.recommender}"))
    for o, f in rec.notes.get("record_scale", {}).items():
        out.print(f"std_{o} x {f:.2f}: the factor earlier rounds' measured picks ask for")
    used = rec.notes.get("site_prior")
    if used is not None:
        out.print(
            f"prior {prior}: weight {used['weight']:.2f} (0: the data contradict it)"
            if used["used"]
            else f"prior {prior}: not used this round ({used['why']})"
        )
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
    st = _campaign(name, db).status(history=True)
    if json_out:
        _print_json(st)
        return
    out.print(f"[bold]{st['campaign']}[/] objectives {', '.join(st['objectives'])}")
    out.print(
        f"rounds {st['rounds']}, designs {st['designs']}, "
        f"measured {st['measured']}, pending {st['pending']}"
    )
    if st["history"]:
        out.print(_table(st["history"], title="best so far"))
    if st["best"]:
        out.print("best design: " + ", ".join(f"{k}={v}" for k, v in st["best"].items()))


@campaign_app.command("explain")
def campaign_explain(
    name: str,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Per-parameter importance (permutation) and error-bar calibration of the surrogates."""
    from biofab.core import NotEnoughDataError

    c = _campaign(name, db)
    importance = c.explain().reset_index()
    try:
        calibration, skipped = c.calibration(), None
    except NotEnoughDataError as e:  # importance needs 2 designs, a held-out split 8
        calibration, skipped = None, str(e)
    data = c.data()  # one read serves both record views
    by_round = c.record_calibration(data)
    # NaN (no usable record) is not JSON: None
    factors = {
        o: {k: None if isinstance(v, float) and v != v else v for k, v in f.to_dict().items()}
        for o, f in c.record_scales(data).items()
    }
    if json_out:
        _print_json(
            {
                "importance": importance.to_dict("records"),
                "calibration": [] if calibration is None else calibration.to_dict("records"),
                **({"calibration_skipped": skipped} if skipped else {}),
                "record_calibration": by_round.to_dict("records"),
                "next_record_scale": factors,
            }
        )
        return
    out.print(_table(importance, title="parameter importance (permutation, model of the data)"))
    if calibration is None:
        out.print(f"calibration skipped: {skipped}")
    else:
        out.print(
            _table(
                calibration,
                title="calibration: 25 % held out, then out-of-fold (5 folds) before and "
                "after recalibration (nominal 0.68 / 0.95)",
            )
        )
    if len(by_round):
        out.print(
            _table(
                by_round,
                title="each round's error bars on its own measured picks, before and with "
                "the record factor (nominal 0.68)",
            )
        )
    for o, f in factors.items():
        if f["n"]:
            out.print(
                f"next batch: std_{o} x {f['scale']:.2f} (from {f['n']} measured picks, "
                f"{f['raw']:.2f} before shrinkage toward 1)"
            )


@campaign_app.command("report")
def campaign_report(
    name: str,
    output: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path(
        "report.html"
    ),
    db: DbOption = None,
) -> None:
    """Write the self-contained HTML report (Plotly)."""
    from biofab.core.atomic import require_folder
    from biofab.report import write_report

    require_folder(output)
    c = _campaign(name, db)
    write_report(c, output)
    out.print(f"wrote {output}")


@space_app.command("check")
def space_check(path: Path, json_out: JsonOption = False) -> None:
    """Validate a space YAML and describe it."""
    from biofab.core import Space

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


@app.command("pillars")
def pillars(json_out: JsonOption = False) -> None:
    """Installed pillars (plug-ins): command, testbeds, scenario kinds, report sections."""
    from biofab.core import plugins

    rows: list[dict[str, Any]] = [
        {
            "name": p.name,
            "command": p.command if p.cli is not None else None,
            "help": p.help,
            "testbeds": sorted(p.testbeds),
            "scenarios": sorted(p.scenarios),
            "report_sections": [s.name for s in p.report_sections],
        }
        for p in plugins.pillars()
    ]
    if json_out:
        _print_json(rows)
        return
    t = Table("pillar", "command", "testbeds", "scenarios", "report sections")
    for r in rows:
        t.add_row(
            r["name"],
            str(r["command"] or ""),
            ", ".join(r["testbeds"]),
            ", ".join(r["scenarios"]),
            ", ".join(r["report_sections"]),
        )
    out.print(t)


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
        progress=True,  # stderr: --json keeps stdout pure
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


def _click_exception() -> Any:  # type[click.ClickException] of whichever click typer uses
    """The ``ClickException`` class typer raises through: typer up to 0.20 uses the
    ``click`` package (Flower pins typer < 0.21), later releases their own copy;
    both reach it through ``typer.BadParameter``'s bases."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "ClickException":
            return cls
    raise RuntimeError("typer.BadParameter does not derive from a ClickException")


_USAGE_ERROR = _click_exception()


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line and exit code 2 for bad input, never a traceback.

    Typer runs without its standalone mode so that every error comes back here
    and is printed once, the same way: ``error: <command>: <message>``.
    """
    try:
        code = app(args=argv, prog_name="biofab", standalone_mode=False)
    except BiofabError as e:
        _fail(str(e), e.exit_code)
    except typer.Abort:
        raise SystemExit(1) from None
    except _USAGE_ERROR as e:  # click's usage errors (NoSuchOption, BadParameter, ...)
        ctx = getattr(e, "ctx", None)
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare group: its help is the answer
            sys.stderr.write(e.format_message() + "\n")
            raise SystemExit(e.exit_code) from None
        where = ctx.command_path if ctx is not None else "biofab"
        message = e.format_message().rstrip(".")
        found = _option_value(getattr(e, "param", None), sys.argv[1:] if argv is None else argv)
        if found is not None and f"found {found!r}" not in message:
            message += f"; found {found!r}"
        hint = f" (see '{where} --help')" if ctx is not None else ""
        _fail(f"{where}: {message}{hint}", e.exit_code)
    except (UnicodeDecodeError, csv.Error) as e:  # a reader that missed its own check
        _fail(f"unreadable input: {e}", 2)
    except OSError as e:
        if isinstance(e, BrokenPipeError):  # `biofab ... | head`: the reader left
            raise SystemExit(1) from None
        where = f"{e.filename}: " if e.filename is not None else ""
        _fail(f"{where}{(e.strerror or str(e)).lower()}", 2)
    if isinstance(code, int) and code:  # `typer.Exit(n)` returns n without standalone mode
        raise SystemExit(code)


def _option_value(param: Any, args: list[str]) -> str | None:
    """What the user typed for the option ``param`` (click keeps only the message)."""
    names = [o for o in getattr(param, "opts", []) if o.startswith("-")]
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return None


def _fail(message: str, code: int) -> NoReturn:
    """Print one line (never wrapped, never marked up) and exit with ``code``."""
    line = " ".join(message.split())
    sys.stderr.write(f"error: {line}\n")
    raise SystemExit(code) from None
