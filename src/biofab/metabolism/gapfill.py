"""Weighted gap-filling: the cheapest set of candidate reactions that lets a model grow.

Given a model that holds a draft's reactions *and* candidate reactions (e.g. the
template's), each candidate ``j`` with a cost ``c_j`` (for a draft, ``1 - score``),
:func:`gapfill` solves the mixed-integer program

    minimise    sum_j c_j y_j
    subject to  S v = 0
                lb_j y_j <= v_j <= ub_j y_j,  y_j in {0, 1}   (candidates)
                lb_i     <= v_i <= ub_i                       (draft reactions)
                v_biomass >= min_growth

on the medium given, with HiGHS (Huangfu & Hall 2018, Math Prog Comp 10:119).
This is the weighted form of the gap-filling MILP of Satish Kumar et al. 2007
(BMC Bioinformatics 8:212) that CarveMe uses with homology scores as weights
(Machado et al. 2018, Nucleic Acids Res 46:7542). Fluxes are mmol/gDW/h,
growth 1/h. The answer is checked with a plain LP afterwards: a solution that
grows only through the MILP's integrality tolerance is not accepted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from biofab.core.errors import ModelError
from biofab.metabolism.lp import LinearProgram, new_highs
from biofab.metabolism.media import Medium, apply_medium

if TYPE_CHECKING:
    import cobra
    import highspy

_BIG = 1000.0  # cap on |flux| for the big-M rows; COBRA's conventional "unbounded"
# Cap on a candidate's |flux| in the MILP (mmol/gDW/h): ten times a typical glucose
# uptake, ample for growth at ``min_growth`` (0.1 1/h), tight enough for a useful bound.
FLUX_CAP = 100.0


@dataclass
class GapfillResult:
    """Reactions added (ids), their total cost, and the growth (1/h) reached."""

    added: list[str]
    cost: float
    growth: float
    status: str
    costs: dict[str, float] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    gap: float = 0.0  # relative MIP gap at the end (0: proved optimal)
    goal: str = "growth"  # growth, uptake (targets: compounds) or connect (targets: reactions)


def gapfill(
    model: cobra.Model,
    candidates: Mapping[str, float],
    *,
    medium: Medium | None = None,
    min_growth: float = 0.1,
    time_limit: float = 120.0,
    label: str | None = None,
    flux_cap: float = FLUX_CAP,
) -> GapfillResult:
    """The cheapest candidates (by ``candidates[id]`` cost >= 0) that let ``model`` grow.

    ``model`` holds the draft and the candidate reactions; reactions not named in
    ``candidates`` are always available. The model's objective is the growth
    reaction; ``medium`` (if given) is applied for the search only. Raises
    :class:`ModelError` when even all candidates together cannot reach
    ``min_growth``. In the MILP a candidate carries at most ``flux_cap``
    mmol/gDW/h either way (see :func:`_milp`; if nothing grows within the cap, the
    MILP is solved again with 1000). ``gap`` of the result is the relative MIP gap
    left at ``time_limit`` s (0: proved optimal).
    """
    with model:
        if medium is not None:
            apply_medium(model, medium, strict=False, label=label)
        lp = LinearProgram.from_model(model)
    obj = np.flatnonzero(lp.c)
    if len(obj) != 1:
        raise ModelError("gap-filling needs one objective reaction", file=label, found=len(obj))
    cand = [lp.index[r] for r in candidates if r in lp.index]
    cost = np.array([max(float(candidates[lp.reaction_ids[j]]), 0.0) for j in cand])

    # Without any candidate the draft may already grow: nothing to add.
    with lp.bounds(cand, 0.0, 0.0):
        base = lp.solve()
    if base.ok and base.objective >= min_growth:
        return GapfillResult([], 0.0, base.objective, "optimal")
    full = lp.solve()
    if not full.ok or full.objective < min_growth:
        raise ModelError(
            "draft cannot grow even with every candidate reaction",
            file=label,
            expected=f"growth >= {min_growth} 1/h on the medium",
            found=round(full.objective, 6) if full.ok else full.status,
        )

    lb = np.clip(lp.lb, -_BIG, _BIG)
    ub = np.clip(lp.ub, -_BIG, _BIG)
    lb[obj[0]] = max(lb[obj[0]], min_growth)
    return _cheapest(
        lp, candidates, cand, cost, lb, ub, time_limit=time_limit, label=label, flux_cap=flux_cap
    )


def _feasible(lp: LinearProgram, lb: np.ndarray, ub: np.ndarray, closed: Sequence[int]) -> bool:
    """Whether ``S v = 0`` has a solution within ``lb``/``ub`` with ``closed`` at zero."""
    lo, hi = lb.copy(), ub.copy()
    lo[list(closed)] = 0.0
    hi[list(closed)] = 0.0
    old_lb, old_ub = lp.lb.copy(), lp.ub.copy()
    allidx = np.arange(lp.n_reactions, dtype=np.int32)
    lp.set_bounds(allidx, lo, hi)
    try:
        return lp.solve().ok
    finally:
        lp.set_bounds(allidx, old_lb, old_ub)


def _milp(
    lp: LinearProgram,
    cand: list[int],
    cost: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    *,
    time_limit: float,
    flux_cap: float,
    rewards: Sequence[tuple[int, float]] = (),
    eps: float = 1e-3,
    rel_gap: float = 1e-4,
) -> tuple[highspy.Highs, str, float]:
    """Build and solve ``min sum c_j y_j - sum w_r z_r`` over ``S v = 0`` within
    ``lb``/``ub``; a closed candidate (``y_j = 0``) carries no flux, an open one at most
    ``flux_cap`` either way; ``z_r = 1`` (reward ``w_r``) asks reaction ``r`` to carry
    at least ``eps`` one way or the other (two binaries where it is reversible).

    Returns the solved HiGHS instance, its status word and the MIP gap. The cap is
    the big-M of the switching rows: a tight M makes the LP relaxation tight (with
    M = 1000, ``y_j >= v_j / 1000`` lets the relaxation open every candidate at almost
    no cost, so the bound stays near zero and the solver cannot prove optimality).
    Growth needs only ``min_growth`` (0.1 1/h), far below the cap's fluxes."""
    import highspy

    n, k = lp.n_reactions, len(cand)
    h = new_highs()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(rel_gap))
    h.setOptionValue("mip_feasibility_tolerance", 1e-9)
    h.setOptionValue("primal_feasibility_tolerance", 1e-9)
    inf = highspy.kHighsInf
    h.addVars(n, lb, ub)
    h.addVars(k, np.zeros(k), np.ones(k))
    zcols: list[tuple[int, int, float]] = []  # (reaction, sign, reward)
    for j, w in rewards:
        for sign in (1, -1):
            if (ub[j] if sign > 0 else -lb[j]) >= eps:
                zcols.append((j, sign, w))
    nz = len(zcols)
    h.addVars(nz, np.zeros(nz), np.ones(nz))
    nb = k + nz
    h.changeColsIntegrality(
        nb, np.arange(n, n + nb, dtype=np.int32), np.full(nb, highspy.HighsVarType.kInteger)
    )
    obj = np.concatenate([cost, -np.array([w for _, _, w in zcols], dtype=float)])
    h.changeColsCost(nb, np.arange(n, n + nb, dtype=np.int32), obj)
    S = lp.S.tocsr()
    m = S.shape[0]
    h.addRows(
        m, np.zeros(m), np.zeros(m), S.nnz, S.indptr[:-1].astype(np.int32),
        S.indices.astype(np.int32), S.data,
    )  # fmt: skip
    for t, j in enumerate(cand):
        y = n + t
        idx = np.array([j, y], dtype=np.int32)
        # v_j - U y_j <= 0 and v_j - L y_j >= 0: a closed candidate carries no flux.
        h.addRow(-inf, 0.0, 2, idx, np.array([1.0, -min(max(ub[j], 0.0), flux_cap)]))
        h.addRow(0.0, inf, 2, idx, np.array([1.0, -max(min(lb[j], 0.0), -flux_cap)]))
    for t, (j, sign, _) in enumerate(zcols):
        idx = np.array([j, n + k + t], dtype=np.int32)
        if sign > 0:  # z = 1 -> v_j >= eps; z = 0 -> v_j >= lb_j (no constraint)
            big = eps - lb[j]
            h.addRow(lb[j], inf, 2, idx, np.array([1.0, -big]))
        else:  # z = 1 -> v_j <= -eps
            big = ub[j] + eps
            h.addRow(-inf, ub[j], 2, idx, np.array([1.0, big]))
    for j, _ in rewards:  # one direction at a time
        both = [n + k + t for t, (jj, _, _) in enumerate(zcols) if jj == j]
        if len(both) == 2:
            h.addRow(-inf, 1.0, 2, np.array(both, dtype=np.int32), np.ones(2))
    h.changeObjectiveSense(highspy.ObjSense.kMinimize)
    h.run()
    status = h.modelStatusToString(h.getModelStatus()).lower()
    return h, status, float(h.getInfo().mip_gap)


