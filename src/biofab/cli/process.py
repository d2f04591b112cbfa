"""``biofab process``: simulate, fit, estimate, control and optimise fed-batch twins.

Argument parsing and printing only: each command builds a request of
:mod:`biofab.process.workflows`, runs it and prints its result (a summary, a table, or
``--json``). The workflow reads the scenario YAML and the batch data, computes everything
before writing, and writes its table (``--out``) and self-contained HTML report
(``--report``) atomically, so bad input (one line, exit code 2) never leaves a partial
output. Heavy modules are imported inside the commands so ``biofab --help`` stays fast.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from biofab.cli.process_predict import SetOption, parse_sets
from biofab.core.errors import InputError

process_app = typer.Typer(
    help="Fermentation twins: simulate, fit, estimate states, control the feed, optimise recipes.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ReportOption = Annotated[
    Path | None, typer.Option("--report", help="HTML report to write (self-contained).")
]
MappingOption = Annotated[
    Path | None, typer.Option("--mapping", help="Column-mapping YAML of the data file.")
]
ScenarioOption = Annotated[
    Path | None,
    typer.Option("--scenario", help="Scenario YAML giving the initial state and the recipe."),
]
MODEL_CHOICES = ("ecoli", "cho")


def _echo(text: str) -> None:
    from biofab.cli.console import console

    console().print(text, highlight=False)


def _table(frame: Any, title: str | None = None) -> None:
    from rich.table import Table

    from biofab.cli.console import console

    t = Table(title=title)
    for c in frame.columns:
        t.add_column(str(c), justify="right")
    for row in frame.itertuples(index=False):
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    console().print(t)


def _command() -> str:
    return "biofab process " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else ""


def _option(value: str, option: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InputError(f"{option}: unknown choice", expected=" | ".join(choices), found=value)
    return value


def _names(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(n.strip() for n in text.split(",") if n.strip())


def _x0_option(text: str | None, kind: str) -> dict[str, float]:
    """``X=0.2,S=10`` -> ``{"X": 0.2, "S": 10.0}`` (model state names and units)."""
    from biofab.process.scenario import MODELS

    # A declared (kinetics) model is known only once its file is read: the workflow
    # checks those names.
    states = MODELS[kind].states if kind in MODELS else None
    out: dict[str, float] = {}
    for item in [p.strip() for p in (text or "").split(",") if p.strip()]:
        name, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        known = states is None or name.strip() in states
        if not known or not (math.isfinite(number) and number >= 0):
            raise InputError(
                "--x0: bad initial value",
                expected=f"NAME=VALUE with NAME in {', '.join(states or ['the model'])}, "
                "VALUE >= 0",
                found=item,
            )
        out[name.strip()] = number
    return out


def _done(result: Any, json_out: bool) -> bool:
    """Print the result as JSON when asked; True when nothing else is to be printed."""
    if json_out:
        sys.stdout.write(result.to_json())
    return json_out


def _wrote(files: list[str]) -> None:
    for f in files:
        _echo(f"wrote {f}")


@process_app.command("simulate")
def simulate_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Trajectory CSV (time_h, states, inputs, outputs).")
    ] = None,
    report: ReportOption = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Write the synthetic measurements (long CSV; needs a measurements section).",
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Simulate SCENARIO: states, inputs and outputs over [0, t_end] h."""
    from biofab.process import workflows

    r = workflows.simulate(workflows.SimulateRequest(scenario, out, report, data, _command()))
    if _done(r, json_out):
        return
    model, traj, s = r.trajectory.model, r.trajectory, r.scenario
    _echo(f"[bold]{s.name}[/]: {model.name}, {s.t_end:g} h, {len(traj.events)} events fired")
    final = ", ".join(f"{k} = {v:.4g} {model.units.get(k, '')}" for k, v in traj.final.items())
    _echo(f"final state: {final}")
    _wrote(r.files)


