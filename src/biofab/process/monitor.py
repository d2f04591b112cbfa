"""Batch-evolution monitoring: multiway PCA/PLS models learned from good batches.

A :class:`BatchMonitor` learns how good batches evolve and says, at every point of a
running batch, whether it still evolves like them, which variables say it does not, and
what end-of-batch quality it is heading for.

**Data.** A batch is a DataFrame with ``time_h`` (hours from inoculation, strictly
increasing) and one column per monitored variable. Batches are aligned onto one grid of
``K`` points (:mod:`biofab.process.alignment`: by time, by a maturity variable, or by
dynamic time warping) and the ``I`` good batches form a three-way array ``(I, K, J)``.

**Unfolding and scaling** (Nomikos & MacGregor 1994, AIChE J. 40:1361-1375): the array is
unfolded batch-wise to ``(I, K·J)``, columns ordered time-major (column ``k·J + j``) so
that "the batch up to time k" is a prefix. Each column is centred on the mean trajectory
and scaled by its standard deviation across batches (a floor of 1e-3 × the variable's
overall standard deviation keeps near-constant columns from exploding).

**Multiway PCA.** ``Z ≈ T Pᵀ`` by SVD with ``A`` components. ``A`` is chosen on the
training batches only, by batch-grouped cross-validation of *missing-variable
reconstruction* (Bro, Kjeldahl, Smilde & Kiers 2008, Anal. Bioanal. Chem. 390:1241-1251):
each batch is left out in turn, and each of its variables is predicted from its other
variables through the model of the remaining batches; ``A`` minimises the summed squared
error (PRESS). The table of every ``A`` tried is kept in ``cv_``.

**Online scores: projection to the model plane** (Nelson, Taylor & MacGregor 1996,
Chemom. Intell. Lab. Syst. 35:45-65). At grid point ``k`` only the first ``(k+1)·J``
columns ``z_k`` are known; the scores are their least-squares projection
``t̂_k = (P_kᵀ P_k)⁻¹ P_kᵀ z_k``, which is the same as filling the unknown future with the
model's own conditional reconstruction ``P_future t̂_k``.

**Statistics and limits** at each grid point ``k``:

- Hotelling ``T²_k = t̂_kᵀ S_k⁻¹ t̂_k``, ``S_k`` the covariance of the training batches'
  ``t̂_k``. Limit for a new batch (Tracy, Young & Mason 1992, J. Qual. Technol. 24:88-95;
  Nomikos & MacGregor 1995, Technometrics 37:41-59):
  ``T²_lim = A (I² - 1) / (I (I - A)) · F_α(A, I - A)``.
- ``SPE_k = Σ_j e_kj²``, the squared residual of the ``J`` variables at time ``k`` (the
  instantaneous SPE of Nomikos & MacGregor 1995; DModX up to a scale). Limit by Box's
  (1954) scaled chi-square: ``SPE_lim = g χ²_α(h)``, ``g = v / (2m)``, ``h = 2m² / v``,
  with ``m`` and ``v`` the mean and variance of the training batches' SPE pooled over a
  window of ±``window`` grid points. The training SPEs are *leave-one-batch-out*
  residuals: in-sample residuals are too small and would give too many false alarms
  (Ramaker, van Sprang, Westerhuis & Smilde 2004, Anal. Chim. Acta 515:31-39 show this
  for SPE limits from small training sets).

**Alarm rule.** A point is *flagged* when ``T²`` or ``SPE`` exceeds its ``alpha`` limit; an
*alarm* is raised at the ``run_length``-th consecutive flagged point (default 3).

**Contributions** (Westerhuis, Gurden & Smilde 2000, Chemom. Intell. Lab. Syst.
51:95-114): for SPE, ``e_kj²``; for T², ``Σ_c z_c (P_k (P_kᵀP_k)⁻¹ S_k⁻¹ t̂_k)_c`` summed
over the columns ``c`` of variable ``j`` up to ``k``, which add up to ``T²_k`` exactly.

**Golden-batch envelope**: mean ± ``envelope_k`` standard deviations of every variable
along the aligned grid (its own units).

**End-of-batch quality (multiway PLS).** NIPALS PLS2 (Geladi & Kowalski 1986, Anal. Chim.
Acta 185:1-17) from the complete unfolded batch to the autoscaled quality variables, the
number of components by leave-one-batch-out prediction error. While the batch runs, its
future is filled by the MPCA model-plane projection above and the completed batch goes
through the PLS model. The prediction interval at ``k`` is ``ŷ ± t_{0.975, I-1} s_k`` with
``s_k`` the root mean square leave-one-batch-out prediction error at ``k``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from biofab.core.errors import InputError
from biofab.process.alignment import DTWAligner, interpolate_on

__all__ = ["TIME", "BatchMonitor", "BatchScore", "alarm_points"]

Array = NDArray[np.float64]
TIME = "time_h"
ALIGNS = ("time", "maturity", "dtw")
MIN_BATCHES = 5
"""Fewest good batches a monitor is fitted on (limits from fewer are meaningless)."""


def alarm_points(flags: NDArray[np.bool_], run_length: int) -> NDArray[np.bool_]:
    """True from the ``run_length``-th of consecutive True ``flags`` on, while they last."""
    out = np.zeros(len(flags), dtype=bool)
    run = 0
    for k, f in enumerate(flags):
        run = run + 1 if f else 0
        out[k] = run >= run_length
    return out


# ---------------------------------------------------------------------------------------
# linear algebra helpers


def _pca(Z: Array, n: int) -> Array:
    """Loadings (columns, n) of the leading ``n`` principal components of ``Z``."""
    _, _, vt = np.linalg.svd(Z, full_matrices=False)
    return np.ascontiguousarray(vt[:n].T)


def _pmp_scores(P: Array, z: Array, J: int) -> tuple[Array, list[Array]]:
    """Projection-to-model-plane scores at every grid point: ``(K, A)`` for one batch
    ``z`` (K·J,) whose trailing NaN columns are unknown, and the inverses used."""
    K = P.shape[0] // J
    A = P.shape[1]
    blocks = P.reshape(K, J, A)
    gram = np.cumsum(np.einsum("kja,kjb->kab", blocks, blocks), axis=0)
    zb = np.nan_to_num(z.reshape(K, J))
    proj = np.cumsum(np.einsum("kja,kj->ka", blocks, zb), axis=0)
    ridge = 1e-9 * np.trace(gram[-1]) * np.eye(A)
    inv = [np.linalg.inv(g + ridge) for g in gram]
    t = np.stack([inv[k] @ proj[k] for k in range(K)])
    return t, inv


def _pmp_all(P: Array, Z: Array, J: int) -> tuple[Array, Array]:
    """PMP scores ``(I, K, A)`` and current-time residuals ``(I, K, J)`` of complete rows."""
    K = P.shape[0] // J
    A = P.shape[1]
    blocks = P.reshape(K, J, A)
    gram = np.cumsum(np.einsum("kja,kjb->kab", blocks, blocks), axis=0)
    ridge = 1e-9 * np.trace(gram[-1]) * np.eye(A)
    inv = np.linalg.inv(gram + ridge)
    zb = Z.reshape(len(Z), K, J)
    proj = np.cumsum(np.einsum("kja,ikj->ika", blocks, zb), axis=1)
    t = np.einsum("kab,ikb->ika", inv, proj)
    resid = zb - np.einsum("kja,ika->ikj", blocks, t)
    return t, resid


def _nipals_pls(X: Array, Y: Array, n: int) -> tuple[Array, Array, Array]:
    """NIPALS PLS2 on centred ``X`` (I, p) and ``Y`` (I, m): ``(W*, P, Q)`` with
    ``T = X W*`` and ``Ŷ = T Qᵀ`` (Geladi & Kowalski 1986)."""
    Xr, Yr = X.copy(), Y.copy()
    W, Pl, Q = [], [], []
    for _ in range(n):
        u = Yr[:, int(np.argmax((Yr**2).sum(axis=0)))].copy()
        w = np.zeros(X.shape[1])
        for _ in range(200):
            w = Xr.T @ u
            w /= max(float(np.linalg.norm(w)), 1e-300)
            t = Xr @ w
            q = Yr.T @ t / max(float(t @ t), 1e-300)
            u_new = Yr @ q / max(float(q @ q), 1e-300)
            if np.linalg.norm(u_new - u) <= 1e-10 * max(float(np.linalg.norm(u_new)), 1e-300):
                u = u_new
                break
            u = u_new
        t = Xr @ w
        tt = max(float(t @ t), 1e-300)
        p = Xr.T @ t / tt
        q = Yr.T @ t / tt
        Xr -= np.outer(t, p)
        Yr -= np.outer(t, q)
        W.append(w)
        Pl.append(p)
        Q.append(q)
    Wm, Pm, Qm = np.array(W).T, np.array(Pl).T, np.array(Q).T
    w_star = Wm @ np.linalg.pinv(Pm.T @ Wm)
    return w_star, Pm, Qm


def _box_limit(spe: Array, alpha: float, window: int) -> Array:
    """Box's scaled chi-square limit per grid point from training SPEs ``(I, K)``,
    moments pooled over ``±window`` neighbouring points."""
    from scipy.stats import chi2

    K = spe.shape[1]
    out = np.empty(K)
    for k in range(K):
        pool = spe[:, max(0, k - window) : k + window + 1].ravel()
        m, v = float(pool.mean()), float(pool.var(ddof=1))
        if m <= 0 or v <= 0:
            out[k] = max(m, 1e-12)
            continue
        g, h = v / (2 * m), 2 * m * m / v
        out[k] = g * chi2.ppf(alpha, h)
    return out


# ---------------------------------------------------------------------------------------
# result of scoring one batch


@dataclass
class BatchScore:
    """Monitoring statistics of one batch at every aligned grid point it has reached.

    ``grid``: aligned position (h, maturity units, or reference index); ``time_h``: the
    batch's own time there (h). ``t2``/``spe`` and their ``*_limit``; ``flags`` (a
    statistic beyond its limit); ``alarm`` (``run_length`` consecutive flags);
    ``contrib_t2``/``contrib_spe`` ``(K, J)``; ``outside`` ``(K, J)`` beyond the golden
    envelope; ``values`` ``(K, J)`` the aligned batch; ``quality`` ``(K, m)`` predicted
    end-of-batch quality with ``quality_low``/``quality_high`` (95 % interval).
    """

    batch: str
    variables: list[str]
    grid: Array
    time_h: Array
    values: Array
    t2: Array
    t2_limit: Array
    spe: Array
    spe_limit: Array
    flags: NDArray[np.bool_]
    alarm: NDArray[np.bool_]
    contrib_t2: Array
    contrib_spe: Array
    outside: NDArray[np.bool_]
    quality_names: list[str] = field(default_factory=list)
    quality: Array | None = None
    quality_low: Array | None = None
    quality_high: Array | None = None

    @property
    def first_alarm(self) -> int | None:
        """Grid index of the first alarm point, None when the batch never alarmed."""
        hits = np.flatnonzero(self.alarm)
        return int(hits[0]) if hits.size else None

    @property
    def first_alarm_time_h(self) -> float | None:
        k = self.first_alarm
        return None if k is None else float(self.time_h[k])

    def drivers(self, k: int, statistic: str = "auto", top: int = 3) -> list[str]:
        """The variables contributing most at grid point ``k`` (to SPE when it is over its
        limit, else to T²; or the one named)."""
        if statistic == "auto":
            statistic = "spe" if self.spe[k] > self.spe_limit[k] else "t2"
        c = self.contrib_spe[k] if statistic == "spe" else self.contrib_t2[k]
        order = np.argsort(-c)
        return [self.variables[j] for j in order[:top]]

    def to_frame(self) -> pd.DataFrame:
        """One row per grid point: grid, time_h, T², SPE, limits, flag, alarm, quality."""
        frame = pd.DataFrame(
            {
                "batch": self.batch,
                "grid": self.grid,
                TIME: self.time_h,
                "T2": self.t2,
                "T2_limit": self.t2_limit,
                "SPE": self.spe,
                "SPE_limit": self.spe_limit,
                "flag": self.flags,
                "alarm": self.alarm,
            }
        )
        if self.quality is not None and self.quality_low is not None:
            assert self.quality_high is not None
            for i, name in enumerate(self.quality_names):
                frame[f"{name}_pred"] = self.quality[:, i]
                frame[f"{name}_low"] = self.quality_low[:, i]
                frame[f"{name}_high"] = self.quality_high[:, i]
        return frame


# ---------------------------------------------------------------------------------------
# the estimator


class BatchMonitor:
    """Multiway PCA (and PLS for quality) batch monitor, scikit-learn style.

    Parameters
    ----------
    n_components:
        MPCA components; None chooses by batch-grouped cross-validation (module docstring),
        at most ``max_components``.
    alpha:
        Confidence level of the T² and SPE limits (0.99: 1 % of good points beyond).
    align:
        ``"time"`` (interpolate at common hours), ``"maturity"`` (against the monotonic
        variable ``maturity``) or ``"dtw"``.
    maturity:
        Column that measures progress, for ``align="maturity"`` (e.g. cumulative feed, L).
    dt:
        Grid step for ``align="time"`` (h); default the median sampling interval.
    grid_points:
        Grid size for ``align="maturity"``; default the median number of samples.
    run_length:
        Consecutive flagged points that make an alarm.
    envelope_k:
        Half-width of the golden-batch envelope in standard deviations.
    window:
        Grid points each side pooled into the SPE limit's moments.
    quality_components:
        MPLS components; None chooses by leave-one-batch-out prediction error.
    """

    def __init__(
        self,
        n_components: int | None = None,
        alpha: float = 0.99,
        align: str = "time",
        maturity: str | None = None,
        dt: float | None = None,
        grid_points: int | None = None,
        run_length: int = 3,
        envelope_k: float = 3.0,
        window: int = 2,
        max_components: int = 8,
        quality_components: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.alpha = alpha
        self.align = align
        self.maturity = maturity
        self.dt = dt
        self.grid_points = grid_points
        self.run_length = run_length
        self.envelope_k = envelope_k
        self.window = window
        self.max_components = max_components
        self.quality_components = quality_components

    # -- checks and alignment ---------------------------------------------------------

    def _check_params(self) -> None:
        if self.align not in ALIGNS:
            raise InputError(
                "unknown alignment", column="align", expected=" | ".join(ALIGNS), found=self.align
            )
        if self.align == "maturity" and not self.maturity:
            raise InputError("maturity alignment needs a maturity variable", column="maturity")
        if not 0.5 < self.alpha < 1:
            raise InputError("alpha must be in (0.5, 1)", column="alpha", found=self.alpha)
        if self.run_length < 1:
            raise InputError("run_length must be >= 1", found=self.run_length)

    def _arrays(self, name: str, frame: pd.DataFrame, variables: Sequence[str]) -> Array:
        missing = [v for v in [TIME, *variables] if v not in frame.columns]
        if self.align == "maturity" and self.maturity not in frame.columns:
            missing.append(str(self.maturity))
        if missing:
            raise InputError(
                f"batch '{name}' lacks monitored variable(s) {', '.join(missing)}",
                column=missing[0],
                expected=", ".join([TIME, *variables]),
            )
        cols = [TIME, *variables] + ([str(self.maturity)] if self.align == "maturity" else [])
        values = frame[cols].to_numpy(dtype=float)
        if not np.all(np.isfinite(values)):
            raise InputError(f"batch '{name}' has missing or non-finite values")
        t = values[:, 0]
        if len(t) < 2 or np.any(np.diff(t) <= 0):
            raise InputError(
                f"batch '{name}': time must be strictly increasing with >= 2 samples",
                column=TIME,
            )
        return values

    def _monitored(self) -> list[str]:
        """Columns of the aligned array: the variables, plus the batch's own time when the
        grid is not time (how fast a batch got there is part of its evolution)."""
        extra = [TIME] if self.align != "time" else []
        return [*self.variables_, *extra]

    def _setup_grid(self, raws: list[Array], names: list[str]) -> None:
        if self.align == "time":
            dt = self.dt or float(np.median(np.concatenate([np.diff(r[:, 0]) for r in raws])))
            end = min(float(r[-1, 0]) for r in raws)
            start = max(float(r[0, 0]) for r in raws)
            self.grid_ = np.arange(start, end + 1e-9, dt)
        elif self.align == "maturity":
            pairs = zip(raws, names, strict=True)
            mats = [self._maturity_track(r, f"batch '{n}'") for r, n in pairs]
            lo = max(float(m[0][0]) for m in mats)
            hi = min(float(m[0][-1]) for m in mats)
            if not hi > lo:
                raise InputError("the maturity variable does not grow in the good batches")
            n = self.grid_points or int(np.median([len(r) for r in raws]))
            self.grid_ = np.linspace(lo, hi, n)
        else:
            # DTW matches the variables and the batch's own clock, time last.
            self.aligner_ = DTWAligner().fit([np.column_stack([r[:, 1:], r[:, 0]]) for r in raws])
            self.grid_ = np.arange(len(self.aligner_.reference_), dtype=float)

    def _maturity_track(self, raw: Array, name: str) -> tuple[Array, Array]:
        """Maturity values and rows kept: it must not decrease; each plateau keeps its last
        sample (a maturity that stands still says nothing about progress)."""
        m = raw[:, -1]
        if np.any(np.diff(m) < 0):
            i = int(np.flatnonzero(np.diff(m) < 0)[0]) + 1
            raise InputError(
                f"{name}: the maturity variable decreases at its sample {i + 1} "
                f"(time {raw[i, 0]:g} h)",
                column=str(self.maturity),
                expected="non-decreasing values (e.g. cumulative feed)",
                found=f"{m[i - 1]:g} then {m[i]:g}",
            )
        keep = np.append(np.diff(m) > 0, True)
        return m[keep], raw[keep]

    def _align_one(self, raw: Array, name: str, partial: bool) -> Array:
        """(K, J') aligned values of one batch; grid points not reached yet are NaN."""
        J = len(self.variables_)
        if self.align == "time":
            return interpolate_on(raw[:, 0], raw[:, 1 : J + 1], self.grid_)
        if self.align == "maturity":
            m, kept = self._maturity_track(raw, f"batch '{name}'")
            vals = np.column_stack([kept[:, 1 : J + 1], kept[:, 0]])
            return interpolate_on(m, vals, self.grid_)
        vals = np.column_stack([raw[:, 1 : J + 1], raw[:, 0]])
        return self.aligner_.transform(vals, open_end=partial)

    # -- fit ----------------------------------------------------------------------------

    def fit(
        self,
        batches: Mapping[str, pd.DataFrame],
        quality: pd.DataFrame | None = None,
        variables: Sequence[str] | None = None,
    ) -> BatchMonitor:
        """Learn from good ``batches`` (name -> frame with ``time_h`` and the variables).

        ``quality``: end-of-batch quality, indexed by batch name, one column per quality
        variable (enables the MPLS prediction). ``variables``: monitored columns; default
        every column of the first batch except ``time_h`` (and the maturity variable).
        """
        self._check_params()
        if len(batches) < MIN_BATCHES:
            raise InputError(
                "too few good batches to learn a monitoring model",
                expected=f">= {MIN_BATCHES}",
                found=len(batches),
            )
        names = list(batches)
        first = batches[names[0]]
        skip = {TIME, self.maturity}
        self.variables_ = list(variables or [c for c in first.columns if c not in skip])
        if not self.variables_:
            raise InputError("no variables to monitor", expected="at least one numeric column")
        raws = [self._arrays(n, batches[n], self.variables_) for n in names]
        self._setup_grid(raws, names)
        aligned = np.stack([self._align_one(r, n, False) for r, n in zip(raws, names, strict=True)])
        if np.isnan(aligned).any():
            raise InputError("a good batch does not cover the common grid")
        self.batches_ = names
        self._fit_arrays(aligned)
        if quality is not None:
            self._fit_quality(self._quality_matrix(quality, names))
        return self

    def _quality_matrix(self, quality: pd.DataFrame, names: list[str]) -> Array:
        missing = [n for n in names if n not in quality.index]
        if missing:
            raise InputError(
                f"quality table lacks good batch(es) {', '.join(missing[:3])}", column="batch"
            )
        Y = quality.loc[names].to_numpy(dtype=float)
        if Y.ndim != 2 or Y.shape[1] == 0 or not np.all(np.isfinite(Y)):
            raise InputError("quality values must be finite numbers, one column per quality")
        self.quality_names_ = [str(c) for c in quality.columns]
        return Y

    def _scaling(self, X3: Array) -> tuple[Array, Array]:
        mean = X3.mean(axis=0)
        std = X3.std(axis=0, ddof=1)
        overall = X3.reshape(-1, X3.shape[2]).std(axis=0, ddof=1)
        floor = np.maximum(1e-3 * overall, 1e-12)
        return mean, np.maximum(std, floor)

    def _fit_arrays(self, X3: Array) -> None:
        nb, K, J = X3.shape
        self.mean_, self.std_ = self._scaling(X3)
        self.envelope_sd_ = X3.std(axis=0, ddof=1)
        Z = ((X3 - self.mean_) / self.std_).reshape(nb, K * J)
        self._Z = Z
        self._X3 = X3
        a_max = max(1, min(self.max_components, nb - 2, K * J))
        self.cv_ = self._cv_components(X3, a_max)
        if self.n_components is None:
            self.n_components_ = int(
                self.cv_["n_components"].to_numpy()[np.argmin(self.cv_["press"])]
            )
        else:
            if not 1 <= self.n_components <= nb - 2:
                raise InputError(
                    "n_components must leave at least two degrees of freedom",
                    expected=f"1..{nb - 2} for {nb} batches",
                    found=self.n_components,
                )
            self.n_components_ = int(self.n_components)
        A = self.n_components_
        self.P_ = _pca(Z, A)
        t, _ = _pmp_all(self.P_, Z, J)
        self.score_cov_ = np.stack([np.cov(t[:, k, :].T, ddof=1).reshape(A, A) for k in range(K)])
        self.score_cov_inv_ = np.linalg.pinv(self.score_cov_)
        from scipy.stats import f as fdist

        f_quantile = fdist.ppf(self.alpha, A, nb - A)
        self.t2_limit_ = float(A * (nb * nb - 1) / (nb * (nb - A)) * f_quantile)
        self.spe_loo_ = self._loo_spe(X3, A)
        self.spe_limit_ = _box_limit(self.spe_loo_, self.alpha, self.window)

    def _cv_components(self, X3: Array, a_max: int) -> pd.DataFrame:
        """PRESS of missing-variable reconstruction, leave one batch out, per A."""
        nb, K, J = X3.shape
        press = np.zeros(a_max)
        for i in range(nb):
            rest = np.delete(X3, i, axis=0)
            mean, std = self._scaling(rest)
            Z = ((rest - mean) / std).reshape(nb - 1, K * J)
            z = ((X3[i] - mean) / std).reshape(K * J)
            P = _pca(Z, a_max)
            for j in range(J):
                cols = np.arange(K) * J + j
                known = np.setdiff1d(np.arange(K * J), cols)
                for a in range(1, a_max + 1):
                    Pk = P[known, :a]
                    t = np.linalg.lstsq(Pk, z[known], rcond=None)[0]
                    press[a - 1] += float(((z[cols] - P[cols, :a] @ t) ** 2).sum())
        return pd.DataFrame({"n_components": np.arange(1, a_max + 1), "press": press})

    def _loo_spe(self, X3: Array, A: int) -> Array:
        nb, K, J = X3.shape
        out = np.empty((nb, K))
        for i in range(nb):
            rest = np.delete(X3, i, axis=0)
            mean, std = self._scaling(rest)
            Z = ((rest - mean) / std).reshape(nb - 1, K * J)
            z = ((X3[i] - mean) / std).reshape(1, K * J)
            _, resid = _pmp_all(_pca(Z, A), z, J)
            out[i] = (resid[0] ** 2).sum(axis=1)
        return out

    # -- quality (MPLS) ---------------------------------------------------------------------

    def _fit_quality(self, Y: Array) -> None:
        nb = Y.shape[0]
        X3 = self._X3
        a_max = max(1, min(self.max_components, nb - 2))
        # Leave-one-batch-out predictions of the complete batch for every A, and of the
        # running batch at every grid point for the chosen A.
        folds = [
            self._quality_fold(np.delete(X3, i, 0), np.delete(Y, i, 0), a_max) for i in range(nb)
        ]
        complete = np.stack([f.predict_complete(X3[i]) for i, f in enumerate(folds)])  # (nb,A,m)
        press = ((complete - Y[:, None, :]) / Y.std(axis=0, ddof=1)) ** 2
        self.quality_cv_ = pd.DataFrame(
            {"n_components": np.arange(1, a_max + 1), "press": press.sum(axis=(0, 2))}
        )
        if self.quality_components is None:
            cv = self.quality_cv_
            self.quality_components_ = int(cv["n_components"].to_numpy()[np.argmin(cv["press"])])
        else:
            self.quality_components_ = int(min(self.quality_components, a_max))
        self.pls_ = self._quality_fold(X3, Y, self.quality_components_)
        self.pls_.keep(self.quality_components_)
        for f in folds:
            f.keep(self.quality_components_)
        running = np.stack([f.predict_running(X3[i]) for i, f in enumerate(folds)])
        resid = running - Y[:, None, :]  # (nb, K, m)
        self.quality_loo_rmse_ = np.sqrt((resid**2).mean(axis=0))  # (K, m)
        from scipy.stats import t as tdist

        self.quality_t_ = float(tdist.ppf(0.975, nb - 1))

    def _quality_fold(self, X3: Array, Y: Array, a: int) -> _Pls:
        nb, K, J = X3.shape
        mean, std = self._scaling(X3)
        Z = ((X3 - mean) / std).reshape(nb, K * J)
        ymean, ystd = Y.mean(axis=0), np.maximum(Y.std(axis=0, ddof=1), 1e-12)
        w_star, _, Q = _nipals_pls(Z, (Y - ymean) / ystd, a)
        P = _pca(Z, min(self.n_components_, nb - 1))
        return _Pls(mean, std, P, w_star, Q, ymean, ystd, J)

    # -- scoring --------------------------------------------------------------------------

    def align_batch(self, batch: pd.DataFrame, name: str = "batch") -> Array:
        """The batch on the model's grid ``(K, J')``; NaN where it has not got to yet."""
        return self._align_one(self._arrays(name, batch, self.variables_), name, True)

    def score(self, batch: pd.DataFrame, name: str = "batch") -> BatchScore:
        """T², SPE, limits, flags, alarms, contributions and quality of a (running) batch."""
        if not hasattr(self, "P_"):
            raise InputError("the monitor is not fitted; call fit(good_batches) first")
        aligned = self.align_batch(batch, name)
        reached = np.flatnonzero(~np.isnan(aligned).any(axis=1))
        if reached.size == 0:
            raise InputError(f"batch '{name}' does not reach the model's grid")
        n = int(reached[-1]) + 1
        aligned = aligned[:n]
        K, J = self.mean_.shape
        z = np.full(K * J, np.nan)
        z[: n * J] = ((aligned - self.mean_[:n]) / self.std_[:n]).ravel()
        t, inv = _pmp_scores(self.P_, z, J)
        blocks = self.P_.reshape(K, J, -1)
        t2 = np.empty(n)
        spe = np.empty(n)
        c_t2 = np.zeros((n, J))
        c_spe = np.zeros((n, J))
        zb = z.reshape(K, J)
        for k in range(n):
            s_inv_t = self.score_cov_inv_[k] @ t[k]
            t2[k] = float(t[k] @ s_inv_t)
            e = zb[k] - blocks[k] @ t[k]
            spe[k] = float(e @ e)
            c_spe[k] = e * e
            weights = blocks[: k + 1] @ (inv[k] @ s_inv_t)  # (k+1, J)
            c_t2[k] = (zb[: k + 1] * weights).sum(axis=0)
        t2_lim = np.full(n, self.t2_limit_)
        spe_lim = self.spe_limit_[:n]
        flags = (t2 > t2_lim) | (spe > spe_lim)
        lo = self.mean_[:n] - self.envelope_k * self.envelope_sd_[:n]
        hi = self.mean_[:n] + self.envelope_k * self.envelope_sd_[:n]
        monitored = self._monitored()
        time_h = self.grid_[:n] if self.align == "time" else aligned[:, monitored.index(TIME)]
        out = BatchScore(
            batch=name,
            variables=monitored,
            grid=self.grid_[:n],
            time_h=time_h,
            values=aligned,
            t2=t2,
            t2_limit=t2_lim,
            spe=spe,
            spe_limit=spe_lim,
            flags=flags,
            alarm=alarm_points(flags, self.run_length),
            contrib_t2=c_t2,
            contrib_spe=c_spe,
            outside=(aligned < lo) | (aligned > hi),
        )
        if hasattr(self, "pls_"):
            pred = self.pls_.predict_running(aligned, upto=n)
            half = self.quality_t_ * self.quality_loo_rmse_[:n]
            out.quality_names = list(self.quality_names_)
            out.quality, out.quality_low, out.quality_high = pred, pred - half, pred + half
        return out

    def envelope(self) -> tuple[Array, Array, Array]:
        """Golden-batch mean, lower and upper envelope ``(K, J')`` in the variables' units."""
        half = self.envelope_k * self.envelope_sd_
        return self.mean_, self.mean_ - half, self.mean_ + half

    def summary(self) -> dict[str, Any]:
        """The fitted settings (for reports and ``--json``)."""
        out: dict[str, Any] = {
            "batches": len(self.batches_),
            "variables": self._monitored(),
            "align": self.align,
            "grid_points": int(self.grid_.size),
            "n_components": self.n_components_,
            "alpha": self.alpha,
            "t2_limit": self.t2_limit_,
            "run_length": self.run_length,
            "cv_press": self.cv_.to_dict("records"),
        }
        if hasattr(self, "pls_"):
            out["quality"] = list(self.quality_names_)
            out["quality_components"] = self.quality_components_
            out["quality_cv_press"] = self.quality_cv_.to_dict("records")
        return out


@dataclass
class _Pls:
    """One MPLS model with its own scaling and the MPCA loadings that fill the future."""

    mean: Array
    std: Array
    P: Array
    w_star: Array
    Q: Array
    ymean: Array
    ystd: Array
    J: int

    def keep(self, a: int) -> None:
        """Refit-free truncation to ``a`` components (NIPALS components are nested)."""
        self.w_star = self.w_star[:, :a]
        self.Q = self.Q[:, :a]

    def predict_complete(self, X: Array) -> Array:
        """``(A, m)``: the complete batch's prediction with 1..A components."""
        z = ((X - self.mean) / self.std).ravel()
        t = z @ self.w_star
        preds = np.cumsum(t[:, None] * self.Q.T, axis=0)
        return preds * self.ystd + self.ymean

    def predict_running(self, X: Array, upto: int | None = None) -> Array:
        """``(K, m)``: at each grid point, the future filled by the MPCA model-plane
        projection (:func:`_pmp_scores`), then the completed batch through the PLS."""
        K, J = self.mean.shape
        n = K if upto is None else upto
        z = np.full(K * J, np.nan)
        z[: n * J] = ((X[:n] - self.mean[:n]) / self.std[:n]).ravel()
        t, _ = _pmp_scores(self.P, z, J)
        out = np.empty((n, self.Q.shape[0]))
        for k in range(n):
            filled = self.P @ t[k]
            filled[: (k + 1) * J] = z[: (k + 1) * J]
            out[k] = (filled @ self.w_star) @ self.Q.T
        return out * self.ystd + self.ymean
