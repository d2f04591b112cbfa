"""Federated vs site-alone vs pooled training of the hybrid's networks (Flower, FedAvg).

Sites: :func:`biofab.process.federated.simulate_sites` — 3 training sites (1, 10, 150 L;
their own feed ranges, strains, 3/5/8 % noise, hourly or 2-hourly samples; 6, 8, 10
batches) and one NEW site (50 L, 4 batches) that no model trains on. Split per site,
grouped by batch (seeded): 2 held-out test batches, 1 validation batch, the rest train.
Models (same frame, architecture, optimiser, cosine schedule and number of Adam steps
``rounds * local_epochs``): local = each site's batches alone, federated = Flower FedAvg
over the 3 sites (weights by offline-sample count), pooled = all training batches in one
place (upper bound), also with the federation's total number of steps (steps x sites).
Score: RMSE of X, S, A each divided by the frame's state scale, averaged (nRMSE), of
the ensemble mean against the NOISE-FREE truth at the sample times of the held-out
batches; coverage of the ensemble's ±1.96 sd band (epistemic only).

The federated setting (rounds x local epochs at a fixed budget of 100 steps, learning
rate, FedAvg or FedProx) is chosen among ``CANDIDATES`` on the validation batches of seed 0's
sites; every setting tried is printed and written. Evaluation seeds 1-3 (seed 0 was used
while building the module and for the selection). Run:
``python benchmarks/federated.py`` (writes ``benchmarks/results/federated.json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from biofab.core.atomic import write_atomic
from biofab.process.federated import (
    FederatedHybrid,
    HybridFrame,
    heldout_errors,
    simulate_sites,
    split_site,
    train_local,
    train_pooled,
)

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python benchmarks/federated.py"
FRAME: dict[str, Any] = {"hidden": (16,), "ensemble": 3, "dt": 0.5}
MODELS = ("local", "federated", "pooled", "pooled_same_compute", "literature")
STEPS = 100  # Adam steps per model (local, pooled) and per site (federated): the budget
# Candidate federated settings (same budget); ``select`` picks one on the VALIDATION batches
# of the training sites (seed 0), never on test batches.
CANDIDATES: list[dict[str, Any]] = [
    {"rounds": 20, "local_epochs": 5, "lr": 0.05, "strategy": "fedavg"},
    {"rounds": 10, "local_epochs": 10, "lr": 0.05, "strategy": "fedavg"},
    {"rounds": 20, "local_epochs": 5, "lr": 0.05, "strategy": "fedprox", "proximal_mu": 0.01},
]
# Exploration while writing the module (seed 0, other site kinetics; printed for the record).
EXPLORED = [
    {"rounds": 3, "local_epochs": 5, "lr": 0.02, "hidden": [16, 16], "dt": 0.25, "seed": 0},
    {"rounds": 10, "local_epochs": 10, "lr": 0.05, "hidden": [16], "dt": 0.5, "seed": 0},
    # A first benchmark run (site strains spread 0.15, stopped after seed 1): selection on
    # seed 0 validation gave 10x10 lr .05 0.224, 20x5 lr .05 0.132, 5x20 lr .05 0.417,
    # 10x10 lr .02 0.151, FedProx 10x10 lr .05 mu .01 0.176 (nRMSE); seed 1 test medians
    # local 0.999, federated 2.248, pooled 1.328, literature model 0.839: a slow strain at
    # the 150 L site (qS_max 0.88) at high feeds was not learned in 100 steps by any model.
    {"rounds": 20, "local_epochs": 5, "lr": 0.05, "spread": 0.15, "seed": 1},
]


def _fed(frame: HybridFrame, settings: dict[str, Any], train: Any, val: Any) -> Any:
    return FederatedHybrid(
        frame,
        rounds=settings["rounds"],
        local_epochs=settings["local_epochs"],
        lr=settings["lr"],
        strategy=settings["strategy"],
        proximal_mu=settings.get("proximal_mu", 0.01),
        verbose=True,
    ).fit(train, val)


def select(seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each candidate federated on the training batches of seed ``seed``'s sites, scored on
    their validation batches (median nRMSE over sites, noisy samples); the lowest wins."""
    sites = simulate_sites(3, seed=seed)
    parts = [split_site(s, test=2, validation=1, seed=seed) for s in sites]
    train, val = [p[0] for p in parts], [p[1] for p in parts]
    frame = HybridFrame(seed=seed, **FRAME)
    scales = frame.build().state_scale_
    table = []
    for cand in CANDIDATES:
        fed = _fed(frame, cand, train, val)
        score = float(
            np.median([heldout_errors(fed.model_, list(v.batches), scales)["nrmse"] for v in val])
        )
        table.append({**cand, "validation_nrmse": score})
        print(f"  select {cand} -> validation nRMSE {score:.4f}", flush=True)
    best = min(table, key=lambda r: r["validation_nrmse"])
    return {k: v for k, v in best.items() if k != "validation_nrmse"}, table


