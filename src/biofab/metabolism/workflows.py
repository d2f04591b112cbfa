"""Metabolism workflows: a typed request in, a typed result out, and the files written.

:func:`kcat_table` (CatPred-DB -> kcat table, optionally calibrated to a measured growth)
and :func:`ec_model` (model + kcats -> sMOMENT ecModel -> uptake scan -> kcat ensemble ->
overflow plot) hold what ``biofab gem kcats`` and ``biofab gem ec`` used to do
themselves; the CLI parses arguments and prints, a web service calls the same functions.
Every result has ``to_frame()`` (its main table), ``to_dict()`` / ``to_json()`` (what
``--json`` prints) and ``files`` (paths written, in order).

Bad input raises a :class:`~biofab.core.errors.BiofabError` (one line) before anything is
written. Units: fluxes and uptakes mmol/gDW/h, growth 1/h, enzyme pool g/gDW, kcat 1/s.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from biofab.core.errors import InputError

if TYPE_CHECKING:
    import cobra

    from biofab.metabolism.ecmodel import ECModel

__all__ = [
    "DEFAULT_UPTAKES",
    "EcModelRequest",
    "EcModelResult",
    "KcatTableRequest",
    "KcatTableResult",
    "ec_model",
    "kcat_table",
]

DEFAULT_UPTAKES: tuple[float, ...] = tuple(float(u) for u in range(1, 16))
"""Substrate uptake caps scanned by default, mmol/gDW/h (1, 2, ..., 15)."""


def _dumps(data: Any) -> str:
    def plain(x: Any) -> Any:
        return x.item() if hasattr(x, "item") else str(x)

    return json.dumps(data, indent=2, default=plain) + "\n"


def _open_model(model: str, medium: str | None, media_db: Path | None) -> cobra.Model:
    """Load ``model`` (a shipped name or a file) and apply ``medium`` when given."""
    from biofab.metabolism import apply_medium, get_medium, load_model

    m = load_model(model)
    if medium is not None:
        apply_medium(m, get_medium(medium, media_db), strict=True, label=model)
    return m


def _positive(value: float, what: str) -> float:
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{what} must be positive", column=what, expected="> 0", found=value)
    return float(value)


# ---------------------------------------------------------------------------------------
# kcat table
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KcatTableRequest:
    """A kcat table for an E. coli ``model`` from CatPred-DB CSV files.

    ``calibrate``: measured growth (1/h) the kcats are raised to reach GECKO-style, at
    ``uptake`` mmol/gDW/h of ``substrate``; ``proteome``: protein FASTA for the enzymes'
    masses; ``pool``: effective enzyme pool, g/gDW; ``out``: the table (CSV).
    """

    model: str
    catpred: tuple[Path, ...]
    out: Path
    proteome: Path | None = None
    calibrate: float | None = None
    uptake: float = 10.0
    substrate: str = "EX_glc__D_e"
    pool: float = 0.095
    medium: str | None = None
    media_db: Path | None = None


@dataclass
class KcatTableResult:
    """The kcat table, where its values came from and, calibrated, how far."""

    model: str
    table: pd.DataFrame
    calibrated_reactions: int | None = None
    calibrated_growth: float | None = None
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per reaction: ``reaction``, ``kcat`` (1/s), ``source`` ..."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "reactions": len(self.table),
            "sources": {str(k): int(v) for k, v in self.table["source"].value_counts().items()},
        }
        if self.calibrated_reactions is not None:
            out["calibrated_reactions"] = self.calibrated_reactions
            out["calibrated_growth"] = self.calibrated_growth
        out["out"] = self.files[0] if self.files else None
        out["seconds"] = self.seconds
        out["files"] = self.files
        return out

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def kcat_table(request: KcatTableRequest) -> KcatTableResult:
    """Build (and optionally calibrate) the kcat table, then write it."""
    from biofab.core.atomic import write_atomic
    from biofab.metabolism.ecmodel import build_ec_model, calibrate_kcats, scale_kcats
    from biofab.metabolism.kcats import ecoli_kcat_table, protein_masses

    t0 = time.perf_counter()
    _positive(request.pool, "pool")
    m = _open_model(request.model, request.medium, request.media_db)
    table = ecoli_kcat_table(m, list(request.catpred))
    result = KcatTableResult(request.model, table)
    if request.calibrate is not None:
        _positive(request.calibrate, "calibrate")
        mw = protein_masses(request.proteome) if request.proteome else None
        ec = build_ec_model(m, table, mw, pool=request.pool)
        factors, log = calibrate_kcats(
            ec, request.calibrate, substrate=request.substrate, uptake_cap=request.uptake
        )
        result.table = scale_kcats(table, list(ec.costs["reaction"]), factors)
        result.calibrated_reactions = int((factors > 1).sum())
        result.calibrated_growth = log[-1]["growth"] if log else None
    write_atomic(request.out, result.table.to_csv(index=False))
    result.files = [str(request.out)]
    result.seconds = round(time.perf_counter() - t0, 2)
    return result


# ---------------------------------------------------------------------------------------
# ecModel: build -> scan -> ensemble -> plot
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EcModelRequest:
    """An sMOMENT ecModel of ``model`` with the kcats of ``kcats``, written to ``out``.

    ``proteomics``: measured enzyme levels (gene + mmol_per_gDW or g_per_gDW); with
    ``plot`` or ``ensemble > 0`` the ``substrate`` uptake is scanned over ``uptakes``
    (mmol/gDW/h) for growth and ``product`` secretion, for the plain model, the ecModel
    and ``ensemble`` ecModels with kcats sampled (``log10_std`` for all, default per
    table row; ``calibrate``: growth 1/h each member is re-calibrated to at ``uptake``);
    ``plot``: the overflow curve (HTML).
    """

    model: str
    kcats: Path
    out: Path
    pool: float = 0.095
    proteome: Path | None = None
    proteomics: Path | None = None
    ensemble: int = 0
    log10_std: float | None = None
    calibrate: float | None = None
    uptake: float = 10.0
    plot: Path | None = None
    uptakes: tuple[float, ...] = DEFAULT_UPTAKES
    substrate: str = "EX_glc__D_e"
    product: str = "EX_ac_e"
    seed: int = 0
    workers: int = 1
    medium: str | None = None
    media_db: Path | None = None


@dataclass
class EcModelResult:
    """The ecModel, its growth and, when scanned, the growth / secretion curves."""

    model: str
    ec: ECModel
    pool: float
    growth: float
    scan: pd.DataFrame | None = None
    plain: pd.DataFrame | None = None
    onset: dict[str, float] | None = None
    ensemble: dict[str, np.ndarray] | None = None
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The uptake scan (ecModel ``growth``/``product``, plain model ``plain_*``), or,
        unscanned, the enzyme cost of each enzymatic reaction."""
        if self.scan is None or self.plain is None:
            return self.ec.costs.copy()
        return self.scan.assign(
            plain_growth=self.plain["growth"].to_numpy(),
            plain_product=self.plain["product"].to_numpy(),
        )

    def product_band(self) -> list[list[float]] | None:
        """5th and 95th percentile of the ensemble's secretion per uptake cap."""
        if self.ensemble is None:
            return None
        lo, hi = np.nanpercentile(self.ensemble["product"], [5, 95], axis=0)
        return [[float(a), float(b)] for a, b in zip(lo, hi, strict=True)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "reactions": len(self.ec.model.reactions),
            "enzymatic_reactions": len(self.ec.costs),
            "kcat_sources": self.ec.coverage(),
            "pool_g_per_gDW": self.pool,
            "measured_enzymes": len(self.ec.measured),
            "growth": self.growth,
        }
        if self.scan is not None and self.plain is not None:
            out["onset"] = self.onset
            out["scan"] = self.scan.to_dict("list")
            out["plain_product_max"] = float(self.plain["product"].max())
        if self.ensemble is not None:
            out["ensemble_product_p5_p95"] = self.product_band()
        out["out"] = self.files[0] if self.files else None
        if len(self.files) > 1:
            out["plot"] = self.files[1]
        out["seconds"] = self.seconds
        out["files"] = self.files
        return out

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def _check_grid(uptakes: Sequence[float]) -> list[float]:
    grid = [float(u) for u in uptakes]
    if not grid or any(not (math.isfinite(u) and u >= 0) for u in grid):
        raise InputError(
            "bad uptake caps",
            column="uptakes",
            expected="one or more finite numbers >= 0 (mmol/gDW/h)",
            found=list(uptakes),
        )
    return grid