def _cheapest(
    lp: LinearProgram,
    candidates: Mapping[str, float],
    cand: list[int],
    cost: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    *,
    time_limit: float,
    label: str | None,
    flux_cap: float = FLUX_CAP,
) -> GapfillResult:
    """The MILP shared by every gap-filling goal: the goal is encoded in ``lb``/``ub``
    (growth: a lower bound on biomass; uptake: an upper bound below zero on exchanges).
    Solved with candidate fluxes capped at ``flux_cap``; if that is infeasible, again
    with the conventional 1000."""
    h, status, gap = _milp(lp, cand, cost, lb, ub, time_limit=time_limit, flux_cap=flux_cap)
    if h.getInfo().primal_solution_status != 2 and flux_cap < _BIG:
        h, status, gap = _milp(lp, cand, cost, lb, ub, time_limit=time_limit, flux_cap=_BIG)
    if h.getInfo().primal_solution_status != 2:  # 2 = feasible point found
        raise ModelError("gap-filling found no solution", file=label, found=status)
    n, k = lp.n_reactions, len(cand)
    yv = np.asarray(h.getSolution().col_value[n : n + k], dtype=float)
    chosen = [cand[t] for t in np.flatnonzero(yv > 0.5)]
    # Confirm with an LP that the chosen set alone grows; add back any candidate
    # carrying flux in the MILP point if it does not (integrality leaks).
    if not _feasible(lp, lb, ub, sorted(set(cand) - set(chosen))):
        vv = np.asarray(h.getSolution().col_value[:n], dtype=float)
        chosen = sorted(set(chosen) | {j for j in cand if abs(vv[j]) > 1e-9})
    closed = sorted(set(cand) - set(chosen))
    with lp.bounds(closed, 0.0, 0.0):
        check = lp.solve()
    ids = [lp.reaction_ids[j] for j in chosen]
    costs = {r: float(candidates[r]) for r in ids}
    growth = check.objective if check.ok else float("nan")
    return GapfillResult(sorted(ids), float(sum(costs.values())), growth, status, costs, gap=gap)


