"""Growth-coupled knockout design: an OptKnock-style bilevel MILP on HiGHS.

OptKnock (Burgard, Pharkya & Maranas 2003, Biotechnol Bioeng 84:647) asks which
``<= K`` reaction deletions maximise the production of a target when the cell,
after the deletions, maximises its growth. The inner problem (the cell's LP)
is replaced by its optimality conditions: primal feasibility, dual feasibility
and strong duality (primal objective = dual objective), so the whole bilevel
problem becomes one mixed-integer LP. A binary ``y_j`` per candidate reaction
(1 = present) switches its flux bounds to zero and, through big-M rows, frees
its dual constraint and zeroes its bound multipliers, which keeps the dual
objective linear.

Plain OptKnock is optimistic: among the many flux distributions with maximal
growth it may pick the one that secretes the most target. Here the inner
objective is *tilted* (growth ``- eps * target``, as in Feist et al. 2010, Metab
Eng 12:173 and Tepper & Shlomi 2010, Bioinformatics 26:536), so the inner
optimum is the *least* production among maximal-growth solutions and the outer
objective is the guaranteed production. Every design is then verified without
the MILP: maximal growth with the knockouts applied, then the minimum and
maximum production at that growth (flux variability at fraction 1.0) through
:class:`~biofab.metabolism.lp.LinearProgram`. A design is growth-coupled when
that minimum is positive.

Fluxes are in mmol/gDW/h, growth in 1/h.
"""

from __future__ import annotations

import ast
import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from biofab.core.errors import InputError, ModelError
from biofab.metabolism.compression import (
    Compression,
    blocked_reactions,
    compress,
    identity_compression,
)
from biofab.metabolism.ecmodel import REV_SUFFIX
from biofab.metabolism.lp import LinearProgram, new_highs

if TYPE_CHECKING:
    import cobra
    import pandas as pd

#: A bound at or beyond this magnitude (mmol/gDW/h) is COBRA's stand-in for
#: "unbounded"; such bounds get no dual multiplier, which keeps big numbers out
#: of the MILP (a design that would need one binding is cut off, never wrong).
INFINITY = 1000.0
#: Production (mmol/gDW/h) below this counts as none.
PRODUCTION_TOL = 1e-6
#: Subsystems (BiGG E. coli naming) whose reactions genome-scale OptKnock studies
#: leave out of the candidates: membrane and cell-envelope synthesis, transport
#: and tRNA charging rarely give viable growth-coupling targets. After the
#: exclusions of Feist et al. 2010 (Metab Eng 12:173); the exact list is ours.
ENVELOPE_AND_TRANSPORT_SUBSYSTEMS = (
    "Cell Envelope Biosynthesis",
    "Glycerophospholipid Metabolism",
    "Inorganic Ion Transport and Metabolism",
    "Lipopolysaccharide Biosynthesis / Recycling",
    "Membrane Lipid Metabolism",
    "Murein Biosynthesis",
    "Murein Recycling",
    "Transport, Inner Membrane",
    "Transport, Outer Membrane",
    "Transport, Outer Membrane Porin",
    "tRNA Charging",
)


# -- MILP helper ------------------------------------------------------------------
@dataclass
class MilpSolution:
    """Result of :func:`solve_milp`: ``status`` as HiGHS says it, ``x`` when feasible."""

    status: str
    objective: float
    x: np.ndarray | None
    seconds: float
    gap: float


def solve_milp(
    c: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    A: sparse.spmatrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    integer: np.ndarray,
    *,
    sense: str = "max",
    time_limit: float = 60.0,
    mip_gap: float = 1e-4,
    tolerance: float = 1e-9,
) -> MilpSolution:
    """Solve ``c·x -> sense`` s.t. ``row_lo <= A x <= row_hi``, ``lb <= x <= ub``,
    ``x[integer]`` integral, with HiGHS's branch and cut (silent instance)."""
    import highspy

    h = new_highs()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("primal_feasibility_tolerance", tolerance)
    h.setOptionValue("dual_feasibility_tolerance", tolerance)
    h.setOptionValue("mip_feasibility_tolerance", tolerance)
    A = sparse.csc_matrix(A, dtype=float)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=float)
    lp.col_lower_ = np.asarray(lb, dtype=float)
    lp.col_upper_ = np.asarray(ub, dtype=float)
    lp.row_lower_ = np.asarray(row_lo, dtype=float)
    lp.row_upper_ = np.asarray(row_hi, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
        for i in np.asarray(integer, dtype=bool)
    ]
    lp.sense_ = highspy.ObjSense.kMinimize if sense == "min" else highspy.ObjSense.kMaximize
    h.passModel(lp)
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    word = h.modelStatusToString(status).lower()
    if status == highspy.HighsModelStatus.kOptimal:
        word = "optimal"
    elif status == highspy.HighsModelStatus.kInfeasible:
        word = "infeasible"
    elif status == highspy.HighsModelStatus.kTimeLimit:
        word = "time limit"
    x = np.asarray(h.getSolution().col_value, dtype=float) if has_x else None
    obj = float(info.objective_function_value) if has_x else float("nan")
    return MilpSolution(word, obj, x, seconds, float(info.mip_gap) if has_x else float("nan"))


# -- model helpers ----------------------------------------------------------------
def objective_reaction(model: cobra.Model) -> str:
    """The id of the single reaction the model maximises (its biomass reaction)."""
    from cobra.util.solver import linear_reaction_coefficients

    coefs = linear_reaction_coefficients(model)
    if len(coefs) != 1 or model.objective_direction != "max":
        raise ModelError(
            "strain design needs an objective that maximises one reaction (biomass)",
            expected="one reaction, maximised",
            found=", ".join(r.id for r in coefs) or "no objective",
        )
    return next(iter(coefs)).id


def check_reaction(model: cobra.Model, reaction_id: str, what: str = "target") -> str:
    """``reaction_id`` if the model has it, else a one-line :class:`ModelError`."""
    if reaction_id not in model.reactions:
        raise ModelError(
            f"unknown {what} reaction", expected="a reaction id of the model", found=reaction_id
        )
    return reaction_id


