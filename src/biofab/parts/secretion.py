"""Signal peptide x enzyme secretion: a low-rank matrix model of measured activity.

Wu et al. (2020, ACS Synth Biol 9:2154) fused many signal peptides (SPs) to
several secreted enzymes in *Bacillus subtilis* and measured secreted activity:
a sparse SP x protein matrix. :class:`SecretionMatrix` models one cell as

    z(s, p) = a_s + b_p + u_s . v_p

(an SP effect, a protein effect and a rank-``rank`` interaction), fitted by
alternating ridge least squares on the observed cells (Hu, Koren & Volinsky
2008, ICDM, for ALS on sparse matrices; Koren, Bell & Volinsky 2009, IEEE
Computer 42:30 for the biased factor model). ``z`` is the activity
standardized per protein (mean 0, std 1 over that protein's SPs), because each
enzyme assay has its own arbitrary units; predictions are mapped back to the
protein's units. A bootstrap ensemble over observed cells gives the std.

It answers "which of my tested SPs will secrete my new lipase best": fit on
the published matrix plus a few readings of the new protein, then
:meth:`SecretionMatrix.rank_signal_peptides` for that protein.

:func:`wu2020_activity` turns the Wu 2020 readings into the long table the
model fits. The activities there are not log-transformed: they are
background-subtracted readings that go below zero (most lipase readings are
negative), so a log would need an arbitrary offset; instead each assay
condition (protein x dilution family) is z-scored, which removes the arbitrary
units and dilution factors while keeping the order of the SPs.
:func:`wu2020_cells` adds the SP and mature sequences and the enzyme family for
:class:`biofab.parts.secretion_sequence.SequenceSecretionModel`;
:func:`replicate_agreement` measures how well the assay agrees with itself, the
ceiling of any model of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

import numpy as np

from biofab.core.errors import InputError, NotEnoughDataError

if TYPE_CHECKING:
    import pandas as pd

LONG_COLUMNS = ("sp_id", "protein_id", "activity")


def _check_long(data: pd.DataFrame, columns: tuple[str, ...] = LONG_COLUMNS) -> pd.DataFrame:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise InputError(
            "missing column",
            column=missing[0],
            expected=", ".join(columns),
            found=", ".join(map(str, data.columns)),
        )
    frame = data[list(columns)].copy()
    for c in ("sp_id", "protein_id"):
        if c in frame.columns:
            frame[c] = frame[c].astype(str)
    if "activity" in frame.columns:
        import pandas as pd

        y = pd.to_numeric(frame["activity"], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(y.to_numpy(dtype=float)))
        if len(bad):
            raise InputError(
                "activity is not a finite number",
                row=int(bad[0]) + 1,
                column="activity",
                expected="a number",
                found=str(data["activity"].iloc[bad[0]]),
            )
        frame["activity"] = y.astype(float)
    return frame


def _reference_cells(cells: pd.DataFrame, reference: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of ``cells`` whose (SP, enzyme) pair is in ``reference`` (all without one):
    statistics that must come from training cells only."""
    if reference is None:
        return cells
    pairs = _check_long(reference, ("sp_id", "protein_id"))
    keys = set(zip(pairs["sp_id"], pairs["protein_id"], strict=True))
    inside = [k in keys for k in zip(cells["sp_id"], cells["protein_id"], strict=True)]
    return cells[np.array(inside, dtype=bool)]


