"""Parts pillar benchmarks: sequence -> function models beside their physics baselines.

Promoter section (LaFleur, Hossain & Salis 2022, Nat Commun 13:5159, Supp. Data 3):

* rows: the 5,193 promoters flagged ``high quality``; sequence = UP + -35 + spacer
  + -10 + discriminator + ITR (57-87 nt); target ``Observed log(TX/Txref)``.
* split: ``numpy.random.default_rng(0).permutation(n)``; the first
  ``round(0.2 n)`` = 1,039 rows are the test set, the other 4,154 train.
  Fixed, written down here, never tuned on. (The library is combinatorial:
  test promoters share elements with training ones, as in the paper's own
  cross-validation; there is no identity grouping to do for unique sequences.)
* peer: the Promoter Calculator's ``Predicted log(TX/Txref)`` column of the
  same test rows (the paper's physics model, as published; it was fitted on
  this library, so it is a strong peer).
* biofab: ``KmerRidge`` (k <= 5), ``KmerBoost`` (k <= 4) and ``CNNEnsemble``
  (5 members), each trained on the 4,154 training rows with ``--seeds``
  model seeds (default 3; the split stays fixed); Pearson r on the test rows,
  mean and min-max over seeds; train time per fit. Headline ratio: biofab's
  mean r / calculator r (> 1 means biofab wins).

Design section: see :func:`design_section` (20 promoters at each of three
target strengths under lab constraints, judged by the Promoter Calculator).

Other sections (kcat, signal peptides) register in ``SECTIONS`` with a function
``(args) -> list[record]``. Output: a table on stdout and
``benchmarks/results/parts.json`` (records as in ``../shared/BENCHMARKS-GUIDE.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biofab.parts.datasets import load_lafleur
from biofab.parts.models import CNNEnsemble, KmerBoost, KmerRidge, PhysicsResidual, SequenceModel

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(
    os.environ.get("BIOFAB_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
LAFLEUR = "parts/promoters/lafleur2022_supp_data3.csv"
CALCULATOR = "promoter-calculator"


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation coefficient of two 1-D arrays."""
    return float(np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1])


def promoter_split(
    path: Path, seed: int = 0, test_fraction: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) of the high-quality LaFleur rows: seeded permutation, first 20 % test."""
    data = load_lafleur(path, high_quality=True)
    perm = np.random.default_rng(seed).permutation(len(data))
    n_test = round(test_fraction * len(data))
    return data.iloc[perm[n_test:]].reset_index(drop=True), data.iloc[perm[:n_test]].reset_index(
        drop=True
    )


def promoter_models(args: argparse.Namespace) -> dict[str, Callable[[int], SequenceModel]]:
    """Model name -> factory(seed) of the promoter section."""
    return {
        "kmer-ridge": lambda s: KmerRidge(kind="promoter", k=5, seed=s),
        "kmer-boost": lambda s: KmerBoost(kind="promoter", k=4, n_jobs=args.jobs, seed=s),
        "cnn-ensemble": lambda s: CNNEnsemble(
            kind="promoter", n_members=args.members, n_jobs=args.jobs, device=args.device, seed=s
        ),
        "physics-residual": lambda s: PhysicsResidual(n_jobs=args.jobs, seed=s),
    }


def evaluate(
    factory: Callable[[int], SequenceModel], train: pd.DataFrame, test: pd.DataFrame, seeds: int
) -> dict[str, Any]:
    """Fit once per seed; Pearson r on ``test``, fit times, mean predicted std."""
    rs, times, stds = [], [], []
    for s in range(seeds):
        model = factory(s)
        t = time.perf_counter()
        model.fit(train["sequence"].tolist(), train["target"].to_numpy())
        times.append(time.perf_counter() - t)
        mean, std = model.predict(test["sequence"].tolist())
        rs.append(pearson(test["target"].to_numpy(), mean))
        stds.append(float(np.mean(std)))
    return {"r": rs, "fit_s": times, "mean_std": stds}


def promoter_section(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Pearson r of each model and of the Promoter Calculator on the fixed test rows."""
    train, test = promoter_split(DATA / LAFLEUR)
    calc_r = pearson(test["target"].to_numpy(), test["calculator"].to_numpy())
    print(f"LaFleur 2022 high quality: {len(train)} train / {len(test)} test promoters")
    cols = ("Pearson r (mean)", "min-max", "fit s (median)", "mean std")
    print(f"{'model':<16}{cols[0]:>18}{cols[1]:>18}{cols[2]:>16}{cols[3]:>10}")
    print(f"{CALCULATOR:<16}{calc_r:>18.3f}{'(published column)':>18}")
    records = []
    chosen = args.models.split(",") if args.models else None
    for name, factory in promoter_models(args).items():
        if chosen and name not in chosen:
            continue
        res = evaluate(factory, train, test, args.seeds)
        r = statistics.mean(res["r"])
        print(
            f"{name:<16}{r:>18.3f}{min(res['r']):>9.3f}-{max(res['r']):<8.3f}"
            f"{statistics.median(res['fit_s']):>16.1f}{statistics.mean(res['mean_std']):>10.3f}",
            flush=True,
        )
        records.append(
            {
                "metric": f"promoter_pearson_r_{name}",
                "dataset": "LaFleur2022 high-quality, seeded 80/20 (rng 0)",
                "biofab": round(r, 4),
                "biofab_min": round(min(res["r"]), 4),
                "biofab_max": round(max(res["r"]), 4),
                "peer": CALCULATOR,
                "peer_value": round(calc_r, 4),
                "ratio": round(r / calc_r, 4),
                "better": "higher",
                "target_ratio": 1.0,
                "seeds": args.seeds,
                "repeats": 1,
                "cores": args.cores,
                "device": args.device_used,
                "fit_time_s_median": round(statistics.median(res["fit_s"]), 1),
                "fit_time_s_min": round(min(res["fit_s"]), 1),
                "fit_time_s_max": round(max(res["fit_s"]), 1),
                "n_train": len(train),
                "n_test": len(test),
            }
        )
    if records:
        best = max(records, key=lambda rec: rec["biofab"])
        print(
            f"headline: {best['metric']} r = {best['biofab']:.3f} vs calculator "
            f"{calc_r:.3f} -> ratio {best['ratio']:.3f} (target > 1)"
        )
    return records


