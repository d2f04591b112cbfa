"""EKF vs UKF soft sensors on simulated noisy E. coli fed-batches (issue 6, item 4).

The plant is :class:`biofab.process.models.EColiFedBatch` (batch phase, exponential feed
from 6 h at mu_set = 0.15 1/h, induction at 14 h, 24 h run). Online every 0.1 h: OUR and CER
(5 % + 0.5 mmol/L/h noise), DO (1 % sat) and volume (5 mL); offline every 4 h: biomass
(5 % + 0.1 g/L) and glucose (0.05 g/L). Both filters start from a biomass guess 50 % below
the truth and a glucose guess 30 % high, and estimate ``qS_max`` as a random walk.

The peer is the open-loop twin: the same model simulated from the same wrong initial
guess with the same feed and induction, without any measurement (what a process engineer
has without a soft sensor).

Usage: ``python benchmarks/process_estimation.py [--seeds 5]``. Prints RMSE per state (and
of the growth rate mu), the error at the start and over the last 2 h, the average NIS of the
online updates against its 95 % band, and the run time; writes
``benchmarks/results/process_estimation.json`` (ratio = open-loop RMSE / filter RMSE).
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from biofab.process.models import EColiFedBatch
from biofab.process.simulate import Exponential, FeedStart, Induction, simulate
from biofab.process.softsensor import SoftSensor

X0 = {"X": 0.2, "S": 10.0, "A": 0.0, "P": 0.0, "DO": 100.0, "V": 2.0}
HOURS = 24.0


RESULTS = Path(__file__).resolve().parent / "results" / "process_estimation.json"
STATES = ["X", "S", "A", "P", "mu"]


def _run(x0: dict[str, float]) -> pd.DataFrame:
    """The twin from ``x0`` under the benchmark's feed and induction, with mu (1/h)."""
    model = EColiFedBatch()
    grid = np.round(np.arange(0.0, HOURS + 1e-9, 0.1), 6)
    feed = Exponential.for_growth(0.15, X0=4.5, V0=2.0, S_feed=model.params["Sf"], Yxs=0.5)
    run = simulate(model, x0, HOURS, events=[FeedStart(6.0, feed), Induction(14.0)], t_eval=grid)
    truth = run.to_frame()
    rates = [
        model.rates(
            0.0,
            row[list(model.states)].to_numpy(),
            row[list(model.inputs)].to_numpy(),
            model.param_vector(),
        )["mu"]
        for _, row in truth.iterrows()
    ]
    truth["mu"] = rates
    return truth


def simulated_batch(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(truth frame with states and mu, noisy wide data frame in model names)."""
    model = EColiFedBatch()
    truth = _run(X0)
    grid = truth["time_h"].to_numpy()
    rng = np.random.default_rng(seed)
    n = grid.size
    data = truth[["time_h", *model.inputs]].copy()
    for name in ("OUR", "CER"):
        data[name] = truth[name] + rng.normal(0, 0.5 + 0.05 * truth[name].abs())
    data["DO"] = truth["DO"] + rng.normal(0, 1.0, n)
    data["V"] = truth["V"] + rng.normal(0, 0.005, n)
    sampled = np.isclose(grid % 4.0, 0.0) & (grid > 0)
    noise_x = rng.normal(0, 0.1 + 0.05 * truth["X"])
    data["X"] = np.where(sampled, truth["X"] + noise_x, np.nan)
    data["S"] = np.where(sampled, np.maximum(truth["S"] + rng.normal(0, 0.05, n), 0), np.nan)
    return truth, data


GUESS = dict(X0, X=0.5 * X0["X"], S=1.3 * X0["S"])


def soft_sensor(kind: str) -> SoftSensor:
    guess = GUESS
    return SoftSensor(
        EColiFedBatch(),
        kind,  # type: ignore[arg-type]
        online=("OUR", "CER", "DO", "V"),
        offline=("X", "S"),
        estimate=("qS_max",),
        x0=guess,
        initial_std={"A": 0.05, "P": 0.01, "DO": 5.0, "V": 0.01, "qS_max": 0.2},
        process_std={"A": 0.01, "P": 0.01, "DO": 2.0, "V": 1e-3, "qS_max": 0.01},
        online_std={"OUR": 3.0, "CER": 3.0, "DO": 1.0, "V": 0.005},
        offline_std={"X": 0.5, "S": 0.05},
    )


def benchmark_estimators(seed: int, kinds: tuple[str, ...] = ("ekf", "ukf")) -> pd.DataFrame:
    """One row per filter: RMSE of X, S, A, P (g/L) and mu (1/h), errors, NIS, time."""
    truth, data = simulated_batch(seed)
    open_loop = _run(GUESS)
    rows = [
        {
            "seed": seed,
            "filter": "open-loop twin",
            **{
                f"rmse_{k}": float(np.sqrt(np.mean((open_loop[k] - truth[k]) ** 2))) for k in STATES
            },
        }
    ]
    for kind in kinds:
        start = time.perf_counter()
        estimates = soft_sensor(kind).run(data)
        seconds = time.perf_counter() - start
        rmse = estimates.rmse(truth, STATES)
        frame = estimates.frame
        error = np.abs(frame["X"].to_numpy() - truth["X"].to_numpy())
        test = estimates.consistency["online"]
        rows.append(
            {
                "seed": seed,
                "filter": kind,
                **{f"rmse_{k}": v for k, v in rmse.items()},
                "X_rel_err_start": 0.5,
                "X_err_last2h": float(error[-20:].mean()),
                "X_rel_err_last2h": float(error[-20:].mean() / truth["X"].iloc[-20:].mean()),
                "anis_online": test.nis_mean,
                "anis_band": f"[{test.lower:.2f}, {test.upper:.2f}]",
                "seconds": seconds,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    table = pd.concat([benchmark_estimators(seed) for seed in range(args.seeds)])
    pd.set_option("display.width", 200)
    print(table.round(4).to_string(index=False))
    numeric = table.drop(columns=["anis_band"])
    mean = numeric.groupby("filter").mean(numeric_only=True).drop(columns="seed")
    print("\nmean over seeds")
    print(mean.round(4).T.to_string())
    records = []
    for kind in ("ekf", "ukf"):
        for state in STATES:
            mine = float(mean.at[kind, f"rmse_{state}"])  # type: ignore[arg-type]
            peer = float(mean.at["open-loop twin", f"rmse_{state}"])  # type: ignore[arg-type]
            records.append(
                {
                    "metric": f"rmse_{state}",
                    "dataset": "EColiFedBatch twin, 24 h fed-batch, OUR/CER/DO/V + offline X,S",
                    "biofab": mine,
                    "biofab_method": kind,
                    "peer": "open-loop twin from the same initial guess",
                    "peer_value": peer,
                    "ratio": peer / mine,
                    "better": "lower",
                    "seeds": args.seeds,
                    "repeats": 1,
                    "cores": 1,
                    "command": f"python benchmarks/process_estimation.py --seeds {args.seeds}",
                    "date": datetime.date.today().isoformat(),
                }
            )
            print(f"{kind} {state}: open-loop / filter RMSE = {peer / mine:.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
