"""kcat on CatPred-DB: KcatModel beside EC-class-mean and nearest-enzyme baselines.

Data (``--data``, default ``$BIOFAB_SHARED_DATA`` or ``../shared/data``):
``enzymes/catpred_kcat_random_{val,test}.csv`` from CatPred-DB (Boorla & Maranas
2025, Nat Commun 16:2072; MIT). Target ``log10_value`` = log10 kcat (1/s).

Protocol (fixed before looking at test numbers):

0. Feature set (format 2) plus, since round 4, the kernel ridge prior and blend:
   screened by 5-fold CV inside the val file only, confirmed on fresh fold seeds
   (``benchmarks/parts_kcat_dev.py``; CV tables in BENCHMARKS.md).
1. Setting choice, on the val file only: 3-fold CV grouped by ``sequence_40cluster``
   inside val of the ``--grid`` settings (``far_fraction``: the share of training
   rows whose priors omit their relatives; ``shrink``: blend with the EC mean by
   similarity); the highest Pearson r + RMSE skill (1 - RMSE / std) wins. The test
   file is never used for a choice; every setting tried is printed and written to
   the JSON.
2. Random split: train on val (2,088 rows), test on test (2,320 rows); ``--seeds``
   seeds (mean and min-max).
3. Grouped splits over the union of both files, 5 folds (clusters shuffled to folds
   with seed 0), pooled predictions of the five test folds:
   * ``sequence_40cluster`` (CatPred's MMseqs2 clusters at 40 % identity);
   * ``identity20``: single-linkage clusters of an all-vs-all phmmer search, linking
     two enzymes when a significant hit (E <= 1e-3) has >= 20 % identity
     (:mod:`biofab.parts.homology`; hits cached in ``--cache``);
   * ``random5``: every row its own group, i.e. a random 5-fold split of the union
     (3,526 training rows per fold instead of the val file's 2,088): how much the
     random-split r owes to the amount of training data.
4. Metrics: Pearson r and RMSE (log10) of the means; coverage of mean ± 1 std
   (nominal 68.3 %) and ± 1.96 std (95 %); Spearman of |error| against std. Baselines
   on the same rows: the EC-class mean (its std = the class's std) and the nearest
   training enzyme by 3-mer cosine (mean log10 kcat of that enzyme's rows).

Run: ``python benchmarks/parts_kcat.py`` (writes ``benchmarks/results/parts_kcat.json``);
``--splits random5 --out F`` runs one split only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm, pearsonr, spearmanr

from biofab.core.atomic import write_atomic
from biofab.parts.homology import identity_clusters
from biofab.parts.kcat import TARGET, ECMeanBaseline, KcatModel, kmer_profiles, load_catpred

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python benchmarks/parts_kcat.py"


def metrics(y: np.ndarray, mean: np.ndarray, std: np.ndarray | None = None) -> dict[str, float]:
    out = {
        "r": float(pearsonr(mean, y)[0]),
        "rmse": float(np.sqrt(np.mean((mean - y) ** 2))),
    }
    if std is not None:
        err = np.abs(y - mean)
        out["cov68"] = float(np.mean(err <= std))
        out["cov95"] = float(np.mean(err <= norm.ppf(0.975) * std))
        out["spearman_err_std"] = float(spearmanr(err, std)[0])
    return out


def nearest_enzyme(train: pd.DataFrame, query: pd.DataFrame) -> np.ndarray:
    """Mean log10 kcat of the training rows of the most similar training enzyme
    (3-mer cosine): the nearest-neighbour-by-sequence baseline."""
    seqs = sorted(set(train["sequence"]))
    means = train.groupby("sequence")[TARGET].mean().reindex(seqs).to_numpy()
    sim = (kmer_profiles(query["sequence"]) @ kmer_profiles(seqs).T).toarray()
    return np.asarray(means[np.argmax(sim, axis=1)], dtype=float)


def grouped_folds(groups: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    fold_of = dict(zip(rng.permutation(uniq), np.arange(len(uniq)) % k, strict=True))
    assign = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(assign == f) for f in range(k)]


def choose_setting(
    val: pd.DataFrame, grid: list[tuple[float, bool]], members: int, jobs: int
) -> tuple[tuple[float, bool], dict[str, dict[str, float]]]:
    """Grouped 3-fold CV inside the val file (sequence_40cluster) of (far_fraction, shrink)."""
    y = val[TARGET].to_numpy()
    folds = grouped_folds(val["sequence_40cluster"].to_numpy(), 3, seed=0)
    scores: dict[str, dict[str, float]] = {}
    for far, shrink in grid:
        mean, std = np.empty(len(val)), np.empty(len(val))
        for te in folds:
            tr = np.setdiff1d(np.arange(len(val)), te)
            model = KcatModel(
                n_members=members, far_fraction=far, shrink=shrink, n_jobs=jobs, seed=0
            )
            mean[te], std[te] = model.fit(val.iloc[tr]).predict(val.iloc[te])
        key = f"far_fraction={far},shrink={shrink}"
        scores[key] = metrics(y, mean, std)
        print(f"  grouped CV on val, {key}: {scores[key]}", flush=True)
    sd = float(np.std(y))

    def score(i: int) -> float:
        m = list(scores.values())[i]
        return m["r"] + (1 - m["rmse"] / sd)

    best = max(range(len(grid)), key=score)
    return grid[best], scores


def run_grouped(
    both: pd.DataFrame,
    groups: np.ndarray,
    setting: tuple[float, bool],
    members: int,
    jobs: int,
    label: str,
) -> dict[str, dict[str, float]]:
    y = both[TARGET].to_numpy()
    n = len(both)
    mean, std = np.empty(n), np.empty(n)
    ec_mean, ec_std, nn = np.empty(n), np.empty(n), np.empty(n)
    for f, te in enumerate(grouped_folds(groups, 5, seed=0)):
        tr = np.setdiff1d(np.arange(n), te)
        t0 = time.perf_counter()
        far, shrink = setting
        model = KcatModel(n_members=members, far_fraction=far, shrink=shrink, n_jobs=jobs, seed=0)
        model.fit(both.iloc[tr])
        mean[te], std[te] = model.predict(both.iloc[te])
        ec_mean[te], ec_std[te] = ECMeanBaseline().fit(both.iloc[tr]).predict(both.iloc[te])
        nn[te] = nearest_enzyme(both.iloc[tr], both.iloc[te])
        inner = model.calibration_
        print(
            f"  {label} fold {f}: {len(te)} test rows, {time.perf_counter() - t0:.0f} s; "
            f"internal grouped cov68 {inner.get('grouped_coverage_68', float('nan')):.3f}",
            flush=True,
        )
    return {
        "KcatModel": metrics(y, mean, std),
        "EC mean": metrics(y, ec_mean, ec_std),
        "nearest enzyme": metrics(y, nn),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("BIOFAB_SHARED_DATA", ROOT.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--jobs", type=int, default=2, help="XGBoost threads")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--members", type=int, default=8, help="ensemble members")
    parser.add_argument(
        "--grid",
        default="0:0,0:1",
        help="far_fraction:shrink settings tried on val (shrink 0/1)",
    )
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks/results/kcat_cache")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/parts_kcat.json")
    parser.add_argument(
        "--splits",
        default="random,grouped40,grouped20,random5",
        help="comma list of random, grouped40, grouped20, random5",
    )
    args = parser.parse_args(argv)
    splits = [x.strip() for x in args.splits.split(",") if x.strip()]
    unknown = sorted(set(splits) - {"random", "grouped40", "grouped20", "random5"})
    if unknown or not splits:
        parser.error(f"--splits: unknown {unknown}; expected random, grouped40, grouped20, random5")
    enz = args.data / "enzymes"
    val = load_catpred([enz / "catpred_kcat_random_val.csv"])
    test = load_catpred([enz / "catpred_kcat_random_test.csv"])
    both = pd.concat([val, test], ignore_index=True)
    t0 = time.perf_counter()

    print("0. identity clusters (phmmer all-vs-all over val + test, single linkage)")
    args.cache.mkdir(parents=True, exist_ok=True)
    id20 = identity_clusters(list(both["sequence"]), 0.2, cache=args.cache, cpus=args.jobs)
    pd.DataFrame({"sequence_40cluster": both["sequence_40cluster"], "identity20": id20}).assign(
        row=np.arange(len(both)), source=both["source"]
    ).to_csv(args.cache / "clusters_val_test.csv", index=False)
    sizes = np.bincount(id20)
    print(f"  identity20: {len(sizes)} clusters, largest {sizes.max()} of {len(both)} rows")

    print("1. setting choice (grouped 3-fold CV on the val file only)")
    grid = [(float(a), b == "1") for a, b in (x.split(":") for x in args.grid.split(","))]
    setting, cv = choose_setting(val, grid, max(2, args.members // 2), args.jobs)
    far, shrink = setting
    print(f"  chosen: far_fraction={far}, shrink={shrink}")

    results: dict[str, dict[str, dict[str, float]]] = {}
    spread: dict[str, tuple[float, float]] = {}
    if "random" in splits:
        print("2. random split: train val, test test")
        y = test[TARGET].to_numpy()
        rand_base = metrics(y, *ECMeanBaseline().fit(val).predict(test))
        rand_nn = metrics(y, nearest_enzyme(val, test))
        runs = []
        for seed in range(args.seeds):
            model = KcatModel(
                n_members=args.members,
                far_fraction=far,
                shrink=shrink,
                n_jobs=args.jobs,
                seed=seed,
            )
            runs.append(metrics(y, *model.fit(val).predict(test)))
            print(f"  seed {seed}: {runs[-1]}; internal {model.calibration_}", flush=True)
        rand = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        spread = {k: (min(r[k] for r in runs), max(r[k] for r in runs)) for k in runs[0]}
        results["random"] = {"KcatModel": rand, "EC mean": rand_base, "nearest enzyme": rand_nn}

    print("3. grouped splits over val + test (5 folds)")
    groups = {
        "grouped40": both["sequence_40cluster"].to_numpy(),
        "grouped20": id20,
        "random5": np.arange(len(both)),
    }
    for split in ("grouped40", "grouped20", "random5"):
        if split in splits:
            results[split] = run_grouped(
                both, groups[split], setting, args.members, args.jobs, split
            )
    elapsed = time.perf_counter() - t0

    print()
    print(f"{'split':<12}{'model':<16}{'r':>7}{'RMSE':>7}{'cov68':>7}{'cov95':>7}{'rho':>7}")
    for split, rows in results.items():
        for name, m in rows.items():
            extra = "".join(
                f"{m[k]:>7.3f}" if k in m else f"{'':>7}"
                for k in ("cov68", "cov95", "spearman_err_std")
            )
            print(f"{split:<12}{name:<16}{m['r']:>7.3f}{m['rmse']:>7.3f}{extra}")
    if spread:
        print(f"random r over {args.seeds} seeds: {spread['r'][0]:.3f}-{spread['r'][1]:.3f}")
    for split, rows in results.items():
        k, b = rows["KcatModel"], rows["EC mean"]
        print(
            f"{split}: r ratio vs EC mean {k['r'] / b['r']:.2f}x, "
            f"RMSE ratio {b['rmse'] / k['rmse']:.2f}x"
        )
    print(f"total {elapsed:.0f} s on {args.jobs} threads")

    common = {
        "peer": "ec_class_mean",
        "cores": args.jobs,
        "command": COMMAND + ("" if len(splits) == 4 else f" --splits {args.splits}"),
        "date": datetime.date.today().isoformat(),
        "repeats": 1,
        "hyperparameters": {
            "far_fraction": far,
            "shrink": shrink,
            "members": args.members,
            "settings_tried_grouped_cv_val": cv,
            "features": "v2 features + kernel ridge prior (3-mer cosine x Tanimoto + EC "
            "agreement; leave-one-out for training rows) in the trees and the shrink blend; "
            "format 3: std from pooled out-of-bag and internal grouped out-of-fold residuals, "
            "calibration rows' EC statistics without the row itself",
        },
    }
    datasets = {
        "random": ("catpred_random_val_to_test", args.seeds),
        "grouped40": ("catpred_grouped_40cluster_5fold", 1),
        "grouped20": ("catpred_grouped_phmmer_identity20_5fold", 1),
        "random5": ("catpred_union_random_5fold", 1),
    }
    records = []
    for split, (dataset, seeds) in datasets.items():
        if split not in results:
            continue
        k, b = results[split]["KcatModel"], results[split]["EC mean"]
        nn = results[split]["nearest enzyme"]
        base = {"dataset": dataset, "seeds": seeds, **common}
        r_rec = {
            "metric": "pearson_r_log10_kcat",
            "biofab": k["r"],
            "peer_value": b["r"],
            "ratio": k["r"] / b["r"],
            "better": "higher",
            "nearest_enzyme_value": nn["r"],
            **base,
        }
        if split == "random":
            r_rec.update(biofab_min_max=spread["r"], target_value=0.6)
        elif split == "random5":
            r_rec["target_value"] = 0.6
        else:
            r_rec["target_ratio"] = 1.0
        records.append(r_rec)
        records.append(
            {
                "metric": "rmse_log10_kcat",
                "biofab": k["rmse"],
                "peer_value": b["rmse"],
                "ratio": b["rmse"] / k["rmse"],
                "better": "lower",
                "nearest_enzyme_value": nn["rmse"],
                **({"target_ratio": 1.0} if split.startswith("grouped") else {}),
                **base,
            }
        )
        for metric, key, nominal in (
            ("coverage_68", "cov68", 0.6827),
            ("coverage_95", "cov95", 0.95),
        ):
            records.append(
                {
                    "metric": metric,
                    "biofab": k[key],
                    "peer_value": b[key],
                    "nominal": nominal,
                    "target_range": [0.60, 0.76] if key == "cov68" else None,
                    "better": "closer_to_nominal",
                    **base,
                }
            )
        records.append(
            {
                "metric": "spearman_abs_error_vs_std",
                "biofab": k["spearman_err_std"],
                "peer_value": b["spearman_err_std"],
                "target_value": 0.2,
                "better": "higher",
                **base,
            }
        )
    write_atomic(args.out, json.dumps(records, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
