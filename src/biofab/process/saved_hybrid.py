"""A trained hybrid model as files: a JSON config and a torch ``state_dict`` of its weights.

``process fit --model hybrid --save hybrid.json`` writes ``hybrid.json`` (the format, the
twin, the hybrid's constructor hyper-parameters, the training batches — samples, initial
state, recipe — and a model-discrepancy term) and ``hybrid.pt`` (the networks' tensors,
``{"p0": ..., "p1": ...}``). Loading rebuilds the hybrid from its hyper-parameters, lets it
derive its scales and feature standardisation from the same training batches without a
training step (``epochs=0``), then copies the saved tensors in. Tensors load with
``torch.load(..., weights_only=True)``; recipes are rebuilt from an allow-list of profile
and event classes: nothing is unpickled.

Bands: ``ŷ ± z √(σ_ensemble² + σ_model²)``, the ensemble's spread plus the discrepancy term
of :mod:`biofab.process.saved`, calibrated on residuals chosen by ``band_calibration``
(:data:`BAND_CALIBRATIONS`, :func:`calibration_residuals`):

- ``training``: the training batches' in-sample residuals (no extra cost). A network fits
  its training batches closely, so these understate the error on a new batch;
- ``lobo``: leave one batch out: each training batch predicted by the hybrid refitted
  without it (one refit per batch, ≥ 2 batches);
- ``upward``: only the fold that leaves out the batch with the most feed (one refit): its
  errors are those of predicting a feed beyond the training ones, as a new batch fed more
  than any training batch is;
- ``forecast``: every batch cut at ``1 - holdout`` of its time, the hybrid refitted on the
  early parts, errors on the late samples (one refit; what a single batch allows).

The out-of-sample residuals are used alone (not pooled with in-sample ones, which would
dilute them). The saved JSON records the method (``band_calibration``), the batches left
out, and the term every method computed on the way (``discrepancy_by_calibration``).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biofab.core.errors import InputError
from biofab.process.batchdata import LoggedInput
from biofab.process.fit import Experiment
from biofab.process.models import ProcessModel
from biofab.process.saved import model_sd
from biofab.process.simulate import (
    Constant,
    Exponential,
    FeedStart,
    FeedStop,
    Induction,
    Piecewise,
    SetInput,
)

__all__ = [
    "BAND_CALIBRATIONS",
    "HYBRID_FORMAT",
    "calibration_residuals",
    "fed_volume",
    "hybrid_to_files",
    "load_hybrid",
    "predict_hybrid_bands",
]

HYBRID_FORMAT = "biofab.process.saved-hybrid/1"
_SKIP = {"self", "mechanistic", "kwargs", "device", "verbose", "n_jobs"}
_EVENTS: dict[str, type] = {
    "Induction": Induction,
    "FeedStart": FeedStart,
    "FeedStop": FeedStop,
    "SetInput": SetInput,
}


def _hyper(hybrid: Any) -> dict[str, Any]:
    """Constructor arguments of the hybrid (its class and bases), read back from it."""
    out: dict[str, Any] = {}
    for cls_ in type(hybrid).__mro__:
        init = cls_.__dict__.get("__init__")
        if init is None:
            continue
        for name in inspect.signature(init).parameters:
            if name in _SKIP or name in out or not hasattr(hybrid, name):
                continue
            value = getattr(hybrid, name)
            if isinstance(value, ProcessModel):
                value = dict(value.params)  # a base model: its parameter values
            out[name] = _plain(value, name)
    return out


def _plain(value: Any, what: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list):
        return [_plain(v, what) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, what) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    raise InputError(f"cannot save hybrid setting '{what}'", found=type(value).__name__)


def _profile(value: Any) -> Any:
    if isinstance(value, int | float):
        return {"type": "Constant", "value": float(value)}
    if isinstance(value, LoggedInput):
        return {
            "type": "LoggedKnots",
            "times": value.times.tolist(),
            "values": value.values.tolist(),
        }
    if isinstance(value, Constant | Exponential | Piecewise):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        fields.pop("breakpoints", None)
        return {"type": type(value).__name__, **_plain(fields, "profile")}
    raise InputError(
        "cannot save a hybrid trained on this recipe profile", found=type(value).__name__
    )


def _unprofile(d: Mapping[str, Any]) -> Any:
    kind = d.get("type")
    args = {k: v for k, v in d.items() if k != "type"}
    if kind == "LoggedKnots":
        return LoggedInput.from_knots(args["times"], args["values"])
    if kind == "Constant":
        return Constant(float(args["value"]))
    if kind == "Exponential":
        return Exponential(**args)
    if kind == "Piecewise":
        return Piecewise(args["times"], args["values"], kind=args.get("kind", "hold"))
    raise InputError("unknown recipe profile in saved hybrid", found=kind)


def _event(ev: Any) -> dict[str, Any]:
    name = type(ev).__name__
    if name not in _EVENTS:
        raise InputError("cannot save a hybrid trained with this event", found=name)
    fields = {f.name: getattr(ev, f.name) for f in dataclasses.fields(ev)}
    for k in ("profile", "value"):
        if k in fields and not isinstance(fields[k], str):
            fields[k] = _profile(fields[k])
    return {"type": name, **fields}


def _unevent(d: Mapping[str, Any]) -> Any:
    cls_ = _EVENTS.get(str(d.get("type")))
    if cls_ is None:
        raise InputError("unknown event in saved hybrid", found=d.get("type"))
    args = {k: v for k, v in d.items() if k != "type"}
    for k in ("profile", "value"):
        if isinstance(args.get(k), Mapping):
            args[k] = _unprofile(args[k])
    return cls_(**args)


def _experiment(e: Experiment) -> dict[str, Any]:
    if e.inputs is None:  # the model's defaults (a recipe of events only)
        inputs: Mapping[str, Any] = {}
    else:
        inputs = e.inputs if isinstance(e.inputs, Mapping) else {"F": e.inputs}
    return {
        "name": e.name,
        "t_end": e.t_end,
        "x0": {k: float(v) for k, v in dict(e.x0).items()},
        "data": json.loads(e.data.to_json(orient="split", index=False)),
        "inputs": {k: _profile(v) for k, v in (inputs or {}).items()},
        "events": [_event(ev) for ev in e.events],
    }


def _unexperiment(d: Mapping[str, Any]) -> Experiment:
    split = d["data"]
    data = pd.DataFrame(split["data"], columns=split["columns"]).astype(float)
    return Experiment(
        data,
        dict(d["x0"]),
        {k: _unprofile(v) for k, v in d["inputs"].items()},
        tuple(_unevent(ev) for ev in d["events"]),
        str(d["name"]),
        d.get("t_end"),
    )


def hybrid_to_files(
    hybrid: Any,
    kind: str,
    kinetics: Mapping[str, Any] | None,
    experiments: Sequence[Experiment],
    discrepancy: Mapping[str, Any],
    weights_name: str,
    calibration: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The JSON config text and the ``state_dict`` (name -> tensor) of a trained hybrid.

    ``calibration``: how ``discrepancy`` was calibrated (``band_calibration`` and its
    details, see :func:`calibration_residuals`), stored beside it."""
    config = {
        "format": HYBRID_FORMAT,
        "class": type(hybrid).__name__,
        "model": kind,
        "kinetics": kinetics,
        "parameters": dict(hybrid.mechanistic.params),
        "hyper": _hyper(hybrid),
        "experiments": [_experiment(e) for e in experiments],
        "discrepancy": dict(discrepancy),
        **dict(calibration or {"band_calibration": "training"}),
        "weights": weights_name,
    }
    state = {f"p{i}": t.detach().cpu().clone() for i, t in enumerate(hybrid.params_)}
    return json.dumps(config, indent=2) + "\n", state


