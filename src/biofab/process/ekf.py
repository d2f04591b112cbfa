"""Extended Kalman filter for bioprocess state estimation, and what both Kalman filters share.

A filter tracks the mean ``x_`` (shape ``(n,)``) and covariance ``P_`` (``(n, n)``) of the
state of a process described by a transition ``f`` and a measurement function ``h``:

- ``continuous=True`` (default): ``f(x, u) -> dx/dt`` (units per hour). The filter
  discretises it with the classical fourth-order Runge-Kutta scheme over ``dt`` hours, in
  sub-steps no longer than ``max_step`` hours.
- ``continuous=False``: ``f(x, u, dt) -> x(t + dt)``, any discrete transition.

``Q`` is a process-noise *intensity*: a prediction over ``dt`` hours adds ``Q * dt`` to the
covariance (first-order discretisation, adequate while ``dt`` is short against the process
time constants). ``Q`` may also be a function of the state mean and the inputs,
``Q(x, u) -> (n, n)``, evaluated at the start of each prediction: model error in a
fermentation scales with the state and its rates (a kinetic error of a few % moves 30 g/L of
biomass by far more than 0.2 g/L), so a fixed intensity is either too wide early or
over-confident late. ``R`` is the covariance of one
measurement vector.

Jacobians (``jacobian='auto'``) come from CasADi automatic differentiation when ``f``/``h``
can be traced with CasADi symbols; otherwise from the complex-step derivative (Squire &
Trapp 1998, SIAM Review 40:110), checked once against central differences and replaced by
them when the two disagree (a function that takes ``abs`` or casts to float breaks complex
steps silently). The EKF propagates the covariance with the Jacobian of the *discretised*
step (chain of RK4 sub-step Jacobians), so it stays consistent with the step actually taken.

Missing readings: ``NaN`` entries of a measurement vector are dropped from that update and a
:class:`MissingMeasurementWarning` is emitted; if every entry is NaN the update is skipped.
Infinite readings raise :class:`~biofab.core.errors.InputError`. A sensor drop-out is routine
in a fermentation, so it must not stop a soft sensor; an infinite value is a corrupted file.

State bounds: ``lower``/``upper`` clip the mean after every predict and update (estimate
projection; Simon 2010, IET Control Theory Appl. 4:1303). Concentrations, biomass and volume
cannot be negative, and an unclipped Monod model evaluated at a negative substrate runs
away. The covariance is left unchanged, so clipping is a mild, documented bias near a bound.

Consistency: every update stores the normalised innovation squared (NIS) ``nu' S^-1 nu``;
for a consistent filter its sum over N updates is chi-square with sum(m_i) degrees of
freedom, so the average NIS must fall in the two-sided 95 % band (Bar-Shalom, Li &
Kirubarajan 2001, *Estimation with Applications to Tracking and Navigation*, Wiley, §5.4).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biofab.core.errors import BiofabError, InputError

Array = NDArray[np.float64]
JacobianMethod = Literal["auto", "casadi", "complex", "fd"]

__all__ = [
    "Consistency",
    "ExtendedKalmanFilter",
    "FilterError",
    "FilterStep",
    "KalmanFilterBase",
    "MissingMeasurementWarning",
    "nis_consistency",
]


class FilterError(BiofabError):
    """A filter that cannot go on: a covariance lost positive definiteness or blew up."""


class MissingMeasurementWarning(UserWarning):
    """Some entries of a measurement were NaN and were left out of the update."""


@dataclass(frozen=True)
class FilterStep:
    """One record of ``history_``: the state after a predict or an update.

    ``innovation``, ``nis`` and ``dof`` (number of readings used) are set for updates only.
    """

    t: float
    kind: str
    x: Array
    P: Array
    label: str | None = None
    innovation: Array | None = None
    nis: float = math.nan
    dof: int = 0


@dataclass(frozen=True)
class Consistency:
    """Average-NIS test: ``consistent`` when ``lower <= nis_mean <= upper``."""

    nis_mean: float
    lower: float
    upper: float
    n_updates: int
    dof: int
    consistent: bool


def nis_consistency(nis: ArrayLike, dofs: ArrayLike, alpha: float = 0.05) -> Consistency:
    """Two-sided chi-square test of the average NIS (Bar-Shalom et al. 2001, §5.4.2).

    ``nis``: NIS of each update; ``dofs``: readings used in each (variable sets allowed,
    the total is chi-square with ``sum(dofs)`` degrees of freedom).
    """
    from scipy.special import chdtri  # inverse chi-square survival; lighter than scipy.stats

    values = np.asarray(nis, dtype=float)
    degrees = np.asarray(dofs, dtype=int)
    if values.size == 0:
        raise InputError("no updates to test", expected="at least one filter update")
    total = int(degrees.sum())
    count = values.size
    lower = float(chdtri(total, 1 - alpha / 2)) / count
    upper = float(chdtri(total, alpha / 2)) / count
    mean = float(values.mean())
    return Consistency(mean, lower, upper, count, total, bool(lower <= mean <= upper))


def check_covariance(
    matrix: ArrayLike, name: str, size: int, *, semidefinite: bool = False
) -> Array:
    """A symmetric (semi-)definite ``(size, size)`` matrix or an :class:`InputError`.

    A 1-D input is read as the diagonal (variances).
    """
    value = np.asarray(matrix, dtype=float)
    if value.ndim == 1:
        value = np.diag(value)
    if value.shape != (size, size):
        raise InputError(
            f"{name} has the wrong shape", expected=f"({size}, {size})", found=value.shape
        )
    if not np.all(np.isfinite(value)):
        raise InputError(f"{name} has non-finite entries", expected="finite numbers")
    if not np.allclose(value, value.T, rtol=1e-9, atol=1e-12):
        raise InputError(f"{name} is not symmetric", expected="a symmetric covariance matrix")
    smallest = float(np.linalg.eigvalsh(value).min()) if size else 0.0
    scale = max(float(np.abs(value).max()), 1e-300) if size else 1.0
    if smallest < -1e-12 * scale or (not semidefinite and smallest <= 0.0):
        kind = "positive semi-definite" if semidefinite else "positive definite"
        raise InputError(
            f"{name} is not {kind}", expected=f"a {kind} matrix", found=f"eigenvalue {smallest:g}"
        )
    return 0.5 * (value + value.T)


def _vector(values: Any, symbolic: bool) -> Any:
    """``values`` (list, array, CasADi expression) as a column the arithmetic can use."""
    if symbolic:
        import casadi as ca

        if isinstance(values, ca.SX | ca.MX | ca.DM):
            return values
        return ca.vertcat(*[values[i] for i in range(len(values))])
    return np.asarray(values).reshape(-1)


def rk4_step(f: Callable[[Any, Any], Any], x: Any, u: Any, h: Any, symbolic: bool = False) -> Any:
    """One classical Runge-Kutta step of length ``h`` (works on numbers and CasADi symbols)."""
    k1 = _vector(f(x, u), symbolic)
    k2 = _vector(f(x + h / 2 * k1, u), symbolic)
    k3 = _vector(f(x + h / 2 * k2, u), symbolic)
    k4 = _vector(f(x + h * k3, u), symbolic)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


class _Differentiable:
    """``g(x, *args)`` evaluated and differentiated in ``x`` by CasADi, complex step or FD."""

    def __init__(self, g: Callable[..., Any], method: JacobianMethod):
        if method not in ("auto", "casadi", "complex", "fd"):
            raise InputError(
                "unknown Jacobian method", expected="auto, casadi, complex or fd", found=method
            )
        self.g = g
        self.method = method
        self._casadi: dict[tuple[int, ...], Any] = {}
        self._plain: dict[tuple[int, ...], Any] = {}
        self._mapped: dict[tuple[int, ...], Any] = {}
        self._resolved: str | None = None

    def value(self, x: Array, *args: Array) -> Array:
        if self._resolved is None:
            self._resolve(x, args)
        if self._resolved == "casadi" and self._compiled(x, args) is not None:
            out, _ = self._compiled(x, args)(x, *args)
            return np.asarray(out, dtype=float).reshape(-1)
        return np.asarray(self.g(x, *args), dtype=float).reshape(-1)

    def values(self, points: Array, *args: Array) -> Array:
        """``g`` at each row of ``points`` (shape ``(N, n)``), same ``args`` for all rows."""
        if self._resolved is None:
            self._resolve(points[0], args)
        key = (points.shape[1], *(np.size(a) for a in args))
        if self._resolved == "casadi" and self._plain.get(key) is not None:
            count = points.shape[0]
            mapped_key = (*key, count)
            if mapped_key not in self._mapped:
                # one compiled call for all sigma points instead of a Python loop
                self._mapped[mapped_key] = self._plain[key].map(count)
            out = self._mapped[mapped_key](points.T, *args)
            return np.asarray(out, dtype=float).T
        return np.array([self.value(point, *args) for point in points])

    def value_and_jacobian(self, x: Array, *args: Array) -> tuple[Array, Array]:
        if self._resolved is None:
            self._resolve(x, args)
        function = self._compiled(x, args) if self._resolved == "casadi" else None
        if function is not None:
            out, jac = function(x, *args)
            return np.asarray(out, float).reshape(-1), np.asarray(jac, float)
        value = np.asarray(self.g(x, *args), dtype=float).reshape(-1)
        if self._resolved == "complex":
            return value, self._complex_step(x, args)
        return value, self._central(x, args)

    def _resolve(self, x: Array, args: tuple[Array, ...]) -> None:
        method = self.method
        if method in ("auto", "casadi"):
            if self._compiled(x, args) is not None:
                self._resolved = "casadi"
                return
            if method == "casadi":
                raise InputError(
                    "the function cannot be traced with CasADi symbols",
                    expected="a function of CasADi-compatible operations (or jacobian='auto')",
                )
        if method in ("auto", "complex"):
            try:
                complex_jac = self._complex_step(x, args)
            except (TypeError, ValueError, OverflowError):
                complex_jac = None
            if complex_jac is not None and method == "complex":
                self._resolved = "complex"
                return
            if complex_jac is not None:
                central = self._central(x, args)
                scale = np.maximum(np.abs(central), 1.0)
                if np.all(np.abs(complex_jac - central) <= 1e-4 * scale):
                    self._resolved = "complex"
                    return
        self._resolved = "fd"

    def _compiled(self, x: Array, args: tuple[Array, ...]) -> Any:
        key = (x.size, *(np.size(a) for a in args))
        if key in self._casadi:
            return self._casadi[key]
        self._casadi[key] = None
        try:
            import casadi as ca
        except ImportError:
            return None
        try:
            with warnings.catch_warnings():
                # numpy ufuncs on CasADi symbols work and warn about a future change
                warnings.simplefilter("ignore")
                xs = ca.SX.sym("x", x.size)
                syms = [ca.SX.sym(f"a{i}", int(np.size(a))) for i, a in enumerate(args)]
                out = _vector(self.g(xs, *syms), symbolic=True)
                function = ca.Function("g", [xs, *syms], [out, ca.jacobian(out, xs)])
                check, _ = function(x, *args)
            plain = np.asarray(self.g(x, *args), dtype=float).reshape(-1)
            if np.allclose(np.asarray(check, float).reshape(-1), plain, rtol=1e-8, atol=1e-10):
                self._casadi[key] = function
                self._plain[key] = ca.Function("v", [xs, *syms], [out])
        except Exception:
            self._casadi[key] = None
        return self._casadi[key]

    def _complex_step(self, x: Array, args: tuple[Array, ...]) -> Array:
        step = 1e-30
        columns = []
        for i in range(x.size):
            probe = x.astype(complex)
            probe[i] += 1j * step
            columns.append(np.imag(np.asarray(self.g(probe, *args), dtype=complex)) / step)
        return np.array(columns).reshape(x.size, -1).T

    def _central(self, x: Array, args: tuple[Array, ...]) -> Array:
        columns = []
        for i in range(x.size):
            step = 6e-6 * max(1.0, abs(float(x[i])))
            up, down = x.copy(), x.copy()
            up[i] += step
            down[i] -= step
            plus = np.asarray(self.g(up, *args), dtype=float).reshape(-1)
            minus = np.asarray(self.g(down, *args), dtype=float).reshape(-1)
            columns.append((plus - minus) / (2 * step))
        return np.array(columns).reshape(x.size, -1).T


class _Transition:
    """Discrete step ``x(t) -> x(t + dt)`` and its Jacobian, from ``f``."""

    def __init__(
        self,
        f: Callable[..., Any],
        continuous: bool,
        max_step: float,
        method: JacobianMethod,
    ) -> None:
        self.continuous = continuous
        self.max_step = max_step
        if continuous:

            def substep(x: Any, u: Any, h: Any) -> Any:
                symbolic = not isinstance(x, np.ndarray)
                return rk4_step(f, x, u, h, symbolic=symbolic)

            self._step = _Differentiable(substep, method)
        else:
            self._step = _Differentiable(f, method)

    def _pieces(self, dt: float) -> tuple[int, float]:
        if not self.continuous:
            return 1, dt
        count = max(1, math.ceil(dt / self.max_step - 1e-9))
        return count, dt / count

    def step(self, x: Array, u: Array, dt: float) -> Array:
        count, h = self._pieces(dt)
        for _ in range(count):
            x = self._step.value(x, u, np.array([h]))
        return x

    def step_many(self, points: Array, u: Array, dt: float) -> Array:
        """:meth:`step` for each row of ``points`` (shape ``(N, n)``)."""
        count, h = self._pieces(dt)
        for _ in range(count):
            points = self._step.values(points, u, np.array([h]))
        return points

    def step_and_jacobian(self, x: Array, u: Array, dt: float) -> tuple[Array, Array]:
        count, h = self._pieces(dt)
        total = np.eye(x.size)
        for _ in range(count):
            x, jac = self._step.value_and_jacobian(x, u, np.array([h]))
            total = jac @ total
        return x, total


class KalmanFilterBase:
    """What the extended and unscented filters share: checks, bounds, NIS, history.

    Subclasses implement ``_propagate`` (mean and covariance before process noise) and
    ``_measurement_moments`` (predicted reading, its covariance before ``R``, the
    state-reading cross covariance and, for linearised filters, the Jacobian ``H``).
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
        jacobian: JacobianMethod = "auto",
        continuous: bool = True,
        max_step: float = 0.1,
        lower: ArrayLike | None = None,
        upper: ArrayLike | None = None,
        t0: float = 0.0,
    ) -> None:
        state = np.asarray(x0, dtype=float).reshape(-1)
        if not np.all(np.isfinite(state)):
            raise InputError("x0 has non-finite entries", expected="finite numbers", found=x0)
        n = state.size
        self.f = f
        self.h = h
        self._noise_of_state = Q if callable(Q) else None
        # a state-dependent Q is checked at each prediction, where the inputs are known
        self.Q = np.zeros((n, n)) if callable(Q) else check_covariance(Q, "Q", n, semidefinite=True)
        self.P0 = check_covariance(P0, "P0", n)
        self.R = np.asarray(R, dtype=float)
        self.x0 = state
        self.jacobian = jacobian
        self.continuous = continuous
        if not max_step > 0:
            raise InputError("max_step must be positive", expected="> 0 h", found=max_step)
        self.max_step = float(max_step)
        self.lower = np.broadcast_to(-np.inf if lower is None else lower, (n,)).astype(float)
        self.upper = np.broadcast_to(np.inf if upper is None else upper, (n,)).astype(float)
        self._transition = _Transition(f, continuous, self.max_step, jacobian)
        self._observations: dict[int, _Differentiable] = {}
        self.x_ = np.clip(state.copy(), self.lower, self.upper)
        self.P_ = self.P0.copy()
        self.t_ = float(t0)
        self.history_: list[FilterStep] = [FilterStep(self.t_, "init", self.x_, self.P_)]

    # -- public API -------------------------------------------------------------------
    def predict(self, u: ArrayLike | None = None, dt: float = 1.0) -> KalmanFilterBase:
        """Propagate the state ``dt`` hours ahead with inputs ``u`` held constant."""
        inputs = np.zeros(0) if u is None else np.asarray(u, dtype=float).reshape(-1)
        if not np.all(np.isfinite(inputs)):
            raise InputError("inputs must be finite", expected="finite numbers", found=u)
        if not (math.isfinite(dt) and dt >= 0):
            raise InputError("dt must be a non-negative time step", expected=">= 0 h", found=dt)
        if dt > 0:
            if self._noise_of_state is not None:
                self.Q = check_covariance(
                    self._noise_of_state(self.x_, inputs), "Q", self.x_.size, semidefinite=True
                )
            x, P = self._propagate(self.x_, self.P_, inputs, float(dt))
            P = P + self.Q * dt
            self.x_, self.P_ = self._checked(x, P, "predict")
            self.t_ += float(dt)
        self.history_.append(FilterStep(self.t_, "predict", self.x_, self.P_))
        return self

    def update(
        self,
        y: ArrayLike,
        R: ArrayLike | None = None,
        h: Callable[..., Any] | None = None,
        *,
        args: Sequence[ArrayLike] = (),
        label: str | None = None,
    ) -> KalmanFilterBase:
        """Fuse the reading ``y`` (shape ``(m,)``) made through ``h`` (default: the filter's).

        ``R`` defaults to the filter's; pass both ``h`` and ``R`` for another sensor set
        (multi-rate fusion). ``args`` are numeric arrays passed on as ``h(x, *args)`` (e.g.
        the current inputs, when a signal depends on them). ``label`` tags the update for
        :meth:`consistency`. NaN entries are dropped with a warning (module docstring).
        """
        reading = np.atleast_1d(np.asarray(y, dtype=float)).reshape(-1)
        noise = check_covariance(self.R if R is None else R, "R", reading.size)
        if np.any(np.isinf(reading)):
            raise InputError("a measurement is infinite", expected="finite or NaN", found=y)
        rows = np.flatnonzero(~np.isnan(reading))
        if rows.size < reading.size:
            warnings.warn(
                f"t={self.t_:g} h: {reading.size - rows.size} NaN reading(s) left out of the "
                "update",
                MissingMeasurementWarning,
                stacklevel=2,
            )
        if rows.size == 0:
            return self
        observation = self._observation(self.h if h is None else h)
        extra = tuple(np.atleast_1d(np.asarray(a, dtype=float)) for a in args)
        predicted, pyy, pxy, jac, prior = self._measurement_moments(
            self.x_, self.P_, observation, extra
        )
        if predicted.size != reading.size:
            raise InputError(
                "measurement size does not match h(x)",
                expected=str(predicted.size),
                found=reading.size,
            )
        predicted, pyy, pxy = predicted[rows], pyy[np.ix_(rows, rows)], pxy[:, rows]
        S = pyy + noise[np.ix_(rows, rows)]
        try:
            factor = np.linalg.cholesky(0.5 * (S + S.T))
        except np.linalg.LinAlgError:
            raise FilterError(
                f"t={self.t_:g} h: innovation covariance is not positive definite; check R "
                "and that the readings depend on the state"
            ) from None
        innovation = reading[rows] - predicted
        whitened = np.linalg.solve(factor, innovation)
        gain = np.linalg.solve(factor.T, np.linalg.solve(factor, pxy.T)).T
        x = self.x_ + gain @ innovation
        if jac is not None:
            # Joseph form keeps P symmetric positive definite under round-off.
            left = np.eye(x.size) - gain @ jac[rows]
            P = left @ prior @ left.T + gain @ noise[np.ix_(rows, rows)] @ gain.T
        else:
            P = prior - gain @ S @ gain.T
        self.x_, self.P_ = self._checked(x, P, "update")
        self.history_.append(
            FilterStep(
                self.t_,
                "update",
                self.x_,
                self.P_,
                label,
                innovation,
                float(whitened @ whitened),
                int(rows.size),
            )
        )
        return self

    def nis(self, label: str | None = None) -> tuple[Array, NDArray[np.int_]]:
        """NIS of each update (optionally of one ``label``) and the readings it used."""
        steps = [
            s for s in self.history_ if s.kind == "update" and (label is None or s.label == label)
        ]
        return np.array([s.nis for s in steps]), np.array([s.dof for s in steps], dtype=int)

    def consistency(self, label: str | None = None, alpha: float = 0.05) -> Consistency:
        """Average-NIS chi-square test over all updates (or those with ``label``)."""
        values, dofs = self.nis(label)
        return nis_consistency(values, dofs, alpha)

    # -- shared helpers ---------------------------------------------------------------
    def _observation(self, h: Callable[..., Any]) -> _Differentiable:
        key = id(h)
        if key not in self._observations:
            self._observations[key] = _Differentiable(h, self.jacobian)
        return self._observations[key]

    def _checked(self, x: Array, P: Array, stage: str) -> tuple[Array, Array]:
        P = 0.5 * (P + P.T)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(P))):
            raise FilterError(
                f"t={self.t_:g} h: {stage} produced non-finite values; the model diverged "
                "(shorten max_step or check the inputs)"
            )
        return np.clip(x, self.lower, self.upper), P

    def _propagate(self, x: Array, P: Array, u: Array, dt: float) -> tuple[Array, Array]:
        raise NotImplementedError

    def _measurement_moments(
        self, x: Array, P: Array, observation: _Differentiable, args: tuple[Array, ...]
    ) -> tuple[Array, Array, Array, Array | None, Array]:
        """Predicted reading, its covariance (without R), state-reading cross covariance,
        the Jacobian H (linearised filters) and the state covariance to update."""
        raise NotImplementedError


