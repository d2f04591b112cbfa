"""Is a surrogate's std honest? Held-out coverage, RMSE and z-scores of one split."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import norm

from biofab.core.errors import NotEnoughDataError
from biofab.learn.surrogate import Surrogate

#: Probability inside mean ± 1 std of a normal distribution (0.6827).
ONE_SIGMA = math.erf(1 / math.sqrt(2))


def coverage(y: np.ndarray, mean: np.ndarray, std: np.ndarray, level: float) -> float:
    """Fraction of ``y`` inside the central ``level`` interval of ``N(mean, std²)``.

    The interval is ``mean ± q·std`` with ``q = Φ⁻¹((1 + level) / 2)``: 1.96
    for ``level=0.95``, 1.0 for ``level=ONE_SIGMA``. ``y``, ``mean`` and
    ``std`` share one shape; every entry counts once. An honest std gives a
    coverage near ``level``; far below means over-confident, far above
    under-confident.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    ya, ma, sa = (np.asarray(a, dtype=float) for a in (y, mean, std))
    if ya.size == 0:
        return float("nan")
    q = float(norm.ppf(0.5 + level / 2))
    return float(np.mean(np.abs(ya - ma) <= q * sa))


@dataclass
class CalibrationReport:
    """How a surrogate fitted on a random split did on the held-out rows.

    ``coverage_68`` and ``coverage_95`` are the fractions of held-out ``y``
    inside ``mean ± 1·std`` (nominal 68.3 %) and ``mean ± 1.96·std``
    (nominal 95 %); ``std`` there is the predictive std
    ``sqrt(std_model² + yvar)`` when ``yvar`` was given, else the model's std.
    ``rmse`` is the root mean squared error of the mean, ``mean_std`` the
    average predictive std (both in ``y``'s units). ``z`` holds
    ``(y - mean) / std`` for each held-out value, shaped like the held-out
    ``y`` (``(n_test,)``); an honest model has ``z`` near standard normal.
    ``test_index`` gives the held-out rows' positions in the input.
    """

    coverage_68: float
    coverage_95: float
    rmse: float
    mean_std: float
    n_train: int
    n_test: int
    z: np.ndarray = field(repr=False)
    test_index: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (``z`` and ``test_index`` as lists)."""
        return {
            "coverage_68": self.coverage_68,
            "coverage_95": self.coverage_95,
            "rmse": self.rmse,
            "mean_std": self.mean_std,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "z": [float(v) for v in self.z],
            "test_index": [int(i) for i in self.test_index],
        }

    def summary(self) -> str:
        """One line, e.g. for a CLI or a log."""
        return (
            f"held-out {self.n_test} of {self.n_train + self.n_test}: "
            f"RMSE {self.rmse:.3g}, mean std {self.mean_std:.3g}, "
            f"coverage ±1σ {self.coverage_68:.0%} (nominal 68%), "
            f"±1.96σ {self.coverage_95:.0%} (nominal 95%)"
        )


def calibration_report(
    surrogate_factory: Callable[[], Surrogate],
    X: np.ndarray,
    y: np.ndarray,
    yvar: np.ndarray | None = None,
    *,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> CalibrationReport:
    """Fit ``surrogate_factory()`` on a seeded random split and score it on the rest.

    ``X`` is ``(n, d)``; ``y`` is ``(n,)`` or ``(n, 1)`` (one output: for
    several, call once per column); ``yvar`` has ``y``'s shape or is None.
    The training part (with its ``yvar``) goes to ``fit``; ``round(n *
    test_fraction)`` rows (at least 1) are held out. When ``yvar`` is given,
    the held-out values are single noisy measurements, so their intervals use
    ``sqrt(std² + yvar)``; without it the model's std is used as it is.
    Raises ``NotEnoughDataError`` when fewer than 2 rows would remain for
    training.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    Xa = np.asarray(X, dtype=float)
    ya = np.asarray(y, dtype=float)
    if ya.ndim == 2 and ya.shape[1] == 1:
        ya = ya[:, 0]
    if ya.ndim != 1:
        raise ValueError(f"calibration_report takes one output; got y of shape {ya.shape}")
    if Xa.ndim != 2 or len(Xa) != len(ya):
        raise ValueError(f"X must have shape ({len(ya)}, d), got {Xa.shape}")
    va = None
    if yvar is not None:
        va = np.asarray(yvar, dtype=float).reshape(-1)
        if va.shape != ya.shape:
            raise ValueError(f"yvar must have y's shape, got {np.shape(yvar)}")

    n = len(ya)
    n_test = max(1, round(n * test_fraction))
    n_train = n - n_test
    if n_train < 2:
        raise NotEnoughDataError(
            f"calibration needs at least 3 measurements (2 to fit, 1 to test), got {n}"
        )
    order = np.random.default_rng(seed).permutation(n)
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])

    model = surrogate_factory()
    model.fit(Xa[train], ya[train], None if va is None else va[train])
    mean, std = model.predict(Xa[test])
    mean = np.asarray(mean, dtype=float).reshape(-1)
    std = np.asarray(std, dtype=float).reshape(-1)
    if va is not None:
        std = np.sqrt(std**2 + va[test])

    resid = ya[test] - mean
    # A zero std is infinitely surprised by any miss, and not at all by a hit.
    z = np.divide(resid, std, out=np.where(resid == 0, 0.0, np.sign(resid) * np.inf), where=std > 0)
    return CalibrationReport(
        coverage_68=coverage(ya[test], mean, std, ONE_SIGMA),
        coverage_95=coverage(ya[test], mean, std, 0.95),
        rmse=float(np.sqrt(np.mean(resid**2))),
        mean_std=float(np.mean(std)),
        n_train=n_train,
        n_test=n_test,
        z=z,
        test_index=test,
    )


