"""Workflow ``federate``: federated vs local vs pooled training of the hybrid's networks.

A typed request in, a result out (the pillar's workflow convention, see
:mod:`biofab.process.workflows`): the sites come from a folder of per-site batch CSVs (one
file per site, the file name is the site) or are simulated (``simulate=N``); each site's
batches are split, grouped by batch, into training, validation and held-out test batches;
three models with the same frame, architecture and number of Adam steps are trained —
each site alone (local), all sites through Flower (federated), all batches in one place
(pooled, the upper bound) — and scored on every site's held-out batches. Bad input raises
one line before anything is written; the JSON and the HTML report are written atomically.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biofab.core.atomic import write_atomic
from biofab.core.errors import InputError
from biofab.process.fit import Experiment

__all__ = ["FederateRequest", "FederateResult", "federate", "read_sites"]

MODELS = ("local", "federated", "pooled")


@dataclass(frozen=True)
class FederateRequest:
    """Federated training of the E. coli hybrid's networks across sites.

    ``sites``: folder of per-site batch CSVs (long or wide, :func:`read_batches`; every
    batch needs online feed rate, volume and DO, and offline biomass, glucose, acetate,
    product at t = 0) with an optional ``mapping`` YAML; or ``simulate``: that many
    built-in simulated sites (:func:`~biofab.process.federated.simulate_sites`) of batches
    ``hours`` long. Per site
    ``test`` batches are held out and ``validation`` batches are used for the validation
    loss each site reports per round (grouped by batch, seeded by ``seed``). ``rounds`` x
    ``local_epochs`` Adam steps per site, the same for the local and pooled models; ``lr``
    the peak learning rate; ``strategy`` ``fedavg`` | ``fedprox`` (``proximal_mu``).
    ``hidden``, ``ensemble``, ``dt`` (h): the shared architecture and ROS2 step. ``out``:
    result JSON; ``report``: HTML page.
    """

    sites: Path | None = None
    simulate: int | None = None
    hours: float = 16.0
    mapping: Path | None = None
    rounds: int = 10
    local_epochs: int = 10
    lr: float = 0.05
    strategy: str = "fedavg"
    proximal_mu: float = 0.01
    test: int = 1
    validation: int = 1
    hidden: tuple[int, ...] = (16,)
    ensemble: int = 3
    dt: float = 0.5
    seed: int = 0
    out: Path | None = None
    report: Path | None = None
    command: str = ""
    verbose: bool = False


@dataclass
class FederateResult:
    """Held-out errors per site and model (``nrmse``: RMSE of X, S, A each divided by the
    frame's state scale, averaged; per-state RMSE in g/L; ensemble-band coverage), the
    medians over sites, the per-round losses and what travelled."""

    sites: list[str]
    errors: dict[str, dict[str, dict[str, float]]]  # site -> model -> metric
    summary: dict[str, float]
    history: list[dict[str, float]]
    traffic: dict[str, Any]
    rejected: list[str]
    settings: dict[str, Any]
    target: str
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per site: held-out nrmse of the local, federated and pooled models."""
        rows = [{"site": s, **{m: self.errors[s][m]["nrmse"] for m in MODELS}} for s in self.sites]
        rows.append({"site": "median", **{m: self.summary[m] for m in MODELS}})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sites": self.sites,
            "summary": self.summary,
            "errors": self.errors,
            "history": self.history,
            "traffic": self.traffic,
            "rejected": self.rejected,
            "settings": self.settings,
            "target": self.target,
            "files": self.files,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=float) + "\n"


def read_sites(folder: Path, mapping: Path | None = None) -> list[Any]:
    """One :class:`~biofab.process.federated.Site` per CSV file of ``folder`` (sorted by
    name; the file stem is the site). Refuses a missing folder, fewer than two files and a
    file whose batches cannot become E. coli experiments, naming the file."""
    from biofab.process.batchdata import read_batches
    from biofab.process.federated import Site
    from biofab.process.workflows import experiments

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("sites must be a folder of per-site CSV files", file=str(folder))
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv")
    if len(files) < 2:
        raise InputError(
            "federated training needs at least 2 sites (one CSV file per site)",
            file=str(folder),
            expected=">= 2 CSV files",
            found=len(files),
        )
    sites = []
    for path in files:
        batches = read_batches(path, mapping)
        if not batches:
            raise InputError("site file holds no batches", file=str(path))
        for batch in batches:
            _plausible(batch, path)
        try:
            exps = experiments("ecoli", batches, None)
        except InputError as err:
            raise err.in_file(str(path)) from None
        sites.append(Site(path.stem, tuple(exps), None, {"file": str(path)}))
    return sites


