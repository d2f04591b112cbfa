"""Metabolism workflows: a typed request in, a typed result out, and the files written.

:func:`info`, :func:`convert`, :func:`fba`, :func:`fva`, :func:`deletions`,
:func:`dfba`, :func:`design` (OptKnock), :func:`envelope`, :func:`minimal_medium`,
:func:`reconstruct`, :func:`essentiality`, :func:`biolog`, :func:`kcat_table` (CatPred-DB
-> kcat table, optionally calibrated to a measured growth) and :func:`ec_model` (model +
kcats -> sMOMENT ecModel -> uptake scan -> kcat ensemble -> overflow plot) hold what the
``biofab gem`` commands used to do themselves; the CLI parses arguments and prints, a web
service calls the same functions. A model request names the model (shipped name or file),
the medium and reaction bounds (:class:`ModelRequest`).
Every result has ``to_frame()`` (its main table), ``to_dict()`` / ``to_json()`` (what
``--json`` prints) and ``files`` (paths written, in order).

Bad input raises a :class:`~biofab.core.errors.BiofabError` (one line) before anything is
written. Units: fluxes and uptakes mmol/gDW/h, growth 1/h, enzyme pool g/gDW, kcat 1/s.
"""

from __future__ import annotations

import json
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from biofab.core.errors import InputError

if TYPE_CHECKING:
    import cobra

    from biofab.metabolism.design import DesignResult as OptKnockResult
    from biofab.metabolism.dfba import DfbaResult
    from biofab.metabolism.ecmodel import ECModel
    from biofab.metabolism.reconstruct import Reconstruction
    from biofab.metabolism.scenario import Scenario

__all__ = [
    "DEFAULT_UPTAKES",
    "BiologRequest",
    "ConvertRequest",
    "ConvertResult",
    "DeletionsRequest",
    "DeletionsResult",
    "DesignRequest",
    "DesignResult",
    "DfbaRequest",
    "DfbaWorkflowResult",
    "EcModelRequest",
    "EcModelResult",
    "EnvelopeRequest",
    "EnvelopeResult",
    "EssentialityRequest",
    "FbaRequest",
    "FbaResult",
    "FvaRequest",
    "FvaResult",
    "InfoResult",
    "KcatTableRequest",
    "KcatTableResult",
    "MinimalMediumRequest",
    "MinimalMediumResult",
    "ModelRequest",
    "ReconstructRequest",
    "ReconstructResult",
    "ScoreResult",
    "biolog",
    "convert",
    "deletions",
    "design",
    "dfba",
    "ec_model",
    "envelope",
    "essentiality",
    "fba",
    "fva",
    "info",
    "kcat_table",
    "minimal_medium",
    "parse_bounds",
    "reconstruct",
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


# ---------------------------------------------------------------------------------------
# shared by the model commands
# ---------------------------------------------------------------------------------------


def _write_text(path: Path, text: str) -> str:
    from biofab.core.atomic import write_atomic

    return str(write_atomic(path, text))


def _distinct(*paths: Path | None) -> None:
    given = [Path(p).resolve() for p in paths if p is not None]
    if len(set(given)) != len(given):
        raise InputError("two outputs name the same file", found=[str(p) for p in paths if p])


def _nonempty(ids: Sequence[str] | None, what: str) -> list[str] | None:
    if ids is None:
        return None
    chosen = [str(i).strip() for i in ids if str(i).strip()]
    if not chosen:
        raise InputError("empty id list", column=what, expected="one or more ids", found=list(ids))
    return chosen


def parse_bounds(items: Sequence[str]) -> dict[str, tuple[float, float]]:
    """``RXN=LB,UB`` texts (``:`` also separates) -> ``{RXN: (LB, UB)}``, mmol/gDW/h."""
    out: dict[str, tuple[float, float]] = {}
    for item in items:
        rid, sep, rest = item.partition("=")
        parts = rest.replace(":", ",").split(",")
        if not sep or len(parts) != 2:
            raise InputError("bad --bound", expected="RXN=LB,UB", found=item)
        try:
            out[rid.strip()] = (float(parts[0]), float(parts[1]))
        except ValueError:
            raise InputError("bad --bound", expected="numbers LB,UB", found=item) from None
    return out


def _apply_bounds(model: cobra.Model, bounds: Mapping[str, tuple[float, float]]) -> None:
    """Set each reaction's (lower, upper) bounds; one-line errors, checked before any."""
    from biofab.core.errors import ModelError

    for rid, (lo, hi) in bounds.items():
        if not (lo <= hi):
            raise InputError("bad --bound: lower above upper", found=f"{rid}={lo:g},{hi:g}")
        if rid not in model.reactions:
            raise ModelError("unknown reaction in --bound", expected="a reaction id", found=rid)
    for rid, (lo, hi) in bounds.items():
        model.reactions.get_by_id(rid).bounds = (lo, hi)


@dataclass(frozen=True)
class ModelRequest:
    """A model (a shipped name such as ``textbook`` / ``iJO1366``, or a file: SBML-FBC,
    JSON, MAT, YAML) with ``medium`` (a name of the media table ``media_db`` or a medium
    file; None: the model's own) and reaction ``bounds`` {id: (lower, upper)} set after it.
    Used as is by :func:`info`; the other requests extend it."""

    model: str
    medium: str | None = None
    media_db: Path | None = None
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def open(self) -> cobra.Model:
        m = _open_model(self.model, self.medium, self.media_db)
        _apply_bounds(m, self.bounds)
        return m


@dataclass
class _Result(ABC):
    """Base of the model results: ``to_dict`` from :meth:`summary`, and the files."""

    files: list[str] = field(default_factory=list, kw_only=True)

    @abstractmethod
    def summary(self) -> dict[str, Any]:
        """The result's record without ``files`` (JSON-ready)."""

    @abstractmethod
    def to_frame(self) -> pd.DataFrame:
        """The result's main table."""

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "files": self.files}

    def to_json(self) -> str:
        return _dumps(self.to_dict())


