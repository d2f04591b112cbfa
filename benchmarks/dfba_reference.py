"""Dynamic FBA of the Hanly & Henson (2011) diauxic batch: adaptive vs fixed-step Euler.

Scenario: ``examples/dfba/hanly_henson_2011.yaml`` (anaerobic E. coli iJO1366 on
15.5 g/L glucose + 8 g/L xylose). Three runs in one process on the same model:

* ``reference``: the adaptive integrator at rtol 1e-9 / atol 1e-11 (converged:
  Radau at 1e-6 and the Euler sequence approach it);
* ``biofab``: the adaptive integrator at the scenario's tolerances (default);
* ``euler``: the fixed-step static-optimisation method of Varma & Palsson (1994)
  at Δt = 0.01 h, the peer the issue quotes (≈ 2.80 gDW/L biomass, ≈ 5.0 g/L ethanol).

Each timed run is repeated (default 3) and the median runtime reported. Prints
final biomass and ethanol, the glucose-exhaustion time, the relative error of
each against the reference, and the runtime ratio euler / adaptive. Writes
``benchmarks/results/dfba_reference.json``.

    python benchmarks/dfba_reference.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import statistics
from pathlib import Path

from biofab.metabolism.dfba import DynamicFBA
from biofab.metabolism.io import load_model
from biofab.metabolism.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "dfba" / "hanly_henson_2011.yaml"


def run(scenario: Scenario, model, method: str, repeats: int) -> tuple[dict, list[float]]:
    times, result = [], None
    for _ in range(repeats):
        result = DynamicFBA(scenario, model).simulate(method=method, dt=0.01)
        times.append(result.runtime_s)
    assert result is not None
    final = result.final()
    return {
        "biomass": final["biomass_gDW_L"],
        "ethanol": final["ethanol_g_L"],
        "glucose_exhausted_h": result.event_time("exhausted", "glucose"),
        "xylose_exhausted_h": result.event_time("exhausted", "xylose"),
        "lp_solves": result.n_lp,
    }, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    scenario = Scenario.from_yaml(SCENARIO)
    model = load_model(scenario.model)
    tight = dataclasses.replace(scenario, rtol=1e-9, atol=1e-11)
    ref, _ = run(tight, model, "adaptive", 1)
    ours, t_ours = run(scenario, model, "adaptive", args.repeats)
    euler, t_euler = run(scenario, model, "euler", args.repeats)

    def err(x: dict, key: str) -> float:
        return (x[key] - ref[key]) / ref[key]

    print(
        f"{'run':<22}{'biomass gDW/L':>15}{'ethanol g/L':>13}{'glc out h':>11}{'LPs':>7}"
        f"{'median s':>10}{'err biomass':>13}{'err ethanol':>13}"
    )
    for name, r, t in (
        ("reference rtol 1e-9", ref, None),
        ("biofab adaptive", ours, t_ours),
        ("Euler dt 0.01 h", euler, t_euler),
    ):
        med = f"{statistics.median(t):.2f}" if t else "-"
        print(
            f"{name:<22}{r['biomass']:>15.5f}{r['ethanol']:>13.5f}"
            f"{r['glucose_exhausted_h'] or float('nan'):>11.3f}{r['lp_solves']:>7}{med:>10}"
            f"{err(r, 'biomass'):>13.2e}{err(r, 'ethanol'):>13.2e}"
        )
    ratio = statistics.median(t_euler) / statistics.median(t_ours)
    print(
        f"\nruntime ratio Euler(dt=0.01 h) / adaptive: {ratio:.2f}x "
        f"(adaptive {min(t_ours):.2f}-{max(t_ours):.2f} s, "
        f"Euler {min(t_euler):.2f}-{max(t_euler):.2f} s)"
    )
    today = dt.date.today().isoformat()
    common = {
        "dataset": "Hanly & Henson 2011 scenario, iJO1366",
        "seeds": 1,
        "repeats": args.repeats,
        "cores": 1,
        "command": "python benchmarks/dfba_reference.py",
        "date": today,
    }
    records = [
        {
            "metric": "dfba_runtime_s",
            "biofab": statistics.median(t_ours),
            "peer": "fixed-step Euler dt=0.01 h",
            "peer_value": statistics.median(t_euler),
            "ratio": ratio,
            "better": "lower",
            **common,
        },
        {
            "metric": "dfba_final_biomass_rel_error",
            "biofab": abs(err(ours, "biomass")),
            "peer": "fixed-step Euler dt=0.01 h",
            "peer_value": abs(err(euler, "biomass")),
            "ratio": abs(err(euler, "biomass")) / max(abs(err(ours, "biomass")), 1e-12),
            "better": "lower",
            "target": 0.02,
            **common,
        },
        {
            "metric": "dfba_final_ethanol_rel_error",
            "biofab": abs(err(ours, "ethanol")),
            "peer": "fixed-step Euler dt=0.01 h",
            "peer_value": abs(err(euler, "ethanol")),
            "ratio": abs(err(euler, "ethanol")) / max(abs(err(ours, "ethanol")), 1e-12),
            "better": "lower",
            "target": 0.02,
            **common,
        },
    ]
    out = ROOT / "benchmarks" / "results" / "dfba_reference.json"
    os.makedirs(out.parent, exist_ok=True)
    for r in records:
        r["runs"] = {"reference": ref, "biofab": ours, "euler": euler}
    out.write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
