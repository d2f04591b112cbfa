"""``LinearProgram``: a COBRApy model's flux polytope held in one HiGHS instance.

The steady-state problem ``max c·v  s.t.  S v = 0,  lb <= v <= ub`` is passed to
HiGHS once, as sparse arrays. Every later solve changes only bounds, costs or a
few extra rows, so the dual simplex restarts from the previous optimal basis
(a warm start): a deletion scan or FVA then costs a few pivots per LP instead
of a full solve, which is where the speed over COBRApy + optlang comes from.

Fluxes are in mmol/gDW/h, as in the model. Reaction order is ``model.reactions``.
The object pickles without its HiGHS instance (rebuilt on first use), so it can
be shipped to worker processes by :func:`biofab.compute.parallel_map`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from biofab.core.errors import ModelError
from biofab.metabolism.highs import new_highs

if TYPE_CHECKING:
    import cobra
    import highspy

INF = float("inf")


def _objective_vector(model: cobra.Model) -> np.ndarray:
    """Net objective coefficient per reaction, read once from the optlang expression.

    COBRApy writes a reaction's flux as forward minus reverse variable, so a
    linear objective gives the reverse variable the negated coefficient; only
    linear objectives are representable here (as in COBRApy's own helper).
    """
    index = {r.id: j for j, r in enumerate(model.reactions)}
    c = np.zeros(len(model.reactions))
    terms = model.solver.objective.expression.as_coefficients_dict()
    for var, coef in terms.items():
        name = getattr(var, "name", None)
        if name in index:
            c[index[name]] = float(coef)
    if not c.any():  # fall back on COBRApy's reading (e.g. a reverse-only objective)
        from cobra.util.solver import linear_reaction_coefficients

        for rxn, coef in linear_reaction_coefficients(model).items():
            c[index[rxn.id]] = coef
    return c


def _extra_constraints(
    model: cobra.Model,
) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
    """The constraints a user added through optlang, as rows over net fluxes.

    COBRApy keeps one constraint per metabolite (its mass balance, held at 0);
    any other constraint (``model.add_cons_vars``, ``model.solver.add``) is read
    here. A reaction's flux is ``forward - reverse``, so a row can be written
    over net fluxes when the two variables carry opposite coefficients, or when
    one of them is fixed at zero by the bounds (an irreversible reaction).
    Everything else (non-reaction variables, non-linear or indicator
    constraints, the two directions of a reversible reaction weighted apart,
    metabolite balances with non-zero bounds) is refused in one line: dropping
    it silently would give a different optimum than ``model.optimize()``.
    """
    met_ids = {m.id for m in model.metabolites}
    by_var: dict[str, tuple[int, bool]] = {}
    for j, rxn in enumerate(model.reactions):
        by_var[rxn.forward_variable.name] = (j, True)
        by_var[rxn.reverse_variable.name] = (j, False)
    rows: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    problems: list[str] = []
    for con in model.constraints:
        if con.name in met_ids:
            if (con.lb or 0.0) != 0.0 or (con.ub or 0.0) != 0.0:
                problems.append(f"{con.name} (mass balance with bounds {con.lb}..{con.ub})")
            continue
        row = _net_row(model, con, by_var)
        if isinstance(row, str):
            problems.append(f"{con.name} ({row})")
        else:
            rows.append(row)
    if problems:
        raise ModelError(
            "constraints that a flux-balance program over reaction fluxes cannot carry: "
            + ", ".join(problems),
            file=model.id or None,
            expected="linear constraints over reaction fluxes only",
        )
    return rows


def _net_row(
    model: cobra.Model, con: Any, by_var: dict[str, tuple[int, bool]]
) -> tuple[np.ndarray, np.ndarray, float, float] | str:
    """One optlang constraint as ``(columns, coefficients, lo, hi)``, or why not."""
    if getattr(con, "indicator_variable", None) is not None:
        return "indicator constraint"
    if not con.is_Linear:
        return "not linear"
    fwd: dict[int, float] = {}
    rev: dict[int, float] = {}
    offset = 0.0
    for var, coef in con.expression.as_coefficients_dict().items():
        if getattr(var, "is_Number", False):
            offset += float(var) * float(coef)
            continue
        name = getattr(var, "name", str(var))
        if name not in by_var:
            return f"variable {name} is not a reaction flux"
        j, forward = by_var[name]
        (fwd if forward else rev)[j] = float(coef)
    net: dict[int, float] = {}
    for j in sorted(fwd.keys() | rev.keys()):
        a, b = fwd.get(j, 0.0), rev.get(j, 0.0)
        rxn = model.reactions[j]
        if a == -b or rxn.lower_bound >= 0:  # reverse part fixed at 0 when irreversible
            net[j] = a
        elif rxn.upper_bound <= 0:  # only the reverse part can carry flux
            net[j] = -b
        else:
            return f"weights the two directions of reversible reaction {rxn.id} apart"
    lo = -INF if con.lb is None else float(con.lb) - offset
    hi = INF if con.ub is None else float(con.ub) - offset
    idx = np.array([j for j, v in net.items() if v != 0.0], dtype=np.int32)
    return idx, np.array([net[j] for j in idx.tolist()], dtype=float), lo, hi


@dataclass
class LPSolution:
    """Result of one solve: ``status`` is ``optimal``, ``infeasible``, ``unbounded``
    or HiGHS's own word; ``fluxes`` (n_reactions,) mmol/gDW/h when optimal."""

    status: str
    objective: float
    fluxes: np.ndarray | None

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


class LinearProgram:
    """HiGHS LP over ``S v = 0, lb <= v <= ub`` with warm-started re-solves.

    Parameters
    ----------
    S : (n_metabolites, n_reactions) sparse stoichiometric matrix.
    lb, ub : (n_reactions,) flux bounds, mmol/gDW/h.
    c : (n_reactions,) objective coefficients.
    reaction_ids : reaction ids, in column order.
    sense : ``"max"`` or ``"min"``.
    tolerance : primal and dual feasibility tolerance of HiGHS.
    """

    def __init__(
        self,
        S: sparse.spmatrix | np.ndarray,
        lb: np.ndarray,
        ub: np.ndarray,
        c: np.ndarray,
        reaction_ids: Sequence[str],
        *,
        sense: str = "max",
        tolerance: float = 1e-9,
    ) -> None:
        self.S = sparse.csc_matrix(S, dtype=float)
        self.lb = np.asarray(lb, dtype=float).copy()
        self.ub = np.asarray(ub, dtype=float).copy()
        self.c = np.asarray(c, dtype=float).copy()
        self.reaction_ids = list(reaction_ids)
        self.index = {r: i for i, r in enumerate(self.reaction_ids)}
        self.sense = sense
        self.tolerance = tolerance
        self._highs: highspy.Highs | None = None
        self._extra_rows: list[tuple[np.ndarray, np.ndarray, float, float]] = []

    # -- construction ---------------------------------------------------------
    @classmethod
    def from_model(cls, model: cobra.Model, **kwargs: Any) -> LinearProgram:
        """The LP of ``model``'s mass balances, bounds and linear objective."""
        met_index = {m.id: i for i, m in enumerate(model.metabolites)}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for j, rxn in enumerate(model.reactions):
            for met, coef in rxn.metabolites.items():
                rows.append(met_index[met.id])
                cols.append(j)
                vals.append(coef)
        S = sparse.csc_matrix(
            (vals, (rows, cols)), shape=(len(model.metabolites), len(model.reactions))
        )
        lb = np.array([r.lower_bound for r in model.reactions], dtype=float)
        ub = np.array([r.upper_bound for r in model.reactions], dtype=float)
        c = _objective_vector(model)
        sense = "min" if model.objective_direction == "min" else "max"
        lp = cls(S, lb, ub, c, [r.id for r in model.reactions], sense=sense, **kwargs)
        for idx, val, lo, hi in _extra_constraints(model):
            lp.add_row(idx, val, lo, hi)
        return lp

    @property
    def extra_rows(self) -> tuple[tuple[np.ndarray, np.ndarray, float, float], ...]:
        """Rows beyond the mass balances, as ``(columns, coefficients, lo, hi)``.

        Programs derived from this one (a split or an ensemble member) must add
        them again to describe the same polytope.
        """
        return tuple(self._extra_rows)

    @property
    def n_reactions(self) -> int:
        return len(self.reaction_ids)

    def indices(self, reactions: Sequence[str] | Sequence[int]) -> np.ndarray:
        """Column indices of reaction ids (ints pass through); unknown ids raise."""
        out = []
        for r in reactions:
            if isinstance(r, (int, np.integer)):
                out.append(int(r))
            elif r in self.index:
                out.append(self.index[r])
            else:
                raise ModelError("unknown reaction", found=r, expected="a reaction of the model")
        return np.asarray(out, dtype=np.int32)

    # -- HiGHS instance -------------------------------------------------------
    @property
    def highs(self) -> highspy.Highs:
        if self._highs is None:
            self._highs = self._build()
        return self._highs

    def _build(self) -> highspy.Highs:
        import highspy

        h = new_highs()
        h.setOptionValue("primal_feasibility_tolerance", self.tolerance)
        h.setOptionValue("dual_feasibility_tolerance", self.tolerance)
        lp = highspy.HighsLp()
        m, n = self.S.shape
        lp.num_col_ = n
        lp.num_row_ = m
        lp.col_cost_ = self.c
        lp.col_lower_ = self.lb
        lp.col_upper_ = self.ub
        lp.row_lower_ = np.zeros(m)
        lp.row_upper_ = np.zeros(m)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = self.S.indptr.astype(np.int32)
        lp.a_matrix_.index_ = self.S.indices.astype(np.int32)
        lp.a_matrix_.value_ = self.S.data
        sense = highspy.ObjSense
        lp.sense_ = sense.kMinimize if self.sense == "min" else sense.kMaximize
        h.passModel(lp)
        for idx, val, lo, hi in self._extra_rows:
            h.addRow(lo, hi, len(idx), idx, val)
        return h

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_highs"] = None
        return state

    # -- changes --------------------------------------------------------------
    def set_bounds(self, idx: npt.ArrayLike, lb: Any, ub: Any) -> None:
        """Set bounds of columns ``idx`` (scalars broadcast)."""
        ix = np.asarray(idx, dtype=np.int32)
        lo = np.broadcast_to(np.asarray(lb, dtype=float), ix.shape).copy()
        hi = np.broadcast_to(np.asarray(ub, dtype=float), ix.shape).copy()
        self.lb[ix], self.ub[ix] = lo, hi
        if self._highs is not None:
            self._highs.changeColsBounds(len(ix), ix, lo, hi)

    @contextlib.contextmanager
    def bounds(self, idx: npt.ArrayLike, lb: Any, ub: Any) -> Iterator[None]:
        """Temporarily set bounds of ``idx`` (e.g. a knockout: ``lb = ub = 0``)."""
        ix = np.asarray(idx, dtype=np.int32)
        old_lb, old_ub = self.lb[ix].copy(), self.ub[ix].copy()
        self.set_bounds(ix, lb, ub)
        try:
            yield
        finally:
            self.set_bounds(ix, old_lb, old_ub)

    def set_objective(self, c: npt.ArrayLike, sense: str | None = None) -> None:
        """Replace the objective vector (n_reactions,) and optionally the sense."""
        import highspy

        self.c = np.asarray(c, dtype=float).copy()
        if sense is not None:
            self.sense = sense
        if self._highs is not None:
            n = self.n_reactions
            self._highs.changeColsCost(n, np.arange(n, dtype=np.int32), self.c)
            self._highs.changeObjectiveSense(
                highspy.ObjSense.kMinimize if self.sense == "min" else highspy.ObjSense.kMaximize
            )

    @contextlib.contextmanager
    def objective(self, c: npt.ArrayLike, sense: str | None = None) -> Iterator[None]:
        """Temporarily optimise ``c`` in direction ``sense``."""
        old_c, old_sense = self.c.copy(), self.sense
        self.set_objective(c, sense)
        try:
            yield
        finally:
            self.set_objective(old_c, old_sense)

    def add_row(self, idx: npt.ArrayLike, values: npt.ArrayLike, lo: float, hi: float) -> int:
        """Add ``lo <= sum(values * v[idx]) <= hi``; returns the row's position."""
        ix = np.asarray(idx, dtype=np.int32)
        val = np.asarray(values, dtype=float)
        self._extra_rows.append((ix, val, float(lo), float(hi)))
        if self._highs is not None:
            self._highs.addRow(float(lo), float(hi), len(ix), ix, val)
        return self.S.shape[0] + len(self._extra_rows) - 1

    def set_row_bounds(self, row: int, lo: float, hi: float) -> None:
        """Change the bounds of a row added by :meth:`add_row`."""
        k = row - self.S.shape[0]
        ix, val, _, _ = self._extra_rows[k]
        self._extra_rows[k] = (ix, val, float(lo), float(hi))
        if self._highs is not None:
            self._highs.changeRowBounds(row, float(lo), float(hi))

    @contextlib.contextmanager
    def row(self, idx: npt.ArrayLike, values: npt.ArrayLike, lo: float, hi: float) -> Iterator[int]:
        """Temporarily add a row (e.g. ``objective >= fraction * optimum`` for FVA)."""
        r = self.add_row(idx, values, lo, hi)
        try:
            yield r
        finally:
            self._extra_rows.pop(r - self.S.shape[0])
            if self._highs is not None:
                self._highs.deleteRows(1, np.array([r], dtype=np.int32))

    # -- solving --------------------------------------------------------------
    def solve(self) -> LPSolution:
        """Optimise from the current basis; never raises for infeasible or unbounded."""
        import highspy

        h = self.highs
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            fluxes = np.asarray(h.getSolution().col_value, dtype=float)
            return LPSolution("optimal", float(h.getInfo().objective_function_value), fluxes)
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            # HiGHS may not tell the two apart from the basis: re-solve cold to ask.
            h.clearSolver()
            h.run()
            status = h.getModelStatus()
        word = {
            highspy.HighsModelStatus.kInfeasible: "infeasible",
            highspy.HighsModelStatus.kUnbounded: "unbounded",
            highspy.HighsModelStatus.kOptimal: "optimal",
        }.get(status, h.modelStatusToString(status).lower())
        if word == "optimal":
            fluxes = np.asarray(h.getSolution().col_value, dtype=float)
            return LPSolution(word, float(h.getInfo().objective_function_value), fluxes)
        return LPSolution(word, float("nan"), None)

    def optimize(self, *, label: str | None = None) -> LPSolution:
        """:meth:`solve`, raising :class:`ModelError` unless the LP is optimal."""
        sol = self.solve()
        if not sol.ok:
            raise ModelError(
                f"the flux balance problem is {sol.status}",
                file=label,
                expected="a feasible, bounded model (check the medium and bounds)",
            )
        return sol
