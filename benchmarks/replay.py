"""Pool replay suite: how many experiments does each method need to find a top design?

The protocol, the peers and the summaries are :mod:`biofab.campaign.replay_suite` (the
same code ``biofab replay DATA.csv`` runs): 20 random starts shared by every method per
seed (paired seeds), batches of 20, stop at a top-0.5 % pick (at least the pool's 2
best) once the best-so-far is also within 90 % of the pool's best, cap 500 experiments.
Peers in the same run: random, a plain scikit-learn GP + UCB (kriging believer), the
METIS-style XGBoost ensemble UCB; biofab = ``biofab.learn.default_recommender``.

Pools (``--pools``; ``--suite`` = all of them, default = the two published ones):

* ``borkowski``: Borkowski et al. 2020, *Nat Commun* 11:1872: 1,007 compositions of 11
  buffer components (duplicates merged, :func:`biofab.cellfree.load_borkowski`).
* ``metis``: Pandi et al. 2022, *Nat Commun* 13:3876 (METIS TX-TL): 200 compositions of
  13 components (plate controls dropped, :func:`biofab.cellfree.load_metis`).
* ``txtl6``: 1,000 random compositions of the TX-TL kinetic testbed's 6 components on
  its dispensing grids (:class:`biofab.cellfree.TxTlModel`, 5 % log-normal noise, one
  reading each, seed 0).
* ``txtl12``: the same 6 components plus 6 additives the model ignores (0-1 on a 0.1
  grid; a lab's "does this additive matter?" screen), 1,000 compositions, seed 1.
* ``hartmann6`` (6-D, 10 levels), ``ackley20`` (20-D, 9 levels), ``rosenbrock20`` (20-D,
  9 levels), ``levy40`` (40-D, 9 levels): 1,000 random grid designs of the standard test
  function, read once with Gaussian noise of sd 10 % of the pool's robust spread
  (IQR / 1.349), minimised (:mod:`biofab.testbeds.functions`).

Output (``--out``, default ``benchmarks/results``): ``replay.json`` (one record per pool
and peer, BENCHMARKS-GUIDE format, ratio = peer's mean experiments / biofab's, > 1 =
biofab needs fewer; with medians, paired win/tie/loss counts and experiments to 90 % of
the best), ``replay_runs.json`` (every campaign) and ``replay.html`` (best-so-far curves).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biofab.campaign import replay_suite as rs
from biofab.core import Continuous, Objective, Space

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
PUBLISHED = ("borkowski", "metis")


def published_pool(key: str, data: Path, budget: int) -> rs.Pool:
    from biofab.cellfree import load_borkowski, load_metis

    if key == "borkowski":
        d, label = load_borkowski(data / "cellfree" / "borkowski2020"), "Borkowski 2020"
    else:
        d, label = load_metis(data / "cellfree" / "metis_txtl"), "METIS TX-TL"
    t = d.table
    return rs.Pool(
        key,
        label,
        d.space,
        t[d.space.names],
        t["yield"].to_numpy(),
        Objective("yield", "max"),
        std=t["yield_std"].to_numpy(),
        rounds=t["round"].to_numpy(),
        budget=budget,
        note=d.source,
    )


def txtl_pool(key: str, inert: int, seed: int, budget: int, n: int = 1000) -> rs.Pool:
    from biofab.cellfree import TxTlModel
    from biofab.cellfree.txtl import default_space

    base = default_space()
    params: dict[str, Any] = dict(base.parameters)
    for i in range(inert):
        params[f"additive_{i + 1}"] = Continuous(0.0, 1.0, step=0.1)
    space = Space(params)
    rng = np.random.default_rng(seed)
    rows: list[tuple[float, ...]] = []
    seen: set[tuple[float, ...]] = set()
    grids: list[np.ndarray] = []
    for name, p in space.parameters.items():
        g = p.levels()
        if g is None:  # every TX-TL component is dispensed on a grid
            raise ValueError(f"{name} has no finite grid to draw a pool from")
        grids.append(g)
    while len(rows) < n:
        row = tuple(float(g[rng.integers(len(g))]) for g in grids)
        if row not in seen:
            seen.add(row)
            rows.append(row)
    import pandas as pd

    designs = pd.DataFrame(rows, columns=space.names)
    reading = TxTlModel(seed=seed).evaluate(designs[base.names])
    label = f"TX-TL testbed, {len(space.names)} components" + (
        f" ({inert} without effect)" if inert else ""
    )
    return rs.Pool(
        key,
        label,
        space,
        designs,
        reading["gfp"].to_numpy(),
        Objective("gfp", "max"),
        std=reading["gfp_std"].to_numpy(),
        budget=budget,
        note="Simulated: biofab.cellfree.TxTlModel, 5 % log-normal reading noise.",
    )


def function_pool(key: str, name: str, dim: int, seed: int, budget: int) -> rs.Pool:
    from biofab.testbeds.functions import FUNCTIONS, grid_pool

    fp = grid_pool(name, dim, 1000, noise=0.1, seed=seed)
    spec = FUNCTIONS[name]
    return rs.Pool(
        key,
        f"{name} {dim}-D ({spec.levels} levels)",
        fp.space,
        fp.designs,
        fp.values,
        Objective("f", "min"),
        budget=budget,
        note=f"Minimised; Gaussian reading noise sd {fp.noise_sd:.3g} (10 % of the spread).",
    )


POOLS: dict[str, Callable[[Path, int], rs.Pool]] = {
    "borkowski": lambda data, b: published_pool("borkowski", data, b),
    "metis": lambda data, b: published_pool("metis", data, b),
    "txtl6": lambda data, b: txtl_pool("txtl6", 0, 0, b),
    "txtl12": lambda data, b: txtl_pool("txtl12", 6, 1, b),
    "hartmann6": lambda data, b: function_pool("hartmann6", "hartmann6", 6, 0, b),
    "ackley20": lambda data, b: function_pool("ackley20", "ackley", 20, 0, b),
    "rosenbrock20": lambda data, b: function_pool("rosenbrock20", "rosenbrock", 20, 0, b),
    "levy40": lambda data, b: function_pool("levy40", "levy", 40, 0, b),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    default_data = os.environ.get("BIOFAB_SHARED_DATA", str(ROOT.parent / "shared" / "data"))
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--suite", action="store_true", help="every pool (see --pools)")
    p.add_argument(
        "--pools",
        "--datasets",
        default=None,
        help=f"comma-separated, of {','.join(POOLS)} (default: {','.join(PUBLISHED)})",
    )
    p.add_argument("--seeds", type=int, default=20, help="how many paired seeds (default 20)")
    p.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="first paired seed (default 0: the reported seeds 0..N-1; use e.g. 100 to "
        "develop on seeds the report never uses)",
    )
    p.add_argument("--methods", default=",".join(rs.METHODS), help="biofab,gp,metis,random")
    p.add_argument("--data", default=default_data, help="shared data folder")
    p.add_argument("--quick", action="store_true", help="3 seeds, for a smoke test")
    p.add_argument("--budget", type=int, default=rs.BUDGET, help="experiments per campaign")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (1 thread each)")
    p.add_argument("--out", default=str(RESULTS), help="folder for replay.json/.html")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds = 3
    if args.seeds < 1 or args.first_seed < 0:
        p.error("--seeds must be at least 1 and --first-seed at least 0")
    return args


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    from rich.console import Console
    from rich.table import Table

    args = parse_args(argv)
    console = Console()
    if console.width < 140 and not console.is_terminal:
        console = Console(width=140)
    chosen = args.pools or (",".join(POOLS) if args.suite else ",".join(PUBLISHED))
    keys = [k.strip() for k in chosen.split(",") if k.strip()]
    unknown = [k for k in keys if k not in POOLS]
    if unknown:
        raise SystemExit(f"unknown pool: {unknown}; choose from {list(POOLS)}")
    methods = rs.check_methods(args.methods.split(","))
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    pools = [POOLS[k](Path(args.data), args.budget) for k in keys]
    cores = max(1, min(args.jobs, os.cpu_count() or 1))
    shown = ["python", "benchmarks/replay.py", *(sys.argv[1:] if argv is None else argv)]
    command = shlex.join(shown)
    for pool in pools:
        console.print(
            f"{pool.describe()}: target = top {pool.top_k} (utility >= {pool.threshold:.4g}), "
            f"cap {pool.cap}"
        )
    console.print(f"seeds {seeds[0]}..{seeds[-1]}, methods {methods}, {args.jobs} worker(s)")

    t0 = time.perf_counter()
    runs = rs.run_suite(pools, methods, seeds, jobs=args.jobs)
    wall = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    recs, files = rs.write_outputs(
        out, pools, runs, methods, command=command, cores=cores, wall=wall
    )
    frame = rs.summary_frame(pools, rs.summary_table(pools, runs, methods))
    table = Table(title=f"Pool replay: experiments to a top-0.5 % design ({len(seeds)} seeds)")
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    console.print(
        "misses count as the cap; ratio = peer's mean / biofab's (> 1: biofab needs fewer); "
        "W/T/L = seeds where biofab needed fewer / as many / more; "
        f"total wall {wall:.0f} s on {cores} worker(s)"
    )
    for rec in recs:
        if rec["metric"] == "experiments_to_top_0.5pct_mean":
            p = rec["paired"]
            console.print(
                f"[bold]{rec['dataset']}: {rec['peer']} / biofab = {rec['ratio']:.2f}[/bold] "
                f"(W/T/L {p['wins']}/{p['ties']}/{p['losses']}, target {rec['target_ratio']:g})"
            )
    console.print(f"wrote {', '.join(str(f) for f in files)}")
    return recs


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
