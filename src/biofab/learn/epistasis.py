"""``EpistaticGP``: a Gaussian process over combinations of choices whose kernel
counts shared choices, site by site and in pairs (the epistasis of a site library).

A design of a combinatorial space is a vector of ``L`` labels (one residue per
mutated site, one part per slot). The model is Bayesian linear regression on
indicator features of every set of up to ``order`` sites (one weight per site
and residue, one per site pair and residue pair, ...), with a prior variance
per order. Its kernel depends only on the number ``m`` of sites two designs share:

    k(x, x') = s0 + sum_o s_o * C(m, o) / C(L, o)

(a "weighted degree" or Hamming-polynomial kernel; the pairwise term is the
additive + pairwise epistasis model of e.g. Otwinowski & Plotkin 2014, the
kernel view that of Romero et al. 2013, PNAS 110:E193). The shares ``s_o``
and the noise are chosen by marginal likelihood over a small fixed grid each
fit (ML-II; no test data are used).

Because the features are explicit, a posterior *function* can be drawn for a
whole pool at once (weight-space prior draw + Matheron's update, Wilson et al.
2020, ICML), which makes batch Thompson sampling over 10^5-10^6 candidates cheap.
Designs are given as integer codes ``(n, L)``; :meth:`fit`/:meth:`predict` also
accept the space's one-hot encoding (blocks of ``sizes`` columns), so the model
keeps the surrogate contract of :mod:`biofab.learn.surrogate`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Self

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from biofab.learn.state import SurrogateState

#: Rows of the pool handled at once (bounds the ``rows x n_train`` kernel block).
CHUNK = 16384
#: Largest feature count for which the posterior covariance of the weights is held densely.
MAX_DENSE_FEATURES = 6000
#: Target transforms of :class:`EpistaticGP`.
TRANSFORMS = ("none", "rank", "log", "sqrt")


def codes_from_onehot(X: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """One-hot blocks of ``sizes`` columns -> integer codes ``(n, L)`` (argmax per block)."""
    Xa = np.asarray(X, dtype=float)
    if Xa.ndim != 2 or Xa.shape[1] != sum(sizes):
        raise ValueError(f"X must have {sum(sizes)} one-hot columns, got shape {Xa.shape}")
    edges = np.cumsum((0, *sizes))
    return np.stack([Xa[:, a:b].argmax(1) for a, b in itertools.pairwise(edges)], 1)


class EpistaticGP:
    """GP regression over label combinations with site and pair (up to ``order``) terms.

    Parameters
    ----------
    sizes:
        Number of choices at each site (``len(sizes)`` = ``L``).
    order:
        Highest number of sites a term couples (1 additive, 2 pairwise).
    noise_grid, pair_share_grid, amplitude_grid:
        ML-II grid (y standardised): observation noise variance, the share of
        the highest order in the prior variance (the rest split evenly over the
        lower orders), and the total prior variance. The grids reach past where
        GB1 fits chose their edges (pair share 0.8, amplitude 0.5, noise 0.5 in
        most early rounds of the narrower first grid), so ML-II is not clipped.
    transform:
        ``"none"`` models ``y``; ``"rank"`` models the normal scores of ``y``'s
        ranks (robust to a few huge values; ``predict`` then answers in that scale);
        ``"log"`` models ``log(y - low + offset * sd(y))`` (``low`` = the smallest
        ``y`` when it is negative, else 0): fitness effects that multiply become
        additive, and a few huge values no longer dominate the fit; ``"sqrt"``
        models ``sqrt(y - low)``, a milder compression. For ``"log"`` and ``"sqrt"``
        :meth:`predict` and :meth:`predict_interval` answer in ``y``'s units
        (the back-transformed median, the std by the delta method);
        :meth:`predict_codes` in the model's scale (monotone, so rankings agree).
    offset:
        ``"log"``'s offset in units of the training ``y``'s standard deviation
        (keeps the many near-zero values of a skewed landscape from spreading out
        into a wide, noisy tail of large negative logs).
    prior_table, prior_scale_grid:
        A prior mean ``beta * p(x)``: ``prior_table[s][c]`` is the prior score of
        choice ``c`` at site ``s`` (e.g. a zero-shot score; higher = fitter), ``p``
        their sum over sites, standardised on the training variants; ``beta`` (in
        standardised-target units per prior sd) is chosen with the kernel by
        marginal likelihood from ``prior_scale_grid`` (0 included: a prior that
        does not fit the data is switched off). ``None``: a constant mean.
    groups, group_share_grid:
        ``groups[s][c]``: the group (an index from 0) of choice ``c`` at site ``s``,
        e.g. residue classes, so that similar choices share strength: the kernel
        becomes ``s0 + (1 - g) k(m) + g k(m_g)``, ``m_g`` the number of sites whose
        choices fall in the same group (the same site and pair terms on the
        groups' labels: what the data say about A at a site also moves its
        group-mates). ``g`` is chosen by marginal likelihood from
        ``group_share_grid`` (0 included: groups the data contradict are dropped).
        ``None``: exact matches only.
    ard, ard_prior_sd:
        After the grid, refine one prior variance per *block* (each site, each
        site pair, and their group blocks) and the noise by maximising the
        marginal likelihood times a log-normal hyper-prior of ``ard_prior_sd``
        (natural-log units) around the grid's choice (type-II MAP, L-BFGS):
        a site pair with strong epistasis gets a larger variance, so the model
        stays uncertain about combinations it has not seen there. ``False``:
        the grid's shares only.
    tilt_grid:
        Pair weights' prior variance that grows with the site effects (order 2 only,
        no ``groups``, no ``ard``): after the grid's fit, every pair weight of choices
        ``a`` at site ``s`` and ``b`` at ``t`` gets the prior variance
        ``v_pair * exp(gamma * (u_s(a) + u_t(b)) / 2)`` (normalised to the pair block's
        mean), ``u`` the fitted site effects in units of their root mean square, and
        ``gamma`` is chosen with the shares and the noise by marginal likelihood from
        this grid (0 included: the plain kernel, kept unless the data prefer the tilt).
        Why: on a landscape where most variants are dead, the pair terms of choices that
        are each good alone are the ones that matter (fitness effects that multiply),
        so the model should stay unsure about their unmeasured combinations instead of
        shrinking them like any other pair. ``(0.0,)`` (default): off.
    tilt_select:
        How ``gamma`` (with the shares and the noise) is chosen: ``"evidence"``
        (default; marginal likelihood, as above) or ``"loo"`` (the exact leave-one-out
        log predictive density of the training variants, Rasmussen & Williams 2006 eq.
        5.10-5.12; the tilt must beat the plain fit's). Why ``"loo"`` was tried: the
        tilt's site effects are fitted on the same data, so its marginal likelihood is
        optimistic. Checked: it chose the same tilt as the evidence on first plates of
        GB1 and of an NK landscape (BENCHMARKS.md, seventh pass), so it is not a cure.

    Attributes
    ----------
    codes_, alpha_, chol_, shares_, noise_, y_mean_, y_std_, log_evidence_:
        Training codes, dual weights, Cholesky factor, chosen kernel shares
        (order 0..order), noise variance, standardisation and the chosen evidence.
    group_scale_:
        The chosen group share ``g`` (0 without ``groups``).
    interval_scale_:
        Calibration factor of :meth:`predict_interval` (leave-one-out, on the
        training variants predicted highest).
    """

    def __init__(
        self,
        sizes: tuple[int, ...],
        order: int = 2,
        noise_grid: tuple[float, ...] = (0.01, 0.05, 0.2, 0.5, 0.8),
        pair_share_grid: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 0.9, 0.95),
        amplitude_grid: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0),
        transform: str = "none",
        offset: float = 0.1,
        prior_table: Sequence[Sequence[float]] | None = None,
        prior_scale_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0),
        groups: Sequence[Sequence[int]] | None = None,
        group_share_grid: tuple[float, ...] = (0.0, 0.25, 0.5),
        ard: bool = False,
        ard_prior_sd: float = 1.0,
        tilt_grid: tuple[float, ...] = (0.0,),
        tilt_select: str = "evidence",
    ) -> None:
        self.sizes = tuple(int(s) for s in sizes)
        self.order = order
        self.noise_grid = tuple(noise_grid)
        self.pair_share_grid = tuple(pair_share_grid)
        self.amplitude_grid = tuple(amplitude_grid)
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        self.transform = transform
        if not offset > 0:
            raise ValueError(f"offset must be > 0, got {offset!r}")
        self.offset = offset
        if prior_table is not None:
            if len(prior_table) != len(self.sizes) or any(
                len(row) != size for row, size in zip(prior_table, self.sizes, strict=True)
            ):
                raise ValueError("prior_table needs one score per choice at every site")
            if not all(math.isfinite(float(v)) for row in prior_table for v in row):
                raise ValueError("prior_table holds a value that is not a finite number")
        self.prior_table = (
            None
            if prior_table is None
            else tuple(tuple(float(v) for v in row) for row in prior_table)
        )
        self.prior_scale_grid = tuple(prior_scale_grid)
        if groups is not None:
            if len(groups) != len(self.sizes) or any(
                len(row) != size for row, size in zip(groups, self.sizes, strict=True)
            ):
                raise ValueError("groups needs one group index per choice at every site")
            if any(int(g) < 0 for row in groups for g in row):
                raise ValueError("group indices must be >= 0")
        self.groups = None if groups is None else tuple(tuple(int(g) for g in r) for r in groups)
        if not all(0.0 <= g <= 1.0 for g in group_share_grid) or not group_share_grid:
            raise ValueError("group_share_grid holds shares in [0, 1]")
        self.group_share_grid = tuple(group_share_grid)
        self.ard = bool(ard)
        if not ard_prior_sd > 0:
            raise ValueError(f"ard_prior_sd must be > 0, got {ard_prior_sd!r}")
        self.ard_prior_sd = float(ard_prior_sd)
        if not tilt_grid or not all(math.isfinite(float(v)) and v >= 0 for v in tilt_grid):
            raise ValueError(f"tilt_grid holds finite values >= 0, got {tilt_grid!r}")
        self.tilt_grid = tuple(float(v) for v in tilt_grid)
        if any(v > 0 for v in self.tilt_grid) and (
            order != 2 or self.groups is not None or self.ard
        ):
            raise ValueError("tilt_grid needs order 2 and neither groups nor ard")
        if tilt_select not in ("evidence", "loo"):
            raise ValueError(f"tilt_select must be 'evidence' or 'loo', got {tilt_select!r}")
        self.tilt_select = tilt_select

    # -- kernel ----------------------------------------------------------------------
    @property
    def n_sites(self) -> int:
        return len(self.sizes)

    def _kernel_by_matches(self, shares: np.ndarray) -> np.ndarray:
        """``k`` as a function of the number of shared sites ``m = 0..L``."""
        L = self.n_sites
        m = np.arange(L + 1)
        k = np.full(L + 1, shares[0])
        for o in range(1, self.order + 1):
            k = k + shares[o] * np.array([math.comb(int(v), o) for v in m]) / math.comb(L, o)
        return k

    def _gram(
        self, shares: np.ndarray, group_share: float, M: np.ndarray, Mg: np.ndarray | None
    ) -> np.ndarray:
        """The kernel matrix from exact matches ``M`` and, with ``groups``, group
        matches ``Mg``: ``s0 + (1 - g) k_res(M) + g k_res(Mg)`` (``k_res``: the
        site and pair terms, no constant)."""
        k = self._kernel_by_matches(shares)
        if Mg is None or group_share == 0:
            return np.asarray(k[M])  # exactly the plain kernel's arithmetic
        base = k - shares[0]
        out = shares[0] + (1.0 - group_share) * base[M]
        if Mg is not None and group_share > 0:
            out = out + group_share * base[Mg]
        return np.asarray(out)

    def _group_codes(self, codes: np.ndarray) -> np.ndarray:
        """Codes ``(n, L)`` -> their groups' indices ``(n, L)`` (``groups`` must be set)."""
        assert self.groups is not None
        return np.stack([np.asarray(row)[codes[:, s]] for s, row in enumerate(self.groups)], 1)

    @property
    def _group_sizes(self) -> tuple[int, ...]:
        assert self.groups is not None
        return tuple(max(row) + 1 for row in self.groups)

    def _matches(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        out = np.zeros((len(A), len(B)), dtype=np.int8)
        for s in range(self.n_sites):
            out += A[:, s, None] == B[None, :, s]
        return out

    def _share_options(self) -> list[np.ndarray]:
        options = []
        for top in self.pair_share_grid if self.order > 1 else (1.0,):
            for amp in self.amplitude_grid:
                lower = (1 - top) / self.order if self.order > 1 else 0.0
                shares = np.array([0.05] + [lower] * (self.order - 1) + [top]) * amp
                if self.order == 1:
                    shares = np.array([0.05, 1.0]) * amp
                options.append(shares)
        return options

    # -- fitting ---------------------------------------------------------------------
    def _target(self, y: np.ndarray) -> np.ndarray:
        """The modelled target; sets ``shift_`` (what is added to ``y`` first)."""
        self.shift_ = 0.0
        if self.transform == "rank":
            from scipy.stats import norm, rankdata

            return np.asarray(norm.ppf((rankdata(y) - 0.5) / len(y)))
        if self.transform in ("log", "sqrt"):
            self.shift_ = -min(float(y.min()), 0.0)
            if self.transform == "sqrt":
                return np.sqrt(y + self.shift_)
            # The offset scales with the data, so the transform does not depend on units.
            self.shift_ += self.offset * (float(y.std()) or 1.0)
            return np.log(y + self.shift_)
        return y

    def _inverse(self, mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model-scale mean and std -> ``y``'s units (median, delta-method std)."""
        if self.transform == "log":
            m = np.exp(mean)
            return m - self.shift_, m * sd
        if self.transform == "sqrt":
            # Signed square: monotone, so the back-transformed ranking is the model's.
            return mean * np.abs(mean) - self.shift_, 2.0 * np.abs(mean) * sd
        return mean, sd

    def _prior(self, codes: np.ndarray) -> np.ndarray:
        """The standardised prior score ``p`` of codes ``(n, L)`` (zeros without a table)."""
        if self.prior_table is None:
            return np.zeros(len(codes))
        raw = np.zeros(len(codes))
        for s, row in enumerate(self.prior_table):
            raw += np.asarray(row)[codes[:, s]]
        return (raw - self.prior_center_) / self.prior_sd_

    def fit_codes(self, codes: np.ndarray, y: np.ndarray, yvar: np.ndarray | None = None) -> Self:
        """Fit on integer codes ``(n, L)`` and values ``(n,)``."""
        C = np.asarray(codes, dtype=np.int64)
        t = self._target(np.asarray(y, dtype=float).ravel())
        if len(C) < 2 or len(C) != len(t):
            raise ValueError("need at least two designs, one value each")
        self.y_mean_ = float(t.mean())
        self.y_std_ = float(t.std()) or 1.0
        z = (t - self.y_mean_) / self.y_std_
        if yvar is None:
            extra = np.zeros(len(z))
        else:
            v = np.asarray(yvar, float).ravel()
            if self.transform == "log":  # delta method: var(log y) ~ var(y) / y^2
                v = v / (np.asarray(y, float).ravel() + self.shift_) ** 2
            elif self.transform == "sqrt":
                v = v / (4.0 * np.maximum(np.asarray(y, float).ravel() + self.shift_, 1e-12))
            extra = v / (self.y_std_**2)
        self.prior_center_, self.prior_sd_ = 0.0, 1.0
        if self.prior_table is not None:
            raw = self._prior(C)  # centre 0, sd 1 so far: the raw sum
            self.prior_center_ = float(raw.mean())
            self.prior_sd_ = float(raw.std()) or 1.0
        p = self._prior(C)
        betas = self.prior_scale_grid if self.prior_table is not None else (0.0,)
        M = self._matches(C, C)
        Mg = None
        group_grid: tuple[float, ...] = (0.0,)
        if self.groups is not None:
            G = self._group_codes(C)
            Mg, group_grid = self._matches(G, G), self.group_share_grid
        best: tuple[float, np.ndarray, float, float, float] | None = None
        for shares in self._share_options():
            for g in group_grid:
                K = self._gram(shares, g, M, Mg)
                for noise in self.noise_grid:
                    for beta in betas:
                        ev = _log_evidence(K + np.diag(noise + extra), z - beta * p)
                        if best is None or ev > best[0]:
                            best = (ev, shares, noise, beta, g)
        assert best is not None
        self.log_evidence_, self.shares_, self.noise_, self.prior_scale_, g = best
        self.group_scale_ = float(g)
        self.codes_ = C
        self.block_variance_: np.ndarray | None = None
        if self.ard:
            self._refine(C, z - self.prior_scale_ * p, extra)
            K = self._block_gram(C, C) + np.diag(self.noise_ + extra)
        else:
            K = self._gram(self.shares_, self.group_scale_, M, Mg) + np.diag(self.noise_ + extra)
        self.chol_ = cho_factor(K, lower=True)[0]
        self.z_ = z - self.prior_scale_ * p  # the GP models what the prior mean leaves
        self.alpha_ = cho_solve((self.chol_, True), self.z_)
        self.feature_scale_: np.ndarray | None = None
        self.tilt_ = 0.0
        self._finish()
        if any(v > 0 for v in self.tilt_grid):
            self._tilt(extra)
        self.interval_scale_ = self._interval_scale()
        return self

    def _tilt_scale(self, gamma: float) -> np.ndarray:
        """Per-feature prior variance multipliers for the tilt ``gamma`` (see
        ``tilt_grid``), from the site effects of the current fit: 1 for the constant
        and the site weights, ``exp(gamma (u_a + u_b) / 2)`` over each pair block's mean."""
        starts = np.cumsum((1, *self.sizes))
        u = self.weights_[1 : starts[-1]]
        u = u / (float(np.sqrt(np.mean(u * u))) or 1.0)
        site = [u[a - 1 : b - 1] for a, b in itertools.pairwise(starts)]
        out = [np.ones(starts[-1])]
        for s, t in itertools.combinations(range(self.n_sites), 2):
            # Clipped so that one huge site effect cannot put a whole block on one pair.
            e = np.clip(0.5 * gamma * (site[s][:, None] + site[t][None, :]), -6.0, 6.0)
            m = np.exp(e).ravel()
            out.append(m / m.mean())
        return np.concatenate(out)

    def _tilt(self, extra: np.ndarray) -> None:
        """Choose ``gamma`` of ``tilt_grid`` with the shares and the noise by
        ``tilt_select`` (the plain fit's score is the bar); refit if a tilt wins."""
        F = self.train_index_
        n = len(F)
        site_cols = range(1, 1 + self.n_sites)
        pair_cols = range(1 + self.n_sites, F.shape[1])
        same = [F[:, c, None] == F[None, :, c] for c in range(F.shape[1])]
        S = sum(same[c].astype(float) for c in site_cols)
        L = self.n_sites
        loo = self.tilt_select == "loo"
        score = _loo_density if loo else _log_evidence
        bar = _loo_density(self._train_gram(F, same, extra), self.z_) if loo else self.log_evidence_
        best: tuple[float, float, np.ndarray, float, np.ndarray] | None = None
        for gamma in self.tilt_grid:
            if gamma == 0:
                continue
            scale = self._tilt_scale(gamma)
            P = np.zeros((n, n))
            for c in pair_cols:
                P += same[c] * scale[F[:, c]][:, None]
            for shares in self._share_options():
                K0 = shares[0] + shares[1] / L * S + shares[2] / math.comb(L, 2) * P
                for noise in self.noise_grid:
                    ev = score(K0 + np.diag(noise + extra), self.z_)
                    if ev > bar and (best is None or ev > best[0]):
                        best = (ev, gamma, shares, noise, scale)
        if best is None:
            return
        _, self.tilt_, self.shares_, self.noise_, self.feature_scale_ = best
        if not loo:
            self.log_evidence_ = best[0]
        self.chol_ = cho_factor(self._train_gram(F, same, extra), lower=True)[0]
        self.alpha_ = cho_solve((self.chol_, True), self.z_)
        self._finish()

    def _train_gram(self, F: np.ndarray, same: list[np.ndarray], extra: np.ndarray) -> np.ndarray:
        """The training covariance (noise included) of the current prior variances, from
        the training feature indices ``F`` and their per-column matches ``same``."""
        lam = self._prior_variance()
        K = np.diag(np.full(len(F), self.noise_) + extra)
        for c in range(F.shape[1]):
            K += same[c] * lam[F[:, c]][:, None]
        return K

    def _block_matches(self, A: np.ndarray, B: np.ndarray) -> list[np.ndarray]:
        """Per block, whether two designs share its feature ``(len(A), len(B))``."""
        GA = self._group_codes(A) if self.groups is not None else A
        GB = self._group_codes(B) if self.groups is not None else B
        out = []
        for sites, grouped in self._blocks():
            a, b = (GA, GB) if grouped else (A, B)
            same = np.ones((len(A), len(B)), dtype=bool)
            for s in sites:
                same &= a[:, s, None] == b[None, :, s]
            out.append(same.astype(float))
        return out

    def _block_gram(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """``s0 + sum_b v_b E_b`` with the refined block variances."""
        assert self.block_variance_ is not None
        out = np.full((len(A), len(B)), float(self.shares_[0]))
        for v, E in zip(self.block_variance_, self._block_matches(A, B), strict=True):
            out += v * E
        return out

    def _refine(self, C: np.ndarray, z: np.ndarray, extra: np.ndarray) -> None:
        """Type-II MAP of the block variances and the noise (see ``ard``), from the
        grid's choice; sets ``block_variance_``, ``noise_`` and ``log_evidence_`` (then
        the log evidence plus the log hyper-prior, never below the grid's evidence)."""
        from scipy.optimize import minimize

        v0 = self._grid_block_variance()
        on = np.flatnonzero(v0 > 0)  # a block the grid switched off (group share 0) stays off
        E = np.stack(self._block_matches(C, C))[on]  # (n_on, n, n)
        x0 = np.log(np.concatenate([v0[on], [self.noise_]]))
        s0, n = float(self.shares_[0]), len(z)
        tau = self.ard_prior_sd

        def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
            v, noise = np.exp(x[:-1]), math.exp(x[-1])
            K = s0 + np.tensordot(v, E, 1) + np.diag(noise + extra)
            try:
                c = cho_factor(K, lower=True, check_finite=False)
            except np.linalg.LinAlgError:
                return 1e10, np.zeros_like(x)
            a = cho_solve(c, z, check_finite=False)
            Kinv = cho_solve(c, np.eye(n), check_finite=False)
            ev = -0.5 * z @ a - np.log(np.diag(c[0])).sum()
            W = np.outer(a, a) - Kinv  # d ev / d K = W / 2
            grad = np.empty_like(x)
            grad[:-1] = 0.5 * v * np.einsum("ij,bij->b", W, E)
            grad[-1] = 0.5 * noise * np.trace(W)
            d = x - x0
            return -(ev - 0.5 * float(d @ d) / tau**2), -(grad - d / tau**2)

        bounds = [(x - 4 * tau, x + 4 * tau) for x in x0]  # keeps K well-conditioned
        res = minimize(
            objective, x0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 60}
        )
        x = res.x if res.fun < 1e10 else x0
        self.block_variance_ = np.zeros(len(v0))
        self.block_variance_[on] = np.exp(x[:-1])
        self.noise_ = float(math.exp(x[-1]))
        self.log_evidence_ = float(-res.fun - 0.5 * n * math.log(2 * math.pi))

    def _grid_block_variance(self) -> np.ndarray:
        """The grid's prior variance per block (one feature's variance in it)."""
        g = self.group_scale_ if self.groups is not None else 0.0
        return np.array(
            [
                (g if grouped else 1.0 - g) * self.shares_[len(t)] / math.comb(self.n_sites, len(t))
                for t, grouped in self._blocks()
            ]
        )

    def _interval_scale(self) -> float:
        """The factor that makes the 68 % predictive interval hold 68 % of the
        leave-one-out residuals of the training variants ranked in the top quarter
        by their own leave-one-out prediction (at least 1).

        Why those: a batch is made of variants the model ranks highest, whose
        predictions are the most optimistic (the winner's curse), so the split that
        imitates the next use is "held out *and* predicted high". Leave-one-out is
        exact for a GP (Rasmussen & Williams 2006, eq. 5.12): ``mu_-i = z_i -
        alpha_i / [K^-1]_ii``, ``var_-i = 1 / [K^-1]_ii`` (noise included).
        """
        residual, var = _loo(cho_solve((self.chol_, True), np.eye(len(self.z_))), self.z_)
        loo_mean = self.z_ - residual
        loo_sd = np.sqrt(var)
        top = np.argsort(-loo_mean)[: max(10, len(self.z_) // 4)]
        ratio = np.abs(self.z_[top] - loo_mean[top]) / loo_sd[top]
        # Never narrower than the model's own interval: on a heavy-tailed landscape
        # most held-out variants sit at zero fitness with tiny residuals, which
        # would shrink the interval exactly where the picks are not.
        return float(max(np.quantile(ratio, 0.6827), 1.0))

    def predict_interval(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and the calibrated std of a *measurement* (function and noise, scaled
        by ``interval_scale_``) for codes ``(N, L)``, in ``y``'s units: ``mean +- std``
        is the 68 % interval, checked on held-out variants predicted high."""
        mean, sd = self.predict_codes(codes)
        noise_sd = self.y_std_ * math.sqrt(self.noise_)
        return self._inverse(mean, self.interval_scale_ * np.sqrt(sd * sd + noise_sd * noise_sd))

    # -- weight space -----------------------------------------------------------------
    def _tuples(self) -> list[tuple[int, ...]]:
        return [
            t
            for o in range(1, self.order + 1)
            for t in itertools.combinations(range(self.n_sites), o)
        ]

    def _blocks(self) -> list[tuple[tuple[int, ...], bool]]:
        """Feature blocks: every site tuple on the choices, then (with ``groups``)
        every site tuple on the choices' groups (``True``)."""
        blocks = [(t, False) for t in self._tuples()]
        if self.groups is not None:
            blocks += [(t, True) for t in self._tuples()]
        return blocks

    def feature_index(self, codes: np.ndarray) -> np.ndarray:
        """Column of each design's active feature per block, ``(n, 1 + n_blocks)``
        (column 0 is the constant); the feature vector has ``n_features`` entries."""
        C = np.asarray(codes, dtype=np.int64)
        G = self._group_codes(C) if self.groups is not None else C
        gsizes = self._group_sizes if self.groups is not None else self.sizes
        cols = [np.zeros(len(C), dtype=np.int64)]
        offset = 1
        for sites, grouped in self._blocks():
            src, sizes = (G, gsizes) if grouped else (C, self.sizes)
            idx = np.zeros(len(C), dtype=np.int64)
            for s in sites:
                idx = idx * sizes[s] + src[:, s]
            cols.append(idx + offset)
            offset += math.prod(sizes[s] for s in sites)
        return np.stack(cols, 1)

    @property
    def n_features(self) -> int:
        gsizes = self._group_sizes if self.groups is not None else self.sizes
        return 1 + sum(
            math.prod((gsizes if grouped else self.sizes)[s] for s in t)
            for t, grouped in self._blocks()
        )

    def _prior_variance(self) -> np.ndarray:
        """Prior variance of each feature weight ``(n_features,)``: the order's share
        over the tuples of that order, split ``1 - g`` / ``g`` between the choice
        and the group blocks (``g`` = ``group_scale_``)."""
        gsizes = self._group_sizes if self.groups is not None else self.sizes
        block = getattr(self, "block_variance_", None)
        if block is None:
            block = self._grid_block_variance()
        v = [np.array([self.shares_[0]])]
        for (sites, grouped), var in zip(self._blocks(), block, strict=True):
            width = math.prod((gsizes if grouped else self.sizes)[s] for s in sites)
            v.append(np.full(width, var))
        out = np.concatenate(v)
        scale = getattr(self, "feature_scale_", None)
        return out if scale is None else out * scale

    def _scatter(self, rows: np.ndarray) -> np.ndarray:
        """``Lambda Phi^T rows``: training-row values (n, k) -> weights (n_features, k)."""
        out = np.zeros((self.n_features, rows.shape[1]))
        for t in range(self.train_index_.shape[1]):
            np.add.at(out, self.train_index_[:, t], rows)
        return out * self._prior_variance()[:, None]

    def _finish(self) -> None:
        self.train_index_ = self.feature_index(self.codes_)
        self.weights_ = self._scatter(self.alpha_[:, None])[:, 0]

    def predict_codes(
        self, codes: np.ndarray, *, std: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std (of the function, no noise) for codes ``(N, L)``,
        in the model's scale: ``y``'s units with ``transform="none"``, else the
        transformed target's (monotone in ``y``)."""
        F = self.feature_index(codes)
        mean = self.weights_[F].sum(1) + self.prior_scale_ * self._prior(np.asarray(codes))
        sd = np.full(len(F), np.nan)
        if std:
            sd = np.sqrt(np.maximum(self._variance(F), 1e-12))
        return self.y_mean_ + self.y_std_ * mean, self.y_std_ * sd

    def weight_covariance(self) -> np.ndarray:
        """Posterior covariance of the feature weights ``Sigma = Lambda - A^T (K + N)^-1 A``
        (``A = Phi Lambda``), dense ``(n_features, n_features)``, standardised units."""
        lam = self._prior_variance()
        A = np.zeros((len(self.codes_), self.n_features))
        rows = np.arange(len(self.codes_))
        for t in range(self.train_index_.shape[1]):
            A[rows, self.train_index_[:, t]] += 1.0
        B = _tri_solve(self.chol_, A * lam[None, :])
        return np.diag(lam) - B.T @ B

    def believer_ucb(
        self,
        codes: np.ndarray,
        n: int,
        kappa: float,
        min_distance: int = 1,
        first: Sequence[int] = (),
        pair_cap: int | None = None,
    ) -> tuple[list[int], np.ndarray]:
        """A batch of ``n`` rows of ``codes`` by UCB with the kriging believer.

        Each pick is the row of highest ``mean + kappa * std``; it is then treated
        as measured at its predicted mean (the "believer", Ginsbourger et al. 2010),
        which leaves the mean unchanged and shrinks the variance of every variant
        that shares its features, so the next picks spread out by themselves. The
        update is exact and rank-one in weight space (``Sigma`` and the pool's
        variances), so a batch over 10^5 variants costs ``n`` feature look-ups.
        Picks stay ``min_distance`` substitutions apart while the pool allows it.
        ``first`` rows are taken first, in order, whatever their scores (chosen by
        another rule), and believed like any pick, so the rest spread away from them.
        ``pair_cap``: at most this many picks share the same pair of choices at any
        two sites (e.g. G41L + V54G), while the pool allows it (then ``min_distance``
        is relaxed first, the cap last). Why: believing a pick shrinks the variance of
        its pair's weight but never its mean, so a pair the first data rate high can
        take the whole plate (on GB1, 46-90 of 96 picks on one (41, 54) pair in the
        rounds of a trapped campaign), and the other pair modes go unmeasured.
        Returns the rows and their UCB scores (model scale) at pick time.
        """
        if self.n_features > MAX_DENSE_FEATURES:
            raise ValueError("the believer batch needs order <= 2 (a dense weight covariance)")
        F = self.feature_index(codes)
        mean = self.weights_[F].sum(1) + self.prior_scale_ * self._prior(np.asarray(codes))
        sigma = self.weight_covariance()
        var = np.zeros(len(F))
        for t in range(F.shape[1]):
            for u in range(F.shape[1]):
                var += sigma[F[:, t], F[:, u]]
        var = np.maximum(var, 0.0)
        picks: list[int] = []
        scores: list[float] = []
        near = np.zeros(len(F), dtype=bool)  # closer than min_distance to a pick
        full = np.zeros(len(F), dtype=bool)  # a pair of choices already pair_cap times
        pair_cols = [  # the site-pair blocks' columns of F (not the groups')
            1 + b
            for b, (sites, grouped) in enumerate(self._blocks())
            if len(sites) == 2 and not grouped
        ]
        count: dict[int, int] = {}
        low = np.zeros((self.n_features, min(n, len(F))))
        forced = [int(i) for i in first][: min(n, len(F))]
        for step in range(min(n, len(F))):
            score = mean + kappa * np.sqrt(var)
            score[picks] = -np.inf
            if step < len(forced):
                p = forced[step]
            else:
                p = -1
                for blocked in (near | full, full, None):
                    free = score if blocked is None else np.where(blocked, -np.inf, score)
                    if np.isfinite(free).any():
                        p = int(np.argmax(free))
                        break
                if p < 0:
                    p = int(np.argmax(score))
            if min_distance > 1:
                near |= (codes != codes[p]).sum(1) < min_distance
            if pair_cap is not None:
                for c in pair_cols:
                    feature = int(F[p, c])
                    count[feature] = count.get(feature, 0) + 1
                    if count[feature] >= pair_cap:
                        full |= F[:, c] == feature
            picks.append(p)
            scores.append(self.y_mean_ + self.y_std_ * float(score[p]))
            # Sigma phi_p under the believed picks: Sigma_0 phi_p minus the rank-one
            # updates so far (held as the columns of ``low``), never a dense update.
            k = len(picks) - 1
            s = sigma[:, F[p]].sum(1) - low[:, :k] @ low[F[p], :k].sum(0)
            denom = float(s[F[p]].sum()) + self.noise_
            cov = s[F].sum(1)  # phi_x^T Sigma phi_p for every row
            var = np.maximum(var - cov * cov / denom, 0.0)
            low[:, len(picks) - 1] = s / math.sqrt(denom)
        return picks, np.array(scores)

    def _variance(self, F: np.ndarray) -> np.ndarray:
        """Posterior variance ``phi^T Sigma phi`` from the sparse features ``F``.

        ``Sigma = Lambda - A^T (K + N)^-1 A`` with ``A = Phi Lambda``; only the
        entries of the active features are needed, read block by block.
        """
        lam = self._prior_variance()
        prior = lam[F].sum(1)
        if self.n_features <= MAX_DENSE_FEATURES:
            # Q = A^T (K + N)^-1 A, dense over the features: 121 look-ups per row for L = 4.
            A = np.zeros((len(self.codes_), self.n_features))
            rows = np.arange(len(self.codes_))
            for t in range(self.train_index_.shape[1]):
                A[rows, self.train_index_[:, t]] += 1.0
            B = _tri_solve(self.chol_, A * lam[None, :])
            Q = B.T @ B
            reduction = np.zeros(len(F))
            for t in range(F.shape[1]):
                for u in range(F.shape[1]):
                    reduction += Q[F[:, t], F[:, u]]
            return prior - reduction
        out = prior.copy()
        Tn = self.train_index_
        for a in range(0, len(F), CHUNK):
            Fa = F[a : a + CHUNK]
            G = np.zeros((len(Fa), len(Tn)))
            for t in range(F.shape[1]):
                G += (Fa[:, t, None] == Tn[None, :, t]) * lam[Fa[:, t]][:, None]
            V = _tri_solve(self.chol_, G.T)
            out[a : a + CHUNK] -= (V * V).sum(0)
        return out

    def sample_codes(self, codes: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` posterior function draws on codes ``(N, L)``, shape ``(N, k)``.

        Prior weight draws (one weight per site tuple and label tuple) are
        conditioned on the data by Matheron's rule, so the draws are exact joint
        samples over the whole pool, evaluated by table look-ups.
        """
        F = self.feature_index(codes)
        lam = self._prior_variance()
        W0 = rng.normal(size=(self.n_features, k)) * np.sqrt(lam)[:, None]
        eps = rng.normal(0.0, math.sqrt(self.noise_), size=(len(self.codes_), k))
        resid = self.z_[:, None] - W0[self.train_index_].sum(1) - eps
        W = (W0 + self._scatter(cho_solve((self.chol_, True), resid))).astype(np.float32)
        out = np.zeros((len(F), k), dtype=np.float32)
        for t in range(F.shape[1]):
            out += W[F[:, t]]
        out += (self.prior_scale_ * self._prior(np.asarray(codes)))[:, None].astype(np.float32)
        return self.y_mean_ + self.y_std_ * out

    # -- the surrogate contract (one-hot encoding) -------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, yvar: np.ndarray | None = None) -> Self:
        """Fit on the space's one-hot encoding (blocks of ``sizes`` columns)."""
        return self.fit_codes(codes_from_onehot(X, self.sizes), np.asarray(y).ravel(), yvar)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std for one-hot rows ``X`` (``y``'s units, except with ``"rank"``)."""
        return self._inverse(*self.predict_codes(codes_from_onehot(X, self.sizes)))

    # -- saved state -----------------------------------------------------------------
    def get_state(self) -> SurrogateState:
        params = {
            "sizes": list(self.sizes),
            "order": self.order,
            "noise_grid": list(self.noise_grid),
            "pair_share_grid": list(self.pair_share_grid),
            "amplitude_grid": list(self.amplitude_grid),
            "transform": self.transform,
            "offset": self.offset,
            "prior_table": None
            if self.prior_table is None
            else [list(r) for r in self.prior_table],
            "prior_scale_grid": list(self.prior_scale_grid),
            "groups": None if self.groups is None else [list(r) for r in self.groups],
            "group_share_grid": list(self.group_share_grid),
            "ard": self.ard,
            "ard_prior_sd": self.ard_prior_sd,
            "tilt_grid": list(self.tilt_grid),
            "tilt_select": self.tilt_select,
        }
        fitted = {
            "shift_": self.shift_,
            "prior_scale_": self.prior_scale_,
            "prior_center_": self.prior_center_,
            "prior_sd_": self.prior_sd_,
            "y_mean_": self.y_mean_,
            "y_std_": self.y_std_,
            "noise_": float(self.noise_),
            "log_evidence_": float(self.log_evidence_),
            "interval_scale_": float(self.interval_scale_),
            "group_scale_": float(self.group_scale_),
            "tilt_": float(self.tilt_),
        }
        arrays = {
            "codes_": self.codes_,
            "alpha_": self.alpha_,
            "chol_": self.chol_,
            "shares_": np.asarray(self.shares_),
            "z_": self.z_,
        }
        if self.block_variance_ is not None:
            arrays["block_variance_"] = self.block_variance_
        if self.feature_scale_ is not None:
            arrays["feature_scale_"] = self.feature_scale_
        return SurrogateState(params, fitted, arrays)

    @classmethod
    def from_state(cls, state: SurrogateState) -> Self:
        p = state.params
        model = cls(
            tuple(p["sizes"]),
            int(p["order"]),
            tuple(p["noise_grid"]),
            tuple(p["pair_share_grid"]),
            tuple(p["amplitude_grid"]),
            str(p["transform"]),
            float(p.get("offset", 0.1)),
            p.get("prior_table"),
            tuple(p.get("prior_scale_grid", (0.0, 0.25, 0.5, 1.0))),
            p.get("groups"),
            tuple(p.get("group_share_grid", (0.0, 0.25, 0.5))),
            bool(p.get("ard", False)),
            float(p.get("ard_prior_sd", 1.0)),
            tuple(p.get("tilt_grid", (0.0,))),
            str(p.get("tilt_select", "evidence")),
        )
        model.block_variance_, model.feature_scale_, model.tilt_ = None, None, 0.0
        # States saved before these existed: no calibration, shift or prior mean.
        model.interval_scale_, model.group_scale_ = 1.0, 0.0
        model.shift_, model.prior_scale_, model.prior_center_, model.prior_sd_ = 0.0, 0.0, 0.0, 1.0
        for key, value in state.fitted.items():
            setattr(model, key, float(value))
        for key, arr in state.arrays.items():
            setattr(model, key, np.asarray(arr))
        model._finish()
        return model


def _tri_solve(chol: np.ndarray, B: np.ndarray) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return np.asarray(solve_triangular(chol, B, lower=True, check_finite=False))


def _log_evidence(K: np.ndarray, z: np.ndarray) -> float:
    """Gaussian log marginal likelihood of ``z`` under covariance ``K``."""
    try:
        c = cho_factor(K, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return -math.inf
    a = cho_solve(c, z)
    return float(-0.5 * z @ a - np.log(np.diag(c[0])).sum() - 0.5 * len(z) * math.log(2 * math.pi))


def _loo_density(K: np.ndarray, z: np.ndarray) -> float:
    """Sum of the exact leave-one-out log predictive densities of ``z`` under the
    covariance ``K`` (Rasmussen & Williams 2006, eq. 5.10-5.12)."""
    try:
        c = cho_factor(K, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return -math.inf
    residual, var = _loo(cho_solve(c, np.eye(len(z))), z)
    return float(np.sum(-0.5 * np.log(2 * math.pi * var) - 0.5 * residual * residual / var))


def _loo(inv: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out residuals ``z_i - mu_-i`` and predictive variances of a GP from the
    inverse training covariance ``inv`` (Rasmussen & Williams 2006, eq. 5.12)."""
    d = np.diag(inv)
    return (inv @ z) / d, 1.0 / d
