"""Export designed or scored parts as FASTA, GenBank and SBOL3, and read them back.

A *parts table* is a DataFrame with ``id`` and ``sequence`` and, optionally,
``prediction`` and ``std`` (the model's mean and ensemble spread, in the
units the model was trained on, e.g. log10(TX/TXref) for LaFleur promoters),
``model`` (the estimator's name) and, for promoters, the hexamers ``minus35``
and ``minus10`` when they are known. :func:`parts_table` builds one from
whatever ``parts design`` or ``parts predict`` wrote (``name`` is accepted for
``id``; ``h35``/``h10`` as in LaFleur 2022 for the boxes).

Formats:

* **FASTA**: ``>id prediction=... std=... model=... kind=...``; the same
  ``key=value`` header words ``parts design`` writes, so predictions survive.
* **GenBank** (Biopython): one record per part, division ``SYN``, LOCUS name
  cut to GenBank's 16 characters and made unique, accession = the id (white
  space becomes ``_``). One feature spans the part, keyed as the synthetic
  biology tools (SnapGene, Benchling, ApE) show it: ``promoter``, ``RBS``,
  ``sig_peptide``, ``CDS``, with ``/label``, ``/prediction``, ``/std``,
  ``/model`` and a readable ``/note``. Promoters also get ``-35_signal`` and
  ``-10_signal`` features when the boxes are given or detected
  (:func:`find_sigma70_boxes`).
* **SBOL3** (pySBOL3): one ``Component`` per part (type DNA or protein, role
  from the Sequence Ontology), its ``Sequence`` (IUPAC DNA or protein
  encoding), the prediction and std as ``om:Measure`` children (unit
  ``om:one``: the values are whatever the model predicts, usually a log
  ratio), the model name as an annotation, and the σ70 boxes as
  ``SequenceFeature``s with roles SO:0000176 / SO:0000175. The document is
  validated before it is written; any validation error raises.

Every writer validates the whole table first, then writes atomically
(:func:`biofab.core.atomic.atomic_path`), so bad input leaves no file.
:func:`read_parts` reads any of the three back into a parts table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biofab.core.atomic import atomic_path, write_atomic
from biofab.core.errors import InputError
from biofab.parts.sequences import (
    check_sequence,
    is_fasta,
    is_genbank,
    parse_fasta,
    read_genbank,
    read_text_file,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class PartKind:
    """How one kind of part is written: alphabet, GenBank key and SO role."""

    name: str
    alphabet: str
    genbank_key: str
    so_role: str
    label: str


SO = "https://identifiers.org/SO:"

#: Kinds of part that can be exported. Sequence Ontology terms: promoter
#: SO:0000167, ribosome_entry_site SO:0000139, CDS SO:0000316, signal_peptide
#: SO:0000418.
PART_KINDS: dict[str, PartKind] = {
    "promoter": PartKind("promoter", "dna", "promoter", SO + "0000167", "promoter"),
    "rbs": PartKind("rbs", "dna", "RBS", SO + "0000139", "ribosome binding site"),
    "signal_peptide": PartKind(
        "signal_peptide", "protein", "sig_peptide", SO + "0000418", "signal peptide"
    ),
    "cds": PartKind("cds", "dna", "CDS", SO + "0000316", "coding sequence"),
}

FORMATS = ("fasta", "genbank", "sbol3")
SO_MINUS_35 = SO + "0000176"
SO_MINUS_10 = SO + "0000175"
SIGMA70_MINUS_35 = "TTGACA"
SIGMA70_MINUS_10 = "TATAAT"

#: Namespace of the SBOL3 objects unless the caller gives one.
DEFAULT_NAMESPACE = "https://biofab.example.org/parts"
#: Annotation predicates biofab adds to SBOL3 objects.
BIOFAB_NS = "https://biofab.example.org/ns#"
OM_ONE = "http://www.ontology-of-units-of-measure.org/resource/om-2/one"
LOCUS_MAX = 16

_SUFFIX_FORMAT = {
    **{s: "fasta" for s in (".fa", ".fasta", ".fna", ".faa", ".fas")},
    **{s: "genbank" for s in (".gb", ".gbk", ".genbank", ".gp")},
    **{s: "sbol3" for s in (".ttl", ".nt", ".xml", ".rdf", ".jsonld", ".sbol", ".sbol3")},
}


def part_kind(kind: str) -> PartKind:
    """The :class:`PartKind` named ``kind``; unknown names raise ``InputError``."""
    try:
        return PART_KINDS[kind]
    except KeyError:
        raise InputError("unknown part kind", expected=" | ".join(PART_KINDS), found=kind) from None


def export_format(fmt: str | None, out: str | Path | None = None) -> str:
    """``fasta``, ``genbank`` or ``sbol3``: ``fmt`` checked, or guessed from ``out``'s suffix."""
    if fmt is None:
        guess = _SUFFIX_FORMAT.get(Path(out).suffix.lower()) if out is not None else None
        if guess is None:
            raise InputError(
                "cannot tell the export format from the file name",
                expected="--format " + " | ".join(FORMATS),
                found=str(out),
            )
        return guess
    f = fmt.strip().lower()
    if f not in FORMATS:
        raise InputError("unknown export format", expected=" | ".join(FORMATS), found=fmt)
    return f