def load_hybrid(config: Mapping[str, Any], source: Path, model: ProcessModel) -> Any:
    """Rebuild a saved hybrid (see the module docstring) on ``model`` (the twin)."""
    import torch

    from biofab.process.hybrid import HybridModel

    if config.get("class") != "HybridModel":
        raise InputError(
            "saved hybrid of an unknown class", file=str(source), expected="HybridModel",
            found=config.get("class"),
        )  # fmt: skip
    weights = source.parent / str(config.get("weights"))
    if not weights.is_file():
        raise InputError("saved hybrid weights not found", file=str(weights))
    try:
        state = torch.load(weights, weights_only=True, map_location="cpu")
    except Exception as err:  # a corrupt or foreign file: one line
        first = str(err).strip().splitlines()[0][:80] if str(err).strip() else ""
        raise InputError(
            "cannot read the hybrid weights: not a tensor file loadable with "
            f"weights_only=True ({type(err).__name__}: {first})",
            file=str(weights),
        ) from None
    hyper = dict(config.get("hyper") or {})
    hyper.update(epochs=0, warmup=0)
    try:
        hybrid = HybridModel(model, device="cpu", **hyper)
    except TypeError as err:
        raise InputError(
            f"saved hybrid settings do not fit this biofab ({err})", file=str(source)
        ) from None
    exps = [_unexperiment(d) for d in config.get("experiments") or []]
    hybrid.fit(exps)  # derives scales and features from the training data; no step taken
    if not isinstance(state, dict) or len(state) != len(hybrid.params_):
        raise InputError("hybrid weights do not match its settings", file=str(weights))
    with torch.no_grad():
        for i, p in enumerate(hybrid.params_):
            t = state.get(f"p{i}")
            if not isinstance(t, torch.Tensor) or t.shape != p.shape:
                raise InputError(
                    "hybrid weights do not match its settings", file=str(weights),
                    column=f"p{i}", expected=str(tuple(p.shape)),
                    found=None if t is None else tuple(t.shape),
                )  # fmt: skip
            p.copy_(t.to(p.dtype))
    return hybrid


