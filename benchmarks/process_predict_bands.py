"""Saved hybrid: do the ``process predict`` bands cover unseen batches at their stated rate?

The same path as the command line: training batches written as a CSV (online feed log,
offline X, S, A), ``workflows.fit_hybrid`` (what ``process fit --model hybrid --save``
runs) with ``band_calibration``, then ``workflows.predict`` (what ``process predict --model
hybrid.json`` runs) on a CSV of new batches. Data from ``benchmarks/process_hybrid.py``
(imported): the plant is :class:`~biofab.process.models.EColiFedBatch`, training feeds
0.004-0.013 L/h, new batches inside the range (0.0055, 0.0085, 0.0115 L/h) and at +30 %
feed (0.0169 L/h), offline samples hourly with 3 % + 0.01 g/L noise.

The hybrid is built around the *wrong-kinetics* mechanistic model of that benchmark (Monod
uptake, no overflow or inhibition, qS_max and Yxs fitted on the training batches), passed
as a user would: ``--set qS_crit=1e4 --set Kis=1e6 --set Kia=1e6 --set qS_max=.. --set
Yxs=..``; the initial state is given (``--x0``), as in that benchmark. ``--variant cli``
(default) is what ``process fit --model hybrid`` builds (library defaults, DO settled in
prediction); ``--variant capacity_do_kia`` the hybrid benchmark's selected variant (through
the request's library-only ``options``; it reads each training batch's online DO log);
``--variant preset_capacity`` the same variant as a user builds it, ``--preset capacity``
with ``--set Kia=20`` (the benchmark's starting Kia: its Monod base has none), the DO log
written as an *online* signal of the CSV.

One fit per seed with ``band_calibration='lobo'`` (``--calibration``) gives the terms of
``training``, ``lobo`` and ``upward`` (recorded in the saved JSON's
``discrepancy_by_calibration``); each is written as its own saved-hybrid JSON beside the same
weights and predicted through ``predict``.
Reported per calibration, split and state: share of the noise-free plant values (hourly,
t > 0) and of the noisy samples inside the 95 % band, the band's mean half width, and the
RMSE of the prediction against the plant.

Seeds: development seeds >= 200 while developing (the hybrid benchmark used 100-122); the
reported seeds 0-2 once, at the end. ``python benchmarks/process_predict_bands.py --seeds
200 201 202 --out benchmarks/results/process_predict_bands_dev.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import process_hybrid as ph  # the hybrid benchmark's data builders (imported, not copied)
from biofab.core.atomic import write_atomic
from biofab.process import workflows as w
from biofab.process.batchdata import BatchData, write_batches
from biofab.process.fit import Experiment

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python benchmarks/process_predict_bands.py"
CALIBRATIONS = ("training", "lobo", "upward")
LEVEL = 0.95
SPLITS = {"inside": ph.INSIDE_F, "extrapolated": ph.EXTRA_F}
NAMES = {"X": "biomass", "S": "substrate", "A": "acetate"}


def batch(e: Experiment, F: float, online_do: bool = False) -> BatchData:
    """A simulated batch as a user's data: the feed logged every 3 min (L/h), offline
    X, S, A (g/L) and, where ``e`` has it, the online DO log of the hybrid benchmark (as
    offline DO rows, the way its ``with_do_log`` hands it to the hybrid, or with
    ``online_do`` as the online signal a plant logs)."""
    t = np.arange(0.0, ph.T_END + 1e-9, ph.DO_LOG_DT)
    online = pd.DataFrame({"feed_rate": np.where(t >= ph.T_FEED - 1e-9, F, 0.0)}, index=t)
    data = e.data
    if online_do and "DO" in data.columns:
        log = data.dropna(subset=["DO"]).groupby("time_h")["DO"].first()
        online["DO"] = log.reindex(online.index, method="nearest", tolerance=1e-6).to_numpy()
        data = data.drop(columns="DO").dropna(how="all", subset=list(ph.STATES))
    # One row per time (the DO log shares the hourly sample times): first non-missing value.
    off = data.groupby("time_h").first().rename(columns=NAMES)
    return BatchData.from_frames(e.name, online, off)


def wrong_sets(train: list[Experiment]) -> dict[str, float]:
    """``--set`` overrides of the wrong-kinetics model fitted on the training batches."""
    wrong, how = ph.wrong_mechanistic(train)
    if how != "fitted":
        print(f"  wrong model: {how}", flush=True)
    return {
        "qS_crit": 1e4,
        "Kis": 1e6,
        "Kia": 1e6,
        "qS_max": float(wrong.params["qS_max"]),
        "Yxs": float(wrong.params["Yxs"]),
    }


def variant_options(variant: str) -> tuple[dict[str, Any], dict[str, float]]:
    """HybridModel options (over the CLI's) and extra ``--set`` values of a variant."""
    if variant == "cli":
        return {}, {}
    if variant == "preset_capacity":  # the preset adds the DO log itself
        return {}, {"Kia": 20.0}
    v = dict(ph.VARIANTS[variant])
    extra = dict(v.pop("base_params", {}))
    v.update(
        structure="residual",
        dt=ph.RESIDUAL_DT,
        predict_dt=ph.RESIDUAL_PREDICT_DT,
        physics_weight=0.0,
        warmup=0,
        hidden=(32, 32),
    )
    return v, extra


def band_stats(pred: pd.DataFrame, tests: dict[str, tuple[float, Experiment]]) -> dict[str, Any]:
    """Coverage of truth and samples, mean half width, RMSE per state over ``tests``."""
    hit_t: dict[str, list[bool]] = {s: [] for s in ph.STATES}
    hit_s: dict[str, list[bool]] = {s: [] for s in ph.STATES}
    half: dict[str, list[float]] = {s: [] for s in ph.STATES}
    err: dict[str, list[float]] = {s: [] for s in ph.STATES}
    for name, (F, e) in tests.items():
        p = pred[pred["batch"] == name]
        tp = p["time_h"].to_numpy(float)
        idx = [int(np.argmin(np.abs(tp - t))) for t in ph.TIMES]
        assert np.allclose(tp[idx], ph.TIMES), "prediction grid misses the sample times"
        q = p.iloc[idx]
        keep = ph.TIMES > 0  # the initial state is given, not predicted
        truth = ph.plant(F)
        for s in ph.STATES:
            lo, hi = q[f"{s}_lo"].to_numpy()[keep], q[f"{s}_hi"].to_numpy()[keep]
            y = truth[s].to_numpy()[keep]
            obs = e.data[s].to_numpy(float)[keep]
            hit_t[s] += ((y >= lo) & (y <= hi)).tolist()
            hit_s[s] += ((obs >= lo) & (obs <= hi)).tolist()
            half[s] += (0.5 * (hi - lo)).tolist()
            err[s] += (q[s].to_numpy()[keep] - y).tolist()
    return {
        "coverage_truth": {s: float(np.mean(v)) for s, v in hit_t.items()},
        "coverage_samples": {s: float(np.mean(v)) for s, v in hit_s.items()},
        "half_width": {s: float(np.mean(v)) for s, v in half.items()},
        "rmse": {s: float(np.sqrt(np.mean(np.square(v)))) for s, v in err.items()},
    }


def run_seed(seed: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    train = [ph.experiment(F, rng) for F in ph.TRAIN_F]  # the hybrid benchmark's batches
    options, extra = variant_options(args.variant)
    preset = "capacity" if args.variant == "preset_capacity" else "rates"
    do_log = bool(options.get("measured")) or preset == "capacity"
    rows = [
        ph.with_do_log(e, F, seed) if do_log else e for e, F in zip(train, ph.TRAIN_F, strict=True)
    ]
    data = work / f"train_{seed}.csv"
    online_do = preset == "capacity"
    write_batches([batch(e, F, online_do) for e, F in zip(rows, ph.TRAIN_F, strict=True)], data)
    test_rng = np.random.default_rng([seed, 4242])
    tests = {
        split: {f"F={F:g} new": (F, ph.experiment(F, test_rng, " new")) for F in feeds}
        for split, feeds in SPLITS.items()
    }
    new = work / f"new_{seed}.csv"
    write_batches([batch(e, F) for sp in tests.values() for F, e in sp.values()], new)
    sets = {**wrong_sets(train), **extra}
    saved = work / f"hybrid_{seed}.json"
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = w.fit_hybrid(
            w.HybridFitRequest(
                data,
                "ecoli",
                x0=ph.X0,
                set=sets,
                epochs=args.epochs,
                ensemble=args.ensemble,
                seed=seed,
                save=saved,
                band_calibration=args.calibration,
                options=options,
                preset=preset,
                progress=True,
            )
        )
    fit_s = time.perf_counter() - t0
    config = json.loads(saved.read_text())
    out: dict[str, Any] = {
        "seed": seed,
        "fit_and_calibration_s": fit_s,
        "training_rmse": fit.rmse,
        "sets": sets,
        "left_out": config.get("left_out"),
        "calibrations": {},
    }
    for c in [c for c in CALIBRATIONS if c in config["discrepancy_by_calibration"]]:
        path = work / f"hybrid_{seed}_{c}.json"
        path.write_text(
            json.dumps(
                {
                    **config,
                    "discrepancy": config["discrepancy_by_calibration"][c],
                    "band_calibration": c,
                }
            )
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = w.predict(w.PredictRequest(new, path, x0=ph.X0, level=LEVEL))
        out["calibrations"][c] = {
            split: band_stats(r.predictions, tests[split]) for split in SPLITS
        }
        line = "  ".join(
            f"{split} "
            + " ".join(
                f"{s} {out['calibrations'][c][split]['coverage_truth'][s]:.2f}" for s in ph.STATES
            )
            for split in SPLITS
        )
        print(f"seed {seed} {c:9s} truth coverage: {line}", flush=True)
    print(
        f"seed {seed} RMSE inside "
        + ph._fmt(out["calibrations"]["training"]["inside"]["rmse"])
        + " | +30 % "
        + ph._fmt(out["calibrations"]["training"]["extrapolated"]["rmse"])
        + f" | fit+calibration {fit_s:.0f} s",
        flush=True,
    )
    return out


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over seeds of every number, per calibration, split, metric and state."""
    out: dict[str, Any] = {}
    for c in [c for c in CALIBRATIONS if c in runs[0]["calibrations"]]:
        out[c] = {}
        for split in SPLITS:
            out[c][split] = {}
            for metric in ("coverage_truth", "coverage_samples", "half_width", "rmse"):
                out[c][split][metric] = {
                    s: float(np.mean([r["calibrations"][c][split][metric][s] for r in runs]))
                    for s in ph.STATES
                }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--ensemble", type=int, default=5)
    parser.add_argument(
        "--variant", default="cli", choices=("cli", "capacity_do_kia", "preset_capacity")
    )
    parser.add_argument(
        "--calibration",
        default="lobo",
        choices=("lobo", "upward", "training"),
        help="the fit's band_calibration: lobo gives the training, lobo and upward terms, "
        "upward the training and upward ones (one refit), training its own",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            runs.append(run_seed(seed, args, Path(tmp)))
    mean = summary(runs)
    print(
        f"\nmean over seeds {args.seeds} (variant {args.variant}, {args.epochs} epochs, "
        f"ensemble {args.ensemble}): share of noise-free truth inside the 95 % band"
    )
    for c in mean:
        for split in SPLITS:
            m = mean[c][split]
            print(
                f"  {c:9s} {split:12s} truth "
                + " ".join(f"{s} {m['coverage_truth'][s]:.3f}" for s in ph.STATES)
                + " | samples "
                + " ".join(f"{s} {m['coverage_samples'][s]:.3f}" for s in ph.STATES)
                + " | half width "
                + " ".join(f"{s} {m['half_width'][s]:.3f}" for s in ph.STATES)
            )
    record = {
        "command": " ".join([COMMAND, *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seeds": args.seeds,
        "variant": args.variant,
        "epochs": args.epochs,
        "ensemble": args.ensemble,
        "calibration": args.calibration,
        "level": LEVEL,
        "summary": mean,
        "runs": runs,
    }
    write_atomic(args.out, json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
