"""Turnover numbers (kcat) and protein masses for enzyme-constrained models.

A *kcat table* has one row per reaction (optionally per reaction and gene, for
isoenzymes with their own kcat): columns ``reaction`` and ``kcat`` (1/s), and
optionally ``log10_std`` (uncertainty of log10 kcat, used to sample ensembles),
``gene``, ``uniprot``, ``ec`` and ``source``. :func:`read_kcat_table` checks it;
:func:`kcats_from_predictor` makes one from any kcat predictor;
:func:`ecoli_kcat_table` builds one for an E. coli model from CatPred-DB
(Boorla & Maranas 2025, Nat Commun 16:2072) measurements.

Protein molecular weights (g/mol) come from sequences with average amino-acid
residue masses (:func:`protein_mass`), so no Biopython is needed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biofab.core.errors import InputError
from biofab.metabolism.homology import read_fasta

if TYPE_CHECKING:
    import cobra
    import pandas as pd

# Average masses of amino-acid residues (Da, i.e. g/mol, residue = amino acid less
# one water), the table of ExPASy's Compute pI/Mw and PeptideMass tools
# (Gasteiger et al. 2005, The Proteomics Protocols Handbook, 571-607). U and O are
# selenocysteine and pyrrolysine.
RESIDUE_MASS = {
    "A": 71.0788, "R": 156.1875, "N": 114.1038, "D": 115.0886, "C": 103.1388,
    "E": 129.1155, "Q": 128.1307, "G": 57.0519, "H": 137.1411, "I": 113.1594,
    "L": 113.1594, "K": 128.1741, "M": 131.1926, "F": 147.1766, "P": 97.1167,
    "S": 87.0782, "T": 101.1051, "W": 186.2132, "Y": 163.1760, "V": 99.1326,
    "U": 150.0388, "O": 237.3018,
}  # fmt: skip
WATER = 18.01524  # g/mol, added once per chain (the free N- and C-termini)
# Ambiguity codes take the mean of their candidates; X the mean of the 20 standard ones.
_AMBIGUOUS = {
    "B": ("D", "N"),
    "Z": ("E", "Q"),
    "J": ("I", "L"),
    "X": tuple("ARNDCEQGHILKMFPSTWYV"),
}
for _code, _options in _AMBIGUOUS.items():
    RESIDUE_MASS[_code] = sum(RESIDUE_MASS[a] for a in _options) / len(_options)

# Genes that stand for "no enzyme" in BiGG models (spontaneous reactions, iJO1366's s0001).
SPONTANEOUS_GENES = frozenset({"s0001", "s0002", "spontaneous", "SPONTANEOUS"})

KCAT_COLUMNS = ("reaction", "kcat")
OPTIONAL_COLUMNS = ("log10_std", "gene", "uniprot", "ec", "source")


# -- protein masses ------------------------------------------------------------
def protein_mass(sequence: str) -> float:
    """Average molecular weight of a protein chain, g/mol.

    Stop symbols ``*`` are not residues and are skipped (proteome FASTAs
    translate pseudogenes through their internal stops).

    Raises :class:`InputError` on a character that is not an amino-acid code.
    """
    seq = sequence.strip().upper().replace("*", "")
    total = WATER
    for aa in seq:
        try:
            total += RESIDUE_MASS[aa]
        except KeyError:
            raise InputError(
                "not a protein sequence", expected="amino-acid letters", found=aa
            ) from None
    return total


def protein_masses(path: str | os.PathLike[str]) -> dict[str, float]:
    """``{protein id: MW in g/mol}`` for every sequence of a FASTA proteome."""
    out = {}
    for pid, seq in read_fasta(path).items():
        try:
            out[pid] = protein_mass(seq)
        except InputError as err:
            raise InputError(
                err.message, file=str(path), expected=err.expected, found=f"{pid}: {err.found}"
            ) from None
    return out


# -- kcat tables ---------------------------------------------------------------
def _read_frame(path: Path) -> pd.DataFrame:
    import pandas as pd

    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        return pd.read_csv(path, sep=sep, dtype={"reaction": str, "gene": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"unreadable table ({err.__class__.__name__})", file=str(path)) from None


def validate_kcat_table(frame: pd.DataFrame, *, label: str | None = None) -> pd.DataFrame:
    """A checked copy of a kcat table (see the module docstring).

    Missing, non-numeric, zero or negative ``kcat`` and negative or missing
    ``log10_std`` (when the column exists) raise :class:`InputError` naming the
    row (data rows count from 1) and column.
    """
    import pandas as pd

    missing = [c for c in KCAT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            "kcat table lacks a required column",
            file=label,
            column=missing[0],
            expected="columns " + ", ".join(KCAT_COLUMNS),
            found=", ".join(map(str, frame.columns)) or "no columns",
        )
    df = frame.copy()
    for row, rxn in enumerate(df["reaction"], start=1):
        if not isinstance(rxn, str) or not rxn.strip():
            raise InputError("missing reaction id", file=label, row=row, column="reaction")
    df["reaction"] = df["reaction"].str.strip()
    numeric = {"kcat": "a positive number (1/s)", "log10_std": "a number >= 0 (log10 units)"}
    for col, expected in numeric.items():
        if col not in df.columns:
            continue
        values = pd.to_numeric(df[col], errors="coerce")
        for row, (raw, val) in enumerate(zip(df[col], values, strict=True), start=1):
            bad = not math.isfinite(val) if isinstance(val, float) else False
            bad = bad or (val <= 0 if col == "kcat" else val < 0)
            if bad:
                found = None if raw is None or (isinstance(raw, float) and math.isnan(raw)) else raw
                msg = "missing value" if found is None else "invalid value"
                raise InputError(
                    msg, file=label, row=row, column=col, expected=expected, found=found
                )
        df[col] = values.astype(float)
    return df


def read_kcat_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and check a kcat table (CSV, or TSV for ``.tsv``); see :func:`validate_kcat_table`."""
    p = Path(path)
    if not p.exists():
        raise InputError("kcat table not found", file=str(p))
    return validate_kcat_table(_read_frame(p), label=str(p))


