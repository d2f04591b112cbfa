"""Which tilt does each criterion choose on a first plate? (issue 17, seventh pass)

The sixth pass's tilt (:class:`biofab.learn.EpistaticGP` ``tilt_grid``) helped on GB1
and hurt on the NK landscape because marginal likelihood chose it on both. This
diagnostic fits the first plate of each development seed (the 96 random variants that
``benchmarks/protein_evolution.py`` draws for that seed) with the wide ML-II grid and
the tilt grid (0, 0.5, 1, 2), once with ``tilt_select="evidence"`` and once with
``"loo"`` (leave-one-out density), and prints the chosen tilt and noise. A criterion
worth a campaign screen must choose differently on the two landscapes. Nothing is
measured beyond the first plate, so no campaign outcome is read.

Usage: ``python benchmarks/protein_tilt_choice.py [--seeds 8] [--first-seed 100]``.
Record: ``benchmarks/results/protein_tilt_choice.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from biofab.learn.epistasis import EpistaticGP
from protein_evolution import _WIDE, RESULTS, Setup, landscape

TILTS = (0.0, 0.5, 1.0, 2.0)


def choices(name: str, seed: int, setup: Setup) -> dict[str, Any]:
    """Chosen tilt and noise per criterion on ``seed``'s first plate of landscape ``name``."""
    land = landscape(name, setup)
    rows = np.random.default_rng(seed).choice(len(land.fitness), setup.first, replace=False)
    sizes = tuple(len(land.alphabet) for _ in land.sites)
    out: dict[str, Any] = {"landscape": name, "seed": seed}
    for select in ("evidence", "loo"):
        gp = EpistaticGP(sizes, **_WIDE["grid"], tilt_grid=TILTS, tilt_select=select)
        gp.fit_codes(land.codes[rows], land.fitness[rows])
        out[select] = {"tilt": gp.tilt_, "noise": float(gp.noise_)}
    return out


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--out", type=Path, default=RESULTS / "protein_tilt_choice.json")
    args = ap.parse_args(argv)
    setup = Setup()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    runs = [choices(name, s, setup) for name in ("gb1", "nk") for s in seeds]
    for r in runs:
        e, o = r["evidence"], r["loo"]
        print(
            f"{r['landscape']:4} seed {r['seed']}: evidence tilt {e['tilt']} noise {e['noise']}"
            f" | loo tilt {o['tilt']} noise {o['noise']}"
        )
    for name in ("gb1", "nk"):
        for select in ("evidence", "loo"):
            tilted = sum(r[select]["tilt"] > 0 for r in runs if r["landscape"] == name)
            print(f"{name}: {select} chose a tilt > 0 in {tilted} of {len(seeds)} first plates")
    record = {
        "benchmark": "protein_tilt_choice",
        "date": date.today().isoformat(),
        "command": "python benchmarks/protein_tilt_choice.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "tilt_grid": list(TILTS),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    return runs


if __name__ == "__main__":
    main()
