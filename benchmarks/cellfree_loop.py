"""Closed cell-free loop on the TX-TL testbed: does biofab's recommender beat Sobol and
random designs with the same budget?

Testbed: :class:`biofab.cellfree.txtl.TxTlModel` (E. coli TX-TL, GFP), default stock
table (six varied components: Mg- and K-glutamate, 3-PGA, NTPs, amino acids, DNA),
10 µL reactions on the 2.5 nL Echo grid. Every round goes through the real files of
:class:`biofab.cellfree.loop.CellFreeLoop`: plate layout (2 replicates, 4 reference
controls and 2 blanks per 96-well plate), Echo picklist, simulated plate read (5 %
well noise, 10 % plate effect), import (blank subtraction, normalisation to the
plate's reference control) and ingestion of ``relative_yield``.

Protocol, per seed ``s`` in ``0 .. N-1`` (default N = 10):

* a fresh ``TxTlModel(seed=s)`` and ``CellFreeLoop(..., seed=s)``; every method sees
  the same plate-noise stream (same draws, same layout seeds) and the same budget:
  10 rounds of 20 designs (200 compositions, 400 sample wells).
* Methods: ``biofab`` — the campaign's default (space-filling until 12 designs are
  measured, then ``default_recommender``); ``sobol`` — ``SpaceFilling("sobol")``
  every round; ``random`` — ``SpaceFilling("random")`` every round.
* Metric (single objective): fold improvement = NOISE-FREE end-point GFP
  (``TxTlModel.yields``) of the composition the campaign itself would pick — the
  one with the highest measured ``relative_yield`` so far — divided by the
  noise-free GFP of the snapped reference composition. Reported after 5 and 10
  rounds: mean, median, min-max over seeds; ratio = biofab / peer (> 1: biofab
  better). The ceiling is the best noise-free fold among 20,000 random feasible
  compositions (``Space.sample(method="random", seed=12345)``); it is a search
  result, not a proof of the optimum.
* Multi-objective (``cost=True``: ``relative_yield`` max, reagent cost per reaction
  min from the stock table's illustrative prices): biofab's default for two
  objectives (``MultiObjective``) vs Sobol vs random, same rounds and batch,
  seeds ``0 .. M-1`` (default M = 5). Metric: hypervolume of the noise-free
  (fold, cost) points of all measured designs, fold maximised and cost minimised,
  w.r.t. the reference point (fold 0, cost = every varied component at its upper
  bound, an upper bound on any design's cost); also as a fraction of the
  hypervolume of the 20,000-design random search.

Parallel: (part, method, seed) tasks on ``--jobs`` worker processes (default 2), one
torch thread each. Round files go to temporary folders.

Output: tables on stdout ending with the headline ratios,
``<out>/cellfree_loop.json`` (records per BENCHMARKS-GUIDE, with per-seed values)
and ``<out>/cellfree_loop.html`` (best-so-far curves, hypervolume per round, one
example Pareto front).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("biofab", "sobol", "random")
LABELS = {"biofab": "biofab default", "sobol": "Sobol only", "random": "random"}
PEERS = {"sobol": "Sobol-only designs (SpaceFilling('sobol'))", "random": "random designs"}
COLOURS = {"biofab": "#1f77b4", "sobol": "#ff7f0e", "random": "#7f7f7f"}
FILLS = {
    "biofab": "rgba(31,119,180,0.15)",
    "sobol": "rgba(255,127,14,0.15)",
    "random": "rgba(127,127,127,0.15)",
}
CEILING_SEED = 12345


# -- the problem -------------------------------------------------------------------


def make_loop(out: Path, seed: int, cost: bool, method: str) -> tuple[Any, Any]:
    """The TX-TL testbed and a fresh loop over the default stock table (10 µL, Echo)."""
    from biofab.cellfree.loop import CellFreeLoop
    from biofab.cellfree.stocks import Echo, StockTable
    from biofab.cellfree.txtl import TxTlModel
    from biofab.learn import SpaceFilling

    model = TxTlModel(seed=seed)
    recommender = None if method == "biofab" else SpaceFilling(method)
    loop = CellFreeLoop(
        StockTable.default(),
        model.measure_plate,
        out,
        volume_ul=10.0,
        dispenser=Echo(),
        cost=cost,
        recommender=recommender,
        seed=seed,
    )
    return model, loop


def reference_frame(loop: Any) -> pd.DataFrame:
    return pd.DataFrame([loop.reference])[loop.space.names]


def costs(loop: Any, designs: pd.DataFrame) -> np.ndarray:
    """Reagent cost per 10 µL reaction (USD, illustrative prices), shape ``(n,)``."""
    from biofab.cellfree.cost import reaction_cost

    frame = designs[loop.space.names].reset_index(drop=True)
    return np.asarray(
        reaction_cost(frame, loop.stocks, loop.volume_ul, loop.dispenser), dtype=float
    )


def cost_reference(loop: Any) -> float:
    """Every varied component at its upper bound: no design of the space costs more."""
    top = pd.DataFrame([{n: p.hi for n, p in loop.space.parameters.items()}])
    return float(costs(loop, top)[0])


def hypervolume(fold: np.ndarray, cost: np.ndarray, cost_ref: float) -> float:
    """Area dominated by (fold max, cost min) points w.r.t. (fold 0, ``cost_ref``).

    The union of rectangles ``[c_i, cost_ref] x [0, f_i]``: sweep by increasing
    cost, each point that raises the best fold adds a strip.
    """
    keep = (cost < cost_ref) & (fold > 0)
    order = np.argsort(cost[keep], kind="stable")
    area, best = 0.0, 0.0
    for f, c in zip(fold[keep][order], cost[keep][order], strict=True):
        if f > best:
            area += (cost_ref - c) * (f - best)
            best = f
    return float(area)


def front(fold: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated (fold max, cost min) points, by increasing cost."""
    order = np.lexsort((-fold, cost))
    keep, best = [], -np.inf
    for i in order:
        if fold[i] > best:
            keep.append(int(i))
            best = fold[i]
    return np.array(keep, dtype=int)


