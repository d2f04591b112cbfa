"""Secretion from sequence: SP x enzyme activity predicted from the SP, junction and enzyme.

:class:`~biofab.parts.secretion.SecretionMatrix` knows SPs by id only, so it cannot rank
a signal peptide nobody has measured. :class:`SequenceSecretionModel` describes each
(SP, enzyme) pair by numbers a biologist would look at
(:func:`biofab.parts.signal_peptide.descriptors`: n/h/c-region lengths, charge and
hydropathy, the (-3, -1) cleavage residues, the mature N-terminus and the junction), plus
the enzyme's family or identity, and regresses the activity on them:

* ``estimator="ridge"``: ridge regression on standardised descriptors and, with
  ``interactions``, descriptor x enzyme-group products (so an SP property may help one
  family and hurt another); the penalty is chosen among ``alphas`` by grouped cross-
  validation *inside* the training data.
* ``estimator="boost"``: gradient-boosted trees (XGBoost) on descriptors + enzyme group
  one-hot, which finds interactions itself.

The activity is standardised per protein before fitting (each enzyme assay has its own
units; the within-enzyme order of SPs is what a user acts on) and mapped back for known
proteins. Members are refits on bootstrap resamples of the SPs (all cells of a drawn SP
come along), so their spread reflects which SPs happened to be measured. The reported std
is recalibrated on held-out folds of the *training* data (``calibration_folds``, grouped
by ``groups`` given to :meth:`fit`: SP, SP cluster or cell, to imitate the use):

    std^2 = c * (member_var + s2_protein)       (error_model=False)
    std^2 = c * exp(g(error features))           (error_model=True)

where ``s2_protein`` is a shrunken per-protein variance of the held-out residuals not
explained by the member spread, ``g`` a ridge regression of the held-out log squared
residuals (two-stage heteroscedastic fit) and ``c`` makes mean +- 1 std cover 68.3 % of
those held-out residuals (variance scaling; Kuleshov et al. 2018, ICML, for recalibrating
regression uncertainty on held-out data). The error features (:data:`ERROR_FEATURES`;
default: the SP/junction descriptors, the enzyme's shape and the measurement noise of the
cell, the last from replicates when the table gives ``replicate_var`` and
``n_replicates``) were chosen on the Wu 2020 grouped splits (BENCHMARKS.md, "Signal
peptides, std"): they rank held-out errors better than the member spread and the
per-protein residual variance, which in inner folds carry the finite-sample artifact of a
table standardised over the same cells. Each inner fold restandardises every protein on
its own training cells (``restandardize``) for the same reason. Units: activity of the
protein in the training data for known proteins; standard deviations of a protein's
activities (unitless) for a protein the model has not seen.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from biofab.core.errors import InputError, NotEnoughDataError
from biofab.parts.signal_peptide import COMPOSITION_NAMES, DESCRIPTOR_NAMES, descriptors

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "biofab.parts.sequence_secretion_model"
ESTIMATORS = ("ridge", "boost")
ENZYME_FEATURES = ("none", "family", "id")
FIT_COLUMNS = ("sp_id", "protein_id", "sequence", "mature_sequence", "activity")
#: Residual-variance shrinkage: a protein's own estimate counts as this many cells' worth
#: against the pooled one (few held-out cells per protein make a noisy variance).
SHRINK_CELLS = 5.0
ONE_SIGMA_COVERAGE = 0.6827
#: Ridge penalty of the error model (standardised descriptors; fixed, not tuned).
ERROR_ALPHA = 30.0
#: What the error model may use: ``spread`` (log of member variance + the protein's residual
#: variance), ``descriptors`` (the SP/junction descriptors), ``enzyme_shape`` (log of the median
#: |standardised activity| of the enzyme's training cells: heavy-tailed enzymes, where most
#: SPs sit near the middle, give small typical errors), ``noise`` (log of the measurement
#: noise of the cell: the enzyme's variance of one replicate (e.g. a culture), from the training
#: cells' replicates (the ``replicate_var`` column), over the cell's replicates
#: (``n_replicates`` when the rows give it: the planned design; else the enzyme's median)),
#: ``enzyme_scale`` (log sd of the enzyme's training activities, activity units: the std is
#: that scale times a standardised std, and the error model may correct how much it counts).
ERROR_FEATURES = ("spread", "descriptors", "enzyme_shape", "noise", "enzyme_scale")


def _pairs(data: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    from biofab.parts.secretion import _check_long
    from biofab.parts.sequences import check_sequences

    frame = _check_long(data, columns)
    for col in ("sequence", "mature_sequence"):
        if col in frame.columns:
            frame[col] = check_sequences(frame[col].tolist(), "protein", column=col)
    if "family" in data.columns:
        frame["family"] = data["family"].astype(str).to_numpy()
    for col in ("replicate_var", "n_replicates"):
        if col in data.columns:
            import pandas as pd

            frame[col] = pd.to_numeric(data[col], errors="coerce").to_numpy()
    return frame.reset_index(drop=True)


class SequenceSecretionModel:
    """SP x enzyme secretion from sequence descriptors, with a recalibrated std.

    Hyper-parameters: ``estimator`` (``ridge`` or ``boost``); ``enzyme`` (``none``,
    ``family``: the ``family`` column, e.g. amylase; ``id``: the protein id) names the
    enzyme groups used for interactions (ridge) or as one-hot features (boost);
    ``interactions`` (ridge: descriptor x group products); ``composition`` (add the SP's
    20 amino-acid fractions); ``alphas`` (ridge penalties tried by inner grouped CV; one
    value = fixed); ``n_members`` (bootstrap members for the std; >= 2);
    ``calibration_folds`` (held-out training folds for the std scale; 0 = no
    recalibration, the std is then the bare member spread, which is not a predictive
    interval); ``error_model`` (let the std vary by pair, learned on those folds);
    ``error_features`` (what it may use, :data:`ERROR_FEATURES`; ``noise`` is left out when
    the training table has no ``replicate_var``/``n_replicates`` columns);
    ``restandardize`` (inner folds re-centre and re-scale each protein on their own training
    cells); ``loo_variance`` (the ``spread`` feature's protein variance leaves each cell's own
    residual out); ``error_floor`` (added to squared residuals, times their pooled mean,
    before the log); ``n_estimators``, ``max_depth``, ``learning_rate`` (boost); ``seed``.

    Fitted attributes: ``feature_names_``, ``groups_`` (enzyme groups seen),
    ``protein_ids_``, ``protein_center_``/``protein_scale_`` (activity units),
    ``alpha_`` (ridge penalty chosen), ``scale_`` (c above), ``residual_var_`` (per
    protein, standardized units squared), ``pooled_var_``, ``calibration_`` (held-out
    coverage of +-1 std before and after scaling, n), ``error_coef_``/``error_icpt_``/
    ``error_range_`` (the error model; None without one), ``error_features_`` (the error
    features used), ``enzyme_stats_`` (per protein: log shape, log replicate variance,
    median replicates, log scale), ``n_cells_``, ``sp_sequences_``
    (training SP id -> sequence), ``proteins_`` (protein id -> mature sequence, family).
    """

    def __init__(
        self,
        estimator: str = "ridge",
        enzyme: str = "family",
        interactions: bool = True,
        composition: bool = False,
        alphas: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
        n_members: int = 20,
        calibration_folds: int = 5,
        error_model: bool = True,
        error_features: tuple[str, ...] = ("descriptors", "enzyme_shape", "noise"),
        restandardize: bool = True,
        loo_variance: bool = False,
        error_floor: float = 1e-3,
        n_estimators: int = 150,
        max_depth: int = 3,
        learning_rate: float = 0.05,
        seed: int = 0,
    ) -> None:
        self.estimator = estimator
        self.enzyme = enzyme
        self.interactions = interactions
        self.composition = composition
        self.alphas = tuple(alphas)
        self.n_members = n_members
        self.calibration_folds = calibration_folds
        self.error_model = error_model
        self.error_features = tuple(error_features)
        self.restandardize = restandardize
        self.loo_variance = loo_variance
        self.error_floor = error_floor
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.seed = seed

    def _check_params(self) -> None:
        if self.estimator not in ESTIMATORS:
            raise InputError(
                "unknown estimator", expected=" or ".join(ESTIMATORS), found=self.estimator
            )
        if self.enzyme not in ENZYME_FEATURES:
            raise InputError(
                "unknown enzyme features", expected=", ".join(ENZYME_FEATURES), found=self.enzyme
            )
        if self.n_members < 2:
            raise InputError("n_members must be at least 2", found=self.n_members)
        if not self.alphas or min(self.alphas) <= 0:
            raise InputError("alphas must be positive", found=str(self.alphas))
        unknown = [f for f in self.error_features if f not in ERROR_FEATURES]
        if unknown or not self.error_features:
            raise InputError(
                "unknown error-model feature",
                expected=", ".join(ERROR_FEATURES),
                found=unknown[0] if unknown else "none",
            )
        if not (math.isfinite(self.error_floor) and self.error_floor > 0):
            # the error model regresses log(residual² + floor × pooled): it must stay > 0
            raise InputError("error_floor must be a finite number > 0", found=self.error_floor)

    # -- features -------------------------------------------------------------------------
    def _group_of(self, frame: pd.DataFrame) -> np.ndarray:
        if self.enzyme == "none":
            return np.array(["all"] * len(frame))
        if self.enzyme == "id":
            return frame["protein_id"].astype(str).to_numpy()
        if "family" not in frame.columns:
            raise InputError(
                "missing column",
                column="family",
                expected="an enzyme family per row (or enzyme='id'/'none')",
            )
        return frame["family"].astype(str).to_numpy()

    def _descriptor_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        names = self._descriptor_names()
        cache: dict[tuple[str, str], list[float]] = {}
        rows = []
        for sp, mature in zip(frame["sequence"], frame["mature_sequence"], strict=True):
            if (sp, mature) not in cache:
                d = descriptors(sp, mature, composition=self.composition)
                cache[(sp, mature)] = [d[n] for n in names]
            rows.append(cache[(sp, mature)])
        return np.array(rows, dtype=float)

    def _descriptor_names(self) -> tuple[str, ...]:
        return DESCRIPTOR_NAMES + (COMPOSITION_NAMES if self.composition else ())

    def _design(self, D: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Standardised descriptors [+ group one-hot (boost) | + descriptor x group (ridge)]."""
        Z = (D - self.d_mean_) / self.d_scale_
        onehot = (groups[:, None] == np.array(self.groups_)[None, :]).astype(float)
        if self.estimator == "boost":
            return np.hstack([Z, onehot]) if len(self.groups_) > 1 else Z
        if self.interactions and len(self.groups_) > 1:
            inter = (Z[:, :, None] * onehot[:, None, :]).reshape(len(Z), -1)
            return np.hstack([Z, inter])
        return Z

    # -- fitting --------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, groups: np.ndarray | None = None) -> Self:
        """Fit on cells ``sp_id, protein_id, sequence, mature_sequence, activity`` (+
        ``family`` for ``enzyme="family"``); ``activity`` in any units per protein.

        Replicate rows of one (sp_id, protein_id) are averaged first. ``groups``
        (one label per row, e.g. SP sequence clusters) sets the held-out folds of the
        inner alpha choice and the std recalibration; default: the SP.
        """
        import pandas as pd

        self._check_params()
        frame = _pairs(data, FIT_COLUMNS)
        if groups is not None:
            if len(groups) != len(data):
                raise InputError("groups must have one label per row", found=len(groups))
            frame["_g"] = np.asarray(groups).astype(str)
        else:
            frame["_g"] = frame["sp_id"]
        keys = ["sp_id", "protein_id"]
        first = frame.groupby(keys, sort=True).first().reset_index()
        first["activity"] = frame.groupby(keys, sort=True)["activity"].mean().to_numpy()
        cells = first
        has_noise = "replicate_var" in cells and "n_replicates" in cells
        used = tuple(f for f in self.error_features if f != "noise" or has_noise)
        # The noise feature needs replicate information; a table without it (any user's own
        # SP x protein activities) still gets the other features. Asked for alone, it fails.
        self.error_features_ = used if used else self.error_features
        needs_noise = self.error_model and "noise" in self.error_features_
        if needs_noise:
            for col in ("replicate_var", "n_replicates"):
                v = cells[col].to_numpy(dtype=float) if col in cells else None
                if v is None or not np.all(np.isfinite(v)) or np.any(v < 0):
                    raise InputError(
                        "the error model's noise feature needs replicate_var and n_replicates",
                        column=col,
                        expected="a finite number >= 0 per cell (wu2020_cells gives both)",
                    )
        if len(cells) < 10 or cells["sp_id"].nunique() < 5:
            raise NotEnoughDataError(
                f"SequenceSecretionModel needs >= 10 cells and >= 5 SPs, got {len(cells)} "
                f"cells and {cells['sp_id'].nunique()} SPs"
            )
        pid = cells["protein_id"].to_numpy()
        y = cells["activity"].to_numpy(dtype=float)
        self.protein_ids_ = np.array(sorted(set(pid)))
        center = np.zeros(len(self.protein_ids_))
        scale = np.ones(len(self.protein_ids_))
        pi = np.searchsorted(self.protein_ids_, pid)
        for p in range(len(self.protein_ids_)):
            v = y[pi == p]
            center[p] = v.mean()
            if len(v) > 1 and v.std() > 0:
                scale[p] = v.std()
        self.protein_center_, self.protein_scale_ = center, scale
        z = (y - center[pi]) / scale[pi]
        self.groups_ = sorted(set(self._group_of(cells)))
        D = self._descriptor_matrix(cells)
        self.d_mean_ = D.mean(axis=0)
        sd = D.std(axis=0)
        self.d_scale_ = np.where(sd > 0, sd, 1.0)
        self.feature_names_ = list(self._descriptor_names())
        X = self._design(D, self._group_of(cells))
        sp = cells["sp_id"].to_numpy()
        folds = cells["_g"].to_numpy()
        self.alpha_ = self._choose_alpha(X, z, folds)
        self._members = self._fit_members(X, z, sp, self.alpha_, self.seed)
        self.n_cells_ = len(cells)
        # What secretion-predict needs to rank for a known protein without the table.
        self.sp_sequences_ = dict(zip(cells["sp_id"], cells["sequence"], strict=True))
        fam = cells["family"] if "family" in cells.columns else pd.Series([""] * len(cells))
        self.proteins_ = {
            str(p): {"mature_sequence": str(m), "family": str(f)}
            for p, m, f in zip(cells["protein_id"], cells["mature_sequence"], fam, strict=True)
        }
        # Variance of one reading in each protein's standardised units (the model's z), and
        # the replicates of each cell.
        replicate_z = (
            cells["replicate_var"].to_numpy(dtype=float) / scale[pi] ** 2
            if needs_noise
            else np.ones(len(z))
        )
        n_rep = (
            np.maximum(cells["n_replicates"].to_numpy(dtype=float), 1.0)
            if needs_noise
            else np.ones(len(z))
        )
        self._calibrate(X, z, sp, folds, pid, replicate_z, n_rep)
        return self

    def _fold_ids(self, folds: np.ndarray, k: int, seed: int) -> np.ndarray:
        """Groups dealt at random into ``k`` folds (fold index per row)."""
        uniq = np.unique(folds)
        perm = np.random.default_rng(seed).permutation(len(uniq))
        fold_of = {g: int(perm[i]) % k for i, g in enumerate(uniq)}
        return np.array([fold_of[g] for g in folds])

    def _choose_alpha(self, X: np.ndarray, z: np.ndarray, folds: np.ndarray) -> float:
        if self.estimator != "ridge" or len(self.alphas) == 1:
            return float(self.alphas[0])
        k = min(5, len(np.unique(folds)))
        fid = self._fold_ids(folds, k, self.seed + 7)
        errors = np.zeros(len(self.alphas))
        for f in range(k):
            tr, te = fid != f, fid == f
            for a, alpha in enumerate(self.alphas):
                coef, icpt = _ridge(X[tr], z[tr], alpha)
                errors[a] += float(((X[te] @ coef + icpt - z[te]) ** 2).sum())
        return float(self.alphas[int(np.argmin(errors))])

    def _fit_members(
        self, X: np.ndarray, z: np.ndarray, sp: np.ndarray, alpha: float, seed: int
    ) -> list[Any]:
        """``n_members`` refits on bootstrap resamples of SPs (all cells of a drawn SP)."""
        rng = np.random.default_rng(seed)
        uniq = np.unique(sp)
        rows_of = {s: np.flatnonzero(sp == s) for s in uniq}
        members: list[Any] = []
        for m in range(self.n_members):
            drawn = rng.choice(uniq, size=len(uniq), replace=True)
            idx = np.concatenate([rows_of[s] for s in drawn])
            if self.estimator == "ridge":
                members.append(_ridge(X[idx], z[idx], alpha))
            else:
                members.append(self._boost(X[idx], z[idx], seed * 1000 + m))
        return members

    def _boost(self, X: np.ndarray, z: np.ndarray, seed: int) -> Any:
        import xgboost as xgb

        model = xgb.XGBRegressor(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            subsample=0.8,
            colsample_bytree=0.8,
            min_child_weight=3.0,
            n_jobs=1,
            random_state=seed,
            verbosity=0,
        )
        model.fit(X, z)
        return model.get_booster()

    def _member_predictions(self, members: list[Any], X: np.ndarray) -> np.ndarray:
        if self.estimator == "ridge":
            return np.array([X @ coef + icpt for coef, icpt in members])
        import xgboost as xgb

        dm = xgb.DMatrix(X)
        return np.array([b.predict(dm) for b in members])

    def _calibrate(
        self,
        X: np.ndarray,
        z: np.ndarray,
        sp: np.ndarray,
        folds: np.ndarray,
        pid: np.ndarray,
        replicate_z: np.ndarray,
        n_rep: np.ndarray,
    ) -> None:
        """Variance scale and per-protein residual variance from held-out training folds."""
        self.scale_, self.pooled_var_ = 1.0, 0.0
        unit = self.protein_scale_[np.searchsorted(self.protein_ids_, pid)]
        self.enzyme_stats_, self.enzyme_pooled_ = _enzyme_stats(z, replicate_z, n_rep, pid, unit)
        self.enzyme_norm_ = ([0.0] * 3, [1.0] * 3)
        self.residual_var_ = {str(p): 0.0 for p in self.protein_ids_}
        self.error_coef_: np.ndarray | None = None
        self.error_icpt_, self.error_range_ = 0.0, (0.0, 0.0)
        self.calibration_: dict[str, float | int | None] = {
            "n": 0,
            "coverage_raw": None,
            "coverage": None,
        }
        k = min(self.calibration_folds, len(np.unique(folds)))
        if k < 2:
            return
        fid = self._fold_ids(folds, k, self.seed + 13)
        resid = np.full(len(z), np.nan)
        mvar = np.full(len(z), np.nan)
        enz = np.full((len(z), 3), np.nan)
        for f in range(k):
            tr, te = fid != f, fid == f
            # restandardize: each protein re-centred and re-scaled on this fold's training
            # cells, as the model does with its own training data, so that held-out cells
            # relate to the training cells as a new measurement will (with the standardisation
            # over every cell, a held-out outlier inflates its own protein's scale).
            c, s = _fold_scale(z, pid, tr) if self.restandardize else (0.0, 1.0)
            zf = (z - c) / s
            members = self._fit_members(X[tr], zf[tr], sp[tr], self.alpha_, self.seed + 100 + f)
            P = self._member_predictions(members, X[te])
            # Residuals stay in the fold's units, as a new cell's error is measured in the
            # units of the data the model saw (back in the full data's units, a protein's
            # residuals would again share a fixed sum of squares).
            resid[te] = zf[te] - P.mean(axis=0)
            mvar[te] = P.var(axis=0, ddof=1)
            # The enzyme's shape and noise from this fold's training cells only, as at use.
            stats, pooled_stats = _enzyme_stats(
                z[tr], replicate_z[tr], n_rep[tr], pid[tr], unit[tr]
            )
            enz[te] = _enzyme_rows(stats, pooled_stats, pid[te], n_rep[te])
        extra = resid**2 - mvar
        pooled = max(float(np.mean(extra)), 1e-6)
        per: dict[str, float] = {}
        cell_var = np.empty(len(z))
        for p in self.protein_ids_:
            sel = pid == p
            n = int(sel.sum())
            own = float(np.mean(extra[sel])) if n else pooled
            per[str(p)] = max((n * own + SHRINK_CELLS * pooled) / (n + SHRINK_CELLS), 1e-6)
            if self.loo_variance:
                # Each cell's protein variance without its own residual: with it, the error
                # model below would regress r^2 on a feature made of that very r^2.
                rest = (extra[sel].sum() - extra[sel]) / max(n - 1, 1)
                loo = ((n - 1) * rest + SHRINK_CELLS * pooled) / (n - 1 + SHRINK_CELLS)
                cell_var[sel] = np.maximum(loo, 1e-6)
            else:
                cell_var[sel] = per[str(p)]
        base = mvar + cell_var
        self.pooled_var_, self.residual_var_ = pooled, per
        self.error_coef_, self.error_icpt_, self.error_range_ = None, 0.0, (0.0, 0.0)
        if self.error_model:
            # log r^2 regressed on log(base variance) and the SP/junction descriptors: which
            # pairs the model tends to miss by more (a two-stage heteroscedastic fit).
            # Standardised like the descriptors, so that the fixed penalty treats them alike.
            sd = enz.std(axis=0)
            self.enzyme_norm_ = (enz.mean(axis=0).tolist(), np.where(sd > 0, sd, 1.0).tolist())
            E = self._error_features(X, base, self._enzyme_scaled(enz))
            # The floor keeps near-zero residuals (log -> -inf) from dominating the fit.
            target = np.log(resid**2 + self.error_floor * pooled)
            coef, icpt = _ridge(E, target, ERROR_ALPHA)
            fitted = E @ coef + icpt
            self.error_coef_, self.error_icpt_ = coef, icpt
            self.error_range_ = (float(fitted.min()), float(fitted.max()))
            # The same error model refitted without each calibration fold, for that fold:
            # an honest (if slightly pessimistic) check of how well the std ranks errors.
            crossed = np.empty(len(z))
            for f in range(k):
                c, i = _ridge(E[fid != f], target[fid != f], ERROR_ALPHA)
                crossed[fid == f] = E[fid == f] @ c + i
            rank_check = _spearman(np.abs(resid), crossed)
            base = np.exp(fitted)
        else:
            rank_check = _spearman(np.abs(resid), base)
        ratio = resid**2 / base
        self.scale_ = float(np.quantile(ratio, ONE_SIGMA_COVERAGE))
        self.calibration_ = {
            "n": len(z),
            "coverage_raw": float(np.mean(resid**2 <= mvar)),
            "coverage": float(np.mean(ratio <= self.scale_)),
            # Spearman(|held-out residual|, std) on the calibration folds, the error model
            # cross-fitted (each fold's std from a fit on the other folds).
            "spearman_abs_error_std": rank_check,
        }

    def _error_features(self, X: np.ndarray, base: np.ndarray, enz: np.ndarray) -> np.ndarray:
        """Columns of the error model: see :data:`ERROR_FEATURES`; ``enz`` ``(n, 2)`` holds
        the log enzyme shape, log noise and log scale (:func:`_enzyme_rows`)."""
        parts = []
        used = self.error_features_
        if "spread" in used:
            parts.append(np.log(base)[:, None])
        if "descriptors" in used:
            parts.append(X[:, : len(self.feature_names_)])
        if "enzyme_shape" in used:
            parts.append(enz[:, :1])
        if "noise" in used:
            parts.append(enz[:, 1:2])
        if "enzyme_scale" in used:
            parts.append(enz[:, 2:3])
        return np.hstack(parts)

    def _enzyme_columns(self, frame: pd.DataFrame) -> np.ndarray:
        """Log enzyme shape and noise per row (the pooled values for an unseen protein),
        standardised as in the calibration; the noise for the row's ``n_replicates`` when
        given, else for the protein's median number of replicates."""
        n = (
            frame["n_replicates"].to_numpy(dtype=float)
            if "n_replicates" in frame.columns
            else np.full(len(frame), np.nan)
        )
        pid = frame["protein_id"].astype(str).to_numpy()
        return self._enzyme_scaled(_enzyme_rows(self.enzyme_stats_, self.enzyme_pooled_, pid, n))

    def _enzyme_scaled(self, enz: np.ndarray) -> np.ndarray:
        mean, sd = self.enzyme_norm_
        return (enz - np.asarray(mean)) / np.asarray(sd)

    # -- prediction -----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "_members"):
            raise RuntimeError("SequenceSecretionModel is not fitted; call fit first")

    def predict_standardized(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std ``(n,)`` in standard deviations of each protein's activities.

        ``pairs``: ``sequence``, ``mature_sequence``, ``protein_id`` (+ ``family``);
        an unseen protein is allowed (pooled residual variance). An enzyme group the
        model has not seen contributes no interaction term. Rank held-out SPs of one
        protein on this mean in cross-validation: :meth:`predict` adds the protein's mean
        over the training cells, which moves opposite to the held-out cells.
        """
        self._check_fitted()
        frame = _pairs(pairs, ("sequence", "mature_sequence", "protein_id"))
        X = self._design(self._descriptor_matrix(frame), self._group_of(frame))
        P = self._member_predictions(self._members, X)
        var_p = np.array(
            [self.residual_var_.get(str(p), self.pooled_var_) for p in frame["protein_id"]]
        )
        base = P.var(axis=0, ddof=1) + var_p
        if self.error_coef_ is not None:
            enz = self._enzyme_columns(frame)
            g = self._error_features(X, base, enz) @ self.error_coef_ + self.error_icpt_
            base = np.exp(np.clip(g, *self.error_range_))
        return P.mean(axis=0), np.sqrt(self.scale_ * base)

    def predict(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std ``(n,)`` of activity: the protein's training units when it is
        known, standardized units (as :meth:`predict_standardized`) otherwise."""
        mean, std = self.predict_standardized(pairs)
        pid = pairs["protein_id"].astype(str).to_numpy()
        pos = np.searchsorted(self.protein_ids_, pid).clip(0, len(self.protein_ids_) - 1)
        known = self.protein_ids_[pos] == pid
        center = np.where(known, self.protein_center_[pos], 0.0)
        scale = np.where(known, self.protein_scale_[pos], 1.0)
        return center + scale * mean, scale * std

    def rank_signal_peptides(
        self,
        protein_id: str,
        sps: pd.DataFrame | None = None,
        mature_sequence: str | None = None,
        family: str | None = None,
    ) -> pd.DataFrame:
        """SPs ranked for one protein: ``rank, sp_id, sequence, prediction, std, measured_sp``
        (``measured_sp``: the SP was in the training data, on any protein), best first.

        ``sps``: candidates (``sequence``, optional ``sp_id``; measured or never
        measured); default every training SP. A training protein's mature sequence
        and family are known to the model; for a new ``protein_id`` give
        ``mature_sequence`` (aa, without its SP) and, for ``enzyme="family"`` models,
        ``family`` (one of :attr:`groups_` to get its interaction terms). Units: the
        protein's training units when known, standardized otherwise.
        """
        import pandas as pd

        self._check_fitted()
        pid = str(protein_id)
        known = self.proteins_.get(pid)
        mature = mature_sequence or (known["mature_sequence"] if known else None)
        if not mature:
            raise InputError(
                "protein not in the training data: give its mature sequence",
                column="protein_id",
                expected="a training protein or a mature sequence",
                found=pid,
            )
        fam = family or (known["family"] if known else None)
        if self.enzyme == "family" and not fam:
            raise InputError(
                "the model uses enzyme families: give the protein's family",
                expected=", ".join(self.groups_),
            )
        if sps is None:
            sps = pd.DataFrame(
                {"sp_id": list(self.sp_sequences_), "sequence": list(self.sp_sequences_.values())}
            )
        if "sequence" not in sps.columns:
            raise InputError(
                "missing column",
                column="sequence",
                expected="sp_id, sequence",
                found=", ".join(map(str, sps.columns)),
            )
        ids = (
            sps["sp_id"].astype(str).to_numpy()
            if "sp_id" in sps.columns
            else np.array([f"sp-{i + 1}" for i in range(len(sps))])
        )
        pairs = pd.DataFrame(
            {
                "sp_id": ids,
                "sequence": sps["sequence"].to_numpy(),
                "mature_sequence": mature,
                "protein_id": pid,
                "family": fam or "",
            }
        )
        mean, std = self.predict(pairs)
        seen = set(self.sp_sequences_.values())
        out = pd.DataFrame(
            {
                "sp_id": ids,
                "sequence": _pairs(pairs, ("sequence",))["sequence"].to_numpy(),
                "prediction": mean,
                "std": std,
            }
        )
        out["measured_sp"] = out["sequence"].isin(seen)
        out = out.sort_values("prediction", ascending=False, kind="stable").reset_index(drop=True)
        out.insert(0, "rank", np.arange(1, len(out) + 1))
        return out

    # -- persistence ----------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {
            "estimator": self.estimator,
            "enzyme": self.enzyme,
            "interactions": self.interactions,
            "composition": self.composition,
            "alphas": list(self.alphas),
            "n_members": self.n_members,
            "calibration_folds": self.calibration_folds,
            "error_model": self.error_model,
            "error_features": list(self.error_features),
            "restandardize": self.restandardize,
            "loo_variance": self.loo_variance,
            "error_floor": self.error_floor,
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: parameters, scalers, calibration and every member."""
        self._check_fitted()
        if self.estimator == "ridge":
            members = [[coef.tolist(), float(icpt)] for coef, icpt in self._members]
        else:
            members = [b.save_raw("json").decode() for b in self._members]
        return {
            "format": FORMAT,
            "format_version": 1,
            "params": self.get_params(),
            "feature_names": self.feature_names_,
            "groups": self.groups_,
            "protein_ids": self.protein_ids_.tolist(),
            "protein_center": self.protein_center_.tolist(),
            "protein_scale": self.protein_scale_.tolist(),
            "d_mean": self.d_mean_.tolist(),
            "d_scale": self.d_scale_.tolist(),
            "alpha": self.alpha_,
            "scale": self.scale_,
            "pooled_var": self.pooled_var_,
            "residual_var": self.residual_var_,
            "calibration": self.calibration_,
            "error_coef": None if self.error_coef_ is None else self.error_coef_.tolist(),
            "error_icpt": self.error_icpt_,
            "error_range": list(self.error_range_),
            "error_features_used": list(self.error_features_),
            "enzyme_stats": self.enzyme_stats_,
            "enzyme_pooled": list(self.enzyme_pooled_),
            "enzyme_norm": [list(self.enzyme_norm_[0]), list(self.enzyme_norm_[1])],
            "n_cells": self.n_cells_,
            "sp_sequences": self.sp_sequences_,
            "proteins": self.proteins_,
            "members": members,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> SequenceSecretionModel:
        """Rebuild a fitted model from :meth:`to_dict`'s output."""
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise InputError("not a sequence secretion model", expected=FORMAT)
        params = dict(state["params"])
        params["alphas"] = tuple(params["alphas"])
        # Models saved before the error features existed used these two.
        params["error_features"] = tuple(params.get("error_features", ("spread", "descriptors")))
        params.setdefault("restandardize", False)
        model = cls(**params)
        model.feature_names_ = list(state["feature_names"])
        model.groups_ = list(state["groups"])
        model.protein_ids_ = np.array(state["protein_ids"])
        model.protein_center_ = np.array(state["protein_center"], dtype=float)
        model.protein_scale_ = np.array(state["protein_scale"], dtype=float)
        model.d_mean_ = np.array(state["d_mean"], dtype=float)
        model.d_scale_ = np.array(state["d_scale"], dtype=float)
        model.alpha_ = float(state["alpha"])
        model.scale_ = float(state["scale"])
        model.pooled_var_ = float(state["pooled_var"])
        model.residual_var_ = {str(k): float(v) for k, v in state["residual_var"].items()}
        model.calibration_ = dict(state["calibration"])
        coef = state["error_coef"]
        model.error_coef_ = None if coef is None else np.array(coef, dtype=float)
        model.error_icpt_ = float(state["error_icpt"])
        lo, hi = state["error_range"]
        model.error_range_ = (float(lo), float(hi))
        model.error_features_ = tuple(state.get("error_features_used", params["error_features"]))
        model.enzyme_stats_ = {
            str(k): [float(x) for x in v] for k, v in state.get("enzyme_stats", {}).items()
        }
        model.enzyme_pooled_ = [float(x) for x in state.get("enzyme_pooled", [0.0, 0.0, 1.0, 0.0])]
        norm = state.get("enzyme_norm", [[0.0] * 3, [1.0] * 3])
        model.enzyme_norm_ = ([float(x) for x in norm[0]], [float(x) for x in norm[1]])
        model.n_cells_ = int(state["n_cells"])
        model.sp_sequences_ = {str(k): str(v) for k, v in state["sp_sequences"].items()}
        model.proteins_ = {str(k): dict(v) for k, v in state["proteins"].items()}
        if model.estimator == "ridge":
            model._members = [
                (np.array(coef, dtype=float), float(icpt)) for coef, icpt in state["members"]
            ]
        else:
            import xgboost as xgb

            boosters = []
            for raw in state["members"]:
                b = xgb.Booster()
                b.load_model(bytearray(raw.encode()))
                boosters.append(b)
            model._members = boosters
        return model

    def save(self, path: str) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        from biofab.core.atomic import write_atomic

        write_atomic(path, json.dumps(self.to_dict()) + "\n")


def _fold_scale(z: np.ndarray, pid: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row centre and scale of its protein over the ``train`` rows (0 and 1 for a protein
    with fewer than two of them)."""
    c, s = np.zeros(len(z)), np.ones(len(z))
    for p in np.unique(pid):
        rows = pid == p
        v = z[rows & train]
        if len(v) >= 2 and v.std() > 0:
            c[rows], s[rows] = v.mean(), v.std()
        elif len(v):
            c[rows] = v.mean()
    return c, s


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return None
    return float(spearmanr(a[ok], b[ok])[0])


def _enzyme_stats(
    z: np.ndarray, replicate_z: np.ndarray, n_rep: np.ndarray, pid: np.ndarray, unit: np.ndarray
) -> tuple[dict[str, list[float]], list[float]]:
    """Per protein, over these cells: [log shape, log median variance of one replicate,
    median number of replicates, log scale]; and the same pooled over every cell (for
    unseen proteins). ``z``: standardised activity; ``replicate_z`` in its units squared;
    ``unit``: activity units per z unit of each row (the protein's training scale).

    Shape: median |z - protein mean| over the sd of these z, small when a few SPs stand out
    and the rest sit together (most held-out cells then miss by little). Scale: the sd of
    these cells in activity units (two dilutions averaged give a smaller one).
    """
    floor = 1e-3

    def row(v: np.ndarray, sel: np.ndarray) -> list[float]:
        sd = float(v.std()) if len(v) > 1 and v.std() > 0 else 1.0
        return [
            float(np.log(max(np.median(np.abs(v - v.mean())) / sd, floor))),
            float(np.log(max(np.median(replicate_z[sel]), floor))),
            float(np.median(n_rep[sel])),
            float(np.log(max(sd * float(np.median(unit[sel])), floor))),
        ]

    stats = {str(p): row(z[pid == p], pid == p) for p in np.unique(pid)}
    # Pooled: the median protein (z of different proteins are not on one scale).
    pooled = np.median(np.array(list(stats.values())), axis=0).tolist()
    return stats, [float(x) for x in pooled]


def _enzyme_rows(
    stats: dict[str, list[float]], pooled: list[float], pid: np.ndarray, n: np.ndarray
) -> np.ndarray:
    """``(len(pid), 3)``: log shape, log noise (one replicate's variance over ``n``
    replicates; the protein's median number where ``n`` is NaN) and log scale per row."""
    out = np.empty((len(pid), 3))
    for i, p in enumerate(pid):
        shape, log_rep, n_typical, log_scale = stats.get(str(p), pooled)
        k = n[i] if np.isfinite(n[i]) and n[i] >= 1 else n_typical
        out[i] = shape, log_rep - np.log(max(k, 1.0)), log_scale
    return out


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Ridge coefficients and intercept (intercept not penalised)."""
    xm, ym = X.mean(axis=0), y.mean()
    Xc = X - xm
    A = Xc.T @ Xc + alpha * np.eye(X.shape[1])
    coef = np.linalg.solve(A, Xc.T @ (y - ym))
    return coef, float(ym - xm @ coef)
