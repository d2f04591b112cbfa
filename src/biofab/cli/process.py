"""``biofab process``: simulate, fit, estimate, control and optimise fed-batch twins.

Each command reads a scenario YAML (:mod:`biofab.process.scenario`) and/or batch data
(:func:`biofab.process.batchdata.read_batches`, long or wide CSV + optional mapping YAML),
writes its table (``--out``) and a self-contained HTML report (``--report``) with the
trajectories: measured points as markers, model lines with shaded bands. Everything is
computed before anything is written, and files are written atomically, so bad input (one
line, exit code 2) never leaves a partial output. Heavy modules are imported inside the
commands so ``biofab --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from biofab.core.errors import BiofabError, InputError

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


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    return str(x)


def _echo(text: str) -> None:
    from rich.console import Console

    Console().print(text, highlight=False)


def _table(frame: Any, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in frame.columns:
        t.add_column(str(c), justify="right")
    for row in frame.itertuples(index=False):
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    Console().print(t)


def _command() -> str:
    return "biofab process " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else ""


def _write(files: dict[Path | None, str]) -> list[str]:
    """Write every (path, text) atomically, only once all are computed."""
    from biofab.core.atomic import write_atomic

    written = []
    for path, text in files.items():
        if path is not None:
            write_atomic(path, text)
            written.append(str(path))
    return written


def _distinct(*paths: Path | None) -> None:
    given = [p.resolve() for p in paths if p is not None]
    if len(set(given)) != len(given):
        raise InputError("two outputs name the same file", found=[str(p) for p in paths if p])


def _load_scenario(path: Path) -> Any:
    from biofab.process.scenario import Scenario

    return Scenario.from_yaml(path)


def _not_available(command: str, module: str, err: Exception) -> BiofabError:
    return BiofabError(
        f"`biofab process {command}` is not available yet: {module} could not be imported ({err})"
    )


# ---------------------------------------------------------------------------------------
# simulate
# ---------------------------------------------------------------------------------------


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
    from biofab.process.batchdata import write_batches
    from biofab.process.scenario import batch_frames

    _distinct(out, report, data)
    s = _load_scenario(scenario)
    if data is not None and s.measurements is None:
        raise InputError("--data needs a measurements section in the scenario", file=str(scenario))
    traj = s.simulate()
    batch = s.measure(traj) if s.measurements is not None else None
    files: dict[Path | None, str] = {}
    if out is not None:
        files[out] = traj.frame.to_csv(index=False, float_format="%.8g")
    if report is not None:
        from biofab.process.report import simulation_page

        measured = []
        if batch is not None:
            on, off = batch_frames(s.model, batch)
            measured = [on.drop(columns=[c for c in ("F", "T") if c in on]), off]
        files[report] = simulation_page(s, traj, measured, _command())
    written = _write(files)
    if data is not None and batch is not None:
        write_batches([batch], data, format="long")
        written.append(str(data))
    model = traj.model
    summary = {
        "scenario": s.name,
        "model": model.name,
        "t_end_h": s.t_end,
        "rows": len(traj),
        "final": traj.final,
        "units": {k: model.units.get(k, "") for k in model.states},
        "events": traj.events.to_dict("records"),
        "files": written,
    }
    if json_out:
        _print_json(summary)
        return
    _echo(f"[bold]{s.name}[/]: {model.name}, {s.t_end:g} h, {len(traj.events)} events fired")
    final = ", ".join(f"{k} = {v:.4g} {model.units.get(k, '')}" for k, v in traj.final.items())
    _echo(f"final state: {final}")
    for f in written:
        _echo(f"wrote {f}")


# ---------------------------------------------------------------------------------------
# data -> experiments
# ---------------------------------------------------------------------------------------


def _read(data: Path, mapping: Path | None) -> list[Any]:
    from biofab.process.batchdata import read_batches

    return read_batches(data, mapping)


def _recipe_from_data(kind: str, batch: Any, online: Any) -> tuple[dict[str, Any], list[Any]]:
    """Inputs logged online (feed, temperature; held between readings) and an induction at
    the batch's ``induction_h`` metadata."""
    from biofab.process.scenario import MODELS
    from biofab.process.simulate import Induction, Piecewise

    inputs: dict[str, Any] = {}
    for name in MODELS[kind].inputs:
        if name in online and online[name].notna().any():
            col = online[["time_h", name]].dropna()
            inputs[name] = Piecewise(col["time_h"], col[name], kind="hold")
    events = []
    ind = batch.metadata.get("induction_h")
    if ind is not None and "ind" in MODELS[kind].inputs:
        events.append(Induction(float(ind)))
    return inputs, events


