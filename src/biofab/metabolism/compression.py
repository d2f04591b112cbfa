"""Network compression for strain design: blocked reactions out, coupled reactions lumped.

A knockout MILP pays for every reaction twice (a flux column and a dual row)
and for every candidate a binary. Two standard reductions shrink both without
changing the answer (Burgard et al. 2003, Biotechnol Bioeng 84:647; Gagneur &
Klamt 2004, BMC Bioinformatics 5:175; von Kamp & Klamt 2014, PLoS Comput Biol
10:e1003378; Schneider et al. 2022, Bioinformatics 38:4981, "StrainDesign"):

* **blocked reactions** (no steady-state flux on this medium, found by flux
  variability) are removed: deleting one changes nothing;
* **coupled reactions** are lumped: when every steady state of the unblocked
  network has ``v_i = r_i * v_j``, the two rows of a basis ``K`` of the null
  space of ``S`` are proportional, and the pair becomes one column ``u`` with
  ``v_i = r_i u`` and ``v_j = r_j u``. Deleting any member deletes the whole
  group, so one knockout candidate per group suffices and a design found on the
  compressed network maps back to any member (the cheapest gene deletion).

Coupling is read from ``S`` alone, so it holds under any flux bounds; bounds of
the members are intersected into the bounds of the lumped column. Fluxes are
in mmol/gDW/h.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from biofab.metabolism.lp import LinearProgram

#: A bound at or beyond this magnitude (mmol/gDW/h) stands for "unbounded"
#: (COBRA's convention); lumping keeps such bounds at exactly this value so the
#: design MILP still recognises them as non-binding.
INFINITY = 1000.0
#: Smallest flux (mmol/gDW/h) that counts as carried.
FLUX_TOL = 1e-9


def blocked_reactions(lp: LinearProgram) -> list[str]:
    """Reactions of ``lp`` that carry no flux in any steady state (flux variability).

    Every LP solution proves the reactions it uses unblocked, so only reactions
    not yet seen carrying flux get LPs of their own (maximise, then minimise),
    warm-started from the previous basis.
    """
    n = lp.n_reactions
    seen = np.zeros(n, dtype=bool)
    dead = dead_ends(lp.S, lp.lb, lp.ub)
    seen |= dead  # proven blocked already: no LP needed (they stay out of the result below)
    base = lp.solve()
    if base.ok and base.fluxes is not None:
        seen |= np.abs(base.fluxes) > FLUX_TOL
    # First push all unseen reactions at once (as FASTCC does, Vlassis et al.
    # 2014, PLoS Comput Biol 10:e1003424): each LP reveals many at a time.
    for sense, can in (("max", lp.ub > 0), ("min", lp.lb < 0)):
        while True:
            todo = ~seen & can
            if not todo.any():
                break
            with lp.objective(todo.astype(float), sense):
                s = lp.solve()
            if not (s.ok and s.fluxes is not None):
                break
            new = (np.abs(s.fluxes) > FLUX_TOL) & ~seen
            if not new.any():
                break
            seen |= new
    for j in range(n):
        for sense in ("max", "min"):
            if seen[j]:
                break
            if (sense == "max" and lp.ub[j] <= 0) or (sense == "min" and lp.lb[j] >= 0):
                continue
            e = np.zeros(n)
            e[j] = 1.0
            with lp.objective(e, sense):
                s = lp.solve()
            if s.ok and s.fluxes is not None:
                seen |= np.abs(s.fluxes) > FLUX_TOL
    return [r for r, s, d in zip(lp.reaction_ids, seen, dead, strict=True) if d or not s]


def dead_ends(S: sparse.spmatrix, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """Mask of reactions blocked by the network's structure alone.

    A metabolite that no open reaction can consume (or none can produce) forces
    every reaction touching it to zero; removing those may strand further
    metabolites, so this repeats until nothing changes (dead-end removal).
    """
    A = sparse.csr_matrix(S)
    lb, ub = np.asarray(lb, dtype=float), np.asarray(ub, dtype=float)
    closed = (lb >= 0) & (ub <= 0)
    while True:
        fwd = (ub > 0) & ~closed
        rev = (lb < 0) & ~closed
        pos = A.multiply(A > 0).tocsr()
        neg = -A.multiply(A < 0).tocsr()
        # production capacity per metabolite: positive entries forward, negative backward
        makes = pos @ fwd.astype(float) + neg @ rev.astype(float)
        takes = neg @ fwd.astype(float) + pos @ rev.astype(float)
        stuck = (makes == 0) | (takes == 0)
        touched = np.asarray(abs(A[stuck]).sum(axis=0)).ravel() > 0
        newly = touched & ~closed
        if not newly.any():
            return closed
        closed |= newly


def coupled_groups(S: sparse.spmatrix, *, tol: float = 1e-9) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of columns of ``S`` coupled in every steady state, with their ratios.

    Returns ``(columns, ratios)`` per group (singletons included, in column
    order of their first member): ``v[columns] = ratios * v[columns[0]]`` for
    every ``v`` with ``S v = 0``, so ``ratios[0] == 1``. Columns that are zero in
    every steady state (structurally blocked) come back as singletons.
    """
    from scipy.linalg import null_space

    A = np.asarray(sparse.csr_matrix(S).todense(), dtype=float)
    n = A.shape[1]
    K = null_space(A) if A.shape[0] else np.eye(n)
    norms = np.linalg.norm(K, axis=1)
    keys: dict[tuple[float, ...], list[int]] = {}
    singles: list[int] = []
    for i in range(n):
        if norms[i] < 1e-10:
            singles.append(i)
            continue
        row = K[i] / norms[i]
        lead = row[np.flatnonzero(np.abs(row) > 1e-6)[0]]
        row = row * np.sign(lead)
        keys.setdefault(tuple(np.round(row, 7)), []).append(i)
    groups: list[tuple[np.ndarray, np.ndarray]] = [(np.array([i]), np.ones(1)) for i in singles]
    for members in keys.values():
        # The rounded key only proposes a group; keep members whose rows really
        # are multiples of the first one's (a rounding tie never merges wrongly).
        rest = list(members)
        while rest:
            head, kept, ratios, left = rest[0], [rest[0]], [1.0], []
            k0 = K[head]
            for i in rest[1:]:
                r = float(K[i] @ k0 / (k0 @ k0))
                if np.linalg.norm(K[i] - r * k0) <= tol * max(1.0, norms[i]) * 1e3:
                    kept.append(i)
                    ratios.append(r)
                else:
                    left.append(i)
            groups.append((np.array(kept), np.array(ratios)))
            rest = left
    groups.sort(key=lambda g: int(g[0][0]))
    return groups


