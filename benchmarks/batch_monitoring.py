"""Multiway PCA batch monitoring vs a univariate golden-batch envelope (issue 13, item 2).

Batches come from the process pillar's E. coli twin with normal batch-to-batch variation
and injected faults (:mod:`biofab.process.faults`: OUR sensor drift, feed pump failure,
growth-capacity drop; faults start between 10 and 14 h of a 20 h run, sampled every 0.25 h).

Per repeat ``r`` (seeds never shared between sets, never used while developing the method):
20 good batches train both monitors, 50 more good batches calibrate thresholds for the
matched comparison, 50 unseen good batches measure false alarms, and 30 batches per fault
measure detection. Both monitors see the same time-aligned batches:

- **biofab**: :class:`~biofab.process.monitor.BatchMonitor` (MPCA, components by
  leave-one-batch-out cross-validation on the training batches, T² and SPE limits at 99 %);
- **peer**: the golden-batch envelope, mean ± 3 sd of each variable at each time over the
  same training batches; a point is flagged when any variable is outside.

Alarm rule for both: 3 consecutive flagged points. A fault counts as detected when the
alarm comes at or after the fault's start; an alarm before it is a false alarm on that
batch. "Matched" thresholds: each method's threshold is scaled (T²/SPE over limit by c,
envelope by k sd) to the smallest value of a grid (0.3 to 4 in steps of 0.05) whose
false-alarm rate on the *calibration* good batches is <= 5 %; then the test batches are
scored.

End-of-batch quality (final titer, g/L): MPLS prediction on the 50 unseen good batches at
12 h and at the end, its RMSE against the training mean's, and the coverage of its 95 %
interval.

Usage: ``python benchmarks/batch_monitoring.py [--repeats 5]``; writes
``benchmarks/results/batch_monitoring.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from biofab.core.progress import progress
from biofab.process.faults import FAULTS, simulate_batches
from biofab.process.monitor import BatchMonitor, BatchScore, alarm_points

RESULTS = Path(__file__).resolve().parent / "results" / "batch_monitoring.json"
N_TRAIN, N_CAL, N_GOOD, N_FAULT = 20, 50, 50, 30
RUN = 3
GRID = np.round(np.arange(0.3, 4.01, 0.05), 2)  # threshold multipliers tried (matched FA)
MID_H = 12.0


def _ratio_mpca(s: BatchScore) -> np.ndarray:
    return np.maximum(s.t2 / s.t2_limit, s.spe / s.spe_limit)


def _ratio_envelope(s: BatchScore, monitor: BatchMonitor) -> np.ndarray:
    """Largest |deviation| / (3 sd) over the variables: > 1 is outside the envelope."""
    n = len(s.grid)
    sd = np.maximum(monitor.envelope_sd_[:n], 1e-12)
    z = np.abs(s.values - monitor.mean_[:n]) / (monitor.envelope_k * sd)
    return z.max(axis=1)


def _first_alarm(ratio: np.ndarray, c: float) -> int | None:
    hits = np.flatnonzero(alarm_points(ratio > c, RUN))
    return int(hits[0]) if hits.size else None


def _false_alarm_rate(ratios: list[np.ndarray], c: float) -> float:
    return float(np.mean([_first_alarm(r, c) is not None for r in ratios]))


def _matched(ratios: list[np.ndarray]) -> float:
    """Smallest multiplier whose false-alarm rate on the calibration batches is <= 5 %."""
    for c in GRID:
        if _false_alarm_rate(ratios, float(c)) <= 0.05:
            return float(c)
    return float(GRID[-1])


def _detection(
    ratios: list[np.ndarray], times: list[np.ndarray], starts: list[float], c: float
) -> dict[str, float]:
    detected, early, delays = 0, 0, []
    for r, t, t0 in zip(ratios, times, starts, strict=True):
        alarm = alarm_points(r > c, RUN)
        if (alarm & (t < t0)).any():
            early += 1
        late = np.flatnonzero(alarm & (t >= t0))
        if late.size:
            detected += 1
            delays.append(float(t[late[0]] - t0))
    return {
        "detection_rate": detected / len(ratios),
        "delay_h": float(np.median(delays)) if delays else float("nan"),
        "false_alarm_before_fault": early / len(ratios),
    }


def one_repeat(r: int) -> dict[str, Any]:
    base = 1000 + 10 * r
    train, quality, _ = simulate_batches(N_TRAIN, base, prefix="train")
    cal, _, _ = simulate_batches(N_CAL, base + 1, prefix="cal")
    good, good_q, _ = simulate_batches(N_GOOD, base + 2, prefix="good")
    t0 = time.perf_counter()
    monitor = BatchMonitor().fit(train, quality)
    fit_s = time.perf_counter() - t0
    out: dict[str, Any] = {"repeat": r, "n_components": monitor.n_components_, "fit_s": fit_s}
    scores = {n: monitor.score(f, n) for n, f in good.items()}
    cal_scores = [monitor.score(f, n) for n, f in cal.items()]
    methods = {
        "biofab": _ratio_mpca,
        "peer": lambda s: _ratio_envelope(s, monitor),
    }
    thresholds = {}
    for m, ratio in methods.items():
        thresholds[m] = {"default": 1.0, "matched": _matched([ratio(s) for s in cal_scores])}
        for setting, c in thresholds[m].items():
            out[f"{m}_{setting}_threshold"] = c
            out[f"{m}_{setting}_false_alarm"] = _false_alarm_rate(
                [ratio(s) for s in scores.values()], c
            )
    for kind in FAULTS:
        batches, _, faults = simulate_batches(N_FAULT, base + 3 + FAULTS.index(kind), kind)
        fault_scores = [monitor.score(f, n) for n, f in batches.items()]
        starts = [f.start_h for f in faults if f is not None]
        times = [s.time_h for s in fault_scores]
        for m, ratio in methods.items():
            for setting, c in thresholds[m].items():
                d = _detection([ratio(s) for s in fault_scores], times, starts, c)
                for key, value in d.items():
                    out[f"{m}_{setting}_{kind}_{key}"] = value
    # End-of-batch quality on the unseen good batches.
    truth = good_q["P_final"].to_numpy()
    mean_pred = float(quality["P_final"].mean())
    for label, at in (("mid", MID_H), ("end", None)):
        pred, low, high = [], [], []
        for s in scores.values():
            assert s.quality is not None and s.quality_low is not None
            assert s.quality_high is not None
            k = len(s.time_h) - 1 if at is None else int(np.argmin(np.abs(s.time_h - at)))
            pred.append(s.quality[k, 0])
            low.append(s.quality_low[k, 0])
            high.append(s.quality_high[k, 0])
        p, lo, hi = np.array(pred), np.array(low), np.array(high)
        out[f"quality_rmse_{label}"] = float(np.sqrt(np.mean((p - truth) ** 2)))
        out[f"quality_coverage_{label}"] = float(np.mean((truth >= lo) & (truth <= hi)))
    out["quality_rmse_mean_predictor"] = float(np.sqrt(np.mean((truth - mean_pred) ** 2)))
    out["quality_sd"] = float(truth.std(ddof=1))
    return out


def _spread(values: list[float]) -> str:
    v = np.array(values, dtype=float)
    return f"{np.nanmedian(v):.3g} ({np.nanmin(v):.3g}-{np.nanmax(v):.3g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    t0 = time.perf_counter()
    runs = []
    with progress("batch monitoring repeats", args.repeats) as steps:
        for r in range(args.repeats):
            runs.append(one_repeat(r))
            steps.advance(note=f"A = {runs[-1]['n_components']}")
    wall = time.perf_counter() - t0

    def col(key: str) -> list[float]:
        return [float(run[key]) for run in runs]

    print(
        f"\n{args.repeats} repeats, {wall:.0f} s; MPCA components per repeat:", col("n_components")
    )
    print("median (min-max) over repeats\n")
    header = f"{'':44s} {'biofab (MPCA)':>22s} {'peer (envelope)':>22s}"
    records: list[dict[str, Any]] = []
    command = f"python benchmarks/batch_monitoring.py --repeats {args.repeats}"
    common = {
        "dataset": "EColiFedBatch twin, 20 h fed-batch, 6 online signals, simulated faults",
        "peer": "univariate golden-batch envelope (mean ± 3 sd per variable and time)",
        "seeds": args.repeats,
        "repeats": 1,
        "cores": 1,
        "command": command,
        "date": datetime.date.today().isoformat(),
    }

    def record(metric: str, key_b: str, key_p: str, better: str, **extra: Any) -> None:
        b, p = float(np.nanmedian(col(key_b))), float(np.nanmedian(col(key_p)))
        if better == "lower":
            ratio = p / b if b > 0 else float("inf")
        else:
            ratio = b / p if p > 0 else float("inf")
        records.append(
            {"metric": metric, "biofab": b, "peer_value": p, "ratio": ratio, "better": better}
            | common
            | extra
        )

    for setting in ("default", "matched"):
        print(
            f"-- {setting} thresholds "
            + (
                "(99 % limits, 3 sd)"
                if setting == "default"
                else "(false alarms <= 5 % on calibration batches)"
            )
        )
        print(header)
        tb, tp = col(f"biofab_{setting}_threshold"), col(f"peer_{setting}_threshold")
        print(f"{'threshold multiplier':44s} {_spread(tb):>22s} {_spread(tp):>22s}")
        fa_b, fa_p = f"biofab_{setting}_false_alarm", f"peer_{setting}_false_alarm"
        label = "false alarms, unseen good batches"
        print(f"{label:44s} {_spread(col(fa_b)):>22s} {_spread(col(fa_p)):>22s}")
        record(f"false_alarm_rate_{setting}", fa_b, fa_p, "lower")
        for kind in FAULTS:
            for key, label, better in (
                ("detection_rate", "detection rate", "higher"),
                ("delay_h", "median delay (h)", "lower"),
                ("false_alarm_before_fault", "alarm before the fault", "lower"),
            ):
                kb, kp = f"biofab_{setting}_{kind}_{key}", f"peer_{setting}_{kind}_{key}"
                print(f"{kind + ': ' + label:44s} {_spread(col(kb)):>22s} {_spread(col(kp)):>22s}")
                if key != "false_alarm_before_fault":
                    record(f"{kind}_{key}_{setting}", kb, kp, better)
        print()
    print("-- end-of-batch titer (g/L), 50 unseen good batches per repeat")
    for label in ("mid", "end"):
        when = f"at {MID_H:g} h" if label == "mid" else "at the end"
        print(
            f"MPLS {when}: RMSE {_spread(col(f'quality_rmse_{label}'))}, "
            f"95 % interval coverage {_spread(col(f'quality_coverage_{label}'))}"
        )
        record(
            f"quality_rmse_{label}",
            f"quality_rmse_{label}",
            "quality_rmse_mean_predictor",
            "lower",
            peer="training-batch mean",
            coverage_95=float(np.median(col(f"quality_coverage_{label}"))),
            split="unseen good batches (new seeds)",
        )
    print(f"training-mean predictor: RMSE {_spread(col('quality_rmse_mean_predictor'))}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(records, indent=1) + "\n")
    print("\nheadline ratios (> 1: biofab better):")
    for rec in records:
        print(f"  {rec['metric']:44s} {rec['ratio']:.3g}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
