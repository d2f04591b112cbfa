"""Build plans: the liquid transfers of a plate layout, an Echo picklist, a source plate.

:func:`transfers` turns a layout (final concentrations per well) into one row
per liquid transfer, each volume a whole number of dispenser steps, with water
topping every well up to the reaction volume. The Echo and Opentrons writers
both read that frame.

Order within each well: water first, then the varied components, then the fixed
ones (lysate last, so reactions start together once it lands).

Echo source plates (numbers from Beckman Coulter's public Echo Qualified
microplate specifications; the bottom of the working range is what the Echo
cannot draw, so it is used as the dead volume):

=======  ===================  ===============  ===========
key      Echo plate type      working volume   dead volume
=======  ===================  ===============  ===========
384PP    384PP_AQ_BP          15-65 µL         15 µL
384LDV   384LDV_AQ_B2         2.5-12 µL        2.5 µL
6RES     6RES_AQ_BP2          250-2800 µL      250 µL
=======  ===================  ===============  ===========
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biofab.cellfree.layout import well_order
from biofab.cellfree.stocks import (
    WATER,
    Dispenser,
    Echo,
    Opentrons,
    StockTable,
    check_volume,
    steps,
)
from biofab.core import InputError
from biofab.core.atomic import write_atomic

TRANSFER_COLUMNS = ["component", "plate", "destination_well", "volume_nl"]
ECHO_COLUMNS = [
    "Source Plate Name",
    "Source Well",
    "Destination Plate Name",
    "Destination Well",
    "Transfer Volume",
]
SOURCE_MAP_COLUMNS = [
    "source_plate",
    "source_well",
    "component",
    "fill_ul",
    "draw_ul",
    "dead_ul",
]


# -- transfers -----------------------------------------------------------------------
def transfers(
    layout: pd.DataFrame,
    stocks: StockTable,
    volume_ul: float = 10.0,
    dispenser: Dispenser | None = None,
) -> pd.DataFrame:
    """One row per transfer: ``component`` (or "water"), ``plate``,
    ``destination_well``, ``volume_nl`` (nL, a whole number of dispenser steps).

    Each volume is ``c / stock * volume_ul`` rounded to the nearest step (designs
    drawn from :func:`~biofab.cellfree.stocks.composition_space` need no rounding);
    water is ``volume_ul`` minus the rest, so every well sums to ``volume_ul``.
    Zero volumes are left out. Raises :class:`InputError` naming plate, well and
    component when a well overflows or, with a pipette, a volume lies between 0
    and the pipette's minimum.
    """
    dispenser = dispenser if dispenser is not None else Echo()
    check_volume(volume_ul, dispenser)
    for col in ("plate", "well"):
        if col not in layout.columns:
            raise InputError("layout misses a column", column=col, expected="plate, well, ...")
    for name in stocks.varied_names:
        if name not in layout.columns:
            raise InputError("layout misses a component column", column=name)
    n = len(layout)
    total = round(volume_ul / dispenser.step_ul)
    counts: dict[str, np.ndarray] = {}
    for s in stocks:
        if s.varied or s.component in layout.columns:
            conc = pd.to_numeric(layout[s.component], errors="coerce").to_numpy(dtype=float)
        else:
            conc = np.full(n, float(s.fixed))  # type: ignore[arg-type]
        bad = ~np.isfinite(conc) | (conc < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(
                "concentration must be a number >= 0",
                row=i + 1,
                column=s.component,
                found=layout[s.component].iloc[i],
            )
        counts[s.component] = steps(s.volume_ul(conc, volume_ul), dispenser)
    water = total - sum(counts.values(), np.zeros(n, dtype=np.int64))
    if (water < 0).any():
        i = int(np.argmin(water))
        used = (total - water[i]) * dispenser.step_ul
        raise InputError(
            f"plate {layout['plate'].iloc[i]} well {layout['well'].iloc[i]}: components need "
            f"{used:.4g} µL of the {volume_ul:g} µL reaction",
            row=i + 1,
        )
    order = [WATER, *stocks.varied_names, *stocks.fixed_names]
    counts[WATER] = water
    if isinstance(dispenser, Opentrons):
        k_min = round(dispenser.minimum_ul / dispenser.step_ul)
        for name in order:
            low = (counts[name] > 0) & (counts[name] < k_min)
            if low.any():
                i = int(np.argmax(low))
                raise InputError(
                    f"plate {layout['plate'].iloc[i]} well {layout['well'].iloc[i]}: "
                    f"{name} needs {counts[name][i] * dispenser.step_ul:.4g} µL, below the "
                    f"{dispenser.pipette} minimum of {dispenser.minimum_ul:g} µL",
                    row=i + 1,
                    column=name,
                )
    step_nl = dispenser.step_ul * 1000.0
    plates = layout["plate"].astype(str).to_numpy()
    wells = layout["well"].astype(str).to_numpy()
    frames = []
    for name in order:
        k = counts[name]
        keep = k > 0
        frames.append(
            pd.DataFrame(
                {
                    "component": name,
                    "plate": plates[keep],
                    "destination_well": wells[keep],
                    "volume_nl": np.round(k[keep] * step_nl, 6),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    return _sorted(out, order)


def _sorted(frame: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Plate by plate, component by component (``order``), wells row-major."""
    rank = {name: i for i, name in enumerate(order)}
    keys = pd.DataFrame(
        {
            "p": frame["plate"].str.extract(r"(\d+)$")[0].fillna(0).astype(int),
            "plate": frame["plate"],
            "c": frame["component"].map(rank),
            "w": well_order(frame["destination_well"]),
        }
    )
    idx = keys.sort_values(["p", "plate", "c", "w"], kind="stable").index
    return frame.loc[idx].reset_index(drop=True)[TRANSFER_COLUMNS]