# ---------------------------------------------------------------------------------------
# info and convert
# ---------------------------------------------------------------------------------------


@dataclass
class InfoResult(_Result):
    """Counts, compartments, objective and the optimum on the medium (1/h for growth)."""

    info: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return dict(self.info)

    def to_frame(self) -> pd.DataFrame:
        """One row per count: ``item`` (reactions, metabolites, genes, exchanges), ``n``."""
        keys = ("reactions", "metabolites", "genes", "exchanges")
        return pd.DataFrame({"item": keys, "n": [self.info[k] for k in keys]})


def info(request: ModelRequest) -> InfoResult:
    """The model's summary and its optimum (None when not optimal; see ``status``)."""
    from biofab.metabolism import LinearProgram, model_info

    m = request.open()
    data = model_info(m)
    sol = LinearProgram.from_model(m).solve()
    data["objective_value"] = sol.objective if sol.ok else None
    data["status"] = sol.status
    return InfoResult(data)


@dataclass(frozen=True, kw_only=True)
class ConvertRequest(ModelRequest):
    """Write the model (medium and bounds applied) to ``out``; format from its suffix."""

    out: Path


@dataclass
class ConvertResult(_Result):
    model: str
    reactions: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        return {"model": self.model, "out": self.files[0] if self.files else None}

    def to_frame(self) -> pd.DataFrame:
        """The written model's reactions: ``reaction``, ``lower_bound``, ``upper_bound``."""
        return self.reactions.copy()


def convert(request: ConvertRequest) -> ConvertResult:
    """Load, apply the medium and bounds, save in the format of ``out``'s suffix."""
    from biofab.metabolism import save_model

    m = request.open()
    table = pd.DataFrame(
        [(r.id, r.lower_bound, r.upper_bound) for r in m.reactions],
        columns=["reaction", "lower_bound", "upper_bound"],
    )
    path = save_model(m, request.out)
    return ConvertResult(request.model, table, files=[str(path)])


# ---------------------------------------------------------------------------------------
# fba, fva, deletions
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FbaRequest(ModelRequest):
    """FBA (HiGHS) of the model; ``pfba``: least total flux at the optimum; ``out``: the
    fluxes as CSV (``reaction``, ``flux`` mmol/gDW/h)."""

    pfba: bool = False
    out: Path | None = None


@dataclass
class FbaResult(_Result):
    model: str
    method: str
    status: str
    objective_value: float
    total_flux: float | None
    fluxes: pd.Series

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"reaction": self.fluxes.index, "flux": self.fluxes.to_numpy()})

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "method": self.method,
            "status": self.status,
            "objective_value": self.objective_value,
            "total_flux": self.total_flux,
            "fluxes": self.fluxes.to_dict(),
            "out": self.files[0] if self.files else None,
        }