def resolve_knockouts(model: cobra.Model, ids: Iterable[str]) -> list[str]:
    """Reaction ids for ``ids``: reaction ids pass through, a gene id stands for
    the reactions its deletion disables (by their GPRs)."""
    out: list[str] = []
    for item in ids:
        if item in model.reactions:
            out.append(item)
        elif item in model.genes:
            gene = model.genes.get_by_id(item)
            out.extend(r.id for r in gene.reactions if not r.gpr.eval({item}))
        else:
            raise ModelError(
                "unknown knockout", expected="a reaction or gene id of the model", found=item
            )
    return list(dict.fromkeys(out))


@contextlib.contextmanager
def knocked_out(lp: LinearProgram, reactions: Sequence[str]) -> Iterator[None]:
    """Temporarily fix the fluxes of ``reactions`` at zero in ``lp``."""
    if not reactions:
        yield
        return
    with lp.bounds(lp.indices(list(reactions)), 0.0, 0.0):
        yield


def production_at_max_growth(
    lp: LinearProgram, target: str, biomass: str, knockouts: Sequence[str] = ()
) -> tuple[float, float, float]:
    """``(max growth, min production, max production)`` with ``knockouts`` applied.

    Production is the flux of ``target`` at maximal growth (FVA at fraction 1.0,
    growth held at its optimum less 1e-9 1/h of solver slack); an infeasible
    or non-growing strain gives zeros.
    """
    b, t = lp.index[biomass], lp.index[target]
    cb = np.zeros(lp.n_reactions)
    cb[b] = 1.0
    ct = np.zeros(lp.n_reactions)
    ct[t] = 1.0
    with knocked_out(lp, knockouts), lp.objective(cb, "max"):
        sol = lp.solve()
        if not sol.ok:
            return 0.0, 0.0, 0.0
        mu = sol.objective
        with lp.bounds([b], max(mu - 1e-9, lp.lb[b]), mu):
            with lp.objective(ct, "min"):
                lo = lp.solve()
            with lp.objective(ct, "max"):
                hi = lp.solve()
    if not (lo.ok and hi.ok):
        return mu, float("nan"), float("nan")
    return mu, lo.objective, hi.objective


def verify_design(
    model: cobra.Model, target: str, knockouts: Sequence[str], *, lp: LinearProgram | None = None
) -> tuple[float, float, float]:
    """``(max growth, min, max target flux at it)`` of ``model`` with ``knockouts`` deleted.

    The check behind every design, usable on its own: plain FBA for the
    strain's maximal growth, then the least and most production at that growth
    (the minimal yield guaranteed). ``knockouts`` are reaction or gene ids; on
    an ecModel a reaction takes its ``_REV`` half with it, so a design found
    on the plain model can be checked under enzyme constraints.
    """
    check_reaction(model, target)
    biomass = objective_reaction(model)
    lp = lp if lp is not None else LinearProgram.from_model(model)
    removed = [h for r in resolve_knockouts(model, knockouts) for h in _unit(lp, r)]
    return production_at_max_growth(lp, target, biomass, list(dict.fromkeys(removed)))


# -- candidates -------------------------------------------------------------------
def _is_transport(rxn: cobra.Reaction) -> bool:
    return len(rxn.compartments) > 1


def _is_spontaneous(rxn: cobra.Reaction) -> bool:
    rule = rxn.gene_reaction_rule.lower()
    return "s0001" in rule or "spontaneous" in rule or "spont" in rxn.name.lower()


def _unit(lp: LinearProgram, rid: str) -> list[str]:
    """The columns one deletion removes: the reaction and, in an ecModel, its ``_REV`` half."""
    rev = rid + REV_SUFFIX
    return [rid, rev] if rev in lp.index else [rid]


@dataclass
class Candidates:
    """Knockout candidates after preprocessing, and why every other reaction was left out.

    ``units`` maps each candidate (a reaction id) to the reactions its deletion
    removes (itself, plus its ``_REV`` half in an ecModel); ``coupled`` maps it
    to the reactions coupled to it in every steady state (deleting any of them
    has the same effect). ``counts`` gives the pool after each step: ``reactions``,
    ``eligible`` (class filter), ``unblocked``, ``non_essential`` (one candidate per
    reaction, today's OptKnock input) and ``lumped`` (one per coupled group).
    """

    units: dict[str, list[str]]
    coupled: dict[str, list[str]]
    why: dict[str, str]
    counts: dict[str, int]
    compression: Compression

    @property
    def ids(self) -> list[str]:
        return list(self.units)


def _eligible(
    model: cobra.Model,
    lp: LinearProgram,
    target: str,
    biomass: str,
    require_gpr: bool,
    exclude_subsystems: Sequence[str] = (),
) -> tuple[list[str], dict[str, str]]:
    """The class filter: which reactions a strain designer would consider deleting."""
    why: dict[str, str] = {}
    boundary = {r.id for r in model.boundary}
    excluded = set(exclude_subsystems)
    pool: list[str] = []
    for rxn in model.reactions:
        rid = rxn.id
        if rid.endswith(REV_SUFFIX) and rid[: -len(REV_SUFFIX)] in lp.index:
            why[rid] = "reverse half (deleted with its forward half)"
        elif rid in boundary:
            why[rid] = "exchange"
        elif rid in (biomass, target):
            why[rid] = "objective or target"
        elif rxn.lower_bound > 0 or rid.upper().startswith("ATPM"):
            why[rid] = "maintenance or forced flux"
        elif _is_spontaneous(rxn):
            why[rid] = "spontaneous"
        elif not rxn.genes and (require_gpr or _is_transport(rxn)):
            why[rid] = "no GPR"
        elif rxn.subsystem and rxn.subsystem in excluded:
            why[rid] = "excluded subsystem"
        else:
            pool.append(rid)
    return pool, why