def gapfill_media(
    model: cobra.Model,
    candidates: Mapping[str, float],
    media: Sequence[Medium],
    **kwargs: object,
) -> list[GapfillResult]:
    """Gap-fill on each medium in turn; what one medium adds is free for the next."""
    pending = dict(candidates)
    results = []
    for med in media:
        res = gapfill(model, pending, medium=med, **kwargs)  # type: ignore[arg-type]
        for r in res.added:
            pending.pop(r, None)
        results.append(res)
    return results


def _cytosol(model: cobra.Model) -> str | None:
    """The compartment holding most metabolites of the objective (growth) reaction."""
    counts: dict[str, int] = {}
    for rxn in model.reactions:
        if rxn.objective_coefficient:
            for met in rxn.metabolites:
                counts[met.compartment] = counts.get(met.compartment, 0) + 1
    return max(counts, key=lambda c: counts[c]) if counts else None


def gapfill_uptake(
    model: cobra.Model,
    candidates: Mapping[str, float],
    medium: Medium,
    *,
    min_uptake: float = 0.01,
    time_limit: float = 120.0,
    label: str | None = None,
    only: Collection[str] | None = None,
) -> GapfillResult:
    """The cheapest candidates that let ``model`` take up every compound of ``medium``
    (of ``only``, when given: the rest of the medium is background).

    A compound is *usable* when its exchange can run at an uptake of at least
    ``min_uptake`` mmol/gDW/h in steady state, its cytosolic form (same id in the
    growth reaction's compartment) being allowed to drain, so that "usable" means
    "can enter the cell" whether or not the compound is needed for growth.
    Compounds already usable, and those no candidate set can make usable (the
    template offers no route), are left alone; the rest are made usable together
    by the weighted MILP of :func:`gapfill` (one per compound if the joint problem
    fails). ``targets`` of the result lists the compounds made usable.
    """
    from biofab.metabolism.media import exchange_map

    cyto = _cytosol(model)
    exchanges = exchange_map(model)
    wanted = [c for c in medium.compounds if c in exchanges and (only is None or c in only)]
    with model:
        apply_medium(model, medium, strict=False, label=label)
        for c in wanted:
            met_id = f"{c}_{cyto}"
            if cyto and met_id in model.metabolites:
                model.add_boundary(model.metabolites.get_by_id(met_id), type="sink", lb=0.0)
        lp = LinearProgram.from_model(model)
    cand = [lp.index[r] for r in candidates if r in lp.index]
    cost = np.array([max(float(candidates[lp.reaction_ids[j]]), 0.0) for j in cand])
    lb = np.clip(lp.lb, -_BIG, _BIG)
    ub = np.clip(lp.ub, -_BIG, _BIG)
    todo: list[str] = []
    for c in wanted:
        j = lp.index[exchanges[c].id]
        if lb[j] > -min_uptake:  # the medium caps its uptake below the goal
            continue
        goal_ub = ub.copy()
        goal_ub[j] = -min_uptake
        if _feasible(lp, lb, goal_ub, cand):
            continue  # usable already
        if _feasible(lp, lb, goal_ub, []):
            todo.append(c)
    if not todo:
        return GapfillResult([], 0.0, float("nan"), "optimal", targets=[])
    goal_ub = ub.copy()
    goal_ub[[lp.index[exchanges[c].id] for c in todo]] = -min_uptake
    try:
        res = _cheapest(lp, candidates, cand, cost, lb, goal_ub, time_limit=time_limit, label=label)
    except ModelError:
        parts = []
        for c in todo:
            one = ub.copy()
            one[lp.index[exchanges[c].id]] = -min_uptake
            parts.append(
                _cheapest(lp, candidates, cand, cost, lb, one, time_limit=time_limit, label=label)
            )
        added = sorted({r for p in parts for r in p.added})
        costs = {r: float(candidates[r]) for r in added}
        res = GapfillResult(added, float(sum(costs.values())), float("nan"), "optimal", costs)
    res.targets = todo
    res.goal = "uptake"
    return res


