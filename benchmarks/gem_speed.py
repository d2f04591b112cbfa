"""Speed of biofab's analysis engine (HiGHS) against COBRApy + GLPK on iJO1366.

Same process, same model object, same machine, one run:

* ``single_gene_deletion``: all 1,367 genes; biofab ``single_deletions(model,
  "gene", workers=1)`` vs ``cobra.flux_analysis.single_gene_deletion(model,
  processes=1)``.
* ``fva``: all 2,583 reactions at fraction 1.0; ``flux_variability(model,
  fraction_of_optimum=1.0, workers=1)`` vs ``flux_variability_analysis(model,
  fraction_of_optimum=1.0, processes=1)`` (loopless=False, no pFBA factor).
* ``double_gene_deletion``: the first 100 genes of ``sorted(g.id for g in
  model.genes)``, all 5,050 unordered pairs (including ``{a, a}``) as COBRApy
  enumerates them; ``double_deletions(model, genes, workers=1)`` vs
  ``double_gene_deletion(model, genes, processes=1)``.

Headline ratios are same-cores: one process each (COBRApy ``processes=1``,
biofab ``workers=1``). biofab with 2 worker processes is an extra line. Each
timing: one warm-up call on a small subset, then ``--repeats`` runs (default 3);
median and min-max reported. The script also checks agreement: the largest
absolute difference in growth (1/h) or flux bound (mmol/gDW/h) between the two
results (infeasible counted as NaN on both sides), and the lethal set (growth
< 1 % of wild type) of the single-gene scan.

Output: a table on stdout and ``benchmarks/results/gem_speed.json`` (records as in
``../shared/BENCHMARKS-GUIDE.md``).
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

from biofab.metabolism import load_model
from biofab.metabolism.analysis import flux_variability
from biofab.metabolism.deletions import double_deletions, single_deletions

RESULTS = Path(__file__).resolve().parent / "results"
PEER = "cobrapy+glpk"
N_DOUBLE = 100


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Wall times (s) of ``repeats`` calls and the last result."""
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def deletion_diff(ours: pd.DataFrame, ref: pd.DataFrame) -> float:
    """Largest |growth difference| over matching knockouts; inf if the sets differ."""
    a = {frozenset(i): g for i, g in zip(ours["ids"], ours["growth"], strict=True)}
    b = {frozenset(i): g for i, g in zip(ref["ids"], ref["growth"], strict=True)}
    if a.keys() != b.keys():
        return float("inf")
    worst = 0.0
    for k, g in a.items():
        h = b[k]
        if np.isnan(g) or np.isnan(h):
            worst = max(worst, 0.0 if np.isnan(g) and np.isnan(h) else float("inf"))
        else:
            worst = max(worst, abs(g - h))
    return worst


def lethal_set(frame: pd.DataFrame, wild_type: float) -> set[str]:
    return {
        next(iter(i))
        for i, g in zip(frame["ids"], frame["growth"], strict=True)
        if not g >= 0.01 * wild_type
    }