KcatPredictor = Callable[[Sequence[Any]], Any]
"""``predict(reactions) -> (log10_kcat_mean, log10_kcat_std)``: arrays over the
COBRApy reactions given, kcat in 1/s. A bare array (means only) is accepted too."""


def kcats_from_predictor(
    model: cobra.Model, predict: KcatPredictor, reactions: Iterable[str] | None = None
) -> pd.DataFrame:
    """A kcat table from a predictor called once on the enzymatic reactions of ``model``.

    ``predict`` gets COBRApy reactions and returns log10 kcat means (1/s) and,
    optionally, their standard deviations (log10 units) which
    :func:`biofab.metabolism.ecmodel.sample_ensemble` samples from.
    """
    import pandas as pd

    ids = (
        list(reactions)
        if reactions is not None
        else [r.id for r in model.reactions if enzyme_genes(r)]
    )
    rxns = [model.reactions.get_by_id(r) for r in ids]
    result = predict(rxns)
    if isinstance(result, tuple) and len(result) == 2:
        mean, std = (np.asarray(x, dtype=float).ravel() for x in result)
    else:
        mean, std = np.asarray(result, dtype=float).ravel(), np.zeros(len(ids))
    if mean.shape != (len(ids),) or std.shape != (len(ids),):
        raise InputError(
            "kcat predictor returned the wrong number of values",
            expected=f"{len(ids)} means and stds",
            found=f"{mean.shape[0]} and {std.shape[0]}",
        )
    frame = pd.DataFrame(
        {"reaction": ids, "kcat": 10.0**mean, "log10_std": std, "source": "predictor"}
    )
    return validate_kcat_table(frame, label="kcat predictor")


