"""Two-objective batches: one joint posterior draw vs BoTorch's draw per pick.

Question: :class:`~biofab.learn.MultiObjective` now picks a two-objective batch
greedily on one joint posterior draw of the measured, pending and short-listed
designs (:mod:`biofab.learn.hypervolume`) instead of BoTorch's qLogNEHVI greedy
pass, which draws again at every pick. Is the Pareto front it finds as good, and
how much time per round does it save?

Protocol, per problem and seed (paired: both methods see the same start, noise
draws and seeds): a 0.02 grid over the unit cube, 10 random designs, then
``--rounds`` rounds of ``--batch`` (8), utilities measured with Gaussian noise of
5 % of the start's range per objective (its variance passed as ``yvar``). Metric:
the hypervolume of the noise-free values of every measured design, against a
reference point at the worst value either method measured on that problem (so the
two share one reference). Problems (BoTorch's test functions, negated so higher
is better): Branin-Currin (2 factors), DTLZ2 (6 factors), ZDT1 (8 factors).

Methods:

* ``biofab``: ``MultiObjective()`` (the default for two objectives).
* ``botorch-greedy`` (peer): ``MultiObjective(draw_once=False)``: the same GP, short
  list and seeds, batch by BoTorch's ``optimize_acqf_discrete`` on qLogNEHVI.

Records: ``benchmarks/results/mobo_batch.json`` (hypervolume ratio biofab / peer,
> 1 = biofab's front is larger; CPU seconds per round, ratio peer / biofab).

Usage: ``python benchmarks/mobo_batch.py [--seeds 12] [--first-seed 0]
[--problems branincurrin,dtlz2,zdt1] [--rounds 6] [--batch 8]``.
"""

from __future__ import annotations

import argparse
import json
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

from biofab.core import Continuous, Space
from biofab.learn import MultiObjective
from biofab.learn.acquisition import pareto_mask
from biofab.learn.hypervolume import hypervolume_2d
from biofab.learn.torch_threads import torch_threads

RESULTS = Path(__file__).resolve().parent / "results"
START = 10
NOISE = 0.05  # of each objective's range over the start designs


def problems() -> dict[str, Any]:
    from botorch.test_functions.multi_objective import DTLZ2, ZDT1, BraninCurrin

    return {
        "branincurrin": BraninCurrin(negate=True),
        "dtlz2": DTLZ2(dim=6, num_objectives=2, negate=True),
        "zdt1": ZDT1(dim=8, num_objectives=2, negate=True),
    }


def campaign(
    fn: Any, make: Callable[[], MultiObjective], seed: int, rounds: int, q: int
) -> tuple[np.ndarray, float]:
    """Noise-free utilities of every measured design ``(n, 2)`` and CPU s per round."""
    import torch

    space = Space({f"x{i}": Continuous(0, 1, step=0.02) for i in range(fn.dim)})
    lo, hi = (b.numpy() for b in fn.bounds)
    rng = np.random.default_rng(seed)

    def truth(designs: pd.DataFrame) -> np.ndarray:
        u = space.encode(designs)
        return np.asarray(fn(torch.as_tensor(lo + u * (hi - lo))).numpy())

    designs = space.sample(START, seed=seed)
    clean = truth(designs)
    sd = NOISE * (np.ptp(clean, axis=0) + 1e-9)
    measured = clean + rng.normal(size=clean.shape) * sd
    rec = make()
    cpu = 0.0
    for r in range(rounds):
        t0 = time.process_time()
        out = rec.recommend(
            space, designs, measured, q, yvar=np.tile(sd**2, (len(designs), 1)),
            round_index=r, seed=1000 * seed + r,
        )  # fmt: skip
        cpu += time.process_time() - t0
        new = out.designs[list(space.names)]
        new_clean = truth(new)
        designs = pd.concat([designs, new], ignore_index=True)
        clean = np.vstack([clean, new_clean])
        measured = np.vstack([measured, new_clean + rng.normal(size=new_clean.shape) * sd])
    return clean, cpu / rounds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=12)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--problems", default="branincurrin,dtlz2,zdt1")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    command = shlex.join(["python", "benchmarks/mobo_batch.py", *sys.argv[1:]])
    methods: dict[str, Callable[[], MultiObjective]] = {
        "biofab": MultiObjective,
        "botorch-greedy": lambda: MultiObjective(draw_once=False),
    }
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    records: list[dict[str, Any]] = []
    print("problem | biofab HV mean | peer HV mean | wins/ties/losses | CPU s/round biofab, peer")
    with torch_threads(1):
        for name in args.problems.split(","):
            fn = problems()[name]
            runs = {
                m: [campaign(fn, make, s, args.rounds, args.batch) for s in seeds]
                for m, make in methods.items()
            }
            ref = np.vstack([y for rs in runs.values() for y, _ in rs]).min(axis=0)
            hv = {
                m: np.array([float(hypervolume_2d(y[pareto_mask(y)], ref)) for y, _ in rs])
                for m, rs in runs.items()
            }
            cpu = {m: statistics.median(c for _, c in rs) for m, rs in runs.items()}
            diff = hv["biofab"] - hv["botorch-greedy"]
            tol = 1e-9 * np.abs(hv["botorch-greedy"]).max()
            wtl = [int((diff > tol).sum()), int((abs(diff) <= tol).sum()), int((diff < -tol).sum())]
            print(f"{name} | {hv['biofab'].mean():.4f} | {hv['botorch-greedy'].mean():.4f} "
                  f"| {wtl[0]}/{wtl[1]}/{wtl[2]} | {cpu['biofab']:.2f}, "
                  f"{cpu['botorch-greedy']:.2f}", flush=True)  # fmt: skip
            base = {
                "dataset": f"{name} ({fn.dim} factors), {START} random + {args.rounds} rounds "
                f"of {args.batch}, noise {NOISE:.0%} of range",
                "peer": "BoTorch qLogNEHVI greedy pass (MultiObjective(draw_once=False))",
                "seeds": len(seeds), "repeats": 1, "cores": 1, "command": command,
                "date": date.today().isoformat(),
            }  # fmt: skip
            records.append({
                "metric": "final_hypervolume_mean", **base,
                "biofab": round(float(hv["biofab"].mean()), 5),
                "biofab_sd": round(float(hv["biofab"].std(ddof=1)), 5),
                "peer_value": round(float(hv["botorch-greedy"].mean()), 5),
                "peer_sd": round(float(hv["botorch-greedy"].std(ddof=1)), 5),
                "paired_wins_ties_losses": wtl,
                "ratio": round(float(hv["biofab"].mean() / hv["botorch-greedy"].mean()), 4),
                "better": "higher", "target_ratio": 1.0,
            })  # fmt: skip
            records.append({
                "metric": "cpu_s_per_round_median", **base,
                "biofab": round(cpu["biofab"], 3), "peer_value": round(cpu["botorch-greedy"], 3),
                "ratio": round(cpu["botorch-greedy"] / cpu["biofab"], 3),
                "better": "lower", "target_ratio": None,
            })  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mobo_batch.json").write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {out / 'mobo_batch.json'}")


if __name__ == "__main__":
    main()
