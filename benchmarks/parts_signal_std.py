"""Which numbers rank the errors of the signal-peptide model? A screen of error rankers.

Issue 14 item 2 asks every parts model for a std whose order follows its errors:
Spearman(|error|, std) > 0.2 on the grouped splits of ``benchmarks/parts_signal.py``, with
+-1 std still covering 60-76 % of them. This script runs the headline ``ridge_family``
model (``previous_std``: its std before this screen) and candidate std settings out of
fold on those three splits, for the fold seeds given with ``--seeds`` (never the
reported 0-2: those see only what was adopted), and scores, one at a time, numbers known
before the held-out cell is measured (each from the *training* cells of the fold only):

* ``noise_design`` / ``noise_typical``: the measurement noise of the cell
  (:func:`biofab.parts.secretion.wu2020_noise`, replicate = culture): the replicate
  variance of its conditions (enzyme x dilution) pooled over their training cells, over
  the between-SP variance of the condition, divided by the cell's own number of cultures
  (a design choice, fixed before measuring) or the condition's median;
  ``noise_design_reading``: the same with single readings as replicates;
* ``sp_other_n`` / ``_sd`` / ``_absmean`` / ``_maxabs``: the SP's training cells on other
  enzymes (count, disagreement, how far from average); ``cluster_other_*``: its cluster's;
* ``enzyme_n``: training cells of the enzyme; ``protein_mad`` / ``protein_sd``: spread of the
  enzyme's training activities; ``n_readings(design)``: the cell's readings;
* ``nn_distance``: 1 - identity to the nearest other training SP; ``nn_distance_enzyme``:
  the same among the enzyme's training SPs;
* ``member_sd`` (bootstrap member spread), ``abs_prediction`` (|standardised prediction|),
  ``std_current`` (the model's std; ``std_declared_n`` the same model told the held-out
  cell's number of cultures).

and, as ceilings no model has at prediction time, ``oracle_noise`` (the cell's own
replicate spread, by reading), ``oracle_protein_mean_abs_err`` (the enzyme's mean |error|
over its held-out cells) and ``oracle_abs_truth``. Metric per split and seed:
Spearman(|error|, ranker) over the scored cells (as the benchmark); the mean over seeds is
what counts (with ~300 cells one Spearman has a sampling sd near 0.06).

Run: ``python benchmarks/parts_signal_std.py --seeds 100 101 102 103 104`` (the screen;
``--models`` for a subset; ``--out`` appends records to a JSON file, e.g.
``benchmarks/results/parts_signal_std.json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import parts_signal as ps
from biofab.core.atomic import write_atomic
from biofab.parts.secretion import wu2020_cells, wu2020_noise
from biofab.parts.secretion_sequence import SequenceSecretionModel

Factory = Callable[[], Any]


def candidate_models() -> dict[str, Factory]:
    """Model settings whose std is screened beside the single rankers (all reported)."""

    def ridge(*features: str, honest: int = 0, floor: float = 1e-3) -> Factory:
        # honest: 0 = inner folds as before; 1 = restandardized inner folds; 2 = 1 + the
        # protein variance of each calibration cell without its own residual.
        return lambda: SequenceSecretionModel(
            estimator="ridge",
            enzyme="family",
            error_features=features,
            restandardize=honest >= 1,
            loo_variance=honest >= 2,
            error_floor=floor,
        )

    return {
        "previous_std": ridge("spread", "descriptors"),
        "rs_loo_shape_noise": ridge("spread", "descriptors", "enzyme_shape", "noise", honest=2),
        "rs_loo_enzyme_only": ridge("enzyme_shape", "noise", honest=2),
        "rs_loo_shape": ridge("spread", "descriptors", "enzyme_shape", honest=2),
        "rs_loo_noise": ridge("spread", "descriptors", "noise", honest=2),
        "rs_loo_lean": ridge("spread", "enzyme_shape", "noise", honest=2),
        "rs_loo_enzyme3": ridge("enzyme_shape", "noise", "enzyme_scale", honest=2),
        "rs_loo_all": ridge(
            "spread", "descriptors", "enzyme_shape", "noise", "enzyme_scale", honest=2
        ),
        "rs_desc_enzyme": ridge("descriptors", "enzyme_shape", "noise", honest=1),
        "rs_desc": ridge("descriptors", honest=1),
        "desc_enzyme": ridge("descriptors", "enzyme_shape", "noise"),
        "rs_loo_enzyme_only_floor0.1": ridge("enzyme_shape", "noise", honest=2, floor=0.1),
        "rs_loo_shape_noise_floor0.1": ridge(
            "spread", "descriptors", "enzyme_shape", "noise", honest=2, floor=0.1
        ),
    }


def screen(
    readings: pd.DataFrame,
    cells: pd.DataFrame,
    split: str,
    seed: int,
    ident: dict[tuple[str, str], float],
    models: dict[str, Factory],
) -> pd.DataFrame:
    labels = ps.fold_labels(cells, split)
    fid = ps.deal(labels, ps.N_FOLDS, seed)
    n = len(cells)
    cols: dict[str, np.ndarray] = {}

    def col(name: str) -> np.ndarray:
        if name not in cols:
            cols[name] = np.full(n, np.nan)
        return cols[name]

    for f in range(ps.N_FOLDS):
        tr, te = fid != f, fid == f
        ref = cells.loc[tr, ["sp_id", "protein_id"]]
        fold = wu2020_cells(readings, reference=ref)
        noise = wu2020_noise(readings, reference=ref)
        by_reading = wu2020_noise(readings, reference=ref, unit="reading")
        noise = noise.merge(by_reading, on=["sp_id", "protein_id"], suffixes=("", "_reading"))
        nz = cells[["sp_id", "protein_id"]].merge(noise, on=["sp_id", "protein_id"], how="left")
        fold = cells.assign(
            activity=fold["activity"].to_numpy(), replicate_var=fold["replicate_var"].to_numpy()
        )
        train, test = fold[tr], fold[te]
        idx = np.flatnonzero(te)
        col("truth")[idx] = test["activity"].to_numpy()
        col("sp_mean")[idx] = ps.sp_mean_train(train, test)
        for name, make in models.items():
            model = make().fit(train, groups=labels[tr])
            # std: for a new cell of typical replication; std_n: for the held-out cell's
            # own number of readings, declared as a planned design.
            m, s = model.predict(test.drop(columns="n_replicates"))
            col(f"{name}:mean")[idx] = m
            col(f"{name}:std")[idx] = s
            col(f"{name}:std_n")[idx] = model.predict(test)[1]
            col(f"{name}:z")[idx] = model.predict_standardized(test)[0]
            X = model._design(model._descriptor_matrix(test), model._group_of(test))
            P = model._member_predictions(model._members, X)
            col(f"{name}:member_sd")[idx] = P.std(axis=0, ddof=1)
        for c in ("noise_design", "noise_typical", "noise_design_reading"):
            col(c)[idx] = nz[c].to_numpy()[te]
        # By culture, a cell measured in one culture has no replicate spread of its own.
        col("oracle_noise")[idx] = nz["oracle_noise_reading"].to_numpy()[te]
        # SP's training cells on other enzymes; its cluster's.
        for i, (sp, prot, cl) in zip(
            idx, test[["sp_id", "protein_id", "cluster"]].itertuples(index=False), strict=True
        ):
            other = train[(train["sp_id"] == sp) & (train["protein_id"] != prot)]["activity"]
            col("sp_other_n")[i] = len(other)
            col("sp_other_sd")[i] = other.std(ddof=1) if len(other) > 1 else np.nan
            col("sp_other_absmean")[i] = abs(other.mean()) if len(other) else np.nan
            col("sp_other_maxabs")[i] = other.abs().max() if len(other) else np.nan
            clo = train[(train["cluster"] == cl) & (train["protein_id"] != prot)]["activity"]
            col("cluster_other_n")[i] = len(clo)
            col("cluster_other_sd")[i] = clo.std(ddof=1) if len(clo) > 1 else np.nan
            col("enzyme_n")[i] = int((train["protein_id"] == prot).sum())
            pa = train.loc[train["protein_id"] == prot, "activity"]
            col("protein_mad")[i] = float(np.median(np.abs(pa - pa.mean()))) if len(pa) else np.nan
            col("protein_sd")[i] = float(pa.std(ddof=0)) if len(pa) > 1 else np.nan
            col("n_readings")[i] = float(cells["n_readings"].to_numpy()[i])
            others = [s for s in train["sp_id"].unique() if s != sp]
            col("nn_distance")[i] = 1 - max(ident[(sp, s)] for s in others)
            same = [s for s in train.loc[train["protein_id"] == prot, "sp_id"] if s != sp]
            col("nn_distance_enzyme")[i] = 1 - max(ident[(sp, s)] for s in same) if same else 1
    out = pd.DataFrame(cols)
    out["split"], out["seed"] = split, seed
    out["protein_id"] = cells["protein_id"].to_numpy()
    out["scored"] = (
        np.isfinite(out["sp_mean"]) if split != "unseen_sp_cluster" else np.ones(n, dtype=bool)
    )
    return out


def rankers(frame: pd.DataFrame, model: str) -> dict[str, np.ndarray]:
    """Every single ranker, oriented so that larger should mean a larger error."""
    f = frame
    z = f[f"{model}:z"].to_numpy()
    out = {
        "std_current": f[f"{model}:std"].to_numpy(),
        "std_declared_n": f[f"{model}:std_n"].to_numpy(),
        "noise_design": f["noise_design"].to_numpy(),
        "noise_typical": f["noise_typical"].to_numpy(),
        "noise_design_reading": f["noise_design_reading"].to_numpy(),
        "-sp_other_n": -f["sp_other_n"].to_numpy(),
        "sp_other_sd": f["sp_other_sd"].to_numpy(),
        "sp_other_absmean": f["sp_other_absmean"].to_numpy(),
        "sp_other_maxabs": f["sp_other_maxabs"].to_numpy(),
        "-cluster_other_n": -f["cluster_other_n"].to_numpy(),
        "cluster_other_sd": f["cluster_other_sd"].to_numpy(),
        "-enzyme_n": -f["enzyme_n"].to_numpy(),
        "nn_distance": f["nn_distance"].to_numpy(),
        "nn_distance_enzyme": f["nn_distance_enzyme"].to_numpy(),
        "abs_prediction": np.abs(z),
        "protein_mad": f["protein_mad"].to_numpy(),
        "protein_sd": f["protein_sd"].to_numpy(),
        "n_readings(design)": f["n_readings"].to_numpy(),
        "oracle_protein_mean_abs_err": _protein_oracle(f, model),
        "oracle_noise": f["oracle_noise"].to_numpy(),
        "oracle_abs_truth": np.abs(f["truth"].to_numpy()),
    }
    if f"{model}:member_sd" in f:
        out["member_sd"] = f[f"{model}:member_sd"].to_numpy()
    return out


def _protein_oracle(f: pd.DataFrame, model: str) -> np.ndarray:
    """Ceiling of a per-enzyme ranker: the enzyme's mean |error| over these held-out cells."""
    err = (f["truth"] - f[f"{model}:mean"]).abs()
    return err.groupby(f["protein_id"].to_numpy()).transform("mean").to_numpy()