def summary(times: list[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (>= 1)")
    parser.add_argument("--quick", action="store_true", help="1 repeat (a smoke run)")
    parser.add_argument("--no-parallel", action="store_true", help="skip the 2-worker line")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for gem_speed.json")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else max(1, args.repeats)
    cores = os.cpu_count() or 1

    model = load_model("iJO1366")
    model.solver = "glpk"
    wild_type = model.slim_optimize()
    genes = sorted(g.id for g in model.genes)
    reactions = [r.id for r in model.reactions]
    double_genes = genes[:N_DOUBLE]
    print(f"iJO1366: {len(reactions)} reactions, {len(genes)} genes, wild type {wild_type:.6f}")
    print(f"machine: {cores} cores (os.cpu_count); repeats {repeats}; one process per side")

    from cobra.flux_analysis import (
        double_gene_deletion,
        flux_variability_analysis,
        single_gene_deletion,
    )

    tasks: list[dict[str, Any]] = [
        {
            "metric": "single_gene_deletion_time_s",
            "what": f"single-gene deletion, all {len(genes)} genes",
            "biofab": lambda w: single_deletions(model, "gene", workers=w),
            "peer": lambda: single_gene_deletion(model, processes=1),
            "warm": (
                lambda: single_deletions(model, "gene", genes[:20], workers=1),
                lambda: single_gene_deletion(model, genes[:20], processes=1),
            ),
            "diff": deletion_diff,
            "target": 10.0,
        },
        {
            "metric": "fva_time_s",
            "what": f"FVA, fraction 1.0, all {len(reactions)} reactions",
            "biofab": lambda w: flux_variability(model, fraction_of_optimum=1.0, workers=w),
            "peer": lambda: flux_variability_analysis(model, fraction_of_optimum=1.0, processes=1),
            "warm": (
                lambda: flux_variability(model, reactions[:20], workers=1),
                lambda: flux_variability_analysis(model, reactions[:20], processes=1),
            ),
            "diff": lambda a, b: float((a - b.loc[a.index]).abs().to_numpy().max()),
            "target": 5.0,
        },
        {
            "metric": "double_gene_deletion_100_time_s",
            "what": f"double-gene deletion, first {N_DOUBLE} genes by id (5,050 pairs)",
            "biofab": lambda w: double_deletions(model, double_genes, workers=w),
            "peer": lambda: double_gene_deletion(model, double_genes, processes=1),
            "warm": (
                lambda: double_deletions(model, double_genes[:8], workers=1),
                lambda: double_gene_deletion(model, double_genes[:8], processes=1),
            ),
            "diff": deletion_diff,
            "target": 10.0,
        },
    ]

    today = date.today().isoformat()
    command = "python benchmarks/gem_speed.py" + (
        " " + shlex.join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    records, rows = [], []
    for task in tasks:
        for warm in task["warm"]:
            warm()
        ours_t, ours = timed(lambda t=task: t["biofab"](1), repeats)
        peer_t, peer = timed(task["peer"], repeats)
        diff = task["diff"](ours, peer)
        par = None
        if not args.no_parallel and cores > 1:
            par, _ = timed(lambda t=task: t["biofab"](2), repeats)
        b, p = summary(ours_t), summary(peer_t)
        ratio = p["median"] / b["median"]
        extra: dict[str, Any] = {"max_abs_diff": diff}
        if "lp_solved" in getattr(ours, "attrs", {}):
            extra["biofab_lps_solved"] = int(ours.attrs["lp_solved"])
            extra["knockouts"] = len(ours)
        if task["metric"].startswith("single"):
            ours_lethal = lethal_set(ours, wild_type)
            extra["lethal_biofab"] = len(ours_lethal)
            extra["lethal_peer"] = len(lethal_set(peer, wild_type))
            extra["lethal_sets_equal"] = ours_lethal == lethal_set(peer, wild_type)
        record = {
            "metric": task["metric"],
            "dataset": "iJO1366 (COBRApy's shipped model, default medium)",
            "biofab": round(b["median"], 4),
            "peer": PEER,
            "peer_value": round(p["median"], 4),
            "ratio": round(ratio, 2),
            "better": "lower",
            "target_ratio": task["target"],
            "seeds": 1,
            "repeats": repeats,
            "cores": 1,
            "command": command,
            "date": today,
            "biofab_range": [round(b["min"], 4), round(b["max"], 4)],
            "peer_range": [round(p["min"], 4), round(p["max"], 4)],
            "machine_cores": cores,
            **extra,
        }
        records.append(record)
        rows.append((task["what"], "1 vs 1", b, p, ratio, task["target"], diff))
        if par is not None:
            q = summary(par)
            records.append(
                {
                    **record,
                    "metric": task["metric"].replace("_time_s", "_2workers_time_s"),
                    "biofab": round(q["median"], 4),
                    "ratio": round(p["median"] / q["median"], 2),
                    "biofab_range": [round(q["min"], 4), round(q["max"], 4)],
                    "cores": 2,
                    "note": "biofab 2 worker processes vs COBRApy 1 process",
                }
            )
            rows.append((task["what"], "2 vs 1", q, p, p["median"] / q["median"], None, diff))
        print(
            f"  {task['what']}: biofab {b['median']:.3f} s, COBRApy {p['median']:.3f} s, "
            f"ratio {ratio:.1f}x, max |diff| {diff:.2e}",
            flush=True,
        )

    print()
    print("| task | processes (biofab vs COBRApy) | biofab s, median (min-max) "
          "| COBRApy+GLPK s, median (min-max) | ratio | target | max abs diff |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    for what, procs, b, p, ratio, target, diff in rows:
        print(
            f"| {what} | {procs} | {b['median']:.3f} ({b['min']:.3f}-{b['max']:.3f}) "
            f"| {p['median']:.2f} ({p['min']:.2f}-{p['max']:.2f}) | **{ratio:.1f}x** "
            f"| {'' if target is None else f'{target:g}x'} | {diff:.1e} |"
        )
    single = next(r for r in records if r["metric"] == "single_gene_deletion_time_s")
    print(
        f"\nlethal genes (< 1 % of wild type): biofab {single['lethal_biofab']}, "
        f"COBRApy {single['lethal_peer']}, same set: {single['lethal_sets_equal']}"
    )
    heads = [r for r in records if r["cores"] == 1]
    print("headline (same cores): " + ", ".join(f"{r['metric']} {r['ratio']}x" for r in heads))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gem_speed.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(records, indent=2) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
