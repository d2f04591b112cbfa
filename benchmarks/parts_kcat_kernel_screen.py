"""kcat, round 5: how far can "nearest homolog" information carry the random-split r?
(issue 14 item 4). Development only: every number comes from CV inside CatPred's
``catpred_kcat_random_val.csv``; the test file is never read.

The KcatModel's strongest single part is its kernel ridge prior (3-mer cosine x
reactant Tanimoto + shared EC levels; BENCHMARKS.md, round 4). Kernel ridge alone is
fast (one linear solve per fold), so this script measures, with it:

* ``kernels``: 5-fold CV r of kernel variants that add homolog / substrate /
  organism information the round-4 kernel lacks: an exact-same-sequence term,
  a sequence-only term, product Tanimoto, same organism (``taxonomy_id``), phmmer
  alignment identity in place of (or with) the 3-mer cosine (hits from the cached
  all-vs-all search in ``benchmarks/results/kcat_cache/``), exponents, EC terms;
* ``subsets``: the round-4 kernel's CV r on rows whose exact sequence is in the
  training fold, rows with a close relative (3-mer cosine >= 0.5) and the rest;
  and how well one enzyme's kcat on one substrate predicts its kcat on another
  (every pair of rows with the same sequence: Pearson r);
* ``gp`` (with ``--gp``, about 8 minutes): the kernel as a weighted sum of 11
  components (cosine x Tanimoto, each EC level, cosine, Tanimoto, cosine x product
  Tanimoto, same sequence (x Tanimoto), same organism x full EC x Tanimoto) with the
  weights, noise and a constant learned per training fold by Gaussian-process
  marginal likelihood (Adam, 80 steps), instead of screened one at a time;
* ``std``: Spearman(|error|, candidate) on grouped 3-fold CV inside val (CatPred
  40 % clusters, fold seed 0; our 20 % identity clusters, fold seed 1) for std
  inputs the round-4 search did not cover: the kernel's Gaussian-process posterior
  variance, kernel-weighted |leave-one-out residual| of the training rows.

Run: ``python benchmarks/parts_kcat_kernel_screen.py`` (about 2 minutes) ->
``benchmarks/results/parts_kcat_kernel_screen.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr

from biofab.parts.kcat import (
    TARGET,
    ec_levels,
    fingerprint_bits,
    kmer_profiles,
    load_catpred,
    tanimoto,
)

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks/results/kcat_cache"
VAL, TEST = "catpred_kcat_random_val.csv", "catpred_kcat_random_test.csv"


def matrices(df: pd.DataFrame, raw: pd.DataFrame, union_seqs: list[str]) -> dict[str, np.ndarray]:
    """Row-by-row similarity matrices of the val file (all in [0, 1])."""
    n = len(df)
    prof = kmer_profiles(df["sequence"])
    m: dict[str, np.ndarray] = {"S": np.clip((prof @ prof.T).toarray(), 0.0, None)}
    fps = np.vstack([fingerprint_bits(s) for s in df["reactant_smiles"]])
    m["T"] = tanimoto(fps, fps)
    prod = np.vstack([fingerprint_bits(s) for s in df["product_smiles"].fillna("")])
    m["TP"] = tanimoto(prod, prod)
    lv = [ec_levels(e) for e in df["ec"]]
    for d in (1, 2, 3, 4):
        codes: dict[str, int] = {}
        c = np.array([codes.setdefault(x[d - 1], len(codes)) if len(x) >= d else -1 for x in lv])
        m[f"E{d}"] = ((c[:, None] == c[None, :]) & (c[:, None] >= 0)).astype(float)
    m["E"] = (m["E1"] + m["E2"] + m["E3"] + m["E4"]) / 4
    seqs = df["sequence"].to_numpy()
    m["SAME"] = (seqs[:, None] == seqs[None, :]).astype(float)
    tax = raw["taxonomy_id"].to_numpy()
    m["ORG"] = ((tax[:, None] == tax[None, :]) & pd.notna(tax)[:, None]).astype(float)
    # phmmer identity over the aligned columns (0 = no significant hit), cached hits of
    # the val + test sequences (sorted distinct sequences, as biofab.parts.homology).
    index = {s: i for i, s in enumerate(sorted(set(union_seqs)))}
    hits = sorted(CACHE.glob("phmmer_*.npz"))
    U = np.zeros((len(index), len(index)))
    with np.load(hits[0]) as stored:
        e = stored["edges"]
    i, j = e[:, 0].astype(int), e[:, 1].astype(int)
    np.maximum.at(U, (i, j), e[:, 2])
    U = np.maximum(U, U.T)
    np.fill_diagonal(U, 1.0)
    ix = np.array([index[s] for s in seqs])
    m["ID"] = U[np.ix_(ix, ix)]
    assert n == len(m["ID"])
    return m


def kernel_cv(K: np.ndarray, y: np.ndarray, fold: np.ndarray, ridge: float) -> np.ndarray:
    """Out-of-fold kernel ridge predictions (training-fold mean as the offset)."""
    out = np.empty(len(y))
    for f in np.unique(fold):
        te, tr = fold == f, fold != f
        mu = y[tr].mean()
        a = np.linalg.solve(K[np.ix_(tr, tr)] + ridge * np.eye(tr.sum()), y[tr] - mu)
        out[te] = mu + K[np.ix_(te, tr)] @ a
    return out


def gp_ml_cv(
    comps: dict[str, np.ndarray], y: np.ndarray, fold: np.ndarray, steps: int = 80
) -> tuple[np.ndarray, list[list[float]]]:
    """Out-of-fold GP means with component weights learned per training fold by
    marginal likelihood; returns the predictions and each fold's weights (the
    components', then noise and constant)."""
    import torch

    torch.set_num_threads(1)
    Ks = torch.tensor(np.stack(list(comps.values())))
    out, weights = np.empty(len(y)), []
    for f in np.unique(fold):
        te, tr = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
        Kt = Ks[:, tr][:, :, tr]
        yt = torch.tensor(y[tr])
        yc = yt - yt.mean()
        eye = torch.eye(len(tr), dtype=torch.float64)
        raw = torch.full((len(comps) + 2,), -1.0, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([raw], lr=0.05)
        for _ in range(steps):
            w = torch.nn.functional.softplus(raw)
            K = torch.einsum("k,kij->ij", w[:-2], Kt) + w[-1] + w[-2] * eye
            L = torch.linalg.cholesky(K)
            a = torch.cholesky_solve(yc[:, None], L)
            nll = 0.5 * (yc[:, None] * a).sum() + torch.log(torch.diagonal(L)).sum()
            opt.zero_grad()
            nll.backward()
            opt.step()
        with torch.no_grad():
            w = torch.nn.functional.softplus(raw)
            K = torch.einsum("k,kij->ij", w[:-2], Kt) + w[-1] + w[-2] * eye
            kq = torch.einsum("k,kij->ij", w[:-2], Ks[:, te][:, :, tr]) + w[-1]
            out[te] = (yt.mean() + kq @ torch.linalg.solve(K, yc)).numpy()
        weights.append([round(float(v), 4) for v in w])
    return out, weights


def score(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {
        "r": round(float(pearsonr(pred, y)[0]), 4),
        "rmse": round(float(np.sqrt(np.mean((pred - y) ** 2))), 4),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("BIOFAB_SHARED_DATA", "../shared/data"))
    p.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/parts_kcat_kernel_screen.json"
    )
    p.add_argument("--gp", action="store_true", help="also learn kernel weights (slow)")
    args = p.parse_args()
    t0 = time.perf_counter()
    enz = Path(args.data) / "enzymes"
    df = load_catpred([enz / VAL]).reset_index(drop=True)
    raw = pd.read_csv(enz / VAL)
    assert len(raw) == len(df)
    # Only the test file's *sequences* are read here, to index the cached phmmer hits.
    union = list(df["sequence"]) + list(load_catpred([enz / TEST])["sequence"])
    y = df[TARGET].to_numpy(float)
    n = len(y)
    M = matrices(df, raw, union)
    S, T, E = M["S"], M["T"], M["E"]
    half = 0.5 + 0.5 * T
    base = S * T + E * half  # the round-4 kernel (kernel_ec_weight 1)
    fold0 = np.random.default_rng(0).permutation(n) % 5
    variants = {
        "round-4 kernel": base,
        "+ 0.1 x cosine (same enzyme, any substrate)": base + 0.1 * S,
        "+ 0.3 x cosine": base + 0.3 * S,
        "+ 1 x cosine": base + 1.0 * S,
        "+ 0.5 x same sequence x Tanimoto": base + 0.5 * M["SAME"] * T,
        "+ 1 x same sequence x Tanimoto": base + M["SAME"] * T,
        "+ 0.5 x cosine x product Tanimoto": base + 0.5 * S * M["TP"],
        "+ 0.5 x same organism x EC x Tanimoto": base + 0.5 * M["ORG"] * E * T,
        "+ 1 x same organism x EC x Tanimoto": base + M["ORG"] * E * T,
        "+ 0.5 x full EC match x Tanimoto": base + 0.5 * M["E4"] * T,
        "+ 0.1 x Tanimoto^2 (any enzyme)": base + 0.1 * T**2,
        "Tanimoto^0.5": S * np.sqrt(T) + E * half,
        "Tanimoto^2": S * T**2 + E * half,
        "cosine^2": S**2 * T + E * half,
        "EC x Tanimoto (no 0.5 floor)": S * T + E * T,
        "EC alone (no Tanimoto)": S * T + E,
        "EC levels 3-4 only": S * T + (M["E3"] + M["E4"]) / 2 * half,
        "phmmer identity for cosine": M["ID"] * T + E * half,
        "phmmer identity^2 for cosine": M["ID"] ** 2 * T + E * half,
        "(cosine + identity) / 2": (S + M["ID"]) / 2 * T + E * half,
        "max(cosine, identity)": np.maximum(S, M["ID"]) * T + E * half,
    }
    kernels = []
    for name, K in variants.items():
        for ridge in (0.3, 0.1):
            res = score(kernel_cv(K, y, fold0, ridge), y)
            kernels.append({"kernel": name, "ridge": ridge, **res})
            print(json.dumps(kernels[-1]), flush=True)

    gp = None
    if args.gp:
        comps = {
            "cosine x Tanimoto": S * T,
            **{f"EC level {d} x (1 + Tanimoto) / 2": M[f"E{d}"] * half for d in (1, 2, 3, 4)},
            "cosine": S,
            "Tanimoto": T,
            "cosine x product Tanimoto": S * M["TP"],
            "same sequence x Tanimoto": M["SAME"] * T,
            "same organism x full EC x Tanimoto": M["ORG"] * M["E4"] * T,
            "same sequence": M["SAME"],
        }
        pred_gp, w_gp = gp_ml_cv(comps, y, fold0)
        gp = {"components": [*comps, "noise", "constant"], "weights_per_fold": w_gp}
        gp.update(score(pred_gp, y))
        print(json.dumps(gp), flush=True)

    # where the errors are: rows by their closest training relative (fold seed 0)
    pred = kernel_cv(base, y, fold0, 0.3)
    best, same = np.empty(n), np.zeros(n, dtype=bool)
    for f in range(5):
        te, tr = fold0 == f, fold0 != f
        best[te] = S[np.ix_(te, tr)].max(axis=1)
        same[te] = M["SAME"][np.ix_(te, tr)].max(axis=1) > 0
    subsets = {}
    for name, mask in {
        "all rows": np.ones(n, dtype=bool),
        "same sequence in the training fold": same,
        "closest relative cosine >= 0.5 (not the same sequence)": ~same & (best >= 0.5),
        "closest relative cosine < 0.5": ~same & (best < 0.5),
    }.items():
        subsets[name] = {"n": int(mask.sum()), **score(pred[mask], y[mask])}
    a, b = [], []
    for _, same_seq in df.groupby("sequence"):
        v = same_seq[TARGET].to_numpy()
        for i, j in itertools.combinations(range(len(v)), 2):
            a += [v[i], v[j]]
            b += [v[j], v[i]]
    same_enzyme = {"pairs": len(a) // 2, "r": round(float(pearsonr(a, b)[0]), 4)}
    print(json.dumps({"subsets": subsets, "same_enzyme_other_substrate": same_enzyme}), flush=True)

    # std candidates on grouped folds
    clusters = pd.read_csv(CACHE / "clusters_val_test.csv")
    clusters = clusters[clusters["source"] == VAL].sort_values("row")
    groups = {"c40": df["sequence_40cluster"].to_numpy(), "id20": clusters["identity20"].to_numpy()}
    std = []
    for gname, seed in (("c40", 0), ("id20", 1)):
        g = groups[gname]
        rng = np.random.default_rng(seed)
        uq = np.unique(g)
        fold_of = dict(zip(rng.permutation(uq), np.arange(len(uq)) % 3, strict=True))
        fold = np.array([fold_of[x] for x in g])
        out = np.empty(n)
        cand = {k: np.empty(n) for k in ("gp_variance", "kernel_weighted_abs_loo", "kernel_sum")}
        for f in range(3):
            te, tr = fold == f, fold != f
            mu = y[tr].mean()
            H = np.linalg.inv(base[np.ix_(tr, tr)] + 0.3 * np.eye(tr.sum()))
            alpha = H @ (y[tr] - mu)
            loo_abs = np.abs(alpha / np.diag(H))
            kq = base[np.ix_(te, tr)]
            out[te] = mu + kq @ alpha
            cand["gp_variance"][te] = np.diag(base)[te] - np.einsum("ij,jk,ik->i", kq, H, kq)
            w = kq**4
            cand["kernel_weighted_abs_loo"][te] = (w @ loo_abs + 1e-9 * loo_abs.mean()) / (
                w.sum(axis=1) + 1e-9
            )
            cand["kernel_sum"][te] = kq.sum(axis=1)
        err = np.abs(out - y)
        row = {"groups": gname, "fold_seed": seed, "kernel_r": round(float(pearsonr(out, y)[0]), 4)}
        row.update({k: round(float(spearmanr(err, v)[0]), 4) for k, v in cand.items()})
        std.append(row)
        print(json.dumps(row), flush=True)

    record = {
        "what": "kcat round 5 kernel screen (val file only; test file read for sequences only)",
        "n_rows": n,
        "kernels_fold_seed_0": kernels,
        "gp_learned_weights_fold_seed_0": gp,
        "subsets_fold_seed_0": subsets,
        "same_enzyme_other_substrate": same_enzyme,
        "std_candidates_grouped": std,
        "seconds": round(time.perf_counter() - t0),
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
