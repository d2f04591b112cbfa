"""Saved process models: a fitted twin as a JSON file, applied to a new batch with bands.

``process fit --save model.json`` writes a :class:`SavedFit`: the twin (``ecoli``, ``cho``
or a declared ``kinetics`` model, whose declaration travels in the file), every parameter
value, the fitted parameters with the covariance of their logarithms, and a
*model-discrepancy* term per measured variable calibrated on the fit's residuals.
``process predict`` loads it and predicts a new batch from that batch's initial state and
logged inputs. JSON only: nothing is unpickled.

Bands (``level``, default 95 %) combine two sources of error, assumed independent::

    σ_param(t)  from simulations with log θ ~ N(log θ̂, Cov) (the fit's Jacobian,
                Bates & Watts 1988), as half the central-interval width / z
    σ_model(t)  = b_v · max(|ŷ(t)|, f_v)       r = |y - ŷ|/max(|ŷ|, f_v) over the fit's
                                                samples of v; f_v = 5 % of the largest
                                                sample of v (floor near zero);
                                                b_v = q_level(r) / z, the split-conformal
                                                quantile of r at the band's level
                                                (files without ``scores``: the RMS of r)
    band        = ŷ ± z √(σ_param² + σ_model²)

The discrepancy term holds what the parameters cannot: measurement noise and structural
error seen on the fitting run. Its scale is a quantile of the residuals, not their RMS,
because they are far from Gaussian: one relative scale with a floor must hold samples
near zero, dominated by the assay's absolute noise, and large ones, dominated by
relative error, and the RMS of that mixture under-covers both at 95 %.
``process fit --calibration-holdout H`` adds *forecast* residuals: the parameters refitted
on the samples before the last fraction H of each batch, and their errors on the held-out
end, which is what predicting a new batch beyond the fitted one looks like.
:func:`coverage` reports the share of a new run's samples inside their band, so a user
sees whether the stated rate holds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biofab.core.errors import BiofabError, InputError
from biofab.process.models import ProcessModel

__all__ = [
    "FORMAT",
    "SavedFit",
    "coverage",
    "discrepancy_from_residuals",
    "model_sd",
    "predict_bands",
]

FORMAT = "biofab.process.saved-fit/1"
FLOOR_FRACTION = 0.05


@dataclass
class SavedFit:
    """A fitted mechanistic twin as saved by ``process fit --save`` (units: the twin's)."""

    model: str
    parameters: dict[str, float]
    fitted: list[str]
    cov_log: list[list[float]]
    discrepancy: dict[str, dict[str, Any]] = field(default_factory=dict)
    kinetics: dict[str, Any] | None = None
    input_step: float = 0.25
    batches: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.model,
            "kinetics": self.kinetics,
            "parameters": self.parameters,
            "fitted": self.fitted,
            "cov_log": self.cov_log,
            "discrepancy": self.discrepancy,
            "input_step": self.input_step,
            "batches": self.batches,
        }

    def to_json(self) -> str:
        # Infinite variances (unidentifiable directions) are written as null.
        cov = [[v if math.isfinite(v) else None for v in row] for row in self.cov_log]
        return json.dumps({**self.to_dict(), "cov_log": cov}, indent=2) + "\n"

    @classmethod
    def read(cls, path: str | Path) -> SavedFit:
        """Read and check a saved fit; every problem is one line naming the file and key."""
        from biofab.core.textfile import read_text

        p = Path(path)
        if not p.is_file():
            raise InputError("saved model file not found", file=str(p))
        try:
            data = json.loads(read_text(p))
        except json.JSONDecodeError as err:
            raise InputError(f"saved model is not JSON ({err.msg})", file=str(p)) from None
        return cls.from_dict(data, str(p))

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> SavedFit:
        def bad(key: str, expected: str, found: Any) -> InputError:
            return InputError(
                "not a saved biofab fit", file=source, column=key, expected=expected, found=found
            )

        if not isinstance(data, dict):
            raise bad("", "a JSON object", type(data).__name__)
        if data.get("format") != FORMAT:
            raise bad("format", FORMAT, data.get("format"))
        params = data.get("parameters")
        if not isinstance(params, dict) or not all(
            isinstance(v, int | float) and math.isfinite(v) for v in params.values()
        ):
            raise bad("parameters", "name -> finite number", params)
        fitted = data.get("fitted")
        if not isinstance(fitted, list) or not all(k in params for k in fitted):
            raise bad("fitted", "a list of names in parameters", fitted)
        cov = data.get("cov_log")
        if (
            not isinstance(cov, list)
            or len(cov) != len(fitted)
            or not all(isinstance(r, list) and len(r) == len(fitted) for r in cov)
        ):
            raise bad("cov_log", f"a {len(fitted)}x{len(fitted)} matrix", cov)
        disc = data.get("discrepancy") or {}
        if not isinstance(disc, dict) or not all(
            isinstance(v, dict) and {"relative", "floor"} <= set(v) for v in disc.values()
        ):
            raise bad("discrepancy", "variable -> {relative, floor[, scores]}", disc)
        for v in disc.values():
            sc = v.get("scores", [])
            if not isinstance(sc, list) or not all(
                isinstance(x, int | float) and math.isfinite(x) and x >= 0 for x in sc
            ):
                raise bad("discrepancy", "scores: a list of numbers >= 0", sc)
        step = data.get("input_step", 0.25)
        if not isinstance(step, int | float) or not step > 0:
            raise bad("input_step", "a number > 0 (h)", step)
        return cls(
            model=str(data.get("model")),
            parameters={k: float(v) for k, v in params.items()},
            fitted=[str(k) for k in fitted],
            cov_log=[[math.inf if v is None else float(v) for v in r] for r in cov],
            discrepancy={
                str(k): {
                    "relative": float(v["relative"]),
                    "floor": float(v["floor"]),
                    **({"scores": [float(x) for x in v["scores"]]} if v.get("scores") else {}),
                }
                for k, v in disc.items()
            },
            kinetics=data.get("kinetics"),
            input_step=float(step),
            batches=[str(b) for b in data.get("batches") or []],
        )

    def build_model(self, overrides: Mapping[str, float] | None = None) -> ProcessModel:
        """The fitted twin, with ``overrides`` (e.g. a new feed concentration) applied."""
        from biofab.process.scenario import declared_class, make_model

        if self.kinetics is not None:
            from biofab.process.kinetics import read_declaration

            decl = read_declaration(self.kinetics, "saved model", key="kinetics")
            cls_ = declared_class(decl)
        else:
            cls_ = type(make_model(self.model))
        unknown = sorted(set(self.parameters) - set(cls_.param_specs))
        if unknown:
            raise InputError(
                f"saved parameters {unknown} are not parameters of {cls_.name}",
                expected=", ".join(cls_.param_specs),
            )
        return cls_({**self.parameters, **dict(overrides or {})})


