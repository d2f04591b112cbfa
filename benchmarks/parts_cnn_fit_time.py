"""Fit time of the CNN ensemble on the high-quality LaFleur promoters, without and with its
grouped-fold std calibration (BENCHMARKS.md, "CNN ensemble: calibrated std").

    OMP_NUM_THREADS=1 python benchmarks/parts_cnn_fit_time.py [--members 2] [--rows N]

Prints seconds per fit for ``calibration_folds`` 0 and 3 and their ratio (CPU).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from biofab.parts.datasets import load_lafleur
from biofab.parts.models import CNNEnsemble

DATA = Path(os.environ.get("BIOFAB_SHARED_DATA", "../shared/data"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=2)
    ap.add_argument("--rows", type=int, default=None, help="first N rows only (a quick check)")
    args = ap.parse_args()
    data = load_lafleur(DATA / "parts" / "promoters" / "lafleur2022_supp_data3.csv")
    if args.rows is not None:
        data = data.head(args.rows)
    seqs, y = data["sequence"].tolist(), data["target"].to_numpy()
    seconds = {}
    for folds in (0, 3):
        model = CNNEnsemble(n_members=args.members, calibration_folds=folds, n_jobs=1, device="cpu")
        start = time.perf_counter()
        model.fit(seqs, y)
        seconds[folds] = time.perf_counter() - start
        print(f"calibration_folds={folds}: {seconds[folds]:.1f} s ({len(seqs)} promoters)")
    print(f"calibrated / uncalibrated: {seconds[3] / seconds[0]:.2f}x")


if __name__ == "__main__":
    main()