def _x0_from_data(
    kind: str, batch: Any, online: Any, offline: Any, given: dict[str, float] | None = None
) -> dict[str, float]:
    """Initial state: ``--x0`` values, else the readings at the batch's first time."""
    from biofab.process.scenario import MODELS

    states = MODELS[kind].states
    t0 = float(min(online["time_h"].min(), offline["time_h"].min()))
    x0: dict[str, float] = dict(given or {})
    for s in [s for s in states if s not in x0]:
        for frame in (online, offline):
            if s in frame:
                at = frame.loc[(frame["time_h"] - t0).abs() < 1e-9, s].dropna()
                if len(at):
                    x0[s] = float(at.iloc[0])
                    break
    missing = [s for s in states if s not in x0]
    if missing:
        raise InputError(
            f"batch '{batch.batch_id}': initial state unknown for {', '.join(missing)} "
            f"(no reading at t = {t0:g} h); give --x0 NAME=VALUE,... or --scenario",
            expected=", ".join(states),
        )
    if t0 > 1e-9:
        raise InputError(
            f"batch '{batch.batch_id}' starts at t = {t0:g} h; simulations start at 0: "
            "give --scenario with the initial state and recipe"
        )
    return x0


def _experiments(
    kind: str, batches: list[Any], scenario: Any, given: dict[str, float] | None = None
) -> list[Any]:
    """One :class:`~biofab.process.fit.Experiment` per batch: offline samples of states
    (model names and units), the initial state and the recipe."""
    import numpy as np

    from biofab.process.fit import Experiment
    from biofab.process.scenario import MODELS, batch_frames

    states = MODELS[kind].states
    out = []
    for batch in batches:
        online, offline = batch_frames(kind, batch)
        cols = [c for c in states if c in offline and offline[c].notna().any()]
        if not cols:
            raise InputError(
                f"batch '{batch.batch_id}' has no offline samples of a state of the {kind} twin",
                expected=", ".join(states),
                found=", ".join(batch.offline_signals) or "none",
            )
        samples = offline[["time_h", *cols]].dropna(how="all", subset=cols)
        plan = scenario.measurements if scenario is not None else None
        for c in cols:
            # the plan's noise model weights the samples (e.g. 5 % relative error)
            noise = plan.offline.get(c) or plan.online.get(c) if plan is not None else None
            if noise is not None:
                samples[f"{c}_std"] = np.maximum(noise.sigma(samples[c].to_numpy()), 1e-6)
        if scenario is not None:
            x0 = {**scenario.initial, **(given or {})}
            inputs, events = scenario.inputs, scenario.events
        else:
            x0 = _x0_from_data(kind, batch, online, offline, given)
            inputs, events = _recipe_from_data(kind, batch, online)
        t_end = max(
            float(samples["time_h"].max()), float(online["time_h"].max() if len(online) else 0)
        )
        if scenario is not None:
            t_end = max(t_end, scenario.t_end)
        out.append(Experiment(samples, x0, inputs, tuple(events), str(batch.batch_id), t_end))
    return out


def _check_scenario_model(scenario: Any, kind: str, path: Path | None) -> None:
    if scenario is not None and scenario.model != kind:
        raise InputError(
            "--model and the scenario's model differ",
            file=str(path),
            expected=kind,
            found=scenario.model,
        )