def kcat_section(args: argparse.Namespace) -> list[dict[str, Any]]:
    """CatPred-DB kcat benchmark; writes its own ``benchmarks/results/parts_kcat.json``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import parts_kcat

    parts_kcat.main(["--jobs", str(args.jobs), "--seeds", str(args.seeds)])
    return []


DESIGN_PERCENTILES = (10, 50, 90)
DESIGN_ENZYMES = ("BsaI", "BsmBI", "EcoRI", "XbaI", "SpeI", "PstI")
DESIGN_TOLERANCE = 0.5


def design_constraints(length: int) -> Any:
    """The design benchmark's lab constraints for ``length``-nt promoters."""
    from biofab.parts.constraints import SequenceConstraints

    return SequenceConstraints(
        length=length,
        gc=(0.3, 0.7),
        max_homopolymer=5,
        enzymes=DESIGN_ENZYMES,
        max_repeat=12,
    )


def mean_pairwise_distance(seqs: list[str]) -> float:
    """Mean Hamming distance over all pairs of equal-length sequences."""
    arr = np.frombuffer("".join(seqs).encode(), dtype=np.uint8).reshape(len(seqs), -1)
    d = (arr[:, None, :] != arr[None, :, :]).sum(axis=2)
    iu = np.triu_indices(len(seqs), k=1)
    return float(d[iu].mean())