# read_batches converts to the standard units (g/L); a litre of broth weighs about a
# kilogram, so no concentration in it reaches 1000 g/L (the live twin's validator bound)
_CONCENTRATIONS = ("biomass", "substrate", "product", "acetate")
_MAX_G_PER_L = 1000.0


def _plausible(batch: Any, path: Path) -> None:
    """Refuse a physically impossible concentration (a unit slip: 1e6 g/L of biomass
    trained the site's networks silently), naming the file, batch, variable and time."""
    frame = batch.to_long()
    bad = frame[frame["variable"].isin(_CONCENTRATIONS) & (frame["value"] > _MAX_G_PER_L)]
    if len(bad):
        first = bad.iloc[0]
        raise InputError(
            f"batch '{first['batch']}': {first['variable']} at t={first['time_h']:g} h is "
            "physically impossible",
            file=str(path),
            column=str(first["variable"]),
            expected=f"<= {_MAX_G_PER_L:g} g/L",
            found=f"{first['value']:g} g/L",
        )


def _check(request: FederateRequest) -> None:
    if (request.sites is None) == (request.simulate is None):
        raise InputError("give either a folder of site CSVs or --simulate N, not both")
    if request.simulate is not None and request.simulate < 2:
        raise InputError(
            "federated training needs at least 2 sites", expected=">= 2", found=request.simulate
        )
    if request.strategy not in ("fedavg", "fedprox"):
        raise InputError("unknown strategy", expected="fedavg or fedprox", found=request.strategy)
    if request.rounds < 1 or request.local_epochs < 1:
        raise InputError(
            "rounds and local epochs must be >= 1",
            found=f"rounds={request.rounds}, local_epochs={request.local_epochs}",
        )
    if not (request.lr > 0 and math.isfinite(request.lr)):
        raise InputError("lr must be a finite number > 0", found=request.lr)
    if request.test < 1 or request.validation < 0:
        raise InputError(
            "held-out test batches per site must be >= 1 and validation batches >= 0",
            found=f"test={request.test}, validation={request.validation}",
        )
    if not request.hidden or min(request.hidden) < 1 or request.ensemble < 1:
        raise InputError("hidden widths and ensemble must be >= 1")
    if not (request.dt > 0):
        raise InputError("dt (h) must be > 0", found=request.dt)
    if not (6.0 <= request.hours <= 72.0):
        raise InputError(
            "simulated batch length (h) out of range", expected="6-72", found=request.hours
        )
    for path in (request.out, request.report):
        if path is not None and not path.parent.is_dir():
            raise InputError("the output folder does not exist", file=str(path.parent))
    if request.out is not None and request.out == request.report:
        raise InputError("--out and --report must be different files", file=str(request.out))


