"""Time one round of the default recommender in many dimensions (issue 16 item 4).

Question: does a round of 20 at 69 factors and 200 measurements take under 10 s,
and is :class:`~biofab.learn.MultiObjective` within 2x of the single-objective
default per round at equal batch?

Data: a synthetic 69-factor space (each factor 0-1 on a 0.1 grid, like a pipetting
grid), 200 Sobol designs, a smooth objective with noise (known replicate variance
passed as ``yvar``) and a second objective for the multi-objective case. Two search
modes: the recommender's own candidate search (no pool), and a user's pool of 1,000
unmeasured compositions (the replay protocol).

Methods, each timed in this one process on one torch/XGBoost thread:

* ``biofab``: ``default_recommender(space)`` (GP + kriging-believer UCB,
  cross-validated against trees, error bars recalibrated).
* ``mobo``: ``default_recommender(space, n_objectives=2)`` (qLogNEHVI; with two
  objectives the batch is picked on one joint posterior draw).
* ``mobo, BoTorch greedy`` (peer for the multi-objective row): the same recommender
  with ``draw_once=False``, BoTorch's qLogNEHVI greedy pass over the same short list,
  which draws the joint posterior again at every pick.
* ``plain GP`` (peer): scikit-learn ``GaussianProcessRegressor`` (Matern 5/2 with an
  ARD length scale per factor + white noise, 2 optimiser restarts) and UCB with a
  kriging-believer batch of 20, the textbook recipe the issue measured against.

One warm-up call, then ``--repeats`` timed calls (different seeds); medians and
min-max of wall and CPU seconds. Writes ``benchmarks/results/recommender_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biofab.core import Continuous, Space

RESULTS = Path(__file__).resolve().parent / "results"


def problem(d: int, n: int, seed: int = 0) -> tuple[Space, pd.DataFrame, np.ndarray, np.ndarray]:
    """A ``d``-factor grid space, ``n`` measured designs, two objectives ``(n, 2)`` and
    their replicate variances."""
    space = Space({f"x{i}": Continuous(0, 1, step=0.1) for i in range(d)})
    rng = np.random.default_rng(seed)
    X = space.sample(n, seed=seed + 1)
    U = space.encode(X)
    w = rng.normal(size=d) / np.sqrt(d)
    y1 = np.sin(3 * U @ w) - ((U[:, :5] - 0.3) ** 2).sum(1) + 0.05 * rng.normal(size=n)
    y2 = -((U - 0.6) ** 2).mean(1) + 0.05 * rng.normal(size=n)
    return space, X, np.c_[y1, y2], np.full((n, 2), 0.05**2)


def plain_gp_ucb(space: Space, X: pd.DataFrame, y: np.ndarray, pool: pd.DataFrame, n: int) -> None:
    """The peer: scikit-learn GP (fixed settings) + UCB, kriging-believer batch."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    U, C = space.encode(X), space.encode(pool)
    d = U.shape[1]
    kernel = ConstantKernel() * Matern(np.full(d, 0.5), (1e-2, 1e2), nu=2.5) + WhiteKernel()
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2, random_state=0)
    gp.fit(U, y)
    Ub, yb = U, y
    chosen: list[int] = []
    for _ in range(n):
        mean, std = gp.predict(C, return_std=True)
        ucb = mean + 2.0 * std
        ucb[chosen] = -np.inf
        j = int(np.argmax(ucb))
        chosen.append(j)
        Ub, yb = np.vstack([Ub, C[j]]), np.append(yb, mean[j])
        gp = GaussianProcessRegressor(gp.kernel_, normalize_y=True, optimizer=None).fit(Ub, yb)


