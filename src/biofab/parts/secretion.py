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
"""

from __future__ import annotations

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


def wu2020_activity(frame: pd.DataFrame, exclude_negative_controls: bool = True) -> pd.DataFrame:
    """Wu 2020 readings (from :func:`biofab.parts.datasets.load_wu2020`) -> long activity table.

    Replicates are averaged per (sp_id, protein_id, family); each condition
    (protein_id, family: e.g. ``amylase`` and ``amylase_10x`` dilutions) is
    z-scored over its SPs; the conditions of one (sp_id, protein_id) are then
    averaged. ``Neg*`` SPs (negative controls, no SP) are dropped unless
    ``exclude_negative_controls`` is False. Returns ``sp_id, protein_id,
    activity`` (activity in standard deviations of the condition, unitless)
    and ``n_readings``.
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
    by_cond = cells.groupby(["protein_id", "family"])["mean"]
    sd = by_cond.transform(lambda v: v.std(ddof=0) if len(v) > 1 else 1.0).replace(0.0, 1.0)
    cells["z"] = (cells["mean"] - by_cond.transform("mean")) / sd
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