def select_candidates(
    model: cobra.Model,
    target: str,
    *,
    min_growth: float,
    require_gpr: bool = False,
    reactions: Sequence[str] | None = None,
    lp: LinearProgram | None = None,
    lump: bool = True,
    compression: Compression | None = None,
    exclude_subsystems: Sequence[str] = (),
) -> Candidates:
    """Candidates for deletion, with the standard preprocessing of OptKnock-type designs.

    Left out, in order: exchanges, demands and sinks, the biomass and the
    target, ATP maintenance and forced fluxes (``lb > 0``), spontaneous
    reactions, transports without a GPR (often diffusion) or every reaction
    without one when ``require_gpr``, reactions of ``exclude_subsystems`` (e.g.
    :data:`ENVELOPE_AND_TRANSPORT_SUBSYSTEMS`); ``reactions`` replaces this class
    filter by the user's list; then reactions blocked on this medium (deleting them
    changes nothing); then, with ``lump``, all but one reaction of each group of
    coupled reactions (and groups coupled to the biomass or the target); then
    reactions whose deletion drops maximal growth below ``min_growth`` (1/h).
    """
    biomass = objective_reaction(model)
    lp = lp if lp is not None else LinearProgram.from_model(model)
    if compression is None:
        compression = compress(lp, representatives=[biomass, target]) if lump else None
    if reactions is not None:
        for rid in reactions:
            check_reaction(model, rid, "candidate")
        pool = [r for r in dict.fromkeys(reactions) if r not in (biomass, target)]
        why: dict[str, str] = {}
    else:
        pool, why = _eligible(model, lp, target, biomass, require_gpr, exclude_subsystems)
    counts = {"reactions": lp.n_reactions, "eligible": len(pool)}
    blocked = set(compression.blocked) if compression is not None else set(blocked_reactions(lp))
    units: dict[str, list[str]] = {}
    for rid in pool:
        unit = _unit(lp, rid)
        if all(r in blocked for r in unit):
            why[rid] = "blocked"
        else:
            units[rid] = unit
    counts["unblocked"] = len(units)
    base = lp.optimize(label=model.id or "model")
    assert base.fluxes is not None
    groups_kept: dict[frozenset[int], str] = {}
    coupled: dict[str, list[str]] = {}
    protected: set[int] = set()
    if compression is not None:
        protected = {
            compression.group_of[r] for r in (biomass, target) if r in compression.group_of
        }
    out: dict[str, list[str]] = {}
    n_non_essential = 0
    for rid, unit in units.items():
        key = frozenset(
            compression.group_of[r]
            for r in unit
            if compression is not None and r in compression.group_of
        )
        if key & protected:
            why[rid] = "coupled to the biomass or the target"
            continue
        if key and key in groups_kept:
            rep = groups_kept[key]
            why[rid] = f"coupled to {rep}"
            coupled[rep].append(rid)
            n_non_essential += 1  # the representative's verdict holds for the group
            continue
        # A deletion of reactions idle in an optimal solution cannot lower the optimum.
        j = lp.indices(unit)
        if np.abs(base.fluxes[j]).max() > 1e-9 or base.objective < min_growth:
            with knocked_out(lp, unit):
                s = lp.solve()
            if not s.ok or s.objective < min_growth:
                why[rid] = "essential"
                if key:
                    groups_kept[key] = rid
                    coupled[rid] = []
                continue
        n_non_essential += 1
        out[rid] = unit
        coupled[rid] = []
        if key:
            groups_kept[key] = rid
    # members of essential groups were counted as coupled: they are essential too
    for rep, members in coupled.items():
        if rep not in out:
            for r in members:
                why[r] = "essential"
                n_non_essential -= 1
    counts["non_essential"] = n_non_essential
    counts["lumped"] = len(out)
    kept_coupled = {r: coupled[r] for r in out}
    comp = compression if compression is not None else identity_compression(lp, sorted(blocked))
    return Candidates(out, kept_coupled, why, counts, comp)