def design_section(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Promoters designed to three target strengths, judged by the Promoter Calculator.

    KmerBoost (k <= 4) trained on the promoter section's 4,154 training rows
    guides :class:`SequenceDesigner` (defaults: 200 steps, 40 chains, penalty
    1 x std) to 20 designs per target, at the 10th/50th/90th percentile of
    the training rows' ``Observed log(TX/Txref)``, seeded from the training
    promoters of the modal length (73 nt). Judge: the Promoter Calculator
    (package, LaFleur units, BioBrick prefix upstream), which never saw the
    designs' model. Peer: 20 training promoters per target drawn at random
    (seeded), judged the same way -- what picking from the library without a
    model gives.

    Run once per ``--design-steps`` value (default ``30,200``): the first is
    the headline, others add a ``_steps<N>`` suffix to the metric names. Short
    runs stay a few mutations from the library (a trust region), long ones
    drift ~30 mutations away where the k-mer model is confidently wrong (its
    bootstrap std stays ~0.03): see BENCHMARKS.md.
    """
    from biofab.parts.physics import PromoterCalculator

    train, _ = promoter_split(DATA / LAFLEUR)
    lengths = train["sequence"].str.len()
    length = int(lengths.mode().iloc[0])
    pool = train[lengths == length].reset_index(drop=True)
    targets = np.percentile(train["target"].to_numpy(), DESIGN_PERCENTILES)
    constraints = design_constraints(length)
    t = time.perf_counter()
    model = KmerBoost(kind="promoter", k=4, n_jobs=args.jobs, seed=0)
    model.fit(train["sequence"].tolist(), train["target"].to_numpy())
    fit_s = time.perf_counter() - t
    judge = PromoterCalculator(units="lafleur")
    seeds = dict(zip(pool["id"].astype(str), pool["sequence"], strict=True))
    print(
        f"design: KmerBoost fitted in {fit_s:.1f} s; {len(pool)} seed promoters of {length} nt; "
        f"targets {', '.join(f'{x:.2f}' for x in targets)} (p{DESIGN_PERCENTILES})"
    )
    records: list[dict[str, Any]] = []
    for k, steps in enumerate(int(x) for x in args.design_steps.split(",")):
        suffix = "" if k == 0 else f"_steps{steps}"
        records += _design_run(args, model, judge, constraints, seeds, train, targets, steps)
        for rec in records[-4:]:
            rec["metric"] += suffix
            rec["fit_time_s"] = round(fit_s, 1)
    return records


def _design_run(
    args: argparse.Namespace,
    model: Any,
    judge: Any,
    constraints: Any,
    seeds: dict[str, str],
    train: pd.DataFrame,
    targets: np.ndarray,
    steps: int,
) -> list[dict[str, Any]]:
    """One design benchmark run with ``steps`` annealing steps; four records."""
    from biofab.parts.design import SequenceDesigner

    rng = np.random.default_rng(0)
    print(f"-- {steps} annealing steps")
    hdr = ("target", "designs", "calc within", "model within", "constraints", "mean dist", "min")
    print(f"{hdr[0]:>8}{hdr[1]:>9}{hdr[2]:>13}{hdr[3]:>14}{hdr[4]:>13}{hdr[5]:>11}{hdr[6]:>6}")
    per_target = []
    all_hits, all_ok, design_s, n_designs, lib_hits = [], [], 0.0, 0, []
    for pct, target in zip(DESIGN_PERCENTILES, targets, strict=True):
        designer = SequenceDesigner(
            model.predict,
            constraints,
            target=float(target),
            n=20,
            min_distance=5,
            seed=0,
            steps=steps,
        )
        designs = designer.design(seeds)
        design_s += designer.elapsed_s_
        seqs = designs["sequence"].tolist()
        n_designs += len(seqs)
        calc, _ = judge.predict(seqs)
        hits = np.abs(calc - target) <= DESIGN_TOLERANCE
        model_hits = np.abs(designs["prediction"].to_numpy() - target) <= DESIGN_TOLERANCE
        ok = [constraints.ok(s) and not constraints.violations(s) for s in seqs]
        dists = (designs["nearest_distance"].min(), mean_pairwise_distance(seqs))
        picks = train["sequence"].iloc[rng.choice(len(train), 20, replace=False)].tolist()
        lib_calc, _ = judge.predict(picks)
        lib_hits += list(np.abs(lib_calc - target) <= DESIGN_TOLERANCE)
        all_hits += list(hits)
        all_ok += ok
        per_target.append(
            {
                "percentile": pct,
                "target": round(float(target), 3),
                "designs": len(seqs),
                "calculator_within": round(float(hits.mean()), 3),
                "model_within": round(float(model_hits.mean()), 3),
                "library_within": round(float(np.mean(lib_hits[-20:])), 3),
                "constraints_met": round(float(np.mean(ok)), 3),
                "mean_pairwise_distance": round(dists[1], 1),
                "min_pairwise_distance": int(dists[0]),
                "calculator_mean": round(float(calc.mean()), 3),
                "design_s": round(designer.elapsed_s_, 1),
                "mean_mutations_from_seed": round(float(designs["origin_distance"].mean()), 1),
            }
        )
        print(
            f"{target:>8.2f}{len(seqs):>9}{hits.mean():>13.2f}{model_hits.mean():>14.2f}"
            f"{np.mean(ok):>13.2f}{dists[1]:>11.1f}{dists[0]:>6}",
            flush=True,
        )
    within = float(np.mean(all_hits))
    lib = float(np.mean(lib_hits))
    per_min = n_designs / design_s * 60.0
    mean_dist = statistics.mean(p["mean_pairwise_distance"] for p in per_target)
    print(
        f"headline: {within:.2f} of {n_designs} designs within +-{DESIGN_TOLERANCE} of target by "
        f"the calculator (random library picks: {lib:.2f}); constraints met "
        f"{np.mean(all_ok):.0%}; {per_min:.1f} designs/min on {args.cores} cores"
    )
    common = {
        "dataset": "LaFleur2022 high-quality train split (rng 0); targets p10/p50/p90",
        "seeds": 1,
        "repeats": 1,
        "cores": args.cores,
        "device": "cpu",
        "n_designs": n_designs,
        "model": "kmer-boost (k<=4), 5 bootstrap members",
        "judge": "Promoter Calculator 1.2.4, LaFleur units, BioBrick prefix upstream",
        "constraints": constraints.describe(),
        "steps": steps,
        "per_target": per_target,
    }
    return [
        {
            "metric": "design_promoter_calculator_within_0.5",
            "biofab": round(within, 4),
            "peer": "random training promoters (20 per target)",
            "peer_value": round(lib, 4),
            "ratio": round(within / lib, 4) if lib > 0 else None,
            "better": "higher",
            **common,
        },
        {
            "metric": "design_promoter_constraints_met",
            "biofab": round(float(np.mean(all_ok)), 4),
            "target_value": 1.0,
            "better": "higher",
            **common,
        },
        {
            "metric": "design_promoter_mean_pairwise_distance",
            "biofab": round(mean_dist, 2),
            "better": "higher",
            "unit": "nt (Hamming), mean over targets",
            **common,
        },
        {
            "metric": "design_promoter_designs_per_minute",
            "biofab": round(per_min, 2),
            "better": "higher",
            "design_time_s": round(design_s, 1),
            **common,
        },
    ]


# -- transfer (issue 14): train on LaFleur, predict Hossain; leave-element-out; length shift ---

HOSSAIN = "parts/promoters/hossain2020_from_lafleur2022_supp.csv"
ELEMENTS = ("h10", "h35", "UP", "spacs")
#: (name, length, flank GC): Hossain promoters padded with a fixed neutral flank (seeded
#: random DNA of that GC, split evenly around the promoter) or 5'-trimmed (length 60).
SHIFTS = (
    ("trim60", 60, 0.5),
    ("pad100_gc50", 100, 0.5),
    ("pad150_gc50", 150, 0.5),
    ("pad200_gc50", 200, 0.5),
    ("pad150_gc30", 150, 0.3),
    ("pad150_gc70", 150, 0.7),
)
#: Every setting of the physics-residual model tried while building it, with the
#: LaFleur leave-element-out score that chose it (mean over the h10/h35/UP/spacs
#: splits of the per-fold Pearson r, GroupKFold(5), calculator line + correction;
#: /tmp scratch runs of 2026-12-04, never Hossain). The chosen one is marked.
SETTINGS_TRIED = [
    {"setting": "dG_total line only (recomputed calculator)", "lafleur_leave_element_out_r": 0.673},
    {"setting": "+ ridge on all element one-hots", "lafleur_leave_element_out_r": 0.593},
    {"setting": "+ ridge on energies, UP, lengths", "lafleur_leave_element_out_r": 0.663},
    {"setting": "+ XGBoost depth 2 on all features", "lafleur_leave_element_out_r": 0.698},
    {"setting": "+ XGBoost depth 3 on all features (chosen)", "lafleur_leave_element_out_r": 0.704},
    {
        "setting": "+ 0.5 ridge(energies) + 0.5 XGBoost depth 3",
        "lafleur_leave_element_out_r": 0.694,
    },
]
#: Second round, on LaFleur only: GroupKFold(3) by h10 and by spacs (6 held-out folds),
#: each held-out fold also 5'-trimmed to 60 nt and padded to 150 nt (GC 0.5 flank);
#: mean per-fold Pearson r [as is, trimmed, padded]. Calculator line: 0.683/0.663/0.604.
SETTINGS_TRIED_SHIFT = [
    {"setting": "6 members (3 views), error model + hexamer distance", "r": [0.698, 0.674, 0.543]},
    {"setting": "+ corrections shrunk by distance factor (chosen)", "r": [0.698, 0.675, 0.579]},
    {"setting": "competing-site columns out of the corrections", "r": [0.697, 0.674, 0.532]},
    {"setting": "... and shrunk", "r": [0.697, 0.674, 0.571]},
]

#: Third round (2026-12-05, issue 14 items 1-2), LaFleur only: GroupKFold(4) by h10, h35,
#: UP and spacs (4 folds, not the reported 3, so the choice is not made on the reported
#: folds), each held-out fold as is, 5'-trimmed to 60 and to 57 nt (57: the -35 at the
#: sequence's first base, the geometry of a cut 3 nt deeper than 60 on LaFleur; Hossain's
#: 78-nt promoters cut to 60 put their -35 2 nt from the end, which LaFleur's 60-nt cut
#: never does) and padded to 150 nt (GC 0.5). Values: per-fold Pearson r [as is, trim60,
#: trim57, pad150] averaged over the four elements, then pooled ±1 std coverage and
#: pooled Spearman(|error|, std) per element [h10, h35, UP, spacs] (/tmp scratch runs,
#: seed 0, never Hossain). Calculator dG_total on the same rows: r [0.681, 0.654, 0.248,
#: 0.595]. The chosen one is marked.
SETTINGS_TRIED_ROUND3 = [
    {
        "setting": "previous model (6 members, calibration folds by -10 only, 6 descriptors)",
        "r": [0.705, 0.669, None, 0.565],
        "coverage": [0.676, 0.673, 0.920, 0.668],
        "spearman": [0.038, 0.164, 0.337, -0.107],
    },
    {
        "setting": "calibration folds by -10, -35, UP, spacer in turn; + element distances "
        "(nearest -35/-10/UP/spacer, hexamer log-odds, spacer-length rarity), |correction|; "
        "UP missing (NaN + up_visible) below half a window; 50 % trimmed training copies",
        "r": [0.706, 0.668, 0.270, 0.559],
        "coverage": [0.723, 0.750, 0.901, 0.494],
        "spearman": [0.041, 0.247, 0.293, 0.240],
    },
    {
        "setting": "... + scan flank extended to a whole UP window (a -35 at the 5' end can "
        "be found) (chosen)",
        "r": [0.698, 0.685, 0.662, 0.562],
        "coverage": [0.686, 0.739, 0.885, 0.527],
        "spearman": [0.010, 0.208, 0.292, 0.039],
    },
    {
        "setting": "... + boosted error model (depth-2 trees on the linear fit's residual)",
        "r": [0.698, 0.685, 0.662, 0.562],
        "coverage": [0.609, 0.716, 0.843, 0.467],
        "spearman": [0.001, 0.245, 0.204, 0.043],
    },
    {
        "setting": "chosen, but line='terms' (the calculator's seven dG terms reweighted by "
        "least squares instead of a line in dG_total; tried after the reported run)",
        "r": [0.676, 0.646, 0.630, 0.577],
        "coverage": [0.652, 0.742, 0.868, 0.560],
        "spearman": [-0.042, 0.185, 0.225, 0.011],
    },
]


#: Fifth round (2026-12-05, helper prom5), LaFleur only, on the new variants-out splits:
#: development folds = the variants split with GroupKFold(4), model seed 0; fresh folds =
#: GroupKFold(5), model seed 1 (the reported run uses 3 folds, seeds 0-1). Values per
#: element [h10, h35, UP, spacs]: pooled ±1 std coverage and Spearman(|error|, std) over the
#: variant folds; "r": per-fold Pearson r. Adoption rules were written before the fresh
#: folds and the member-resampling run (BENCHMARKS.md, round 5). /tmp scratch, never Hossain.
SETTINGS_TRIED_ROUND5 = [
    {
        "setting": "round-3 model (calibration folds over every row, 12 descriptors), dev",
        "coverage": [0.638, 0.682, 0.692, 0.761],
        "spearman": [-0.072, 0.184, -0.007, 0.052],
        "r": [0.651, 0.629, 0.855, 0.470],
        "default_out_coverage": [0.721, 0.782, 0.939, 0.514],
    },
    {
        "setting": "calibration folds: variants held out, default element in training, dev",
        "coverage": [0.618, 0.641, 0.650, 0.699],
        "spearman": [-0.027, 0.146, -0.052, 0.104],
        "default_out_coverage": [0.665, 0.646, 0.832, 0.605],
    },
    {
        "setting": "... + boosted error model, dev",
        "coverage": [0.604, 0.652, 0.679, 0.707],
        "spearman": [-0.007, 0.216, -0.057, 0.101],
    },
    {
        "setting": "... error model on log spread + prediction only, dev",
        "coverage": [0.620, 0.669, 0.637, 0.757],
        "spearman": [0.059, 0.242, -0.008, 0.110],
    },
    {
        "setting": "... spread + prediction + |correction|, dev",
        "coverage": [0.616, 0.668, 0.641, 0.754],
        "spearman": [0.043, 0.239, -0.007, 0.114],
    },
    {
        "setting": "... 12 descriptors without the element distances, dev",
        "coverage": [0.614, 0.669, 0.640, 0.750],
        "spearman": [-0.011, 0.220, -0.021, 0.088],
    },
    {
        "setting": "members resampled by element (a third of one element's variant words "
        "dropped per member, then a row bootstrap), dev; rule B failed (Spearman lower)",
        "coverage": [0.634, 0.637, 0.645, 0.714],
        "spearman": [-0.029, -0.011, -0.048, 0.144],
        "spearman_spread_mean": [0.025, 0.138, 0.011, 0.116],
        "r": [0.654, 0.628, 0.853, 0.474],
    },
    {
        "setting": "variants calibration, 12 descriptors, fresh folds",
        "coverage": [0.653, 0.638, 0.644, 0.717],
        "spearman": [0.058, 0.001, -0.016, 0.030],
        "r": [0.678, 0.631, 0.854, 0.474],
    },
    {
        "setting": "... boosted error model, fresh folds",
        "coverage": [0.633, 0.643, 0.664, 0.721],
        "spearman": [0.005, 0.027, -0.014, 0.046],
    },
    {
        "setting": "... log spread + prediction only, fresh folds (rule A passed: higher on "
        "3 of 4, coverage in range; chosen, error_descriptors='spread')",
        "coverage": [0.662, 0.667, 0.649, 0.754],
        "spearman": [0.143, 0.135, 0.032, 0.022],
    },
    {
        "setting": "... spread + prediction + |correction|, fresh folds (passed, lower mean)",
        "coverage": [0.675, 0.667, 0.649, 0.754],
        "spearman": [0.138, 0.135, 0.027, 0.020],
    },
    {
        "setting": "... 12 descriptors without element distances, fresh folds",
        "coverage": [0.657, 0.668, 0.647, 0.754],
        "spearman": [0.136, 0.129, 0.028, 0.005],
    },
    {
        "setting": "ridge position-specific -10 + extended -10 terms (one-hots, shrunk to the "
        "calculator's) under the boosters, alpha 10 / 100 / 1000, dev folds, core fit only "
        "(no calibration, no trimmed copies; alpha 0: r [0.655, 0.630, 0.856, 0.476])",
        "r": [
            [0.644, 0.620, 0.854, 0.444],
            [0.650, 0.624, 0.855, 0.454],
            [0.654, 0.627, 0.856, 0.471],
        ],
    },
    {
        "setting": "old leave-h10-out split, GroupKFold(4), core fit only: current 0.669 (refit "
        "calculator 0.670); line='terms' 0.666; ridge alpha 300 0.667; depth 2 0.661; 150 trees "
        "0.663 (none adopted)",
    },
]

#: The Promoter Calculator's free-energy terms as LaFleur's file tabulates them.
DG_COLUMNS = ("dG10", "dG35", "dGDisc", "dGITR", "dGEXT10", "dGSPAC", "dGUP")


def refit_calculator(terms: np.ndarray, y: np.ndarray, folds: list[Any]) -> np.ndarray:
    """Out-of-fold predictions of the calculator's own terms refitted per fold: least
    squares of ``y`` on the ``dG*`` columns (plus intercept) of the training folds. The
    fair peer on LaFleur splits, where the published column saw every row."""
    out = np.zeros(len(y))
    for tr, te in folds:
        A = np.column_stack([np.ones(len(tr)), terms[tr]])
        w = np.linalg.lstsq(A, y[tr], rcond=None)[0]
        out[te] = np.column_stack([np.ones(len(te)), terms[te]]) @ w
    return out


def transfer_models(args: argparse.Namespace) -> dict[str, Callable[[int], SequenceModel]]:
    """Model name -> factory(seed) of the transfer section (CNN: see BENCHMARKS.md)."""
    members = args.transfer_members
    return {
        "kmer-ridge": lambda s: KmerRidge(kind="promoter", k=4, seed=s),
        "kmer-boost": lambda s: KmerBoost(
            kind="promoter", k=4, n_members=members, n_jobs=args.jobs, seed=s
        ),
        "physics-residual": lambda s: PhysicsResidual(
            n_members=2 * members, n_jobs=args.jobs, seed=s
        ),
        # --members CNN members (calibrated as the k-mer models); --cnn-channels: on a shared
        # CPU the default 64 makes the 58 calibrated fits of a 2-seed run take hours
        "cnn-ensemble": lambda s: CNNEnsemble(
            kind="promoter",
            n_members=args.members,
            channels=args.cnn_channels,
            n_jobs=args.jobs,
            device=args.device,
            seed=s,
        ),
    }


def shifted(seqs: list[str], length: int, gc: float, seed: int = 0) -> list[str]:
    """Each sequence padded to ``length`` with one fixed flank (seeded random DNA of GC
    fraction ``gc``, half upstream, half downstream) or 5'-trimmed when shorter."""
    rng = np.random.default_rng(seed)
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    flank = "".join(rng.choice(list("ACGT"), size=max(length, 1), p=p))
    out = []
    for s in seqs:
        if len(s) >= length:
            out.append(s[len(s) - length :])
            continue
        extra = length - len(s)
        out.append(flank[: extra // 2] + s + flank[extra // 2 : extra])
    return out


def _interval(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, Any]:
    from biofab.parts.calibration import interval_report

    rep = interval_report(y, mean, std)
    return {k: rep[k] for k in ("coverage_1std", "spearman_abs_error_std", "mean_std")}


def _predict(model: SequenceModel, seqs: pd.Series) -> tuple[np.ndarray, ...]:
    """Mean, std and the members' raw spread (``ensemble_std``; the std itself for a
    model that does not calibrate it)."""
    table = model.predict_table(seqs.tolist()) if hasattr(model, "predict_table") else None
    if table is None or "ensemble_std" not in table:
        mean, std = model.predict(seqs.tolist())
        return mean, std, std
    return tuple(table[c].to_numpy(dtype=float) for c in ("prediction", "std", "ensemble_std"))


def _record(split: str, name: str, r: float, calc_r: float, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "metric": f"transfer_pearson_r_{split}_{name}",
        "split": split,
        "model": name,
        "biofab": round(r, 4),
        "peer": CALCULATOR,
        "peer_value": round(calc_r, 4),
        "ratio": round(r / calc_r, 4) if calc_r > 0 else None,
        "better": "higher",
        "target_ratio": 1.0,
        "n_test": n,
        **extra,
    }


def element_splits(
    groups: np.ndarray, element: str, k: int
) -> list[tuple[str, list[tuple[np.ndarray, np.ndarray]], str]]:
    """The leave-element-out splits of one element column: ``(split name, folds, how)``.

    * ``leave_<e>_out``: GroupKFold(k) over every row (rounds 1-3; the library's default
      element -- one UP in 4,055 of 5,193 rows, one spacer in 4,917 -- is then one fold,
      predicted from the few other rows, so it measures training size as much as novelty);
    * ``leave_<e>_variants_out``: the rows carrying the default (most common) element always
      train; the other rows are split by element into GroupKFold(k), each held out in turn
      -- new elements beside a known chassis, as a next library looks;
    * ``<e>_default_out``: the one fold the variants split never tests: train on the
      variants, predict the default element's rows (reported separately, never hidden).
    """
    from sklearn.model_selection import GroupKFold

    rows = np.arange(len(groups))
    values, counts = np.unique(groups, return_counts=True)
    default = values[int(np.argmax(counts))]
    dflt, var = rows[groups == default], rows[groups != default]
    variant_folds = [
        (np.sort(np.concatenate([dflt, var[tr]])), var[te])
        for tr, te in GroupKFold(k).split(var, groups=groups[var])
    ]
    n_default = f"{len(dflt)} rows carry the default {element}"
    return [
        (
            f"leave_{element}_out",
            list(GroupKFold(k).split(rows, groups=groups)),
            f"GroupKFold({k}) by {element} sequence over all rows",
        ),
        (
            f"leave_{element}_variants_out",
            variant_folds,
            f"GroupKFold({k}) by {element} over the rows without the default {element}; "
            f"the default's rows always train ({n_default})",
        ),
        (
            f"{element}_default_out",
            [(var, dflt)],
            f"train on the {len(var)} rows with another {element}, test the default's "
            f"({n_default})",
        ),
    ]


def _element_split(
    args: argparse.Namespace,
    models: dict[str, Callable[[int], SequenceModel]],
    chosen: list[str],
    lafleur: pd.DataFrame,
    terms: np.ndarray,
    split: str,
    folds: list[tuple[np.ndarray, np.ndarray]],
    how: str,
    common: dict[str, Any],
) -> list[dict[str, Any]]:
    """Records of one LaFleur split (see :func:`element_splits`): pooled and per-fold r of
    each model beside the published and the refitted calculator, ±1 std coverage and
    Spearman(|error|, std), pooled over the tested rows and per fold."""
    from biofab.core.progress import progress

    y_l = lafleur["target"].to_numpy()
    calc = lafleur["calculator"].to_numpy()
    tested = np.concatenate([te for _, te in folds])
    calc_r = pearson(y_l[tested], calc[tested])
    refit = refit_calculator(terms, y_l, folds)
    refit_fold = statistics.mean(pearson(y_l[te], refit[te]) for _, te in folds)
    calc_fold = statistics.mean(pearson(y_l[te], calc[te]) for _, te in folds)
    out = []
    for name in chosen:
        rs, ivs, raws, fold_rs, fold_rho, fold_cov = [], [], [], [], [], []
        with progress(f"{split} {name}", args.seeds * len(folds)) as steps:
            for s in range(args.seeds):
                mean, std, spread = (np.zeros(len(y_l)) for _ in range(3))
                for tr, te in folds:
                    model = models[name](s).fit(lafleur["sequence"].iloc[tr].tolist(), y_l[tr])
                    mean[te], std[te], spread[te] = _predict(model, lafleur["sequence"].iloc[te])
                    fold_rs.append(pearson(y_l[te], mean[te]))
                    iv = _interval(y_l[te], mean[te], std[te])
                    fold_rho.append(iv["spearman_abs_error_std"])
                    fold_cov.append(iv["coverage_1std"])
                    steps.advance()
                rs.append(pearson(y_l[tested], mean[tested]))
                ivs.append(_interval(y_l[tested], mean[tested], std[tested]))
                raws.append(_interval(y_l[tested], mean[tested], spread[tested]))
        r = statistics.mean(rs)
        cover = statistics.mean(iv["coverage_1std"] for iv in ivs)
        rho = statistics.mean(iv["spearman_abs_error_std"] for iv in ivs)
        print(
            f"{split:<28}{name:<18}{r:>8.3f}{calc_r:>8.3f}{cover:>8.2f}{rho:>8.3f}  per-fold "
            f"{statistics.mean(fold_rs):.3f} vs calc {calc_fold:.3f}, refit "
            f"{pearson(y_l[tested], refit[tested]):.3f} ({refit_fold:.3f}); per-fold rho "
            f"{statistics.mean(fold_rho):.3f}",
            flush=True,
        )
        out.append(
            _record(
                split,
                name,
                r,
                calc_r,
                len(tested),
                dataset=f"LaFleur2022 high-quality, {how}, pooled out-of-fold",
                per_fold_r_mean=round(statistics.mean(fold_rs), 4),
                calculator_per_fold_r_mean=round(calc_fold, 4),
                calculator_refit_r=round(pearson(y_l[tested], refit[tested]), 4),
                calculator_refit_per_fold_r_mean=round(refit_fold, 4),
                coverage_1std=round(cover, 4),
                spearman_abs_error_std=round(rho, 4),
                per_fold_coverage_mean=round(statistics.mean(fold_cov), 4),
                per_fold_spearman_mean=round(statistics.mean(fold_rho), 4),
                # the members' raw spread of the same fits: the "before" of a calibration
                raw_spread_coverage_1std=round(
                    statistics.mean(iv["coverage_1std"] for iv in raws), 4
                ),
                raw_spread_spearman_abs_error_std=round(
                    statistics.mean(iv["spearman_abs_error_std"] for iv in raws), 4
                ),
                coverage_target="0.60-0.76",
                spearman_target="> 0.2",
                peer_note="published calculator column (fitted on all of this library, "
                "so in-sample here); calculator_refit_*: its seven dG terms (the file's "
                "dG* columns) refitted by least squares on the training folds only",
                **common,
            )
        )
    return out


def transfer_section(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Pearson r beside the Promoter Calculator on splits that imitate a new library.

    1. ``hossain``: train on the 5,193 high-quality LaFleur rows, predict the 4,350
       Hossain 2020 promoters (never trained or tuned on); peer: the calculator's
       published column for those rows.
    2. LaFleur leave-element-out by the element's sequence (h10, h35, UP, spacs), three
       splits each (:func:`element_splits`): ``leave_<e>_out`` (GroupKFold(``--folds``)
       over all rows, rounds 1-3), ``leave_<e>_variants_out`` (the default element always
       trains, the variants are held out by GroupKFold) and ``<e>_default_out`` (train on
       the variants, test the default's rows); every test promoter carries an element
       value no training promoter has. Pooled and per-fold r beside the published and the
       refitted calculator; ±1 std coverage and Spearman(|error|, std).
    3. ``shift_<name>``: the Hossain promoters padded (neutral flanks) or trimmed
       (:data:`SHIFTS`), scored by the models trained in 1; peer: the calculator's
       dG_total on the same shifted sequences (biofab's exact re-implementation of
       its scan, :mod:`biofab.parts.promoter_energy`).
    """

    from biofab.parts.datasets import load_hossain
    from biofab.parts.promoter_energy import EnergyScanner

    raw = pd.read_csv(DATA / LAFLEUR)
    raw = raw[raw["high quality"].astype(str).str.strip().str.lower() == "yes"]
    raw = raw.reset_index(drop=True)
    lafleur = load_lafleur(DATA / LAFLEUR)
    hossain = load_hossain(DATA / HOSSAIN)
    y_l, y_h = lafleur["target"].to_numpy(), hossain["target"].to_numpy()
    models = transfer_models(args)
    chosen = args.models.split(",") if args.models else list(models)
    records: list[dict[str, Any]] = []
    common = {"seeds": args.seeds, "cores": args.cores, "device": "cpu"}
    print(f"transfer: LaFleur {len(lafleur)} train -> Hossain {len(hossain)} test")
    print(f"{'split':<28}{'model':<18}{'r':>8}{'calc r':>8}{'cover':>8}{'rho':>8}{'fit s':>8}")
    fitted: dict[str, list[SequenceModel]] = {}
    calc_h = pearson(y_h, hossain["calculator"].to_numpy())
    for name in chosen:
        rs, times, ivs, raws, warned = [], [], [], [], []
        for s in range(args.seeds):
            t = time.perf_counter()
            model = models[name](s).fit(lafleur["sequence"].tolist(), y_l)
            times.append(time.perf_counter() - t)
            mean, std, spread = _predict(model, hossain["sequence"])
            rs.append(pearson(y_h, mean))
            ivs.append(_interval(y_h, mean, std))
            raws.append(_interval(y_h, mean, spread))
            if hasattr(model, "predict_table"):
                table = model.predict_table(hossain["sequence"].tolist())
                warned.append(float((table.get("warning", pd.Series([""])) != "").mean()))
            fitted.setdefault(name, []).append(model)
        r = statistics.mean(rs)
        rho = statistics.mean(iv["spearman_abs_error_std"] for iv in ivs)
        print(
            f"{'hossain':<28}{name:<18}{r:>8.3f}{calc_h:>8.3f}{'-':>8}{rho:>8.3f}"
            f"{statistics.median(times):>8.1f}",
            flush=True,
        )
        cal = getattr(fitted[name][0], "calibration_", None)
        records.append(
            _record(
                "hossain",
                name,
                r,
                calc_h,
                len(hossain),
                dataset="train LaFleur2022 high-quality (5,193), test Hossain2020 (4,350)",
                biofab_min=round(min(rs), 4),
                biofab_max=round(max(rs), 4),
                spearman_abs_error_std=rho,
                raw_spread_spearman_abs_error_std=round(
                    statistics.mean(iv["spearman_abs_error_std"] for iv in raws), 4
                ),
                fraction_warned=round(statistics.mean(warned), 4) if warned else None,
                note="coverage not comparable: Hossain's target is on another offset/scale",
                internal_calibration=cal,
                fit_time_s_median=round(statistics.median(times), 1),
                **common,
            )
        )
    scanner = EnergyScanner()
    for shift, length, gc in SHIFTS:
        seqs = shifted(hossain["sequence"].tolist(), length, gc)
        calc_r = pearson(y_h, scanner.scan(seqs)["dG_total"].to_numpy())
        for name in chosen:
            rs, rhos, warned = [], [], []
            for model in fitted[name]:
                mean, std = model.predict(seqs)
                rs.append(pearson(y_h, mean))
                rhos.append(_interval(y_h, mean, std)["spearman_abs_error_std"])
                if hasattr(model, "predict_table"):
                    warned.append(float((model.predict_table(seqs)["warning"] != "").mean()))
            r = statistics.mean(rs)
            print(
                f"{'shift_' + shift:<28}{name:<18}{r:>8.3f}{calc_r:>8.3f}{'-':>8}"
                f"{statistics.mean(rhos):>8.3f}",
                flush=True,
            )
            records.append(
                _record(
                    f"shift_{shift}",
                    name,
                    r,
                    calc_r,
                    len(seqs),
                    dataset=f"Hossain2020 {'trimmed' if length < 78 else 'padded'} to {length} nt"
                    f" (flank GC {gc}), models trained on LaFleur",
                    peer_note="calculator dG_total on the shifted sequences",
                    fraction_warned=round(statistics.mean(warned), 4) if warned else None,
                    **common,
                )
            )
    terms = raw[list(DG_COLUMNS)].to_numpy(dtype=float)
    for element in ELEMENTS:
        groups = raw[element].fillna("").astype(str).to_numpy()
        for split, folds, how in element_splits(groups, element, args.folds):
            if args.transfer_splits != "all" and "_variants_out" not in split:
                continue  # --transfer-splits variants: the new-element splits only
            records.extend(
                _element_split(args, models, chosen, lafleur, terms, split, folds, how, common)
            )
    records.append(
        {
            "metric": "transfer_settings_tried",
            "better": None,
            "settings": SETTINGS_TRIED,
            "settings_shift": SETTINGS_TRIED_SHIFT,
            "settings_round3": SETTINGS_TRIED_ROUND3,
            "settings_round5": SETTINGS_TRIED_ROUND5,
            "note": "chosen on LaFleur leave-element-out only; Hossain evaluated once",
        }
    )
    return records


SECTIONS: dict[str, Callable[[argparse.Namespace], list[dict[str, Any]]]] = {
    "promoter": promoter_section,
    "kcat": kcat_section,
    "design": design_section,
    "transfer": transfer_section,
}


def write_results(records: list[dict[str, Any]], name: str = "parts") -> Path:
    """Merge ``records`` into ``benchmarks/results/<name>.json`` (same metric replaced)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    old = json.loads(path.read_text()) if path.is_file() else []
    keep = {r["metric"] for r in records}
    merged = [r for r in old if r.get("metric") not in keep] + records
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(merged, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated sections")
    ap.add_argument("--models", default="", help="comma-separated subset of promoter models")
    ap.add_argument("--seeds", type=int, default=3, help="model seeds (split fixed)")
    ap.add_argument("--members", type=int, default=5, help="CNN ensemble members")
    ap.add_argument("--jobs", type=int, default=2, help="threads per model (torch, xgboost)")
    ap.add_argument(
        "--design-steps", default="30,200", help="annealing steps per design run (first: headline)"
    )
    ap.add_argument("--folds", type=int, default=3, help="transfer: grouped folds per element")
    ap.add_argument(
        "--transfer-members",
        type=int,
        default=3,
        help="transfer: k-mer boost members (x2 residual)",
    )
    ap.add_argument(
        "--transfer-splits",
        choices=("all", "variants"),
        default="all",
        help="transfer: every LaFleur split, or the four leave-<element>-variants-out ones",
    )
    ap.add_argument("--cnn-channels", type=int, default=64, help="CNN channels (transfer)")
    ap.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    ap.add_argument(
        "--out",
        default="",
        help="results file name in benchmarks/results, without .json (default: parts_transfer "
        "for --sections transfer, else parts); e.g. parts_transfer_kmer for the k-mer rows, so "
        "a k-mer run leaves the physics-residual records alone",
    )
    args = ap.parse_args(argv)
    import torch

    args.cores = args.jobs
    args.device_used = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cmd = "python benchmarks/parts.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    records = []
    for sec in args.sections.split(","):
        for rec in SECTIONS[sec](args):
            rec["command"] = cmd.strip()
            rec["date"] = date.today().isoformat()
            records.append(rec)
    name = args.out or ("parts_transfer" if args.sections == "transfer" else "parts")
    path = write_results(records, name)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
