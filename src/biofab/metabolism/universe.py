"""A universal reaction model and sequence-backed templates over it.

CarveMe reconstructs top-down: a curated *universal* model holds every reaction
known in a clade (BiGG namespace), and an organism's model is carved out of it
(Machado et al. 2018, Nucleic Acids Res 46:7542). Here the universe supplies the
reactions; *templates* supply the evidence. A template is a curated organism's
gene-reaction links (BiGG GPRs, e.g. iYO844 for B. subtilis, iML1515 for E. coli)
plus the protein sequences of its genes: a target protein similar to a template
gene is evidence for that gene's reactions. Reactions no template links to a gene
(transporters and catabolic routes the templates lack) stay in the universe as
gap-filling candidates.

* :func:`load_universe`: CarveMe's universe SBML with compartments renamed to the
  BiGG one-letter ids (``C_c`` -> ``c``) so media and exchanges work as for any model.
* :func:`set_biomass`: the growth reaction rebuilt from ``biomass_db.tsv`` for a
  Gram type (``grampos``, ``gramneg``, ``bacteria``), coefficients in mmol/gDW.
* :func:`read_gpr_table` / :func:`gpr_template`: the BiGG GPR table
  (``gene, protein, reaction, model``; ``protein`` joins complex subunits with ``+``)
  turned into a :class:`~biofab.metabolism.reconstruct.Template` over the universe.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from biofab.core.errors import InputError

if TYPE_CHECKING:
    import cobra

    from biofab.metabolism.reconstruct import Template

GRAM_TYPES = ("grampos", "gramneg", "bacteria")
_GPR_COLUMNS = ("gene", "protein", "reaction", "model")


def _strip(prefix: str, x: str) -> str:
    return x[len(prefix) :] if x.startswith(prefix) else x


def load_universe(path: str | os.PathLike[str]) -> cobra.Model:
    """A CarveMe universe (SBML, gzipped or not) with BiGG one-letter compartments."""
    import cobra

    p = Path(path)
    if not p.is_file():
        raise InputError("universe model not found", file=str(p), expected="an SBML file")
    try:
        m = cobra.io.read_sbml_model(str(p))
    except Exception as exc:  # libSBML/COBRApy raise many types for a bad file
        raise InputError("cannot read universe SBML", file=str(p), found=str(exc)[:80]) from None
    names = dict(m.compartments)
    for met in m.metabolites:
        met.compartment = _strip("C_", met.compartment)
    m.compartments = {_strip("C_", k): v for k, v in names.items()}
    m.repair()
    return m


def read_biomass(path: str | os.PathLike[str], column: str) -> dict[str, float]:
    """Biomass coefficients (metabolite id with compartment -> mmol/gDW; negative:
    consumed) of ``column`` (``grampos``, ``gramneg``, ``bacteria`` or a model id) of
    CarveMe's ``biomass_db.tsv``."""
    p = Path(path)
    rows = list(csv.DictReader(p.open(encoding="utf-8"), delimiter="\t"))
    col = column if column.startswith("@") else f"@{column}"
    if not rows or col not in rows[0]:
        choices = [c.lstrip("@") for c in (rows[0] if rows else {}) if c.startswith("@")]
        raise InputError(
            "no such biomass column", file=str(p), column=column,
            expected=", ".join(choices), found=column,
        )  # fmt: skip
    out: dict[str, float] = {}
    for i, r in enumerate(rows, start=1):
        raw = (r.get(col) or "").strip()
        if not raw:
            continue
        try:
            out[f"{r['bigg_id']}_{r['comp']}"] = float(raw)
        except ValueError:
            raise InputError(
                "bad biomass coefficient", file=str(p), row=i, column=col,
                expected="a number", found=raw,
            ) from None  # fmt: skip
    if not out:
        raise InputError("biomass column is empty", file=str(p), column=col)
    return out


