"""Stock solutions, dispensers and the composition space they allow.

A cell-free reaction is mixed from stock solutions: a component at final
concentration ``c`` (same unit as its stock ``s``) takes ``c / s * V`` µL of a
reaction of ``V`` µL, and water fills the rest. A liquid handler can only
dispense whole steps, so the concentrations a build plan can really make lie on
a grid whose spacing is one dispenser step:

* :class:`Echo` (acoustic, Beckman Coulter / Labcyte Echo 550/555/650): droplets of
  2.5 nL, so ``step = s * 0.0025 µL / V``.
* :class:`Opentrons` (OT-2 GEN2 pipettes): a resolution (0.1 µL for the P20 by
  default) and a minimum volume (P20: 1 µL; P300: 20 µL; P1000: 100 µL, the
  lower ends of Opentrons' published volume ranges).

:func:`composition_space` turns a :class:`StockTable` into a
:class:`~biofab.core.Space` whose every design maps to whole dispenser steps.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from biofab.core import Continuous, InputError, LinearInequality, Space
from biofab.core.textfile import read_text

#: Reserved name of the filler; every build plan dispenses it.
WATER = "water"

# Unit spellings a stock table may use -> the canonical spelling kept.
_UNITS: dict[str, str] = {
    "m": "M",
    "mm": "mM",
    "um": "µM",
    "µm": "µM",
    "μm": "µM",
    "nm": "nM",
    "pm": "pM",
    "g/l": "g/L",
    "mg/ml": "mg/mL",
    "ug/ml": "µg/mL",
    "µg/ml": "µg/mL",
    "μg/ml": "µg/mL",
    "ng/ul": "ng/µL",
    "ng/µl": "ng/µL",
    "ng/μl": "ng/µL",
    "v/v": "v/v",
    "x": "x",
}
KNOWN_UNITS = sorted(set(_UNITS.values()))

# Grid arithmetic tolerance, in steps: 1e-6 droplet is far below any float noise
# that matters and far above double rounding error.
_EPS = 1e-6


# -- dispensers ---------------------------------------------------------------
@dataclass(frozen=True)
class Echo:
    """Acoustic dispenser: every volume is a whole number of droplets.

    ``droplet_nl`` is 2.5 nL on the Echo 550/555/650 series (Beckman Coulter
    Echo specifications; the older Echo 525 ejects 25 nL droplets).
    """

    droplet_nl: float = 2.5
    name: str = "echo"

    def __post_init__(self) -> None:
        if not self.droplet_nl > 0:
            raise InputError("droplet volume must be positive", found=self.droplet_nl)

    @property
    def step_ul(self) -> float:
        """Volume of one dispenser step (µL)."""
        return self.droplet_nl / 1000.0

    @property
    def minimum_ul(self) -> float:
        """Smallest non-zero volume (µL): one droplet."""
        return self.step_ul


# Opentrons GEN2 single-channel pipettes: (minimum µL, maximum µL, resolution µL).
# Ranges are Opentrons' published volume ranges; the resolution is biofab's choice of
# the finest increment worth asking for (about the pipette's accuracy at its minimum).
OPENTRONS_PIPETTES: dict[str, tuple[float, float, float]] = {
    "p20_single_gen2": (1.0, 20.0, 0.1),
    "p300_single_gen2": (20.0, 300.0, 1.0),
    "p1000_single_gen2": (100.0, 1000.0, 1.0),
}


@dataclass(frozen=True)
class Opentrons:
    """Pipetting robot: volumes on a ``resolution_ul`` grid, none below ``min_volume_ul``.

    Defaults come from :data:`OPENTRONS_PIPETTES` for ``pipette``; larger volumes
    than the pipette's maximum are left to the protocol writer (several trips).
    """

    pipette: str = "p20_single_gen2"
    min_volume_ul: float | None = None
    resolution_ul: float | None = None
    name: str = "opentrons"

    def __post_init__(self) -> None:
        spec = OPENTRONS_PIPETTES.get(self.pipette)
        if spec is None and (self.min_volume_ul is None or self.resolution_ul is None):
            raise InputError(
                "unknown pipette; give min_volume_ul and resolution_ul",
                expected=f"one of {sorted(OPENTRONS_PIPETTES)}",
                found=self.pipette,
            )
        lo, _, res = spec if spec is not None else (0.0, 0.0, 0.0)
        if self.min_volume_ul is None:
            object.__setattr__(self, "min_volume_ul", lo)
        if self.resolution_ul is None:
            object.__setattr__(self, "resolution_ul", res)
        step, low = float(self.resolution_ul or 0), float(self.min_volume_ul or 0)
        if not step > 0 or not low > 0:
            raise InputError(
                "pipette resolution and minimum volume must be positive", found=(step, low)
            )
        if abs(low / step - round(low / step)) > _EPS:
            raise InputError(
                "pipette minimum volume must be a whole number of resolution steps",
                expected=f"a multiple of {step} µL",
                found=low,
            )

    @property
    def step_ul(self) -> float:
        """Volume of one dispenser step (µL)."""
        return float(self.resolution_ul)  # type: ignore[arg-type]

    @property
    def minimum_ul(self) -> float:
        """Smallest non-zero volume (µL) the pipette delivers."""
        return float(self.min_volume_ul)  # type: ignore[arg-type]


Dispenser = Echo | Opentrons


def steps(volume_ul: np.ndarray | float, dispenser: Dispenser) -> np.ndarray:
    """Volumes (µL) -> the nearest whole number of dispenser steps (int array)."""
    return np.rint(np.asarray(volume_ul, dtype=float) / dispenser.step_ul + 0.0).astype(np.int64)


# -- stock table ----------------------------------------------------------------
@dataclass(frozen=True)
class Stock:
    """One row of a stock table.

    ``stock`` and the final concentrations (``min``, ``max``, ``fixed``,
    ``reference``) share ``unit``; ``price`` is currency per µL of stock.
    A component is *varied* (``min``/``max`` given) or *fixed* (``fixed`` given).
    """

    component: str
    stock: float
    unit: str
    min: float | None = None
    max: float | None = None
    fixed: float | None = None
    price: float = 0.0
    reference: float | None = None

    @property
    def varied(self) -> bool:
        return self.fixed is None

    def volume_ul(self, concentration: np.ndarray | float, volume_ul: float) -> np.ndarray:
        """Stock volume (µL) giving ``concentration`` in a ``volume_ul`` reaction."""
        return np.asarray(concentration, dtype=float) / self.stock * volume_ul

    def fixed_volume_ul(self, volume_ul: float) -> float:
        """Volume (µL) of a fixed component in a ``volume_ul`` reaction (0 if varied)."""
        return 0.0 if self.fixed is None else self.fixed / self.stock * volume_ul


_REQUIRED = ("component", "stock", "unit")
_NUMERIC = ("stock", "min", "max", "fixed", "price", "reference")
_COLUMNS = ("component", "stock", "unit", "min", "max", "fixed", "price", "reference")
# Free-text columns a lab may keep beside the numbers; read and ignored.
_FREE_TEXT = ("notes", "supplier", "catalog")


class StockTable:
    """Validated stock solutions, in the order given.

    >>> table = StockTable.default()
    >>> table.varied_names
    ['mg_glutamate', 'k_glutamate', 'pga', 'ntp', 'amino_acids', 'dna']

    ``currency`` names what ``price`` is counted in (per µL of stock).
    """

    def __init__(self, stocks: list[Stock], currency: str = "USD", file: str | None = None):
        self.stocks: list[Stock] = list(stocks)
        self.currency = currency
        self.file = file
        if not self.stocks:
            raise InputError("a stock table needs at least one component", file=file)
        if not any(s.varied for s in self.stocks):
            raise InputError(
                "a stock table needs at least one varied component (min and max)", file=file
            )

    # -- access ---------------------------------------------------------------
    def __iter__(self) -> Iterator[Stock]:
        return iter(self.stocks)

    def __len__(self) -> int:
        return len(self.stocks)

    def __contains__(self, name: object) -> bool:
        return any(s.component == name for s in self.stocks)

    def __getitem__(self, name: str) -> Stock:
        for s in self.stocks:
            if s.component == name:
                return s
        raise InputError("unknown component", expected=f"one of {self.names}", found=name)

    def __repr__(self) -> str:
        return f"StockTable({self.names})"

    @property
    def names(self) -> list[str]:
        return [s.component for s in self.stocks]

    @property
    def varied_names(self) -> list[str]:
        return [s.component for s in self.stocks if s.varied]

    @property
    def fixed_names(self) -> list[str]:
        return [s.component for s in self.stocks if not s.varied]

    def reference(self) -> dict[str, float]:
        """Reference composition: every component's ``reference`` (fixed ones: ``fixed``).

        Raises :class:`InputError` naming the first varied component without one.
        """
        out: dict[str, float] = {}
        for s in self.stocks:
            value = s.fixed if not s.varied else s.reference
            if value is None:
                raise InputError(
                    "no reference concentration; add a 'reference' column or pass reference=",
                    file=self.file,
                    column="reference",
                    found=s.component,
                )
            out[s.component] = float(value)
        return out

    def fixed_volume_ul(self, volume_ul: float) -> float:
        """Total volume (µL) of the fixed components in one reaction."""
        return float(sum(s.fixed_volume_ul(volume_ul) for s in self.stocks))

    def to_frame(self) -> pd.DataFrame:
        rows = [{c: getattr(s, c) for c in _COLUMNS} for s in self.stocks]
        return pd.DataFrame(rows, columns=list(_COLUMNS))

    # -- reading ----------------------------------------------------------------
    @classmethod
    def default(cls) -> StockTable:
        """The six default TX-TL components plus lysate at 0.33 v/v (package data).

        Reference values follow the standard buffer of Sun et al. 2013, *J Vis Exp*
        79:e50762; prices are illustrative (see the comment in the CSV).
        """
        text = resources.files("biofab.cellfree").joinpath("default_stocks.csv").read_text()
        frame = pd.read_csv(io.StringIO(text), comment="#", skipinitialspace=True, dtype=str)
        return cls.from_frame(frame, file="default_stocks.csv")

    @classmethod
    def read(cls, path: str | Path) -> StockTable:
        """Read a CSV (``#`` comments allowed) or YAML stock table and validate it.

        YAML: ``{currency: USD, components: {name: {stock:, unit:, min:, max:, ...}}}``
        or ``components:`` as a list of mappings with a ``component`` key.
        """
        p = Path(path)
        if not p.is_file():
            raise InputError("stock table not found", file=str(p))
        if p.suffix.lower() in (".yaml", ".yml"):
            return cls._from_yaml(p)
        try:
            frame = pd.read_csv(p, comment="#", skipinitialspace=True, dtype=str)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise InputError(
                "unreadable CSV", file=str(p), found=str(err).splitlines()[0]
            ) from None
        return cls.from_frame(frame, file=str(p))

    @classmethod
    def _from_yaml(cls, p: Path) -> StockTable:
        try:
            data = yaml.safe_load(read_text(p))
        except yaml.YAMLError as err:
            raise InputError(
                "malformed YAML", file=str(p), found=str(err).splitlines()[0]
            ) from None
        currency = "USD"
        if isinstance(data, dict) and "components" in data:
            currency = str(data.get("currency", currency))
            data = data["components"]
        rows: list[dict[str, Any]]
        if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
            rows = [{"component": str(k), **v} for k, v in data.items()]
        elif isinstance(data, list) and all(isinstance(v, dict) for v in data):
            rows = list(data)
        else:
            raise InputError(
                "a YAML stock table needs 'components': a mapping or list of mappings",
                file=str(p),
                expected="components: {name: {stock: ..., unit: ..., min: ..., max: ...}}",
            )
        frame = pd.DataFrame(rows)
        return cls.from_frame(frame, file=str(p), currency=currency)

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, *, file: str | None = None, currency: str = "USD"
    ) -> StockTable:
        """Validate a table with columns ``component, stock, unit, min, max[, fixed, price,
        reference]``; every problem is one :class:`InputError` naming the component."""
        frame = frame.rename(columns=lambda c: str(c).strip().lower())
        for col in _REQUIRED:
            if col not in frame.columns:
                raise InputError(
                    "missing column", file=file, column=col, expected=f"columns {list(_REQUIRED)}"
                )
        if "fixed" not in frame.columns and not {"min", "max"} <= set(frame.columns):
            missing = "min" if "min" not in frame.columns else "max"
            raise InputError(
                "missing column", file=file, column=missing, expected="min and max (or fixed)"
            )
        unknown = [c for c in frame.columns if c not in _COLUMNS + _FREE_TEXT]
        if unknown:
            raise InputError(
                "unknown column",
                file=file,
                column=unknown[0],
                expected=f"columns {list(_COLUMNS + _FREE_TEXT)}",
            )
        stocks: list[Stock] = []
        seen: set[str] = set()
        for i, raw in enumerate(frame.to_dict("records")):
            stock = _parse_row({str(k): v for k, v in raw.items()}, row=i + 1, file=file)
            if stock.component in seen:
                raise InputError(
                    f"component '{stock.component}' is listed twice",
                    file=file,
                    row=i + 1,
                    column="component",
                    found=stock.component,
                )
            seen.add(stock.component)
            stocks.append(stock)
        table = cls(stocks, currency=currency, file=file)
        fixed_fraction = table.fixed_volume_ul(1.0)
        if fixed_fraction > 1 + 1e-9:
            raise InputError(
                "fixed components alone overfill the reaction",
                file=file,
                column="fixed",
                expected="sum of fixed/stock <= 1",
                found=round(float(fixed_fraction), 6),
            )
        return table


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == ""


def _parse_row(raw: Mapping[str, Any], *, row: int, file: str | None) -> Stock:
    name = raw.get("component")
    if _blank(name) or not str(name).strip():
        raise InputError("empty component name", file=file, row=row, column="component")
    name = str(name).strip()
    if name == WATER:
        raise InputError(
            "'water' is not a stock: it fills the rest of every reaction",
            file=file,
            row=row,
            column="component",
            found=name,
        )

    def fail(message: str, column: str, **kw: Any) -> InputError:
        return InputError(f"component '{name}': {message}", file=file, row=row, column=column, **kw)

    values: dict[str, float | None] = {}
    for col in _NUMERIC:
        v = raw.get(col)
        if _blank(v):
            values[col] = None
            continue
        try:
            x = float(str(v).strip())
        except ValueError:
            raise fail("not a number", col, expected="a number", found=v) from None
        if not math.isfinite(x) or x < 0:
            raise fail("must be a finite number >= 0", col, found=v)
        values[col] = x
    unit_raw = raw.get("unit")
    unit = _UNITS.get(str(unit_raw).strip().lower()) if not _blank(unit_raw) else None
    if unit is None:
        raise fail("unknown unit", "unit", expected=f"one of {KNOWN_UNITS}", found=unit_raw)
    stock = values["stock"]
    if stock is None or stock <= 0:
        raise fail("stock must be a positive concentration", "stock", found=raw.get("stock"))
    lo, hi, fixed = values["min"], values["max"], values["fixed"]
    if fixed is not None:
        if lo is not None or hi is not None:
            raise fail("give either fixed or min/max, not both", "fixed", found=fixed)
        if fixed > stock:
            raise fail(
                f"fixed {fixed:g} {unit} is above the stock {stock:g} {unit}", "fixed", found=fixed
            )
    else:
        if lo is None or hi is None:
            raise fail("needs min and max (or fixed)", "min" if lo is None else "max")
        if lo > hi:
            raise fail(f"min {lo:g} > max {hi:g}", "min", expected="min <= max", found=lo)
        if hi > stock:
            raise fail(
                f"stock too dilute: max {hi:g} {unit} exceeds the stock itself; "
                f"the most any reaction can reach is {stock:g} {unit}",
                "max",
                found=hi,
            )
    ref = values["reference"]
    outside = lo is not None and hi is not None and not lo - 1e-12 <= (ref or lo) <= hi + 1e-12
    if ref is not None and outside:
        raise fail("reference outside [min, max]", "reference", found=ref)
    return Stock(
        component=name,
        stock=stock,
        unit=unit,
        min=lo,
        max=hi,
        fixed=fixed,
        price=values["price"] or 0.0,
        reference=ref,
    )


# -- composition space ---------------------------------------------------------------
def check_volume(volume_ul: float, dispenser: Dispenser) -> None:
    if not (math.isfinite(volume_ul) and volume_ul > 0):
        raise InputError("reaction volume must be positive", column="volume_ul", found=volume_ul)
    k = volume_ul / dispenser.step_ul
    if abs(k - round(k)) > _EPS:
        raise InputError(
            "reaction volume is not a whole number of dispenser steps",
            column="volume_ul",
            expected=f"a multiple of {dispenser.step_ul:g} µL",
            found=volume_ul,
        )


def water_reserve_ul(dispenser: Dispenser) -> float:
    """Water always dispensed (µL): none for the Echo, one minimum volume for a pipette.

    A pipette cannot deliver 0 < v < minimum, and a single linear constraint
    cannot say "water is 0 or >= minimum", so the space keeps water >= minimum.
    """
    return dispenser.minimum_ul if isinstance(dispenser, Opentrons) else 0.0


def composition_space(
    stocks: StockTable,
    volume_ul: float = 10.0,
    dispenser: Dispenser | None = None,
) -> Space:
    """The dispensable compositions of ``stocks`` in a ``volume_ul`` µL reaction.

    One ``Continuous(lo, hi, step, unit)`` per varied component, where ``step``
    is the concentration of one dispenser step (``stock * step_µL / volume_µL``),
    and ``lo``/``hi`` are the table's min/max snapped *inward* to multiples of
    ``step`` (the grid is anchored at 0, so every value is a whole number of
    steps). Plus one ``LinearInequality``: ``sum(volume_ul/stock_i * c_i) <=
    volume_ul - fixed volumes - water reserve`` (µL), so water fills the rest,
    is >= 0 and is itself a whole number of steps.

    Opentrons minimum volume: a ``Continuous`` is an interval, so "0 or >= the
    minimum" cannot be one parameter. A varied component's lower bound is raised
    to the concentration of one minimum volume (always dispensed); water keeps at
    least one minimum volume (see :func:`water_reserve_ul`).
    """
    dispenser = dispenser if dispenser is not None else Echo()
    check_volume(volume_ul, dispenser)
    fixed_ul = stocks.fixed_volume_ul(volume_ul)
    free_ul = volume_ul - fixed_ul - water_reserve_ul(dispenser)
    params: dict[str, Continuous] = {}
    coefficients: dict[str, float] = {}
    for s in stocks:
        if not s.varied:
            continue
        assert s.min is not None and s.max is not None
        # 12 significant digits drop float noise (0.024000000000000004) from the grid.
        step = float(f"{s.stock * dispenser.step_ul / volume_ul:.12g}")
        need_ul = s.max / s.stock * volume_ul
        if need_ul > free_ul * (1 + 1e-9):
            reachable = math.floor(free_ul / dispenser.step_ul + _EPS) * step
            raise InputError(
                f"component '{s.component}': stock {s.stock:g} {s.unit} too dilute to reach "
                f"max {s.max:g} {s.unit} in {volume_ul:g} µL (needs {need_ul:.4g} µL, "
                f"{free_ul:.4g} µL free); max reachable {reachable:.4g} {s.unit}",
                file=stocks.file,
                column="max",
            )
        k_lo = math.ceil(s.min / step - _EPS)
        k_hi = math.floor(s.max / step + _EPS)
        if isinstance(dispenser, Opentrons):
            k_min = round(dispenser.minimum_ul / dispenser.step_ul)
            k_lo = max(k_lo, k_min)
        if k_hi <= k_lo:
            raise InputError(
                f"component '{s.component}': range [{s.min:g}, {s.max:g}] {s.unit} holds fewer "
                f"than two dispensable levels (step {step:.4g} {s.unit}"
                + (
                    f", minimum {dispenser.minimum_ul:g} µL"
                    if isinstance(dispenser, Opentrons)
                    else ""
                )
                + ")",
                file=stocks.file,
                column="min",
            )
        params[s.component] = Continuous(
            float(np.round(k_lo * step, 9)), float(np.round(k_hi * step, 9)), step, s.unit
        )
        coefficients[s.component] = volume_ul / s.stock
    constraint = LinearInequality(coefficients, float(np.round(free_ul, 9)))
    return Space(params, [constraint])


def snap_reference(
    stocks: StockTable, volume_ul: float, dispenser: Dispenser | None = None
) -> dict[str, float]:
    """The table's reference composition moved to the nearest dispensable grid point."""
    dispenser = dispenser if dispenser is not None else Echo()
    out = {}
    for name, c in stocks.reference().items():
        s = stocks[name]
        k = steps(s.volume_ul(c, volume_ul), dispenser)
        out[name] = float(np.round(k * dispenser.step_ul * s.stock / volume_ul, 9))
    return out


def with_prices(stocks: StockTable, prices: Mapping[str, float]) -> StockTable:
    """A copy of ``stocks`` with some prices (currency per µL of stock) replaced."""
    unknown = [n for n in prices if n not in stocks]
    if unknown:
        raise InputError("price for an unknown component", found=unknown[0])
    return StockTable(
        [replace(s, price=float(prices.get(s.component, s.price))) for s in stocks],
        currency=stocks.currency,
        file=stocks.file,
    )
