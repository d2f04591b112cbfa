"""Honest std for parts models: an error model, variance scaling, and distance to training.

An ensemble's spread measures only how much its members disagree, which on a
new library says little about the error (issue 14: Spearman of |error| vs
std near 0). Three pieces turn it into a std one can act on:

* :class:`ErrorScale` -- fitted on *out-of-fold* residuals of the training data
  (grouped folds, so the residuals look like a new library's): log |error| is
  regressed on a few per-sequence descriptors (ensemble spread, predicted
  strength, energy-gap of the best site...), then one factor scales the result
  so that ``mean ± 1 std`` holds 68.3 % of those residuals (variance scaling,
  cf. Levi et al. 2022, "Evaluating and calibrating uncertainty prediction in
  regression tasks", Sensors 22:5540);
* :class:`Novelty` -- how far a sequence lies from the training rows: length
  outside the training range and 3-mer composition (RMS z-score of 3-mer
  frequencies against the training rows, against its 99th training percentile);
  far sequences get their std multiplied and a warning;
* :func:`composition_groups` -- clusters of sequences by k-mer composition, the
  groups of the calibration folds of models that know nothing but the sequence
  (a held-out cluster looks like a new library more than a random row does);
* :func:`interval_report` -- coverage of ``mean ± 1 std`` and Spearman of
  ``|error|`` vs std, the two numbers issue 14 asks for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from biofab.parts.encoding import kmer_counts

#: Probability inside mean ± 1 std of a normal distribution.
ONE_SIGMA = math.erf(1 / math.sqrt(2))
#: Length beyond the training range multiplies std by this much.
LENGTH_FACTOR = 1.5


def interval_report(y: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """``coverage_1std`` (fraction of ``|y - mean| <= std``), ``spearman_abs_error_std``,
    ``mean_std`` and ``rmse`` (``y``'s units); ``n``."""
    from scipy.stats import spearmanr

    ya, ma, sa = (np.asarray(a, dtype=float) for a in (y, mean, std))
    err = np.abs(ya - ma)
    rho = float(spearmanr(err, sa).statistic) if np.ptp(sa) > 0 else float("nan")
    return {
        "coverage_1std": round(float(np.mean(err <= sa)), 4),
        "spearman_abs_error_std": round(rho, 4),
        "mean_std": round(float(sa.mean()), 4),
        "rmse": round(float(np.sqrt(np.mean(err**2))), 4),
        "n": len(ya),
    }


class ErrorScale:
    """``std = scale * exp(f(z(descriptors)))``, fitted on out-of-fold residuals
    (``z`` clipped to ±4).

    ``fit(D, abs_error)``: ``D`` ``(n, p)`` descriptors, ``abs_error`` ``(n,)``
    out-of-fold absolute errors. ``f`` regresses ``log(|e| + eps)`` on the
    standardised descriptors (``eps`` = 5 % of the median error, so exact hits
    do not dominate): ``method="linear"`` by (lightly ridged) least squares,
    ``f = w · [1, z]``; ``method="boosted"`` by shallow gradient-boosted trees
    (XGBoost, depth 2, 150 trees), which can read thresholds and interactions (an
    error that grows only once two elements are both new). Then ``scale_`` = the
    68.3 % quantile of ``|e| / exp(f)``: exactly nominal coverage on the fitting
    residuals. ``method="scale"``: no regression, ``f`` = the first descriptor (a log
    spread), so ``std = scale * spread`` -- pure variance scaling, which keeps the
    spread's ranking of the errors and only sets its size.
    """

    def __init__(self, method: str = "linear") -> None:
        self.method = method

    def fit(self, D: np.ndarray, abs_error: np.ndarray) -> ErrorScale:
        D = np.asarray(D, dtype=float)
        e = np.asarray(abs_error, dtype=float)
        self.mu_ = D.mean(axis=0)
        self.sd_ = np.where(D.std(axis=0) > 1e-12, D.std(axis=0), 1.0)
        A = np.column_stack([np.ones(len(e)), (D - self.mu_) / self.sd_])
        self.booster_: Any = None
        if self.method == "scale":
            self.w_ = np.zeros(A.shape[1])
            self.scale_ = 1.0
            self.scale_ = float(np.quantile(e / self.raw(D), ONE_SIGMA))
            return self
        eps = 0.05 * float(np.median(e)) + 1e-9
        # A little ridge keeps the weights tame when descriptors are collinear.
        reg = 1e-2 * len(e) * np.eye(A.shape[1])
        reg[0, 0] = 0.0
        self.w_ = np.linalg.solve(A.T @ A + reg, A.T @ np.log(e + eps))
        if self.method == "boosted":
            from xgboost import XGBRegressor

            target = np.log(e + eps) - A @ self.w_
            # On top of the linear fit (the trees learn what it misses), shallow and slow.
            self.booster_ = XGBRegressor(
                n_estimators=150,
                max_depth=2,
                learning_rate=0.05,
                subsample=0.8,
                n_jobs=1,
                random_state=0,
            ).fit(A[:, 1:], target)
        elif self.method != "linear":
            from biofab.core.errors import InputError

            raise InputError(
                "unknown error model", expected="linear | boosted | scale", found=self.method
            )
        self.scale_ = 1.0
        self.scale_ = float(np.quantile(e / self.raw(D), ONE_SIGMA))
        return self

    def raw(self, D: np.ndarray) -> np.ndarray:
        """Unscaled std shape ``exp(w · [1, z])``, ``(n,)`` (``method="scale"``: the
        exponential of the first descriptor)."""
        if getattr(self, "method", "linear") == "scale":
            return np.exp(np.asarray(D, float)[:, 0])
        # Descriptors beyond 4 training std are read as 4: an exponential error model must
        # not extrapolate to absurd widths (distance from training is Novelty's job).
        Z = np.clip((np.asarray(D, float) - self.mu_) / self.sd_, -4.0, 4.0)
        A = np.column_stack([np.ones(len(D)), Z])
        f = A @ self.w_
        if getattr(self, "booster_", None) is not None:
            f = f + self.booster_.predict(Z)
        return np.exp(np.clip(f, -20, 20))

    def std(self, D: np.ndarray) -> np.ndarray:
        """Calibrated std ``(n,)`` in the target's units."""
        return self.scale_ * self.raw(D)

    def state(self) -> dict[str, Any]:
        """Arrays that :meth:`from_state` reads back (the trees as XGBoost's JSON bytes)."""
        out = {"mu": self.mu_, "sd": self.sd_, "w": self.w_, "scale": self.scale_}
        if self.method == "scale":
            out["method"] = np.asarray("scale")
        if getattr(self, "booster_", None) is not None:
            raw = self.booster_.get_booster().save_raw("json")
            out["trees"] = np.frombuffer(bytes(raw), dtype=np.uint8)
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ErrorScale:
        out = cls()
        out.mu_, out.sd_, out.w_ = (np.asarray(state[k], float) for k in ("mu", "sd", "w"))
        out.scale_ = float(state["scale"])
        out.booster_ = None
        if state.get("method") is not None:
            out.method = str(state["method"])
        if state.get("trees") is not None:
            from xgboost import XGBRegressor

            out.method = "boosted"
            out.booster_ = XGBRegressor()
            out.booster_.load_model(bytearray(np.asarray(state["trees"], np.uint8).tobytes()))
        return out


class Novelty:
    """Distance of sequences from the training rows: length range and k-mer composition.

    ``score`` = RMS over the k-mers (``k`` = 3 by default: the 64 trinucleotides;
    ``alphabet`` ``"dna"`` or ``"protein"``) of the z-score of the sequence's
    k-mer frequency against the training rows; ``threshold_`` = its 99th
    percentile on the training rows. ``factor(seqs)`` multiplies std:
    ``max(1, score / threshold)``, times :data:`LENGTH_FACTOR` when the length
    lies outside the training range. ``warnings(seqs)`` says why, per sequence
    ("" when the sequence looks like the training rows).
    """

    def __init__(self, alphabet: str = "dna", k: int = 3) -> None:
        # k-mer models of protein use 2-mers (400 columns; 3-mers of amino acids make 8,000).
        self.alphabet = alphabet
        self.k = k

    def fit(self, seqs: Sequence[str]) -> Novelty:
        F = self._freqs(seqs)
        self.mu_ = F.mean(axis=0)
        self.sd_ = F.std(axis=0) + 1e-3
        self.threshold_ = self.threshold_of(self.score(seqs))
        lengths = [len(s) for s in seqs]
        self.lengths_ = (min(lengths), max(lengths))
        return self

    @staticmethod
    def threshold_of(scores: np.ndarray) -> float:
        """Where "far" begins for these reference scores: their 99th percentile."""
        return float(np.quantile(np.asarray(scores, dtype=float), 0.99))

    def _freqs(self, seqs: Sequence[str]) -> np.ndarray:
        alphabet, k = getattr(self, "alphabet", "dna"), getattr(self, "k", 3)
        return np.asarray(kmer_counts(list(seqs), k, alphabet, normalize=True).todense())

    def score(self, seqs: Sequence[str]) -> np.ndarray:
        """Composition distance ``(n,)`` (unitless RMS z-score)."""
        Z = (self._freqs(seqs) - self.mu_) / self.sd_
        return np.sqrt(np.mean(Z**2, axis=1))

    def factor(self, seqs: Sequence[str]) -> np.ndarray:
        """Std multiplier ``(n,)``, >= 1."""
        lo, hi = self.lengths_
        out = np.maximum(1.0, self.score(seqs) / self.threshold_)
        outside = np.array([not lo <= len(s) <= hi for s in seqs])
        return out * np.where(outside, LENGTH_FACTOR, 1.0)

    def warnings(self, seqs: Sequence[str]) -> list[str]:
        """One text per sequence: why it is far from training ("" when it is not)."""
        lo, hi = self.lengths_
        scores = self.score(seqs)
        out = []
        for s, sc in zip(seqs, scores, strict=True):
            why = []
            if not lo <= len(s) <= hi:
                why.append(f"length {len(s)} nt outside training {lo}-{hi} nt")
            if sc > self.threshold_:
                why.append(
                    f"{self.k}-mer composition far from training ({sc:.2f} > {self.threshold_:.2f})"
                )
            out.append("; ".join(why))
        return out

    def state(self) -> dict[str, Any]:
        return {
            "mu": self.mu_,
            "sd": self.sd_,
            "threshold": self.threshold_,
            "lengths": np.asarray(self.lengths_),
            "k": np.asarray(self.k),
            "alphabet": np.asarray(self.alphabet),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Novelty:
        # States written before ``alphabet``/``k`` existed are DNA 3-mers.
        out = cls(str(state.get("alphabet", "dna")), int(state.get("k", 3)))
        out.mu_, out.sd_ = np.asarray(state["mu"], float), np.asarray(state["sd"], float)
        out.threshold_ = float(state["threshold"])
        lo, hi = (int(v) for v in np.asarray(state["lengths"]))
        out.lengths_ = (lo, hi)
        return out


def composition_groups(
    seqs: Sequence[str], n_clusters: int, alphabet: str = "dna", k: int = 3, seed: int = 0
) -> np.ndarray:
    """Cluster label ``(n,)`` of each sequence: k-means (``n_clusters``, at most one per
    two sequences) on its k-mer frequencies (each column scaled to unit variance over
    ``seqs``, so rare k-mers count as much as common ones). Grouped folds over these
    labels hold out sequences unlike the training ones, as a new library is; generic
    (no annotation), and cheap (seconds on thousands of sequences)."""
    from sklearn.cluster import KMeans

    F = np.asarray(kmer_counts(list(seqs), k, alphabet, normalize=True).todense())
    sd = F.std(axis=0)
    Z = (F - F.mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0)
    m = max(1, min(int(n_clusters), len(Z) // 2))
    km = KMeans(n_clusters=m, n_init=3, random_state=seed).fit(Z)
    return np.asarray(km.labels_, dtype=int)
