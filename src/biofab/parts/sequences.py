"""Sequences in, validated: alphabets, length ranges and reading a user's CSV, FASTA or GenBank.

Every check raises a one-line :class:`~biofab.core.errors.InputError` that names
the file, the row (data rows count from 1, as a spreadsheet user sees them
after the header; FASTA records count from 1), the column, what was expected
and what was found. Nothing here writes a file.

Alphabets: DNA is ``ACGT`` (no IUPAC ambiguity codes: a model cannot score an
``N``); protein is the 20 standard amino acids. Lower case is accepted and
upper-cased; surrounding white space is removed. In a protein, ``*`` is a stop
codon: one at the very end (as translated FASTA files write it) is dropped, one
anywhere else is an error.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from biofab.core.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

DNA = "ACGT"
PROTEIN = "ACDEFGHIKLMNPQRSTVWY"
ALPHABETS = {"dna": DNA, "protein": PROTEIN}

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".faa", ".ffn", ".fas")
GENBANK_SUFFIXES = (".gb", ".gbk", ".gbff", ".genbank", ".gp", ".gpff")


def alphabet_letters(alphabet: str) -> str:
    """The letters of ``alphabet`` (``"dna"`` or ``"protein"``)."""
    try:
        return ALPHABETS[alphabet]
    except KeyError:
        raise InputError(
            "unknown alphabet", expected=" or ".join(ALPHABETS), found=alphabet
        ) from None


def check_sequence(
    seq: object,
    alphabet: str = "dna",
    min_length: int | None = None,
    max_length: int | None = None,
    *,
    file: str | None = None,
    row: int | None = None,
    column: str | None = "sequence",
) -> str:
    """One sequence, cleaned (upper case, stripped) and checked; returns it.

    Raises ``InputError`` for a missing value, a letter outside the alphabet
    (a stop codon ``*`` inside a protein is named as such) or a length outside
    ``[min_length, max_length]`` (nt or aa).
    """
    letters = alphabet_letters(alphabet)

    def fail(message: str, expected: str, found: str) -> InputError:
        return InputError(
            message, file=file, row=row, column=column, expected=expected, found=found
        )

    if seq is None or (isinstance(seq, float) and np.isnan(seq)):
        raise fail("missing sequence", "a sequence", "")
    s = str(seq).strip().upper()
    if alphabet == "protein" and s.endswith("*"):
        s = s[:-1]
    if not s:
        raise fail("empty sequence", "a sequence", "")
    bad = next((i for i, c in enumerate(s) if c not in letters), None)
    if bad is not None:
        c = s[bad]
        if alphabet == "protein" and c == "*":
            what = f"stop codon '*' at position {bad + 1}"
            expected = "no internal stop codon"
        else:
            kind = "DNA" if alphabet == "dna" else "amino-acid"
            what = f"non-{kind} letter {c!r} at position {bad + 1}"
            expected = f"only {letters}"
        raise fail(what, expected, _clip(s))
    n = len(s)
    lo = 1 if min_length is None else min_length
    hi = max_length
    if n < lo or (hi is not None and n > hi):
        unit = "nt" if alphabet == "dna" else "aa"
        span = f"{lo}-{hi} {unit}" if hi is not None else f"at least {lo} {unit}"
        raise fail("sequence length out of range", span, f"{n} {unit}")
    return s


def check_sequences(
    seqs: Iterable[object],
    alphabet: str = "dna",
    min_length: int | None = None,
    max_length: int | None = None,
    *,
    file: str | None = None,
    column: str | None = "sequence",
    rows: Sequence[int] | None = None,
) -> list[str]:
    """Every sequence checked as :func:`check_sequence`; the first bad one raises.

    ``rows`` gives the row number reported for each sequence (default 1, 2, ...).
    """
    out = []
    for i, s in enumerate(seqs):
        row = rows[i] if rows is not None else i + 1
        out.append(
            check_sequence(s, alphabet, min_length, max_length, file=file, row=row, column=column)
        )
    if not out:
        raise InputError("no sequences", file=file, expected="at least one sequence", found="0")
    return out


def _clip(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[:n] + "..."


def is_fasta(path: Path, head: str) -> bool:
    """FASTA by suffix or by a first non-blank character ``>``."""
    return path.suffix.lower() in FASTA_SUFFIXES or head.lstrip().startswith(">")


def is_genbank(path: Path, head: str) -> bool:
    """GenBank by suffix or by a first non-blank line starting ``LOCUS``."""
    return path.suffix.lower() in GENBANK_SUFFIXES or head.lstrip().startswith("LOCUS")


def read_text_file(path: Path, expected: str) -> str:
    """The text of a user's file; one-line errors for a missing, binary or empty file."""
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise InputError("not a text file", file=str(path), expected=expected) from None
    if not text.strip():
        raise InputError("empty file", file=str(path), expected=expected)
    return text


