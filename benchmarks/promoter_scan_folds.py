"""Promoter scan reads, judged by r on LaFleur's element splits (development folds only).

``python benchmarks/promoter_scan_folds.py VARIANT --folds K --seed S`` fits the
physics-residual model (one model seed, S) on every leave-element-out split of
:func:`parts.element_splits` with ``GroupKFold(K)`` (LaFleur high-quality rows only; Hossain
is never touched) and writes the split records to
``benchmarks/results/parts_transfer_scan_folds_<VARIANT>_k<K>_s<S>.json``. ``VARIANT``:
``off`` (the calculator's placement, the default), ``read`` (``spacer_prior`` 0.5, energies
at the site read) or ``best`` (``spacer_prior`` 0.5, energies of the calculator's best
site). Used with K 4 / seed 0 (development) and K 5 / seed 1 (fresh) in BENCHMARKS.md,
"Promoter scan: element reads against the file's labels"; about 8-11 minutes per run at
load on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

import parts as bench
from biofab.parts import promoter_features
from biofab.parts.datasets import load_lafleur

VARIANTS = {"off": (0.0, "read"), "read": (0.5, "read"), "best": (0.5, "best")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant", choices=sorted(VARIANTS))
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    prior, energies = VARIANTS[args.variant]
    plain = promoter_features.element_table

    def reads(
        seqs: Any, scanner: Any = None, mask_missing: bool = False, *_: Any, **__: Any
    ) -> Any:
        # the model calls element_table(seqs, scanner, mask_missing=...): pin the variant
        return plain(seqs, scanner, mask_missing, prior, energies)

    promoter_features.element_table = reads  # type: ignore[assignment]
    run = argparse.Namespace(
        seeds=1, folds=args.folds, jobs=1, cores=1, transfer_members=3, device_used="cpu"
    )
    raw = pd.read_csv(bench.DATA / bench.LAFLEUR)
    raw = raw[raw["high quality"].astype(str).str.strip().str.lower() == "yes"]
    raw = raw.reset_index(drop=True)
    lafleur = load_lafleur(bench.DATA / bench.LAFLEUR)
    factory = bench.transfer_models(run)["physics-residual"]
    models = {"physics-residual": lambda s: factory(s + args.seed)}
    terms = raw[list(bench.DG_COLUMNS)].to_numpy(dtype=float)
    records: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    common = {"variant": args.variant, "spacer_prior": prior, "energies": energies}
    for element in bench.ELEMENTS:
        groups = raw[element].fillna("").astype(str).to_numpy()
        for split, folds, how in bench.element_splits(groups, element, args.folds):
            records.extend(
                bench._element_split(
                    run, models, ["physics-residual"], lafleur, terms, split, folds, how, common
                )
            )
    for rec in records:
        rec["command"] = "python benchmarks/promoter_scan_folds.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
        rec["model_seed"] = args.seed
    name = f"parts_transfer_scan_folds_{args.variant}_k{args.folds}_s{args.seed}.json"
    path = bench.RESULTS / name
    path.write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