# -- source plates ----------------------------------------------------------------------
@dataclass(frozen=True)
class SourcePlate:
    """An Echo source plate type: ``rows`` x ``cols`` wells, each filled between
    ``dead_ul`` (never drawn) and ``max_ul``."""

    echo_type: str
    rows: int
    cols: int
    dead_ul: float
    max_ul: float

    @property
    def wells(self) -> list[str]:
        return [
            f"{string.ascii_uppercase[r]}{c + 1}"
            for r in range(self.rows)
            for c in range(self.cols)
        ]

    @property
    def usable_ul(self) -> float:
        return self.max_ul - self.dead_ul


SOURCE_PLATES: dict[str, SourcePlate] = {
    "384PP": SourcePlate("384PP_AQ_BP", 16, 24, dead_ul=15.0, max_ul=65.0),
    "384LDV": SourcePlate("384LDV_AQ_B2", 16, 24, dead_ul=2.5, max_ul=12.0),
    "6RES": SourcePlate("6RES_AQ_BP2", 2, 3, dead_ul=250.0, max_ul=2800.0),
}


def _source(source: str | SourcePlate) -> SourcePlate:
    if isinstance(source, SourcePlate):
        return source
    plate = SOURCE_PLATES.get(source)
    if plate is None:
        raise InputError(
            "unknown source plate", expected=f"one of {sorted(SOURCE_PLATES)}", found=source
        )
    return plate


def _droplets(frame: pd.DataFrame, droplet_nl: float) -> np.ndarray:
    for col in TRANSFER_COLUMNS:
        if col not in frame.columns:
            raise InputError("transfers frame misses a column", column=col)
    vol = pd.to_numeric(frame["volume_nl"], errors="coerce").to_numpy(dtype=float)
    k = vol / droplet_nl
    bad = ~np.isfinite(k) | (k <= 0) | (np.abs(k - np.rint(k)) > 1e-6)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"{frame['component'].iloc[i]} to {frame['plate'].iloc[i]} "
            f"{frame['destination_well'].iloc[i]}: not a positive whole number of droplets",
            row=i + 1,
            column="volume_nl",
            expected=f"a multiple of {droplet_nl:g} nL",
            found=vol[i],
        )
    return np.rint(k).astype(np.int64)