def discrepancy_from_residuals(residuals: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per variable ``{relative: RMS of r, floor: f_v, scores: sorted r}`` from a fit's
    residual table (``variable, observed, predicted``; see the module docstring). The
    floor comes from every row; the scores from every row too, forecast ones included."""
    out: dict[str, dict[str, Any]] = {}
    if not len(residuals):
        return out
    for v, g in residuals.groupby("variable", sort=False):
        obs = g["observed"].to_numpy(dtype=float)
        pred = g["predicted"].to_numpy(dtype=float)
        ok = np.isfinite(obs) & np.isfinite(pred)
        if not ok.any():
            continue
        floor = FLOOR_FRACTION * max(float(np.max(np.abs(obs[ok]))), 1e-9)
        rel = (obs[ok] - pred[ok]) / np.maximum(np.abs(pred[ok]), floor)
        out[str(v)] = {
            "relative": float(np.sqrt(np.mean(rel**2))),
            "floor": floor,
            "scores": [round(float(x), 6) for x in np.sort(np.abs(rel))],
        }
    return out


def model_sd(d: Mapping[str, Any], y: np.ndarray, level: float) -> np.ndarray:
    """σ_model(t) of one variable at predictions ``y`` (same units as ``y``) for a band
    at ``level``: the conformal quantile of the saved scores over z, or their RMS in
    files written before scores were saved (see the module docstring)."""
    from scipy.stats import norm

    from biofab.learn.calibration import conformal_quantile

    scores = d.get("scores")
    if scores:
        b = conformal_quantile(np.asarray(scores, dtype=float), level) / float(
            norm.ppf(0.5 + level / 2)
        )
    else:
        b = float(d["relative"])
    return b * np.maximum(np.abs(y), float(d["floor"]))


def predict_bands(
    model: ProcessModel,
    experiment: Any,
    times: Sequence[float] | np.ndarray,
    *,
    fitted: Sequence[str] = (),
    cov_log: Any = None,
    discrepancy: Mapping[str, Mapping[str, Any]] | None = None,
    n_samples: int = 30,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Prediction of ``experiment`` (a :class:`~biofab.process.fit.Experiment`) at
    ``times`` with ``<v>_lo``/``<v>_hi`` bands and ``<v>_sd`` (see the module docstring)."""
    from scipy.stats import norm

    from biofab.process.simulate import simulate

    if not 0 < level < 1:
        raise InputError("band level must lie in (0, 1)", found=level)
    t = np.asarray(times, dtype=float)
    t_end = float(experiment.t_end or t.max())

    def run(p: Mapping[str, float]) -> pd.DataFrame:
        return simulate(
            model,
            experiment.x0,
            t_end,
            inputs=experiment.inputs,
            events=experiment.events,
            p=p,
            t_eval=t,
            rtol=1e-6,
            atol=1e-8,
        ).to_frame()

    base = run({})
    names = [c for c in base.columns if c in (*model.states, *model.outputs)]
    z = float(norm.ppf(0.5 + level / 2))
    var = np.zeros((len(base), len(names)))
    cov = np.asarray(cov_log if cov_log is not None else np.zeros((0, 0)), dtype=float)
    if fitted and n_samples > 1 and cov.size and np.all(np.isfinite(cov)):
        rng = np.random.default_rng(seed)
        mean = np.log([model.params[k] for k in fitted])
        draws = rng.multivariate_normal(mean, cov, size=n_samples, method="eigh")
        sims = []
        for d in draws:
            try:
                sims.append(run(dict(zip(fitted, np.exp(d), strict=True)))[names].to_numpy())
            except BiofabError:
                continue
        if len(sims) > 1:
            stack = np.stack(sims)
            half = (
                np.quantile(stack, 0.5 + level / 2, 0) - np.quantile(stack, 0.5 - level / 2, 0)
            ) / 2
            var += (half / z) ** 2
    out = base.copy()
    for j, n in enumerate(names):
        y = base[n].to_numpy(dtype=float)
        d = (discrepancy or {}).get(n)
        if d is not None:
            var[:, j] += model_sd(d, y, level) ** 2
        sd = np.sqrt(var[:, j])
        out[f"{n}_sd"] = sd
        out[f"{n}_lo"] = y - z * sd
        out[f"{n}_hi"] = y + z * sd
    return out


def coverage(prediction: pd.DataFrame, samples: pd.DataFrame, level: float) -> pd.DataFrame:
    """Per sampled variable: samples, share inside the band, RMSE and the final sample's
    error (prediction at the sample times; ``samples`` has ``time_h`` + variables)."""
    rows = []
    t = prediction["time_h"].to_numpy(dtype=float)
    for v in [c for c in samples.columns if c != "time_h" and f"{c}_lo" in prediction]:
        s = samples[["time_h", v]].dropna()
        if not len(s):
            continue
        ts = s["time_h"].to_numpy(dtype=float)
        obs = s[v].to_numpy(dtype=float)
        at = {
            c: np.interp(ts, t, prediction[c].to_numpy(dtype=float))
            for c in (v, f"{v}_lo", f"{v}_hi")
        }
        inside = (obs >= at[f"{v}_lo"]) & (obs <= at[f"{v}_hi"])
        err = at[v] - obs
        rows.append(
            {
                "variable": v,
                "samples": int(obs.size),
                "coverage": float(inside.mean()),
                "stated": level,
                "rmse": float(np.sqrt(np.mean(err**2))),
                "final_observed": float(obs[-1]),
                "final_predicted": float(at[v][-1]),
                "final_rel_error": float(err[-1] / obs[-1]) if obs[-1] != 0 else math.nan,
            }
        )
    return pd.DataFrame(rows)