def fba(request: FbaRequest) -> FbaResult:
    """Solve, then write the fluxes when asked."""
    from biofab.metabolism.analysis import fba as solve
    from biofab.metabolism.analysis import pfba

    m = request.open()
    res = pfba(m) if request.pfba else solve(m)
    result = FbaResult(
        request.model,
        "pfba" if request.pfba else "fba",
        res.status,
        res.objective_value,
        res.total_flux,
        res.fluxes,
    )
    if request.out is not None:
        result.files = [_write_text(request.out, result.to_frame().to_csv(index=False))]
    return result


@dataclass(frozen=True)
class FvaRequest(ModelRequest):
    """Minimum and maximum flux of ``reactions`` (None: all) keeping ``fraction`` (0..1)
    of the optimum; ``workers`` processes (None: BIOFAB_WORKERS or the cores)."""

    fraction: float = 1.0
    reactions: tuple[str, ...] | None = None
    workers: int | None = None
    out: Path | None = None
    progress: bool = False


@dataclass
class FvaResult(_Result):
    model: str
    fraction: float
    ranges: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """One row per reaction: ``reaction``, ``minimum``, ``maximum`` (mmol/gDW/h)."""
        return self.ranges.copy()

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "fraction_of_optimum": self.fraction,
            "ranges": self.ranges.to_dict(orient="records"),
            "out": self.files[0] if self.files else None,
        }


def _workers(value: int | None) -> int | None:
    if value is not None:
        _at_least(value, "workers", 1)
    return value


def _at_least(value: int, what: str, low: int) -> int:
    if value < low:
        raise InputError(f"{what} too small", column=what, expected=f">= {low}", found=value)
    return value


def fva(request: FvaRequest) -> FvaResult:
    """Flux variability (parallel LPs), then write the ranges when asked."""
    from biofab.metabolism.analysis import flux_variability

    reactions = _nonempty(request.reactions, "reactions")
    m = request.open()
    frame = flux_variability(
        m,
        reactions,
        request.fraction,
        _workers(request.workers),
        description="flux variability" if request.progress else None,
    )
    result = FvaResult(request.model, request.fraction, frame.rename_axis("reaction").reset_index())
    if request.out is not None:
        result.files = [_write_text(request.out, result.ranges.to_csv(index=False))]
    return result


@dataclass(frozen=True)
class DeletionsRequest(ModelRequest):
    """Growth after single (or, ``double``, all pairs of) ``kind`` (gene | reaction)
    knockouts of ``ids`` (None: all of the model), the first ``limit`` of them."""

    kind: str = "gene"
    double: bool = False
    ids: tuple[str, ...] | None = None
    limit: int | None = None
    workers: int | None = None
    out: Path | None = None
    progress: bool = False


LETHAL = "growth < 0.01 x wild type, or infeasible"


@dataclass
class DeletionsResult(_Result):
    model: str
    kind: str
    double: bool
    wild_type_growth: float
    lp_solved: int
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """One row per knockout: ``ids`` (``;``-joined), ``growth`` (1/h), ``lethal``,
        ``relative`` (to the wild type)."""
        return self.table.copy()

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "kind": self.kind,
            "double": self.double,
            "wild_type_growth": self.wild_type_growth,
            "lethal_threshold": LETHAL,
            "n_knockouts": len(self.table),
            "n_lethal": int(self.table["lethal"].sum()),
            "lp_solved": self.lp_solved,
            "results": self.table.to_dict(orient="records"),
            "out": self.files[0] if self.files else None,
        }


