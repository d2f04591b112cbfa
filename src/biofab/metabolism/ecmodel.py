"""Enzyme-constrained models (sMOMENT / GECKO) on COBRApy models.

An enzyme catalysing flux ``v`` (mmol/gDW/h) with turnover ``kcat`` (1/s) must
be present at ``v / (3600 kcat)`` mmol/gDW, i.e. ``v * MW / (3600 kcat * 1000)``
g/gDW for a molecular weight MW in g/mol. All enzymes share a protein pool:

    sum_i  v_i * MW_i / (3600 * 1000 * kcat_i)  <=  P      (g/gDW)

where ``P = P_total * f * sigma`` is the effective mass of metabolic enzymes
(total protein x mass fraction of the model's enzymes x average saturation)
(GECKO: Sanchez et al. 2017, Mol Syst Biol 13:935; sMOMENT: Bekiaris & Klamt
2020, BMC Bioinformatics 21:19). As in sMOMENT the constraint is one
pseudo-metabolite, ``prot_pool``, produced by ``prot_pool_exchange`` (bounds
``[0, P]``) and consumed by every enzymatic reaction with coefficient
``MW/(3.6e6 kcat)``, so the result is an ordinary COBRApy model that exports to
SBML and that any FBA tool can solve.

GPRs are read as in sMOMENT: a complex (AND) weighs the sum of its subunits'
MWs (one copy of each); among isoenzymes (OR) the reaction is charged the
cheapest one, ``min MW/kcat``. A reversible enzymatic reaction is split into
itself (forward, ``lb >= 0``) and ``<id>_REV`` (backward) so that each
direction pays for its enzyme. Measured abundances cap individual enzymes: a
measured gene ``g`` becomes a pseudo-metabolite ``prot_<g>`` supplied by
``draw_prot_<g>`` (bounds ``[0, abundance]`` mmol/gDW) and consumed by the
reactions whose charged enzyme contains it (coefficient ``1/(3600 kcat)``).
"""

from __future__ import annotations

import ast
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from biofab.core.errors import InputError, ModelError
from biofab.metabolism.kcats import SPONTANEOUS_GENES, validate_kcat_table
from biofab.metabolism.lp import LinearProgram

if TYPE_CHECKING:
    import cobra
    import pandas as pd
    import plotly.graph_objects as go

POOL_ID = "prot_pool"
POOL_REACTION = "prot_pool_exchange"
REV_SUFFIX = "_REV"
SECONDS_PER_HOUR = 3600.0
# Effective enzyme pool P = P_total * f * sigma, g/gDW. sMOMENT's iJO1366 value
# (Bekiaris & Klamt 2020) is 0.095; GECKO uses P_total 0.56 g/gDW for E. coli
# with f ~ 0.4-0.5 and sigma ~ 0.5. See DEFAULT_POOL_NOTE for the choice.
DEFAULT_POOL = 0.095
# Median MW of the E. coli K-12 MG1655 proteome (g/mol), used for genes without a
# sequence when no proteome is given.
DEFAULT_PROTEIN_MW = 32_000.0
MAX_COMPLEXES = 256  # cap on a GPR's expansion into isoenzymes (OR of ANDs)


# -- GPRs -----------------------------------------------------------------------
def gpr_complexes(reaction: cobra.Reaction) -> list[frozenset[str]]:
    """The isoenzymes of ``reaction``: its GPR in disjunctive normal form.

    ``(a and b) or c`` -> ``[{a, b}, {c}]``. Spontaneous genes (``s0001``) are
    dropped; a reaction without protein genes gives ``[]``.
    """
    gpr = getattr(reaction, "gpr", None)
    body = getattr(gpr, "body", None)
    if body is None:
        return []

    def dnf(node: ast.AST) -> list[frozenset[str]]:
        if isinstance(node, ast.Name):
            return [frozenset({node.id})]
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            terms: list[frozenset[str]] = []
            for v in node.values:
                terms += dnf(v)
            return terms
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            parts = [dnf(v) for v in node.values]
            out = [frozenset().union(*combo) for combo in itertools.product(*parts)]
            if len(out) > MAX_COMPLEXES:
                raise ModelError("GPR too large to expand", found=reaction.id)
            return out
        raise ModelError("unreadable GPR", found=f"{reaction.id}: {reaction.gene_reaction_rule}")

    seen: list[frozenset[str]] = []
    for cx in dnf(body):
        cx = cx - SPONTANEOUS_GENES
        if cx and cx not in seen:
            seen.append(cx)
    return seen