def set_biomass(model: cobra.Model, coefficients: dict[str, float], rid: str = "Growth") -> None:
    """Replace (or add) reaction ``rid`` with ``coefficients`` and make it the objective.

    Every metabolite must exist in ``model`` (:class:`InputError` names the first missing)."""
    import cobra

    missing = [m for m in coefficients if m not in model.metabolites]
    if missing:
        raise InputError(
            "biomass names metabolites the universe lacks",
            expected="metabolites of the universe", found=", ".join(missing[:5]),
        )  # fmt: skip
    if rid in model.reactions:
        model.remove_reactions([rid])
    rxn = cobra.Reaction(rid, name=f"biomass ({rid})", lower_bound=0.0, upper_bound=1000.0)
    model.add_reactions([rxn])
    rxn.add_metabolites({model.metabolites.get_by_id(m): c for m, c in coefficients.items()})
    model.objective = {rxn: 1.0}


def read_gpr_table(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """BiGG GPRs per model: ``{model: {reaction id: rule}}`` from a CarveMe ``bigg_gprs``
    table (BiGG ``G_``/``R_``/``P_`` prefixes removed; complexes AND, isozymes OR)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("GPR table not found", file=str(p))
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != _GPR_COLUMNS:
            raise InputError(
                "not a BiGG GPR table", file=str(p), row=0,
                expected=",".join(_GPR_COLUMNS), found=",".join(reader.fieldnames or ()),
            )  # fmt: skip
        proteins: dict[tuple[str, str], set[str]] = defaultdict(set)
        for i, r in enumerate(reader, start=1):
            if not all(r.get(c) for c in _GPR_COLUMNS):
                raise InputError(
                    "empty field in GPR table", file=str(p), row=i,
                    column=next(c for c in _GPR_COLUMNS if not r.get(c)), expected="a value",
                )  # fmt: skip
            key = (r["model"], _strip("R_", r["reaction"]))
            proteins[key].add(_strip("P_", r["protein"]))
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for (model, rid), prots in proteins.items():
        alts = []
        for prot in sorted(prots):
            genes = sorted({_strip("G_", g) for g in prot.split("+") if g})
            alts.append(genes[0] if len(genes) == 1 else "(" + " and ".join(genes) + ")")
        out[model][rid] = " or ".join(alts)
    return dict(out)


def gpr_template(
    universe: cobra.Model,
    rules: dict[str, str],
    proteome: dict[str, str],
    name: str,
) -> Template:
    """A template over ``universe``: its reactions with ``rules`` (reaction id -> GPR)
    set, the rest geneless, and the sequences of the rule genes found in ``proteome``.

    ``Template.known`` is the set of reactions the template links to genes; the
    others are universe-only (candidates, never free). Rules of reactions the
    universe lacks are dropped (counted in ``Template.dropped``)."""
    from biofab.metabolism.reconstruct import Template

    m = universe.copy()
    m.id = name
    known = set()
    for rxn in m.reactions:  # a universe's own gene links (if any) are not this template's
        rxn.gene_reaction_rule = rules.get(rxn.id, "")
        if rxn.id in rules:
            known.add(rxn.id)
    import cobra

    cobra.manipulation.remove_genes(m, [g for g in m.genes if not g.reactions])
    # Sequences of every gene the rules name, also of genes whose reactions the universe
    # lacks: a target protein's best hit must be its true counterpart, not the nearest
    # gene that happens to have a universe reaction.
    genes = {g.strip("() ") for rule in rules.values() for g in rule.split()} - {"and", "or"}
    prot = {k: v for k, v in proteome.items() if k in genes}
    if not prot:
        raise InputError(
            f"no protein of template '{name}' has a sequence",
            expected=f"FASTA ids like {', '.join(sorted(genes)[:3])}",
            found=next(iter(proteome), "no records"),
        )
    return Template(m, prot, name, known=known, dropped=len(rules) - len(known))
