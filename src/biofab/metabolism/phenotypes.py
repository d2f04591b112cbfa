"""Phenotype predictions scored against measurements: gene essentiality and Biolog.

Protocols follow CarveMe's benchmark (Machado et al. 2018, Nucleic Acids Res
46:7542):

* **Essentiality.** Each gene is deleted (every reaction whose GPR fails without
  it is closed) on the named medium; the gene is predicted *essential* when
  growth falls below ``threshold`` × wild-type growth (default 0.01, i.e. 1 %).
  Only genes in both the model and the truth table are scored; the counts of
  each are reported. Positive class: essential (``E``).
* **Biolog.** On a base medium (M9 in the benchmark) the tested compound replaces
  the medium's own source(s) of the element the plate tests (carbon, nitrogen,
  phosphorus, sulfur); growth is predicted when growth exceeds ``threshold`` ×
  growth on the base medium. A compound without an exchange reaction in the
  model is predicted no-growth. Positive class: growth (``+``/``++``).

  The base medium's sources are read from its composition (:func:`base_sources`),
  with the element content taken from the model's metabolite formulas:

  - *carbon source*: a medium compound containing C that is not inorganic carbon
    (CO2, HCO3-, CO3 2-, CO) and that the model can take up in bulk, i.e. whose
    largest possible uptake (growth not required) carries at least
    ``BULK_FRACTION`` (10 %) of the carbon of the largest such compound. The bulk
    test keeps vitamins and other trace supplements (ShewMM's thiamin, biotin,
    ...) in the medium: a model takes them only for biomass.
  - *nitrogen / phosphorus / sulfur source*: a medium compound containing N / P / S
    and no organic carbon (``nh4``, ``no3``, ``pi``, ``so4``, ``tsul``, ...); organic
    compounds carry these elements too but they are the carbon source or trace
    supplements, not what a Biolog N/P/S plate replaces.
  - a compound whose formula the model lacks falls back to the classic M9 source of
    its plate (``glc__D``, ``nh4``, ``pi``, ``so4``) when that is in the medium.

  Sources may also be named (``sources={"carbon": ["lac__L"]}``). A plate whose
  source cannot be found is still scored (the tested compound is added, nothing
  removed) and the report says so in one line under ``warnings``.

Growth rates are 1/h (the biomass flux), fluxes mmol/gDW/h. Each scan re-solves
one warm-started HiGHS LP (:class:`biofab.metabolism.lp.LinearProgram`).
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biofab.core.errors import InputError
from biofab.metabolism.lp import LinearProgram
from biofab.metabolism.media import Medium, apply_medium, exchange_map

if TYPE_CHECKING:
    import cobra

# The classic M9 compound of each Biolog plate: the fallback when a formula is missing.
BIOLOG_SOURCES = {"carbon": "glc__D", "nitrogen": "nh4", "phosphorus": "pi", "sulfur": "so4"}
PLATE_ELEMENT = {"carbon": "C", "nitrogen": "N", "phosphorus": "P", "sulfur": "S"}
INORGANIC_CARBON_IDS = frozenset({"co2", "hco3", "co3", "co"})
INORGANIC_CARBON_FORMULAS = frozenset({"CO2", "CHO3", "CO3", "CH2O3", "CO"})
BULK_FRACTION = 0.1  # share of the top carbon capacity a carbon source must reach
_GROWTH = {"+": True, "++": True, "-": False, "--": False}


@dataclass(frozen=True)
class Scores:
    """Confusion counts and the metrics derived from them (positive = the phenotype)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n if self.n else float("nan")

    @property
    def precision(self) -> float:
        d = self.tp + self.fp
        return self.tp / d if d else float("nan")

    @property
    def recall(self) -> float:
        d = self.tp + self.fn
        return self.tp / d if d else float("nan")

    @property
    def mcc(self) -> float:
        """Matthews correlation coefficient (0 when a margin is empty)."""
        d = (self.tp + self.fp) * (self.tp + self.fn) * (self.tn + self.fp) * (self.tn + self.fn)
        return (self.tp * self.tn - self.fp * self.fn) / math.sqrt(d) if d else 0.0

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = dict(asdict(self))
        out.update(
            n=self.n,
            accuracy=self.accuracy,
            precision=self.precision,
            recall=self.recall,
            mcc=self.mcc,
        )
        return out