def federate(request: FederateRequest) -> FederateResult:
    """Train local, federated and pooled hybrids and score them on held-out batches."""
    from biofab.process.federated import (
        FederatedHybrid,
        HybridFrame,
        heldout_errors,
        simulate_sites,
        split_site,
        train_local,
        train_pooled,
    )

    _check(request)
    if request.simulate is not None:
        n_b = 2 + request.test + request.validation
        sites = simulate_sites(
            request.simulate,
            batches=(n_b + 1, n_b + 2, n_b + 3),
            seed=request.seed,
            t_end=request.hours,
        )
    else:
        assert request.sites is not None
        sites = read_sites(request.sites, request.mapping)
    parts = []
    for s in sites:
        try:
            parts.append(split_site(s, test=request.test, validation=request.validation))
        except InputError as err:
            raise InputError(
                err.message, file=s.info.get("file"), expected=err.expected, found=err.found
            ) from None
    train = [p[0] for p in parts]
    val = [p[1] if p[1].batches else None for p in parts]
    test = [p[2] for p in parts]
    frame = HybridFrame(
        hidden=tuple(request.hidden), ensemble=request.ensemble, dt=request.dt, seed=request.seed
    )
    steps = request.rounds * request.local_epochs
    fed = FederatedHybrid(
        frame,
        rounds=request.rounds,
        local_epochs=request.local_epochs,
        lr=request.lr,
        strategy=request.strategy,
        proximal_mu=request.proximal_mu,
        verbose=request.verbose,
    )
    fed._check(train)  # bad settings fail before the local models are trained
    fed.fit(train, val)
    # the baselines take as long as the federated run: report them too, so that the
    # minutes after the last round are not silent
    from biofab.core.progress import progress

    label = "baseline models (each site alone, then pooled)"
    with progress(label, len(train) + 1, enabled=request.verbose) as bar:
        locals_ = []
        for s in train:
            locals_.append(train_local(frame, s.batches, epochs=steps, lr=request.lr))
            bar.advance(note=f"local {s.name}")
        pooled = train_pooled(frame, train, epochs=steps, lr=request.lr)
        bar.advance(note="pooled")
    scales = {k: float(v) for k, v in frame.build().state_scale_.items()}
    simulated = all(t.truth is not None for t in test)
    errors: dict[str, dict[str, dict[str, float]]] = {}
    for s, t, local in zip(sites, test, locals_, strict=True):
        target: list[Experiment] = list(t.truth if simulated and t.truth else t.batches)
        errors[s.name] = {
            "local": heldout_errors(local, target, scales),
            "federated": heldout_errors(fed.model_, target, scales),
            "pooled": heldout_errors(pooled, target, scales),
        }
    summary = {m: float(np.median([errors[s.name][m]["nrmse"] for s in sites])) for m in MODELS}
    summary["federated_over_local"] = summary["federated"] / summary["local"]
    summary["federated_over_pooled"] = summary["federated"] / summary["pooled"]
    up = [t for t in fed.traffic_ if t.direction == "up"]
    traffic = {
        "messages": len(fed.traffic_),
        "bytes_up": int(sum(t.n_bytes for t in up)),
        "bytes_down": int(sum(t.n_bytes for t in fed.traffic_ if t.direction == "down")),
        "arrays_up": {k: list(v) for k, v in (up[0].arrays if up else {}).items()},
        "metrics_up": sorted({m for t in up for m in t.metrics}),
    }
    settings = {
        "rounds": request.rounds,
        "local_epochs": request.local_epochs,
        "steps_per_model": steps,
        "lr": request.lr,
        "strategy": request.strategy,
        "proximal_mu": request.proximal_mu if request.strategy == "fedprox" else None,
        "hidden": list(request.hidden),
        "ensemble": request.ensemble,
        "dt_h": request.dt,
        "seed": request.seed,
        "test_batches_per_site": request.test,
        "validation_batches_per_site": request.validation,
        "train_batches": {s.name: len(s.batches) for s in train},
        "state_scales": {k: scales[k] for k in ("X", "S", "A")},
    }
    what = "noise-free truth" if simulated else "offline samples"
    result = FederateResult(
        [s.name for s in sites],
        errors,
        summary,
        fed.history_,
        traffic,
        fed.rejected_,
        settings,
        f"held-out batches of each site (grouped by batch), scored against their {what}",
    )
    outputs: dict[Path, str] = {}
    if request.out is not None:
        outputs[request.out] = json.dumps(
            {k: v for k, v in result.to_dict().items() if k != "files"}, indent=2, default=float
        )
    if request.report is not None:
        outputs[request.report] = report_page(result, request.command)
    for path, text in outputs.items():
        write_atomic(path, text)
        result.files.append(str(path))
    return result


def report_page(result: FederateResult, command: str = "") -> str:
    """HTML page: per-round federated losses, per-site bars (local vs federated vs pooled),
    the table and what travelled."""
    import plotly.graph_objects as go

    from biofab.viz import html_page

    h = pd.DataFrame(result.history)
    loss = go.Figure()
    if len(h):
        loss.add_scatter(x=h["round"], y=h["train_loss"], name="training loss (sites, weighted)")
        if h["val_loss"].notna().any():
            loss.add_scatter(x=h["round"], y=h["val_loss"], name="validation loss (sites)")
    loss.update_layout(xaxis_title="round", yaxis_title="scaled MSE per member", yaxis_type="log")
    bars = go.Figure()
    for m in MODELS:
        bars.add_bar(x=result.sites, y=[result.errors[s][m]["nrmse"] for s in result.sites], name=m)
    bars.update_layout(barmode="group", yaxis_title="held-out nRMSE (X, S, A)")
    t = result.traffic
    travelled = (
        f"{t['messages']} messages, {t['bytes_up']:,} bytes up and {t['bytes_down']:,} down; "
        f"each update held only the arrays {', '.join(t['arrays_up'])} and the metrics "
        f"{', '.join(t['metrics_up'])}."
    )
    if result.rejected:
        travelled += " Left out: " + "; ".join(result.rejected)
    settings = ", ".join(f"{k} {v}" for k, v in result.settings.items() if k != "state_scales")
    sections: list[tuple[str, Any]] = [
        ("Federated training loss per round", loss),
        ("Held-out error per site: local vs federated vs pooled", bars),
        ("", result.to_frame()),
        ("", result.target),
        ("What travelled", travelled),
        ("Settings", settings),
    ]
    if command:
        sections.append(("Command", command))
    return html_page(
        "Federated hybrid training",
        sections,
        subtitle=(
            f"median nRMSE local {result.summary['local']:.3g}, federated "
            f"{result.summary['federated']:.3g}, pooled {result.summary['pooled']:.3g}"
        ),
    )