def deletions(request: DeletionsRequest) -> DeletionsResult:
    """Knock out, grow, compare with the wild type; write the table when asked."""
    from biofab.core.errors import ModelError
    from biofab.metabolism.deletions import KINDS, double_deletions, single_deletions

    if request.kind not in KINDS:
        raise ModelError("unknown --kind", expected="gene or reaction", found=request.kind)
    if request.limit is not None:
        _at_least(request.limit, "limit", 1)
    workers = _workers(request.workers)
    m = request.open()
    chosen = _nonempty(request.ids, "ids")
    if chosen is None:
        chosen = [x.id for x in (m.genes if request.kind == "gene" else m.reactions)]
    chosen = chosen[: request.limit]
    label = f"{'double' if request.double else 'single'} {request.kind} deletions"
    label_or_none = label if request.progress else None
    if request.double:
        frame = double_deletions(
            m, chosen, kind=request.kind, workers=workers, description=label_or_none
        )
    else:
        frame = single_deletions(m, request.kind, chosen, workers, description=label_or_none)
    wild_type = float(frame.attrs["wild_type"])
    table = frame.copy()
    table["ids"] = [";".join(sorted(s)) for s in frame["ids"]]
    table["relative"] = table["growth"] / wild_type if wild_type else float("nan")
    result = DeletionsResult(
        request.model,
        request.kind,
        request.double,
        wild_type,
        int(frame.attrs["lp_solved"]),
        table,
    )
    if request.out is not None:
        result.files = [_write_text(request.out, table.to_csv(index=False))]
    return result


# ---------------------------------------------------------------------------------------
# dynamic FBA
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DfbaRequest:
    """Dynamic FBA of a batch / fed-batch ``scenario`` (YAML path or parsed
    :class:`~biofab.metabolism.scenario.Scenario`): ``method`` ``adaptive`` (events) or
    ``euler`` (fixed step ``dt`` h); ``out``: trajectory CSV; ``plot``: HTML page;
    ``title``: the page's (default: the scenario file's stem or name)."""

    scenario: str | Path | Scenario
    out: Path | None = None
    plot: Path | None = None
    method: str = "adaptive"
    dt: float = 0.01
    title: str | None = None
    progress: bool = False


@dataclass
class DfbaWorkflowResult(_Result):
    """The :class:`~biofab.metabolism.dfba.DfbaResult` (trajectory, events, final state)."""

    result: DfbaResult

    def to_frame(self) -> pd.DataFrame:
        """Time (h), biomass (gDW/L), species (g/L), fluxes (mmol/gDW/h), phase."""
        return self.result.trajectory.copy()

    def summary(self) -> dict[str, Any]:
        data = dict(self.result.summary())
        data["out"] = next((f for f in self.files if not f.endswith(".html")), None)
        data["plot"] = next((f for f in self.files if f.endswith(".html")), None)
        return data


def _dfba_page(result: DfbaResult, title: str) -> str:
    from biofab.metabolism.dfba import trajectory_figure
    from biofab.viz import html_page

    final = {k: v for k, v in result.final().items() if k != "phase"}
    summary = (
        f"status {result.status}: {result.message}. {result.method}, "
        f"{result.runtime_s:.2f} s, {result.n_lp} LP solves, {len(result.trajectory)} rows."
    )
    return html_page(
        f"dFBA: {title}",
        [
            ("Concentrations and growth", trajectory_figure(result)),
            ("", summary),
            ("Events", result.events.copy()),
            ("Final state", pd.DataFrame([final])),
        ],
        subtitle="biomass gDW/L, species g/L, time h, fluxes mmol/gDW/h",
    )


def dfba(request: DfbaRequest) -> DfbaWorkflowResult:
    """Load the scenario and model (every id checked first), simulate, write CSV and page."""
    from biofab.core.progress import progress
    from biofab.metabolism.dfba import DynamicFBA
    from biofab.metabolism.scenario import Scenario

    if request.method not in ("adaptive", "euler"):
        raise InputError("unknown --method", expected="adaptive or euler", found=request.method)
    if not (math.isfinite(request.dt) and request.dt > 0):
        raise InputError("--dt must be positive", found=request.dt)
    _distinct(request.out, request.plot)
    given = request.scenario
    sc = given if isinstance(given, Scenario) else Scenario.from_yaml(given)
    title = request.title or (Path(given).stem if not isinstance(given, Scenario) else sc.name)
    sim = DynamicFBA(sc)
    percent = 0
    with progress("dFBA (% of t_end)", 100, enabled=request.progress, every=2.0) as bar:

        def step(t: float) -> None:
            nonlocal percent
            now = min(100, int(100 * t / sc.t_end)) if sc.t_end > 0 else 100
            if now > percent:
                bar.advance(now - percent, note=f"{t:.2f} h")
                percent = now

        res = sim.simulate(method=request.method, dt=request.dt, progress=step)
    texts: dict[Path, str] = {}
    if request.out is not None:
        texts[request.out] = res.trajectory.to_csv(index=False)
    if request.plot is not None:
        texts[request.plot] = _dfba_page(res, title)
    result = DfbaWorkflowResult(res)
    result.files = [_write_text(path, text) for path, text in texts.items()]
    return result


