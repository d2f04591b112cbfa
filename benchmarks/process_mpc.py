"""Feed-rate NMPC against the exponential feed, in closed loop on a mismatched plant.

Scenario (fixed before looking at results): induced E. coli fed-batch twin
(:class:`biofab.process.models.EColiFedBatch`), 15 h from X = 10 g/L, V = 1.0 L, DO floor
30 %, V_max = 1.6 L, F in [0, 0.05] L/h, control interval 0.75 h. The plant's parameters
differ from the controller's model: qS_max x0.85, Yxs x1.10, kLa x0.80. Online OUR, CER
(sd 1 mmol/L/h), DO (sd 1 %), V (sd 5 mL) every interval; offline biomass (5 %) every 2 h;
EKF state estimation. Seeds 0, 1, 2 draw the sensor noise.

Controllers:

- ``mpc_adaptive``: FeedMPC, horizon 20 (covers the batch), DO back-off 2 %-points,
  kLa and Yxs re-fitted from the data every 2 intervals (BalanceRefit);
- ``mpc_fixed``: the same MPC without re-fitting (shows what the mismatch costs);
- ``exp_mu0.15`` / ``exp_mu0.20``: F = F0 exp(mu_set t), F0 from the nominal yield, with a
  DO-stat cap (feed x0.9 whenever DO reads below 32 %, the cap never rises), stop at V_max.

Reported per controller (mean and min-max over seeds): final product P V (g), time with
plant DO below the floor (h, on a 0.094 h grid) and the deepest deficit (%-points), volume
over V_max (L), MPC solve time per step (median, p95, max; includes the first, cold solve).
The headline ratio is adaptive-MPC product / exponential (mu_set 0.15) product.

Run: ``python benchmarks/process_mpc.py`` (writes ``benchmarks/results/process_mpc.json``
and ``benchmarks/results/process_mpc.html``). One core.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from biofab.core.atomic import write_atomic
from biofab.process.closed_loop import (
    ClosedLoopResult,
    ExponentialFeed,
    closed_loop,
    mismatched_plant,
    trajectory_figure,
)
from biofab.process.models import EColiFedBatch
from biofab.process.mpc import FeedMPC
from biofab.process.simulate import Exponential

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python benchmarks/process_mpc.py"
X0 = {"X": 10.0, "S": 0.05, "A": 0.0, "P": 0.0, "DO": 60.0, "V": 1.0}
T_END, DT, HORIZON, DO_MIN, V_MAX, F_MAX = 15.0, 0.75, 20, 30.0, 1.6, 0.05


def run(name: str, seed: int) -> ClosedLoopResult:
    model = EColiFedBatch()
    plant = mismatched_plant(model)
    common: dict[str, Any] = {
        "t_end_h": T_END,
        "dt_h": DT,
        "do_min": DO_MIN,
        "v_max": V_MAX,
        "seed": seed,
    }
    if name.startswith("mpc"):
        mpc = FeedMPC(
            model,
            horizon=HORIZON,
            dt_h=DT,
            t_end_h=T_END,
            do_min=DO_MIN,
            v_max=V_MAX,
            f_max=F_MAX,
            do_backoff=2.0,
        )
        adapt = name == "mpc_adaptive"
        return closed_loop(mpc, model, plant, X0, adapt=adapt, label=name, **common)
    mu = float(name.split("mu")[1])
    design = Exponential.for_growth(
        mu, X0["X"], X0["V"], model.params["Sf"], model.params["Yxs"], model.params["ms"]
    )
    feed = ExponentialFeed(
        F0=design.F0, mu_set=mu, do_min=DO_MIN, v_max=V_MAX, f_max=F_MAX, dt_h=DT
    )
    return closed_loop(feed, model, plant, X0, label=name, **common)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("biofab.process.mpc").setLevel(logging.ERROR)
    names = ["mpc_adaptive", "mpc_fixed", "exp_mu0.15", "exp_mu0.20"]
    seeds = list(range(args.seeds))
    results = {n: [run(n, s) for s in seeds] for n in names}
    keys = ["product_g", "do_below_h", "do_worst", "v_over", "fallbacks"]
    tkeys = ["solve_time_median_s", "solve_time_p95_s", "solve_time_max_s"]
    summary: dict[str, dict[str, list[float]]] = {}
    print(f"{'controller':14s}" + "".join(f"{k:>22s}" for k in keys + tkeys[:1]))
    for n in names:
        vals = {k: [r.metrics()[k] for r in results[n]] for k in keys + tkeys}
        summary[n] = vals
        cells = []
        for k in keys + tkeys[:1]:
            v = np.array(vals[k])
            cells.append(f"{v.mean():8.4g} [{v.min():.3g}-{v.max():.3g}]")
        print(f"{n:14s}" + "".join(f"{c:>22s}" for c in cells))
    mpc_times = np.concatenate(
        [r.steps["solve_time_s"].dropna().to_numpy() for r in results["mpc_adaptive"]]
    )
    med, p95, mx = (
        float(np.median(mpc_times)),
        float(np.percentile(mpc_times, 95)),
        float(mpc_times.max()),
    )
    print(
        f"adaptive MPC solve time per step, all seeds pooled: median {med * 1e3:.1f} ms, "
        f"p95 {p95 * 1e3:.1f} ms, max {mx * 1e3:.1f} ms ({mpc_times.size} steps, 1 core)"
    )
    prod = {n: float(np.mean(summary[n]["product_g"])) for n in names}
    ratio = prod["mpc_adaptive"] / prod["exp_mu0.15"]
    ratio20 = prod["mpc_adaptive"] / prod["exp_mu0.20"]
    print(
        f"headline: adaptive MPC product / exponential feed (mu_set 0.15) = {ratio:.3f}; "
        f"/ (mu_set 0.20) = {ratio20:.3f}"
    )

    date = datetime.date.today().isoformat()
    base = {
        "dataset": "EColiFedBatch twin, mismatched plant (qS_max -15%, Yxs +10%, kLa -20%)",
        "seeds": len(seeds),
        "repeats": 1,
        "cores": 1,
        "command": COMMAND,
        "date": date,
    }
    records = [
        {
            "metric": "final_product_g",
            "biofab": prod["mpc_adaptive"],
            "peer": "exponential feed mu_set=0.15 + DO-stat cap",
            "peer_value": prod["exp_mu0.15"],
            "ratio": ratio,
            "better": "higher",
            **base,
        },
        {
            "metric": "final_product_g",
            "biofab": prod["mpc_adaptive"],
            "peer": "exponential feed mu_set=0.20 + DO-stat cap",
            "peer_value": prod["exp_mu0.20"],
            "ratio": ratio20,
            "better": "higher",
            **base,
        },
        {
            "metric": "do_below_floor_h",
            "biofab": float(np.mean(summary["mpc_adaptive"]["do_below_h"])),
            "peer": "exponential feed mu_set=0.15 + DO-stat cap",
            "peer_value": float(np.mean(summary["exp_mu0.15"]["do_below_h"])),
            "better": "lower",
            **base,
        },
        {
            "metric": "do_worst_deficit_pct",
            "biofab": float(np.mean(summary["mpc_adaptive"]["do_worst"])),
            "peer": "exponential feed mu_set=0.15 + DO-stat cap",
            "peer_value": float(np.mean(summary["exp_mu0.15"]["do_worst"])),
            "better": "lower",
            **base,
        },
        {
            "metric": "mpc_solve_time_median_s",
            "biofab": med,
            "p95": p95,
            "max": mx,
            "peer": "target (issue 6)",
            "peer_value": 0.1,
            "ratio": 0.1 / med,
            "better": "lower",
            "target_ratio": 1.0,
            **base,
        },
        {
            "metric": "final_product_g_mpc_without_refit",
            "biofab": prod["mpc_fixed"],
            "do_below_h": float(np.mean(summary["mpc_fixed"]["do_below_h"])),
            "do_worst": float(np.mean(summary["mpc_fixed"]["do_worst"])),
            "peer": "adaptive MPC",
            "peer_value": prod["mpc_adaptive"],
            "better": "higher",
            **base,
        },
    ]
    out = ROOT / "benchmarks" / "results"
    write_atomic(out / "process_mpc.json", json.dumps(records, indent=2) + "\n")
    from biofab.viz import html_page

    figure = trajectory_figure([results[n][0] for n in names])
    page = html_page(
        "Feed NMPC vs exponential feed (seed 0)", [("Trajectories", figure)], subtitle=COMMAND
    )
    write_atomic(out / "process_mpc.html", page)


if __name__ == "__main__":
    main()