def predict_hybrid_bands(
    hybrid: Any,
    experiment: Experiment,
    times: np.ndarray,
    discrepancy: Mapping[str, Mapping[str, Any]],
    level: float,
) -> pd.DataFrame:
    """Ensemble mean with ``<v>_sd``, ``<v>_lo``, ``<v>_hi`` (see the module docstring)."""
    from scipy.stats import norm

    mean, std = hybrid.predict(experiment.x0, experiment.inputs, times, experiment.events)
    z = float(norm.ppf(0.5 + level / 2))
    out = mean.copy()
    for v in hybrid.model.states:
        y = mean[v].to_numpy(dtype=float)
        var = std[v].to_numpy(dtype=float) ** 2
        d = discrepancy.get(v)
        if d is not None:
            var = var + model_sd(d, y, level) ** 2
        sd = np.sqrt(var)
        out[f"{v}_sd"] = sd
        out[f"{v}_lo"] = y - z * sd
        out[f"{v}_hi"] = y + z * sd
    return out


def residual_table(hybrid: Any, experiments: Sequence[Experiment]) -> pd.DataFrame:
    """``variable, observed, predicted`` of the ensemble mean at the training samples."""
    rows = []
    for e in experiments:
        t = e.data["time_h"].to_numpy(dtype=float)
        mean, _ = hybrid.predict(e.x0, e.inputs, t, e.events)
        for v in hybrid.model.states:
            if v in e.data.columns:
                obs = pd.to_numeric(e.data[v], errors="coerce").to_numpy(dtype=float)
                for o, p in zip(obs, mean[v].to_numpy(dtype=float), strict=True):
                    if math.isfinite(o):
                        rows.append({"variable": v, "observed": o, "predicted": p})
    return pd.DataFrame(rows)


BAND_CALIBRATIONS = ("training", "lobo", "upward", "forecast")
"""Residuals the saved hybrid's discrepancy term is calibrated on (module docstring)."""