class ExtendedKalmanFilter(KalmanFilterBase):
    """Extended Kalman filter (Jazwinski 1970, *Stochastic Processes and Filtering Theory*).

    Parameters
    ----------
    f, h:
        Transition (see module docstring) and measurement function ``h(x) -> (m,)``.
    Q, R, P0:
        Process-noise intensity (per hour; or a function ``Q(x, u)`` returning it),
        measurement covariance, initial covariance; matrices or 1-D diagonals.
    x0:
        Initial state guess, shape ``(n,)``.
    jacobian:
        ``'auto'``, ``'casadi'``, ``'complex'`` or ``'fd'`` (module docstring); applied to
        the RK4 sub-step and to ``h``.
    continuous, max_step, lower, upper, t0:
        Model kind, longest RK4 sub-step (h), clipping bounds, initial time (h).
    """

    def _propagate(self, x: Array, P: Array, u: Array, dt: float) -> tuple[Array, Array]:
        x_next, phi = self._transition.step_and_jacobian(x, u, dt)
        return x_next, phi @ P @ phi.T

    def _measurement_moments(
        self, x: Array, P: Array, observation: _Differentiable, args: tuple[Array, ...]
    ) -> tuple[Array, Array, Array, Array | None, Array]:
        predicted, H = observation.value_and_jacobian(x, *args)
        H = H.reshape(predicted.size, x.size)
        return predicted, H @ P @ H.T, P @ H.T, H, P


def as_sequence(values: Sequence[str] | str | None) -> tuple[str, ...]:
    """``None`` -> ``()``, ``'X'`` -> ``('X',)``, a sequence -> a tuple."""
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(values)
