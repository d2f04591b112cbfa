"""Measured designs: a campaign's measurements reduced to one record per design.

Plain Python over the store's rows, with no pandas, so that read commands
(``biofab campaign status``) start fast; :meth:`Campaign.data` wraps the same
records in a DataFrame, so there is one rule for replicates, not two.

Replicates: a design measured ``k`` times for an objective gets the mean of the
``k`` values and the standard deviation of that mean,
``sqrt(mean_i(std_i**2 / n_i) / k)``, where ``std_i`` is the reported standard
deviation of measurement ``i`` (same unit as the value) and ``n_i`` how many
replicates it summarises; measurements without a reported ``std`` are left out
of that mean (NaN when none has one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biofab.store import MeasurementRecord


@dataclass
class _Acc:
    params: Mapping[str, Any]
    round: int | None
    values: dict[str, list[float]] = field(default_factory=dict)
    variances: dict[str, list[float]] = field(default_factory=dict)


def measured_designs(
    records: Iterable[MeasurementRecord],
    parameters: Sequence[str],
    objectives: Sequence[str],
    numeric: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """One record per design, oldest design first.

    Keys: the parameters (``numeric`` ones as float), ``round`` (None for an
    imported design), ``design_id``, then per objective its value and
    ``<objective>_std``. A design lacking a value for an objective that some
    design has is left out (it is not yet measured); an objective that no
    design has is NaN throughout.
    """
    by_design: dict[int, _Acc] = {}
    seen: set[str] = set()
    for r in records:
        acc = by_design.get(r.design_id)
        if acc is None:
            acc = by_design[r.design_id] = _Acc(r.params, r.round)
        acc.values.setdefault(r.objective, []).append(float(r.value))
        if r.std is not None and not math.isnan(r.std):
            acc.variances.setdefault(r.objective, []).append(r.std**2 / r.n_replicates)
        seen.add(r.objective)
    needed = [o for o in objectives if o in seen]
    as_float = set(numeric)
    out: list[dict[str, Any]] = []
    for design_id in sorted(by_design):
        acc = by_design[design_id]
        if any(o not in acc.values for o in needed):
            continue
        row: dict[str, Any] = {
            p: float(acc.params[p]) if p in as_float else acc.params.get(p) for p in parameters
        }
        row["round"] = acc.round
        row["design_id"] = design_id
        for o in objectives:
            vals = acc.values.get(o)
            row[o] = math.fsum(vals) / len(vals) if vals else math.nan
        for o in objectives:
            vals, var = acc.values.get(o), acc.variances.get(o)
            mean_var = math.fsum(var) / len(var) if var else math.nan
            row[f"{o}_std"] = math.sqrt(mean_var / len(vals)) if vals else math.nan
        out.append(row)
    return out


def column(rows: Sequence[Mapping[str, Any]], name: str) -> np.ndarray:
    """The float column ``name`` of ``rows``, shape ``(len(rows),)``."""
    return np.array([r[name] for r in rows], dtype=float)


def best_so_far(rounds: Sequence[int | None], scores: np.ndarray) -> list[dict[str, Any]]:
    """Per round (imported designs count as round 0): designs measured ``n``, best
    score ``best``, ``best_so_far`` and ``improvement`` (best-so-far over the first
    round's best; NaN unless that best is positive)."""
    per: dict[int, list[float]] = {}
    for rnd, s in zip(rounds, scores, strict=True):
        per.setdefault(0 if rnd is None else int(rnd), []).append(float(s))
    out: list[dict[str, Any]] = []
    running = -math.inf
    first: float | None = None
    for rnd in sorted(per):
        finite = [s for s in per[rnd] if not math.isnan(s)]
        best = max(finite) if finite else math.nan
        running = max(running, best) if finite else running
        first = best if first is None else first
        out.append(
            {
                "round": rnd,
                "n": len(per[rnd]),
                "best": best,
                "best_so_far": running if running > -math.inf else math.nan,
                "improvement": running / first if first > 0 else math.nan,
            }
        )
    return out
