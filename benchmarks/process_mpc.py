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

Added cases (same plant, sensors and seeds 0-2 unless said):

- ``mpc_temperature``: the adaptive MPC with the temperature a decision in [30, 40] °C,
  at most 1 °C per interval (the plant follows it); against ``mpc_adaptive`` at 37 °C.
- ``mpc_induction_choice``: induction chosen by the MPC among 0, 1.5, 3, 4.5, 6, 7.5 h;
  ``mpc_induction_4.5``: induction scheduled at 4.5 h by the scenario; against
  ``mpc_adaptive`` (induced at 0 h).
- Tight vessel, V_max = 1.10 L (volume binds from about 9 h; at 1.25 L it never does, the
  DO-limited feed only reaches 1.16 L): ``vmax_plain`` (the MPC as above), ``vmax_backoff``
  (volume limit tightened by 2 sigma of the EKF's volume estimate), ``vmax_robust`` (the
  back-off, the EKF's volume random walk cut from 2e-3 to 2e-4 L/sqrt(h) so the estimate
  follows the known feed, and an L1 move penalty of 0.3 g). These settings were chosen on
  seeds 0-2 (log in BENCHMARKS.md); the V_max rows are reported on seeds 3-5. Chatter: total
  variation of the feed and number of reversals of its moves, from the first interval with
  the true volume within 1 % of V_max.

Run: ``python benchmarks/process_mpc.py`` (writes ``benchmarks/results/process_mpc.json``
and ``benchmarks/results/process_mpc.html``). One core.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from biofab.core.atomic import write_atomic
from biofab.core.progress import progress
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
V_TIGHT = 1.10
INDUCTION_CANDIDATES = [0.0, 1.5, 3.0, 4.5, 6.0, 7.5]
# extra FeedMPC settings, closed-loop settings and V_max of each added MPC case
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], float]] = {
    "mpc_adaptive": ({}, {}, V_MAX),
    "mpc_fixed": ({}, {"adapt": False}, V_MAX),
    "mpc_temperature": ({"temperature_bounds": (30.0, 40.0), "max_delta_t": 1.0}, {}, V_MAX),
    "mpc_induction_choice": (
        {"induction_times": INDUCTION_CANDIDATES},
        {"induction_h": math.inf},
        V_MAX,
    ),
    "mpc_induction_4.5": ({"induction_times": [4.5]}, {"induction_h": 4.5}, V_MAX),
    "vmax_plain": ({}, {}, V_TIGHT),
    "vmax_backoff": ({"v_backoff": 2.0}, {}, V_TIGHT),
    "vmax_robust": (
        {"v_backoff": 2.0, "move_penalty_l1": 0.3},
        {"volume_drift_std": 2e-4},
        V_TIGHT,
    ),
}


def _solve_time_record(
    metric: str, med: float, p95: float, mx: float, base: dict[str, Any]
) -> dict[str, Any]:
    """A solve-time record against the issue's 0.1 s per MPC step."""
    return {
        "metric": metric,
        "biofab": med,
        "p95": p95,
        "max": mx,
        "peer": "target (issue 6)",
        "peer_value": 0.1,
        "ratio": 0.1 / med,
        "better": "lower",
        "target_ratio": 1.0,
        **base,
    }


