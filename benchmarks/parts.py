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
from biofab.parts.models import CNNEnsemble, KmerBoost, KmerRidge, SequenceModel

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


SECTIONS: dict[str, Callable[[argparse.Namespace], list[dict[str, Any]]]] = {
    "promoter": promoter_section,
    "kcat": kcat_section,
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
    ap.add_argument("--device", default=None, help="torch device (default: cuda if present)")
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
    path = write_results(records)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
