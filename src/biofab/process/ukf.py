"""Unscented Kalman filter (Julier & Uhlmann 1997; scaled sigma points of Wan & van der Merwe 2000).

The unscented transform pushes ``2n + 1`` sigma points through the nonlinear transition and
measurement functions instead of linearising them, so it needs no Jacobian and captures the
mean shift a Monod or Haldane term causes when the substrate estimate is uncertain.

Sigma points (Wan & van der Merwe 2000, Proc. IEEE AS-SPCC, pp. 153-158):
``lambda = alpha^2 (n + kappa) - n``; points ``x`` and ``x +/- columns of
sqrt((n + lambda) P)``; mean weights ``W0 = lambda / (n + lambda)``, covariance weight
``W0c = W0 + 1 - alpha^2 + beta``, all others ``1 / (2 (n + lambda))``. The default
``alpha=1, beta=2, kappa=0`` spreads the points ``sqrt(n)`` standard deviations out with a
zero central mean weight: the often quoted ``alpha=1e-3`` gives a central weight near
``-1e6``, which turns the clipping of sigma points at a bound into large errors.

Sigma points are clipped to ``lower``/``upper`` before they enter ``f`` and ``h``
(Kandepu, Foss & Imsland 2008, J. Process Control 18:753): a Monod term evaluated at a
negative glucose concentration is meaningless. Two ways (``sigma_bounds``):

- ``'clip'`` (default): the points themselves are clipped and propagated (Kandepu et al.).
  Near an active bound this is a ratchet: a state resting at zero (product before induction,
  acetate in a glucose-limited feed) loses its negative points every step, so its mean creeps
  up and its spread shrinks; the ±2σ band then misses the truth.
- ``'evaluate'``: only ``f`` and ``h`` see the clipped points; each point moves by the
  increment its clipped copy gets, ``x_i + (F(c_i) - c_i)`` with ``c_i = clip(x_i)``, and the
  state statistics come from the unclipped points. The spread stays symmetric, a state at a
  bound stays there in the mean (the mean itself is still clipped), and with the default
  non-negative weights the joint covariance stays positive semi-definite.

Everything else (time, ``Q * dt``, missing readings, NIS, clipping of the mean) is shared with
the EKF (:mod:`biofab.process.ekf`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from biofab.core.errors import InputError
from biofab.process.ekf import (
    Array,
    FilterError,
    KalmanFilterBase,
    _Differentiable,
)

__all__ = ["UnscentedKalmanFilter"]


class UnscentedKalmanFilter(KalmanFilterBase):
    """Unscented Kalman filter with additive process and measurement noise.

    Takes the arguments of :class:`~biofab.process.ekf.ExtendedKalmanFilter` plus the
    sigma-point parameters ``alpha`` (spread, 0 < alpha <= 1), ``beta`` (prior knowledge of
    the distribution, 2 is optimal for a Gaussian) and ``kappa`` (secondary scaling), and
    ``sigma_bounds`` (``'clip'`` or ``'evaluate'``, module docstring).
    ``jacobian`` is accepted for a common signature; the UKF uses it only to pick how
    ``f`` is evaluated (CasADi-compiled when traceable).
    """

    def __init__(
        self,
        f: Callable[..., Any],
        h: Callable[..., Any],
        Q: ArrayLike | Callable[[Array, Array], ArrayLike],
        R: ArrayLike,
        x0: ArrayLike,
        P0: ArrayLike,
        *,
        alpha: float = 1.0,
        beta: float = 2.0,
        kappa: float = 0.0,
        sigma_bounds: Literal["clip", "evaluate"] = "clip",
        **options: Any,
    ) -> None:
        super().__init__(f, h, Q, R, x0, P0, **options)
        if sigma_bounds not in ("clip", "evaluate"):
            raise InputError(
                "unknown sigma_bounds", expected="'clip' or 'evaluate'", found=sigma_bounds
            )
        self.sigma_bounds = sigma_bounds
        n = self.x_.size
        if not 0 < alpha <= 1:
            raise InputError("alpha must lie in (0, 1]", expected="0 < alpha <= 1", found=alpha)
        spread = alpha**2 * (n + kappa)
        if spread <= 0:
            raise InputError(
                "alpha^2 (n + kappa) must be positive", expected=f"kappa > {-n}", found=kappa
            )
        self.alpha, self.beta, self.kappa = float(alpha), float(beta), float(kappa)
        lam = spread - n
        self._scale = spread
        self.weights_mean_ = np.full(2 * n + 1, 1.0 / (2 * spread))
        self.weights_cov_ = self.weights_mean_.copy()
        self.weights_mean_[0] = lam / spread
        self.weights_cov_[0] = lam / spread + 1 - alpha**2 + beta

    def sigma_points(self, x: Array, P: Array, *, clip: bool = True) -> Array:
        """The ``(2n + 1, n)`` sigma points of ``N(x, P)``, clipped to the bounds unless
        ``clip=False``."""
        try:
            root = np.linalg.cholesky(self._scale * P)
        except np.linalg.LinAlgError:
            # round-off can leave a tiny negative eigenvalue: retry on the symmetric
            # eigen-decomposition and refuse only a truly indefinite covariance.
            values, vectors = np.linalg.eigh(0.5 * (P + P.T))
            if values.min() < -1e-9 * max(abs(values.max()), 1e-300):
                raise FilterError(
                    f"t={self.t_:g} h: state covariance is not positive semi-definite "
                    f"(eigenvalue {values.min():g}); the filter diverged"
                ) from None
            root = vectors * np.sqrt(np.clip(values, 0.0, None) * self._scale)
        points = np.vstack([x, x + root.T, x - root.T])
        return np.clip(points, self.lower, self.upper) if clip else points

    def _moments(self, points: Array) -> tuple[Array, Array, Array]:
        mean = self.weights_mean_ @ points
        deviation = points - mean
        return mean, (self.weights_cov_[:, None] * deviation).T @ deviation, deviation

    def _propagate(self, x: Array, P: Array, u: Array, dt: float) -> tuple[Array, Array]:
        if self.sigma_bounds == "evaluate":
            raw = self.sigma_points(x, P, clip=False)
            clipped = np.clip(raw, self.lower, self.upper)
            moved = raw + (self._transition.step_many(clipped, u, dt) - clipped)
        else:
            moved = self._transition.step_many(self.sigma_points(x, P), u, dt)
        mean, cov, _ = self._moments(moved)
        return mean, cov

    def _measurement_moments(
        self, x: Array, P: Array, observation: _Differentiable, args: tuple[Array, ...]
    ) -> tuple[Array, Array, Array, Array | None, Array]:
        points = self.sigma_points(x, P, clip=self.sigma_bounds == "clip")
        readings = observation.values(np.clip(points, self.lower, self.upper), *args)
        predicted, pyy, reading_dev = self._moments(readings)
        _, pxx, state_dev = self._moments(points)
        pxy = (self.weights_cov_[:, None] * state_dev).T @ reading_dev
        # Pxx from the same points as Pyy and Pxy: with non-negative weights the
        # joint covariance is a sum of outer products, so P - K S K' stays positive
        # semi-definite even when clipping moved some points.
        return predicted, pyy, pxy, None, pxx