# -- one campaign --------------------------------------------------------------------


@dataclass
class Run:
    part: str  # "yield" (single objective) or "cost" (yield vs cost)
    method: str
    seed: int
    pick_fold: list[float] = field(default_factory=list)  # after each round
    best_fold: list[float] = field(default_factory=list)  # best noise-free so far
    hv: list[float] = field(default_factory=list)  # cost part: after each round
    folds: list[float] = field(default_factory=list)  # every measured design
    costs: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)
    seconds: float = 0.0


def campaign(part: str, method: str, seed: int, rounds: int, batch: int) -> Run:
    """One closed loop; returns noise-free folds of what it measured and picked."""
    from biofab.campaign import Campaign

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cellfree-bench-") as tmp:
        model, loop = make_loop(Path(tmp), seed, part == "cost", method)
        camp = Campaign.create(
            f"bench-{part}-{method}-{seed}",
            loop.space,
            list(loop.objectives),
            store=f"sqlite:///{tmp}/c.db",
        )
        loop.run(camp, rounds=rounds, batch=batch, progress=False)
        data = camp.data().reset_index(drop=True)
        ref = float(model.yields(reference_frame(loop))[0])
        fold = model.yields(data[loop.space.names]) / ref
        cost = costs(loop, data) if part == "cost" else np.zeros(len(data))
        cref = cost_reference(loop)
    rnd = data["round"].astype(int).to_numpy()
    measured = data["relative_yield"].to_numpy(dtype=float)
    run = Run(part, method, seed, folds=fold.tolist(), costs=cost.tolist(), rounds=rnd.tolist())
    for r in range(1, rounds + 1):
        upto = rnd <= r
        pick = int(np.argmax(np.where(upto, measured, -np.inf)))
        run.pick_fold.append(float(fold[pick]))
        run.best_fold.append(float(fold[upto].max()))
        if part == "cost":
            run.hv.append(hypervolume(fold[upto], cost[upto], cref))
    run.seconds = time.perf_counter() - start
    return run


@dataclass
class Ceiling:
    n: int
    fold: float
    hv: float
    cost_ref: float
    front_fold: list[float]
    front_cost: list[float]
    seconds: float


