"""Minimal media: the fewest components, or the least total uptake, that still grow.

Among the exchanges the current medium opens for uptake, find either

* ``components``: the smallest set of compounds (a MILP with one binary per
  open uptake, ``uptake_j <= cap_j * z_j``, minimise ``sum z``), or
* ``flux``: the smallest summed uptake flux (an LP, ``u_j >= uptake_j``,
  minimise ``sum u``),

subject to growth of at least ``min_growth``. Both are what COBRApy's
``cobra.medium.minimal_medium`` computes (``minimize_components=True/False``),
here on HiGHS. Uptake is reported as a positive flux, mmol/gDW/h.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from biofab.core.errors import InputError, ModelError
from biofab.metabolism.design import objective_reaction, solve_milp
from biofab.metabolism.lp import LinearProgram

if TYPE_CHECKING:
    import cobra
    import pandas as pd


def minimal_medium(
    model: cobra.Model,
    min_growth: float = 0.1,
    *,
    relative: bool = True,
    minimize: str = "components",
    time_limit: float = 60.0,
) -> pd.Series:
    """Uptake fluxes (mmol/gDW/h, positive) of a minimal medium, by exchange id.

    ``min_growth`` is a fraction of the maximal growth on the current medium
    when ``relative`` (default 0.1 = 10 %), else an absolute rate in 1/h.
    ``minimize`` is ``components`` (fewest compounds, MILP) or ``flux``
    (least summed uptake, LP). Compounds only secreted are not listed.
    """
    import pandas as pd

    if minimize not in ("components", "flux"):
        raise InputError("unknown minimisation", expected="components or flux", found=minimize)
    biomass = objective_reaction(model)
    lp = LinearProgram.from_model(model)
    wt = lp.optimize(label=model.id or "model").objective
    g = min_growth * wt if relative else min_growth
    if g < 0 or g > wt + 1e-9 or (relative and min_growth > 1):
        raise InputError(
            "minimum growth out of range",
            expected=f"between 0 and the maximum, {wt:.4g} 1/h",
            found=min_growth,
        )
    # Uptake of exchange j is coef_j * v_j, coef its metabolite's coefficient
    # (-1 for "x_e <=>": a negative flux brings x in).
    open_ = []
    for rxn in model.exchanges:
        (coef,) = rxn.metabolites.values()
        cap = max(rxn.upper_bound * coef, rxn.lower_bound * coef)
        if cap > 1e-12:
            open_.append((lp.index[rxn.id], float(coef), float(cap), rxn.id))
    if not open_:
        raise ModelError("the medium opens no uptake", expected="at least one open exchange")
    n, m, k = lp.n_reactions, lp.S.shape[0], len(open_)
    col_lb = np.concatenate([lp.lb, np.zeros(k)])
    col_ub = np.concatenate([lp.ub, np.ones(k) if minimize == "components" else np.full(k, np.inf)])
    col_lb[lp.index[biomass]] = max(col_lb[lp.index[biomass]], g * (1 - 1e-9))
    # Row i: z_i * cap_i - uptake_i >= 0 (components) or u_i - uptake_i >= 0 (flux).
    rows, cols, vals = [], [], []
    for i, (j, coef, cap, _) in enumerate(open_):
        rows += [i, i]
        cols += [j, n + i]
        vals += [-coef, cap if minimize == "components" else 1.0]
    link = sparse.csr_matrix((vals, (rows, cols)), shape=(k, n + k))
    A = sparse.vstack([sparse.hstack([lp.S, sparse.csr_matrix((m, k))]), link])
    lo = np.concatenate([np.zeros(m), np.zeros(k)])
    hi = np.concatenate([np.zeros(m), np.full(k, np.inf)])
    c = np.concatenate([np.zeros(n), np.ones(k)])
    integer = np.zeros(n + k, dtype=bool)
    if minimize == "components":
        integer[n:] = True
    sol = solve_milp(
        c, col_lb, col_ub, A, lo, hi, integer, sense="min", time_limit=time_limit, mip_gap=0.0
    )
    if sol.x is None:
        raise ModelError(
            f"no minimal medium found ({sol.status})", expected="a model that grows on its medium"
        )
    uptake = {rid: coef * sol.x[j] for j, coef, _, rid in open_ if coef * sol.x[j] > 1e-9}
    return pd.Series(uptake, name="uptake", dtype=float).sort_index()