def _overflow_page(request: EcModelRequest, result: EcModelResult) -> str:
    from biofab.metabolism.ecmodel import overflow_figure
    from biofab.viz import html_page

    assert result.scan is not None and result.plain is not None and result.onset is not None
    fig = overflow_figure(result.plain, result.scan, result.ensemble, product_label=request.product)
    onset = result.onset
    note = (
        f"Onset of {request.product} secretion at a {request.substrate} uptake cap of "
        f"{onset['threshold']:.2f} mmol/gDW/h, growth {onset['growth']:.3f} 1/h; "
        f"pool {request.pool} g/gDW; kcat sources {result.ec.coverage()}."
    )
    return html_page(
        f"Overflow: {request.model} ecModel",
        [("Growth and secretion vs uptake", fig), ("", note), ("Scan", result.to_frame())],
        subtitle="sMOMENT enzyme-constrained model (biofab)",
    )


def ec_model(request: EcModelRequest) -> EcModelResult:
    """Build the ecModel, scan and sample it as asked, then write the model and plot."""
    from biofab.core.atomic import write_atomic
    from biofab.metabolism import LinearProgram, save_model
    from biofab.metabolism.ecmodel import (
        build_ec_model,
        ensemble_scan,
        overflow_threshold,
        read_proteomics,
        scan_uptake,
    )
    from biofab.metabolism.kcats import protein_masses, read_kcat_table

    t0 = time.perf_counter()
    _positive(request.pool, "pool")
    if request.ensemble < 0:
        raise InputError("ensemble size below 0", column="ensemble", found=request.ensemble)
    if request.plot is not None and Path(request.plot).resolve() == Path(request.out).resolve():
        raise InputError("the model and the plot name the same file", found=str(request.out))
    table = read_kcat_table(request.kcats)
    grid = _check_grid(request.uptakes)
    m = _open_model(request.model, request.medium, request.media_db)
    mw = protein_masses(request.proteome) if request.proteome else None
    measured = read_proteomics(request.proteomics, mw) if request.proteomics else None
    ec = build_ec_model(m, table, mw, pool=request.pool, proteomics=measured)
    lp = ec.lp()
    sol = lp.optimize(label=str(request.out))
    result = EcModelResult(request.model, ec, request.pool, sol.objective)
    sub, prod = request.substrate, request.product
    if request.plot is not None or request.ensemble > 0:
        result.plain = scan_uptake(LinearProgram.from_model(m), grid, substrate=sub, product=prod)
        result.scan = scan_uptake(lp, grid, substrate=sub, product=prod)
        result.onset = overflow_threshold(lp, substrate=sub, product=prod, high=max(grid))
        if request.ensemble > 0:
            calibration = None if request.calibrate is None else (request.calibrate, request.uptake)
            result.ensemble = ensemble_scan(
                ec,
                grid,
                request.ensemble,
                seed=request.seed,
                log10_std=request.log10_std,
                substrate=sub,
                product=prod,
                workers=request.workers,
                calibrate=calibration,
            )
    html = _overflow_page(request, result) if request.plot is not None else None
    # Everything is computed before anything is written: no partial outputs.
    files = [str(save_model(ec.model, request.out))]
    if html is not None and request.plot is not None:
        write_atomic(request.plot, html)
        files.append(str(request.plot))
    result.files = files
    result.seconds = round(time.perf_counter() - t0, 2)
    return result