def fed_volume(model: ProcessModel, experiment: Experiment, n: int = 801) -> float:
    """Volume fed over a batch (L): the integral of its feed input ``F`` (L/h) from 0 to
    its end, from the recipe (logged or profile inputs and events). 0 for a model without
    a feed input."""
    from biofab.process.scenario import input_frame

    if "F" not in model.inputs:
        return 0.0
    t_end = float(experiment.t_end or experiment.data["time_h"].max())
    t = np.linspace(0.0, t_end, n)
    f = input_frame(model, experiment.inputs or {}, experiment.events, t)["F"].to_numpy(float)
    return float(np.sum(0.5 * (f[1:] + f[:-1]) * np.diff(t)))


def calibration_residuals(
    make: Callable[[], Any],
    hybrid: Any,
    experiments: Sequence[Experiment],
    method: str,
    holdout: float = 0.25,
    progress: bool = False,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Residual tables (``variable, observed, predicted``) for the discrepancy term.

    ``make()`` builds an untrained hybrid with the trained ``hybrid``'s settings (a refit
    trains one); ``method`` one of :data:`BAND_CALIBRATIONS` (module docstring); ``holdout``
    the fraction of each batch's time held out by ``forecast``. Returns the tables of every
    method the work computed (``training`` always; ``upward`` also when ``lobo`` ran) and
    the details to record (``band_calibration``, the batches left out, the refits). Raises
    :class:`InputError` before any refit when the method needs more batches.
    """
    from biofab.core.progress import progress as _progress

    if method not in BAND_CALIBRATIONS:
        raise InputError(
            "unknown band calibration", expected=", ".join(BAND_CALIBRATIONS), found=method
        )
    exps = list(experiments)
    if method in ("lobo", "upward") and len(exps) < 2:
        raise InputError(
            f"band calibration '{method}' leaves a batch out: it needs >= 2 training batches "
            "(one batch: use 'forecast')",
            found=f"{len(exps)} batch",
        )
    if method == "forecast" and not 0 < holdout < 1:
        raise InputError(
            "band calibration 'forecast' holds out a fraction of each batch's time in (0, 1)",
            column="calibration_holdout",
            found=holdout,
        )
    tables = {"training": residual_table(hybrid, exps)}
    info: dict[str, Any] = {"band_calibration": method}
    if method == "training":
        return tables, info
    volumes = [fed_volume(hybrid.model, e) for e in exps]
    top = int(np.argmax(volumes))
    if method == "forecast":
        folds: list[int] = []
    elif method == "upward":
        folds = [top]
    else:
        folds = list(range(len(exps)))
    n_refits = max(len(folds), 1)
    parts: list[pd.DataFrame] = []
    with _progress("hybrid band calibration: refit", total=n_refits, enabled=progress) as bar:
        if method == "forecast":
            short, cuts = [], {}
            for e in exps:
                t_end = float(e.t_end if e.t_end is not None else e.data["time_h"].max())
                cuts[e.name] = (1.0 - holdout) * t_end
                short.append(replace(e, data=e.data[e.data["time_h"] <= cuts[e.name]]))
            if any(not len(e.data) for e in short):
                raise InputError(
                    "band calibration 'forecast': a batch has no samples before its holdout",
                    column="calibration_holdout",
                    found=holdout,
                )
            refit = make().fit(short)
            for e in exps:
                late = replace(e, data=e.data[e.data["time_h"] > cuts[e.name]])
                if len(late.data):
                    parts.append(residual_table(refit, [late]))
            bar.advance(note="trained on the early parts")
            info["holdout"] = float(holdout)
        else:
            for i in folds:
                refit = make().fit([e for j, e in enumerate(exps) if j != i])
                table = residual_table(refit, [exps[i]])
                parts.append(table)
                if i == top:
                    tables["upward"] = table
                bar.advance(note=f"left out {exps[i].name}")
            info["left_out"] = [exps[i].name for i in folds]
            info["fed_volume_L"] = {e.name: round(v, 6) for e, v in zip(exps, volumes, strict=True)}
    if not parts or not sum(len(t) for t in parts):
        raise InputError(f"band calibration '{method}': no held-out samples to calibrate on")
    info["refits"] = n_refits
    tables[method] = pd.concat(parts, ignore_index=True)
    return tables, info