@dataclass
class Compression:
    """A compressed flux program and the map back to the original reactions.

    ``lp`` has one column per group of coupled unblocked reactions, named by
    its representative (the group's first member); ``members[k]`` and
    ``ratios[k]`` give the original reactions of column ``k``, whose fluxes are
    ``ratios[k] * u_k``. ``blocked`` lists the reactions removed.
    """

    lp: LinearProgram
    members: list[list[str]]
    ratios: list[np.ndarray]
    blocked: list[str]
    n_original: int
    group_of: dict[str, int] = field(default_factory=dict)

    @property
    def n_groups(self) -> int:
        return len(self.members)

    def expand(self, u: np.ndarray, reaction_ids: Sequence[str]) -> np.ndarray:
        """Original fluxes (in ``reaction_ids`` order) of compressed fluxes ``u``."""
        pos = {r: i for i, r in enumerate(reaction_ids)}
        v = np.zeros(len(reaction_ids))
        for k, (mem, rat) in enumerate(zip(self.members, self.ratios, strict=True)):
            for r, a in zip(mem, rat, strict=True):
                v[pos[r]] = a * u[k]
        return v


def _lumped_bounds(lb: np.ndarray, ub: np.ndarray, ratios: np.ndarray) -> tuple[float, float]:
    """Bounds on ``u`` from ``lb_i <= r_i u <= ub_i`` for every member.

    Infinite member bounds (``±INFINITY``) stay at exactly ``±INFINITY`` so the
    design MILP still treats them as non-binding.
    """
    lo, hi = -INFINITY, INFINITY
    for a, b, r in zip(lb, ub, ratios, strict=True):
        b_lo = -INFINITY if a <= -INFINITY else a / r if r > 0 else None
        b_hi = INFINITY if b >= INFINITY else b / r if r > 0 else None
        if r < 0:  # the inequality flips
            b_lo = -INFINITY if b >= INFINITY else b / r
            b_hi = INFINITY if a <= -INFINITY else a / r
        assert b_lo is not None and b_hi is not None
        lo, hi = max(lo, b_lo), min(hi, b_hi)
    return lo, hi