def score(frame: pd.DataFrame, model: str) -> dict[str, float]:
    f = frame[frame["scored"].to_numpy(dtype=bool)]
    err = np.abs(f["truth"].to_numpy() - f[f"{model}:mean"].to_numpy())
    res: dict[str, float] = {}
    for name, r in rankers(f, model).items():
        ok = np.isfinite(r) & np.isfinite(err)
        spread = ok.sum() > 2 and np.ptp(r[ok]) > 0
        res[name] = float(spearmanr(err[ok], r[ok])[0]) if spread else float("nan")
        res[name + "#n"] = int(ok.sum())
    s = f[f"{model}:std"].to_numpy()
    res["coverage"] = float(np.mean(err <= s))
    res["coverage_declared_n"] = float(np.mean(err <= f[f"{model}:std_n"].to_numpy()))
    return res


def write_records(args: argparse.Namespace, report: dict[str, Any], elapsed: float) -> None:
    """Append this run's records (one per model, split and ranker) to ``args.out``: the
    screen and the confirmation runs share one file, each record naming its seeds."""
    date = datetime.date.today().isoformat()
    seeds = " ".join(map(str, args.seeds))
    command = f"python benchmarks/parts_signal_std.py --seeds {seeds}"
    if args.models:
        command += " --models " + " ".join(args.models)
    old = json.loads(args.out.read_text()) if args.out.exists() else []
    old = [r for r in old if r.get("command") != command]
    records = []
    for key, per in report.items():
        model, split = key.split("|")
        for name in per[0]:
            if name.endswith("#n"):
                continue
            values = [p[name] for p in per]
            finite = [v for v in values if np.isfinite(v)]
            if not finite:  # e.g. the SP's other cells on the unseen-cluster split: none
                continue
            values = [v if np.isfinite(v) else None for v in values]
            records.append(
                {
                    "metric": "coverage_1sd"
                    if name.startswith("coverage")
                    else "spearman_abs_error_ranker",
                    "dataset": f"wu2020_{split}",
                    "model": model,
                    "ranker": name,
                    "value": float(np.mean(finite)),
                    "min_max": [float(np.min(finite)), float(np.max(finite))],
                    "per_seed": values,
                    "fold_seeds": args.seeds,
                    "biofab": None,
                    "better": "higher",
                    "cores": 1,
                    "command": command,
                    "date": date,
                    "elapsed_s": round(elapsed),
                }
            )
    write_atomic(args.out, json.dumps(old + records, indent=1) + "\n")


