"""Speed of biofab's analysis engine (HiGHS) against COBRApy + GLPK and COBRApy + HiGHS on iJO1366.

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

A second peer is COBRApy with HiGHS (``model.solver = "hybrid"``: optlang 1.9's only HiGHS
interface, HiGHS for LPs and OSQP for QPs, so ``osqp`` must be importable), so the ratio
shows the algorithm and not only the solver. optlang's hybrid interface rebuilds the
problem for HiGHS on every solve (about 40 ms an LP on iJO1366), so the full scans would
take hours; this peer runs on the first ``--highs-subset`` reactions / genes (FVA, single
deletions) and on the pairs of the first ``--highs-pairs`` genes, and biofab is timed on
the same subsets for its row.

``--sections oneoff`` times what a user running one command at a time sees: a fresh
``python -m biofab.cli gem fba iJO1366 --fba --json`` (the SBML parsed, or the compiled
model read from the cache of :mod:`biofab.metabolism.io`: an empty cache folder = first
run, a filled one = every later run) against a fresh ``python -c`` that reads the same SBML
with ``cobra.io.read_sbml_model`` and calls ``optimize()`` (GLPK), and the default pFBA
(``gem fba iJO1366 --json``) against ``cobra.flux_analysis.pfba``, interleaved,
``--repeats`` times each; wall and CPU seconds of each child, and where a later run's time
goes, phase by phase.

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
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
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
PEER_HIGHS = "cobrapy+highs (optlang hybrid)"
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
    parser.add_argument(
        "--sections", default="glpk,highs,oneoff", help="comma-separated: glpk, highs, oneoff"
    )
    parser.add_argument("--highs-subset", type=int, default=200, help="reactions/genes, HiGHS peer")
    parser.add_argument("--highs-pairs", type=int, default=20, help="genes whose pairs, HiGHS peer")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else max(1, args.repeats)
    cores = os.cpu_count() or 1
    sections = set(args.sections.split(","))
    if not sections <= {"glpk", "highs", "oneoff"}:
        parser.error(f"unknown section in {args.sections!r}")
    command = "python benchmarks/gem_speed.py" + (
        " " + shlex.join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    records: list[dict[str, Any]] = []
    if sections & {"glpk", "highs"}:
        records += analysis(args, sections, repeats, cores, command)
    if "oneoff" in sections:
        records += oneoff(repeats, cores, command)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gem_speed.json"
    kept = []
    if path.exists() and sections != {"glpk", "highs", "oneoff"}:
        # A partial run replaces only its own records.
        new = {(r["metric"], r["peer"], r["cores"]) for r in records}
        kept = [
            r for r in json.loads(path.read_text())
            if (r["metric"], r["peer"], r["cores"]) not in new
        ]  # fmt: skip
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(kept + records, indent=2) + "\n")
    os.replace(tmp, path)
    print(f"wrote {path}")
    return 0


def analysis(
    args: argparse.Namespace, sections: set[str], repeats: int, cores: int, command: str
) -> list[dict[str, Any]]:
    """FVA and deletion scans: biofab against COBRApy + GLPK (full) and + HiGHS (subsets)."""

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
    records: list[dict[str, Any]] = []
    rows: list[tuple[Any, ...]] = []
    from cobra.util.solver import solvers

    if "highs" in sections and "hybrid" not in solvers:
        print("skipping the COBRApy + HiGHS peer: optlang has no hybrid interface here "
              "(it needs both highspy and osqp importable; pip install osqp)")  # fmt: skip
    elif "highs" in sections:
        records += highs_peer(model, tasks, args, repeats, cores, command)
    if "glpk" not in sections:
        return records
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
    heads = [r for r in records if r["cores"] == 1 and r["peer"] == PEER]
    print("headline (same cores): " + ", ".join(f"{r['metric']} {r['ratio']}x" for r in heads))
    return records


def highs_peer(
    model: Any,
    tasks: list[dict[str, Any]],
    args: argparse.Namespace,
    repeats: int,
    cores: int,
    command: str,
) -> list[dict[str, Any]]:
    """COBRApy + HiGHS (optlang hybrid) on subsets; biofab timed on the same subsets."""
    from cobra.flux_analysis import (
        double_gene_deletion,
        flux_variability_analysis,
        single_gene_deletion,
    )

    holder: dict[str, Any] = {}

    def fresh_peer() -> float:
        """A new copy on HiGHS: a deletion scan leaves optlang's hybrid model 'aborted'
        for the next scan, so each task starts from its own copy."""
        t0 = time.perf_counter()
        holder["peer"] = model.copy()
        holder["peer"].solver = "hybrid"  # HiGHS for LPs (optlang 1.9); needs osqp
        return time.perf_counter() - t0

    k, kp = args.highs_subset, args.highs_pairs
    genes = sorted(g.id for g in model.genes)
    rxns = [r.id for r in model.reactions][:k]
    subsets = {
        "single_gene_deletion_time_s": (
            f"single-gene deletion, first {k} genes by id",
            lambda: single_deletions(model, "gene", genes[:k], workers=1),
            lambda: single_gene_deletion(holder["peer"], genes[:k], processes=1),
            lambda: single_gene_deletion(model, genes[:k], processes=1),
        ),
        "fva_time_s": (
            f"FVA, fraction 1.0, first {len(rxns)} reactions",
            lambda: flux_variability(model, rxns, fraction_of_optimum=1.0, workers=1),
            lambda: flux_variability_analysis(
                holder["peer"], rxns, fraction_of_optimum=1.0, processes=1
            ),
            lambda: flux_variability_analysis(model, rxns, fraction_of_optimum=1.0, processes=1),
        ),
        "double_gene_deletion_100_time_s": (
            f"double-gene deletion, first {kp} genes by id ({kp * (kp + 1) // 2} pairs)",
            lambda: double_deletions(model, genes[:kp], workers=1),
            lambda: double_gene_deletion(holder["peer"], genes[:kp], processes=1),
            lambda: double_gene_deletion(model, genes[:kp], processes=1),
        ),
    }
    print("\nCOBRApy + HiGHS (optlang hybrid), same subsets for both sides")
    print("| task | biofab s, median (min-max) | COBRApy+HiGHS s, median (min-max) | ratio "
          "| COBRApy+GLPK s, same subset | max abs diff |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    out = []
    for task in tasks:
        what, ours_fn, peer_fn, glpk_fn = subsets[task["metric"]]
        peer_t: list[float] = []
        for _ in range(repeats):  # the peer first, on a fresh copy each time
            switch_s = fresh_peer()
            t, ref = timed(peer_fn, 1)
            peer_t += t
        ours_fn()  # warm-up
        ours_t, ours = timed(ours_fn, repeats)
        glpk_t, _ = timed(glpk_fn, repeats)  # COBRApy's default solver on the same subset
        g = summary(glpk_t)
        not_optimal = int((ref["status"] != "optimal").sum()) if "status" in ref else 0
        diff = task["diff"](ours, ref)
        b, p = summary(ours_t), summary(peer_t)
        ratio = p["median"] / b["median"]
        print(
            f"| {what} | {b['median']:.3f} ({b['min']:.3f}-{b['max']:.3f}) "
            f"| {p['median']:.2f} ({p['min']:.2f}-{p['max']:.2f}) | **{ratio:.1f}x** "
            f"| {g['median']:.2f} | {diff:.1e} |"
            + (f" peer: {not_optimal} not optimal" if not_optimal else ""),
            flush=True,
        )
        metric = (
            task["metric"].replace("_100_", "_") if "double" in task["metric"] else task["metric"]
        )
        out.append(
            {
                "metric": metric.replace("_time_s", "_subset_time_s"),
                "dataset": f"iJO1366 (COBRApy's shipped model, default medium); {what}",
                "biofab": round(b["median"], 4),
                "peer": PEER_HIGHS,
                "peer_value": round(p["median"], 4),
                "ratio": round(ratio, 2),
                "better": "lower",
                "seeds": 1,
                "repeats": repeats,
                "cores": 1,
                "command": command,
                "date": date.today().isoformat(),
                "biofab_range": [round(b["min"], 4), round(b["max"], 4)],
                "peer_range": [round(p["min"], 4), round(p["max"], 4)],
                "machine_cores": cores,
                "max_abs_diff": diff,
                "peer_solver_switch_s": round(switch_s, 2),
                "peer_not_optimal": not_optimal,
                "cobrapy_glpk_same_subset_s": round(g["median"], 4),
            }
        )
    return out


_COBRA_ONEOFF = {
    "fba": (
        "import sys, json, cobra; m = cobra.io.read_sbml_model(sys.argv[1]); "
        "print(json.dumps({'growth': m.optimize().objective_value}))"
    ),
    "pfba": (
        "import sys, json, cobra; from cobra.flux_analysis import pfba; "
        "from cobra.util.solver import linear_reaction_coefficients as obj; "
        "m = cobra.io.read_sbml_model(sys.argv[1]); s = pfba(m); "
        "print(json.dumps({'growth': sum(c * s.fluxes[r.id] for r, c in obj(m).items()), "
        "'total_flux': s.objective_value}))"
    ),
}
# Where a later (cache filled) one-off run spends its time, phase by phase, in one fresh
# process that does what ``biofab gem fba MODEL --json`` does (wall and CPU seconds).
_PHASES = """
import json, sys, time
clock = [(time.perf_counter(), time.process_time())]
def mark(name):
    clock.append((time.perf_counter(), time.process_time()))
    names.append(name)