# -- the parts table ----------------------------------------------------------------------


def parts_table(
    frame: pd.DataFrame,
    kind: str = "promoter",
    *,
    file: str | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """A checked parts table from any table with a ``sequence`` column.

    ``id`` comes from ``id`` or ``name`` (default ``part_1``, ``part_2``, ...);
    ids must be unique. ``prediction``/``std`` must be numbers where given
    (empty cells are allowed); ``model`` (a column, or the argument for every
    row) names the predictor. Promoter boxes come from ``minus35``/``minus10``
    (or LaFleur's ``h35``/``h10``) hexamer columns. Raises a one-line
    ``InputError`` naming the row for a bad sequence, number or id.
    """
    import pandas as pd

    spec = part_kind(kind)
    if len(frame) == 0:
        raise InputError("no parts to export", file=file, expected="at least one row", found="0")
    if "sequence" not in frame.columns:
        raise InputError(
            "missing column",
            file=file,
            column="sequence",
            expected=f"one of {', '.join(map(str, frame.columns))}",
        )
    rows = range(1, len(frame) + 1)
    seqs = [
        check_sequence(s, spec.alphabet, file=file, row=r)
        for s, r in zip(frame["sequence"].tolist(), rows, strict=True)
    ]
    id_col = "id" if "id" in frame.columns else "name" if "name" in frame.columns else None
    if id_col is None:
        ids = [f"part_{r}" for r in rows]
    else:
        ids = []
        for value, r in zip(frame[id_col].tolist(), rows, strict=True):
            text = "" if _missing(value) else str(value).strip()
            if not text:
                raise InputError("missing id", file=file, row=r, column=id_col, found="")
            ids.append(text)
    seen: dict[str, int] = {}
    for i, r in zip(ids, rows, strict=True):
        if i in seen:
            raise InputError(
                f"duplicate id (also on row {seen[i]})", file=file, row=r, column=id_col, found=i
            )
        seen[i] = r
    out = pd.DataFrame({"id": ids, "sequence": seqs})
    for col in ("prediction", "std"):
        if col in frame.columns:
            out[col] = [
                _number(v, file, r, col) for v, r in zip(frame[col].tolist(), rows, strict=True)
            ]
    if "model" in frame.columns:
        out["model"] = ["" if _missing(v) else str(v) for v in frame["model"].tolist()]
    elif model is not None:
        out["model"] = model
    if spec.name == "promoter":
        for col, alias in (("minus35", "h35"), ("minus10", "h10")):
            src = col if col in frame.columns else alias if alias in frame.columns else None
            if src is not None:
                out[col] = [
                    ""
                    if _missing(v)
                    else check_sequence(v, "dna", 6, 6, file=file, row=r, column=src)
                    for v, r in zip(frame[src].tolist(), rows, strict=True)
                ]
    return out


def read_parts_table(
    path: str | Path, kind: str = "promoter", *, model: str | None = None
) -> pd.DataFrame:
    """A CSV/TSV (as ``parts design`` or ``parts predict`` write) -> :func:`parts_table`."""
    import io

    import pandas as pd

    p = Path(path)
    text = read_text_file(p, "a CSV table with a sequence column")
    sep = "\t" if p.suffix.lower() in (".tsv", ".tab") else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        msg = str(err).splitlines()[0] if str(err) else "parse error"
        raise InputError("cannot parse as a table", file=str(p), found=msg) from None
    return parts_table(frame, kind, file=str(p), model=model)


def _hexamer(value: object, file: str | None, row: int, column: str) -> str:
    return check_sequence(value, "dna", 6, 6, file=file, row=row, column=column)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _number(value: object, file: str | None, row: int, column: str) -> float:
    if _missing(value):
        return math.nan
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        x = math.nan
    if not math.isfinite(x):
        raise InputError(
            "not a finite number",
            file=file,
            row=row,
            column=column,
            expected="a number",
            found=value,
        )
    return x


def _value(row: Mapping[Any, Any], key: str) -> float | None:
    v = row.get(key)
    if v is None:
        return None
    x = float(v)
    return None if math.isnan(x) else x


def _text(row: Mapping[Any, Any], key: str) -> str | None:
    v = row.get(key)
    return None if _missing(v) else str(v)


# -- promoter boxes -----------------------------------------------------------------------


def _mismatches(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def find_sigma70_boxes(
    sequence: str,
    minus35: str | None = None,
    minus10: str | None = None,
    *,
    max_mismatches: int = 3,
    spacers: tuple[int, int] = (15, 19),
) -> tuple[int, int] | None:
    """0-based starts ``(minus35, minus10)`` of the σ70 boxes, or None.

    With both hexamers given, their exact occurrence separated by a spacer in
    ``spacers`` (nt, inclusive); otherwise the pair closest to the consensus
    TTGACA / TATAAT with at most ``max_mismatches`` in the 12 positions. Ties go
    to the spacer nearest 17 nt (the optimum for σ70; Harley & Reynolds 1987,
    Nucleic Acids Res 15:2343), then to the most downstream pair.
    """
    s = sequence.upper()
    known = minus35 is not None and minus10 is not None
    b35 = (minus35 or SIGMA70_MINUS_35).upper()
    b10 = (minus10 or SIGMA70_MINUS_10).upper()
    limit = 0 if known else max_mismatches
    lo, hi = spacers
    best: tuple[tuple[int, int, int], int, int] | None = None
    for i35 in range(0, len(s) - 12 - lo + 1):
        mm35 = _mismatches(s[i35 : i35 + 6], b35)
        if mm35 > limit:
            continue
        for spacer in range(lo, hi + 1):
            i10 = i35 + 6 + spacer
            if i10 + 6 > len(s):
                break
            mm = mm35 + _mismatches(s[i10 : i10 + 6], b10)
            if mm > limit:
                continue
            key = (mm, abs(spacer - 17), -i10)
            if best is None or key < best[0]:
                best = (key, i35, i10)
    return None if best is None else (best[1], best[2])


def _boxes(row: Mapping[Any, Any], spec: PartKind, detect: bool) -> tuple[int, int] | None:
    if spec.name != "promoter":
        return None
    m35, m10 = _text(row, "minus35"), _text(row, "minus10")
    if m35 and m10:
        return find_sigma70_boxes(str(row["sequence"]), m35, m10)
    return find_sigma70_boxes(str(row["sequence"])) if detect else None


# -- FASTA --------------------------------------------------------------------------------


def _header_id(i: str) -> str:
    return "_".join(i.split())


def fasta_text(parts: pd.DataFrame, kind: str = "promoter") -> str:
    """FASTA text: ``>id prediction=... std=... model=... kind=...`` then the sequence."""
    spec = part_kind(kind)
    lines = []
    for row in parts_table(parts, kind).to_dict("records"):
        words = [_header_id(str(row["id"]))]
        for key in ("prediction", "std"):
            x = _value(row, key)
            if x is not None:
                words.append(f"{key}={x!r}")
        m = _text(row, "model")
        if m:
            words.append(f"model={_header_id(m)}")
        words.append(f"kind={spec.name}")
        lines.append(">" + " ".join(words) + "\n" + str(row["sequence"]) + "\n")
    return "".join(lines)


def write_fasta(parts: pd.DataFrame, path: str | Path, kind: str = "promoter") -> Path:
    """Write ``parts`` as FASTA to ``path`` (atomic); returns the path."""
    return write_atomic(path, fasta_text(parts, kind))


def read_fasta_parts(path: str | Path, kind: str = "promoter") -> pd.DataFrame:
    """A FASTA file -> parts table; ``key=value`` header words fill prediction/std/model."""
    import pandas as pd

    p = Path(path)
    spec = part_kind(kind)
    text = p.read_text()
    ids, seqs = parse_fasta(text, file=str(p))
    headers = [line[1:].split() for line in text.splitlines() if line.strip().startswith(">")]
    rows: list[dict[str, Any]] = []
    for n, (i, s, words) in enumerate(zip(ids, seqs, headers, strict=True), start=1):
        row: dict[str, Any] = {
            "id": i,
            "sequence": check_sequence(s, spec.alphabet, file=str(p), row=n, column=None),
        }
        for w in words[1:]:
            key, eq, value = w.partition("=")
            if not eq:
                continue
            if key in ("prediction", "std"):
                row[key] = _number(value, str(p), n, key)
            elif key == "model":
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows)


# -- GenBank ------------------------------------------------------------------------------


def _locus_names(ids: list[str]) -> list[str]:
    """LOCUS names: letters, digits, ``_ - .`` only, at most 16 characters, unique."""
    out: list[str] = []
    taken: set[str] = set()
    for n, i in enumerate(ids, start=1):
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", i)[:LOCUS_MAX] or f"part_{n}"
        name, k = base, 1
        while name in taken:
            k += 1
            tail = f"_{k}"
            name = base[: LOCUS_MAX - len(tail)] + tail
        taken.add(name)
        out.append(name)
    return out


def genbank_records(
    parts: pd.DataFrame, kind: str = "promoter", *, detect_boxes: bool = True
) -> list[Any]:
    """Biopython ``SeqRecord``s, one per part, with the annotated part feature."""
    import datetime

    from Bio.Seq import Seq
    from Bio.SeqFeature import SeqFeature, SimpleLocation
    from Bio.SeqRecord import SeqRecord

    spec = part_kind(kind)
    dna = spec.alphabet == "dna"
    today = datetime.date.today().strftime("%d-%b-%Y").upper()
    records = []
    rows = parts_table(parts, kind).to_dict("records")
    for row, locus in zip(rows, _locus_names([str(r["id"]) for r in rows]), strict=True):
        pid = str(row["id"])
        seq = str(row["sequence"])
        pred, std, model = _value(row, "prediction"), _value(row, "std"), _text(row, "model")
        qualifiers: dict[str, list[str]] = {"label": [pid]}
        note = f"{spec.label} exported by biofab"
        if pred is not None:
            qualifiers["prediction"] = [repr(pred)]
            note += f"; predicted {pred:.4g}"
            if std is not None:
                note += f" +/- {std:.2g}"
        if std is not None:
            qualifiers["std"] = [repr(std)]
        if model:
            qualifiers["model"] = [model]
            note += f" by model {model}"
        qualifiers["note"] = [note]
        features = [
            SeqFeature(
                SimpleLocation(0, len(seq), strand=1 if dna else None),
                type="source",
                qualifiers={
                    "organism": ["synthetic construct"],
                    "mol_type": ["other DNA" if dna else "protein"],
                },
            ),
            SeqFeature(
                SimpleLocation(0, len(seq), strand=1 if dna else None),
                type=spec.genbank_key,
                qualifiers=qualifiers,
            ),
        ]
        boxes = _boxes(row, spec, detect_boxes)
        if boxes is not None:
            for start, key, label in (
                (boxes[0], "-35_signal", "-35"),
                (boxes[1], "-10_signal", "-10"),
            ):
                features.append(
                    SeqFeature(
                        SimpleLocation(start, start + 6, strand=1),
                        type=key,
                        qualifiers={"label": [label], "note": [seq[start : start + 6]]},
                    )
                )
        rec = SeqRecord(
            Seq(seq),
            id=_header_id(pid),
            name=locus,
            description=f"{spec.label} {pid}",
            features=features,
        )
        rec.annotations.update(synthetic_annotations(dna=dna, date=today))
        records.append(rec)
    return records


def synthetic_annotations(*, dna: bool, date: str) -> dict[str, Any]:
    """GenBank header fields of a synthetic construct (division SYN, linear)."""
    return {
        "molecule_type": "DNA" if dna else "protein",
        "topology": "linear",
        "data_file_division": "SYN",
        "date": date,
        "source": "synthetic construct",
        "organism": "synthetic construct",
        "taxonomy": ["other sequences", "artificial sequences"],
    }


def write_genbank(
    parts: pd.DataFrame, path: str | Path, kind: str = "promoter", *, detect_boxes: bool = True
) -> Path:
    """Write ``parts`` as a multi-record GenBank file (atomic); returns the path."""
    from Bio import SeqIO

    records = genbank_records(parts, kind, detect_boxes=detect_boxes)
    with atomic_path(path, suffix=".gb") as tmp:
        SeqIO.write(records, str(tmp), "genbank")
    return Path(path)


# -- SBOL3 --------------------------------------------------------------------------------


def _display_ids(ids: list[str]) -> list[str]:
    """SBOL3 displayIds (``[A-Za-z_][A-Za-z0-9_]*``), unique."""
    out: list[str] = []
    taken: set[str] = set()
    for i in ids:
        base = re.sub(r"\W", "_", i, flags=re.ASCII) or "part"
        if base[0].isdigit():
            base = "_" + base
        name, k = base, 1
        while name in taken or name + "_sequence" in taken:
            k += 1
            name = f"{base}_{k}"
        taken.update((name, name + "_sequence"))
        out.append(name)
    return out


def _sbol3_format(path: Path) -> str:
    import sbol3

    return {
        ".ttl": sbol3.TURTLE,
        ".xml": sbol3.RDF_XML,
        ".rdf": sbol3.RDF_XML,
        ".jsonld": sbol3.JSONLD,
    }.get(path.suffix.lower(), sbol3.SORTED_NTRIPLES)


def sbol3_document(
    parts: pd.DataFrame,
    kind: str = "promoter",
    *,
    namespace: str = DEFAULT_NAMESPACE,
    detect_boxes: bool = True,
) -> Any:
    """A validated ``sbol3.Document``: one Component (+ Sequence) per part.

    Raises ``InputError`` if pySBOL3's validation reports any error.
    """
    import sbol3

    spec = part_kind(kind)
    dna = spec.alphabet == "dna"
    sbol3.set_namespace(namespace)
    doc = sbol3.Document()
    rows = parts_table(parts, kind).to_dict("records")
    dids = _display_ids([str(r["id"]) for r in rows])
    for index, (row, did) in enumerate(zip(rows, dids, strict=True)):
        seq = str(row["sequence"])
        sequence = sbol3.Sequence(
            f"{did}_sequence",
            elements=seq,
            encoding=sbol3.IUPAC_DNA_ENCODING if dna else sbol3.IUPAC_PROTEIN_ENCODING,
        )
        comp = sbol3.Component(
            did,
            sbol3.SBO_DNA if dna else sbol3.SBO_PROTEIN,
            roles=[spec.so_role],
            sequences=[sequence],
            name=str(row["id"]),
            description=f"{spec.label} exported by biofab",
        )
        model = _text(row, "model")
        for key in ("prediction", "std"):
            x = _value(row, key)
            if x is not None:
                what = "mean" if key == "prediction" else "ensemble standard deviation"
                comp.measures.append(
                    sbol3.Measure(
                        x,
                        OM_ONE,
                        name=key,
                        description=f"predicted {what}" + (f" (model {model})" if model else ""),
                    )
                )
        # RDF keeps no order; the table's row order travels as an annotation.
        comp.biofab_index = sbol3.IntProperty(comp, BIOFAB_NS + "index", 0, 1)
        comp.biofab_index = index
        if model:
            comp.biofab_model = sbol3.TextProperty(comp, BIOFAB_NS + "model", 0, 1)
            comp.biofab_model = model
        boxes = _boxes(row, spec, detect_boxes)
        if boxes is not None:
            for start, role, label in (
                (boxes[0], SO_MINUS_35, "-35"),
                (boxes[1], SO_MINUS_10, "-10"),
            ):
                # SBOL3 Range: 1-based, inclusive ends.
                comp.features.append(
                    sbol3.SequenceFeature(
                        [sbol3.Range(sequence, start + 1, start + 6)],
                        roles=[role],
                        name=f"{label} box",
                    )
                )
        doc.add(sequence)
        doc.add(comp)
    report = doc.validate()
    errors = list(report.errors)
    if errors:
        raise InputError(
            "SBOL3 document does not validate", expected="no errors", found=str(errors[0])
        )
    return doc


def write_sbol3(
    parts: pd.DataFrame,
    path: str | Path,
    kind: str = "promoter",
    *,
    namespace: str = DEFAULT_NAMESPACE,
    detect_boxes: bool = True,
) -> Path:
    """Write ``parts`` as a validated SBOL3 document (atomic); returns the path.

    Serialisation from the suffix: ``.ttl`` Turtle, ``.xml``/``.rdf`` RDF/XML,
    ``.jsonld`` JSON-LD, anything else (``.nt``, ``.sbol``) sorted N-Triples,
    pySBOL3's canonical form. Turtle keeps ~7 significant digits of each
    measure (rdflib writes doubles in short ``%e`` form); the others keep all.
    """
    p = Path(path)
    doc = sbol3_document(parts, kind, namespace=namespace, detect_boxes=detect_boxes)
    with atomic_path(p, suffix=p.suffix or ".ttl") as tmp:
        doc.write(str(tmp), _sbol3_format(p))
    return p


def read_sbol3(path: str | Path) -> pd.DataFrame:
    """An SBOL3 file -> parts table: one row per Component that has a Sequence.

    Columns ``id`` (the Component's name, else its displayId), ``sequence``
    (upper case), ``kind`` (from the SO role, ``""`` when not a known part
    role), and ``prediction``/``std``/``model`` when any Component carries them.
    """
    import pandas as pd
    import sbol3

    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    doc = sbol3.Document()
    try:
        doc.read(str(p), file_format=_sbol3_format(p))
    except Exception as err:  # rdflib raises many unrelated types for bad RDF
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError("cannot read as SBOL3", file=str(p), found=msg) from None
    by_role = {k.so_role: k.name for k in PART_KINDS.values()}
    rows: list[dict[str, Any]] = []
    order: list[tuple[int, int, str]] = []
    for obj in doc.objects:
        if not isinstance(obj, sbol3.Component) or not obj.sequences:
            continue
        seq_obj = doc.find(str(obj.sequences[0]))
        if seq_obj is None or not getattr(seq_obj, "elements", None):
            continue
        row: dict[str, Any] = {
            "id": str(obj.name) if obj.name else str(obj.display_id),
            "sequence": str(seq_obj.elements).upper(),
            "kind": next((by_role[str(r)] for r in obj.roles if str(r) in by_role), ""),
        }
        for m in obj.measures:
            if str(m.name) in ("prediction", "std"):
                row[str(m.name)] = float(m.value)
        obj.biofab_model = sbol3.TextProperty(obj, BIOFAB_NS + "model", 0, 1)
        if obj.biofab_model:
            row["model"] = str(obj.biofab_model)
        obj.biofab_index = sbol3.IntProperty(obj, BIOFAB_NS + "index", 0, 1)
        index = obj.biofab_index
        order.append((0, int(index), "") if index is not None else (1, 0, row["id"]))
        rows.append(row)
    if not rows:
        raise InputError("no Components with a Sequence", file=str(p), expected="SBOL3 parts")
    rows = [r for _, r in sorted(zip(order, rows, strict=True), key=lambda t: t[0])]
    out = pd.DataFrame(rows)
    for key in ("prediction", "std"):
        if key in out:
            out[key] = out[key].astype(float)
    return out


def read_export_input(
    path: str | Path, kind: str = "promoter", *, model: str | None = None
) -> pd.DataFrame:
    """Parts to export from a CSV/TSV table, or from FASTA, GenBank or SBOL3 (converting)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    head = p.read_text(errors="replace")[:2000]
    suffix = p.suffix.lower()
    if head.strip() and (
        is_fasta(p, head) or is_genbank(p, head) or _SUFFIX_FORMAT.get(suffix) == "sbol3"
    ):
        return parts_table(read_parts(p, kind), kind, file=str(p), model=model)
    return read_parts_table(p, kind, model=model)


# -- one entry point ----------------------------------------------------------------------


def export_parts(
    parts: pd.DataFrame,
    path: str | Path,
    kind: str = "promoter",
    fmt: str | None = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    detect_boxes: bool = True,
) -> Path:
    """Check ``parts`` (:func:`parts_table`) and write it as ``fmt`` (or from the suffix)."""
    f = export_format(fmt, path)
    if f == "fasta":
        return write_fasta(parts, path, kind)
    if f == "genbank":
        return write_genbank(parts, path, kind, detect_boxes=detect_boxes)
    return write_sbol3(parts, path, kind, namespace=namespace, detect_boxes=detect_boxes)


def read_parts(path: str | Path, kind: str = "promoter") -> pd.DataFrame:
    """Read parts back from FASTA, GenBank or SBOL3 (told apart by content and suffix)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    head = p.read_text(errors="replace")[:2000]
    if not head.strip():
        raise InputError("empty file", file=str(p), expected="FASTA, GenBank or SBOL3")
    alphabet = part_kind(kind).alphabet
    if is_fasta(p, head):
        return read_fasta_parts(p, kind)
    if is_genbank(p, head):
        table = read_genbank(p, alphabet)
        return table.drop(columns=["description"])
    table = read_sbol3(p)
    table["sequence"] = [
        check_sequence(s, alphabet, file=str(p), row=r, column=None)
        for r, s in enumerate(table["sequence"], start=1)
    ]
    return table


__all__ = [
    "FORMATS",
    "PART_KINDS",
    "PartKind",
    "export_format",
    "export_parts",
    "fasta_text",
    "find_sigma70_boxes",
    "genbank_records",
    "part_kind",
    "parts_table",
    "read_export_input",
    "read_fasta_parts",
    "read_parts",
    "read_parts_table",
    "read_sbol3",
    "sbol3_document",
    "write_fasta",
    "write_genbank",
    "write_sbol3",
]