def load(data: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[tuple[str, str], float]]:
    return ps.load_cells(data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ps.ROOT.parent / "shared" / "data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--models", nargs="+", default=None, help="subset of the candidates")
    parser.add_argument("--frames", type=Path, default=None, help="per-cell table (parquet/csv)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    readings, cells, ident = load(args.data)
    models = candidate_models()
    if args.models:
        models = {k: models[k] for k in args.models}
    frames = []
    for split in ps.SPLITS:
        for seed in args.seeds:
            frames.append(screen(readings, cells, split, seed, ident, models))
            print(f"{split} seed {seed} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    allf = pd.concat(frames, ignore_index=True)
    if args.frames:
        allf.to_csv(args.frames, index=False)
    report: dict[str, Any] = {}
    for model in models:
        for split in ps.SPLITS:
            per = [
                score(allf[(allf["split"] == split) & (allf["seed"] == s)], model)
                for s in args.seeds
            ]
            report[f"{model}|{split}"] = per
    names = [k for k in report[next(iter(report))][0] if not k.endswith("#n")]
    print(f"\nSpearman(|error|, ranker), mean over seeds {args.seeds} (min-max)")
    for j, model in enumerate(models):
        print(f"\nmodel {model}")
        print(f"{'ranker':<22}" + "".join(f"{s[:24]:>26}" for s in ps.SPLITS))
        for nm in (
            names
            if j == 0
            else ["std_current", "coverage", "std_declared_n", "coverage_declared_n"]
        ):
            row = f"{nm:<22}"
            for split in ps.SPLITS:
                v = [p[nm] for p in report[f"{model}|{split}"]]
                row += f"{np.nanmean(v):>10.3f} ({np.nanmin(v):.2f},{np.nanmax(v):.2f})  "
            print(row)
    if args.out:
        write_records(args, report, time.perf_counter() - t0)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
