"""Development harness behind BENCHMARKS.md "Recommender development log" (helper rec).

Not the suite: a quick replay of candidate recommenders on Borkowski, METIS and noisy
test-function pools, with the protocol of the pre-suite ``benchmarks/replay.py`` (20 random
starts, batches of 20, stop at a top-0.5 % pick, cap 500), whose module it imports. That
script was replaced by the suite; get it back with

    git show 4ec2857:benchmarks/replay.py > /tmp/replay_old/replay.py

Commands (as run for the log):

    PYTHONPATH=src:/tmp/replay_old python benchmarks/recommender_devlog.py replay \
        borkowski,metis,hartmann6,ackley20 kb,metis,random,nei 4 /tmp/r1.jsonl
    PYTHONPATH=src:/tmp/replay_old python benchmarks/recommender_devlog.py replay \
        borkowski,metis,hartmann6,ackley20,levy40 auto,metis,random 4:9 /tmp/r2.jsonl
    PYTHONPATH=src:/tmp/replay_old python benchmarks/recommender_devlog.py coverage

Methods: ``kb`` GP + kriging-believer UCB, ``kb_lo`` the same with kappa 1.41/1.0/0.5, ``nei``
GP + qLogNEI, ``auto`` ``default_recommender``; ``metis`` and ``random`` are the old
script's. Each line of the output file is one campaign (experiments to the top pick).
"""

import json
import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

import replay
from biofab.core import Continuous, Space
from biofab.learn.acquisition import BelieverUCB, QLogNEI
from biofab.learn.candidates import CandidateSearch
from biofab.learn.recommenders import ComposedRecommender, gp_factory

DATA = Path(os.environ.get("BIOFAB_SHARED_DATA", "../shared/data"))


def make_rec(name):
    if name == "kb":
        return ComposedRecommender(gp_factory, BelieverUCB(), CandidateSearch(), name=name)
    if name == "kb_lo":
        return ComposedRecommender(
            gp_factory, BelieverUCB((1.41, 1.0, 0.5)), CandidateSearch(), name=name
        )
    if name == "nei":
        return ComposedRecommender(gp_factory, QLogNEI(), CandidateSearch(), name=name)
    raise KeyError(name)


def pick(problem, measured, unmeasured, n, r, seed, name):
    from biofab.learn import default_recommender

    space, table = problem.space, problem.table
    rec = default_recommender(space, 1) if name == "auto" else make_rec(name)
    done = table.iloc[measured]
    res = rec.recommend(
        space,
        done[space.names].reset_index(drop=True),
        np.array(done["yield"], float)[:, None],
        n,
        yvar=np.array(done["yield_std"], float)[:, None] ** 2,
        candidates=table.iloc[unmeasured][space.names].reset_index(drop=True),
        round_index=r,
        seed=seed,
    )
    return replay._testbed(problem).lookup(res.designs)