def _can_carry(
    lp: LinearProgram, lb: np.ndarray, ub: np.ndarray, idx: Sequence[int], eps: float
) -> set[int]:
    """Of reactions ``idx``, those that can carry at least ``eps`` (either way) in some
    steady state within ``lb``/``ub``. One LP per reaction still unseen, each solution
    also marking every other reaction of ``idx`` it happens to use."""
    old_lb, old_ub = lp.lb.copy(), lp.ub.copy()
    allidx = np.arange(lp.n_reactions, dtype=np.int32)
    lp.set_bounds(allidx, lb, ub)
    todo = {int(j) for j in idx}
    seen: set[int] = set()
    arr = np.asarray(sorted(todo), dtype=np.int64)
    try:
        for j in sorted(todo):
            for sign in (1.0, -1.0):
                if j in seen or (ub[j] if sign > 0 else -lb[j]) < eps:
                    continue
                c = np.zeros(lp.n_reactions)
                c[j] = sign
                with lp.bounds([j], max(lb[j], -1.0), min(ub[j], 1.0)), lp.objective(c, "max"):
                    sol = lp.solve()
                if sol.ok and sol.fluxes is not None:
                    v = np.abs(sol.fluxes[arr])
                    seen |= {int(x) for x in arr[v >= eps * 0.999]}
    finally:
        lp.set_bounds(allidx, old_lb, old_ub)
    return seen