def confusion(truth: Iterable[bool], predicted: Iterable[bool]) -> Scores:
    """:class:`Scores` of ``predicted`` against ``truth`` (same order)."""
    tp = fp = tn = fn = 0
    for t, p in zip(truth, predicted, strict=True):
        if p and t:
            tp += 1
        elif p:
            fp += 1
        elif t:
            fn += 1
        else:
            tn += 1
    return Scores(tp, fp, tn, fn)


def _read_table(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputError("truth table not found", file=str(path))
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for c in columns:
        if not rows or c not in rows[0]:
            raise InputError(
                "missing column", file=str(path), column=c, expected=", ".join(columns)
            )
    return rows


def read_essentiality(path: str | os.PathLike[str]) -> dict[str, bool]:
    """Gene id -> essential, from a table with columns ``bigg_id`` and ``phenotype`` (E/NE)."""
    p = Path(path)
    out = {}
    for i, row in enumerate(_read_table(p, ("bigg_id", "phenotype")), start=1):
        ph = (row["phenotype"] or "").strip()
        if ph not in ("E", "NE"):
            raise InputError(
                "bad phenotype",
                file=str(p),
                row=i,
                column="phenotype",
                expected="E or NE",
                found=ph,
            )
        out[row["bigg_id"].strip()] = ph == "E"
    return out


@dataclass(frozen=True)
class BiologTest:
    """One Biolog well: ``source`` (carbon/nitrogen/phosphorus/sulfur), BiGG
    compound id, its name, and whether the organism grew."""

    source: str
    compound: str
    name: str
    growth: bool


def read_biolog(folder: str | os.PathLike[str]) -> list[BiologTest]:
    """The ``biolog_<source>.tsv`` tables of ``folder`` (columns bigg_id, compound, growth)."""
    d = Path(folder)
    if not d.is_dir():
        raise InputError("Biolog folder not found", file=str(d))
    tests = []
    for source in BIOLOG_SOURCES:
        p = d / f"biolog_{source}.tsv"
        if not p.exists():
            continue
        for i, row in enumerate(_read_table(p, ("bigg_id", "growth")), start=1):
            g = (row["growth"] or "").strip()
            if g not in _GROWTH:
                raise InputError(
                    "bad growth call", file=str(p), row=i, column="growth",
                    expected="+, ++, - or --", found=g,
                )  # fmt: skip
            tests.append(
                BiologTest(
                    source, row["bigg_id"].strip(), row.get("compound", "") or "", _GROWTH[g]
                )
            )
    if not tests:
        raise InputError(
            "no Biolog tables", file=str(d), expected="biolog_carbon.tsv, biolog_nitrogen.tsv, ..."
        )
    return tests


def _knocked(gene: cobra.Gene) -> list[str]:
    return [r.id for r in gene.reactions if not r.gpr.eval({gene.id})]


def predict_essentiality(
    model: cobra.Model,
    medium: Medium | None = None,
    *,
    genes: Iterable[str] | None = None,
    threshold: float = 0.01,
    label: str | None = None,
) -> tuple[float, dict[str, float]]:
    """Wild-type growth (1/h) and growth after deleting each gene (all, or ``genes``
    that are in the model); essential means growth < ``threshold`` × wild type."""
    with model:
        if medium is not None:
            apply_medium(model, medium, strict=False, label=label)
        lp = LinearProgram.from_model(model)
    wt = lp.optimize(label=label).objective
    wanted = [g.id for g in model.genes] if genes is None else list(genes)
    growth = {}
    for gid in wanted:
        if gid not in model.genes:
            continue
        ko = _knocked(model.genes.get_by_id(gid))
        if not ko:
            growth[gid] = wt
            continue
        with lp.bounds(lp.indices(ko), 0.0, 0.0):
            sol = lp.solve()
        growth[gid] = sol.objective if sol.ok else 0.0
    return wt, growth


def essentiality_benchmark(
    model: cobra.Model,
    truth: dict[str, bool],
    medium: Medium | None = None,
    *,
    threshold: float = 0.01,
    label: str | None = None,
) -> dict[str, Any]:
    """Predicted vs measured essentiality on the genes both name (see module docstring)."""
    wt, growth = predict_essentiality(
        model, medium, genes=sorted(truth), threshold=threshold, label=label
    )
    scored = sorted(growth)
    pred = {g: growth[g] < threshold * wt for g in scored}
    scores = confusion([truth[g] for g in scored], [pred[g] for g in scored])
    return {
        "wild_type_growth": wt,
        "threshold": threshold,
        "genes_in_model": len(model.genes),
        "genes_in_truth": len(truth),
        "genes_scored": len(scored),
        "scores": scores.as_dict(),
        "genes": [
            {"gene": g, "growth": growth[g], "predicted_essential": pred[g], "essential": truth[g]}
            for g in scored
        ],
    }


def _elements(met: cobra.Metabolite) -> dict[str, float] | None:
    """Atom counts of ``met``'s formula, None when it has none or COBRApy cannot parse it."""
    if not met.formula:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # COBRApy warns on odd formulas; None says so here
        try:
            counts = met.elements
        except Exception:  # any parse failure means "formula unknown"
            return None
    return dict(counts) if counts else None


def _organic(cpd: str, met: cobra.Metabolite, counts: dict[str, float]) -> bool:
    if counts.get("C", 0) <= 0:
        return False
    return not (cpd in INORGANIC_CARBON_IDS or met.formula in INORGANIC_CARBON_FORMULAS)


def _bulk(lp: LinearProgram, column: int, cap: float) -> float:
    """Largest uptake (mmol/gDW/h, >= 0) through exchange ``column``, growth not required."""
    c = np.zeros(lp.n_reactions)
    c[column] = 1.0
    with lp.objective(c, "min"):
        sol = lp.solve()
    return min(cap, max(0.0, -sol.objective)) if sol.ok else 0.0


def base_sources(
    model: cobra.Model,
    base: Medium,
    *,
    plates: Iterable[str] = PLATE_ELEMENT,
    given: Mapping[str, Sequence[str]] | None = None,
    label: str | None = None,
) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """The compounds of ``base`` each Biolog plate replaces, and one-line warnings.

    The rule is in the module docstring; ``given`` (plate -> compounds) overrides it
    for the plates it names, and each compound it names must be in ``base``.
    """
    exchanges = exchange_map(model)
    given = dict(given or {})
    for plate, cpds in given.items():
        if plate not in PLATE_ELEMENT:
            raise InputError("unknown Biolog plate", found=plate, expected=", ".join(PLATE_ELEMENT))
        for c in cpds:
            if c not in base.compounds:
                raise InputError(
                    f"{plate} source is not in the base medium '{base.name}'",
                    found=c,
                    expected=", ".join(base.compounds),
                )
    present = [c for c in base.compounds if c in exchanges]
    met = {c: next(iter(exchanges[c].metabolites)) for c in present}
    counts = {c: _elements(met[c]) for c in present}
    organic = {c for c in present if counts[c] and _organic(c, met[c], counts[c])}  # type: ignore[arg-type]
    found: dict[str, tuple[str, ...]] = {}
    notes: list[str] = []
    for plate in plates:
        if plate in given:
            found[plate] = tuple(given[plate])
            continue
        el = PLATE_ELEMENT[plate]
        if plate == "carbon":
            picked = _carbon_sources(model, base, sorted(organic), counts, label)
        else:
            picked = [
                c
                for c in present
                if counts[c] and counts[c].get(el, 0) > 0 and c not in organic  # type: ignore[union-attr]
            ]
        classic = BIOLOG_SOURCES[plate]
        if not picked and classic in present and counts[classic] is None:
            picked = [classic]
        if not picked:
            notes.append(
                f"no {plate} source found in base medium '{base.name}' (rule: see "
                f"biofab.metabolism.phenotypes); {plate} wells add the tested compound and "
                f"remove nothing - name one with --{plate}-source"
            )
        found[plate] = tuple(picked)
    return found, notes


def _carbon_sources(
    model: cobra.Model,
    base: Medium,
    organic: list[str],
    counts: dict[str, dict[str, float] | None],
    label: str | None,
) -> list[str]:
    """Organic carbon compounds of ``base`` the model takes up in bulk (see module doc)."""
    if len(organic) <= 1:
        return organic
    exchanges = exchange_map(model)
    with model:
        apply_medium(model, base, strict=False, label=label)
        lp = LinearProgram.from_model(model)
    carbon = {
        c: _bulk(lp, lp.index[exchanges[c].id], base.rate(c)) * counts[c]["C"]  # type: ignore[index]
        for c in organic
    }
    top = max(carbon.values())
    if top <= 0:  # the model takes none of them up: the composition is all there is
        return organic
    return [c for c in organic if carbon[c] >= BULK_FRACTION * top]


def biolog_benchmark(
    model: cobra.Model,
    tests: Sequence[BiologTest],
    base: Medium,
    *,
    threshold: float = 0.01,
    sources: Mapping[str, Sequence[str]] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """Predicted vs measured Biolog growth (see module docstring).

    ``sources`` (plate -> compounds of ``base``) names the base medium's sources
    instead of finding them from its composition.
    """
    exchanges = exchange_map(model)
    plates = [p for p in PLATE_ELEMENT if any(t.source == p for t in tests)]
    replaced, notes = base_sources(model, base, plates=plates, given=sources, label=label)
    with model:
        apply_medium(model, base, strict=False, label=label)
        lp = LinearProgram.from_model(model)
    ref = lp.optimize(label=label).objective
    ex_idx = {c: lp.index[r.id] for c, r in exchanges.items()}
    rows = []
    for t in tests:
        if t.compound not in ex_idx:
            rows.append({**asdict(t), "has_exchange": False, "rate": 0.0, "predicted": False})
            continue
        opened = ex_idx[t.compound]
        closed = np.array(
            [ex_idx[c] for c in replaced[t.source] if c in ex_idx and c != t.compound],
            dtype=np.int32,
        )
        with (
            lp.bounds(closed, 0.0, lp.ub[closed]),
            lp.bounds([opened], -base.rate(t.compound), lp.ub[opened]),
        ):
            sol = lp.solve()
        rate = sol.objective if sol.ok else 0.0
        rows.append(
            {**asdict(t), "has_exchange": True, "rate": rate, "predicted": rate > threshold * ref}
        )
    scores = confusion([r["growth"] for r in rows], [r["predicted"] for r in rows])
    by_source = {
        s: confusion(
            [r["growth"] for r in rows if r["source"] == s],
            [r["predicted"] for r in rows if r["source"] == s],
        ).as_dict()
        for s in plates
    }
    return {
        "base_medium": base.name,
        "base_growth": ref,
        "base_sources": {p: list(c) for p, c in replaced.items()},
        "threshold": threshold,
        "tests": len(rows),
        "without_exchange": sum(not r["has_exchange"] for r in rows),
        "scores": scores.as_dict(),
        "by_source": by_source,
        "warnings": notes,
        "wells": rows,
    }