# ---------------------------------------------------------------------------------------
# strain design: knockouts, envelopes, minimal media
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DesignRequest(ModelRequest):
    """Growth-coupled knockouts for ``target`` (OptKnock MILP with a tilted inner
    objective, each design verified by FVA): at most ``max_knockouts`` reactions of
    ``candidates`` (None: all eligible), ``designs`` distinct ones, growth at least
    ``min_growth`` (a fraction of wild-type growth, or 1/h with ``absolute``),
    ``time_limit`` s per MILP, stopping at relative gap ``mip_gap`` (0: proved
    optimal); ``lump`` compresses the network first (blocked out, coupled
    reactions lumped); ``exclude_subsystems`` drops whole subsystems from the
    candidates; ``method`` ``milp`` or ``search`` (exact search over deletions that
    hit the flux support, one best design); ``plot``: production envelopes of
    the first three (HTML)."""

    target: str
    max_knockouts: int = 3
    min_growth: float = 0.1
    absolute: bool = False
    candidates: tuple[str, ...] | None = None
    designs: int = 3
    require_gpr: bool = False
    time_limit: float = 60.0
    mip_gap: float = 1e-4
    lump: bool = True
    exclude_subsystems: tuple[str, ...] = ()
    method: str = "milp"
    plot: Path | None = None


@dataclass
class DesignResult(_Result):
    """The OptKnock result (:class:`biofab.metabolism.design.DesignResult`)."""

    model: str
    result: OptKnockResult

    def to_frame(self) -> pd.DataFrame:
        """One row per design: knockouts, growth (1/h), production range (mmol/gDW/h)."""
        return self.result.frame()

    def summary(self) -> dict[str, Any]:
        data = dict(self.result.as_dict())
        data["model"] = self.model
        if self.files:
            data["plot"] = self.files[0]
        return data


def design(request: DesignRequest) -> DesignResult:
    """Find the designs, draw their envelopes when asked, write the page."""
    from biofab.metabolism.design import optknock
    from biofab.metabolism.envelope import envelope_figure, production_envelope

    _at_least(request.max_knockouts, "max_knockouts", 1)
    _at_least(request.designs, "designs", 1)
    m = request.open()
    res = optknock(
        m,
        request.target,
        max_knockouts=request.max_knockouts,
        min_growth=request.min_growth,
        relative=not request.absolute,
        candidates=_nonempty(request.candidates, "candidates"),
        n_designs=request.designs,
        require_gpr=request.require_gpr,
        time_limit=request.time_limit,
        mip_gap=request.mip_gap,
        lump=request.lump,
        exclude_subsystems=request.exclude_subsystems,
        method=request.method,
    )
    result = DesignResult(request.model, res)
    if request.plot is not None:
        from biofab.viz import html_page

        curves = {"wild type": production_envelope(m, request.target)}
        for d in res.designs[:3]:
            curves["Δ " + ", ".join(d.knockouts)] = production_envelope(
                m, request.target, d.knockouts
            )
        page = html_page(
            f"Growth-coupled designs for {request.target}",
            [
                ("Production envelopes", envelope_figure(curves, request.target)),
                ("Designs", res.frame()),
            ],
            subtitle=f"{request.model}: max {request.max_knockouts} knockouts, growth >= "
            f"{res.min_growth:.4g} 1/h; wild type grows at {res.wild_type_growth:.4g} 1/h",
        )
        result.files = [_write_text(request.plot, page)]
    return result


@dataclass(frozen=True, kw_only=True)
class EnvelopeRequest(ModelRequest):
    """Min and max ``target`` flux at ``points`` growth rates from 0 to the maximum, for
    the wild type and (with ``knockouts``, reaction or gene ids) the design."""

    target: str
    knockouts: tuple[str, ...] = ()
    points: int = 20
    plot: Path | None = None


@dataclass
class EnvelopeResult(_Result):
    model: str
    target: str
    knockouts: list[str]
    curves: dict[str, pd.DataFrame]

    def to_frame(self) -> pd.DataFrame:
        """Every curve's rows (growth 1/h, min/max flux mmol/gDW/h), a ``strain`` column."""
        return pd.concat(
            [c.assign(strain=label) for label, c in self.curves.items()], ignore_index=True
        )

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model,
            "target": self.target,
            "knockouts": self.knockouts,
            "envelopes": {k: v.to_dict(orient="list") for k, v in self.curves.items()},
        }
        if self.files:
            data["plot"] = self.files[0]
        return data