def gapfill_connect(
    model: cobra.Model,
    candidates: Mapping[str, float],
    rewards: Mapping[str, float],
    *,
    medium: Medium | None = None,
    eps: float = 1e-3,
    flux_cap: float = FLUX_CAP,
    time_limit: float = 600.0,
    rel_gap: float = 1e-4,
    label: str | None = None,
) -> GapfillResult:
    """Candidates worth adding so that reactions with evidence can carry flux.

    CarveMe carves its organism models from the universe by a MILP that maximises the
    summed scores of the reactions it keeps, each kept reaction carrying flux (at least
    ``eps``) in one steady state, reactions without evidence scoring negative (Machado
    et al. 2018, Nucleic Acids Res 46:7542). This is that objective restricted to what
    a draft lacks: ``rewards`` (reaction id -> score > 0) are draft reactions with
    evidence, ``candidates`` (id -> cost) the reactions that may be added; of the
    rewarded reactions that are *blocked* in the draft alone (no steady state through
    them), the MILP unblocks those whose rewards outweigh the cost of the candidates
    they need: ``min sum c_j y_j - sum w_r z_r``. A catabolic pathway found by homology
    whose transporter was not (transporters map worst: large families, specificity
    rarely conserved) gets the transporter; a lone dead-end reaction does not pull in
    a candidate costlier than its reward.

    ``medium`` (if given) bounds the exchanges; by default the model's own bounds
    (for a CarveMe universe: every exchange open, as CarveMe carves). The system is
    homogeneous then, so capping every flux at ``flux_cap`` loses nothing and keeps
    the relaxation tight. The search stops at a relative gap of ``rel_gap`` or after
    ``time_limit`` s (generous by default: a proved optimum is the same answer on a
    busy machine, a time-limited one is not; ``gap`` of the result says which).
    ``targets`` of the result lists the reactions unblocked.
    """
    with model:
        if medium is not None:
            apply_medium(model, medium, strict=False, label=label)
        lp = LinearProgram.from_model(model)
    c0 = np.zeros(lp.n_reactions)
    lp.set_objective(c0, "max")
    cand = [lp.index[r] for r in candidates if r in lp.index]
    cost = np.array([max(float(candidates[lp.reaction_ids[j]]), 0.0) for j in cand])
    # A forced flux (a maintenance lower bound) is a growth-time demand, not part of
    # "can this reaction carry flux": bounds are relaxed to include zero, which keeps
    # the system homogeneous (a cone), so the cap costs nothing.
    lb = np.clip(np.minimum(lp.lb, 0.0), -flux_cap, 0.0)
    ub = np.clip(np.maximum(lp.ub, 0.0), 0.0, flux_cap)
    want = [lp.index[r] for r, w in rewards.items() if r in lp.index and w > 0]
    closed_lb, closed_ub = lb.copy(), ub.copy()
    closed_lb[cand], closed_ub[cand] = 0.0, 0.0
    blocked = sorted(set(want) - _can_carry(lp, closed_lb, closed_ub, want, eps))
    reachable = sorted(_can_carry(lp, lb, ub, blocked, eps)) if blocked else []
    if not reachable:
        return GapfillResult([], 0.0, float("nan"), "optimal", targets=[], goal="connect")
    pairs = [(j, float(rewards[lp.reaction_ids[j]])) for j in reachable]
    h, status, gap = _milp(
        lp, cand, cost, lb, ub, time_limit=time_limit, flux_cap=flux_cap, rewards=pairs,
        eps=eps, rel_gap=rel_gap,
    )  # fmt: skip
    if h.getInfo().primal_solution_status != 2:
        raise ModelError("connecting the draft found no solution", file=label, found=status)
    n, k = lp.n_reactions, len(cand)
    col = np.asarray(h.getSolution().col_value, dtype=float)
    chosen = [cand[t] for t in np.flatnonzero(col[n : n + k] > 0.5)]
    v = col[:n]
    unblocked = [lp.reaction_ids[j] for j in reachable if abs(v[j]) >= eps * 0.999]
    ids = sorted(lp.reaction_ids[j] for j in chosen)
    costs = {r: float(candidates[r]) for r in ids}
    return GapfillResult(
        ids, float(sum(costs.values())), float("nan"), status, costs,
        targets=sorted(unblocked), gap=gap, goal="connect",
    )  # fmt: skip


def _formula_elements(met: cobra.Metabolite) -> dict[str, float]:
    """Atom counts of ``met``'s formula; empty when it has none or it cannot be parsed."""
    import warnings

    if not met.formula:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # COBRApy warns on odd formulas: "unknown" here
        try:
            return dict(met.elements or {})
        except Exception:  # any parse failure means "formula unknown"
            return {}