# -- enzyme costs ---------------------------------------------------------------
def reaction_costs(
    model: cobra.Model,
    kcats: pd.DataFrame | Mapping[str, float],
    mw: Mapping[str, float] | None = None,
    *,
    default_mw: float | None = None,
    default_kcat: float | None = None,
    default_log10_std: float = 0.0,
) -> pd.DataFrame:
    """Enzyme cost of each enzymatic reaction of ``model``.

    Parameters
    ----------
    kcats : kcat table (columns ``reaction``, ``kcat`` in 1/s, optional
        ``gene`` for isoenzyme-specific values and ``log10_std``) or a mapping
        reaction id -> kcat (1/s).
    mw : gene id -> molecular weight, g/mol. Genes missing from it take
        ``default_mw`` (the median of ``mw``, else :data:`DEFAULT_PROTEIN_MW`).
    default_kcat : kcat (1/s) for enzymatic reactions absent from the table
        (default: the table's median; their ``source`` is ``"default"``).
    default_log10_std : uncertainty when the table has no ``log10_std``.

    Returns
    -------
    DataFrame, one row per enzymatic reaction: ``reaction``, ``enzyme`` (genes
    of the charged isoenzyme joined by ``+``), ``n_isoenzymes``, ``kcat`` (1/s),
    ``mw`` (g/mol), ``cost`` (g/gDW per mmol/gDW/h = MW / (3.6e6 kcat)),
    ``log10_std``, ``source``.
    """
    import pandas as pd

    table = (
        kcats
        if isinstance(kcats, pd.DataFrame)
        else pd.DataFrame({"reaction": list(kcats), "kcat": [float(v) for v in kcats.values()]})
    )
    table = validate_kcat_table(table, label="kcat table")
    unknown = sorted(set(table["reaction"]) - {r.id for r in model.reactions})
    if unknown:
        raise InputError(
            "kcat table names reactions the model lacks",
            column="reaction",
            found=", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else ""),
        )
    mw = dict(mw or {})
    if default_mw is None:
        default_mw = float(np.median(list(mw.values()))) if mw else DEFAULT_PROTEIN_MW
    if default_kcat is None:
        default_kcat = float(np.median(table["kcat"]))
    has_gene = "gene" in table.columns
    has_std = "log10_std" in table.columns
    per_rxn: dict[str, dict[str, Any]] = {}
    per_gene: dict[tuple[str, str], float] = {}
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in table.to_dict("records")
    ]
    for rec in records:
        gene = rec.get("gene") if has_gene else None
        rid = str(rec["reaction"])
        if isinstance(gene, str) and gene:
            per_gene[(rid, gene)] = float(rec["kcat"])
            per_rxn.setdefault(rid, rec)
        else:
            per_rxn[rid] = rec

    rows = []
    for rxn in model.reactions:
        complexes = gpr_complexes(rxn)
        if not complexes:
            continue
        entry = per_rxn.get(rxn.id)
        base = float(entry["kcat"]) if entry else default_kcat
        best: tuple[float, float, float, frozenset[str]] | None = None
        for cx in complexes:
            specific = [per_gene[(rxn.id, g)] for g in cx if (rxn.id, g) in per_gene]
            kcat = max(specific) if specific else base
            weight = sum(mw.get(g, default_mw) for g in cx)
            cost = weight / (SECONDS_PER_HOUR * 1000.0 * kcat)
            if best is None or cost < best[0]:
                best = (cost, kcat, weight, cx)
        assert best is not None
        cost, kcat, weight, cx = best
        std = entry.get("log10_std") if (entry and has_std) else None
        source = entry.get("source") if entry else "default"
        rows.append(
            {
                "reaction": rxn.id,
                "enzyme": "+".join(sorted(cx)),
                "n_isoenzymes": len(complexes),
                "kcat": kcat,
                "mw": weight,
                "cost": cost,
                "log10_std": float(std)
                if std is not None and math.isfinite(std)
                else default_log10_std,
                "source": source if isinstance(source, str) else "table",
            }
        )
    return pd.DataFrame(
        rows,
        columns=["reaction", "enzyme", "n_isoenzymes", "kcat", "mw", "cost", "log10_std", "source"],
    )