def source_plate_map(
    transfers: pd.DataFrame,
    source: str | SourcePlate = "384PP",
    *,
    plate_name: str = "Source",
    max_plates: int = 1,
    overage: float = 0.0,
    droplet_nl: float = 2.5,
) -> pd.DataFrame:
    """Which stock goes in which source well, and how much to load.

    Each well holds at most ``max_ul`` of which ``dead_ul`` is never drawn, so a
    stock whose draws (plus ``overage``, a fraction for pipetting losses) exceed
    one well's usable volume is split over several wells. Columns:
    ``source_plate`` ("Source1" ...), ``source_well``, ``component``, ``fill_ul``
    (load this, µL), ``draw_ul`` (what the picklist takes, µL), ``dead_ul``.
    Raises :class:`InputError` when ``max_plates`` source plates cannot hold it.
    """
    plate = _source(source)
    k = _droplets(transfers, droplet_nl)
    step_ul = droplet_nl / 1000.0
    cap = math.floor(plate.usable_ul / (1.0 + overage) / step_ul + 1e-9)
    if cap < 1:
        raise InputError("source well too small for one droplet after overage", found=overage)
    totals = pd.Series(k, index=transfers.index).groupby(transfers["component"], sort=False).sum()
    draws: list[tuple[str, int]] = []
    for component, total in totals.items():
        full, rest = divmod(int(total), cap)
        draws += [(str(component), cap)] * full + ([(str(component), rest)] if rest else [])
    available = len(plate.wells) * max_plates
    if len(draws) > available:
        wells_per = {c: -(-int(t) // cap) for c, t in totals.items()}
        raise InputError(
            f"source plate cannot hold what is needed: {len(draws)} {plate.echo_type} wells "
            f"({plate.usable_ul:g} µL usable above the {plate.dead_ul:g} µL dead volume each; "
            f"{', '.join(f'{c} {n}' for c, n in wells_per.items())}) but {max_plates} plate(s) "
            f"have {available}"
        )
    rows = []
    for i, (component, n) in enumerate(draws):
        p, w = divmod(i, len(plate.wells))
        draw = n * step_ul
        rows.append(
            {
                "source_plate": f"{plate_name}{p + 1}",
                "source_well": plate.wells[w],
                "component": component,
                "fill_ul": round(draw * (1.0 + overage) + plate.dead_ul, 4),
                "draw_ul": round(draw, 6),
                "dead_ul": plate.dead_ul,
            }
        )
    return pd.DataFrame(rows, columns=SOURCE_MAP_COLUMNS)


def check_source_map(
    transfers: pd.DataFrame,
    source_map: pd.DataFrame,
    source: str | SourcePlate = "384PP",
    *,
    droplet_nl: float = 2.5,
) -> pd.DataFrame:
    """Dead-volume check of a source plate as loaded (``source_plate``,
    ``source_well``, ``component``, ``fill_ul``): each well within the plate's
    maximum, each stock's volume above the dead volume enough for its draws.

    Returns the map with ``draw_ul`` (µL each well gives, filled in order) and
    ``dead_ul``; raises :class:`InputError` naming the first short component.
    """
    plate = _source(source)
    for col in ("source_plate", "source_well", "component", "fill_ul"):
        if col not in source_map.columns:
            raise InputError("source map misses a column", column=col)
    fill = pd.to_numeric(source_map["fill_ul"], errors="coerce").to_numpy(dtype=float)
    for i, f in enumerate(fill):
        well = f"{source_map['source_plate'].iloc[i]} {source_map['source_well'].iloc[i]}"
        if not math.isfinite(f) or f < 0 or f > plate.max_ul + 1e-9:
            raise InputError(
                f"source well {well}: fill outside the {plate.echo_type} working range",
                row=i + 1,
                column="fill_ul",
                expected=f"0..{plate.max_ul:g} µL",
                found=source_map["fill_ul"].iloc[i],
            )
    k = _droplets(transfers, droplet_nl)
    step_ul = droplet_nl / 1000.0
    need = pd.Series(k, index=transfers.index).groupby(transfers["component"], sort=False).sum()
    out = source_map.copy()
    out["fill_ul"] = fill
    out["dead_ul"] = plate.dead_ul
    draws = np.zeros(len(out))
    for component, total in need.items():
        mine = np.flatnonzero(out["component"].astype(str).to_numpy() == component)
        caps = [math.floor(max(fill[j] - plate.dead_ul, 0.0) / step_ul + 1e-9) for j in mine]
        if sum(caps) < total:
            wells = ",".join(out["source_well"].astype(str).to_numpy()[mine]) or "none"
            raise InputError(
                f"component '{component}': dead-volume check failed: needs "
                f"{total * step_ul:.4g} µL but source wells {wells} hold "
                f"{sum(caps) * step_ul:.4g} µL above the {plate.dead_ul:g} µL dead volume"
            )
        left = int(total)
        for j, cap in zip(mine, caps, strict=True):
            take = min(cap, left)
            draws[j] = round(take * step_ul, 6)
            left -= take
    out["draw_ul"] = draws
    return out[SOURCE_MAP_COLUMNS].reset_index(drop=True)


# -- Echo picklist ---------------------------------------------------------------------------
@dataclass
class _Draw:
    """A source well's droplets still to give, while a picklist is written."""

    plate: str
    well: str
    left: int


def echo_picklist(
    transfers: pd.DataFrame,
    source_map: pd.DataFrame | None = None,
    source: str | SourcePlate = "384PP",
    *,
    droplet_nl: float = 2.5,
    sample_names: bool = True,
    plate_name: str = "Source",
    max_plates: int = 1,
    overage: float = 0.0,
) -> pd.DataFrame:
    """Echo Cherry Pick picklist of ``transfers``.

    Columns ``Source Plate Name, Source Well, Destination Plate Name,
    Destination Well, Transfer Volume`` (nL, multiples of ``droplet_nl``), plus
    ``Sample Name`` (the component) when ``sample_names``. Source wells come from
    ``source_map`` when given (checked with :func:`check_source_map`), else from
    :func:`source_plate_map` (with ``plate_name``, ``max_plates``, ``overage``).
    A transfer that empties a source well continues from the component's next
    well (two rows).
    """
    if source_map is None:
        smap = source_plate_map(
            transfers,
            source,
            plate_name=plate_name,
            max_plates=max_plates,
            overage=overage,
            droplet_nl=droplet_nl,
        )
    else:
        smap = check_source_map(transfers, source_map, source, droplet_nl=droplet_nl)
    k = _droplets(transfers, droplet_nl)
    step_ul = droplet_nl / 1000.0
    queues: dict[str, list[_Draw]] = {}
    for plate, well, component, draw in zip(
        smap["source_plate"], smap["source_well"], smap["component"], smap["draw_ul"], strict=True
    ):
        left = round(float(draw) / step_ul)
        if left > 0:
            queues.setdefault(str(component), []).append(_Draw(str(plate), str(well), left))
    rows = []
    for i, (component, dest_plate, dest_well) in enumerate(
        zip(transfers["component"], transfers["plate"], transfers["destination_well"], strict=True)
    ):
        need = int(k[i])
        queue = queues.get(str(component), [])
        while need > 0:
            if not queue:  # the map checks above make this unreachable
                raise InputError(f"component '{component}': source wells run dry")
            src = queue[0]
            take = min(need, src.left)
            rows.append((src.plate, src.well, str(dest_plate), str(dest_well), take, component))
            need -= take
            src.left -= take
            if src.left == 0:
                queue.pop(0)
    out = pd.DataFrame(rows, columns=[*ECHO_COLUMNS, "Sample Name"])
    out["Transfer Volume"] = np.round(out["Transfer Volume"].to_numpy() * droplet_nl, 6)
    return out if sample_names else out[ECHO_COLUMNS]


def write_echo_picklist(
    path: str | Path,
    transfers: pd.DataFrame,
    source_map: pd.DataFrame | None = None,
    source: str | SourcePlate = "384PP",
    **options: Any,
) -> pd.DataFrame:
    """Write the Echo picklist CSV atomically (nothing written on an error); returns it.

    ``options`` are those of :func:`echo_picklist`.
    """
    picklist = echo_picklist(transfers, source_map, source, **options)
    write_atomic(path, picklist.to_csv(index=False, float_format="%.6g"))
    return picklist


def write_source_plate_map(path: str | Path, source_map: pd.DataFrame) -> Path:
    """Write a source plate map CSV atomically."""
    return write_atomic(path, source_map.to_csv(index=False, float_format="%.6g"))


def write_transfers(path: str | Path, frame: pd.DataFrame) -> Path:
    """Write a transfers frame CSV atomically (``transfers.csv``)."""
    return write_atomic(path, frame.to_csv(index=False, float_format="%.6g"))