def catabolic_targets(
    model: cobra.Model,
    candidates: Mapping[str, float],
    medium: Medium,
    sources: Mapping[str, Sequence[str]],
    evidence: Collection[str],
    *,
    min_growth: float = 0.1,
    min_uptake: float = 0.01,
    label: str | None = None,
) -> list[str]:
    """Compounds the draft can catabolise but not import: the targets of
    :func:`gapfill_catabolic`.

    ``model`` holds the draft and the ``candidates`` (closed here: the draft alone is
    asked); ``medium`` is a defined medium and ``sources`` (element symbol, e.g.
    ``"C"``, -> compounds of ``medium``) its sources of each element. A compound ``x``
    with an exchange in ``model``, not in ``medium``, is a target when, in the draft:

    1. *evidence*: its cytosolic form (``x`` in the growth reaction's compartment) takes
       part in a non-transport reaction named in ``evidence`` (carried over by
       homology);
    2. *a route to biomass*: supplied in the cytosol at ``medium``'s uptake rate, it
       replaces ``medium``'s sources of some element it contains (C, N, P or S) with
       growth >= ``min_growth`` 1/h;
    3. *not the cell's own*: the draft cannot make it on ``medium`` (at
       ``min_uptake`` mmol/gDW/h or more). A degradation enzyme for a compound the
       cell makes anyway says nothing about uptake; one for a compound it cannot
       make exists for a compound that comes from outside.
    """
    from biofab.metabolism.media import exchange_map

    cyto = _cytosol(model)
    if cyto is None:
        return []
    exchanges = exchange_map(model)
    in_medium = set(medium.compounds)
    closed_ids = set(candidates)
    elements = {el: [c for c in cpds if c in exchanges] for el, cpds in sources.items()}
    picked: dict[str, tuple[cobra.Metabolite, dict[str, float]]] = {}
    for cpd in sorted(exchanges):
        met_id = f"{cpd}_{cyto}"
        if cpd in in_medium or met_id not in model.metabolites:
            continue
        met = model.metabolites.get_by_id(met_id)
        counts = _formula_elements(met)
        if not any(counts.get(el, 0) > 0 and elements.get(el) for el in elements):
            continue
        if any(
            r.id in evidence and r.id not in closed_ids and len(r.compartments) == 1
            for r in met.reactions
        ):
            picked[cpd] = (met, counts)
    if not picked:
        return []
    with model:
        apply_medium(model, medium, strict=False, label=label)
        sinks = {
            cpd: model.add_boundary(met, type="sink", reaction_id=f"SK_catabolic_{cpd}",
                                    lb=0.0, ub=0.0).id
            for cpd, (met, _) in picked.items()
        }  # fmt: skip
        lp = LinearProgram.from_model(model)
    growth_c = lp.c.copy()
    cand = [lp.index[r] for r in candidates if r in lp.index]
    lp.set_bounds(np.asarray(cand, dtype=np.int32), 0.0, 0.0)
    out = []
    for cpd, (_, counts) in picked.items():
        j = lp.index[sinks[cpd]]
        c = np.zeros(lp.n_reactions)
        c[j] = 1.0
        with lp.bounds([j], 0.0, _BIG), lp.objective(c, "max"):
            made = lp.solve()
        if made.ok and made.objective >= min_uptake:
            continue  # the cell makes it: no evidence that it comes from outside
        for el, src in elements.items():
            if counts.get(el, 0) <= 0 or not src:
                continue
            closed = lp.indices([exchanges[s].id for s in src])
            with (
                lp.bounds(closed, 0.0, lp.ub[closed]),
                lp.bounds([j], -medium.uptake, 0.0),
                lp.objective(growth_c, "max"),
            ):
                sol = lp.solve()
            if sol.ok and sol.objective >= min_growth:
                out.append(cpd)
                break
    return out


def gapfill_catabolic(
    model: cobra.Model,
    candidates: Mapping[str, float],
    medium: Medium,
    sources: Mapping[str, Sequence[str]],
    evidence: Collection[str],
    *,
    min_growth: float = 0.1,
    min_uptake: float = 0.01,
    time_limit: float = 120.0,
    label: str | None = None,
) -> GapfillResult:
    """The cheapest candidates that let the draft take up each compound it can
    catabolise by homology evidence but not import (:func:`catabolic_targets`).

    Catabolic genes and their uptake systems go together (sugar and polyol operons
    carry their transporters), but transporters are what homology maps worst: large
    paralogous families whose substrate specificity is rarely conserved. So a draft
    that carries a degradation route for a compound it cannot make, ending in
    biomass, gets the transporter that route implies; a compound without such a
    route gets nothing. The additions are chosen by the weighted MILP of
    :func:`gapfill_uptake` (targets made usable at >= ``min_uptake`` mmol/gDW/h
    together); ``targets`` of the result lists the compounds, ``goal`` is
    ``"catabolic"``.
    """
    todo = catabolic_targets(
        model, candidates, medium, sources, evidence, min_growth=min_growth,
        min_uptake=min_uptake, label=label,
    )  # fmt: skip
    if not todo:
        return GapfillResult([], 0.0, float("nan"), "optimal", targets=[], goal="catabolic")
    # The defined medium plus the targets, so that uptake may use what the medium offers
    # (protons for symport, ATP from its carbon source for ABC transport).
    res = gapfill_uptake(
        model, candidates, medium.plus(*todo), min_uptake=min_uptake, time_limit=time_limit,
        label=label, only=todo,
    )  # fmt: skip
    res.goal = "catabolic"
    return res