names = []
import biofab.cli.main
mark("import CLI (typer, click, rich, biofab.cli)")
from biofab.core import plugins
from biofab.cli.pillars import pillar_command
pillar_command(next(p for p in plugins.pillars() if p.command == "gem"))
mark("build the gem command group")
import numpy, highspy
mark("import numpy + highspy")
from biofab.metabolism.io import load_compiled
from biofab.metabolism.compiled import QuickFba, solve
model = load_compiled(sys.argv[1])
assert model is not None
mark("find, hash and read the compiled entry")
sol = solve(model, pfba=sys.argv[2] == "pfba")
mark("solve")
q = QuickFba(sys.argv[1], sys.argv[2], sol.objective_value, sol.total_flux, model.reactions,
             sol.fluxes)
text = json.dumps(q.to_dict(), indent=2)
mark("JSON text")
print(json.dumps([[n, b[0] - a[0], b[1] - a[1]] for n, a, b in zip(names, clock, clock[1:])]))
"""


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU (user + system) seconds of one child process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True, timeout=600)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, res.stdout


def oneoff(repeats: int, cores: int, command: str) -> list[dict[str, Any]]:
    """A fresh process per command: biofab (cache empty / filled) vs COBRApy read + solve.

    Rows: ``gem fba iJO1366 --fba --json`` with an empty cache folder (first run) and a
    filled one (later runs: the compiled entry of :mod:`biofab.metabolism.compiled`)
    against ``read_sbml_model`` + ``optimize()``; and the default pFBA, ``gem fba iJO1366
    --json``, later runs, against ``read_sbml_model`` + ``cobra.flux_analysis.pfba``. All
    sides interleaved, each ``repeats`` times after one warm-up run each.
    """
    import cobra

    sbml = Path(cobra.__file__).parent / "data" / "iJO1366.xml.gz"
    base = [sys.executable, "-m", "biofab.cli", "gem", "fba", "iJO1366", "--json"]
    runs = {
        "fba_cold": [*base, "--fba"],
        "fba_warm": [*base, "--fba"],
        "pfba_warm": base,
        "peer_fba": [sys.executable, "-c", _COBRA_ONEOFF["fba"], str(sbml)],
        "peer_pfba": [sys.executable, "-c", _COBRA_ONEOFF["pfba"], str(sbml)],
    }
    wall: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    outputs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        warm = {**os.environ, "BIOFAB_CACHE": str(Path(tmp) / "warm")}
        for key, cmd in runs.items():  # warm-up: fills the cache and the OS file cache
            env = (
                {**warm, "BIOFAB_CACHE": str(Path(tmp) / "cold_warmup")} if "cold" in key else warm
            )
            _run(cmd, env)
        for i in range(repeats):
            for key, cmd in runs.items():
                env = (
                    {**warm, "BIOFAB_CACHE": str(Path(tmp) / f"cold{i}")} if "cold" in key else warm
                )
                w, c, text = _run(cmd, env)
                wall[key].append(w)
                cpu[key].append(c)
                outputs[key] = json.loads(text)
        phases = {
            m: json.loads(_run([sys.executable, "-c", _PHASES, "iJO1366", m], warm)[2])
            for m in ("fba", "pfba")
        }
        python_start = statistics.median(
            _run([sys.executable, "-c", "pass"], warm)[0] for _ in range(5)
        )
    growths = [outputs[k].get("objective_value", outputs[k].get("growth")) for k in runs]
    diff = max(growths) - min(growths)
    total_diff = abs(outputs["pfba_warm"]["total_flux"] - outputs["peer_pfba"]["total_flux"])
    print("\none-off command (fresh process each), iJO1366: biofab gem fba vs COBRApy (GLPK) "
          "reading the same SBML; wall s (CPU s), median (min-max)")  # fmt: skip
    print("| biofab command | biofab s | COBRApy s | ratio | CPU ratio |")
    print("|---|---:|---:|---:|---:|")
    out = []
    rows = (
        ("fba_cold", "peer_fba", "`--fba`, first run (cache empty)"),
        ("fba_warm", "peer_fba", "`--fba`, later runs (cache filled)"),
        ("pfba_warm", "peer_pfba", "pFBA (default), later runs"),
    )
    for key, peer_key, label in rows:
        metric = f"oneoff_{key}_cache_time_s"
        b, p = summary(wall[key]), summary(wall[peer_key])
        bc, pc = statistics.median(cpu[key]), statistics.median(cpu[peer_key])
        ratio = p["median"] / b["median"]
        print(
            f"| {label} | {b['median']:.2f} ({b['min']:.2f}-{b['max']:.2f}; CPU {bc:.2f}) "
            f"| {p['median']:.2f} ({p['min']:.2f}-{p['max']:.2f}; CPU {pc:.2f}) "
            f"| **{ratio:.2f}x** | {pc / bc:.2f}x |"
        )
        peer_call = "optimize" if peer_key == "peer_fba" else "cobra.flux_analysis.pfba"
        out.append(
            {
                "metric": metric,
                "dataset": "iJO1366 SBML (COBRApy's shipped iJO1366.xml.gz), one fresh process",
                "biofab": round(b["median"], 3),
                "peer": f"{PEER} (cobra.io.read_sbml_model + {peer_call})",
                "peer_value": round(p["median"], 3),
                "ratio": round(ratio, 2),
                "better": "lower",
                "target_ratio": 10,
                "seeds": 1,
                "repeats": repeats,
                "cores": 1,
                "command": command,
                "date": date.today().isoformat(),
                "biofab_range": [round(b["min"], 3), round(b["max"], 3)],
                "peer_range": [round(p["min"], 3), round(p["max"], 3)],
                "biofab_cpu_s": round(bc, 3),
                "peer_cpu_s": round(pc, 3),
                "cpu_ratio": round(pc / bc, 2),
                "machine_cores": cores,
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "max_abs_diff": diff,
                **({"total_flux_abs_diff": total_diff} if key == "pfba_warm" else {}),
            }
        )
    print(f"growth agrees to {diff:.1e} 1/h; pFBA total flux to {total_diff:.1e} mmol/gDW/h")
    print(
        f"\nwhere a later run's time goes (one process; python start-up {python_start:.3f} s wall):"
    )
    print("| phase | --fba wall s | --fba CPU s | pFBA wall s | pFBA CPU s |")
    print("|---|---:|---:|---:|---:|")
    for (name, w1, c1), (_, w2, c2) in zip(phases["fba"], phases["pfba"], strict=True):
        print(f"| {name} | {w1:.3f} | {c1:.3f} | {w2:.3f} | {c2:.3f} |")
    for record, m in zip(out[1:], ("fba", "pfba"), strict=True):
        record["breakdown_s"] = {
            "python start-up": round(python_start, 4),
            **{name: round(w, 4) for name, w, _ in phases[m]},
        }
    return out


if __name__ == "__main__":
    raise SystemExit(main())