def compress(
    lp: LinearProgram,
    *,
    blocked: Sequence[str] | None = None,
    representatives: Sequence[str] = (),
) -> Compression:
    """Remove ``blocked`` reactions (default: :func:`blocked_reactions`) and lump coupled ones.

    ``representatives`` (e.g. the biomass and the target) name their group's
    column with ratio 1, so a bound or objective on them reads the same in the
    compressed program. An infeasible lumped bound (``lo > hi``) cannot occur
    for unblocked reactions; lumped bounds of members with different
    directions are intersected.
    """
    blocked = list(blocked) if blocked is not None else blocked_reactions(lp)
    out = set(blocked)
    keep = np.array([i for i, r in enumerate(lp.reaction_ids) if r not in out], dtype=int)
    S = lp.S.tocsc()[:, keep]
    groups = coupled_groups(S)
    prefer = set(representatives)
    members: list[list[str]] = []
    ratios: list[np.ndarray] = []
    cols, rows_c, vals = [], [], []
    lbs, ubs = [], []
    for k, (idx, rat) in enumerate(groups):
        orig = keep[idx]
        ids = [lp.reaction_ids[j] for j in orig]
        first = next((p for p, r in enumerate(ids) if r in prefer), 0)
        rat = rat / rat[first]
        order = [first] + [p for p in range(len(ids)) if p != first]
        ids = [ids[p] for p in order]
        rat = rat[order]
        orig = orig[order]
        members.append(ids)
        ratios.append(rat)
        lo, hi = _lumped_bounds(lp.lb[orig], lp.ub[orig], rat)
        lbs.append(lo)
        ubs.append(hi)
        for j, a in zip(orig, rat, strict=True):
            cols.append(k)
            rows_c.append(j)
            vals.append(a)
    n, g = lp.n_reactions, len(groups)
    C = sparse.csc_matrix((vals, (rows_c, cols)), shape=(n, g))
    Sc = (lp.S.tocsc() @ C).tocsr()
    Sc.data[np.abs(Sc.data) < 1e-9] = 0.0
    Sc.eliminate_zeros()
    used = np.flatnonzero(np.diff(Sc.indptr) > 0)  # metabolites still balanced by something
    Sc = Sc[used]
    c = C.T @ lp.c
    ids = [m[0] for m in members]
    small = LinearProgram(
        Sc, np.array(lbs), np.array(ubs), c, ids, sense=lp.sense, tolerance=lp.tolerance
    )
    for idx, val, lo_r, hi_r in lp.extra_rows:
        row = sparse.csr_matrix((val, (np.zeros(len(idx), dtype=int), idx)), shape=(1, n)) @ C
        row = row.tocoo()
        if row.nnz:
            small.add_row(row.col, row.data, lo_r, hi_r)
        elif lo_r > FLUX_TOL or hi_r < -FLUX_TOL:
            small.add_row([0], [0.0], lo_r, hi_r)  # an infeasible row stays infeasible
    group_of = {r: k for k, m in enumerate(members) for r in m}
    return Compression(small, members, ratios, blocked, n, group_of)


def identity_compression(lp: LinearProgram, blocked: Sequence[str] = ()) -> Compression:
    """No lumping: ``lp`` itself, one group per reaction (``blocked`` only recorded)."""
    members = [[r] for r in lp.reaction_ids]
    ratios = [np.ones(1) for _ in members]
    group_of = {r: k for k, r in enumerate(lp.reaction_ids)}
    return Compression(lp, members, ratios, list(blocked), lp.n_reactions, group_of)
