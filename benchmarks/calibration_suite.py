"""Error bars of the default recommender on every pool of the replay suite (issue 16 item 3).

Question: does the single-objective default's 68 % interval hold 60-76 % of outcomes on
every suite pool, both out of fold (rows like the measured ones) and on the batch it
picks next (the next use: optimistic picks, often in a new region)?

Protocol, per pool (``benchmarks/replay.py``'s pools) and seed: a random subset of
``--rows`` measured designs (the rest is the candidate pool), one call of
``default_recommender(space).recommend(..., n=--batch)`` with the pool's ``yvar`` rule
(replay protocol). Reported:

* out-of-fold 68 % coverage of the chosen model, raw and recalibrated (the
  recommendation's ``notes["calibration"]``: 5 folds, each fold's factor estimated on
  the other folds);
* next-batch 68 % coverage: the share of the ``--batch`` picked designs whose measured
  utility lies within ``mean ± sqrt(std² + yvar)`` of the recommendation (its ``std``
  carries the recalibration factor).

With ``--rounds 2`` (a separate record, ``calibration_suite_rounds.json``): the first
batch is measured (the pool's values) and joins the data, a second batch of ``--batch``
is recommended from the rest, and its 68 % coverage is reported raw and with its std
scaled by the campaign engine's record factor
(:func:`biofab.learn.calibration.record_scale` on the first batch's predictions and
outcomes, as ``Campaign.recommend`` does; the choice is not changed).

Peer: the target band 60-76 % itself (no other recommender reports error bars here).
Records: ``benchmarks/results/calibration_suite.json`` (biofab = coverage; ratio =
1 when inside the band, else the distance-scaled ratio to its nearest edge).

Usage: ``python benchmarks/calibration_suite.py [--rows 60 140] [--seeds 3] [--batch 20]
[--rounds 1|2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay import POOLS  # the suite's pools, one definition

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BAND = (0.60, 0.76)


def one(pool: Any, rows: int, seed: int, batch: int, rounds: int = 1) -> dict[str, float]:
    from biofab.learn import default_recommender
    from biofab.learn.calibration import record_scale

    rng = np.random.default_rng(seed)
    measured = np.sort(rng.choice(len(pool.designs), size=rows, replace=False))
    # The replay protocol's rule: yvar only when every design has a finite std.
    full_var = None if pool.std is None or not np.isfinite(pool.std).all() else pool.std**2
    out: dict[str, float] = {}
    record: list[np.ndarray] = []  # earlier batches' (mean, std, outcome, noise variance)
    for r in range(rounds):
        rest = np.setdiff1d(np.arange(len(pool.designs)), measured)
        rec = default_recommender(pool.space).recommend(
            pool.space,
            pool.designs.iloc[measured].reset_index(drop=True),
            pool.utility[measured][:, None],
            batch,
            yvar=None if full_var is None else full_var[measured][:, None],
            candidates=pool.designs.iloc[rest].reset_index(drop=True),
            seed=seed + 1000 * r,
        )
        cal: Any = rec.notes["calibration"]
        picked = pool.lookup(rec.designs)
        u = pool.utility[picked]
        v = np.zeros_like(u) if full_var is None else full_var[picked]
        mean, std = np.ravel(rec.mean), np.ravel(rec.std)
        inside = np.abs(u - mean) <= np.sqrt(std**2 + v)
        if r == 0:
            out = {
                "oof_raw": float(cal["coverage_68_raw"]),
                "oof": float(cal["coverage_68"]),
                "next_batch": float(inside.mean()),
            }
        else:
            past = np.concatenate(record, axis=1)
            f = record_scale(past[0], past[1], past[2], past[3]).scale
            scaled = np.abs(u - mean) <= np.sqrt((f * std) ** 2 + v)
            # the window screened after the first run: the latest batch's record only
            g = record_scale(*record[-1]).scale
            latest = np.abs(u - mean) <= np.sqrt((g * std) ** 2 + v)
            out |= {
                f"batch{r + 1}_raw": float(inside.mean()),
                f"batch{r + 1}_record": float(scaled.mean()),
                f"batch{r + 1}_factor": float(f),
                f"batch{r + 1}_record_latest": float(latest.mean()),
            }
        record.append(np.vstack([mean, std, u, v]))
        measured = np.sort(np.concatenate([measured, picked]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[60, 140])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--pools", default=",".join(POOLS))
    p.add_argument("--rounds", type=int, default=1, choices=(1, 2, 3))
    p.add_argument("--first-seed", type=int, default=0, help="with --rounds: first seed")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    if args.rounds > 1:
        rounds_main(args)
        return
    data = Path(os.environ.get("BIOFAB_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    command = shlex.join(["python", "benchmarks/calibration_suite.py", *sys.argv[1:]])
    records: list[dict[str, Any]] = []
    print("pool | rows | out-of-fold raw | out-of-fold recalibrated | next batch (68 %)")
    for key in args.pools.split(","):
        pool = POOLS[key](data, 500)
        for rows in args.rows:
            got = [one(pool, rows, s, args.batch) for s in range(args.seeds)]
            mean = {k: float(np.mean([g[k] for g in got])) for k in got[0]}
            print(f"{pool.label} | {rows} | {mean['oof_raw']:.2f} | {mean['oof']:.2f} | "
                  f"{mean['next_batch']:.2f}", flush=True)  # fmt: skip
            for what in ("oof", "next_batch"):
                c = mean[what]
                lo, hi = BAND
                records.append({
                    "metric": f"coverage_68_{what}",
                    "dataset": f"{pool.label}, {rows} measured, batch {args.batch}",
                    "biofab": round(c, 3),
                    "biofab_raw": round(mean["oof_raw"], 3) if what == "oof" else None,
                    "peer": "issue 16 target band 0.60-0.76",
                    "peer_value": None,
                    "ratio": 1.0 if lo <= c <= hi else round(min(c / lo, hi / c), 3),
                    "better": "inside band", "target_ratio": 1.0,
                    "seeds": args.seeds, "repeats": 1, "cores": 1, "command": command,
                    "date": date.today().isoformat(),
                })  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration_suite.json").write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {out / 'calibration_suite.json'}")


def rounds_main(args: argparse.Namespace) -> None:
    """``--rounds`` > 1: later batches' coverage, raw and with the record factor."""
    data = Path(os.environ.get("BIOFAB_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    command = shlex.join(["python", "benchmarks/calibration_suite.py", *sys.argv[1:]])
    later = range(2, args.rounds + 1)
    head = " | ".join(f"batch {b} raw | batch {b} record | factor | latest only" for b in later)
    print(f"pool | rows | first batch | {head}")
    records: list[dict[str, Any]] = []
    for key in args.pools.split(","):
        pool = POOLS[key](data, 500)
        for rows in args.rows:
            seeds = range(args.first_seed, args.first_seed + args.seeds)
            got = [one(pool, rows, s, args.batch, args.rounds) for s in seeds]
            mean = {k: float(np.mean([g[k] for g in got])) for k in got[0]}
            cells = " | ".join(
                f"{mean[f'batch{b}_raw']:.2f} | {mean[f'batch{b}_record']:.2f} | "
                f"{mean[f'batch{b}_factor']:.2f} | {mean[f'batch{b}_record_latest']:.2f}"
                for b in later
            )
            print(f"{pool.label} | {rows} | {mean['next_batch']:.2f} | {cells}", flush=True)
            records.append(
                {
                    "dataset": f"{pool.label}, {rows} measured, batch {args.batch}",
                    **{k: round(v, 3) for k, v in mean.items()},
                    "per_seed": got,
                    "seeds": list(seeds),
                    "command": command,
                    "date": date.today().isoformat(),
                }
            )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration_suite_rounds.json").write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {out / 'calibration_suite_rounds.json'}")


if __name__ == "__main__":
    main()