def envelope(request: EnvelopeRequest) -> EnvelopeResult:
    """Draw the envelopes; write the page when asked."""
    from biofab.metabolism.envelope import envelope_figure, production_envelope

    _at_least(request.points, "points", 2)
    m = request.open()
    curves = {"wild type": production_envelope(m, request.target, points=request.points)}
    kos = [k.strip() for k in request.knockouts if k.strip()]
    if kos:
        curves["Δ " + ", ".join(kos)] = production_envelope(
            m, request.target, kos, points=request.points
        )
    result = EnvelopeResult(request.model, request.target, kos, curves)
    if request.plot is not None:
        from biofab.viz import html_page

        page = html_page(
            f"Production envelope of {request.target}",
            [("Envelope", envelope_figure(curves, request.target))]
            + [(label, frame) for label, frame in curves.items()],
            subtitle=f"{request.model}; growth 1/h, flux mmol/gDW/h",
        )
        result.files = [_write_text(request.plot, page)]
    return result


@dataclass(frozen=True, kw_only=True)
class MinimalMediumRequest(ModelRequest):
    """The fewest medium components (``minimize="components"``, MILP) or the least total
    uptake (``"flux"``) that still allow ``min_growth`` (a fraction of the model's growth,
    or 1/h with ``absolute``)."""

    min_growth: float = 0.1
    absolute: bool = False
    minimize: str = "components"


@dataclass
class MinimalMediumResult(_Result):
    model: str
    minimize: str
    uptake: pd.Series

    def to_frame(self) -> pd.DataFrame:
        """One row per exchange: ``exchange``, ``uptake`` (mmol/gDW/h, positive)."""
        return self.uptake.rename("uptake").rename_axis("exchange").reset_index()

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "minimize": self.minimize,
            "components": len(self.uptake),
            "total_uptake": float(self.uptake.sum()),
            "uptake": self.uptake.to_dict(),
        }


def minimal_medium(request: MinimalMediumRequest) -> MinimalMediumResult:
    """Solve for the minimal medium."""
    from biofab.metabolism.minimal_medium import minimal_medium as solve

    m = request.open()
    mm = solve(m, request.min_growth, relative=not request.absolute, minimize=request.minimize)
    return MinimalMediumResult(request.model, request.minimize, mm)


# ---------------------------------------------------------------------------------------
# reconstruction and phenotype scoring
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconstructRequest:
    """Draft a model for ``proteome`` (protein FASTA) from ``templates`` (model, protein
    FASTA whose ids are its gene ids) by homology (``evalue`` cut-off; ``in_paralogs``:
    orthologs and their in-paralogs only) and weighted gap-filling until it grows at
    ``min_growth`` 1/h on each of ``media`` (names of ``media_db`` or files; with
    ``medium_uptake`` until every medium compound can be taken up too; with ``connect``
    first adding what lets blocked reactions with evidence carry flux, as CarveMe
    carves; with ``catabolic_uptake`` last making importable what the draft catabolises
    by homology but can neither import nor make); write ``out``. The three steps are on
    by default, the configuration ``benchmarks/reconstruction.py`` reports (the library's
    :func:`biofab.metabolism.reconstruct.reconstruct` leaves them off unless asked).

    With ``universe`` (a CarveMe universal model, SBML), a template whose name is a
    model of ``gpr_table`` (BiGG GPRs, e.g. iML1515) is that model's gene-reaction
    links laid over the universe, and the universe's other reactions are gap-filling
    candidates; ``biomass`` (``grampos``, ``gramneg``, ``bacteria``; column of
    ``biomass_db``) replaces the growth reaction. Homology hits are kept in
    ``hits_cache`` (default: ``.homology`` beside ``out``) and reused by any later run
    on the same proteomes and search settings."""

    proteome: Path
    templates: tuple[tuple[str, Path], ...]
    out: Path
    media: tuple[str, ...] = ("M9",)
    media_db: Path | None = None
    model_id: str | None = None
    min_growth: float = 0.1
    evalue: float = 1e-5
    cpus: int = 0
    in_paralogs: bool = True
    medium_uptake: bool = True
    universe: Path | None = None
    gpr_table: Path | None = None
    biomass: str | None = None
    biomass_db: Path | None = None
    hits_cache: Path | None = None
    use_cache: bool = True
    training: str = "divergence"
    show_progress: bool = True
    connect: bool = True
    catabolic_uptake: bool = True