def ceiling(n: int) -> Ceiling:
    """Best noise-free fold and (fold, cost) hypervolume among ``n`` random designs."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cellfree-bench-") as tmp:
        model, loop = make_loop(Path(tmp), 0, True, "random")
    designs = loop.space.sample(n, seed=CEILING_SEED, method="random")
    ref = float(model.yields(reference_frame(loop))[0])
    fold = model.yields(designs[loop.space.names]) / ref
    cost = costs(loop, designs)
    cref = cost_reference(loop)
    idx = front(fold, cost)
    return Ceiling(
        len(designs),
        float(fold.max()),
        hypervolume(fold, cost, cref),
        cref,
        fold[idx].tolist(),
        cost[idx].tolist(),
        time.perf_counter() - start,
    )


# -- running -----------------------------------------------------------------------

Task = tuple[str, str, int, int, int]  # part, method, seed, rounds, batch


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _task(task: Task | tuple[str, int]) -> Run | Ceiling:
    if task[0] == "ceiling":
        return ceiling(int(task[1]))
    part, method, seed, rounds, batch = task  # type: ignore[misc]
    return campaign(part, method, seed, rounds, batch)


def run_all(
    tasks: list[Any], jobs: int, on_done: Callable[[Run | Ceiling], None]
) -> list[Run | Ceiling]:
    out: list[Run | Ceiling] = []
    if jobs <= 1:
        _init_worker()
        for t in tasks:
            out.append(_task(t))
            on_done(out[-1])
        return out
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=get_context("fork"), initializer=_init_worker
    ) as pool:
        futures = [pool.submit(_task, t) for t in tasks]
        for f in as_completed(futures):
            out.append(f.result())
            on_done(out[-1])
    return out


# -- summarising ---------------------------------------------------------------------


def stats(values: Sequence[float]) -> dict[str, Any]:
    v = np.asarray(values, dtype=float)
    return {
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "min": float(v.min()),
        "max": float(v.max()),
        "per_seed": [round(float(x), 4) for x in v],
    }


def summarise(runs: list[Run], part: str, at: Sequence[int]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for method in METHODS:
        mine = sorted((r for r in runs if r.part == part and r.method == method), key=_seed)
        if not mine:
            continue
        s: dict[str, Any] = {"seeds": len(mine), "seconds": sum(r.seconds for r in mine)}
        for k in at:
            if part == "yield":
                s[f"fold_{k}"] = stats([r.pick_fold[k - 1] for r in mine])
                s[f"true_best_{k}"] = stats([r.best_fold[k - 1] for r in mine])
            else:
                s[f"hv_{k}"] = stats([r.hv[k - 1] for r in mine])
        out[method] = s
    return out


def _seed(r: Run) -> int:
    return r.seed


def records(
    so: dict[str, dict[str, Any]],
    mo: dict[str, dict[str, Any]],
    ceil: Ceiling,
    at: Sequence[int],
    rounds: int,
    batch: int,
    command: str,
    cores: int,
) -> list[dict[str, Any]]:
    today = date.today().isoformat()
    base = {"repeats": 1, "cores": cores, "command": command, "date": today}
    out: list[dict[str, Any]] = []
    data = "TX-TL testbed, default stock table, 10 uL Echo"
    if "biofab" in so:
        for k in at:
            for stat in ("mean", "median"):
                mine = so["biofab"][f"fold_{k}"]
                for peer, name in PEERS.items():
                    if peer not in so:
                        continue
                    theirs = so[peer][f"fold_{k}"]
                    out.append(
                        {
                            "metric": f"fold_over_reference_after_{k}_rounds_{stat}",
                            "dataset": f"{data}; {k} rounds of {batch}",
                            "biofab": round(mine[stat], 4),
                            "peer": name,
                            "peer_value": round(theirs[stat], 4),
                            "ratio": round(mine[stat] / theirs[stat], 3),
                            "better": "higher",
                            "target_ratio": None,
                            "seeds": so["biofab"]["seeds"],
                            **base,
                            "biofab_range": [round(mine["min"], 4), round(mine["max"], 4)],
                            "peer_range": [round(theirs["min"], 4), round(theirs["max"], 4)],
                            "biofab_per_seed": mine["per_seed"],
                            "peer_per_seed": theirs["per_seed"],
                            "ceiling_fold": round(ceil.fold, 4),
                            "ceiling_designs": ceil.n,
                        }
                    )
    if "biofab" in mo:
        mine = mo["biofab"][f"hv_{rounds}"]
        for peer, name in PEERS.items():
            if peer not in mo:
                continue
            theirs = mo[peer][f"hv_{rounds}"]
            out.append(
                {
                    "metric": f"yield_cost_hypervolume_after_{rounds}_rounds_mean",
                    "dataset": f"{data}; yield vs cost per reaction; {rounds} rounds of {batch}",
                    "biofab": round(mine["mean"], 5),
                    "peer": name,
                    "peer_value": round(theirs["mean"], 5),
                    "ratio": round(mine["mean"] / theirs["mean"], 3),
                    "better": "higher",
                    "target_ratio": None,
                    "seeds": mo["biofab"]["seeds"],
                    **base,
                    "units": "fold x USD per reaction",
                    "reference_point": {"fold": 0.0, "cost": round(ceil.cost_ref, 6)},
                    "biofab_range": [round(mine["min"], 5), round(mine["max"], 5)],
                    "peer_range": [round(theirs["min"], 5), round(theirs["max"], 5)],
                    "biofab_per_seed": mine["per_seed"],
                    "peer_per_seed": theirs["per_seed"],
                    "ceiling_hv": round(ceil.hv, 5),
                    "ceiling_designs": ceil.n,
                }
            )
    return out


# -- html ----------------------------------------------------------------------------


def _band(fig: Any, x: list[int], rows: np.ndarray, method: str, col: int) -> None:
    import plotly.graph_objects as go

    mean, sd = rows.mean(axis=0), rows.std(axis=0)
    lo, hi = mean - sd, mean + sd
    fig.add_trace(
        go.Scatter(
            x=x + x[::-1],
            y=np.round(np.concatenate([hi, lo[::-1]]), 4).tolist(),
            fill="toself",
            fillcolor=FILLS[method],
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            legendgroup=method,
        ),
        row=1,
        col=col,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=np.round(mean, 4).tolist(),
            name=LABELS[method],
            line={"color": COLOURS[method]},
            legendgroup=method,
            showlegend=col == 1,
        ),
        row=1,
        col=col,
    )


def write_html(
    path: Path,
    runs: list[Run],
    ceil: Ceiling,
    rounds: int,
    batch: int,
    tables: list[tuple[str, pd.DataFrame]],
) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from biofab.viz import html_page

    x = [batch * r for r in range(1, rounds + 1)]
    sections: list[tuple[str, Any]] = []
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=["fold of the campaign's pick", "best noise-free fold measured"],
    )
    for col, attr in ((1, "pick_fold"), (2, "best_fold")):
        for method in METHODS:
            mine = sorted((r for r in runs if r.part == "yield" and r.method == method), key=_seed)
            if mine:
                _band(fig, x, np.array([getattr(r, attr) for r in mine]), method, col)
        fig.add_hline(
            y=ceil.fold, line_dash="dot", annotation_text="random-search ceiling", row=1, col=col
        )
        fig.add_hline(y=1.0, line_dash="dash", line_color="grey", row=1, col=col)
        fig.update_xaxes(title_text="designs measured", row=1, col=col)
        fig.update_yaxes(title_text="noise-free GFP / reference", row=1, col=col)
    fig.update_layout(template="plotly_white", height=430)
    sections.append(("Single objective: best-so-far (mean ± sd over seeds)", fig))
    mo = [r for r in runs if r.part == "cost"]
    if mo:
        fig = make_subplots(rows=1, cols=1)
        for method in METHODS:
            mine = sorted((r for r in mo if r.method == method), key=_seed)
            if mine:
                _band(fig, x, np.array([r.hv for r in mine]), method, 1)
        fig.add_hline(y=ceil.hv, line_dash="dot", annotation_text="random-search ceiling")
        fig.update_xaxes(title_text="designs measured")
        fig.update_yaxes(title_text="hypervolume (fold x USD)")
        fig.update_layout(template="plotly_white", height=430)
        sections.append(("Yield vs cost: hypervolume per round (mean ± sd)", fig))
        seed = min(r.seed for r in mo)
        fig = go.Figure()
        fig.add_trace(
            go.Scatter(
                x=ceil.front_cost,
                y=ceil.front_fold,
                mode="lines",
                line={"shape": "hv", "dash": "dot", "color": "black"},
                name=f"front of {ceil.n} random designs",
            )
        )
        for r in sorted((r for r in mo if r.seed == seed), key=lambda r: METHODS.index(r.method)):
            f, c = np.array(r.folds), np.array(r.costs)
            idx = front(f, c)
            fig.add_trace(
                go.Scatter(
                    x=np.round(c, 5).tolist(),
                    y=np.round(f, 4).tolist(),
                    mode="markers",
                    marker={"color": COLOURS[r.method], "size": 5, "opacity": 0.35},
                    name=f"{LABELS[r.method]}: measured",
                    legendgroup=r.method,
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=np.round(c[idx], 5).tolist(),
                    y=np.round(f[idx], 4).tolist(),
                    mode="lines+markers",
                    line={"shape": "hv", "color": COLOURS[r.method]},
                    name=f"{LABELS[r.method]}: front",
                    legendgroup=r.method,
                )
            )
        fig.update_xaxes(title_text="reagent cost per 10 µL reaction (USD, illustrative)")
        fig.update_yaxes(title_text="noise-free GFP / reference")
        fig.update_layout(template="plotly_white", height=480)
        sections.append((f"Example Pareto fronts (seed {seed})", fig))
    sections += tables
    html = html_page(
        "Closed cell-free loop on the TX-TL testbed",
        sections,
        subtitle=f"{rounds} rounds of {batch}; biofab vs Sobol-only vs random",
    )
    from biofab.core.atomic import write_atomic

    write_atomic(path, html)


# -- command line ----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=10, help="single-objective seeds 0..N-1")
    p.add_argument("--mo-seeds", type=int, default=5, help="yield-vs-cost seeds 0..M-1")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--report-at", type=int, default=5, help="also report after this round")
    p.add_argument("--ceiling", type=int, default=20_000, help="random designs for the ceiling")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--jobs", type=int, default=2, help="worker processes (1 thread each)")
    p.add_argument("--quick", action="store_true", help="2 seeds, 2 rounds of 6 (smoke test)")
    p.add_argument("--out", default=str(RESULTS), help="folder for cellfree_loop.json/.html")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.mo_seeds, args.rounds, args.batch = 2, 2, 2, 6
        args.report_at, args.ceiling = 1, 500
    return args


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
    from rich.table import Table

    args = parse_args(argv)
    console = Console()
    if console.width < 110 and not console.is_terminal:
        console = Console(width=110)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if [m for m in methods if m not in METHODS] or args.rounds < 1 or args.batch < 1:
        raise SystemExit(f"methods among {METHODS}; rounds and batch >= 1")
    at = sorted({min(max(args.report_at, 1), args.rounds), args.rounds})
    cores = max(1, min(args.jobs, os.cpu_count() or 1))
    shown = ["python", "benchmarks/cellfree_loop.py", *(sys.argv[1:] if argv is None else argv)]
    command = shlex.join(shown)
    console.print((__doc__ or "").split("Parallel:")[0].split("\n\n", 1)[1].strip())
    console.print(
        f"single objective: seeds 0..{args.seeds - 1}; yield vs cost: seeds "
        f"0..{args.mo_seeds - 1}; {args.rounds} rounds of {args.batch}; methods {methods}; "
        f"ceiling from {args.ceiling} random designs; {args.jobs} worker(s)"
    )
    tasks: list[Any] = [("ceiling", args.ceiling)]
    for part, n in (("cost", args.mo_seeds), ("yield", args.seeds)):
        tasks += [(part, m, s, args.rounds, args.batch) for m in methods for s in range(n)]
    # The slow ones (the model-based recommenders) first, so that the workers end together.
    tasks.sort(key=lambda t: (t[0] != "ceiling" and t[1] != "biofab", t[0] != "cost"))

    t0 = time.perf_counter()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("campaigns", total=len(tasks))

        def done(item: Run | Ceiling) -> None:
            label = "ceiling" if isinstance(item, Ceiling) else f"{item.part}/{item.method}"
            progress.update(bar, advance=1, description=label)
            if not console.is_terminal:  # a log file shows no live bar: one line per task
                seed = "" if isinstance(item, Ceiling) else f" seed {item.seed}"
                console.print(f"done {label}{seed} ({item.seconds:.0f} s)")

        results = run_all(tasks, args.jobs, done)
    wall = time.perf_counter() - t0
    ceil = next(r for r in results if isinstance(r, Ceiling))
    runs = [r for r in results if isinstance(r, Run)]
    so = summarise(runs, "yield", at)
    mo = summarise(runs, "cost", [args.rounds])

    table = Table(
        title=f"Fold over the reference (noise-free GFP of the campaign's pick), "
        f"{args.seeds} seeds, batch {args.batch}"
    )
    for col in ("method", "rounds", "designs", "mean", "median", "min-max", "true best", "s"):
        table.add_column(col, justify="left" if col == "method" else "right")
    rows: list[dict[str, Any]] = []
    for method, s in so.items():
        for k in at:
            f, b = s[f"fold_{k}"], s[f"true_best_{k}"]
            table.add_row(
                LABELS[method],
                str(k),
                str(k * args.batch),
                f"{f['mean']:.3f}",
                f"{f['median']:.3f}",
                f"{f['min']:.2f}-{f['max']:.2f}",
                f"{b['mean']:.3f}",
                f"{s['seconds']:.0f}",
            )
            rows.append(
                {
                    "method": LABELS[method],
                    "rounds": k,
                    "fold mean": f["mean"],
                    "fold median": f["median"],
                    "fold min": f["min"],
                    "fold max": f["max"],
                    "true best mean": b["mean"],
                }
            )
    console.print(table)
    console.print(
        f"ceiling: best of {ceil.n} random designs = {ceil.fold:.3f}x the reference "
        f"({ceil.seconds:.0f} s); true best = mean best noise-free fold among all measured "
        f"designs (what a perfect pick would give); s = summed campaign seconds"
    )
    mo_rows: list[dict[str, Any]] = []
    if mo:
        table = Table(
            title=f"Yield vs cost: hypervolume after {args.rounds} rounds, "
            f"{args.mo_seeds} seeds (fold x USD; ref. point fold 0, cost {ceil.cost_ref:.4f})"
        )
        for col in ("method", "mean", "median", "min-max", "of ceiling", "s"):
            table.add_column(col, justify="left" if col == "method" else "right")
        for method, s in mo.items():
            h = s[f"hv_{args.rounds}"]
            table.add_row(
                LABELS[method],
                f"{h['mean']:.4f}",
                f"{h['median']:.4f}",
                f"{h['min']:.4f}-{h['max']:.4f}",
                f"{h['mean'] / ceil.hv:.3f}",
                f"{s['seconds']:.0f}",
            )
            mo_rows.append(
                {
                    "method": LABELS[method],
                    "hv mean": h["mean"],
                    "hv median": h["median"],
                    "hv min": h["min"],
                    "hv max": h["max"],
                    "fraction of ceiling": h["mean"] / ceil.hv,
                }
            )
        console.print(table)
        console.print(f"ceiling hypervolume ({ceil.n} random designs): {ceil.hv:.4f}")
    console.print(f"total wall {wall:.0f} s on {cores} worker process(es), 1 thread each")

    recs = records(so, mo, ceil, at, args.rounds, args.batch, command, cores)
    for rec in recs:
        if rec["metric"].endswith("_median"):
            continue
        console.print(
            f"[bold]{rec['metric']}: biofab / {rec['peer']} = {rec['ratio']:.2f}[/bold] "
            f"({rec['biofab']:.4g} vs {rec['peer_value']:.4g})"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from biofab.core.atomic import write_atomic

    write_atomic(out / "cellfree_loop.json", json.dumps(recs, indent=2) + "\n")
    tables = [("Fold over the reference", pd.DataFrame(rows))]
    if mo_rows:
        tables.append(("Yield vs cost hypervolume", pd.DataFrame(mo_rows)))
    write_html(out / "cellfree_loop.html", runs, ceil, args.rounds, args.batch, tables)
    console.print(f"wrote {out / 'cellfree_loop.json'}, {out / 'cellfree_loop.html'}")
    return recs


if __name__ == "__main__":
    main()