def timed(fn: Callable[[int], object], repeats: int) -> dict[str, Any]:
    fn(1000)  # warm-up (its own seed): imports, first allocation
    wall, cpu = [], []
    for r in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn(r)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {
        "wall_median": float(np.median(wall)),
        "wall_min": float(min(wall)),
        "wall_max": float(max(wall)),
        "cpu_median": float(np.median(cpu)),
        "cpu_min": float(min(cpu)),
        "cpu_max": float(max(cpu)),
    }


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    from biofab.learn import MultiObjective, default_recommender
    from biofab.learn.torch_threads import torch_threads

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dims", type=int, default=69)
    p.add_argument("--rows", type=int, default=200)
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    shown = ["python", "benchmarks/recommender_speed.py", *(sys.argv[1:] if argv is None else argv)]
    command = shlex.join(shown)

    space, X, Y, V = problem(args.dims, args.rows)
    pool = space.sample(1000, seed=7, exclude=space.keys(X))
    single = default_recommender(space)
    multi = default_recommender(space, n_objectives=2)
    q = args.batch

    def run_single(r: int, candidates: pd.DataFrame | None = None) -> object:
        return single.recommend(
            space, X, Y[:, :1], q, yvar=V[:, :1], candidates=candidates, round_index=5, seed=r
        )

    def run_multi(r: int) -> object:
        return multi.recommend(space, X, Y, q, yvar=V, round_index=5, seed=r)

    per_pick = MultiObjective(draw_once=False)

    def run_multi_per_pick(r: int) -> object:
        return per_pick.recommend(space, X, Y, q, yvar=V, round_index=5, seed=r)

    cases: dict[str, Callable[[int], object]] = {
        "biofab, own candidate search": run_single,
        "biofab, pool of 1,000": lambda r: run_single(r, pool),
        "mobo (2 objectives), own candidate search": run_multi,
        "mobo, BoTorch greedy (draws per pick)": run_multi_per_pick,
        "plain GP + UCB (sklearn), pool of 1,000": lambda r: plain_gp_ucb(
            space, X, Y[:, 0], pool, q
        ),
    }
    times: dict[str, dict[str, Any]] = {}
    with torch_threads(1):
        for name, fn in cases.items():
            times[name] = timed(fn, args.repeats)
            t = times[name]
            print(
                f"{name:45s} wall {t['wall_median']:6.2f} s ({t['wall_min']:.2f}-"
                f"{t['wall_max']:.2f}), CPU {t['cpu_median']:6.2f} s",
                flush=True,
            )
    load = os.getloadavg()[0]
    dataset = f"synthetic {args.dims} factors, {args.rows} measurements, batch {q}"
    today = date.today().isoformat()
    base = {"seeds": args.repeats, "repeats": args.repeats, "cores": 1, "command": command}
    own = times["biofab, own candidate search"]
    recs: list[dict[str, Any]] = [
        {
            "metric": "round_time_s",
            "dataset": dataset + ", own candidate search",
            "biofab": round(own["wall_median"], 2),
            "biofab_cpu_s": round(own["cpu_median"], 2),
            "peer": "issue 16 target (10 s per round)",
            "peer_value": 10.0,
            "ratio": round(10.0 / own["wall_median"], 3),
            "better": "lower",
            "target_ratio": 1.0,
            "load_average": round(load, 1),
            **base,
            "date": today,
        },
    ]
    mine, peer = times["biofab, pool of 1,000"], times["plain GP + UCB (sklearn), pool of 1,000"]
    recs.append(
        {
            "metric": "round_time_s",
            "dataset": dataset + ", pool of 1,000",
            "biofab": round(mine["wall_median"], 2),
            "biofab_cpu_s": round(mine["cpu_median"], 2),
            "peer": "plain GP + UCB (scikit-learn, kriging believer)",
            "peer_value": round(peer["wall_median"], 2),
            "peer_cpu_s": round(peer["cpu_median"], 2),
            "ratio": round(peer["wall_median"] / mine["wall_median"], 3),
            "better": "lower",
            "target_ratio": None,
            "load_average": round(load, 1),
            **base,
            "date": today,
        }
    )
    mo = times["mobo (2 objectives), own candidate search"]
    botorch_mo = times["mobo, BoTorch greedy (draws per pick)"]
    recs.append(
        {
            "metric": "multiobjective_round_cpu_s",
            "dataset": dataset + ", own candidate search, 2 objectives",
            "biofab": round(mo["cpu_median"], 2),
            "biofab_wall_s": round(mo["wall_median"], 2),
            "peer": "BoTorch qLogNEHVI greedy pass (a joint draw per pick), same short list",
            "peer_value": round(botorch_mo["cpu_median"], 2),
            "peer_wall_s": round(botorch_mo["wall_median"], 2),
            "ratio": round(botorch_mo["cpu_median"] / mo["cpu_median"], 3),
            "better": "lower",
            "target_ratio": None,
            "load_average": round(load, 1),
            **base,
            "date": today,
        }
    )
    recs.append(
        {
            "metric": "multiobjective_round_time_over_single",
            "dataset": dataset + ", own candidate search",
            "biofab": round(mo["cpu_median"] / own["cpu_median"], 3),
            "biofab_wall_ratio": round(mo["wall_median"] / own["wall_median"], 3),
            "peer": "issue 16 target (2x single-objective)",
            "peer_value": 2.0,
            "ratio": round(2.0 / (mo["cpu_median"] / own["cpu_median"]), 3),
            "better": "lower",
            "target_ratio": 1.0,
            "load_average": round(load, 1),
            **base,
            "date": today,
        }
    )
    for rec in recs:
        print(f"{rec['metric']} [{rec['dataset']}]: ratio {rec['ratio']:.2f} vs {rec['peer']}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recommender_speed.json").write_text(json.dumps(recs, indent=2) + "\n")
    print(f"wrote {out / 'recommender_speed.json'} (load average {load:.1f})")
    return recs


if __name__ == "__main__":
    main()
