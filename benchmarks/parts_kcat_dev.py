"""kcat development runs on the val file (no test-file choices): CV of settings and the
learning curve (issue 14 item 4, the random-split r target).

* ``cv``: random k-fold CV inside ``catpred_kcat_random_val.csv`` of one KcatModel
  setting (``--params`` as JSON), Pearson r and RMSE of pooled out-of-fold means;
* ``curve``: the same CV with each training fold subsampled to 25/50/75/100 %, on the
  val file, or (``--union``) on val + test as in ``parts_kcat.py --splits random5``
  (a learning curve, not a choice: nothing is selected from it).

Run: ``python benchmarks/parts_kcat_dev.py cv --params '{"n_members": 2}'``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import pearsonr

from biofab.parts.kcat import TARGET, KcatModel, load_catpred


def data(args: argparse.Namespace) -> pd.DataFrame:
    enz = Path(args.data) / "enzymes"
    files = [enz / "catpred_kcat_random_val.csv"]
    if getattr(args, "union", False):
        files.append(enz / "catpred_kcat_random_test.csv")
    return load_catpred(files)


def cv(
    df: pd.DataFrame, params: dict, k: int, seed: int, frac: float = 1.0, grouped: bool = False
) -> dict[str, float]:
    y = df[TARGET].to_numpy()
    rng = np.random.default_rng(seed)
    if grouped:  # whole CatPred 40 % clusters to a fold, as parts_kcat.py's choice step
        uniq = np.unique(df["sequence_40cluster"])
        fold_of = dict(zip(rng.permutation(uniq), np.arange(len(uniq)) % k, strict=True))
        fold = np.array([fold_of[g] for g in df["sequence_40cluster"]])
    else:
        fold = rng.permutation(len(df)) % k
    mean = np.empty(len(df))
    for f in range(k):
        te = np.flatnonzero(fold == f)
        tr = np.flatnonzero(fold != f)
        if frac < 1:
            tr = np.sort(rng.choice(tr, round(frac * len(tr)), replace=False))
        model = KcatModel(**{"seed": seed, **params}).fit(df.iloc[tr])
        mean[te] = model.predict(df.iloc[te])[0]
    return {
        "r": float(pearsonr(mean, y)[0]),
        "rmse": float(np.sqrt(np.mean((mean - y) ** 2))),
        "n_train": round(len(df) * (k - 1) / k * frac),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["cv", "curve"])
    p.add_argument("--data", default=os.environ.get("BIOFAB_SHARED_DATA", "../shared/data"))
    p.add_argument("--params", default="{}", help="KcatModel keyword arguments (JSON)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seeds", default="0", help="comma list of fold seeds")
    p.add_argument("--union", action="store_true", help="val + test (curve only)")
    p.add_argument("--grouped", action="store_true", help="cv: folds of sequence_40cluster")
    p.add_argument("--fracs", default="0.25,0.5,0.75,1", help="curve: training fractions")
    args = p.parse_args()
    params = {"n_members": 2, **json.loads(args.params)}
    df = data(args)
    seeds = [int(s) for s in args.seeds.split(",")]
    fracs = [float(f) for f in args.fracs.split(",")] if args.what == "curve" else [1.0]
    for frac in fracs:
        for seed in seeds:
            t0 = time.perf_counter()
            res = cv(df, params, args.folds, seed, frac, args.grouped)
            print(
                json.dumps(
                    {"what": args.what, "union": args.union, "grouped": args.grouped,
                     "frac": frac, "seed": seed,
                     "params": params, **res, "s": round(time.perf_counter() - t0)}
                ),
                flush=True,
            )  # fmt: skip


if __name__ == "__main__":
    main()