def fn_problem(kind, d, n_pool=1200, levels=7, noise=0.02, seed=123):
    rng = np.random.default_rng(seed)
    space = Space({f"x{i}": Continuous(0, 1, step=1 / (levels - 1)) for i in range(d)})
    U = rng.integers(0, levels, size=(n_pool * 2, d)) / (levels - 1)
    U = np.unique(U, axis=0)[:n_pool]
    rng.shuffle(U)
    if kind == "ackley":
        z = 4 * U - 2 + 0.3  # optimum off-centre
        f = -(
            -20 * np.exp(-0.2 * np.sqrt((z**2).mean(1)))
            - np.exp(np.cos(2 * np.pi * z).mean(1))
            + 20
            + np.e
        )
    elif kind in ("hartmann", "hartmann6"):
        A = np.array(
            [
                [10, 3, 17, 3.5, 1.7, 8],
                [0.05, 10, 17, 0.1, 8, 14],
                [3, 3.5, 1.7, 10, 17, 8],
                [17, 8, 0.05, 10, 0.1, 14],
            ]
        )
        P = 1e-4 * np.array(
            [
                [1312, 1696, 5569, 124, 8283, 5886],
                [2329, 4135, 8307, 3736, 1004, 9991],
                [2348, 1451, 3522, 2883, 3047, 6650],
                [4047, 8828, 8732, 5743, 1091, 381],
            ]
        )
        al = np.array([1, 1.2, 3, 3.2])
        f = (al * np.exp(-(A[None] * (U[:, None, :] - P[None]) ** 2).sum(-1))).sum(1)
    elif kind == "rosenbrock":
        z = 3 * U - 1
        f = -np.log1p(((100 * (z[:, 1:] - z[:, :-1] ** 2) ** 2) + (1 - z[:, :-1]) ** 2).sum(1))
    elif kind == "levy":
        z = 1 + (20 * U - 10 - 1) / 4
        t = (
            np.sin(np.pi * z[:, 0]) ** 2
            + ((z[:, :-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * z[:, 1:]) ** 2)).sum(1)
            + (z[:, -1] - 1) ** 2 * (1 + np.sin(2 * np.pi * z[:, -1]) ** 2)
        )
        f = -t
    f = f - f.min()
    sd = noise * np.ptp(f)
    y = f + rng.normal(0, sd, len(f))
    table = pd.DataFrame(U, columns=space.names).round(9)
    table["yield"], table["yield_std"] = y, sd
    # the target is on the noise-free function's top; stored y is what the lab sees
    k = replay.top_count(len(table))
    thr = float(np.sort(y)[::-1][k - 1])
    return replay.Problem(f"{kind}{d}", f"{kind}-{d}", space, table, k, thr, min(500, len(table)))


def main():
    if sys.argv[1] == "coverage":
        return coverage_main()
    del sys.argv[1]
    pools = sys.argv[1].split(",")
    methods = sys.argv[2].split(",")
    seeds = (
        range(*map(int, sys.argv[3].split(":"))) if ":" in sys.argv[3] else range(int(sys.argv[3]))
    )
    out = Path(sys.argv[4])
    probs = {}
    for p in pools:
        if p in replay.DATASETS:
            probs[p] = replay.make_problem(p, DATA, 500)
        else:
            kind = p.rstrip("0123456789")
            d = int(p[len(kind) :])
            probs[p] = fn_problem(kind, d)
    for m in methods:
        if m not in replay.PICKERS:
            replay.PICKERS[m] = partial(pick, name=m)
    res = []
    for p, prob in probs.items():
        for s in seeds:
            for m in methods:
                t = time.process_time()
                run = replay.campaign(prob, m, s)
                hit = run.hit_at if run.hit_at is not None else prob.cap
                rec = dict(
                    pool=p, method=m, seed=s, hit=hit, cpu=time.process_time() - t, spent=run.spent
                )
                res.append(rec)
                print(json.dumps(rec), flush=True)
                with open(out, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")


def coverage_main():
    from biofab.learn import GPSurrogate, calibrate_out_of_fold, out_of_fold
    from biofab.learn.recommenders import auto_trees

    for p in ["borkowski", "metis", "hartmann6", "ackley20", "levy40"]:
        prob = (
            replay.make_problem(p, DATA, 500)
            if p in replay.DATASETS
            else fn_problem(p.rstrip("0123456789"), int(p[len(p.rstrip("0123456789")) :]))
        )
        for n in (60, 140):
            for s in range(3):
                rows = np.random.default_rng(s).choice(
                    len(prob.table), size=min(n, len(prob.table)), replace=False
                )
                t = prob.table.iloc[rows]
                X = prob.space.encode(t[prob.space.names])
                y = t["yield"].to_numpy(float)
                v = t["yield_std"].to_numpy(float) ** 2
                for name, make in [
                    ("gp", lambda s=s: GPSurrogate(seed=s, max_iter=200)),
                    ("trees", lambda s=s: auto_trees(s)),
                ]:
                    c = calibrate_out_of_fold(y, out_of_fold(make, X, y, v, seed=s), v)
                    rec = dict(
                        pool=p,
                        n=len(y),
                        seed=s,
                        model=name,
                        raw=c.coverage_68_raw,
                        cal=c.coverage_68,
                        cal95=c.coverage_95,
                        scale=c.std_scale,
                    )
                    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