def run_seed(seed: int, settings: dict[str, Any]) -> dict[str, Any]:
    sites = simulate_sites(3, seed=seed)
    new = simulate_sites(1, batches=4, seed=seed, first=3)[0]
    parts = [split_site(s, test=2, validation=1, seed=seed) for s in sites]
    train, val, test = [p[0] for p in parts], [p[1] for p in parts], [p[2] for p in parts]
    frame = HybridFrame(seed=seed, **FRAME)
    scales = frame.build().state_scale_
    steps = settings["rounds"] * settings["local_epochs"]
    t0 = time.perf_counter()
    fed = _fed(frame, settings, train, val)
    t_fed = time.perf_counter() - t0
    t0 = time.perf_counter()
    local = [train_local(frame, s.batches, epochs=steps, lr=settings["lr"]) for s in train]
    pooled = train_pooled(frame, train, epochs=steps, lr=settings["lr"])
    # The federation spends steps x sites gradient evaluations (each site on its own
    # batches); this pooled model gets the same total number of steps.
    pooled_x = train_pooled(frame, train, epochs=steps * len(train), lr=settings["lr"])
    t_rest = time.perf_counter() - t0
    literature = frame.build()
    out: dict[str, Any] = {"seed": seed, "fit_s": {"federated": t_fed, "local+pooled": t_rest}}
    per_site = {}
    for s, t, m in zip(sites, test, local, strict=True):
        truth = list(t.truth or ())
        per_site[s.name] = {
            "local": heldout_errors(m, truth, scales),
            "federated": heldout_errors(fed.model_, truth, scales),
            "pooled": heldout_errors(pooled, truth, scales),
            "pooled_same_compute": heldout_errors(pooled_x, truth, scales),
            "literature": heldout_errors(literature, truth, scales),
        }
    out["sites"] = per_site
    truth_new = list(new.truth or ())
    loc_new = [heldout_errors(m, truth_new, scales) for m in local]
    out["new_site"] = {
        "local_median": float(np.median([e["nrmse"] for e in loc_new])),
        "local_coverage_median": float(np.median([e["coverage"] for e in loc_new])),
        "federated": heldout_errors(fed.model_, truth_new, scales),
        "pooled": heldout_errors(pooled, truth_new, scales),
        "pooled_same_compute": heldout_errors(pooled_x, truth_new, scales),
        "literature": heldout_errors(literature, truth_new, scales),
    }
    out["history"] = fed.history_
    out["bytes_up"] = int(sum(t.n_bytes for t in fed.traffic_ if t.direction == "up"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/federated.json")
    args = parser.parse_args()
    print(f"settings tried while building (seed 0, earlier site kinetics): {EXPLORED}")
    print(f"frame {FRAME}; {STEPS} Adam steps per model / per site; selection on validation:")
    settings, tried = select(0)
    print(f"chosen on validation: {settings}")
    runs = []
    for seed in args.seeds:
        r = run_seed(seed, settings)
        runs.append(r)
        med = {m: float(np.median([r["sites"][s][m]["nrmse"] for s in r["sites"]])) for m in MODELS}
        r["median"] = med
        print(
            f"seed {seed}: median nRMSE {json.dumps({k: round(v, 3) for k, v in med.items()})}"
            f" new site fed {r['new_site']['federated']['nrmse']:.3f} local "
            f"{r['new_site']['local_median']:.3f}; fit s {r['fit_s']}",
            flush=True,
        )
    models = MODELS
    print("\nheld-out nRMSE per site, median over seeds [min-max] (noise-free truth)")
    print(f"{'site':8s} " + " ".join(f"{m:>20s}" for m in models))
    for s in runs[0]["sites"]:
        cells = []
        for m in models:
            v = np.array([r["sites"][s][m]["nrmse"] for r in runs])
            cells.append(f"{np.median(v):.3f} [{v.min():.3f}-{v.max():.3f}]".rjust(20))
        print(f"{s:8s} " + " ".join(cells))
    meds = {m: np.array([r["median"][m] for r in runs]) for m in models}
    cells = [f"{np.median(v):.3f} [{v.min():.3f}-{v.max():.3f}]".rjust(20) for v in meds.values()]
    print(f"{'median':8s} " + " ".join(cells))
    new = {
        "local": np.array([r["new_site"]["local_median"] for r in runs]),
        "federated": np.array([r["new_site"]["federated"]["nrmse"] for r in runs]),
        "pooled": np.array([r["new_site"]["pooled"]["nrmse"] for r in runs]),
        "pooled_same_compute": np.array(
            [r["new_site"]["pooled_same_compute"]["nrmse"] for r in runs]
        ),
        "literature": np.array([r["new_site"]["literature"]["nrmse"] for r in runs]),
    }
    cells = [f"{np.median(v):.3f} [{v.min():.3f}-{v.max():.3f}]".rjust(20) for v in new.values()]
    print(f"{'NEW site':8s} " + " ".join(cells))
    cov = {
        m: float(np.median([r["sites"][s][m]["coverage"] for r in runs for s in r["sites"]]))
        for m in models
    }
    print(f"coverage of the ±1.96 sd ensemble band (epistemic only), median: {cov}")
    fl = float(np.median(meds["federated"]) / np.median(meds["local"]))
    fp = float(np.median(meds["federated"]) / np.median(meds["pooled"]))
    fpx = float(np.median(meds["federated"]) / np.median(meds["pooled_same_compute"]))
    nfl = float(np.median(new["federated"]) / np.median(new["local"]))
    print(
        f"\nratios: federated/local {fl:.3f}, federated/pooled {fp:.3f}, federated/pooled "
        f"same compute {fpx:.3f}; "
        f"new site federated/local {nfl:.3f}"
    )
    today = datetime.date.today().isoformat()
    common = {
        "better": "lower",
        "seeds": len(runs),
        "repeats": 1,
        "cores": 1,
        "command": COMMAND,
        "date": today,
        "settings": settings,
        "frame": {k: list(v) if isinstance(v, tuple) else v for k, v in FRAME.items()},
        "settings_tried": tried,
        "explored_while_building": EXPLORED,
        "split": "per site, grouped by batch: 2 test, 1 validation, rest train; plus a new "
        "site never trained on; scored against noise-free truth",
    }
    records = [
        {
            "metric": "heldout_nrmse_sites_median",
            "dataset": "3 simulated non-IID EColiFedBatch sites",
            "biofab": float(np.median(meds["federated"])),
            "biofab_range": [float(meds["federated"].min()), float(meds["federated"].max())],
            "peer": "local (each site alone, median over sites)",
            "peer_value": float(np.median(meds["local"])),
            "ratio": float(np.median(meds["local"]) / np.median(meds["federated"])),
            **common,
        },
        {
            "metric": "heldout_nrmse_sites_median",
            "dataset": "3 simulated non-IID EColiFedBatch sites",
            "biofab": float(np.median(meds["federated"])),
            "peer": "pooled (upper bound)",
            "peer_value": float(np.median(meds["pooled"])),
            "ratio": float(np.median(meds["pooled"]) / np.median(meds["federated"])),
            **common,
        },
        {
            "metric": "heldout_nrmse_sites_median",
            "dataset": "3 simulated non-IID EColiFedBatch sites",
            "biofab": float(np.median(meds["federated"])),
            "peer": "pooled with the federation's total steps (steps x sites)",
            "peer_value": float(np.median(meds["pooled_same_compute"])),
            "ratio": float(np.median(meds["pooled_same_compute"]) / np.median(meds["federated"])),
            **common,
        },
        {
            "metric": "heldout_nrmse_new_site",
            "dataset": "a 4th simulated site never trained on",
            "biofab": float(np.median(new["federated"])),
            "peer": "local (median over the 3 site models)",
            "peer_value": float(np.median(new["local"])),
            "ratio": float(np.median(new["local"]) / np.median(new["federated"])),
            **common,
        },
        {
            "metric": "ensemble_band_coverage_median",
            "dataset": "3 simulated sites, held-out batches",
            "biofab": cov["federated"],
            "peer": "local",
            "peer_value": cov["local"],
            "better": "closer to 0.95",
            "seeds": len(runs),
            "command": COMMAND,
            "date": today,
            "runs": runs,
        },
    ]
    write_atomic(args.out, json.dumps(records, indent=2, default=float) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
