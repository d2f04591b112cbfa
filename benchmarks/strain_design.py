"""Genome-scale OptKnock on iJO1366: candidate reduction and proved optimality.

Scenario: COBRApy's iJO1366, its default medium (glucose uptake 10 mmol/gDW/h)
made anaerobic (EX_o2_e lower bound 0). For each target (succinate, ethanol,
D-lactate exchanges) at most ``--max-knockouts`` reaction deletions, growth at
least 10 % of the wild type's maximum, tilted inner objective (guaranteed
production), HiGHS branch and cut with relative gap 0 and ``--time-limit``
seconds.

biofab: exact support-hitting search (``method="search"``, the proof has no
gap) or, with ``--method milp``, the OptKnock MILP.

Peer, same process, same data, same solver and limit: the preprocessing biofab
had before (class filter, blocked and essential reactions out, one binary per
reaction: the "1,146 candidates" of issue 15), i.e. ``optknock(lump=False)``
without subsystem exclusions. biofab: the network compressed (blocked
reactions removed, coupled reactions lumped, one candidate per coupled group),
reactions without a GPR and the envelope/transport/tRNA-charging subsystems
excluded (``ENVELOPE_AND_TRANSPORT_SUBSYSTEMS``, after Feist et al. 2010).

Every design is verified on the uncompressed model by plain FBA (maximal
growth with the deletions) and FVA at that growth (least and most production):
growth-coupled means the least production is positive. Results:
``benchmarks/results/strain_design.json``. Single core for both sides.

    python benchmarks/strain_design.py                        # full run
    python benchmarks/strain_design.py --targets EX_succ_e --no-peer --time-limit 60
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

from biofab.core.progress import progress
from biofab.metabolism import load_model
from biofab.metabolism.compression import blocked_reactions
from biofab.metabolism.design import (
    ENVELOPE_AND_TRANSPORT_SUBSYSTEMS,
    DesignResult,
    optknock,
    verify_design,
)
from biofab.metabolism.lp import LinearProgram

TARGETS = ("EX_succ_e", "EX_etoh_e", "EX_lac__D_e")
RESULTS = Path(__file__).parent / "results" / "strain_design.json"


def _summary(res: DesignResult, model, verify_lp) -> dict:
    best = res.designs[0] if res.designs else None
    row = {
        "candidates": len(res.candidates),
        "candidate_counts": res.candidate_counts,
        "milp_size": res.milp_size,
        "status": res.status,
        "seconds": round(res.seconds, 2),
        "timings_s": {k: round(v, 2) for k, v in res.timings.items()},
        "design": None,
    }
    if best is not None:
        mu, lo, hi = verify_design(model, res.target, best.knockouts, lp=verify_lp)
        row["design"] = {
            "knockouts": list(best.knockouts),
            "coupled_alternatives": best.coupled_alternatives,
            "genes": list(best.genes) if best.genes is not None else None,
            "gene_side_effects": len(best.gene_side_effects),
            "milp_status": best.milp_status,
            "gap": best.milp_gap,
            "milp_objective": best.milp_objective,
            "fba_growth": mu,
            "fva_min_production": lo,
            "fva_max_production": hi,
            "growth_coupled": bool(mu >= res.min_growth - 1e-9 and lo > 1e-6),
        }
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", nargs="+", default=list(TARGETS))
    ap.add_argument("--max-knockouts", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--time-limit", type=float, default=300.0, help="s per MILP (both sides)")
    ap.add_argument("--big-m", type=float, default=1000.0)
    ap.add_argument("--no-peer", action="store_true", help="skip the uncompressed peer")
    ap.add_argument("--method", choices=["search", "milp"], default="search", help="biofab's side")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    model = load_model("iJO1366")
    model.reactions.EX_o2_e.lower_bound = 0.0
    lp = LinearProgram.from_model(model)
    wt = lp.optimize().objective
    t0 = time.perf_counter()
    blocked = blocked_reactions(lp)  # one medium: shared by every run below
    blocked_s = time.perf_counter() - t0
    print(
        f"iJO1366 anaerobic, glucose 10: growth {wt:.4f} 1/h; {len(blocked)} blocked reactions "
        f"({blocked_s:.0f} s, counted once)"
    )
    common = dict(
        min_growth=0.1, n_designs=1, max_tries=1,
        time_limit=args.time_limit, mip_gap=0.0, big_m=args.big_m, blocked=blocked,
    )  # fmt: skip
    runs = []
    sides = [("biofab", True)] + ([] if args.no_peer else [("peer", False)])
    plan = [(t, k, s) for t in args.targets for k in args.max_knockouts for s in sides]
    with progress("OptKnock runs", len(plan)) as bar:
        for target, k, (side, reduced) in plan:
            kw = dict(common, max_knockouts=k)
            if reduced:
                kw.update(lump=True, require_gpr=True, method=args.method,
                          exclude_subsystems=ENVELOPE_AND_TRANSPORT_SUBSYSTEMS)  # fmt: skip
            else:
                kw.update(lump=False, method="milp")
            res = optknock(model, target, **kw)
            row = {"target": target, "k": k, "side": side, **_summary(res, model, lp)}
            runs.append(row)
            d = row["design"] or {}
            print(
                f"{target:12s} K={k} {side:7s} cand {row['candidates']:5d}  {row['status']:18s} "
                f"{row['seconds']:7.1f} s  gap {d.get('gap', float('nan')):.3g}  "
                f"KO {','.join(d.get('knockouts', []))}  growth {d.get('fba_growth', 0):.3f}  "
                f"min prod {d.get('fva_min_production', 0):.3f}"
            )
            bar.advance()
    records = []
    today = date.today().isoformat()
    cmd = "python benchmarks/strain_design.py " + " ".join(
        f"--targets {' '.join(args.targets)}".split()
        + ["--max-knockouts", *map(str, args.max_knockouts), f"--time-limit {args.time_limit:g}"]
        + ([f"--big-m {args.big_m:g}"] if args.big_m != 1000.0 else [])
        + ([f"--method {args.method}"] if args.method != "search" else [])
        + (["--no-peer"] if args.no_peer else [])
    )
    for target in args.targets:
        for k in args.max_knockouts:
            mine = [r for r in runs if r["target"] == target and r["k"] == k]
            ours = next(r for r in mine if r["side"] == "biofab")
            peer = next((r for r in mine if r["side"] == "peer"), None)
            d = ours["design"] or {}
            records.append(
                {
                    "metric": f"optknock_{target}_k{k}_seconds_to_proof",
                    "dataset": f"iJO1366 anaerobic glucose, <= {k} knockouts",
                    "biofab": ours["seconds"],
                    "biofab_status": ours["status"],
                    "biofab_method": args.method,
                    "biofab_gap": d.get("gap"),
                    "peer": "biofab OptKnock before compression (one binary per reaction)",
                    "peer_value": peer["seconds"] if peer else None,
                    "peer_status": peer["status"] if peer else None,
                    "peer_gap": (peer["design"] or {}).get("gap") if peer else None,
                    "ratio": (peer["seconds"] / ours["seconds"]) if peer else None,
                    "better": "lower",
                    "seeds": 1,
                    "repeats": 1,
                    "cores": 1,
                    "command": cmd,
                    "date": today,
                    "runs": mine,
                }
            )
    args.out.write_text(json.dumps(records, indent=1, default=float) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
