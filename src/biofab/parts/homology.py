"""Protein families by sequence identity: all-vs-all phmmer and single-linkage clusters.

A split that holds out whole families must put every pair of proteins that are
detectably related on the same side. :func:`identity_edges` searches every protein
against every other with phmmer (HMMER3 single-sequence search, Eddy 2011, PLoS
Comput Biol 7:e1002195; through pyhmmer, Larralde & Zeller 2023, Bioinformatics
39:btad214) and keeps the significant hits with their percent identity;
:func:`identity_clusters` joins proteins linked by a hit at or above an identity
threshold into one cluster (single linkage, i.e. connected components), so no
protein in one cluster has a significant hit at that identity in another.

Identity of a hit = identical residues / aligned columns of its best-scoring
domain (the convention of BLAST and MMseqs2); a hit counts only when its E-value is
at most ``evalue`` (default 1e-3), so short spurious matches with high identity do
not link families. At a 20 % threshold this approximates "no detectable homologue
across the split", stricter than a greedy MMseqs2 clustering at 20 %, which may
leave related members in different clusters.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biofab.core.atomic import atomic_path, write_atomic
from biofab.core.errors import InputError
from biofab.core.progress import progress

_ALPHABET_OK = set("ACDEFGHIKLMNPQRSTVWYBZJXUO")


def _check(sequences: Sequence[str]) -> None:
    """One-line InputError naming the first sequence (from 1) that is no protein."""
    for i, seq in enumerate(sequences):
        bad = set(seq.upper()) - _ALPHABET_OK
        if not seq or bad:
            raise InputError(
                "not a protein sequence",
                row=i + 1,
                column="sequence",
                expected="amino-acid letters",
                found="".join(sorted(bad)) or "empty",
            )


def _digital(sequences: Sequence[str]) -> Any:
    import pyhmmer

    _check(sequences)
    alphabet = pyhmmer.easel.Alphabet.amino()
    block = []
    for i, seq in enumerate(sequences):
        text = pyhmmer.easel.TextSequence(name=str(i).encode(), sequence=seq.upper())
        block.append(text.digitize(alphabet))
    return pyhmmer.easel.DigitalSequenceBlock(alphabet, block)


def identity_edges(sequences: Sequence[str], *, evalue: float = 1e-3, cpus: int = 1) -> np.ndarray:
    """Significant phmmer hits among ``sequences`` (all against all, self hits dropped).

    Returns an array ``(n_hits, 3)``: query index, target index, identity (fraction
    0-1 of the best domain's aligned columns). Both directions may appear.
    """
    import pyhmmer

    block = _digital(sequences)
    rows: list[tuple[int, int, float]] = []
    with progress("phmmer all-vs-all", total=len(sequences), every=10.0) as bar:

        def tick(_query: object, _total: int) -> None:
            bar.advance()

        search = pyhmmer.hmmer.phmmer(block, block, cpus=cpus, E=evalue, callback=tick)
        for q, hits in enumerate(search):
            for hit in hits:
                if hit.evalue > evalue:
                    continue
                t = int(hit.name)
                if t == q:
                    continue
                ali = hit.best_domain.alignment
                line = ali.identity_sequence
                same = sum(c.isalpha() for c in line)
                rows.append((q, t, same / max(len(line), 1)))
    return np.asarray(rows, dtype=float).reshape(-1, 3)


def single_linkage(n: int, edges: np.ndarray, threshold: float) -> np.ndarray:
    """Cluster labels ``0..k-1`` of ``n`` items joined by edges with identity >= threshold."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    keep = edges[edges[:, 2] >= threshold] if len(edges) else edges
    graph = sparse.coo_matrix(
        (np.ones(len(keep)), (keep[:, 0].astype(int), keep[:, 1].astype(int))), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=int)


def _digest(sequences: Sequence[str], evalue: float) -> str:
    h = hashlib.sha256(f"phmmer E<={evalue}\n".encode())
    for s in sequences:
        h.update(s.encode() + b"\n")
    return h.hexdigest()[:16]


def identity_clusters(
    sequences: Sequence[str],
    threshold: float = 0.2,
    *,
    evalue: float = 1e-3,
    cache: str | Path | None = None,
    cpus: int = 1,
) -> np.ndarray:
    """Single-linkage identity cluster of each sequence (same sequence, same label).

    ``threshold`` is a fraction (0.2 = 20 % identity). With ``cache`` (a folder that
    exists), the phmmer hits of this exact set of distinct sequences are stored
    there as ``phmmer_<digest>.npz`` and reused, so a second threshold costs nothing.
    """
    if not 0.0 < threshold <= 1.0:
        raise InputError("identity threshold out of range", expected="0 < t <= 1", found=threshold)
    _check(sequences)
    uniq = sorted(set(sequences))
    index = {s: i for i, s in enumerate(uniq)}
    edges: np.ndarray | None = None
    path = None
    if cache is not None:
        folder = Path(cache)
        if not folder.is_dir():
            raise InputError("cache folder does not exist", file=str(folder))
        path = folder / f"phmmer_{_digest(uniq, evalue)}.npz"
        if path.is_file():
            with np.load(path) as stored:
                edges = stored["edges"]
    if edges is None:
        edges = identity_edges(uniq, evalue=evalue, cpus=cpus)
        if path is not None:
            with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
                np.savez_compressed(fh, edges=edges)
            meta = {"n_sequences": len(uniq), "evalue": evalue, "n_hits": len(edges)}
            write_atomic(path.with_suffix(".json"), json.dumps(meta))
    labels = single_linkage(len(uniq), edges, threshold)
    return np.array([labels[index[s]] for s in sequences], dtype=int)