def read_sequences(
    path: str | Path,
    alphabet: str = "dna",
    *,
    sequence_column: str = "sequence",
    target_column: str | None = None,
    id_column: str | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
) -> pd.DataFrame:
    """A user's CSV/TSV, FASTA or GenBank file -> DataFrame ``id, sequence[, target]``, checked.

    CSV (TSV when the suffix is ``.tsv``/``.tab``): the caller names the
    sequence column, the target column (numeric; required when given) and
    optionally an id column (default: the row number). FASTA: ids are the first
    word of each header; a FASTA file has no target, so ``target_column`` must
    be None. GenBank (a ``LOCUS`` first line or a ``.gb``/``.gbk`` suffix): one
    row per record, read by :func:`read_genbank`; no target either. Every
    sequence goes through :func:`check_sequence`; the first bad
    one raises ``InputError`` naming file, row and column. An empty file, a
    missing column or a non-numeric target raise too.
    """
    import pandas as pd

    p = Path(path)
    text = read_text_file(p, "CSV, FASTA or GenBank with sequences")
    if not is_fasta(p, text) and is_genbank(p, text):
        if target_column is not None:
            raise InputError(
                "a GenBank file has no target column",
                file=str(p),
                expected=f"a CSV with columns '{sequence_column}' and '{target_column}'",
                found="GenBank",
            )
        table = read_genbank(p, alphabet, min_length=min_length, max_length=max_length)
        return table[["id", "sequence"]]
    if is_fasta(p, text):
        if target_column is not None:
            raise InputError(
                "a FASTA file has no target column",
                file=str(p),
                expected=f"a CSV with columns '{sequence_column}' and '{target_column}'",
                found="FASTA",
            )
        ids, seqs = parse_fasta(text, file=str(p))
        checked = check_sequences(seqs, alphabet, min_length, max_length, file=str(p), column=None)
        return pd.DataFrame({"id": ids, "sequence": checked})

    sep = "\t" if p.suffix.lower() in (".tsv", ".tab") else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        msg = str(err).splitlines()[0] if str(err) else "parse error"
        raise InputError("cannot parse as a table", file=str(p), found=msg) from None
    if len(frame) == 0:
        raise InputError("empty file", file=str(p), expected="at least one data row", found="0")
    for col in (sequence_column, target_column, id_column):
        if col is not None and col not in frame.columns:
            shown = ", ".join(map(str, frame.columns[:12]))
            more = f", ... ({len(frame.columns)} columns)" if len(frame.columns) > 12 else ""
            raise InputError(
                "missing column",
                file=str(p),
                column=col,
                expected=f"a column named '{col}'",
                found=f"columns {shown}{more}",
            )
    seqs = check_sequences(
        frame[sequence_column].tolist(),
        alphabet,
        min_length,
        max_length,
        file=str(p),
        column=sequence_column,
    )
    ids = (
        frame[id_column].astype(str).tolist()
        if id_column is not None
        else [str(i + 1) for i in range(len(frame))]
    )
    out = pd.DataFrame({"id": ids, "sequence": seqs})
    if target_column is not None:
        out["target"] = _numeric(frame[target_column].tolist(), str(p), target_column)
    return out


