"""``TreeEnsemble``: bootstrapped gradient-boosted trees whose disagreement is the uncertainty."""

from __future__ import annotations

from typing import Self

import numpy as np
import xgboost as xgb

from biofab.core.errors import NotEnoughDataError
from biofab.learn.state import SurrogateState
from biofab.learn.surrogate import inverse_variance_weights


class TreeEnsemble:
    """A bootstrap ensemble of XGBoost regressors for one output.

    Each of ``n_members`` regressors is trained on its own bootstrap resample
    of the rows (``n`` rows drawn with replacement) with its own XGBoost seed;
    ``predict`` returns the members' mean and their standard deviation. Trees
    cope with one-hot labels, plateaus and kinks that a smooth GP kernel does
    not, and the fit is cheap enough to refit every round.

    The spread is an epistemic uncertainty only (no observation noise) and,
    like any bootstrap spread, tends to be too small on small data sets;
    check it with :func:`biofab.learn.calibration.calibration_report`.
    Trees predict a constant beyond the data, so the spread far outside the
    measured region is that of the nearest measured edge, not larger.

    Parameters
    ----------
    n_members, seed:
        Ensemble size and the seed from which every member's resample and
        XGBoost seed derive (same seed and data -> same predictions).
    n_estimators, max_depth, learning_rate, subsample, colsample_bytree,
    min_child_weight, reg_lambda:
        Passed to each ``xgboost.XGBRegressor``.
    n_jobs:
        XGBoost threads per member.
    weight_by_yvar:
        When ``fit`` gets ``yvar``, weight each row by its inverse variance
        (so noisier values pull less). Variances are first floored at 1 % of
        their median, so that a near-zero variance does not let one row
        dominate, and the weights are scaled to mean 1, so that
        ``min_child_weight`` keeps its meaning in rows.

    Attributes
    ----------
    members_ : list[xgboost.XGBRegressor]
        The fitted regressors, length ``n_members``.
    n_features_in_ : int
        Width ``d`` of ``X``.
    """

    def __init__(
        self,
        n_members: int = 10,
        n_estimators: int = 200,
        max_depth: int = 4,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        colsample_bytree: float = 1.0,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        seed: int = 0,
        n_jobs: int = 1,
        weight_by_yvar: bool = True,
    ) -> None:
        self.n_members = n_members
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.seed = seed
        self.n_jobs = n_jobs
        self.weight_by_yvar = weight_by_yvar

    def fit(self, X: np.ndarray, y: np.ndarray, yvar: np.ndarray | None = None) -> Self:
        """Fit every member on ``X`` ``(n, d)`` and ``y`` ``(n,)`` or ``(n, 1)``.

        ``yvar`` (same shape as ``y``) becomes inverse-variance sample weights
        when ``weight_by_yvar`` is set. Raises ``ValueError`` for ``y`` with
        more than one column and ``NotEnoughDataError`` for fewer than 2 rows.
        """
        if self.n_members < 1:
            raise ValueError("n_members must be at least 1")
        Xa, ya, va = _check_single_output(X, y, yvar, "TreeEnsemble")
        n = len(ya)
        if n < 2:
            raise NotEnoughDataError(f"a tree ensemble needs at least 2 measurements, got {n}")
        weights = np.ones(n)
        if va is not None and self.weight_by_yvar:
            weights = inverse_variance_weights(va)

        # One child stream per member keeps member i's resample independent of n_members.
        streams = np.random.SeedSequence(self.seed).spawn(self.n_members)
        members: list[xgb.XGBRegressor] = []
        for stream in streams:
            rng = np.random.default_rng(stream)
            rows = rng.integers(0, n, size=n)
            model = self._regressor(int(rng.integers(0, 2**31 - 1)))
            model.fit(Xa[rows], ya[rows], sample_weight=weights[rows])
            members.append(model)
        self.members_ = members
        self.n_features_in_ = Xa.shape[1]
        self._y_ndim = np.ndim(y)
        return self

    def _regressor(self, random_state: int) -> xgb.XGBRegressor:
        return xgb.XGBRegressor(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            min_child_weight=self.min_child_weight,
            reg_lambda=self.reg_lambda,
            n_jobs=self.n_jobs,
            random_state=random_state,
            tree_method="hist",
        )

    # -- saving --------------------------------------------------------------
    def get_state(self) -> SurrogateState:
        """Hyper-parameters, and each member's booster as XGBoost JSON (``member.<i>``)."""
        if not hasattr(self, "members_"):
            raise RuntimeError("TreeEnsemble is not fitted; call fit(X, y) first")
        params = {
            "n_members": self.n_members,
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "reg_lambda": self.reg_lambda,
            "seed": self.seed,
            "n_jobs": self.n_jobs,
            "weight_by_yvar": self.weight_by_yvar,
        }
        blobs = {
            f"member.{i}": bytes(m.get_booster().save_raw("json"))
            for i, m in enumerate(self.members_)
        }
        fitted = {"n_features_in_": self.n_features_in_, "y_ndim": self._y_ndim}
        return SurrogateState(params, fitted, blobs=blobs)

    @classmethod
    def from_state(cls, state: SurrogateState) -> Self:
        """The fitted ensemble that :meth:`get_state` described (same predictions)."""
        model = cls(**state.params)
        members = []
        for i in range(model.n_members):
            member = model._regressor(0)
            member.load_model(bytearray(state.blobs[f"member.{i}"]))
            members.append(member)
        if len(state.blobs) != len(members):
            raise ValueError(f"{len(state.blobs)} boosters for {len(members)} members")
        model.members_ = members
        model.n_features_in_ = int(state.fitted["n_features_in_"])
        model._y_ndim = int(state.fitted["y_ndim"])
        return model

    def predict_members(self, X: np.ndarray) -> np.ndarray:
        """Each member's prediction at ``X`` ``(n, d)``: array ``(k, n)``."""
        if not hasattr(self, "members_"):
            raise RuntimeError("TreeEnsemble is not fitted; call fit(X, y) first")
        Xa = np.asarray(X, dtype=float)
        if Xa.ndim != 2 or Xa.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n, {self.n_features_in_}), got {Xa.shape}")
        if len(Xa) == 0:
            return np.zeros((len(self.members_), 0))
        return np.stack([m.predict(Xa).astype(float) for m in self.members_])

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Members' mean and standard deviation at ``X`` ``(n, d)``.

        Shapes ``(n,)``, or ``(n, 1)`` when fitted on ``y`` of shape
        ``(n, 1)``. The std uses ``ddof=1`` (the spread of the bootstrap
        distribution, not of these particular members) and is 0 for one member.
        """
        P = self.predict_members(X)
        mean = P.mean(axis=0)
        std = P.std(axis=0, ddof=1) if len(P) > 1 else np.zeros_like(mean)
        if self._y_ndim == 2:
            return mean[:, None], std[:, None]
        return mean, std

    def __repr__(self) -> str:
        return (
            f"TreeEnsemble(n_members={self.n_members}, n_estimators={self.n_estimators}, "
            f"max_depth={self.max_depth}, learning_rate={self.learning_rate}, seed={self.seed})"
        )


def _check_single_output(
    X: np.ndarray, y: np.ndarray, yvar: np.ndarray | None, who: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate ``X`` ``(n, d)`` and one output; return ``X``, ``y`` ``(n,)``, ``yvar`` ``(n,)``."""
    Xa = np.asarray(X, dtype=float)
    ya = np.asarray(y, dtype=float)
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {Xa.shape}")
    if ya.ndim == 2 and ya.shape[1] != 1:
        raise ValueError(
            f"{who} models one output; got y with {ya.shape[1]} columns "
            "(fit one ensemble per output)"
        )
    if ya.ndim not in (1, 2) or len(ya) != len(Xa):
        raise ValueError(f"y must have shape ({len(Xa)},) or ({len(Xa)}, 1), got {ya.shape}")
    ya = ya.reshape(-1)
    if not (np.isfinite(Xa).all() and np.isfinite(ya).all()):
        raise ValueError("X and y must be finite (drop or impute missing measurements first)")
    va = None
    if yvar is not None:
        vv = np.asarray(yvar, dtype=float)
        if vv.size != ya.size or vv.ndim not in (1, 2):
            raise ValueError(f"yvar must have y's shape, got {vv.shape}")
        va = vv.reshape(-1)
        if not np.isfinite(va).all() or (va < 0).any():
            raise ValueError("yvar must be finite and non-negative")
    return Xa, ya, va
