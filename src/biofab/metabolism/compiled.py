"""A model compiled for the solver: the arrays HiGHS needs, stored without COBRApy.

A one-off ``biofab gem fba`` on a genome-scale model spends most of its time outside the
LP: importing COBRApy and optlang (about 0.75 s), rebuilding a ``cobra.Model`` (1.3 s for
iJO1366 from its cached JSON) and walking it into sparse arrays. :class:`CompiledModel`
holds only what the flux-balance program reads: the stoichiometric matrix ``S``
(metabolites x reactions, compressed sparse columns, exactly the arrays
:class:`~biofab.metabolism.lp.LinearProgram` passes to HiGHS), flux bounds and objective
(mmol/gDW/h), the objective's sense, and the ids, names and gene rules a reader of the
result wants. It is saved as one ``.npz`` of plain numeric arrays (the text as a UTF-8
JSON byte array) and read with ``allow_pickle=False``: loading an entry never runs code.

:func:`solve` answers FBA and pFBA from the arrays alone (NumPy and highspy: neither
COBRApy, optlang, SciPy nor pandas is imported). It builds the very same HiGHS problems
as :func:`biofab.metabolism.analysis.fba` and :func:`~biofab.metabolism.analysis.pfba`
(same matrix, bounds, costs, row order, options), so its fluxes are theirs.

A model with constraints beyond its mass balances (added through optlang) is not compiled
(:func:`compile_model` returns None) and always takes the COBRApy path.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

if TYPE_CHECKING:
    import cobra

    from biofab.metabolism.lp import LinearProgram

FORMAT = 1  # bump when the arrays or the JSON fields change
_ARRAYS = ("indptr", "indices", "data", "lb", "ub", "c")
TOLERANCE = 1e-9  # HiGHS primal and dual feasibility tolerance, as LinearProgram's default
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompiledModel:
    """The flux-balance arrays of one model.

    ``indptr`` (n+1,), ``indices`` (nnz,), ``data`` (nnz,): the CSC arrays of ``S``
    (n_metabolites x n_reactions); ``lb``, ``ub`` (n,) flux bounds and ``c`` (n,) objective
    coefficients per reaction, mmol/gDW/h; ``sense`` ``"max"`` or ``"min"``. Reactions are
    in the model's order; ``gprs`` are COBRApy's gene-reaction rule strings.
    """

    model_id: str
    name: str
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    c: np.ndarray
    sense: str
    reactions: tuple[str, ...]
    reaction_names: tuple[str, ...]
    metabolites: tuple[str, ...]
    metabolite_names: tuple[str, ...]
    genes: tuple[str, ...]
    gprs: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, int]:
        """(n_metabolites, n_reactions)."""
        return len(self.metabolites), len(self.reactions)

    @classmethod
    def from_program(cls, model: cobra.Model, lp: LinearProgram) -> CompiledModel | None:
        """The arrays of ``lp`` (the LP of ``model``), or None when it has extra rows."""
        S = lp.S
        if lp.extra_rows or not S.has_canonical_format:  # check() wants canonical CSC
            return None
        return cls(
            model_id=str(model.id or ""),
            name=str(model.name or ""),
            indptr=S.indptr.astype(np.int32),
            indices=S.indices.astype(np.int32),
            data=np.asarray(S.data, dtype=float),
            lb=lp.lb.copy(),
            ub=lp.ub.copy(),
            c=lp.c.copy(),
            sense=lp.sense,
            reactions=tuple(lp.reaction_ids),
            reaction_names=tuple(str(r.name or "") for r in model.reactions),
            metabolites=tuple(m.id for m in model.metabolites),
            metabolite_names=tuple(str(m.name or "") for m in model.metabolites),
            genes=tuple(g.id for g in model.genes),
            gprs=tuple(r.gene_reaction_rule for r in model.reactions),
        )

    # -- storage ----------------------------------------------------------------------
    def save(self, fh: BinaryIO) -> None:
        """Write the arrays and the JSON text as one uncompressed ``.npz`` to ``fh``."""
        text = {
            "format": FORMAT,
            "id": self.model_id,
            "name": self.name,
            "sense": self.sense,
            "reactions": list(self.reactions),
            "reaction_names": list(self.reaction_names),
            "metabolites": list(self.metabolites),
            "metabolite_names": list(self.metabolite_names),
            "genes": list(self.genes),
            "gprs": list(self.gprs),
        }
        meta = np.frombuffer(json.dumps(text).encode("utf-8"), dtype=np.uint8)
        np.savez(fh, meta=meta, **{k: getattr(self, k) for k in _ARRAYS})

    @classmethod
    def load(cls, path: Path) -> CompiledModel:
        """Read a saved model; raises ``ValueError`` (or the reader's own error) on
        anything that is not a complete, consistent entry of this format."""
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in (*_ARRAYS, "meta")}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError("not a compiled model of this format")
        text = {k: _text(meta.get(k), k) for k in _TEXT}
        model = cls(
            model_id=str(meta["id"]),
            name=str(meta["name"]),
            indptr=arrays["indptr"],
            indices=arrays["indices"],
            data=arrays["data"],
            lb=arrays["lb"],
            ub=arrays["ub"],
            c=arrays["c"],
            sense=str(meta["sense"]),
            reactions=text["reactions"],
            reaction_names=text["reaction_names"],
            metabolites=text["metabolites"],
            metabolite_names=text["metabolite_names"],
            genes=text["genes"],
            gprs=text["gprs"],
        )
        model.check()
        return model

    def check(self) -> None:
        """Raise ``ValueError`` unless the arrays describe one LP of the stated shape."""
        m, n = self.shape
        p, ix = self.indptr, self.indices
        if p.dtype != np.int32 or ix.dtype != np.int32:
            raise ValueError("sparse indices are not int32")
        for k in ("data", "lb", "ub", "c"):
            if getattr(self, k).dtype != np.float64:
                raise ValueError(f"{k} is not float64")
        if p.shape != (n + 1,) or any(getattr(self, k).shape != (n,) for k in ("lb", "ub", "c")):
            raise ValueError("array lengths do not match the reactions")
        if p[0] != 0 or p[-1] != len(ix) or len(ix) != len(self.data) or np.any(np.diff(p) < 0):
            raise ValueError("column pointers do not match the entries")
        if len(ix) and (ix.min() < 0 or ix.max() >= m):
            raise ValueError("row index out of range")
        # Canonical CSC (as compiled): rows strictly increase within each column, so no
        # entry is repeated (HiGHS would take a repeated one silently).
        rising = np.diff(ix) > 0
        new_column = p[1:-1][(p[1:-1] > 0) & (p[1:-1] < len(ix))] - 1
        rising[new_column] = True
        if not rising.all():
            raise ValueError("row indices repeat or fall within a column")
        if not (np.isfinite(self.c).all() and np.isfinite(self.data).all()):
            raise ValueError("objective or stoichiometry not finite")
        if np.isnan(self.lb).any() or np.isnan(self.ub).any():
            raise ValueError("NaN flux bound")
        if self.sense not in ("max", "min") or len(self.gprs) != n:
            raise ValueError("bad sense or gene rules")
        if len(self.reaction_names) != n or len(self.metabolite_names) != m:
            raise ValueError("names do not match the ids")


_TEXT = ("reactions", "reaction_names", "metabolites", "metabolite_names", "genes", "gprs")


def _text(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} is not a list of strings")
    return tuple(value)


def compile_model(model: cobra.Model) -> CompiledModel | None:
    """``model``'s LP as arrays; None when it cannot be compiled (extra constraints)."""
    from biofab.core.errors import ModelError
    from biofab.metabolism.lp import LinearProgram

    try:
        lp = LinearProgram.from_model(model)
    except ModelError:
        return None
    return CompiledModel.from_program(model, lp)


# -- solving on the arrays ------------------------------------------------------------


@dataclass(frozen=True)
class ArraySolution:
    """An optimal FBA or pFBA: ``objective_value`` (the model's objective at ``fluxes``,
    1/h for growth), ``fluxes`` (n_reactions,) mmol/gDW/h, ``total_flux`` ``sum |v|``
    (pFBA only)."""

    objective_value: float
    fluxes: np.ndarray
    total_flux: float | None = None


def _highs(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    n_rows: int,
    cost: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    sense: str,
) -> Any:
    """One HiGHS instance holding ``S v = 0`` as :class:`LinearProgram` builds it."""
    import highspy

    from biofab.metabolism.highs import new_highs

    h = new_highs()
    h.setOptionValue("primal_feasibility_tolerance", TOLERANCE)
    h.setOptionValue("dual_feasibility_tolerance", TOLERANCE)
    lp = highspy.HighsLp()
    lp.num_col_ = len(cost)
    lp.num_row_ = n_rows
    lp.col_cost_ = cost
    lp.col_lower_ = lb
    lp.col_upper_ = ub
    lp.row_lower_ = np.zeros(n_rows)
    lp.row_upper_ = np.zeros(n_rows)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = indptr
    lp.a_matrix_.index_ = indices
    lp.a_matrix_.value_ = data
    lp.sense_ = highspy.ObjSense.kMinimize if sense == "min" else highspy.ObjSense.kMaximize
    h.passModel(lp)
    return h


def _optimum(h: Any) -> tuple[float, np.ndarray] | None:
    """Run; the objective and column values when optimal, else None."""
    import highspy

    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    values = np.asarray(h.getSolution().col_value, dtype=float)
    return float(h.getInfo().objective_function_value), values


def solve(model: CompiledModel, *, pfba: bool) -> ArraySolution | None:
    """FBA (``pfba=False``) or pFBA at the full optimum, as the COBRApy path computes it.

    None when a problem is not optimal (infeasible, unbounded, no objective): the caller
    then takes the COBRApy path, which reports why in one line. pFBA minimises ``sum |v|``
    over ``[v+, v-] >= 0`` with ``c·v`` held at the optimum (Lewis et al. 2010, *Mol Syst
    Biol* 6:390), the program of :func:`biofab.metabolism.analysis.least_flux`.
    """
    if not model.c.any():
        return None
    m, n = model.shape
    first = _optimum(
        _highs(model.indptr, model.indices, model.data, m, model.c, model.lb, model.ub, model.sense)
    )
    if first is None:
        return None
    optimum, fluxes = first
    if not pfba:
        return ArraySolution(optimum, fluxes)
    # [S, -S] over forward and reverse parts, cost 1 each, minimised.
    indptr = np.concatenate([model.indptr, model.indptr[1:] + model.indptr[-1]]).astype(np.int32)
    indices = np.concatenate([model.indices, model.indices])
    data = np.concatenate([model.data, -model.data])
    lb = np.concatenate([np.maximum(model.lb, 0.0), np.maximum(-model.ub, 0.0)])
    ub = np.concatenate([np.maximum(model.ub, 0.0), np.maximum(-model.lb, 0.0)])
    h = _highs(indptr, indices, data, m, np.ones(2 * n), lb, ub, "min")
    ci = np.flatnonzero(model.c)
    cols = np.concatenate([ci, ci + n]).astype(np.int32)
    vals = np.concatenate([model.c[ci], -model.c[ci]])
    lo, hi = (-np.inf, optimum) if model.sense == "min" else (optimum, np.inf)
    h.addRow(float(lo), float(hi), len(cols), cols, vals)
    second = _optimum(h)
    if second is None:
        return None
    total, split = second
    net = split[:n] - split[n:]
    return ArraySolution(float(model.c @ net), net, total_flux=total)


@dataclass
class QuickFba:
    """:class:`biofab.metabolism.workflows.FbaResult` answered from a compiled model, with
    the same ``to_dict()`` and CSV, held in plain arrays (no pandas)."""

    model: str
    method: str
    objective_value: float
    total_flux: float | None
    reactions: tuple[str, ...]
    fluxes: np.ndarray
    status: str = "optimal"
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "method": self.method,
            "status": self.status,
            "objective_value": self.objective_value,
            "total_flux": self.total_flux,
            "fluxes": dict(zip(self.reactions, self.fluxes.tolist(), strict=True)),
            "out": self.files[0] if self.files else None,
            "files": self.files,
        }

    def to_csv(self) -> str:
        """``reaction,flux`` rows (mmol/gDW/h), byte for byte what pandas writes."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(("reaction", "flux"))
        writer.writerows(zip(self.reactions, map(repr, self.fluxes.tolist()), strict=True))
        return buf.getvalue()


def quick_fba(model: str, *, pfba: bool, out: Path | None = None) -> QuickFba | None:
    """FBA or pFBA of ``model`` (a path or shipped name) from its compiled cache entry.

    None whenever the answer needs the COBRApy path: no entry yet (the first load writes
    it), the cache off, an unreadable entry (dropped), or a problem that is not optimal.
    ``out``: the fluxes as CSV, written atomically.
    """
    from biofab.metabolism.io import load_compiled

    compiled = load_compiled(model)
    if compiled is None:
        return None
    try:
        sol = solve(compiled, pfba=pfba)
    except Exception as e:  # HiGHS refusing the arrays: the cache never fails a command
        _log.warning("compiled model of %s not solvable here (%s); reading the model", model, e)
        return None
    if sol is None:
        return None
    method = "pfba" if pfba else "fba"
    result = QuickFba(
        model, method, sol.objective_value, sol.total_flux, compiled.reactions, sol.fluxes
    )
    if out is not None:
        from biofab.core.atomic import write_atomic

        result.files = [str(write_atomic(out, result.to_csv()))]
    return result