@process_app.command("fit")
def fit_command(
    data: Annotated[Path, typer.Argument(help="Batch data CSV (long or wide).")],
    model: Annotated[str, typer.Option("--model", help="ecoli | cho | hybrid")],
    params: Annotated[
        str | None,
        typer.Option("--params", help="Comma-separated parameters to estimate (ecoli/cho)."),
    ] = None,
    mapping: MappingOption = None,
    scenario: ScenarioOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Fit result JSON.")] = None,
    report: ReportOption = None,
    x0: Annotated[
        str | None,
        typer.Option(
            "--x0", help="Initial state NAME=VALUE,... (over the scenario's or the t=0 readings)."
        ),
    ] = None,
    bands: Annotated[
        int, typer.Option("--bands", min=0, help="Simulations drawn for the prediction bands.")
    ] = 30,
    base: Annotated[
        str, typer.Option("--base", help="hybrid: mechanistic twin (ecoli | cho).")
    ] = "ecoli",
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", min=0, help="hybrid: training steps (default: the preset's)."),
    ] = None,
    preset: Annotated[
        str,
        typer.Option(
            "--preset",
            help="hybrid: rates (the networks correct the uptake, overflow and acetate uptake "
            "rates; 300 steps) or capacity (E. coli: the variant the hybrid benchmark "
            "selected, learned respiratory capacity, qS_max/Yxs/Kia refitted, the DO log "
            "read while training when every batch has one; 60 steps).",
        ),
    ] = "rates",
    ensemble: Annotated[int, typer.Option("--ensemble", min=1, help="hybrid: members.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="hybrid: initialisation seed.")] = 0,
    kinetics: Annotated[
        Path | None,
        typer.Option(
            "--kinetics", help="YAML declaring the rate laws (--model kinetics; see docs)."
        ),
    ] = None,
    sets: SetOption = None,
    save: Annotated[
        Path | None, typer.Option("--save", help="Saved fit JSON for process predict.")
    ] = None,
    input_step: Annotated[
        float, typer.Option("--input-step", help="Grid (h) logged inputs are averaged onto.")
    ] = 0.25,
    calibration_holdout: Annotated[
        float,
        typer.Option(
            "--calibration-holdout",
            help="With --save: refit on all but this last fraction of each batch's time and "
            "widen the saved bands by the forecast errors on it (0: in-sample residuals).",
        ),
    ] = 0.0,
    band_calibration: Annotated[
        str | None,
        typer.Option(
            "--band-calibration",
            help="hybrid, with --save: residuals the saved band is calibrated on: training "
            "(in-sample), lobo (each batch left out in turn: one refit per batch), upward (the "
            "most-fed batch left out: one refit), forecast (the last --calibration-holdout "
            "of each batch, 0.25 if not given: one refit). Default: training.",
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Estimate model parameters (with 95 % CIs and identifiability flags) from DATA, or train
    a hybrid model (``--model hybrid``)."""
    from biofab.process import workflows

    _option(model, "--model", (*MODEL_CHOICES, "kinetics", "hybrid"))
    if model == "kinetics" and kinetics is None and scenario is None:
        raise InputError(
            "--model kinetics needs --kinetics FILE (or a scenario with model: kinetics)"
        )
    if kinetics is not None and model != "kinetics":
        raise InputError("--kinetics declares a model: use it with --model kinetics", found=model)
    if preset != "rates" and model != "hybrid":
        raise InputError(
            "--preset chooses a hybrid's settings: use it with --model hybrid", found=model
        )
    if band_calibration is not None and model != "hybrid":
        raise InputError(
            "--band-calibration is for --model hybrid (a mechanistic fit widens its saved "
            "band with --calibration-holdout)",
            found=model,
        )
    if model == "hybrid":
        _option(base, "--base", MODEL_CHOICES)
        if band_calibration is not None:
            from biofab.process.saved_hybrid import BAND_CALIBRATIONS

            _option(band_calibration, "--band-calibration", BAND_CALIBRATIONS)
        h = workflows.fit_hybrid(
            workflows.HybridFitRequest(
                data,
                base,
                mapping=mapping,
                scenario=scenario,
                x0=_x0_option(x0, base),
                epochs=epochs,
                ensemble=ensemble,
                seed=seed,
                out=out,
                report=report,
                command=_command(),
                save=save,
                preset=preset,
                set=parse_sets(sets),
                input_step=input_step,
                band_calibration=band_calibration,
                calibration_holdout=calibration_holdout or 0.25,
                progress=not json_out,
            )
        )
        if _done(h, json_out):
            return
        _echo(h.name)
        _table(h.to_frame(), "training RMSE per state")
        _wrote(h.files)
        return
    if not _names(params):
        raise InputError("--params: name at least one parameter to estimate", found=params)
    r = workflows.fit(
        workflows.FitRequest(
            data,
            model,
            _names(params) or (),
            mapping=mapping,
            scenario=scenario,
            x0=_x0_option(x0, model),
            bands=bands,
            out=out,
            report=report,
            command=_command(),
            kinetics=kinetics,
            set=parse_sets(sets),
            save=save,
            input_step=input_step,
            progress=not json_out,
            calibration_holdout=calibration_holdout,
        )
    )
    if _done(r, json_out):
        return
    _echo(r.fit.summary())
    _wrote(r.files)


@process_app.command("estimate")
def estimate_command(
    data: Annotated[Path, typer.Argument(help="Batch data CSV (long or wide).")],
    model: Annotated[str, typer.Option("--model", help="ecoli | cho")],
    filter_: Annotated[str, typer.Option("--filter", help="ekf | ukf")] = "ekf",
    mapping: MappingOption = None,
    scenario: ScenarioOption = None,
    online: Annotated[
        str | None,
        typer.Option("--online", help="Online signals used (model names; default all logged)."),
    ] = None,
    offline: Annotated[
        str | None,
        typer.Option("--offline", help="Offline samples fused (default all sampled states)."),
    ] = None,
    estimate: Annotated[
        str | None,
        typer.Option("--estimate", help="Parameters tracked as random walks (e.g. qS_max)."),
    ] = None,
    x0: Annotated[
        str | None,
        typer.Option(
            "--x0", help="Initial guess NAME=VALUE,... (else the scenario's, else t=0 readings)."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Estimates CSV.")] = None,
    report: ReportOption = None,
    json_out: JsonOption = False,
) -> None:
    """Soft sensor: estimate every state (± σ) and the growth rate from DATA's online signals,
    fusing offline samples when they arrive; reports NIS consistency."""
    from biofab.process import workflows

    _option(model, "--model", MODEL_CHOICES)
    _option(filter_, "--filter", ("ekf", "ukf"))
    r = workflows.estimate(
        workflows.EstimateRequest(
            data,
            model,
            filter_,
            mapping=mapping,
            scenario=scenario,
            online=_names(online),
            offline=_names(offline),
            estimate=_names(estimate) or (),
            x0=_x0_option(x0, model),
            out=out,
            report=report,
            command=_command(),
        )
    )
    if _done(r, json_out):
        return
    _table(r.consistency, "NIS consistency")
    if len(r.offline_rmse):
        _table(r.offline_rmse, "estimate vs offline samples")
    _wrote(r.files)


@process_app.command("control")
def control_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML with a control section.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Plant trajectories CSV (one block per run).")
    ] = None,
    report: ReportOption = None,
    json_out: JsonOption = False,
) -> None:
    """Closed-loop NMPC of the feed on a simulated plant (mismatched parameters), with an EKF
    state estimate and online re-fitting; optional exponential-feed reference."""
    from biofab.process import workflows

    r = workflows.control(workflows.ControlRequest(scenario, out, report, _command()))
    if _done(r, json_out):
        return
    _table(r.metrics, "closed loop (product in g, DO deficit in %-points, volume over in L)")
    _wrote(r.files)


@process_app.command("optimize")
def optimize_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML with an optimize section.")],
    budget: Annotated[int, typer.Option("--budget", min=2, help="Bioreactor runs in total.")],
    batch: Annotated[
        int | None, typer.Option("--batch", min=1, help="Parallel bioreactors per round.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Optimiser seed.")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Processes simulating in parallel.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Evaluated recipes CSV.")] = None,
    report: ReportOption = None,
    json_out: JsonOption = False,
) -> None:
    """Bayesian optimisation of the recipe knobs in the optimize section (feed mu_set, F0,
    temperature, induction time ...) on the scenario's twin, BATCH bioreactors per round."""
    from biofab.process import workflows

    r = workflows.optimize(
        workflows.OptimizeRequest(
            scenario,
            budget,
            batch=batch,
            seed=seed,
            workers=workers,
            out=out,
            report=report,
            progress=not json_out,
            command=_command(),
        )
    )
    if _done(r, json_out):
        return
    _echo(
        f"best {r.objective} = {r.best_value:.4g} {r.unit} after {len(r.history)} runs: "
        + ", ".join(f"{k} = {v:.4g}" for k, v in r.best.items())
    )
    _wrote(r.files)