@dataclass
class ReconstructResult(_Result):
    """The draft (:class:`biofab.metabolism.reconstruct.Reconstruction`)."""

    reconstruction: Reconstruction
    media: tuple[str, ...]
    runtime_s: float

    def to_frame(self) -> pd.DataFrame:
        """One row per gap-filling: ``medium``, ``step`` (growth | uptake | catabolic), ``added``
        (reactions), ``cost``, ``targets`` (compounds an uptake step made reachable)."""
        rows, n = [], len(self.media)
        medium_steps = [g for g in self.reconstruction.gapfilled if g.goal != "connect"]
        for i, g in enumerate(medium_steps):
            # Growth then uptake steps go medium by medium; the catabolic step reads
            # the first medium.
            at = 0 if g.goal == "catabolic" else i % n if n else -1
            rows.append(
                {
                    "medium": self.media[at] if n else "",
                    "step": g.goal,
                    "added": len(g.added),
                    "cost": g.cost,
                    "targets": ", ".join(getattr(g, "targets", ()) or ()),
                }
            )
        return pd.DataFrame(rows, columns=["medium", "step", "added", "cost", "targets"])

    def summary(self) -> dict[str, Any]:
        out = self.files[0] if self.files else None
        return self.reconstruction.summary() | {"out": out, "runtime_s": self.runtime_s}


def reconstruct(request: ReconstructRequest) -> ReconstructResult:
    """Search homologs, carry reactions over, gap-fill, then save the draft."""
    from biofab.metabolism.homology import read_fasta
    from biofab.metabolism.io import save_model
    from biofab.metabolism.media import get_medium
    from biofab.metabolism.reconstruct import reconstruct as build

    if not request.templates:
        raise InputError("no template", column="templates", expected="one or more models")
    t0 = time.perf_counter()
    seqs = read_fasta(request.proteome)
    media = [get_medium(m, request.media_db) for m in request.media]
    temps = _templates(request)
    cache = None
    if request.use_cache:
        cache = request.hits_cache or Path(request.out).parent / ".homology"
    rec = build(
        seqs,
        temps,
        media,
        model_id=request.model_id or Path(request.proteome).stem,
        min_growth=request.min_growth,
        evalue=request.evalue,
        cpus=request.cpus,
        in_paralogs=request.in_paralogs,
        medium_uptake=request.medium_uptake,
        connect=request.connect,
        catabolic_uptake=request.catabolic_uptake,
        training=request.training,
        cache=cache,
        show_progress=request.show_progress,
    )
    path = save_model(rec.model, request.out)
    return ReconstructResult(rec, request.media, time.perf_counter() - t0, files=[str(path)])


def _templates(request: ReconstructRequest) -> list[Any]:
    """The request's templates: plain models, or GPR-table models over the universe."""
    from biofab.metabolism.homology import read_fasta
    from biofab.metabolism.reconstruct import Template
    from biofab.metabolism.universe import (
        gpr_template,
        load_universe,
        read_biomass,
        read_gpr_table,
        set_biomass,
    )

    if request.universe is None:
        for opt in ("gpr_table", "biomass"):
            if getattr(request, opt) is not None:
                raise InputError(f"{opt} needs a universe", column=opt, expected="--universe FILE")
        return [Template.load(t, f) for t, f in request.templates]
    if request.gpr_table is None:
        raise InputError("a universe needs a GPR table", column="gpr_table", expected="a CSV")
    universe = load_universe(request.universe)
    if request.biomass is not None:
        if request.biomass_db is None:
            raise InputError("--biomass needs --biomass-db", column="biomass_db")
        set_biomass(universe, read_biomass(request.biomass_db, request.biomass))
    rules = read_gpr_table(request.gpr_table)
    temps = []
    for name, fasta in request.templates:
        if name not in rules:
            raise InputError(
                "template is not a model of the GPR table", file=str(request.gpr_table),
                column="model", expected=", ".join(sorted(rules)), found=name,
            )  # fmt: skip
        temps.append(gpr_template(universe, rules[name], read_fasta(fasta), name))
    return temps