def wu2020_activity(
    frame: pd.DataFrame,
    exclude_negative_controls: bool = True,
    reference: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Wu 2020 readings (from :func:`biofab.parts.datasets.load_wu2020`) -> long activity table.

    Replicates are averaged per (sp_id, protein_id, family); each condition
    (protein_id, family: e.g. ``amylase`` and ``amylase_10x`` dilutions) is
    z-scored over its SPs; the conditions of one (sp_id, protein_id) are then
    averaged. ``Neg*`` SPs (negative controls, no SP) are dropped unless
    ``exclude_negative_controls`` is False. Returns ``sp_id, protein_id,
    activity`` (activity in standard deviations of the condition, unitless)
    and ``n_readings``.

    ``reference`` (``sp_id, protein_id`` pairs, e.g. a training fold's cells): the
    mean and std of each condition come from these cells only (a condition without
    one uses all its cells). Cross-validation needs this: z-scoring over every SP
    fixes each condition's sum and sum of squares, so the held-out cells would move
    against the training cells and bias any leave-out score (predictions through the
    protein mean anti-correlate with held-out values; large training residuals go
    with small held-out errors).
    """
    need = ("sp_id", "protein_id", "family", "assay_value")
    _check_long(frame, need)
    data = frame
    if exclude_negative_controls:
        data = data[~data["sp_id"].astype(str).str.startswith("Neg")]
    cells = (
        data.groupby(["sp_id", "protein_id", "family"])["assay_value"]
        .agg(["mean", "size"])
        .reset_index()
    )
    cond = ["protein_id", "family"]
    ref = _reference_cells(cells, reference)
    stats = ref.groupby(cond)["mean"].agg(
        center="mean", sd=lambda v: v.std(ddof=0) if len(v) > 1 else 1.0
    )
    every = cells.groupby(cond)["mean"].agg(
        center="mean", sd=lambda v: v.std(ddof=0) if len(v) > 1 else 1.0
    )
    stats = stats.reindex(every.index).fillna(every)
    stats["sd"] = stats["sd"].replace(0.0, 1.0)
    joined = cells.join(stats, on=cond)
    cells["z"] = (joined["mean"] - joined["center"]) / joined["sd"]
    out = (
        cells.groupby(["sp_id", "protein_id"])
        .agg(activity=("z", "mean"), n_readings=("size", "sum"))
        .reset_index()
    )
    return out


class SecretionMatrix:
    """SP effect + protein effect + low-rank interaction, with a bootstrap std.

    Hyper-parameters: ``rank`` (interaction factors, 0 = additive model),
    ``alpha`` (ridge penalty on the factors), ``alpha_effect`` (ridge penalty on
    the SP and protein effects: shrinks an SP seen on few proteins towards
    the average SP), ``n_boot`` (bootstrap refits over observed cells, for the
    std; 0 = std 0), ``max_iter``/``tol`` (ALS stopping), ``seed``.

    Fitted attributes: ``sp_ids_``, ``protein_ids_`` (index order),
    ``sp_effect_`` ``(n_sp,)`` and ``protein_effect_`` ``(n_protein,)`` in
    standardized units, ``sp_factors_`` ``(n_sp, rank)``,
    ``protein_factors_`` ``(n_protein, rank)`` (of the full-data fit),
    ``protein_center_``/``protein_scale_`` ``(n_protein,)`` in activity units,
    ``n_cells_`` (observed (sp, protein) cells).
    """

    def __init__(
        self,
        rank: int = 2,
        alpha: float = 1.0,
        alpha_effect: float = 0.3,
        n_boot: int = 20,
        max_iter: int = 100,
        tol: float = 1e-6,
        seed: int = 0,
    ) -> None:
        self.rank = rank
        self.alpha = alpha
        self.alpha_effect = alpha_effect
        self.n_boot = n_boot
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed

    # -- fitting --------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame) -> Self:
        """Fit on long data: columns ``sp_id``, ``protein_id``, ``activity`` (any units).

        Several rows of one (sp_id, protein_id) are replicates and are averaged
        first (each cell counts once, however often it was measured).
        """
        frame = _check_long(data)
        if len(frame) == 0:
            raise InputError("empty table", expected="at least one row", found="0")
        cells = frame.groupby(["sp_id", "protein_id"])["activity"].mean().reset_index()
        if len(cells) < 3:
            raise NotEnoughDataError(f"SecretionMatrix needs at least 3 cells, got {len(cells)}")
        self.sp_ids_ = np.array(sorted(cells["sp_id"].unique()))
        self.protein_ids_ = np.array(sorted(cells["protein_id"].unique()))
        si = np.searchsorted(self.sp_ids_, cells["sp_id"].to_numpy())
        pi = np.searchsorted(self.protein_ids_, cells["protein_id"].to_numpy())
        y = cells["activity"].to_numpy(dtype=float)
        n_p = len(self.protein_ids_)
        center, scale = np.zeros(n_p), np.ones(n_p)
        for p in range(n_p):
            v = y[pi == p]
            center[p] = v.mean()
            if len(v) > 1 and v.std() > 0:
                scale[p] = v.std()
        self.protein_center_, self.protein_scale_ = center, scale
        z = (y - center[pi]) / scale[pi]
        self._cells = (si, pi, z)
        self.n_cells_ = len(z)
        full = self._als(si, pi, z, np.ones(len(z)), seed=self.seed)
        self.sp_effect_, self.protein_effect_, self.sp_factors_, self.protein_factors_ = full
        rng = np.random.default_rng(self.seed)
        # Member 0 is the full-data fit (the mean); the bootstrap members give the std only,
        # since a member that lost most of an SP's cells predicts that SP poorly.
        self._members = [full]
        for b in range(self.n_boot):
            w = np.bincount(rng.integers(0, len(z), size=len(z)), minlength=len(z)).astype(float)
            self._members.append(self._als(si, pi, z, w, seed=self.seed + b + 1))
        return self

    def _als(
        self, si: np.ndarray, pi: np.ndarray, z: np.ndarray, w: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Alternating ridge least squares on cells weighted by ``w`` (bootstrap counts)."""
        n_s, n_p, k = len(self.sp_ids_), len(self.protein_ids_), self.rank
        rng = np.random.default_rng(seed)
        W = np.zeros((n_s, n_p))
        Z = np.zeros((n_s, n_p))
        np.add.at(W, (si, pi), w)
        Z[si, pi] = z
        a, b = np.zeros(n_s), np.zeros(n_p)
        U = 0.1 * rng.standard_normal((n_s, k))
        V = 0.1 * rng.standard_normal((n_p, k))
        penalty = np.diag([self.alpha_effect] + [self.alpha] * k)
        prev = np.inf
        for _ in range(self.max_iter):
            # Rows: solve [a_s, U_s] given b, V (features 1 and V_p over observed p).
            a, U = _ridge_rows(W, Z - b[None, :], V, penalty)
            b, V = _ridge_rows(W.T, (Z - a[:, None]).T, U, penalty)
            pred = a[:, None] + b[None, :] + U @ V.T
            loss = float((W * (Z - pred) ** 2).sum())
            if abs(prev - loss) <= self.tol * max(1.0, loss):
                break
            prev = loss
        return a, b, U, V

    # -- prediction ----------------------------------------------------------------------
    def _index(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "sp_ids_"):
            raise RuntimeError("SecretionMatrix is not fitted; call fit first")
        frame = _check_long(pairs, ("sp_id", "protein_id"))
        idx = []
        for col, known in (("sp_id", self.sp_ids_), ("protein_id", self.protein_ids_)):
            values = frame[col].to_numpy()
            pos = np.searchsorted(known, values).clip(0, len(known) - 1)
            unknown = np.flatnonzero(known[pos] != values)
            if len(unknown):
                raise InputError(
                    f"{col} not in the training data",
                    row=int(unknown[0]) + 1,
                    column=col,
                    expected="an id the model was fitted on",
                    found=values[unknown[0]],
                )
            idx.append(pos)
        return idx[0], idx[1]

    def predict_members(self, pairs: pd.DataFrame) -> np.ndarray:
        """Predictions ``(1 + n_boot, n_pairs)``, activity units: full fit, then bootstraps."""
        si, pi = self._index(pairs)
        out = np.array(
            [a[si] + b[pi] + (U[si] * V[pi]).sum(axis=1) for a, b, U, V in self._members]
        )
        return self.protein_center_[pi] + self.protein_scale_[pi] * out

    def predict_standardized(self, pairs: pd.DataFrame) -> np.ndarray:
        """The full fit's prediction ``(n_pairs,)`` in standard deviations of each protein's
        training activities, before the protein's mean is added back.

        Rank SPs of one protein in cross-validation on this, not on :meth:`predict`:
        the protein's mean over the *training* cells moves opposite to the held-out
        cells (the readings of a protein sum to a fixed total), which would anti-correlate
        predictions with held-out values in any leave-out scheme.
        """
        si, pi = self._index(pairs)
        a, b, U, V = self._members[0]
        return a[si] + b[pi] + (U[si] * V[pi]).sum(axis=1)

    def predict(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std ``(n_pairs,)`` of activity for rows ``sp_id, protein_id``.

        Units: the activity units of that protein in the training data. The
        mean is the full-data fit; the std is the spread of the ``n_boot``
        bootstrap refits (ddof=1; 0 when ``n_boot`` < 2): uncertainty of the
        fit, not assay noise. Unseen SPs or proteins raise ``InputError``.
        """
        P = self.predict_members(pairs)
        std = P[1:].std(axis=0, ddof=1) if len(P) > 2 else np.zeros(P.shape[1])
        return P[0], std

    def rank_signal_peptides(
        self, protein_id: str, sp_ids: list[str] | None = None
    ) -> pd.DataFrame:
        """SPs ranked for one protein: ``sp_id, prediction, std, measured`` (best first).

        ``sp_ids`` defaults to every SP the model knows; ``measured`` is the
        cell's mean reading when it was in the training data, else NaN.
        """
        import pandas as pd

        ids = list(self.sp_ids_) if sp_ids is None else [str(s) for s in sp_ids]
        pairs = pd.DataFrame({"sp_id": ids, "protein_id": [str(protein_id)] * len(ids)})
        mean, std = self.predict(pairs)
        si, pi = self._index(pairs)
        c_si, c_pi, c_z = self._cells
        measured = np.full(len(ids), np.nan)
        lookup = {(int(s), int(p)): v for s, p, v in zip(c_si, c_pi, c_z, strict=True)}
        for i, (s, p) in enumerate(zip(si, pi, strict=True)):
            if (int(s), int(p)) in lookup:
                z = lookup[(int(s), int(p))]
                measured[i] = self.protein_center_[p] + self.protein_scale_[p] * z
        out = pd.DataFrame({"sp_id": ids, "prediction": mean, "std": std, "measured": measured})
        return out.sort_values("prediction", ascending=False, kind="stable").reset_index(drop=True)

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        """JSON-serializable state (hyper-parameters, ids, every member's parameters)."""
        if not hasattr(self, "sp_ids_"):
            raise RuntimeError("SecretionMatrix is not fitted; call fit first")
        si, pi, z = self._cells
        return {
            "format": "biofab.parts.secretion_matrix",
            "format_version": 1,
            "params": {
                "rank": self.rank,
                "alpha": self.alpha,
                "alpha_effect": self.alpha_effect,
                "n_boot": self.n_boot,
                "max_iter": self.max_iter,
                "tol": self.tol,
                "seed": self.seed,
            },
            "sp_ids": self.sp_ids_.tolist(),
            "protein_ids": self.protein_ids_.tolist(),
            "protein_center": self.protein_center_.tolist(),
            "protein_scale": self.protein_scale_.tolist(),
            "cells": {"sp": si.tolist(), "protein": pi.tolist(), "z": z.tolist()},
            "members": [[m.tolist() for m in member] for member in self._members],
        }

    @classmethod
    def from_dict(cls, state: dict[str, object]) -> SecretionMatrix:
        """Rebuild a fitted model from :meth:`to_dict`'s output."""
        if not isinstance(state, dict) or state.get("format") != "biofab.parts.secretion_matrix":
            raise InputError(
                "not a secretion matrix model", expected="biofab.parts.secretion_matrix"
            )
        model = cls(**state["params"])  # type: ignore[arg-type]
        model.sp_ids_ = np.array(state["sp_ids"])
        model.protein_ids_ = np.array(state["protein_ids"])
        model.protein_center_ = np.array(state["protein_center"], dtype=float)
        model.protein_scale_ = np.array(state["protein_scale"], dtype=float)
        cells = state["cells"]
        assert isinstance(cells, dict)
        model._cells = (
            np.array(cells["sp"], dtype=int),
            np.array(cells["protein"], dtype=int),
            np.array(cells["z"], dtype=float),
        )
        model.n_cells_ = len(model._cells[2])
        members = state["members"]
        assert isinstance(members, list)
        model._members = [
            (
                np.array(m[0], dtype=float),
                np.array(m[1], dtype=float),
                np.array(m[2], dtype=float).reshape(len(m[0]), model.rank),
                np.array(m[3], dtype=float).reshape(len(m[1]), model.rank),
            )
            for m in members
        ]
        model.sp_effect_, model.protein_effect_, model.sp_factors_, model.protein_factors_ = (
            model._members[0]
        )
        return model


def _ridge_rows(
    W: np.ndarray, R: np.ndarray, F: np.ndarray, penalty: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each row r: argmin sum_c W[r,c] (R[r,c] - x0 - F[c].x)^2 + x' penalty x.

    ``W``, ``R``: ``(n_rows, n_cols)``; ``F``: ``(n_cols, k)``. Returns the
    intercepts ``(n_rows,)`` and coefficients ``(n_rows, k)``; all rows are
    solved at once as a batch of ``(k+1) x (k+1)`` normal equations.
    """
    X = np.hstack([np.ones((F.shape[0], 1)), F])
    A = np.einsum("rc,ci,cj->rij", W, X, X) + penalty[None, :, :]
    rhs = np.einsum("rc,ci->ri", W * R, X)
    sol = np.linalg.solve(A, rhs[:, :, None])[:, :, 0]
    return sol[:, 0], sol[:, 1:]


# ---------------------------------------------------------------------------------------
# cells with sequences, and how well the assay agrees with itself
# ---------------------------------------------------------------------------------------


def enzyme_family(family: str) -> str:
    """``amylase_10x`` -> ``amylase``: a Wu 2020 assay condition's enzyme family."""
    return str(family).split("_")[0]


def wu2020_cells(readings: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Wu 2020 readings with sequences -> one row per (SP, enzyme) with what a sequence
    model needs: ``sp_id, protein_id, activity, n_readings`` (as :func:`wu2020_activity`),
    ``sequence`` (SP, aa), ``mature_sequence`` (aa), ``family`` (the enzyme's family,
    e.g. ``amylase``: the commonest among its readings), ``n_replicates`` and
    ``replicate_var`` (cultures of the cell over its conditions, and the variance of one
    culture's worth in activity units squared, from :func:`wu2020_noise`: the measurement
    noise the sequence model's std may use).

    ``readings`` comes from :func:`biofab.parts.datasets.load_wu2020` called with
    ``sequences=`` and ``proteins=``; without them the missing column is named.
    ``reference``: as in :func:`wu2020_activity` (z-score on a training fold's cells).
    """
    _check_long(readings, ("sp_id", "protein_id", "family", "assay_value", "sequence"))
    _check_long(readings, ("mature_sequence",))
    import pandas as pd

    cells = wu2020_activity(readings, reference=reference)
    sp_seq = readings.drop_duplicates("sp_id").set_index("sp_id")["sequence"]
    mature = readings.drop_duplicates("protein_id").set_index("protein_id")["mature_sequence"]
    fam = readings.assign(f=readings["family"].map(enzyme_family)).groupby("protein_id")["f"]
    family = fam.agg(lambda v: v.value_counts().index[0])
    cells["sequence"] = sp_seq.loc[cells["sp_id"]].to_numpy()
    cells["mature_sequence"] = mature.loc[cells["protein_id"]].to_numpy()
    cells["family"] = family.loc[cells["protein_id"]].to_numpy()
    unit = "run" if "run_index" in readings.columns else "reading"
    noise = wu2020_noise(readings, reference=reference, unit=unit)
    keys = pd.MultiIndex.from_arrays([cells["sp_id"], cells["protein_id"]])
    noise = noise.set_index(["sp_id", "protein_id"]).reindex(keys)
    cells["n_replicates"] = noise["n_replicates"].to_numpy()
    cells["replicate_var"] = noise["replicate_var"].to_numpy()
    return cells


@dataclass(frozen=True)
class ReplicateAgreement:
    """How well the assay ranks SPs against itself: the ceiling of any model.

    Readings of each (SP, enzyme, condition) are split in two halves at random
    (``unit="run"``: by culture, ``run_index``; ``"reading"``: by reading, which
    also splits repeated reads of one culture and so agrees more); each half goes
    through :func:`wu2020_activity` and the two are compared like a model with
    the data: Spearman over the SPs of one enzyme (enzymes with >= ``min_sps``
    cells measured in both halves), median over enzymes, mean over ``n_splits``
    random splits (``split_half``, its std over splits ``split_half_sd``).
    ``reliability`` is the Spearman-Brown step-up 2r/(1+r): the expected
    agreement of the full-data means with a repeat of the whole experiment.
    ``ceiling`` = sqrt(reliability): the highest correlation with the measured
    means a perfect model of the true means can expect (classical attenuation,
    Spearman 1904, Am J Psychol 15:72). ``between_sp`` is the median over
    conditions of the intraclass correlation ICC(1) of single readings (share of
    reading variance that lies between SPs; Shrout & Fleiss 1979, Psychol Bull
    86:420). ``n_cells``/``n_enzymes``: cells and enzymes in the split-half
    comparison (cells need two cultures for ``unit="run"``).
    """

    unit: str
    split_half: float
    split_half_sd: float
    reliability: float
    ceiling: float
    between_sp: float
    n_cells: int
    n_enzymes: int
    n_splits: int

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def replicate_agreement(
    readings: pd.DataFrame,
    unit: str = "run",
    n_splits: int = 20,
    seed: int = 0,
    min_sps: int = 5,
) -> ReplicateAgreement:
    """Split-half agreement of Wu 2020 readings (see :class:`ReplicateAgreement`).

    ``readings``: :func:`biofab.parts.datasets.load_wu2020` output (``run_index``
    is needed for ``unit="run"``). ``Neg*`` SPs are left out as in
    :func:`wu2020_activity`.
    """
    from scipy.stats import spearmanr

    if unit not in ("run", "reading"):
        raise InputError("unknown replicate unit", expected="run or reading", found=unit)
    if n_splits < 1:
        raise InputError("n_splits must be at least 1", found=n_splits)
    need = ("sp_id", "protein_id", "family", "assay_value")
    data = _check_long(readings, (*need, "run_index") if unit == "run" else need)
    data = data[~data["sp_id"].str.startswith("Neg")].reset_index(drop=True)
    key = ["sp_id", "protein_id", "family"]
    rng = np.random.default_rng(seed)
    medians, n_cells, n_enz = [], 0, 0
    for _ in range(n_splits):
        if unit == "run":
            runs = data[[*key, "run_index"]].drop_duplicates().copy()
        else:
            runs = data[key].copy()
            runs["run_index"] = np.arange(len(runs))
        runs["u"] = rng.random(len(runs))
        grouped = runs.groupby(key)["u"]
        runs["first"] = grouped.rank(method="first") <= grouped.transform("size") / 2
        runs = runs[grouped.transform("size") >= 2]
        if unit == "run":
            tagged = data.merge(runs[[*key, "run_index", "first"]], on=[*key, "run_index"])
        else:
            tagged = data.loc[runs.index].assign(first=runs["first"].to_numpy())
        a = wu2020_activity(tagged[tagged["first"]])
        b = wu2020_activity(tagged[~tagged["first"]])
        both = a.merge(b, on=["sp_id", "protein_id"])
        rhos = [
            float(spearmanr(g["activity_x"], g["activity_y"])[0])
            for _, g in both.groupby("protein_id")
            if len(g) >= min_sps
        ]
        if not rhos:
            raise NotEnoughDataError(f"no enzyme has {min_sps} SPs measured in two {unit}s")
        medians.append(float(np.nanmedian(rhos)))
        n_cells, n_enz = len(both), len(rhos)
    r = float(np.mean(medians))
    reliability = 2 * r / (1 + r) if r > -1 else float("nan")
    return ReplicateAgreement(
        unit=unit,
        split_half=r,
        split_half_sd=float(np.std(medians, ddof=1)) if n_splits > 1 else 0.0,
        reliability=reliability,
        ceiling=float(np.sqrt(reliability)) if reliability > 0 else 0.0,
        between_sp=_median_icc(data),
        n_cells=n_cells,
        n_enzymes=n_enz,
        n_splits=n_splits,
    )


def _median_icc(data: pd.DataFrame) -> float:
    """Median over (enzyme, condition) of ICC(1) of single readings grouped by SP."""
    iccs = []
    for _, cond in data.groupby(["protein_id", "family"]):
        groups = [g.to_numpy(dtype=float) for _, g in cond.groupby("sp_id")["assay_value"]]
        groups = [g for g in groups if len(g) >= 2]
        k = len(groups)
        n = sum(len(g) for g in groups)
        if k < 3:
            continue
        grand = np.concatenate(groups).mean()
        msb = sum(len(g) * (g.mean() - grand) ** 2 for g in groups) / (k - 1)
        msw = sum(((g - g.mean()) ** 2).sum() for g in groups) / (n - k)
        n0 = (n - sum(len(g) ** 2 for g in groups) / n) / (k - 1)  # mean group size, unbalanced
        denom = msb + (n0 - 1) * msw
        if denom > 0:
            iccs.append((msb - msw) / denom)
    return float(np.median(iccs)) if iccs else float("nan")


def wu2020_noise(
    readings: pd.DataFrame, reference: pd.DataFrame | None = None, unit: str = "run"
) -> pd.DataFrame:
    """Measurement-noise variance of each (SP, enzyme) cell of :func:`wu2020_activity`.

    A cell's activity is the mean over its conditions c (enzyme x dilution) of
    ``(mean reading - center_c) / sd_c``; its noise variance is about
    ``sum_c s2_c / n_c / sd_c**2 / C**2``, with ``n_c`` the cell's replicates in condition
    c and ``s2_c`` the variance of one replicate. A replicate is a culture (``unit="run"``:
    readings of one ``run_index`` averaged first; repeated reads of one culture share its
    growth and so are not independent) or a single reading (``unit="reading"``). Returned
    per ``sp_id, protein_id`` (activity units squared, i.e. squared standard deviations of
    the condition):

    * ``noise_design``: ``s2_c`` pooled over the condition's ``reference`` cells, ``n_c``
      the cell's own number of replicates (the experiment's design: how many cultures and
      which dilutions, fixed before the readings come in);
    * ``noise_typical``: the same with ``n_c`` the median over the reference cells;
    * ``oracle_noise``: with the cell's own replicate variance (known only once it is
      measured: a ceiling for error rankers, not a predictor);
    * ``n_replicates``: the cell's replicates over all its conditions, and
      ``replicate_var`` = ``noise_design * n_replicates``, the variance of one replicate's
      worth (so a cell of ``n`` replicates has noise ``replicate_var / n``; two conditions
      averaged count as twice the replicates): what
      :class:`~biofab.parts.secretion_sequence.SequenceSecretionModel`'s ``noise`` error
      feature uses.

    ``reference``: as in :func:`wu2020_activity` (``sd_c``, ``s2_c`` from these cells;
    a condition without any uses all its cells).
    """
    if unit not in ("run", "reading"):
        raise InputError("unknown replicate unit", expected="run or reading", found=unit)
    need = ("sp_id", "protein_id", "family", "assay_value")
    data = _check_long(readings, (*need, "run_index") if unit == "run" else need)
    data = data[~data["sp_id"].str.startswith("Neg")]
    key = ["sp_id", "protein_id", "family"]
    means = data.groupby(key)["assay_value"].mean().rename("mean")
    if unit == "run":
        data = data.groupby([*key, "run_index"])["assay_value"].mean().reset_index()
    cells = data.groupby(key)["assay_value"].agg(["var", "size"]).join(means).reset_index()
    cells["var"] = cells["var"].fillna(0.0)
    cond = ["protein_id", "family"]
    ref = _reference_cells(cells, reference)

    def condition_stats(frame: pd.DataFrame) -> pd.DataFrame:
        dof = (frame["size"] - 1).clip(lower=0)
        work = frame.assign(ss=frame["var"] * dof, dof=dof)
        g = work.groupby(cond)
        out = (
            g["mean"]
            .agg(sd=lambda v: v.std(ddof=0) if len(v) > 1 else 1.0)
            .join(g[["ss", "dof"]].sum())
        )
        out["n_typical"] = g["size"].median()
        out["s2"] = out["ss"] / out["dof"].where(out["dof"] > 0)
        return out[["sd", "s2", "n_typical"]]

    every = condition_stats(cells)
    stats = condition_stats(ref).reindex(every.index).fillna(every)
    stats["sd"] = stats["sd"].replace(0.0, 1.0)
    # A condition whose cells have one replicate each has no replicate variance: pooled one.
    pooled = float((stats["s2"] / stats["sd"] ** 2).median())
    stats["s2"] = stats["s2"].fillna(pooled * stats["sd"] ** 2)
    j = cells.join(stats, on=cond)
    sd2 = j["sd"] ** 2
    cells["noise_design"] = j["s2"] / j["size"] / sd2
    cells["noise_typical"] = j["s2"] / j["n_typical"] / sd2
    cells["oracle_noise"] = j["var"] / j["size"] / sd2
    cols = ["noise_design", "noise_typical", "oracle_noise"]
    g = cells.groupby(["sp_id", "protein_id"])
    out = g[cols].sum().div(g.size() ** 2, axis=0)
    out["n_replicates"] = g["size"].sum()
    out["replicate_var"] = out["noise_design"] * out["n_replicates"]
    return out.reset_index()