# ---------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------


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
    epochs: Annotated[int, typer.Option("--epochs", min=0, help="hybrid: training steps.")] = 300,
    ensemble: Annotated[int, typer.Option("--ensemble", min=1, help="hybrid: members.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="hybrid: initialisation seed.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Estimate model parameters (with 95 % CIs and identifiability flags) from DATA, or train
    a hybrid model (``--model hybrid``)."""
    if model not in (*MODEL_CHOICES, "hybrid"):
        raise InputError("--model: unknown model", expected="ecoli | cho | hybrid", found=model)
    _distinct(out, report)
    s = _load_scenario(scenario) if scenario is not None else None
    if model == "hybrid":
        given = _x0_option(x0, base) if base in MODEL_CHOICES else {}
        _fit_hybrid(
            data, mapping, s, scenario, base, given, epochs, ensemble, seed, out, report, json_out
        )
        return
    import numpy as np

    from biofab.process.fit import fit
    from biofab.process.report import Run, fit_page

    names = [p.strip() for p in (params or "").split(",") if p.strip()]
    if not names:
        raise InputError("--params: name at least one parameter to estimate", found=params)
    _check_scenario_model(s, model, scenario)
    twin = s.build_model() if s is not None else _twin(model)
    twin.param_vector(dict.fromkeys(names, 1.0))  # unknown names fail before reading data
    exps = _experiments(model, _read(data, mapping), s, _x0_option(x0, model))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = fit(twin, exps, names)
        runs, variables = [], []
        for e in exps:
            t = np.linspace(0.0, float(e.t_end or e.data["time_h"].max()), 121)
            pred = res.predict(e, t_eval=t, n_samples=bands) if report is not None else None
            runs.append(Run(e.name, pred, e.data))
            variables += [c for c in e.data.columns if c != "time_h" and c not in variables]
    table = res.table_
    summary = {
        "samples": res.n_obs_,
        "degrees of freedom": res.dof_,
        "residual variance s2": res.s2_,
        "converged": res.success_,
        "function evaluations": res.nfev_,
    }
    result = {
        "model": twin.name,
        "parameters": table.to_dict("records"),
        "correlation": res.corr_.round(6).to_dict(),
        "s2": res.s2_,
        "n_obs": res.n_obs_,
        "dof": res.dof_,
        "converged": res.success_,
        "message": res.message_,
        "batches": [e.name for e in exps],
    }
    files: dict[Path | None, str] = {}
    if out is not None:
        files[out] = json.dumps(result, indent=2, default=_jsonable) + "\n"
    if report is not None:
        shown = [v for v in twin.states if v in variables] + [
            v for v in ("X", "S", "P") if v in twin.states and v not in variables
        ]
        files[report] = fit_page(twin, table, runs, shown, summary, res.corr_, _command())
    written = _write(files)
    if json_out:
        _print_json({**result, "files": written})
        return
    _echo(res.summary())
    for f in written:
        _echo(f"wrote {f}")


def _twin(kind: str) -> Any:
    from biofab.process.scenario import make_model

    return make_model(kind)


def _fit_hybrid(
    data: Path,
    mapping: Path | None,
    s: Any,
    scenario: Path | None,
    base: str,
    given: dict[str, float],
    epochs: int,
    ensemble: int,
    seed: int,
    out: Path | None,
    report: Path | None,
    json_out: bool,
) -> None:
    if base not in MODEL_CHOICES:
        raise InputError("--base: unknown twin", expected="ecoli | cho", found=base)
    _check_scenario_model(s, base, scenario)
    try:
        from biofab.process.hybrid import HybridModel
    except ImportError as err:
        raise _not_available("fit --model hybrid", "biofab.process.hybrid", err) from None
    import numpy as np
    import pandas as pd

    from biofab.process.report import Run, fit_page

    twin = s.build_model() if s is not None else _twin(base)
    exps = _experiments(base, _read(data, mapping), s, given)
    learned = ("mu", "qS", "qA_prod", "qA_cons") if base == "ecoli" else ("mu", "qGlc", "qLac")
    hybrid = HybridModel(twin, learned, ensemble=ensemble, epochs=epochs, seed=seed)
    hybrid.fit(exps)
    rmse = hybrid.rmse(exps)
    runs, variables = [], []
    for e in exps:
        t = np.linspace(0.0, float(e.t_end or e.data["time_h"].max()), 121)
        mean, std = hybrid.predict(e.x0, e.inputs, t, e.events)
        for c in twin.states:
            mean[f"{c}_lo"] = mean[c] - 2 * std[c]
            mean[f"{c}_hi"] = mean[c] + 2 * std[c]
        runs.append(Run(e.name, mean, e.data))
        variables += [c for c in e.data.columns if c != "time_h" and c not in variables]
    result = {
        "model": f"hybrid ({twin.name}, learned {', '.join(learned)})",
        "rmse": rmse,
        "ensemble": ensemble,
        "epochs": epochs,
        "batches": [e.name for e in exps],
    }
    table = pd.DataFrame(
        [{"state": k, "rmse": v, "unit": twin.units.get(k, "")} for k, v in rmse.items()]
    )
    files: dict[Path | None, str] = {}
    if out is not None:
        files[out] = json.dumps(result, indent=2, default=_jsonable) + "\n"
    if report is not None:
        shown = [v for v in twin.states if v in variables]
        summary = {"ensemble members": ensemble, "training steps": epochs}
        files[report] = fit_page(twin, table, runs, shown, summary, None, _command())
    written = _write(files)
    if json_out:
        _print_json({**result, "files": written})
        return
    _echo(str(result["model"]))
    _table(table, "training RMSE per state")
    for f in written:
        _echo(f"wrote {f}")


# ---------------------------------------------------------------------------------------
# estimate
# ---------------------------------------------------------------------------------------


def _x0_option(text: str | None, kind: str) -> dict[str, float]:
    """``X=0.2,S=10`` -> ``{"X": 0.2, "S": 10.0}`` (model state names and units)."""
    from biofab.process.scenario import MODELS

    out: dict[str, float] = {}
    for item in [p.strip() for p in (text or "").split(",") if p.strip()]:
        name, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if name.strip() not in MODELS[kind].states or not (math.isfinite(number) and number >= 0):
            raise InputError(
                "--x0: bad initial value",
                expected=f"NAME=VALUE with NAME in {', '.join(MODELS[kind].states)}, VALUE >= 0",
                found=item,
            )
        out[name.strip()] = number
    return out


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


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
    if model not in MODEL_CHOICES:
        raise InputError("--model: unknown model", expected="ecoli | cho", found=model)
    if filter_ not in ("ekf", "ukf"):
        raise InputError("--filter: unknown filter", expected="ekf | ukf", found=filter_)
    _distinct(out, report)
    s = _load_scenario(scenario) if scenario is not None else None
    _check_scenario_model(s, model, scenario)
    import numpy as np
    import pandas as pd

    from biofab.process.report import Run, estimate_page
    from biofab.process.scenario import batch_frames
    from biofab.process.softsensor import SoftSensor

    twin = s.build_model() if s is not None else _twin(model)
    frames, consistency, errors, runs = [], [], [], []
    for batch in _read(data, mapping):
        on, off = batch_frames(model, batch)
        on_names = _names(online) or [
            c for c in on.columns if c in (*twin.states, *twin.outputs) and on[c].notna().any()
        ]
        off_names = _names(offline) or [
            c for c in off.columns if c in twin.states and c not in on_names
        ]
        if not on_names and not off_names:
            raise InputError(f"batch '{batch.batch_id}' has no signal the {model} twin knows")
        wide = on.merge(off, on="time_h", how="outer", suffixes=("", "_offline"))
        wide = wide.sort_values("time_h").reset_index(drop=True)
        for name in (*on_names, *off_names):
            if name not in wide:
                raise InputError(
                    f"batch '{batch.batch_id}' lacks the signal",
                    column=name,
                    found=", ".join(c for c in wide.columns if c != "time_h"),
                )
        missing_inputs = [u for u in twin.inputs if u not in wide]
        if missing_inputs:
            schedule = _schedule(s, twin, batch, wide["time_h"])
            for u in missing_inputs:
                wide[u] = schedule[u].to_numpy()
        guess = _x0_option(x0, model)
        start = (
            {**s.initial, **guess} if s is not None else _x0_from_data(model, batch, on, off, guess)
        )
        stds = _stds(s, wide, on_names, off_names)
        sensor = SoftSensor(
            twin,
            filter_,  # type: ignore[arg-type]
            online=on_names,
            offline=off_names,
            estimate=_names(estimate) or (),
            x0=start,
            online_std={n: stds[n] for n in on_names},
            offline_std={n: stds[n] for n in off_names},
            biomass="X" if model == "ecoli" else "Xv",
            columns={},
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = sensor.run(wide)
        frame = est.frame.copy()
        frame.insert(0, "batch", batch.batch_id)
        frames.append(frame)
        for label, c in est.consistency.items():
            consistency.append(
                {
                    "batch": batch.batch_id,
                    "updates": label,
                    "n": c.n_updates,
                    "mean NIS": c.nis_mean,
                    "95 % band low": c.lower,
                    "95 % band high": c.upper,
                    "consistent": c.consistent,
                }
            )
        line = est.frame.copy()
        for c in (*twin.states, "mu"):
            line[f"{c}_lo"] = line[c] - 2 * line[f"{c}_std"]
            line[f"{c}_hi"] = line[c] + 2 * line[f"{c}_std"]
        measured = wide[["time_h", *[n for n in (*on_names, *off_names) if n in twin.states]]]
        runs.append(Run(str(batch.batch_id), line, measured))
        for name in off_names:
            samples = wide[["time_h", name]].dropna()
            if name in twin.states and len(samples):
                guess = np.interp(samples["time_h"], est.frame["time_h"], est.frame[name])
                errors.append(
                    {
                        "batch": batch.batch_id,
                        "state": name,
                        "samples": len(samples),
                        "rmse": float(np.sqrt(np.mean((guess - samples[name]) ** 2))),
                        "unit": twin.units.get(name, ""),
                    }
                )
    table = pd.concat(frames, ignore_index=True)
    nis = pd.DataFrame(consistency)
    rmse = pd.DataFrame(errors)
    files: dict[Path | None, str] = {}
    if out is not None:
        files[out] = table.to_csv(index=False, float_format="%.8g")
    if report is not None:
        files[report] = estimate_page(twin, runs, [*twin.states, "mu"], nis, rmse, _command())
    written = _write(files)
    result = {
        "model": twin.name,
        "filter": filter_,
        "consistency": nis.to_dict("records"),
        "rmse_offline": rmse.to_dict("records"),
        "final": table.groupby("batch").tail(1).to_dict("records"),
        "files": written,
    }
    if json_out:
        _print_json(result)
        return
    _table(nis, "NIS consistency")
    if len(rmse):
        _table(rmse, "estimate vs offline samples")
    for f in written:
        _echo(f"wrote {f}")


def _schedule(s: Any, twin: Any, batch: Any, times: Any) -> Any:
    """Inputs the data do not log: from the scenario's recipe, else the model defaults with
    an induction at the batch's ``induction_h`` metadata."""
    from biofab.process.scenario import input_frame
    from biofab.process.simulate import Induction

    if s is not None:
        return s.input_schedule(times)
    events = []
    ind = batch.metadata.get("induction_h")
    if ind is not None and "ind" in twin.inputs:
        events.append(Induction(float(ind)))
    return input_frame(twin, {}, events, times)


def _stds(s: Any, wide: Any, on: list[str], off: list[str]) -> dict[str, float]:
    """Measurement std per signal (the filters take one per signal): the root mean square of
    the scenario's noise model over the readings (a relative noise varies with the value),
    else 5 % of the root mean square reading; at least 1e-3."""
    import numpy as np

    plan = s.measurements if s is not None else None
    out = {}
    for name in (*on, *off):
        values = wide[name].dropna().to_numpy(dtype=float)
        noise = None
        if plan is not None:
            noise = plan.online.get(name) or plan.offline.get(name)
        spread = noise.sigma(values) if noise is not None else 0.05 * np.abs(values)
        value = float(np.sqrt(np.mean(np.square(spread)))) if values.size else 0.0
        out[name] = max(value, 1e-3)
    return out


# ---------------------------------------------------------------------------------------
# control
# ---------------------------------------------------------------------------------------


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
    _distinct(out, report)
    s = _load_scenario(scenario)
    if s.control is None:
        raise InputError(
            "the scenario has no control section", file=str(scenario), column="control"
        )
    c = s.control
    steps = s.t_end / c.dt
    if abs(steps - round(steps)) > 1e-6:
        raise InputError(
            "control.dt must divide t_end into whole intervals",
            file=str(scenario),
            column="control.dt",
            expected=f"a divisor of {s.t_end:g} h",
            found=c.dt,
        )
    try:
        from biofab.process.closed_loop import ExponentialFeed, closed_loop, mismatched_plant
        from biofab.process.mpc import FeedMPC
    except ImportError as err:
        raise _not_available("control", "biofab.process.closed_loop / mpc", err) from None
    import logging

    import pandas as pd

    from biofab.process.report import control_page
    from biofab.process.simulate import Exponential

    logging.getLogger("biofab.process.mpc").setLevel(logging.ERROR)
    model = s.build_model()
    plant = mismatched_plant(model, c.plant)
    common = {
        "t_end_h": s.t_end,
        "dt_h": c.dt,
        "do_min": c.do_min,
        "v_max": c.v_max,
        "seed": c.seed,
        "noise": c.noise or None,
        "offline_every_h": c.offline_every,
    }
    mpc = FeedMPC(
        model,
        horizon=c.horizon,
        dt_h=c.dt,
        t_end_h=s.t_end,
        do_min=c.do_min,
        v_max=c.v_max,
        f_min=c.f_min,
        f_max=c.f_max,
        do_backoff=c.do_backoff,
    )
    results = [closed_loop(mpc, model, plant, s.initial, adapt=c.adapt, label="MPC", **common)]
    if c.compare_mu_set is not None:
        x0, p = s.initial, model.params
        design = Exponential.for_growth(
            c.compare_mu_set, x0["X"], x0["V"], p["Sf"], p["Yxs"], p["ms"]
        )
        feed = ExponentialFeed(
            F0=design.F0,
            mu_set=c.compare_mu_set,
            do_min=c.do_min,
            v_max=c.v_max,
            f_max=c.f_max,
            dt_h=c.dt,
        )
        label = f"exponential mu_set={c.compare_mu_set:g}"
        results.append(closed_loop(feed, model, plant, s.initial, label=label, **common))
    metrics = pd.DataFrame([{"controller": r.label, **r.metrics()} for r in results])
    files: dict[Path | None, str] = {}
    if out is not None:
        table = pd.concat([r.frame.assign(controller=r.label) for r in results], ignore_index=True)
        files[out] = table.to_csv(index=False, float_format="%.8g")
    if report is not None:
        files[report] = control_page(model, results, c, metrics, _command())
    written = _write(files)
    if json_out:
        _print_json({"metrics": metrics.to_dict("records"), "files": written})
        return
    _table(metrics, "closed loop (product in g, DO deficit in %-points, volume over in L)")
    for f in written:
        _echo(f"wrote {f}")


# ---------------------------------------------------------------------------------------
# optimize
# ---------------------------------------------------------------------------------------


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
    _distinct(out, report)
    s = _load_scenario(scenario)
    if s.optimize is None:
        raise InputError(
            "the scenario has no optimize section", file=str(scenario), column="optimize"
        )
    try:
        from biofab.process.recipe import optimize_recipe
    except ImportError as err:
        raise _not_available("optimize", "biofab.process.recipe", err) from None
    import pandas as pd

    from biofab.process.report import Run, optimize_page
    from biofab.process.scenario import ScenarioTestbed

    spec = s.optimize
    k = batch or spec.batch
    testbed = ScenarioTestbed(s, workers=workers)
    res = optimize_recipe(
        testbed,
        budget=budget,
        batch=min(k, budget),
        seed=spec.seed if seed is None else seed,
        n_init=None if spec.n_init is None else min(spec.n_init, budget),
        progress=not json_out,
    )
    history = res.history
    best = {n: float(res.best[n]) for n in spec.parameters}
    start = s.design()
    unit = testbed.objectives[0].unit or ""
    failures = pd.DataFrame(testbed.failures_)
    files: dict[Path | None, str] = {}
    if out is not None:
        files[out] = history.to_csv(index=False, float_format="%.8g")
    if report is not None:
        model = s.build_model()
        runs = [Run("scenario recipe", s.simulate().frame, dash="dash")]
        with contextlib.suppress(BiofabError):
            runs.append(Run("best recipe", s.with_design(best).simulate().frame))
        files[report] = optimize_page(
            history, spec.objective, unit, runs, model, failures, _command()
        )
    written = _write(files)
    result = {
        "objective": spec.objective,
        "unit": unit,
        "evaluations": len(history),
        "start": {"design": start, "value": _value_of(history, start, spec.objective)},
        "best": {"design": best, "value": float(res.best[spec.objective])},
        "failed_runs": len(failures),
        "files": written,
    }
    if json_out:
        _print_json(result)
        return
    _echo(
        f"best {spec.objective} = {result['best']['value']:.4g} {unit} after {len(history)} runs: "
        + ", ".join(f"{k} = {v:.4g}" for k, v in best.items())
    )
    for f in written:
        _echo(f"wrote {f}")


def _value_of(history: Any, design: dict[str, float], objective: str) -> float | None:
    for row in history.to_dict("records"):
        if all(abs(float(row[k]) - v) <= 1e-9 * max(1.0, abs(v)) for k, v in design.items()):
            return float(row[objective])
    return None