@dataclass(frozen=True)
class EssentialityRequest:
    """Predict gene essentiality of ``model`` (growth < ``threshold`` x wild type on
    ``medium``, None: the model's) and score it against ``truth`` (TSV: bigg_id,
    phenotype E/NE); ``unlisted_nonessential``: model genes absent from it count as
    non-essential; ``out``: the per-gene table (CSV)."""

    model: str
    truth: Path
    medium: str | None = None
    media_db: Path | None = None
    threshold: float = 0.01
    unlisted_nonessential: bool = False
    out: Path | None = None


@dataclass
class ScoreResult(_Result):
    """A phenotype benchmark: counts, confusion matrix and scores (``scores``), one
    line per problem found on the way (``warnings``), and the per-gene / per-well rows."""

    report: dict[str, Any]

    @property
    def warnings(self) -> list[str]:
        return list(self.report.get("warnings", []))

    def to_frame(self) -> pd.DataFrame:
        """One row: n, tp, fp, tn, fn, accuracy, precision, recall, mcc."""
        return pd.DataFrame([self.report["scores"]])

    def table(self) -> pd.DataFrame:
        """One row per scored gene (essentiality) or well (Biolog), with ``agree``."""
        rows = self.report.get("genes") or self.report.get("wells") or []
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        truth, pred = (
            ("essential", "predicted_essential")
            if "genes" in self.report
            else ("growth", "predicted")
        )
        return frame.assign(agree=frame[truth] == frame[pred])

    def summary(self) -> dict[str, Any]:
        return dict(self.report)


def _threshold(value: float) -> float:
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise InputError("bad threshold", column="threshold", expected="0..1", found=value)
    return value


def _only_essential(table: Mapping[str, bool], path: Path) -> list[str]:
    if table and all(table.values()):
        return [
            f"{path} lists only essential genes: no non-essential gene is scored, so MCC is 0 "
            "whatever the model predicts; pass --unlisted-nonessential (unlisted_nonessential"
            "=True) to count the model's other genes as non-essential"
        ]
    return []


def essentiality(request: EssentialityRequest) -> ScoreResult:
    """Knock out every scored gene, call essential ones, score against the table."""
    from biofab.metabolism.io import load_model
    from biofab.metabolism.media import get_medium
    from biofab.metabolism.phenotypes import essentiality_benchmark, read_essentiality

    threshold = _threshold(request.threshold)
    table = read_essentiality(request.truth)
    m = load_model(request.model)
    notes = [] if request.unlisted_nonessential else _only_essential(table, request.truth)
    if request.unlisted_nonessential:
        table = {g.id: False for g in m.genes} | table
    med = get_medium(request.medium, request.media_db) if request.medium else None
    report = essentiality_benchmark(m, table, med, threshold=threshold, label=request.model)
    result = ScoreResult(report | {"warnings": notes})
    return _write_table(result, request.out)


def _write_table(result: ScoreResult, out: Path | None) -> ScoreResult:
    if out is not None:
        result.files = [_write_text(out, result.table().to_csv(index=False))]
    return result


@dataclass(frozen=True)
class BiologRequest:
    """Predict Biolog growth of ``model`` (growth > ``threshold`` x growth on the base
    ``medium``; the tested compound replaces the medium's own source of the plate's
    element, found from its composition unless ``sources`` names them: plate
    (carbon, nitrogen, phosphorus, sulfur) -> compounds) and score it against the
    ``truth`` folder of ``biolog_{carbon,nitrogen,...}.tsv``; ``out``: the per-well
    table (CSV)."""

    model: str
    truth: Path
    medium: str = "M9"
    media_db: Path | None = None
    threshold: float = 0.01
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    out: Path | None = None


def biolog(request: BiologRequest) -> ScoreResult:
    """Grow on every well's medium, score against the plates."""
    from biofab.metabolism.io import load_model
    from biofab.metabolism.media import get_medium
    from biofab.metabolism.phenotypes import biolog_benchmark, read_biolog

    threshold = _threshold(request.threshold)
    tests = read_biolog(request.truth)
    base = get_medium(request.medium, request.media_db)
    m = load_model(request.model)
    report = biolog_benchmark(
        m, tests, base, threshold=threshold, sources=request.sources, label=request.model
    )
    return _write_table(ScoreResult(report), request.out)