def knockout_candidates(
    model: cobra.Model,
    target: str,
    *,
    min_growth: float,
    require_gpr: bool = False,
    reactions: Sequence[str] | None = None,
    lp: LinearProgram | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Reaction ids worth deleting (one per coupled group) and why each other one is not.

    See :func:`select_candidates`.
    """
    c = select_candidates(
        model, target, min_growth=min_growth, require_gpr=require_gpr, reactions=reactions, lp=lp
    )
    return c.ids, c.why


# -- genes ------------------------------------------------------------------------
def _cut_sets(node: ast.AST | None) -> list[frozenset[str]]:
    """Minimal gene sets whose deletion makes the GPR ``node`` false."""
    if node is None:
        return []
    if isinstance(node, ast.Expression):
        return _cut_sets(node.body)
    if isinstance(node, ast.Name):
        return [frozenset([node.id])]
    if isinstance(node, ast.BoolOp):
        parts = [_cut_sets(v) for v in node.values]
        if isinstance(node.op, ast.And):  # any one failing subunit kills the complex
            sets = [s for p in parts for s in p]
        else:  # every isoenzyme must go
            sets = [frozenset()]
            for p in parts:
                sets = [a | b for a in sets for b in p]
                sets = _minimal(sets)[:64]  # cap the blow-up of big OR rules
        return _minimal(sets)
    return []


def _minimal(sets: list[frozenset[str]]) -> list[frozenset[str]]:
    sets = sorted(set(sets), key=lambda s: (len(s), sorted(s)))
    out: list[frozenset[str]] = []
    for s in sets:
        if not any(o <= s for o in out):
            out.append(s)
    return out


def gene_knockouts(
    model: cobra.Model,
    reactions: Sequence[str],
    alternatives: Mapping[str, Sequence[str]] | None = None,
) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """Genes whose deletion disables ``reactions``, and the other reactions it also disables.

    ``alternatives`` may name, per reaction, reactions coupled to it: disabling
    any one of them blocks the same flux, so their GPRs are offered too (and
    they do not count as side effects). A reaction's ``_REV`` half in an
    ecModel must be disabled with it. For each reaction the cut set with the
    fewest side effects outside the design, then the fewest new genes, is
    chosen. Returns ``(None, ())`` when some reaction can only be removed as a
    reaction (no option has a GPR).
    """
    alternatives = alternatives or {}
    options = {rid: [rid, *[a for a in alternatives.get(rid, ()) if a != rid]] for rid in reactions}
    wanted = {x for opts in options.values() for o in opts for x in _halves(model, o)}
    genes: frozenset[str] = frozenset()
    for rid in reactions:
        cuts: list[frozenset[str]] = []
        for o in options[rid]:
            rxn = model.reactions.get_by_id(o)
            need = set(_halves(model, o))
            if rxn.genes:
                cuts += [c for c in _cut_sets(rxn.gpr.body) if need <= _disabled(model, c)]
        if not cuts:
            return None, ()
        # fewest other reactions lost, then fewest new genes
        scored = [
            (len(_disabled(model, genes | cut) - wanted), len(cut - genes), sorted(cut), cut)
            for cut in cuts
        ]
        genes = genes | min(scored)[3]
    extra = tuple(sorted(_disabled(model, genes) - wanted))
    return tuple(sorted(genes)), extra


def _halves(model: cobra.Model, rid: str) -> list[str]:
    rev = rid + REV_SUFFIX
    return [rid, rev] if rev in model.reactions else [rid]


def _disabled(model: cobra.Model, genes: frozenset[str]) -> set[str]:
    rxns = {r for g in genes for r in model.genes.get_by_id(g).reactions}
    return {r.id for r in rxns if not r.gpr.eval(set(genes))}


# -- results ----------------------------------------------------------------------
@dataclass
class KnockoutDesign:
    """One knockout set and its verified phenotype.

    ``max_growth`` (1/h) is the strain's optimum with the reactions removed;
    ``min_production``/``max_production`` (mmol/gDW/h) the target flux range at
    that growth. ``genes`` is a gene deletion set that removes the reactions
    (``None`` if some reaction has no GPR); ``gene_side_effects`` lists other
    reactions those genes also disable, and ``gene_min_production`` the
    guaranteed production of the gene-level strain. ``milp_objective`` is the
    MILP's guaranteed production and ``solve_seconds`` its HiGHS time.
    """

    knockouts: tuple[str, ...]
    max_growth: float
    min_production: float
    max_production: float
    milp_objective: float
    solve_seconds: float
    genes: tuple[str, ...] | None = None
    gene_side_effects: tuple[str, ...] = ()
    gene_min_production: float | None = None
    milp_knockouts: tuple[str, ...] = ()
    milp_status: str = "optimal"  # "time limit": best incumbent, not proven optimal
    milp_gap: float = 0.0
    coupled_alternatives: dict[str, list[str]] = field(default_factory=dict)

    @property
    def coupled(self) -> bool:
        """Growth-coupled: production is forced at maximal growth (and growth > 0)."""
        return self.max_growth > 0 and self.min_production > PRODUCTION_TOL

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["coupled"] = self.coupled
        return d


@dataclass
class DesignResult:
    """All designs for one target, best (highest guaranteed production) first."""

    target: str
    biomass: str
    wild_type_growth: float
    wild_type_production: tuple[float, float]
    min_growth: float
    max_knockouts: int
    candidates: list[str]
    designs: list[KnockoutDesign] = field(default_factory=list)
    status: str = "optimal"
    seconds: float = 0.0
    candidate_counts: dict[str, int] = field(default_factory=dict)
    milp_size: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def coupled(self) -> list[KnockoutDesign]:
        return [d for d in self.designs if d.coupled]

    def frame(self) -> pd.DataFrame:
        """One row per design: knockouts, genes, growth, production range, time."""
        import pandas as pd

        rows = [
            {
                "knockouts": " ".join(d.knockouts),
                "genes": " ".join(d.genes) if d.genes is not None else "",
                "max_growth": d.max_growth,
                "min_production": d.min_production,
                "max_production": d.max_production,
                "coupled": d.coupled,
                "solve_s": d.solve_seconds,
            }
            for d in self.designs
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "knockouts",
                "genes",
                "max_growth",
                "min_production",
                "max_production",
                "coupled",
                "solve_s",
            ],
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "biomass": self.biomass,
            "wild_type_growth": self.wild_type_growth,
            "wild_type_production": list(self.wild_type_production),
            "min_growth": self.min_growth,
            "max_knockouts": self.max_knockouts,
            "n_candidates": len(self.candidates),
            "candidate_counts": self.candidate_counts,
            "milp_size": self.milp_size,
            "timings": self.timings,
            "candidates": self.candidates,
            "status": self.status,
            "seconds": self.seconds,
            "designs": [d.as_dict() for d in self.designs],
        }


# -- OptKnock ---------------------------------------------------------------------
class _OptKnockMilp:
    """The single-level MILP of the tilted bilevel problem, with integer cuts.

    Built on a (compressed) flux program. Columns: fluxes ``v`` (n), presence
    ``y`` (one per candidate, binary), metabolite duals ``lam`` (m, within
    ``±big_m``), multipliers ``a_j`` of finite upper bounds and ``b_j`` of finite
    lower bounds (>= 0), and a slack ``s_j`` per column a candidate controls
    that frees its dual constraint once the candidate is deleted. A candidate
    may control several columns (an ecModel's reaction and its ``_REV`` half).
    """

    def __init__(
        self,
        lp: LinearProgram,
        target: str,
        biomass: str,
        candidates: Sequence[str],
        units: Sequence[Sequence[int]],
        *,
        max_knockouts: int,
        min_growth: float,
        tilt: float,
        big_m: float,
    ) -> None:
        n = lp.n_reactions
        S = sparse.vstack([lp.S.tocsr()] + [_row(n, r) for r in lp.extra_rows]).tocsc()
        m = S.shape[0]
        m_bal = lp.S.shape[0]
        row_lo = np.concatenate([np.zeros(m_bal), [r[2] for r in lp.extra_rows]])
        row_hi = np.concatenate([np.zeros(m_bal), [r[3] for r in lp.extra_rows]])
        lb, ub = lp.lb.copy(), lp.ub.copy()
        t, b = lp.index[target], lp.index[biomass]
        k = len(candidates)
        ctrl = [(i, j) for i, u in enumerate(units) for j in u]  # (candidate, column)
        nc = len(ctrl)
        has_a = np.flatnonzero(np.abs(ub) < INFINITY)
        has_b = np.flatnonzero(np.abs(lb) < INFINITY)
        # extra rows are ranges: a multiplier for each finite side
        ra = np.flatnonzero(np.isfinite(row_hi) & (np.arange(m) >= m_bal))
        rb = np.flatnonzero(np.isfinite(row_lo) & (np.arange(m) >= m_bal))
        na, nb = len(has_a), len(has_b)
        oy, ol = n, n + k
        oa = ol + m
        ob = oa + na
        ora = ob + nb
        orb = ora + len(ra)
        os_ = orb + len(rb)
        ncol = os_ + nc
        self.n, self.oy, self.k = n, oy, k
        self.candidates = list(candidates)

        w = np.zeros(n)  # inner (cell) objective: growth, tilted against production
        w[b] = 1.0
        w[t] -= tilt

        col_lb = np.zeros(ncol)
        col_ub = np.full(ncol, np.inf)
        col_lb[:n], col_ub[:n] = lb, ub
        col_lb[b] = max(lb[b], min_growth)
        col_lb[oy:ol], col_ub[oy:ol] = 0.0, 1.0
        col_lb[ol:oa], col_ub[ol:oa] = -big_m, big_m
        col_ub[oa:os_] = big_m
        col_lb[os_:], col_ub[os_:] = -big_m, big_m
        integer = np.zeros(ncol, dtype=bool)
        integer[oy:ol] = True

        blocks: list[sparse.spmatrix] = []
        lo: list[np.ndarray] = []
        hi: list[np.ndarray] = []

        def add(rows: sparse.spmatrix, rlo: Any, rhi: Any) -> None:
            r = rows.shape[0]
            blocks.append(sparse.csr_matrix(rows))
            lo.append(np.broadcast_to(np.asarray(rlo, dtype=float), (r,)).copy())
            hi.append(np.broadcast_to(np.asarray(rhi, dtype=float), (r,)).copy())

        def entries(r: int, triples: list[tuple[int, int, float]]) -> sparse.csr_matrix:
            if not triples:
                return sparse.csr_matrix((r, ncol))
            i, j, v = zip(*triples, strict=True)
            return sparse.csr_matrix((v, (i, j)), shape=(r, ncol))

        # primal: S v = 0 and the extra rows' ranges
        add(sparse.hstack([S, sparse.csr_matrix((m, ncol - n))]), row_lo, row_hi)
        # primal: lb_j y <= v_j <= ub_j y for the columns of each candidate
        P: list[tuple[int, int, float]] = []
        for r, (i, j) in enumerate(ctrl):
            P += [(2 * r, j, 1.0), (2 * r, oy + i, -ub[j])]
            P += [(2 * r + 1, j, 1.0), (2 * r + 1, oy + i, -lb[j])]
        add(entries(2 * nc, P), np.tile([-np.inf, 0.0], nc), np.tile([0.0, np.inf], nc))

        # dual: S^T lam + a - b + (row multipliers) + s = w
        def unit(rows: np.ndarray, sign: float, width: int | None = None) -> sparse.csr_matrix:
            data = np.full(len(rows), sign)
            return sparse.csr_matrix(
                (data, (rows, np.arange(len(rows)))), shape=(n, width or len(rows))
            )

        St = S.T.tocsr()
        D = sparse.hstack(
            [
                sparse.csr_matrix((n, n + k)),
                St,
                unit(has_a, 1.0),
                unit(has_b, -1.0),
                St[:, ra] if len(ra) else sparse.csr_matrix((n, 0)),
                -St[:, rb] if len(rb) else sparse.csr_matrix((n, 0)),
                unit(np.array([j for _, j in ctrl], dtype=int), 1.0),
            ]
        )
        # extra rows are balanced by their own multipliers, not by a free lam
        if len(ra) or len(rb):
            col_lb[ol + m_bal : oa] = 0.0
            col_ub[ol + m_bal : oa] = 0.0
        add(D, w, w)
        # a deleted candidate: its columns' multipliers vanish and their dual rows are free
        pos_a = {int(j): oa + i for i, j in enumerate(has_a)}
        pos_b = {int(j): ob + i for i, j in enumerate(has_b)}
        M: list[tuple[int, int, float]] = []
        for r, (i, j) in enumerate(ctrl):
            if j in pos_a:
                M += [(4 * r, pos_a[j], 1.0), (4 * r, oy + i, -big_m)]
            if j in pos_b:
                M += [(4 * r + 1, pos_b[j], 1.0), (4 * r + 1, oy + i, -big_m)]
            M += [(4 * r + 2, os_ + r, 1.0), (4 * r + 2, oy + i, big_m)]
            M += [(4 * r + 3, os_ + r, -1.0), (4 * r + 3, oy + i, big_m)]
        add(entries(4 * nc, M), -np.inf, np.tile([0.0, 0.0, big_m, big_m], nc))
        # strong duality: w·v >= ub·a - lb·b + hi·ra - lo·rb (weak duality makes it equal)
        G: list[tuple[int, int, float]] = [(0, int(j), float(w[j])) for j in np.flatnonzero(w)]
        G += [(0, oa + i, -ub[j]) for i, j in enumerate(has_a)]
        G += [(0, ob + i, lb[j]) for i, j in enumerate(has_b)]
        G += [(0, ora + i, -row_hi[j]) for i, j in enumerate(ra)]
        G += [(0, orb + i, row_lo[j]) for i, j in enumerate(rb)]
        add(entries(1, G), 0.0, np.inf)
        # at most max_knockouts deletions
        add(entries(1, [(0, oy + i, 1.0) for i in range(k)]), k - max_knockouts, np.inf)

        self.A = sparse.vstack(blocks).tocsr()
        self.row_lo = np.concatenate(lo)
        self.row_hi = np.concatenate(hi)
        self.col_lb, self.col_ub, self.integer = col_lb, col_ub, integer
        self.c = np.zeros(ncol)
        self.c[t] = 1.0  # outer objective: the (guaranteed) production
        self.ncol = ncol

    @property
    def size(self) -> dict[str, int]:
        """Rows, columns and binaries of the MILP."""
        return {
            "rows": int(self.A.shape[0]),
            "columns": int(self.ncol),
            "binaries": int(self.k),
        }

    def exclude(self, knocked: Sequence[str]) -> None:
        """Integer cut: forbid deleting all of ``knocked`` together (and supersets)."""
        pos = {r: i for i, r in enumerate(self.candidates)}
        row = sparse.lil_matrix((1, self.ncol))
        for r in knocked:
            if r in pos:
                row[0, self.oy + pos[r]] = 1.0
        self.A = sparse.vstack([self.A, row.tocsr()]).tocsr()
        self.row_lo = np.append(self.row_lo, 1.0)
        self.row_hi = np.append(self.row_hi, np.inf)

    def solve(self, time_limit: float, mip_gap: float) -> tuple[MilpSolution, list[str]]:
        sol = solve_milp(
            self.c,
            self.col_lb,
            self.col_ub,
            self.A,
            self.row_lo,
            self.row_hi,
            self.integer,
            sense="max",
            time_limit=time_limit,
            mip_gap=mip_gap,
            tolerance=1e-9,
        )
        if sol.x is None:
            return sol, []
        y = sol.x[self.oy : self.oy + self.k]
        return sol, [r for r, v in zip(self.candidates, y, strict=True) if v < 0.5]


def _row(n: int, row: tuple[np.ndarray, np.ndarray, float, float]) -> sparse.csr_matrix:
    idx, val, _, _ = row
    return sparse.csr_matrix((val, (np.zeros(len(idx), dtype=int), idx)), shape=(1, n))


class _SupportSearch:
    """Exact search for the design with the most guaranteed production (``method="search"``).

    A strain ``D`` (a set of deletions) is scored as in the MILP: the target
    flux ``p(D)`` of a flux vector ``v_D`` that maximises the tilted objective
    ``growth - tilt * target`` (maximal growth, then least production). Any
    larger design ``D' ⊇ D`` that deletes nothing ``v_D`` uses keeps ``v_D``
    feasible and optimal, so ``p(D') = p(D)``. Hence every design's score is
    met on a path ``∅ → {r1} → {r1, r2} → ...`` where each new deletion hits
    the support of the previous strain's ``v`` (the branching of
    minimal-cut-set enumerations). Searching all such paths up to
    ``max_knockouts`` is complete: its best is optimal, a proof without an
    integrality gap. A node is pruned when even the most production possible
    at the growth floor cannot beat the incumbent. Runs on the
    compressed program; LPs warm-start from one another.
    """

    def __init__(
        self,
        lp: LinearProgram,
        target: str,
        biomass: str,
        candidates: Sequence[str],
        units: Sequence[Sequence[int]],
        *,
        max_knockouts: int,
        min_growth: float,
        tilt: float,
    ) -> None:
        self.lp, self.k, self.g_min, self.tilt = lp, max_knockouts, min_growth, tilt
        self.t, self.b = lp.index[target], lp.index[biomass]
        self.candidates = list(candidates)
        self.units = [np.asarray(u, dtype=np.int32) for u in units]
        self.col_unit: dict[int, list[int]] = {}
        for i, u in enumerate(self.units):
            for j in u:
                self.col_unit.setdefault(int(j), []).append(i)
        self.cand_cols = np.array(sorted(self.col_unit), dtype=np.int32)
        self.nodes = 0
        self.best: tuple[float, tuple[int, ...]] = (-np.inf, ())

    def _hits(self, v: np.ndarray, ko: tuple[int, ...]) -> set[int]:
        """Candidates (not yet deleted) that remove a column ``v`` uses."""
        used = np.flatnonzero(np.abs(v) > 1e-9)
        return {i for j in used for i in self.col_unit.get(int(j), ())} - set(ko)

    def _score(
        self, ko: tuple[int, ...], expand: bool
    ) -> tuple[float, np.ndarray | None, float, list[int]]:
        """``(guaranteed production, its flux, most production at the floor, children)``.

        One LP with the tilted objective ``growth - tilt * target`` (as in the
        MILP) gives the least-producing maximal-growth flux ``v``. Where the
        node has children (``expand``), a second LP bounds what they can reach
        and a third looks for another optimal flux that uses fewer candidates
        (the tilted objective held at its optimum, candidate fluxes pushed to
        zero): any optimal flux proves the argument, so the children are the
        candidates hit by whichever of the two uses fewer.
        """
        lp = self.lp
        cols = np.concatenate([self.units[i] for i in ko]) if ko else np.zeros(0, np.int32)
        n = lp.n_reactions
        w = np.zeros(n)
        w[self.b] = 1.0
        w[self.t] -= self.tilt
        self.nodes += 1
        with lp.bounds(cols, 0.0, 0.0):
            with lp.objective(w, "max"):
                sol = lp.solve()
            if not sol.ok or sol.fluxes is None or sol.fluxes[self.b] < self.g_min - 1e-12:
                return -np.inf, None, -np.inf, []
            if not expand:
                return float(sol.fluxes[self.t]), sol.fluxes, np.inf, []
            et = np.zeros(n)
            et[self.t] = 1.0
            with lp.bounds([self.b], self.g_min, lp.ub[self.b]), lp.objective(et, "max"):
                hi = lp.solve()
            bound = hi.objective if hi.ok else np.inf
            hits = self._hits(sol.fluxes, ko)
            if len(hits) > 1:
                c = np.zeros(n)
                c[self.cand_cols] = np.where(
                    lp.lb[self.cand_cols] >= 0,
                    1.0,
                    np.where(lp.ub[self.cand_cols] <= 0, -1.0, np.sign(sol.fluxes[self.cand_cols])),
                )
                c[cols] = 0.0
                opt = float(sol.objective)
                keep = ([self.b, self.t], [w[self.b], w[self.t]], opt - 1e-9 * max(1.0, abs(opt)))
                with lp.row(*keep, np.inf), lp.objective(c, "min"):
                    other = lp.solve()
                if other.ok and other.fluxes is not None:
                    alt = self._hits(other.fluxes, ko)
                    if len(alt) < len(hits):
                        hits = alt
        return float(sol.fluxes[self.t]), sol.fluxes, bound, sorted(hits)

    def run(self, time_limit: float) -> tuple[str, float, list[str], float]:
        """``(status, best production, its deletions, seconds)``; status ``optimal`` or
        ``time limit`` (the incumbent is then not proved)."""
        t0 = time.perf_counter()
        seen: set[frozenset[int]] = set()
        stack: list[tuple[int, ...]] = [()]
        while stack:
            if time.perf_counter() - t0 > time_limit:
                return (
                    "time limit",
                    self.best[0],
                    self._names(self.best[1]),
                    time.perf_counter() - t0,
                )
            ko = stack.pop()
            p, v, bound, hits = self._score(ko, len(ko) < self.k)
            if v is None:
                continue
            if p > self.best[0] + PRODUCTION_TOL or (
                p > self.best[0] - PRODUCTION_TOL and len(ko) < len(self.best[1])
            ):
                self.best = (p, ko)
            if len(ko) >= self.k or bound <= self.best[0] + PRODUCTION_TOL:
                continue
            for i in hits:
                child = frozenset((*ko, i))
                if child not in seen:
                    seen.add(child)
                    stack.append((*ko, i))
        status = "time limit" if stack else "optimal"
        return status, self.best[0], self._names(self.best[1]), time.perf_counter() - t0

    def _names(self, ko: tuple[int, ...]) -> list[str]:
        return [self.candidates[i] for i in ko]


def _prune(
    lp: LinearProgram,
    target: str,
    biomass: str,
    knocked: list[str],
    min_growth: float,
    units: dict[str, list[str]],
) -> tuple[list[str], tuple[float, float, float]]:
    """Drop deletions that do not help: the guaranteed production must not fall.

    Runs on the uncompressed program: each knockout removes its unit of reactions.
    """

    def cols(ko: list[str]) -> list[str]:
        return [r for x in ko for r in units[x]]

    best = production_at_max_growth(lp, target, biomass, cols(knocked))
    for r in list(knocked):
        trial = [x for x in knocked if x != r]
        res = production_at_max_growth(lp, target, biomass, cols(trial))
        if res[0] >= min_growth and res[1] >= best[1] - PRODUCTION_TOL:
            knocked, best = trial, res
    return knocked, best


def optknock(
    model: cobra.Model,
    target: str,
    *,
    max_knockouts: int = 3,
    min_growth: float = 0.1,
    relative: bool = True,
    candidates: Sequence[str] | None = None,
    n_designs: int = 3,
    require_gpr: bool = False,
    lump: bool = True,
    exclude_subsystems: Sequence[str] = (),
    blocked: Sequence[str] | None = None,
    method: str = "milp",
    tilt: float = 1e-3,
    big_m: float = 1000.0,
    time_limit: float = 60.0,
    mip_gap: float = 1e-4,
    max_tries: int | None = None,
) -> DesignResult:
    """Growth-coupled knockout designs for ``target`` on ``model`` as it stands.

    Parameters
    ----------
    model : a COBRApy model maximising one biomass reaction; bounds and medium
        are taken as they are (apply them first, e.g. inside ``with model:``).
        An ecModel (:func:`~biofab.metabolism.ecmodel.build_ec_model`) works
        too: a deletion removes a reaction together with its ``_REV`` half, and
        the enzyme pool bounds the cell's growth inside the MILP.
    target : id of the reaction to couple (usually an exchange, e.g. ``EX_succ_e``).
    max_knockouts : at most this many reaction deletions (>= 1).
    min_growth : the designed strain must grow at least this much: a fraction of
        the wild type's maximal growth when ``relative`` (default 0.1 = 10 %),
        else an absolute rate in 1/h.
    candidates : reaction ids that may be deleted (default: see
        :func:`select_candidates`).
    n_designs : how many distinct designs to return; each found set (and its
        supersets) is excluded by an integer cut before the next solve.
    exclude_subsystems : subsystems whose reactions are not candidates (e.g.
        :data:`ENVELOPE_AND_TRANSPORT_SUBSYSTEMS`).
    method : ``"milp"`` (the tilted bilevel MILP on HiGHS, with integer cuts for
        further designs) or ``"search"`` (exact branch and bound over deletions
        that hit the support of the strain's least-producing optimal flux, see
        :class:`_SupportSearch`; returns the one best design, proved optimal
        unless the time limit stops it).
    blocked : the reactions blocked on this medium, if already known (e.g. from
        :func:`~biofab.metabolism.compression.blocked_reactions` for several
        targets on one medium); found by flux variability otherwise.
    lump : compress the network first (blocked reactions out, coupled
        reactions lumped, one candidate per coupled group; see
        :mod:`biofab.metabolism.compression`). The MILP then runs on the
        compressed network; every design is verified on the uncompressed one.
    tilt : ``eps`` of the tilted inner objective ``growth - eps * target``.
    big_m : bound on the dual variables of the MILP.
    time_limit : seconds HiGHS may spend on each MILP.
    mip_gap : relative gap at which HiGHS stops (0: prove optimality).
    max_tries : MILP solves allowed in all (default ``3 * n_designs``); designs
        that verification finds uncoupled are kept out of the result.

    Returns
    -------
    DesignResult with the verified designs that are growth-coupled, best first.
    """
    t_start = time.perf_counter()
    if max_knockouts < 1:
        raise InputError("max-knockouts must be at least 1", found=max_knockouts)
    if n_designs < 1:
        raise InputError("the number of designs must be at least 1", found=n_designs)
    if method not in ("milp", "search"):
        raise InputError("unknown design method", expected="milp or search", found=method)
    if not 0.0 <= mip_gap < 1.0:
        raise InputError("mip-gap out of range", expected="a relative gap in [0, 1)", found=mip_gap)
    if min_growth < 0 or (relative and min_growth > 1):
        raise InputError(
            "minimum growth out of range",
            expected="a fraction of wild-type growth in [0, 1]" if relative else ">= 0 1/h",
            found=min_growth,
        )
    check_reaction(model, target)
    biomass = objective_reaction(model)
    if target == biomass:
        raise ModelError("the target is the biomass reaction", found=target)
    lp = LinearProgram.from_model(model)
    wt = lp.optimize(label=model.id or "model").objective
    if wt <= 1e-9:
        raise ModelError(
            "the wild type does not grow on this medium", expected="growth > 0", found=wt
        )
    g_min = min_growth * wt if relative else min_growth
    if g_min > wt:
        raise InputError(
            "minimum growth above the wild type's maximum",
            expected=f"<= {wt:.4g} 1/h",
            found=g_min,
        )
    # A strictly positive floor keeps "no growth, forced production" designs out.
    g_min = max(g_min, 1e-6)
    _, wt_lo, wt_hi = production_at_max_growth(lp, target, biomass)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    blocked = list(blocked) if blocked is not None else blocked_reactions(lp)
    timings["blocked_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    comp = (
        compress(lp, blocked=blocked, representatives=[biomass, target])
        if lump
        else identity_compression(lp, blocked)
    )
    timings["compress_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cand = select_candidates(
        model,
        target,
        min_growth=g_min,
        require_gpr=require_gpr,
        reactions=candidates,
        lp=lp,
        lump=lump,
        compression=comp,
        exclude_subsystems=exclude_subsystems,
    )
    timings["candidates_s"] = time.perf_counter() - t0
    cands = cand.ids
    result = DesignResult(
        target, biomass, wt, (wt_lo, wt_hi), g_min, max_knockouts, cands, status="optimal"
    )
    result.candidate_counts = dict(cand.counts)
    result.timings = timings
    if target not in comp.group_of:
        result.status = "target blocked"
    elif not cands:
        result.status = "no candidates"
    if result.status != "optimal":
        result.seconds = time.perf_counter() - t_start
        return result
    clp = comp.lp
    units = [
        sorted(
            {
                clp.index[comp.members[comp.group_of[r]][0]]
                for r in cand.units[c]
                if r in comp.group_of
            }
        )
        for c in cands
    ]
    if method == "search":
        _search(result, lp, clp, comp, cand, units, model, target, biomass, max_knockouts,
                g_min, time_limit, tilt)  # fmt: skip
        timings["search_s"] = result.designs[0].solve_seconds if result.designs else 0.0
        result.seconds = time.perf_counter() - t_start
        return result
    milp = _OptKnockMilp(
        clp,
        comp.members[comp.group_of[target]][0],
        comp.members[comp.group_of[biomass]][0],
        cands,
        units,
        max_knockouts=max_knockouts,
        min_growth=g_min,
        tilt=tilt,
        big_m=big_m,
    )
    result.milp_size = milp.size
    tries = max_tries if max_tries is not None else 3 * n_designs
    seen: set[frozenset[str]] = set()
    t_milp = 0.0
    for _ in range(tries):
        sol, knocked = milp.solve(time_limit, mip_gap)
        t_milp += sol.seconds
        if sol.x is None:
            result.status = sol.status
            break
        if sol.status != "optimal":
            result.status = sol.status
        if sol.objective <= PRODUCTION_TOL:
            # only a proved optimum says that no coupled design is left
            result.status = "no further coupled design" if sol.status == "optimal" else sol.status
            break
        pruned, (mu, lo, hi) = _prune(lp, target, biomass, knocked, g_min, cand.units)
        milp.exclude(pruned if pruned else knocked)
        key = frozenset(pruned)
        if key in seen:
            continue
        seen.add(key)
        design = KnockoutDesign(
            tuple(pruned),
            mu,
            lo,
            hi,
            sol.objective,
            sol.seconds,
            milp_knockouts=tuple(knocked),
            milp_status=sol.status,
            milp_gap=sol.gap,
            coupled_alternatives={r: list(cand.coupled.get(r, [])) for r in pruned},
        )
        if not design.coupled or mu < g_min - 1e-9:
            continue
        genes, extra = gene_knockouts(model, pruned, cand.coupled)
        design.genes, design.gene_side_effects = genes, extra
        if genes is not None:
            removed = [r for x in pruned for r in cand.units[x]]
            design.gene_min_production = (
                lo
                if not extra
                else production_at_max_growth(lp, target, biomass, removed + list(extra))[1]
            )
        result.designs.append(design)
        if len(result.designs) >= n_designs:
            break
    timings["milp_s"] = t_milp
    result.designs.sort(key=lambda d: -d.min_production)
    result.seconds = time.perf_counter() - t_start
    return result


def _search(
    result: DesignResult,
    lp: LinearProgram,
    clp: LinearProgram,
    comp: Compression,
    cand: Candidates,
    units: list[list[int]],
    model: cobra.Model,
    target: str,
    biomass: str,
    max_knockouts: int,
    g_min: float,
    time_limit: float,
    tilt: float,
) -> None:
    """Run :class:`_SupportSearch` and record its design, verified on the uncompressed model."""
    search = _SupportSearch(
        clp,
        comp.members[comp.group_of[target]][0],
        comp.members[comp.group_of[biomass]][0],
        cand.ids,
        units,
        max_knockouts=max_knockouts,
        min_growth=g_min,
        tilt=tilt,
    )
    status, best, knocked, seconds = search.run(time_limit)
    result.status = status
    result.milp_size = {"search_nodes": search.nodes, "binaries": len(cand.ids)}
    if not knocked or best <= PRODUCTION_TOL:
        result.status = "no coupled design" if status == "optimal" else status
        return
    pruned, (mu, lo, hi) = _prune(lp, target, biomass, knocked, g_min, cand.units)
    design = KnockoutDesign(
        tuple(pruned),
        mu,
        lo,
        hi,
        best,
        seconds,
        milp_knockouts=tuple(knocked),
        milp_status=status,
        milp_gap=0.0 if status == "optimal" else float("nan"),
        coupled_alternatives={r: list(cand.coupled.get(r, [])) for r in pruned},
    )
    if not design.coupled:
        return
    genes, extra = gene_knockouts(model, pruned, cand.coupled)
    design.genes, design.gene_side_effects = genes, extra
    if genes is not None:
        removed = [r for x in pruned for r in cand.units[x]]
        design.gene_min_production = (
            lo
            if not extra
            else production_at_max_growth(lp, target, biomass, removed + list(extra))[1]
        )
    result.designs.append(design)