def run(name: str, seed: int) -> ClosedLoopResult:
    model = EColiFedBatch()
    plant = mismatched_plant(model)
    mpc_kw, loop_kw, v_max = CASES.get(name, ({}, {}, V_MAX))
    common: dict[str, Any] = {
        "t_end_h": T_END,
        "dt_h": DT,
        "do_min": DO_MIN,
        "v_max": v_max,
        "seed": seed,
    }
    if name in CASES:
        mpc = FeedMPC(
            model,
            horizon=HORIZON,
            dt_h=DT,
            t_end_h=T_END,
            do_min=DO_MIN,
            v_max=v_max,
            f_max=F_MAX,
            do_backoff=2.0,
            **mpc_kw,
        )
        return closed_loop(mpc, model, plant, X0, label=name, **{**common, **loop_kw})
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
    parser.add_argument(
        "--vmax-seed-start", type=int, default=3, help="first seed of the V_max rows"
    )
    args = parser.parse_args()
    logging.getLogger("biofab.process.mpc").setLevel(logging.ERROR)
    names = ["mpc_adaptive", "mpc_fixed", "exp_mu0.15", "exp_mu0.20"]
    added = ["mpc_temperature", "mpc_induction_choice", "mpc_induction_4.5"]
    tight = ["vmax_plain", "vmax_backoff", "vmax_robust"]
    seeds = list(range(args.seeds))
    tight_seeds = list(range(args.vmax_seed_start, args.vmax_seed_start + args.seeds))
    results: dict[str, list[ClosedLoopResult]] = {}
    total = len(seeds) * (len(names) + len(added) + len(tight))
    with progress("closed-loop runs", total) as bar:
        for n in names + added + tight:
            results[n] = []
            for s in tight_seeds if n in tight else seeds:
                results[n].append(run(n, s))
                bar.advance()
    keys = ["product_g", "do_below_h", "do_worst", "v_over", "fallbacks"]
    tkeys = ["solve_time_median_s", "solve_time_p95_s", "solve_time_max_s"]
    ckeys = ["feed_tv_near_vmax", "feed_reversals_near_vmax", "temperature_mean", "induction_h"]
    summary: dict[str, dict[str, list[float]]] = {}
    print(f"{'controller':22s}" + "".join(f"{k:>22s}" for k in keys + tkeys[:1]))
    for n in names + added + tight:
        vals = {k: [r.metrics()[k] for r in results[n]] for k in keys + tkeys + ckeys}
        summary[n] = vals
        cells = []
        for k in keys + tkeys[:1]:
            v = np.array(vals[k])
            cells.append(f"{v.mean():8.4g} [{v.min():.3g}-{v.max():.3g}]")
        print(f"{n:22s}" + "".join(f"{c:>22s}" for c in cells))
    print(f"\n{'controller':22s}" + "".join(f"{k:>26s}" for k in ckeys))
    for n in added + tight:
        cells = [f"{np.mean(summary[n][k]):.4g} [{np.max(summary[n][k]):.3g}]" for k in ckeys]
        print(f"{n:22s}" + "".join(f"{c:>26s}" for c in cells))
    times = {n: pooled_times(results[n]) for n in names + added + tight if n in CASES}
    print("\nMPC solve time per step, seeds pooled (1 core): median / p95 / max, ms")
    for n, (med_n, p95_n, max_n, count) in times.items():
        print(
            f"  {n:22s} {med_n * 1e3:8.1f} {p95_n * 1e3:8.1f} {max_n * 1e3:8.1f}  ({count} steps)"
        )
    med, p95, mx, _count = times["mpc_adaptive"]
    prod = {n: float(np.mean(summary[n]["product_g"])) for n in names + added + tight}
    ratio = prod["mpc_adaptive"] / prod["exp_mu0.15"]
    ratio20 = prod["mpc_adaptive"] / prod["exp_mu0.20"]
    print(
        f"headline: adaptive MPC product / exponential feed (mu_set 0.15) = {ratio:.3f}; "
        f"/ (mu_set 0.20) = {ratio20:.3f}"
    )
    t_ratio = prod["mpc_temperature"] / prod["mpc_adaptive"]
    i_ratio = prod["mpc_induction_choice"] / prod["mpc_adaptive"]
    i45_ratio = prod["mpc_induction_choice"] / prod["mpc_induction_4.5"]
    v_plain = float(np.max(summary["vmax_plain"]["v_over"]))
    v_robust = float(np.max(summary["vmax_robust"]["v_over"]))
    rev_plain = float(np.mean(summary["vmax_plain"]["feed_reversals_near_vmax"]))
    rev_robust = float(np.mean(summary["vmax_robust"]["feed_reversals_near_vmax"]))
    print(
        f"temperature as a decision / fixed 37 C: product x{t_ratio:.3f}; induction chosen / "
        f"at 0 h: x{i_ratio:.3f}, / at 4.5 h: x{i45_ratio:.3f}; V_max {V_TIGHT} L: worst "
        f"overshoot {v_plain * 1e3:.2f} -> {v_robust * 1e3:.2f} mL, feed reversals near V_max "
        f"{rev_plain:.2f} -> {rev_robust:.2f} (no back-off -> back-off + filter + L1)"
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
        _solve_time_record("mpc_solve_time_median_s", med, p95, mx, base),
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
    records += added_records(summary, prod, times, base, tight_seeds)
    out = ROOT / "benchmarks" / "results"
    write_atomic(out / "process_mpc.json", json.dumps(records, indent=2) + "\n")
    from biofab.viz import html_page

    figure = trajectory_figure([results[n][0] for n in names])
    fig_ti = trajectory_figure([results[n][0] for n in ["mpc_adaptive", *added]])
    fig_v = trajectory_figure([results[n][0] for n in tight])
    page = html_page(
        "Feed NMPC vs exponential feed",
        [
            ("Trajectories (seed 0)", figure),
            ("Temperature and induction as decisions (seed 0)", fig_ti),
            (f"Tight vessel, V_max {V_TIGHT} L (seed {tight_seeds[0]})", fig_v),
        ],
        subtitle=COMMAND,
    )
    write_atomic(out / "process_mpc.html", page)


def pooled_times(runs: list[ClosedLoopResult]) -> tuple[float, float, float, int]:
    """Median, p95 and max solve time (s) and the step count, all runs pooled."""
    t = np.concatenate([r.steps["solve_time_s"].dropna().to_numpy() for r in runs])
    return float(np.median(t)), float(np.percentile(t, 95)), float(t.max()), int(t.size)


def added_records(
    summary: dict[str, dict[str, list[float]]],
    prod: dict[str, float],
    times: dict[str, tuple[float, float, float, int]],
    base: dict[str, Any],
    tight_seeds: list[int],
) -> list[dict[str, Any]]:
    """Records of the temperature, induction and tight-vessel cases."""

    def mean(name: str, key: str) -> float:
        return float(np.mean(summary[name][key]))

    def higher(metric: str, name: str, peer: str, label: str, **extra: Any) -> dict[str, Any]:
        b, q = prod[name], prod[peer]
        return {
            "metric": metric,
            "biofab": b,
            "peer": label,
            "peer_value": q,
            "ratio": b / q,
            "better": "higher",
            **extra,
            **base,
        }

    tight_base = {
        **base,
        "dataset": base["dataset"] + f", V_max {V_TIGHT} L",
        "seed_list": tight_seeds,
    }
    robust = "V back-off 2 sigma + volume from feed + L1 move penalty"
    out = [
        higher(
            "final_product_g_temperature_decision",
            "mpc_temperature",
            "mpc_adaptive",
            "adaptive MPC at fixed 37 C",
            temperature_mean_c=mean("mpc_temperature", "temperature_mean"),
            bounds_c=[30.0, 40.0],
            do_below_h=mean("mpc_temperature", "do_below_h"),
        ),
        higher(
            "final_product_g_induction_chosen",
            "mpc_induction_choice",
            "mpc_adaptive",
            "adaptive MPC induced at 0 h",
            induction_h=summary["mpc_induction_choice"]["induction_h"],
            candidates_h=INDUCTION_CANDIDATES,
        ),
        higher(
            "final_product_g_induction_chosen",
            "mpc_induction_choice",
            "mpc_induction_4.5",
            "adaptive MPC, induction scheduled at 4.5 h",
        ),
    ]
    for name in ("mpc_temperature", "mpc_induction_choice"):
        med, p95, mx, _n = times[name]
        out.append(_solve_time_record(f"mpc_solve_time_median_s_{name}", med, p95, mx, base))
    for key, unit in (
        ("v_over", "L"),
        ("feed_reversals_near_vmax", ""),
        ("feed_tv_near_vmax", "L/h"),
    ):
        worst = key == "v_over"
        agg = np.max if worst else np.mean
        suffix = "_" + unit.replace("/", "_per_") if unit else ""
        b = float(agg(summary["vmax_robust"][key]))
        q = float(agg(summary["vmax_plain"][key]))
        out.append(
            {
                "metric": key + ("_max" if worst else "") + suffix,
                "biofab": b,
                "peer": "same MPC without back-off",
                "peer_value": q,
                "ratio": q / b if b > 0 else None,
                "better": "lower",
                "backoff_only": float(agg(summary["vmax_backoff"][key])),
                "variant": robust,
                **tight_base,
            }
        )
    b, q = prod["vmax_robust"], prod["vmax_plain"]
    out.append(
        {
            "metric": "final_product_g_vmax_tight",
            "biofab": b,
            "peer": "same MPC without back-off",
            "peer_value": q,
            "ratio": b / q,
            "better": "higher",
            "backoff_only": prod["vmax_backoff"],
            "fallbacks": mean("vmax_robust", "fallbacks"),
            "peer_fallbacks": mean("vmax_plain", "fallbacks"),
            "variant": robust,
            **tight_base,
        }
    )
    return out


if __name__ == "__main__":
    main()