def enzyme_genes(reaction: cobra.Reaction) -> set[str]:
    """Genes of ``reaction``'s GPR that stand for a protein (spontaneous ones dropped)."""
    return {g.id for g in reaction.genes} - SPONTANEOUS_GENES


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def read_catpred(paths: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """CatPred-DB rows (``uniprot``, ``ec``, ``log10_value`` = log10 kcat in 1/s) of the files."""
    import pandas as pd

    frames = []
    for path in paths:
        p = Path(path)
        if not p.exists():
            raise InputError("CatPred file not found", file=str(p))
        df = _read_frame(p)
        need = [c for c in ("uniprot", "ec", "log10_value") if c not in df.columns]
        if need:
            raise InputError(
                "not a CatPred-DB table",
                file=str(p),
                expected="columns uniprot, ec, log10_value",
                found="missing " + ", ".join(need),
            )
        frames.append(df[["uniprot", "ec", "log10_value"]])
    data = pd.concat(frames, ignore_index=True)
    data = data[np.isfinite(pd.to_numeric(data["log10_value"], errors="coerce"))]
    data["log10_value"] = data["log10_value"].astype(float)
    return data


def ecoli_kcat_table(
    model: cobra.Model,
    catpred: Sequence[str | os.PathLike[str]] | pd.DataFrame,
    *,
    log10_std: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """A kcat table for the enzymatic reactions of an E. coli model from CatPred-DB.

    Each reaction takes, in this order (the ``source`` column says which):

    * ``uniprot`` - the median log10 kcat of CatPred rows whose UniProt accession is
      that of one of the reaction's genes (``gene.annotation['uniprot']``),
      restricted to rows with the reaction's EC number when some agree (a
      promiscuous enzyme's other activities are then left out);
    * ``ec`` - the median over all organisms of rows with the reaction's EC
      number(s) (``reaction.annotation['ec-code']``, a string or a list);
    * ``default`` - the median of all rows.

    ``log10_std`` gives the uncertainty assumed per source (log10 units) for
    ensembles; the defaults grow as the match gets looser.
    """
    import pandas as pd

    data = catpred if isinstance(catpred, pd.DataFrame) else read_catpred(catpred)
    std = {"uniprot": 0.3, "ec": 0.8, "default": 1.1}
    std.update(log10_std or {})
    by_uniprot: dict[str, list[tuple[str, float]]] = {}
    by_ec: dict[str, list[float]] = {}
    for uni, ec, val in zip(data["uniprot"], data["ec"], data["log10_value"], strict=True):
        ecs = [e.strip() for e in str(ec).split(";")] if isinstance(ec, str) else []
        if isinstance(uni, str):
            by_uniprot.setdefault(uni, []).extend((e, val) for e in ecs or [""])
        for e in ecs:
            by_ec.setdefault(e, []).append(val)
    global_median = float(np.median(data["log10_value"]))

    rows = []
    for rxn in model.reactions:
        genes = sorted(enzyme_genes(rxn))
        if not genes:
            continue
        ecs = _as_list(rxn.annotation.get("ec-code"))
        uniprots = []
        for g in genes:
            uniprots += _as_list(model.genes.get_by_id(g).annotation.get("uniprot"))
        hits = [h for u in uniprots for h in by_uniprot.get(u, [])]
        agree = [v for e, v in hits if e in ecs]
        values = agree or [v for _, v in hits]
        if values:
            source, value = "uniprot", float(np.median(values))
        else:
            ec_values = [v for e in ecs for v in by_ec.get(e, [])]
            if ec_values:
                source, value = "ec", float(np.median(ec_values))
            else:
                source, value = "default", global_median
        rows.append(
            {
                "reaction": rxn.id,
                "kcat": 10.0**value,
                "log10_std": std[source],
                "source": source,
                "uniprot": ";".join(uniprots),
                "ec": ";".join(ecs),
            }
        )
    return pd.DataFrame(rows)
