"""Protein FASTA reading and pairwise homology search (pyhmmer ``phmmer``).

A draft reconstruction starts from "which target protein looks like which
template protein". :func:`search` aligns every query protein against a set of
target proteins with HMMER's ``phmmer`` (Eddy 2011, PLoS Comput Biol
7:e1002195) through pyhmmer (Larralde & Zeller 2023, Bioinformatics 39:btad214)
and returns one :class:`Hit` per (query, target) pair that passes the e-value
cut-off, with the alignment's identity, the coverage of both sequences, the bit
score and the e-value. When DIAMOND is not needed, nothing outside Python is.

:func:`cached_search` stores the hits of one search in a folder, keyed by a hash
of both sequence sets and the search settings, so a second reconstruction of the
same proteome (another medium, other scores) skips the minutes of searching.

Identity is the fraction of identical residues over the aligned columns of the
best domain; coverage is the aligned span divided by the sequence's length.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from biofab.core.atomic import atomic_path
from biofab.core.errors import InputError

# IUPAC amino acids, the ambiguity codes B Z J X, U (selenocysteine), O
# (pyrrolysine), gap and stop. Anything else (digits, punctuation) is not a protein.
PROTEIN_LETTERS = frozenset("ACDEFGHIKLMNPQRSTVWYBZJXUO*-")
# A sequence of only these letters is almost certainly DNA/RNA pasted by mistake.
_NUCLEOTIDES = frozenset("ACGTUN")


@dataclass(frozen=True)
class Hit:
    """One alignment of ``query`` against ``target``.

    ``identity`` in [0, 1] over aligned columns; ``query_coverage`` and
    ``target_coverage`` in [0, 1]; ``bitscore`` in bits; ``evalue`` for the
    size of the searched database.
    """

    query: str
    target: str
    identity: float
    query_coverage: float
    target_coverage: float
    bitscore: float
    evalue: float


def read_fasta(path: str | os.PathLike[str]) -> dict[str, str]:
    """Protein sequences of a FASTA file, id -> sequence (upper case, no ``*`` at the end).

    The id is the header's first word. Raises :class:`InputError` naming the file
    and record for a missing file, no records, a record without a header or
    sequence, a duplicate id, a non-protein character, or a nucleotide sequence.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("protein FASTA not found", file=str(p))
    records: dict[str, list[str]] = {}
    current: str | None = None
    with p.open(encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith(">"):
                words = line[1:].split()
                if not words:
                    raise InputError(
                        f"empty FASTA header on line {lineno}", file=str(p), expected="'>ID'"
                    )
                current = words[0]
                if current in records:
                    raise InputError(
                        f"duplicate record id '{current}' (line {lineno})",
                        file=str(p),
                        expected="unique ids",
                        found=current,
                    )
                records[current] = []
                continue
            if current is None:
                raise InputError(
                    "sequence before the first '>' header", file=str(p), expected="FASTA"
                )
            seq = line.upper()
            bad = next((c for c in seq if c not in PROTEIN_LETTERS), None)
            if bad is not None:
                raise InputError(
                    f"record '{current}' (line {lineno}) has a non-protein character",
                    file=str(p),
                    expected="amino-acid letters",
                    found=bad,
                )
            records[current].append(seq)
    if not records:
        raise InputError("no FASTA records", file=str(p), expected="'>ID' lines")
    out: dict[str, str] = {}
    for rid, parts in records.items():
        seq = "".join(parts).rstrip("*").replace("-", "")
        if not seq:
            raise InputError(f"record '{rid}' has no sequence", file=str(p), found=rid)
        if len(seq) >= 30 and set(seq) <= _NUCLEOTIDES:
            raise InputError(
                f"record '{rid}' looks like DNA, not protein",
                file=str(p),
                expected="a protein FASTA (.faa)",
                found=seq[:10],
            )
        out[rid] = seq
    return out


def _block(seqs: dict[str, str]) -> Any:
    from pyhmmer import easel

    alphabet = easel.Alphabet.amino()
    # HMMER cannot digitise '*' inside a sequence or 'J'/'O'/'U' on older builds:
    # map them to the unknown residue X so one odd residue does not stop a search.
    table = str.maketrans({"*": "X"})
    texts = [
        easel.TextSequence(name=k.encode(), sequence=v.translate(table)) for k, v in seqs.items()
    ]
    return easel.DigitalSequenceBlock(alphabet, [t.digitize(alphabet) for t in texts])


def build_profiles(queries: dict[str, str]) -> list[Any]:
    """One HMMER profile per query protein (``phmmer``'s single-sequence model with
    BLOSUM62 and E-value calibration); build once, search many target sets."""
    from pyhmmer import easel, plan7

    alphabet = easel.Alphabet.amino()
    builder = plan7.Builder(alphabet)
    background = plan7.Background(alphabet)
    return [builder.build(seq, background)[0] for seq in _block(queries)]


def search(
    queries: dict[str, str],
    targets: dict[str, str],
    *,
    evalue: float = 1e-5,
    exclude_self: bool = False,
    cpus: int = 0,
    max_hits: int | None = None,
    profiles: Sequence[Any] | None = None,
) -> list[Hit]:
    """Every (query, target) alignment with e-value <= ``evalue``, best first per query.

    ``exclude_self`` drops hits of a protein to the same id (for searching a
    proteome against itself); ``max_hits`` keeps at most that many targets per
    query; ``cpus=0`` lets pyhmmer use every core. ``profiles`` (from
    :func:`build_profiles` of ``queries``) saves rebuilding them: building costs
    about as much as searching a few thousand targets.
    """
    from pyhmmer import hmmer

    if not queries or not targets:
        return []
    hmms: Any = list(profiles) if profiles is not None else build_profiles(queries)
    tblock = _block(targets)
    out: list[Hit] = []
    for top in hmmer.hmmsearch(hmms, tblock, cpus=cpus, E=evalue, domE=evalue):
        qname = _name(top.query)
        kept = 0
        for hit in top:
            if not hit.included or hit.evalue > evalue:
                continue
            tname = _name(hit.name)
            if exclude_self and tname == qname:
                continue
            out.append(_hit(qname, tname, hit))
            kept += 1
            if max_hits is not None and kept >= max_hits:
                break
    return out


def _name(x: object) -> str:
    name = getattr(x, "name", x)
    return name.decode() if isinstance(name, bytes) else str(name)


def _hit(qname: str, tname: str, hit: object) -> Hit:
    dom = hit.best_domain  # type: ignore[attr-defined]
    ali = dom.alignment
    ident = ali.identity_sequence
    columns = max(len(ident), 1)
    # identity_sequence shows the residue where query and target agree, '+' for a
    # similar pair and ' ' otherwise.
    same = sum(1 for c in ident if c not in "+ ")
    return Hit(
        query=qname,
        target=tname,
        identity=same / columns,
        query_coverage=(ali.hmm_to - ali.hmm_from + 1) / max(ali.hmm_length, 1),
        target_coverage=(ali.target_to - ali.target_from + 1) / max(ali.target_length, 1),
        bitscore=float(hit.score),  # type: ignore[attr-defined]
        evalue=float(hit.evalue),  # type: ignore[attr-defined]
    )


def best_hits(hits: Iterable[Hit], *, by: str = "query") -> dict[str, Hit]:
    """The highest-bitscore hit per query (``by="query"``) or per target."""
    best: dict[str, Hit] = {}
    for h in hits:
        key = h.query if by == "query" else h.target
        if key not in best or h.bitscore > best[key].bitscore:
            best[key] = h
    return best


def subset(seqs: dict[str, str], ids: Sequence[str] | set[str]) -> dict[str, str]:
    """The records of ``seqs`` whose ids are in ``ids`` (order of ``seqs``)."""
    keep = set(ids)
    return {k: v for k, v in seqs.items() if k in keep}


# -- a cache of searches ----------------------------------------------------------
#: Bump when the meaning of a stored hit changes (fields, identity definition).
_CACHE_VERSION = "hits-v1"
_COLUMNS = (
    "query", "target", "identity", "query_coverage", "target_coverage", "bitscore", "evalue",
)  # fmt: skip


def proteome_digest(seqs: dict[str, str]) -> str:
    """A hash of a proteome's ids and sequences (order-independent), 16 hex digits."""
    h = hashlib.sha256()
    for k in sorted(seqs):
        h.update(f"{k}\t{seqs[k]}\n".encode())
    return h.hexdigest()[:16]


def search_key(
    queries: dict[str, str], targets: dict[str, str], *, evalue: float, max_hits: int | None
) -> str:
    """The cache key of a search: both proteomes' digests and the settings that change hits."""
    settings = f"{_CACHE_VERSION} phmmer E<={evalue!r} max_hits={max_hits}"
    h = hashlib.sha256(settings.encode())
    h.update(proteome_digest(queries).encode() + proteome_digest(targets).encode())
    return h.hexdigest()[:20]


def _write_hits(path: Path, hits: Sequence[Hit]) -> None:
    lines = ["\t".join(_COLUMNS)]
    lines += ["\t".join(repr(v) if isinstance(v, float) else v for v in astuple(h)) for h in hits]
    with atomic_path(path, suffix=".tsv.gz") as tmp, gzip.open(tmp, "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def read_hits(path: str | os.PathLike[str]) -> list[Hit]:
    """Hits saved by :func:`cached_search` (gzipped TSV); :class:`InputError` if unreadable."""
    p = Path(path)
    try:
        with gzip.open(p, "rt") as fh:
            rows = fh.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError("cannot read saved homology hits", file=str(p), found=str(exc)) from None
    if not rows or tuple(rows[0].split("\t")) != _COLUMNS:
        raise InputError("not a homology-hit table", file=str(p), expected="\t".join(_COLUMNS))
    out = []
    for i, row in enumerate(rows[1:], start=1):
        f = row.split("\t")
        try:
            out.append(Hit(f[0], f[1], *(float(x) for x in f[2:])))
        except (TypeError, ValueError, IndexError):
            raise InputError(
                "bad homology-hit row", file=str(p), row=i, expected="7 columns", found=row[:60]
            ) from None
    return out


def cached_search(
    queries: dict[str, str],
    targets: dict[str, str],
    *,
    cache: str | os.PathLike[str] | None,
    evalue: float = 1e-5,
    cpus: int = 0,
    max_hits: int | None = None,
    profiles: Callable[[], Sequence[Any]] | None = None,
) -> tuple[list[Hit], bool]:
    """:func:`search`, stored in / reused from the folder ``cache`` (created if its
    parent exists; None: no cache). Returns (hits, reused). ``profiles`` is called
    only when a search has to run (building profiles costs time too)."""
    path = None
    if cache is not None:
        folder = Path(cache)
        if not folder.is_dir():
            if not folder.parent.is_dir():
                raise InputError("homology cache folder's parent does not exist", file=str(folder))
            folder.mkdir(exist_ok=True)
        key = search_key(queries, targets, evalue=evalue, max_hits=max_hits)
        path = folder / f"phmmer_{key}.tsv.gz"
        if path.is_file():
            return read_hits(path), True
    prof = profiles() if profiles is not None else None
    hits = search(queries, targets, evalue=evalue, cpus=cpus, max_hits=max_hits, profiles=prof)
    if path is not None:
        _write_hits(path, hits)
    return hits, False
