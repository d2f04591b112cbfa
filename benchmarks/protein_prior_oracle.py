"""How close is biofab's weight-free zero-shot prior to the best site-additive prior? (issue 17)

The seventh pass found that the unchanged default recommender finds GB1's maximum in
94-96 % of campaigns when its prior mean is the *oracle* site table (each residue's mean
fitness over the whole measured landscape at that site, ``protein_evolution.oracle_table``;
knowledge no user has). This prints the Spearman correlation, per site and over all 80
site-residue cells, between that oracle table and biofab's default
:class:`biofab.parts.protein_features.ZeroShotPrior` (BLOSUM62, hydrophobicity, volume; no
homolog profile: no GB1 homolog is in the shipped proteomes).

Usage: ``python benchmarks/protein_prior_oracle.py``. Record:
``benchmarks/results/protein_prior_oracle.json``.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from protein_evolution import RESULTS, Setup, landscape, oracle_table, zero_shot_table


def main() -> dict[str, float]:
    land = landscape("gb1", Setup())
    oracle, prior = oracle_table(land), zero_shot_table(land)
    letters = list(land.alphabet)
    out: dict[str, float] = {}
    for site in land.sites:
        rho = spearmanr([oracle[site][a] for a in letters], [prior[site][a] for a in letters])
        out[site] = float(rho.statistic)
    flat_o = np.concatenate([[oracle[s][a] for a in letters] for s in land.sites])
    flat_p = np.concatenate([[prior[s][a] for a in letters] for s in land.sites])
    out["all 80 cells"] = float(spearmanr(flat_o, flat_p).statistic)
    for key, value in out.items():
        print(f"Spearman(oracle site means, zero-shot prior) {key}: {value:.3f}")
    top = {s: sorted(oracle[s], key=lambda a: -oracle[s][a])[:5] for s in land.sites}
    print("oracle's five best residues per site:", top)
    record = {
        "benchmark": "protein_prior_oracle",
        "date": date.today().isoformat(),
        "command": "python benchmarks/protein_prior_oracle.py",
        "spearman": out,
        "oracle_top5": top,
    }
    (RESULTS / "protein_prior_oracle.json").write_text(json.dumps(record, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