def read_proteomics(
    path: str | os.PathLike[str] | pd.DataFrame, mw: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Measured enzyme abundances as ``{gene: mmol/gDW}``.

    The table has a ``gene`` column and either ``mmol_per_gDW`` or ``g_per_gDW``
    (converted with ``mw``, g/mol). Missing or negative values raise
    :class:`InputError` naming the row.
    """
    import pandas as pd

    label = "proteomics" if isinstance(path, pd.DataFrame) else str(path)
    if isinstance(path, pd.DataFrame):
        df = path
    else:
        p = Path(path)
        if not p.exists():
            raise InputError("proteomics table not found", file=label)
        df = pd.read_csv(p, sep="\t" if p.suffix.lower() in (".tsv", ".tab") else ",")
    unit = next((c for c in ("mmol_per_gDW", "g_per_gDW") if c in df.columns), None)
    if "gene" not in df.columns or unit is None:
        raise InputError(
            "proteomics table lacks columns",
            file=label,
            expected="gene and mmol_per_gDW or g_per_gDW",
            found=", ".join(map(str, df.columns)),
        )
    values = pd.to_numeric(df[unit], errors="coerce")
    out = {}
    for row, (gene, val) in enumerate(zip(df["gene"], values, strict=True), start=1):
        if not isinstance(gene, str) or not gene:
            raise InputError("missing gene id", file=label, row=row, column="gene")
        if not math.isfinite(val) or val < 0:
            raise InputError(
                "missing or negative abundance",
                file=label,
                row=row,
                column=unit,
                expected="a number >= 0",
                found=df[unit].iloc[row - 1],
            )
        if unit == "g_per_gDW":
            if not mw or gene not in mw:
                raise InputError(
                    "no molecular weight for a gene given in g/gDW",
                    file=label,
                    row=row,
                    column="gene",
                    found=gene,
                )
            val = val / mw[gene] * 1000.0  # g/gDW -> mmol/gDW
        out[gene] = float(val)
    return out


# -- the ecModel ----------------------------------------------------------------
@dataclass
class ECModel:
    """An enzyme-constrained COBRApy model and the enzyme costs behind it.

    ``model`` is a new COBRApy model (the input is not touched); ``costs`` is
    :func:`reaction_costs`'s table; ``pool`` the enzyme pool, g/gDW.
    """

    model: cobra.Model
    costs: pd.DataFrame
    pool: float
    measured: dict[str, float] = field(default_factory=dict)

    def set_pool(self, pool: float) -> None:
        """Change the enzyme pool bound, g/gDW."""
        self.model.reactions.get_by_id(POOL_REACTION).upper_bound = float(pool)
        self.pool = float(pool)

    def lp(self) -> LinearProgram:
        """A HiGHS program of the ecModel (see :class:`LinearProgram`)."""
        return LinearProgram.from_model(self.model)

    def coverage(self) -> dict[str, int]:
        """How many enzymatic reactions took their kcat from each source."""
        return {str(k): int(v) for k, v in self.costs["source"].value_counts().items()}


def build_ec_model(
    model: cobra.Model,
    kcats: pd.DataFrame | Mapping[str, float],
    mw: Mapping[str, float] | None = None,
    *,
    pool: float = DEFAULT_POOL,
    proteomics: Mapping[str, float] | None = None,
    default_mw: float | None = None,
    default_kcat: float | None = None,
    default_log10_std: float = 0.0,
) -> ECModel:
    """The sMOMENT ecModel of ``model`` (a copy; ``model`` is unchanged).

    ``kcats``, ``mw``, the defaults: see :func:`reaction_costs`. ``pool`` is the
    effective enzyme pool ``P_total * f * sigma`` in g/gDW; ``proteomics`` maps
    genes to measured abundances in mmol/gDW (see :func:`read_proteomics`).
    """
    if not (pool > 0 and math.isfinite(pool)):
        raise InputError("enzyme pool must be positive", expected="g/gDW > 0", found=pool)
    costs = reaction_costs(
        model,
        kcats,
        mw,
        default_mw=default_mw,
        default_kcat=default_kcat,
        default_log10_std=default_log10_std,
    )
    measured = dict(proteomics or {})
    unknown = sorted(set(measured) - {g.id for g in model.genes})
    if unknown:
        raise InputError(
            "proteomics names genes the model lacks", column="gene", found=", ".join(unknown[:5])
        )
    # Edit the model's dict form and build the COBRApy model once: adding
    # metabolites reaction by reaction re-syncs the solver each time (a minute
    # on iJO1366 instead of a few seconds).
    from cobra.io import model_from_dict, model_to_dict

    data = model_to_dict(model)
    data["id"] = f"{model.id}_ec" if model.id else "ec_model"
    comps = list(data.get("compartments", {})) or ["c"]
    comp = "c" if "c" in comps else comps[0]
    data["metabolites"].append({"id": POOL_ID, "name": "enzyme pool (g/gDW)", "compartment": comp})
    for g in sorted(measured):
        data["metabolites"].append(
            {"id": f"prot_{g}", "name": f"enzyme {g} (mmol/gDW)", "compartment": comp}
        )
    new = [
        {
            "id": POOL_REACTION,
            "name": "enzyme pool supply (g/gDW)",
            "metabolites": {POOL_ID: 1.0},
            "lower_bound": 0.0,
            "upper_bound": float(pool),
            "gene_reaction_rule": "",
        }
    ]
    for g in sorted(measured):
        new.append(
            {
                "id": f"draw_prot_{g}",
                "name": f"measured enzyme {g} (mmol/gDW)",
                "metabolites": {f"prot_{g}": 1.0},
                "lower_bound": 0.0,
                "upper_bound": float(measured[g]),
                "gene_reaction_rule": "",
            }
        )
    by_id = {r["id"]: r for r in data["reactions"]}
    for rec in costs.itertuples(index=False):
        rid = str(rec.reaction)
        rd = by_id[rid]
        usage = {POOL_ID: -float(rec.cost)}  # type: ignore[arg-type]
        for g in str(rec.enzyme).split("+"):
            if g in measured:
                usage[f"prot_{g}"] = -1.0 / (SECONDS_PER_HOUR * float(rec.kcat))  # type: ignore[arg-type]
        lb, ub = float(rd["lower_bound"]), float(rd["upper_bound"])
        if lb < 0:
            rev = {k: v for k, v in rd.items() if k not in ("metabolites", "objective_coefficient")}
            rev.update(
                id=rid + REV_SUFFIX,
                name=f"{rd.get('name', '')} (reverse)".strip(),
                metabolites={**{m: -s for m, s in rd["metabolites"].items()}, **usage},
                lower_bound=max(-ub, 0.0),
                upper_bound=-lb,
            )
            if "objective_coefficient" in rd:
                rev["objective_coefficient"] = -rd["objective_coefficient"]
            new.append(rev)
            rd["lower_bound"], rd["upper_bound"] = 0.0, max(ub, 0.0)
        rd["metabolites"] = {**rd["metabolites"], **usage}
    data["reactions"].extend(new)
    ec = model_from_dict(data)
    return ECModel(ec, costs, float(pool), measured)


def net_flux(model: cobra.Model, fluxes: Mapping[str, float], reaction: str) -> float:
    """Net flux of an original reaction of an ecModel (forward less ``_REV``)."""
    return float(fluxes.get(reaction, 0.0)) - float(fluxes.get(reaction + REV_SUFFIX, 0.0))


# -- ensembles ------------------------------------------------------------------
def sample_kcat_factors(
    costs: pd.DataFrame, n: int, *, seed: int | None = 0, log10_std: float | None = None
) -> np.ndarray:
    """(n, n_reactions) multiplicative kcat factors ``10**z``, ``z ~ N(0, std)``.

    ``std`` is each reaction's ``log10_std`` (or ``log10_std`` for all): kcat is
    lognormal around the table's value.
    """
    rng = np.random.default_rng(seed)
    std = (
        costs["log10_std"].to_numpy(float) if log10_std is None else np.full(len(costs), log10_std)
    )
    return 10.0 ** (rng.standard_normal((n, len(costs))) * std)


class EnzymeLP:
    """The ecModel's :class:`LinearProgram` with its enzyme coefficients exposed.

    :meth:`member` gives the program of the same model with every kcat multiplied
    by a factor (an ensemble member) without rebuilding the COBRApy model.
    """

    def __init__(self, ec: ECModel) -> None:
        self.ec = ec
        self.lp = ec.lp()
        S = self.lp.S.tocoo()
        met_index = {m.id: i for i, m in enumerate(ec.model.metabolites)}
        enzyme_rows = {met_index[POOL_ID]} | {met_index[f"prot_{g}"] for g in ec.measured}
        pos = {r: k for k, r in enumerate(ec.costs["reaction"])}
        owner = np.full(len(self.lp.reaction_ids), -1)
        for j, rid in enumerate(self.lp.reaction_ids):
            base = rid[: -len(REV_SUFFIX)] if rid.endswith(REV_SUFFIX) else rid
            owner[j] = pos.get(rid, pos.get(base, -1))
        mask = np.array([i in enzyme_rows for i in S.row]) & (owner[S.col] >= 0)
        self._enz = (S.row[mask], S.col[mask], S.data[mask], owner[S.col[mask]])
        keep = ~mask
        self._base = sparse.csc_matrix((S.data[keep], (S.row[keep], S.col[keep])), shape=S.shape)

    def member(self, kcat_factor: np.ndarray) -> LinearProgram:
        """The program with kcat_i scaled by ``kcat_factor[i]`` (costs divided by it)."""
        rows, cols, vals, owner = self._enz
        scaled = vals / np.asarray(kcat_factor, dtype=float)[owner]
        S = self._base + sparse.csc_matrix((scaled, (rows, cols)), shape=self._base.shape)
        lp = self.lp
        member = LinearProgram(
            S, lp.lb, lp.ub, lp.c, lp.reaction_ids, sense=lp.sense, tolerance=lp.tolerance
        )
        for idx, val, lo, hi in lp.extra_rows:
            member.add_row(idx, val, lo, hi)
        return member


# -- uptake scans (overflow) ----------------------------------------------------
def _net_columns(lp: LinearProgram, reaction: str) -> tuple[list[int], list[float]]:
    if reaction not in lp.index:
        raise ModelError("unknown reaction", found=reaction, expected="a reaction of the model")
    idx, val = [lp.index[reaction]], [1.0]
    if reaction + REV_SUFFIX in lp.index:
        idx.append(lp.index[reaction + REV_SUFFIX])
        val.append(-1.0)
    return idx, val


def scan_uptake(
    lp: LinearProgram,
    uptakes: Sequence[float],
    *,
    substrate: str = "EX_glc__D_e",
    product: str = "EX_ac_e",
    growth_tolerance: float = 1e-6,
) -> pd.DataFrame:
    """Maximal growth and the least ``product`` secretion at it, per uptake cap.

    For each cap ``x`` (mmol/gDW/h) the substrate exchange's lower bound is set
    to ``-x``; growth (the LP's objective, 1/h) is maximised; then, with growth
    held at ``(1 - growth_tolerance)`` of that optimum, ``product``'s net
    exchange flux is minimised (the FVA minimum: secretion the model cannot
    avoid). Returns columns ``uptake_cap``, ``uptake`` (realised, at the
    least-product solution), ``growth`` and ``product``.
    """
    import pandas as pd

    s = lp.indices([substrate])[0]
    p_idx, p_val = _net_columns(lp, product)
    obj_idx = np.flatnonzero(lp.c)
    if len(obj_idx) == 0:
        raise ModelError("the model has no objective")
    c_prod = np.zeros(lp.n_reactions)
    c_prod[p_idx] = p_val
    old_lb, old_ub = lp.lb[s], lp.ub[s]
    rows = []
    with lp.row(obj_idx, lp.c[obj_idx], -math.inf, math.inf) as grow_row:
        for x in uptakes:
            lp.set_bounds([s], -float(x), old_ub)
            lp.set_row_bounds(grow_row, -math.inf, math.inf)
            sol = lp.solve()
            if not sol.ok:
                rows.append((x, math.nan, math.nan, math.nan))
                continue
            mu = sol.objective
            lp.set_row_bounds(grow_row, mu - growth_tolerance * max(abs(mu), 1.0), math.inf)
            with lp.objective(c_prod, "min"):
                low = lp.solve()
            f = low.fluxes if low.ok and low.fluxes is not None else sol.fluxes
            assert f is not None
            rows.append(
                (
                    float(x),
                    -float(f[s]),
                    float(mu),
                    float(low.objective) if low.ok else math.nan,
                )
            )
    lp.set_bounds([s], old_lb, old_ub)
    return pd.DataFrame(rows, columns=["uptake_cap", "uptake", "growth", "product"])


def overflow_threshold(
    lp: LinearProgram,
    *,
    substrate: str = "EX_glc__D_e",
    product: str = "EX_ac_e",
    low: float = 0.0,
    high: float = 20.0,
    min_product: float = 1e-3,
    tol: float = 0.01,
) -> dict[str, float]:
    """The substrate uptake cap at which ``product`` secretion begins (bisection).

    Onset is the least cap (mmol/gDW/h, to ``tol``) whose minimal secretion at
    maximal growth exceeds ``min_product`` mmol/gDW/h. Returns ``threshold``,
    ``uptake`` (realised uptake there) and ``growth`` (1/h) at onset; NaN when
    there is no onset below ``high``.
    """

    def at(x: float) -> tuple[float, float, float]:
        r = scan_uptake(lp, [x], substrate=substrate, product=product).iloc[0]
        return float(r["product"]), float(r["growth"]), float(r["uptake"])

    nan = {"threshold": math.nan, "growth": math.nan, "uptake": math.nan}
    if not at(high)[0] > min_product:
        return nan
    lo, hi = low, high
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if at(mid)[0] > min_product:
            hi = mid
        else:
            lo = mid
    _, mu, up = at(hi)
    return {"threshold": hi, "growth": mu, "uptake": up}


def _member_scan(
    args: tuple[EnzymeLP, np.ndarray, Sequence[float], str, str, tuple[float, float] | None],
) -> np.ndarray:
    elp, factor, uptakes, substrate, product, calibrate = args
    if calibrate is not None:
        target, cap = calibrate
        factor, _ = calibrate_factors(
            elp, target, start=factor, substrate=substrate, uptake_cap=cap
        )
    df = scan_uptake(elp.member(factor), uptakes, substrate=substrate, product=product)
    return df[["growth", "product", "uptake"]].to_numpy()


def ensemble_scan(
    ec: ECModel,
    uptakes: Sequence[float],
    n: int,
    *,
    seed: int | None = 0,
    log10_std: float | None = None,
    substrate: str = "EX_glc__D_e",
    product: str = "EX_ac_e",
    workers: int | None = 1,
    calibrate: tuple[float, float] | None = None,
) -> dict[str, np.ndarray]:
    """Uptake scans of ``n`` ecModels whose kcats are sampled (see :func:`sample_kcat_factors`).

    ``calibrate = (growth 1/h, substrate uptake cap mmol/gDW/h)`` re-calibrates every
    member (:func:`calibrate_factors`) as the point model was, so members agree on
    the measured growth and differ where the data leave them free.

    Returns arrays ``growth``, ``product`` and ``uptake`` of shape
    ``(n, len(uptakes))`` (1/h and mmol/gDW/h) and ``factors`` ``(n, n_enzymatic)``.
    ``workers > 1`` spreads members over :func:`biofab.compute.parallel_map`.
    """
    factors = sample_kcat_factors(ec.costs, n, seed=seed, log10_std=log10_std)
    elp = EnzymeLP(ec)
    items = [(elp, f, list(uptakes), substrate, product, calibrate) for f in factors]
    if workers == 1 or n <= 1:
        results = [_member_scan(it) for it in items]
    else:
        from biofab.compute import parallel_map

        results = list(parallel_map(_member_scan, items, workers=workers))
    stack = np.stack(results) if results else np.zeros((0, len(uptakes), 3))
    return {
        "growth": stack[..., 0],
        "product": stack[..., 1],
        "uptake": stack[..., 2],
        "factors": factors,
    }


def overflow_figure(
    plain: pd.DataFrame,
    ec: pd.DataFrame,
    ensemble: Mapping[str, np.ndarray] | None = None,
    *,
    product_label: str = "acetate",
) -> go.Figure:
    """Growth and product secretion against the substrate uptake cap: plain vs ecModel.

    ``plain`` and ``ec`` are :func:`scan_uptake` frames; ``ensemble`` (from
    :func:`ensemble_scan`) adds the 5-95 % band of the sampled ecModels.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("growth rate (1/h)", f"{product_label} secretion (mmol/gDW/h)"),
    )
    x = ec["uptake_cap"].to_numpy()
    colors = {"plain": "#7f8c8d", "ec": "#c0392b"}
    for col, key in ((1, "growth"), (2, "product")):
        if ensemble is not None and len(ensemble[key]):
            lo = np.nanpercentile(ensemble[key], 5, axis=0)
            hi = np.nanpercentile(ensemble[key], 95, axis=0)
            med = np.nanmedian(ensemble[key], axis=0)
            fig.add_trace(
                go.Scatter(
                    x=x, y=hi, line={"width": 0}, mode="lines", showlegend=False, hoverinfo="skip"
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=lo,
                    fill="tonexty",
                    line={"width": 0},
                    mode="lines",
                    fillcolor="rgba(192,57,43,0.18)",
                    name=f"ensemble 5-95 % (n={len(ensemble[key])})",
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=med,
                    line={"color": colors["ec"], "dash": "dot"},
                    name="ensemble median",
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
        fig.add_trace(
            go.Scatter(
                x=plain["uptake_cap"],
                y=plain[key],
                name="plain model",
                line={"color": colors["plain"], "dash": "dash"},
                showlegend=col == 1,
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=ec[key],
                name="ecModel",
                mode="lines+markers",
                line={"color": colors["ec"]},
                showlegend=col == 1,
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="glucose uptake cap (mmol/gDW/h)", row=1, col=col)
    fig.update_layout(template="plotly_white", legend={"orientation": "h", "y": -0.2})
    return fig


# -- calibration ----------------------------------------------------------------
def calibrate_kcats(
    ec: ECModel,
    target_growth: float,
    *,
    substrate: str = "EX_glc__D_e",
    uptake_cap: float | None = None,
    factor: float = 10.0,
    share: float = 0.02,
    max_raises: int = 2,
    max_rounds: int = 100,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """GECKO-style correction of the kcats that limit growth below a measured rate.

    In vitro kcats (and kcats borrowed from other organisms or substrates) are
    often far below the enzymes' in vivo turnover, so an ecModel can grow much
    slower than the organism. GECKO (Sanchez et al. 2017; automated in GECKO 2,
    Domenzain et al. 2022, Nat Commun 13:3766) raises the kcats of the enzymes
    that take the largest share of the pool until the model reaches the
    measured maximal growth rate. Here each round raises, by ``factor``, the
    kcat of every reaction using more than ``share`` of the pool at maximal
    growth (at least the top one); each kcat is raised at most ``max_raises``
    times (so by at most ``factor ** max_raises``).

    ``uptake_cap`` (mmol/gDW/h) caps the substrate during calibration (default:
    the model's bound). Returns the kcat factors (one per row of ``ec.costs``)
    and a log of the rounds (growth before the round and the reactions raised).
    """
    return calibrate_factors(
        EnzymeLP(ec),
        target_growth,
        substrate=substrate,
        uptake_cap=uptake_cap,
        factor=factor,
        share=share,
        max_raises=max_raises,
        max_rounds=max_rounds,
    )


def calibrate_factors(
    elp: EnzymeLP,
    target_growth: float,
    *,
    start: np.ndarray | None = None,
    substrate: str = "EX_glc__D_e",
    uptake_cap: float | None = None,
    factor: float = 10.0,
    share: float = 0.02,
    max_raises: int = 2,
    max_rounds: int = 100,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """:func:`calibrate_kcats` on a prepared :class:`EnzymeLP`, from kcat factors ``start``.

    An ensemble member (sampled factors) is calibrated the same way as the point
    model, so that each member reproduces the measured growth rate and the
    ensemble's spread shows what the kcat uncertainty leaves open (the onset of
    overflow), not the calibration it undoes.
    """
    ec = elp.ec
    factors = np.ones(len(ec.costs)) if start is None else np.array(start, dtype=float)
    raised = np.zeros(len(ec.costs), dtype=int)
    pos = {r: k for k, r in enumerate(ec.costs["reaction"])}
    cost = ec.costs["cost"].to_numpy(float)
    log: list[dict[str, Any]] = []
    for _ in range(max_rounds):
        lp = elp.member(factors)
        if uptake_cap is not None:
            s = lp.indices([substrate])[0]
            lp.set_bounds([s], -float(uptake_cap), lp.ub[s])
        sol = lp.optimize(label="ecModel calibration")
        assert sol.fluxes is not None
        if sol.objective >= target_growth:
            log.append({"growth": sol.objective, "raised": []})
            break
        use = np.zeros(len(cost))
        for j, rid in enumerate(lp.reaction_ids):
            base = rid[: -len(REV_SUFFIX)] if rid.endswith(REV_SUFFIX) else rid
            k = pos.get(base)
            if k is not None:
                use[k] += sol.fluxes[j] * cost[k] / factors[k]
        frac = use / max(use.sum(), 1e-12)
        frac[raised >= max_raises] = 0.0
        pick = np.flatnonzero(frac > share)
        if len(pick) == 0:
            if frac.max() <= 0:
                break
            pick = np.array([int(np.argmax(frac))])
        factors[pick] *= factor
        raised[pick] += 1
        log.append(
            {
                "growth": sol.objective,
                "raised": [str(ec.costs["reaction"].iat[int(k)]) for k in pick],
            }
        )
    return factors, log


def scale_kcats(table: pd.DataFrame, reactions: Sequence[str], factors: np.ndarray) -> pd.DataFrame:
    """``table`` with the kcats of ``reactions`` multiplied by ``factors``.

    The applied factor goes to a ``kcat_factor`` column (1 where unchanged), so a
    calibrated table says which values were corrected and by how much.
    """
    out = table.copy()
    fac = dict(zip(reactions, np.asarray(factors, dtype=float), strict=True))
    applied = out["reaction"].map(fac).fillna(1.0).to_numpy(float)
    prior = out["kcat_factor"].to_numpy(float) if "kcat_factor" in out.columns else 1.0
    out["kcat"] = out["kcat"].to_numpy(float) * applied
    out["kcat_factor"] = prior * applied
    return out