def _numeric(values: list[str], file: str, column: str) -> np.ndarray:
    y = np.empty(len(values))
    for i, v in enumerate(values):
        try:
            y[i] = float(v)
        except ValueError:
            y[i] = np.nan
        if not np.isfinite(y[i]):
            raise InputError(
                "target is not a finite number",
                file=file,
                row=i + 1,
                column=column,
                expected="a number",
                found=v,
            )
    return y


def parse_fasta(text: str, *, file: str | None = None) -> tuple[list[str], list[str]]:
    """FASTA text -> (ids, sequences); sequence lines are joined, white space removed."""
    ids: list[str] = []
    seqs: list[list[str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith(">"):
            header = line[1:].split()
            ids.append(header[0] if header else str(len(ids) + 1))
            seqs.append([])
        elif not seqs:
            raise InputError(
                f"sequence before the first header (line {lineno})",
                file=file,
                expected="'>' header line",
                found=_clip(line),
            )
        else:
            seqs[-1].append("".join(line.split()))
    if not ids:
        raise InputError("no FASTA records", file=file, expected="'>' header lines")
    return ids, ["".join(s) for s in seqs]


def read_genbank(
    path: str | Path,
    alphabet: str = "dna",
    *,
    min_length: int | None = None,
    max_length: int | None = None,
) -> pd.DataFrame:
    """A GenBank (or GenPept, for ``alphabet="protein"``) file -> one row per record, checked.

    Columns ``id`` (the record's accession.version, else its LOCUS name),
    ``sequence`` (checked as :func:`check_sequence`; rows count records from 1)
    and ``description``. When a feature carries biofab's qualifiers (what
    :func:`biofab.parts.export.write_genbank` writes: ``/prediction``,
    ``/std``, ``/model``), the first such feature of each record fills the
    columns ``prediction``, ``std`` (floats, NaN where absent) and ``model``.
    A file Biopython cannot parse, a record without sequence letters or an
    empty file raise a one-line ``InputError``.
    """
    import warnings

    import pandas as pd
    from Bio import BiopythonParserWarning, SeqIO
    from Bio.Seq import UndefinedSequenceError

    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    fmt = "genbank"
    rows: list[dict[str, object]] = []
    try:
        with warnings.catch_warnings():
            # Loose but readable files (odd LOCUS spacing, long names) warn; the
            # sequence and features are what matter here.
            warnings.simplefilter("ignore", BiopythonParserWarning)
            records = list(SeqIO.parse(str(p), fmt))
    except (ValueError, AssertionError, UnicodeDecodeError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError("cannot parse as GenBank", file=str(p), found=msg) from None
    if not records:
        raise InputError("no GenBank records", file=str(p), expected="'LOCUS' ... '//' records")
    carries = False
    for i, rec in enumerate(records, start=1):
        try:
            letters = str(rec.seq)
        except UndefinedSequenceError:
            letters = ""
        seq = check_sequence(
            letters, alphabet, min_length, max_length, file=str(p), row=i, column=None
        )
        rid = rec.id if rec.id and rec.id != "<unknown id>" else rec.name
        row: dict[str, object] = {
            "id": str(rid),
            "sequence": seq,
            "description": rec.description,
        }
        for feature in rec.features:
            q = feature.qualifiers
            if any(k in q for k in ("prediction", "std", "model")):
                carries = True
                for key in ("prediction", "std"):
                    if key in q:
                        row[key] = _qualifier_float(q[key][0], str(p), i, key)
                if "model" in q:
                    row["model"] = str(q["model"][0])
                break
        rows.append(row)
    out = pd.DataFrame(rows)
    if carries:
        for key in ("prediction", "std"):
            out[key] = pd.to_numeric(out[key], errors="coerce") if key in out else np.nan
    return out


def _qualifier_float(text: str, file: str, row: int, key: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"qualifier /{key} is not a number", file=file, row=row, expected="a number", found=text
        ) from None
    return value
