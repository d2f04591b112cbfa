"""Reagent consumption and cost: per plate (with source dead volume) and per reaction.

Prices come from the stock table's ``price`` column, in currency per µL of
*stock* (water is free). Two numbers answer two questions:

* :func:`plate_cost` — what building a plate consumes: every µL dispensed plus
  the dead volume left in the source wells (each plate loaded from its own
  source plate, the conservative case).
* :func:`reaction_cost` — the marginal cost of one reaction of a composition,
  no dead volume: the second objective ("cost", minimise) of a yield-vs-cost
  campaign.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from biofab.cellfree.picklist import SourcePlate, _source, source_plate_map
from biofab.cellfree.stocks import WATER, Dispenser, StockTable, check_volume, steps
from biofab.core import InputError, Objective

COST_COLUMNS = [
    "plate",
    "component",
    "reactions",
    "dispensed_ul",
    "dead_ul",
    "consumed_ul",
    "price_per_ul",
    "cost",
    "cost_per_reaction",
]


def _price(stocks: StockTable, component: str) -> float:
    if component == WATER:
        return 0.0
    if component not in stocks:
        raise InputError(
            "transfers name a component missing from the stock table",
            column="component",
            expected=f"one of {[*stocks.names, WATER]}",
            found=component,
        )
    return stocks[component].price


def plate_cost(
    transfers: pd.DataFrame,
    stocks: StockTable,
    source: str | SourcePlate | None = "384PP",
    *,
    overage: float = 0.0,
    droplet_nl: float = 2.5,
) -> pd.DataFrame:
    """Consumption and cost of each component on each plate.

    One row per (plate, component): ``reactions`` (filled wells on the plate),
    ``dispensed_ul`` (sum of transfers, µL of stock), ``dead_ul`` (source wells
    used x the plate type's dead volume, plus ``overage``; 0 when ``source`` is
    None), ``consumed_ul`` (their sum), ``price_per_ul``, ``cost`` and
    ``cost_per_reaction`` (currency of the stock table). :func:`plate_totals`
    sums them per plate.
    """
    plate = None if source is None else _source(source)
    rows = []
    for name, sub in transfers.groupby("plate", sort=False):
        reactions = int(sub["destination_well"].nunique())
        dispensed = sub.groupby("component", sort=False)["volume_nl"].sum() / 1000.0
        dead = pd.Series(0.0, index=dispensed.index)
        if plate is not None:
            smap = source_plate_map(
                sub, plate, max_plates=10**6, overage=overage, droplet_nl=droplet_nl
            )
            dead = (smap["fill_ul"] - smap["draw_ul"]).groupby(smap["component"]).sum()
        for component, used in dispensed.items():
            price = _price(stocks, str(component))
            lost = float(dead.get(component, 0.0))
            total = float(used) + lost
            rows.append(
                {
                    "plate": str(name),
                    "component": str(component),
                    "reactions": reactions,
                    "dispensed_ul": round(float(used), 6),
                    "dead_ul": round(lost, 6),
                    "consumed_ul": round(total, 6),
                    "price_per_ul": price,
                    "cost": total * price,
                    "cost_per_reaction": total * price / reactions,
                }
            )
    return pd.DataFrame(rows, columns=COST_COLUMNS)


def plate_totals(costs: pd.DataFrame) -> pd.DataFrame:
    """Per plate: ``reactions``, ``cost`` and ``cost_per_reaction`` (currency)."""
    grouped = costs.groupby("plate", sort=False)
    out = pd.DataFrame({"reactions": grouped["reactions"].first(), "cost": grouped["cost"].sum()})
    out["cost_per_reaction"] = out["cost"] / out["reactions"]
    return out.reset_index()


def reaction_cost(
    designs: pd.DataFrame,
    stocks: StockTable,
    volume_ul: float = 10.0,
    dispenser: Dispenser | None = None,
) -> pd.Series:
    """Cost of one ``volume_ul`` µL reaction of each design (currency per reaction).

    ``sum_i c_i / stock_i * volume_ul * price_i`` over varied components (the
    design's columns) and fixed ones (the table's ``fixed``); water is free.
    With a ``dispenser`` each volume is first rounded to whole steps. Returns a
    Series named ``cost`` aligned with ``designs``.
    """
    if dispenser is not None:
        check_volume(volume_ul, dispenser)
    total = np.zeros(len(designs))
    for s in stocks:
        if s.varied:
            if s.component not in designs.columns:
                raise InputError("designs miss a component column", column=s.component)
            conc = pd.to_numeric(designs[s.component], errors="coerce").to_numpy(dtype=float)
            if not np.isfinite(conc).all():
                i = int(np.argmin(np.isfinite(conc)))
                raise InputError(
                    "not a number",
                    row=i + 1,
                    column=s.component,
                    found=designs[s.component].iloc[i],
                )
        else:
            conc = np.full(len(designs), float(s.fixed))  # type: ignore[arg-type]
        vol = s.volume_ul(conc, volume_ul)
        if dispenser is not None:
            vol = steps(vol, dispenser) * dispenser.step_ul
        total += vol * s.price
    return pd.Series(total, index=designs.index, name="cost")


def cost_objective(stocks: StockTable) -> Objective:
    """The ``cost`` objective (minimise, currency per reaction) for yield-vs-cost runs."""
    return Objective("cost", direction="min", unit=f"{stocks.currency}/reaction")