# -- out-of-fold calibration and recalibration ------------------------------------


@dataclass
class OutOfFold:
    """Out-of-fold predictions: each row predicted by a model fitted without its fold.

    ``mean`` and ``std`` ``(n,)`` are in ``y``'s units (``std`` is the model's
    own, without observation noise); ``fold`` ``(n,)`` gives each row's fold.
    """

    mean: np.ndarray
    std: np.ndarray
    fold: np.ndarray


def fold_labels(n: int, folds: int, seed: int | None = 0) -> np.ndarray:
    """A seeded assignment of ``n`` rows to ``max(2, min(folds, n // 4))`` folds."""
    k = max(2, min(folds, n // 4))
    return np.random.default_rng(seed).permutation(n) % k


def out_of_fold(
    surrogate_factory: Callable[[], Surrogate],
    X: np.ndarray,
    y: np.ndarray,
    yvar: np.ndarray | None = None,
    *,
    folds: int = 5,
    seed: int | None = 0,
) -> OutOfFold:
    """K-fold predictions of ``surrogate_factory()`` on ``X`` ``(n, d)``, ``y`` ``(n,)``."""
    Xa, ya = np.asarray(X, dtype=float), np.asarray(y, dtype=float).reshape(-1)
    va = None if yvar is None else np.asarray(yvar, dtype=float).reshape(-1)
    if len(ya) < 4:
        raise NotEnoughDataError(f"out-of-fold predictions need at least 4 rows, got {len(ya)}")
    fold = fold_labels(len(ya), folds, seed)
    mean, std = np.empty(len(ya)), np.empty(len(ya))
    for f in np.unique(fold):
        test, train = fold == f, fold != f
        model = surrogate_factory().fit(Xa[train], ya[train], None if va is None else va[train])
        m, s = model.predict(Xa[test])
        mean[test], std[test] = np.ravel(m), np.ravel(s)
    return OutOfFold(mean, std, fold)


def std_scale(
    y: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    yvar: np.ndarray | None = None,
    *,
    level: float = ONE_SIGMA,
    limits: tuple[float, float] = (0.05, 20.0),
) -> float:
    """The factor ``s`` on the model's std that makes ``mean ± sqrt((s·std)² + yvar)``
    cover a fraction ``level`` of ``y`` (a split-conformal quantile of the
    scale each row needs; Vovk et al. 2005, Angelopoulos & Bates 2023).

    ``yvar`` is each value's known noise variance (None: 0). The finite-sample
    quantile ``ceil((n + 1)·level) / n`` keeps the coverage at or above
    ``level`` for exchangeable rows; the result is clipped to ``limits`` so one
    odd fold cannot switch the error bars off or blow them up.
    """
    r2 = (np.asarray(y, dtype=float) - np.asarray(mean, dtype=float)) ** 2
    s2 = np.asarray(std, dtype=float) ** 2
    v = np.zeros_like(r2) if yvar is None else np.asarray(yvar, dtype=float).reshape(r2.shape)
    excess = np.clip(r2 - v, 0.0, None)
    # The factor each row needs; a zero std needs infinity unless the noise covers it.
    ratio = np.sqrt(excess / np.where(s2 > 0, s2, 1.0))
    need = np.where(s2 > 0, ratio, np.where(excess > 0, np.inf, 0.0))
    if len(need) == 0:
        return 1.0
    return float(np.clip(conformal_quantile(need, level), *limits))


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The split-conformal quantile of nonconformity ``scores``: the
    ``ceil((n + 1)·level)``-th smallest (the largest when that rank passes ``n``), so a
    new exchangeable score falls at or below it with probability >= ``level``
    (Angelopoulos & Bates 2023). NaN for no scores."""
    v = np.sort(np.asarray(scores, dtype=float).ravel())
    if v.size == 0:
        return math.nan
    rank = min(v.size, math.ceil((v.size + 1) * level))
    return float(v[rank - 1])


@dataclass
class OutOfFoldCalibration:
    """Out-of-fold coverage of a surrogate's intervals, raw and recalibrated.

    ``coverage_68_raw``/``coverage_95_raw``: fractions of ``y`` inside
    ``mean ± q·sqrt(std² + yvar)`` (q = 1, 1.96) with the model's std as it is.
    ``coverage_68``/``coverage_95``: the same with the std scaled by a factor
    estimated on the *other* folds' residuals (cross-conformal), so no row
    calibrates its own interval. ``std_scale`` is the factor estimated on all
    rows, the one a recommender applies to new predictions.
    """

    coverage_68_raw: float
    coverage_95_raw: float
    coverage_68: float
    coverage_95: float
    std_scale: float
    rmse: float
    n: int
    folds: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def calibrate_out_of_fold(
    y: np.ndarray, oof: OutOfFold, yvar: np.ndarray | None = None
) -> OutOfFoldCalibration:
    """Coverage of ``oof``'s intervals on ``y`` ``(n,)``, raw and recalibrated."""
    ya = np.asarray(y, dtype=float).reshape(-1)
    va = np.zeros_like(ya) if yvar is None else np.asarray(yvar, dtype=float).reshape(-1)
    scaled = np.empty_like(ya)
    for f in np.unique(oof.fold):
        rest = oof.fold != f
        s = std_scale(ya[rest], oof.mean[rest], oof.std[rest], va[rest])
        scaled[~rest] = s * oof.std[~rest]
    raw = np.sqrt(oof.std**2 + va)
    cal = np.sqrt(scaled**2 + va)
    return OutOfFoldCalibration(
        coverage_68_raw=coverage(ya, oof.mean, raw, ONE_SIGMA),
        coverage_95_raw=coverage(ya, oof.mean, raw, 0.95),
        coverage_68=coverage(ya, oof.mean, cal, ONE_SIGMA),
        coverage_95=coverage(ya, oof.mean, cal, 0.95),
        std_scale=std_scale(ya, oof.mean, oof.std, va),
        rmse=float(np.sqrt(np.mean((ya - oof.mean) ** 2))),
        n=len(ya),
        folds=len(np.unique(oof.fold)),
    )


@dataclass
class RecordScale:
    """A factor on the std learned from a campaign's own record (see :func:`record_scale`).

    ``scale``: the factor to multiply the next batch's std by (dimensionless,
    1.0 with no record). ``raw``: the unshrunk factor the records alone ask for
    (NaN with no record). ``n``: records used; ``skipped``: records left out
    (a NaN mean, std or measurement, or a std that is not positive).
    """

    scale: float
    raw: float
    n: int
    skipped: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def record_scale(
    mean: np.ndarray,
    std: np.ndarray,
    measured: np.ndarray,
    yvar: np.ndarray | None = None,
    *,
    level: float = ONE_SIGMA,
    prior_n: float = 10.0,
    limits: tuple[float, float] = (0.2, 20.0),
) -> RecordScale:
    """The factor ``s`` such that ``mean ± sqrt((s·std)² + yvar)`` would have covered a
    fraction ``level`` of earlier rounds' picks, shrunk toward 1 when the record is short.

    ``mean`` and ``std`` are what the campaign predicted for designs it then
    built (in the measured quantity's units, the std *before* any earlier
    record factor), ``measured`` what was measured, ``yvar`` each measurement's
    noise variance (None: 0); all one shape, one entry per record. A batch is
    the recommender's top picks, so its errors are larger than a random row's
    (the winner's curse): out-of-fold recalibration on measured rows cannot see
    that, the campaign's record of its own picks can.

    Rule: records with a non-finite mean, std or measurement, or ``std <= 0``,
    are skipped (a zero std says nothing about scale). Each remaining record
    needs the factor ``|measured - mean| / std`` (noise variance removed first,
    as in :func:`std_scale`); ``raw`` is the split-conformal ``level`` quantile
    of those needs. With ``n`` records the reported factor is
    ``raw ** (n / (n + prior_n))``: a geometric shrinkage toward 1 with the
    weight of ``prior_n`` records at 1, so a handful of records cannot swing the
    error bars, and a full plate (96) moves them nearly all the way. The
    factor is clipped to ``limits``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if prior_n < 0:
        raise ValueError(f"prior_n must be >= 0, got {prior_n}")
    m = np.asarray(mean, dtype=float).reshape(-1)
    s = np.asarray(std, dtype=float).reshape(-1)
    y = np.asarray(measured, dtype=float).reshape(-1)
    v = np.zeros_like(y) if yvar is None else np.asarray(yvar, dtype=float).reshape(-1)
    if not m.shape == s.shape == y.shape == v.shape:
        raise ValueError("mean, std, measured and yvar must have one entry per record")
    v = np.where(np.isfinite(v), v, 0.0)  # an unknown noise variance counts as none
    ok = np.isfinite(m) & np.isfinite(s) & np.isfinite(y) & (s > 0)
    n = int(ok.sum())
    if n == 0:
        return RecordScale(scale=1.0, raw=math.nan, n=0, skipped=len(m))
    excess = np.clip((y[ok] - m[ok]) ** 2 - v[ok], 0.0, None)
    raw = max(conformal_quantile(np.sqrt(excess) / s[ok], level), 1e-12)
    shrunk = math.exp(math.log(raw) * n / (n + prior_n))
    return RecordScale(
        scale=float(np.clip(shrunk, *limits)), raw=float(raw), n=n, skipped=len(m) - n
    )
