"""Sec signal peptides: n/h/c-region anatomy, natural candidates, generated variants, ranking.

A Sec signal peptide (SP) has three regions (von Heijne 1985, J Mol Biol
184:99; von Heijne 1986, Nucleic Acids Res 14:4683):

* **n-region** - the N-terminal residues before the hydrophobic core, carrying a
  net positive charge (K, R) that orients the SP at the membrane;
* **h-region** - a hydrophobic core of roughly 7-15 residues (longer in
  Gram-positive bacteria: von Heijne & Abrahmsen 1989, FEBS Lett 244:439), found
  here as the maximum-scoring segment of Kyte & Doolittle (1982, J Mol Biol
  157:105) hydropathy above :data:`HYDROPHOBIC_THRESHOLD`;
* **c-region** - 3-7 more polar residues ending at the signal peptidase cleavage
  site, obeying the (-3, -1) rule: small neutral residues at -1 (A, G, S, T, C)
  and at -3 (also V, I, L), no proline from -3 to +1; "A-X-A" is the commonest
  motif (von Heijne 1986; Nielsen et al. 1997, Protein Eng 10:1 for the region
  lengths SignalP learned).

:func:`analyze` splits one SP (cleavage after its last residue) into these
regions and lists every rule it breaks; :func:`extract_candidates` scans the
N-termini of a proteome for SPs that pass; :func:`generate_candidates`
recombines regions of natural SPs and mutates their h-regions, keeping only
rule-passing variants; :func:`rank_candidates` ranks candidates for a given
mature protein by rule score (and a trained ``signal_peptide`` model's
prediction with its std, when given) after checking the SP-mature junction.
Positions are 0-based, half-open ``(start, end)`` in residues (aa).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biofab.core.errors import InputError
from biofab.parts.sequences import check_sequence, check_sequences, parse_fasta, read_text_file

if TYPE_CHECKING:
    import pandas as pd

    from biofab.parts.models import SequenceModel

#: Kyte & Doolittle (1982) hydropathy index, per residue.
KYTE_DOOLITTLE: dict[str, float] = {
    "I": 4.5, "V": 4.2, "L": 3.8, "F": 2.8, "C": 2.5, "M": 1.9, "A": 1.8,
    "G": -0.4, "T": -0.7, "S": -0.8, "W": -0.9, "Y": -1.3, "P": -1.6,
    "H": -3.2, "E": -3.5, "Q": -3.5, "D": -3.5, "N": -3.5, "K": -3.9, "R": -4.5,
}  # fmt: skip

#: Residues scoring above this join the h-region; A (1.8) counts, G/S/T break it
#: unless flanked by strong hydrophobics (max-scoring segment, not a strict run).
HYDROPHOBIC_THRESHOLD = 1.0
#: (-1) and (-3) residues allowed by von Heijne's rule, with a preference weight
#: (A commonest at both; C at -1 is the lipobox; von Heijne 1986 Fig. 2 ordering).
MINUS1 = {"A": 1.0, "G": 0.8, "S": 0.8, "C": 0.6, "T": 0.5}
MINUS3 = {"A": 1.0, "V": 0.8, "S": 0.7, "T": 0.7, "G": 0.6, "I": 0.6, "L": 0.6, "C": 0.5}
POSITIVE, NEGATIVE, CHARGED = "KR", "DE", "DEKR"
#: Hydrophobic residues used when mutating an h-region.
H_RESIDUES = "LIVFAM"

LENGTH_RANGE = (15, 40)  # aa, whole SP (Gram-positive SPs run long)
H_MIN, H_MAX = 7, 20  # aa; an h-region over 20 aa looks like a transmembrane anchor
C_MIN, C_MAX = 3, 10  # aa
N_MAX = 15  # aa
H_MIN_HYDROPATHY = 1.5  # mean Kyte-Doolittle of the h-region


@dataclass(frozen=True)
class SignalPeptideRegions:
    """The anatomy of one signal peptide; cleavage is after its last residue.

    ``n_region``, ``h_region``, ``c_region``: ``(start, end)``, 0-based,
    half-open. ``n_charge``: K + R - D - E of the n-region. ``h_hydropathy``,
    ``c_hydropathy``: mean Kyte-Doolittle index. ``cleavage_site``: SP length
    (aa); the mature protein starts at residue ``cleavage_site + 1``.
    ``motif``: residues -3..-1. ``junction``: mature residues +1..+3 when a
    mature protein was given. ``violations``: the broken rules, one phrase
    each; ``score``: 0-1, higher is a more canonical SP (see :func:`analyze`).
    """

    sequence: str
    n_region: tuple[int, int]
    h_region: tuple[int, int]
    c_region: tuple[int, int]
    n_charge: int
    h_hydropathy: float
    c_hydropathy: float
    cleavage_site: int
    motif: str
    junction: str = ""
    violations: tuple[str, ...] = field(default_factory=tuple)
    score: float = 0.0

    @property
    def passes(self) -> bool:
        """True when no rule is broken."""
        return not self.violations

    @property
    def n(self) -> str:
        return self.sequence[slice(*self.n_region)]

    @property
    def h(self) -> str:
        return self.sequence[slice(*self.h_region)]

    @property
    def c(self) -> str:
        return self.sequence[slice(*self.c_region)]

    def as_dict(self) -> dict[str, Any]:
        """Flat record for a table (region strings and lengths included)."""
        return {
            "sequence": self.sequence,
            "length": len(self.sequence),
            "n_region": self.n,
            "h_region": self.h,
            "c_region": self.c,
            "n_length": len(self.n),
            "h_length": len(self.h),
            "c_length": len(self.c),
            "n_charge": self.n_charge,
            "h_hydropathy": round(self.h_hydropathy, 3),
            "c_hydropathy": round(self.c_hydropathy, 3),
            "cleavage_site": self.cleavage_site,
            "motif": self.motif,
            "junction": self.junction,
            "rule_score": round(self.score, 4),
            "passes": self.passes,
            "violations": "; ".join(self.violations),
        }


def _hydropathy(seq: str) -> np.ndarray:
    return np.array([KYTE_DOOLITTLE[a] for a in seq])


def _h_region(kd: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """Maximum-sum segment of ``kd - threshold`` inside ``[lo, hi)`` (Kadane); may be empty."""
    best, best_span = 0.0, (lo, lo)
    run, start = 0.0, lo
    for i in range(lo, hi):
        v = kd[i] - HYDROPHOBIC_THRESHOLD
        if run <= 0.0:
            run, start = v, i
        else:
            run += v
        if run > best:
            best, best_span = run, (start, i + 1)
    return best_span


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else float("nan")


def analyze(sp: str, mature: str | None = None) -> SignalPeptideRegions:
    """Split ``sp`` into n/h/c regions and check von Heijne's rules; cleavage after ``sp[-1]``.

    ``mature`` (optional): the protein after the cleavage site, to check the
    junction (no proline at +1). ``sp`` must be upper-case amino acids (use
    :func:`biofab.parts.sequences.check_sequence` on user input).

    Score (0-1), a weighted sum of: n-region charge, min(K+R-D-E, 3)/3 (0.2);
    h-region total hydropathy above the threshold, clip(sum(KD - 1)/20, 0, 1)
    (0.35); the (-3, -1) residues' preference weights (0.3); a c-region more
    polar than the h-region and 3-7 aa long (0.15). Rules broken are listed in
    ``violations`` and do not change the score; rank on ``passes`` first.
    """
    seq = sp
    n_len = len(seq)
    kd = _hydropathy(seq)
    # The c-region keeps at least C_MIN residues (-3..-1); the n-region at least the Met.
    h0, h1 = _h_region(kd, 1, max(1, n_len - C_MIN))
    if h1 == h0:  # no hydrophobic residue at all: empty core placed before the c-region
        h0 = h1 = max(1, n_len - C_MIN)
    n_part, h_part, c_part = seq[:h0], seq[h0:h1], seq[h1:]
    n_charge = sum(a in POSITIVE for a in n_part) - sum(a in NEGATIVE for a in n_part)
    h_kd, c_kd = _mean(kd[h0:h1]), _mean(kd[h1:])
    motif = seq[-3:] if n_len >= 3 else seq
    junction = mature[:3] if mature else ""

    v: list[str] = []
    lo, hi = LENGTH_RANGE
    if not lo <= n_len <= hi:
        v.append(f"length {n_len} aa outside {lo}-{hi}")
    if n_charge < 1:
        v.append(f"n-region net charge {n_charge:+d} (needs K/R, >= +1)")
    if len(n_part) > N_MAX:
        v.append(f"n-region {len(n_part)} aa > {N_MAX}")
    if len(h_part) < H_MIN:
        v.append(f"h-region {len(h_part)} aa < {H_MIN} (no hydrophobic core)")
    elif len(h_part) > H_MAX:
        v.append(f"h-region {len(h_part)} aa > {H_MAX} (transmembrane anchor?)")
    if h_part and h_kd < H_MIN_HYDROPATHY:
        v.append(f"h-region hydropathy {h_kd:.2f} < {H_MIN_HYDROPATHY}")
    charged = [a for a in h_part if a in CHARGED]
    if charged:
        v.append(f"charged residue {charged[0]} in h-region")
    if len(c_part) > C_MAX:
        v.append(f"c-region {len(c_part)} aa > {C_MAX}")
    m1, m3 = seq[-1], seq[-3] if n_len >= 3 else ""
    if m1 not in MINUS1:
        v.append(f"-1 residue {m1} not small (A, G, S, T, C)")
    if m3 not in MINUS3:
        v.append(f"-3 residue {m3 or '-'} not small/neutral (A, G, S, T, C, V, I, L)")
    if "P" in seq[-3:]:
        v.append("proline at -3..-1")
    if junction.startswith("P"):
        v.append("proline at +1 of the mature protein")

    charge_s = min(max(n_charge, 0), 3) / 3
    # Total hydrophobicity above the threshold: a long moderately hydrophobic core scores
    # like a short very hydrophobic one (both insert into the membrane).
    h_s = float(np.clip((kd[h0:h1] - HYDROPHOBIC_THRESHOLD).sum() / 20.0, 0, 1))
    cleave_s = 0.5 * MINUS1.get(m1, 0.0) + 0.5 * MINUS3.get(m3, 0.0)
    polar = 1.0 if (h_part and c_kd < h_kd - 1.0) else 0.0
    c_s = 0.5 * polar + 0.5 * float(C_MIN <= len(c_part) <= 7)
    score = 0.2 * charge_s + 0.35 * h_s + 0.3 * cleave_s + 0.15 * c_s
    return SignalPeptideRegions(
        sequence=seq,
        n_region=(0, h0),
        h_region=(h0, h1),
        c_region=(h1, n_len),
        n_charge=n_charge,
        h_hydropathy=h_kd,
        c_hydropathy=c_kd,
        cleavage_site=n_len,
        motif=motif,
        junction=junction,
        violations=tuple(v),
        score=score,
    )


def find_signal_peptide(
    protein: str, min_len: int = LENGTH_RANGE[0], max_len: int = LENGTH_RANGE[1]
) -> SignalPeptideRegions | None:
    """The best rule-passing SP at the N-terminus of ``protein`` (aa), or None.

    Every cleavage site from ``min_len`` to ``max_len`` aa is tried with the
    rest of the protein as the mature part; the passing site with the highest
    score wins (the earliest on a tie).
    """
    best: SignalPeptideRegions | None = None
    for cut in range(min_len, min(max_len, len(protein) - 1) + 1):
        # Cheap pre-filters before the full analysis: the (-3, -1) rule and +1 proline.
        if protein[cut - 1] not in MINUS1 or protein[cut - 3] not in MINUS3:
            continue
        if "P" in protein[cut - 3 : cut + 1]:
            continue
        res = analyze(protein[:cut], protein[cut:])
        if res.passes and (best is None or res.score > best.score + 1e-12):
            best = res
    return best


def read_proteome(path: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """A protein FASTA -> (ids, sequences), every sequence checked (20 amino acids)."""
    p = Path(path)
    text = read_text_file(p, "a protein FASTA")
    ids, seqs = parse_fasta(text, file=str(p))
    checked = check_sequences(seqs, "protein", file=str(p), column=None)
    return ids, checked


def extract_candidates(
    proteome_fasta: str | os.PathLike[str], max_len: int = LENGTH_RANGE[1]
) -> pd.DataFrame:
    """Natural SP candidates: N-termini of a proteome's proteins that pass the rules.

    Returns one row per protein with a passing SP: ``id`` (the FASTA id, e.g.
    a locus tag), ``origin`` = ``"natural"`` and the :meth:`SignalPeptideRegions.as_dict`
    columns, sorted by ``rule_score`` (best first). Sec rules only: Tat (RR)
    and lipoprotein (C at -1) SPs are not told apart, and an N-terminal
    membrane anchor with a short core can pass.
    """
    import pandas as pd

    ids, seqs = read_proteome(proteome_fasta)
    rows = []
    for pid, prot in zip(ids, seqs, strict=True):
        res = find_signal_peptide(prot, max_len=max_len)
        if res is not None:
            rows.append({"id": pid, "origin": "natural", **res.as_dict()})
    columns = ["id", "origin", *analyze("MKKLLLLLLLLLLLASA").as_dict()]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("rule_score", ascending=False, kind="stable").reset_index(drop=True)


def _sequences_of(candidates: pd.DataFrame | Sequence[str]) -> list[str]:
    import pandas as pd

    if isinstance(candidates, pd.DataFrame):
        if "sequence" not in candidates.columns:
            raise InputError("missing column", column="sequence", expected="a 'sequence' column")
        return check_sequences(list(candidates["sequence"]), "protein", column="sequence")
    return check_sequences(list(candidates), "protein", column="sequence")


def generate_candidates(
    natural: pd.DataFrame | Sequence[str],
    n: int,
    seed: int = 0,
    mutation_rate: float = 0.5,
    max_tries: int = 200,
) -> pd.DataFrame:
    """``n`` new SPs from natural ones, every one passing :func:`analyze`'s rules.

    Each try recombines the n-, h- and c-region of three random natural SPs
    (n from one, h from another, c with the cleavage site from a third); with
    probability ``mutation_rate`` 1-3 h-region positions are then replaced by
    hydrophobic residues (L, I, V, F, A, M). A variant is kept when it passes
    every rule and is new (not a natural SP, not generated before). Stops after
    ``n`` variants or ``max_tries * n`` tries; may return fewer than ``n``.
    Columns: ``id`` (``gen-1``...), ``origin`` (``"generated"``), ``parents``,
    and the :meth:`SignalPeptideRegions.as_dict` columns.
    """
    import pandas as pd

    seqs = _sequences_of(natural)
    parts = [r for r in (analyze(s) for s in seqs) if len(r.h) >= 1]
    if not parts:
        raise InputError("no natural signal peptide to recombine", expected="at least one SP")
    if n < 1:
        raise InputError("n must be at least 1", found=n)
    rng = np.random.default_rng(seed)
    seen = set(seqs)
    rows: list[dict[str, Any]] = []
    for _ in range(max_tries * n):
        if len(rows) >= n:
            break
        i, j, k = rng.integers(0, len(parts), size=3)
        h = list(parts[j].h)
        if rng.random() < mutation_rate and h:
            for pos in rng.choice(len(h), size=min(len(h), int(rng.integers(1, 4))), replace=False):
                h[pos] = H_RESIDUES[int(rng.integers(len(H_RESIDUES)))]
        cand = parts[i].n + "".join(h) + parts[k].c
        if cand in seen or not cand.startswith("M"):
            continue
        res = analyze(cand)
        if not res.passes:
            continue
        seen.add(cand)
        parents = f"n:{i + 1},h:{j + 1},c:{k + 1}"
        rows.append(
            {"id": f"gen-{len(rows) + 1}", "origin": "generated", "parents": parents}
            | res.as_dict()
        )
    columns = ["id", "origin", "parents", *analyze("MKKLLLLLLLLLLLASA").as_dict()]
    return pd.DataFrame(rows, columns=columns)


def rank_candidates(
    candidates: pd.DataFrame | Sequence[str],
    mature_protein: str,
    model: str | os.PathLike[str] | SequenceModel | None = None,
) -> pd.DataFrame:
    """Rank SP candidates for fusion to ``mature_protein`` (aa, without its own SP).

    Every candidate is re-analysed with the mature protein after it, so the
    junction rules apply (no proline at +1; ``junction`` = residues +1..+3;
    ``junction_charge`` = K + R - D - E of +1..+3, since positive charges at the
    mature N-terminus slow translocation). With ``model`` (a directory from
    ``biofab parts train --kind signal_peptide`` or a loaded model) the SP's
    predicted activity and its ensemble std are added as ``prediction`` and
    ``std``. Order: rule-passing first, then the prediction (when a model is
    given) or the rule score, best first; ``rank`` counts from 1.
    """
    import pandas as pd

    mature = check_sequence(mature_protein, "protein", min_length=3, column="mature")
    seqs = _sequences_of(candidates)
    base = (
        candidates.reset_index(drop=True)
        if isinstance(candidates, pd.DataFrame)
        else pd.DataFrame({"id": [f"sp-{i + 1}" for i in range(len(seqs))]})
    )
    keep = [c for c in ("id", "origin", "parents") if c in base.columns]
    rows = [analyze(s, mature).as_dict() for s in seqs]
    frame = pd.concat([base[keep], pd.DataFrame(rows)], axis=1)
    frame["junction_charge"] = [
        sum(a in POSITIVE for a in mature[:3]) - sum(a in NEGATIVE for a in mature[:3])
    ] * len(frame)
    order = ["rule_score"]
    if model is not None:
        from biofab.parts.models import load_model

        est = (
            load_model(model, kind="signal_peptide") if isinstance(model, str | os.PathLike)
            else model
        )  # fmt: skip
        est.check(seqs)
        mean, std = est.predict(seqs)
        frame["prediction"], frame["std"] = mean, std
        order = ["prediction", "rule_score"]
    frame = frame.sort_values(
        ["passes", *order], ascending=[False] + [False] * len(order), kind="stable"
    ).reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


# ---------------------------------------------------------------------------------------
# descriptors for secretion models, and sequence clusters for grouped evaluation
# ---------------------------------------------------------------------------------------

#: Mature residues read as the "mature N-terminus" (+1..+MATURE_WINDOW) and the junction
#: half-width (-JUNCTION..-1 | +1..+JUNCTION).
MATURE_WINDOW = 10
JUNCTION = 3
AROMATIC = "FWY"
SMALL = "AGS"

#: Names of :func:`descriptors`' values, in order (units: aa, charges, Kyte-Doolittle).
DESCRIPTOR_NAMES: tuple[str, ...] = (
    "sp_length", "n_length", "h_length", "c_length", "n_charge", "h_hydropathy",
    "c_hydropathy", "h_excess", "sp_hydropathy", "sp_charge", "sp_frac_kr", "sp_frac_aromatic",
    "sp_frac_small", "sp_frac_p", "h_frac_g", "minus1_weight", "minus3_weight", "rule_score",
    "passes", "mature_charge", "mature_hydropathy", "mature_frac_de", "mature_p_near",
    "junction_charge", "junction_hydropathy",
)  # fmt: skip
#: Optional SP amino-acid composition columns, ``comp_A`` ... ``comp_Y`` (fractions).
COMPOSITION_NAMES: tuple[str, ...] = tuple(f"comp_{a}" for a in "ACDEFGHIKLMNPQRSTVWY")


def _charge(seq: str) -> int:
    return sum(a in POSITIVE for a in seq) - sum(a in NEGATIVE for a in seq)


def _frac(seq: str, letters: str) -> float:
    return sum(a in letters for a in seq) / len(seq) if seq else 0.0


def descriptors(sp: str, mature: str = "", composition: bool = False) -> dict[str, float]:
    """Numbers describing one SP and its fusion junction, for a secretion model.

    SP anatomy from :func:`analyze` (region lengths in aa, n-region net charge,
    mean Kyte-Doolittle hydropathy of h and c, ``h_excess`` = sum of KD - 1 over
    the h-region, the (-1, -3) preference weights, rule score, passes 0/1); whole-SP
    hydropathy, net charge and the fractions of K+R, aromatic, small (A, G, S) and
    proline residues; glycines in the h-region (helix breakers). Mature
    N-terminus (+1..+10 of ``mature``): net charge, mean hydropathy, fraction
    D+E (Gram-positive Sec substrates favour a non-positive early mature
    region: von Heijne 1986; Kajava et al. 2000, J Bacteriol 182:2163) and
    prolines at +1..+3. Junction (-3..+3): net charge and mean hydropathy. An
    empty ``mature`` gives 0 for the mature and junction terms that need it.
    ``composition`` adds the SP's 20 amino-acid fractions (``comp_A``...).
    Keys: :data:`DESCRIPTOR_NAMES` (+ :data:`COMPOSITION_NAMES`).
    """
    r = analyze(sp, mature or None)
    kd = _hydropathy(sp)
    h0, h1 = r.h_region
    head = mature[:MATURE_WINDOW]
    junction = sp[-JUNCTION:] + mature[:JUNCTION]
    out = {
        "sp_length": float(len(sp)),
        "n_length": float(len(r.n)),
        "h_length": float(len(r.h)),
        "c_length": float(len(r.c)),
        "n_charge": float(r.n_charge),
        "h_hydropathy": r.h_hydropathy if r.h else 0.0,
        "c_hydropathy": r.c_hydropathy if r.c else 0.0,
        "h_excess": float((kd[h0:h1] - HYDROPHOBIC_THRESHOLD).sum()),
        "sp_hydropathy": float(kd.mean()),
        "sp_charge": float(_charge(sp)),
        "sp_frac_kr": _frac(sp, POSITIVE),
        "sp_frac_aromatic": _frac(sp, AROMATIC),
        "sp_frac_small": _frac(sp, SMALL),
        "sp_frac_p": _frac(sp, "P"),
        "h_frac_g": _frac(r.h, "G"),
        "minus1_weight": MINUS1.get(sp[-1], 0.0),
        "minus3_weight": MINUS3.get(sp[-3], 0.0) if len(sp) >= 3 else 0.0,
        "rule_score": r.score,
        "passes": float(r.passes),
        "mature_charge": float(_charge(head)),
        "mature_hydropathy": float(_hydropathy(head).mean()) if head else 0.0,
        "mature_frac_de": _frac(head, NEGATIVE),
        "mature_p_near": float(mature[:JUNCTION].count("P")),
        "junction_charge": float(_charge(junction)),
        "junction_hydropathy": float(_hydropathy(junction).mean()),
    }
    if composition:
        out.update({f"comp_{a}": sp.count(a) / len(sp) for a in "ACDEFGHIKLMNPQRSTVWY"})
    return out


def identity(a: str, b: str) -> float:
    """Fraction of identical aligned residues of a global alignment, over the shorter length.

    Needleman-Wunsch with match +1, mismatch -1 and a linear gap of -2, so that the
    leucine-rich cores of unrelated SPs do not align by chance (a looser scoring puts
    the median unrelated pair of Wu 2020's SPs near 40 %); enough to group short
    peptides (15-50 aa), not a substitute for a BLOSUM alignment.
    """
    if not a or not b:
        return 0.0
    # Row by row with plain lists (numpy scalar indexing is slower for 20-aa peptides).
    prev = [-2.0 * j for j in range(len(b) + 1)]
    prev_id = [0] * (len(b) + 1)
    for i, x in enumerate(a, start=1):
        row, row_id = [-2.0 * i], [0]
        for j, y in enumerate(b, start=1):
            diag = prev[j - 1] + (1.0 if x == y else -1.0)
            up, left = prev[j] - 2.0, row[j - 1] - 2.0
            if diag >= up and diag >= left:
                row.append(diag)
                row_id.append(prev_id[j - 1] + (x == y))
            elif up >= left:
                row.append(up)
                row_id.append(prev_id[j])
            else:
                row.append(left)
                row_id.append(row_id[j - 1])
        prev, prev_id = row, row_id
    return prev_id[-1] / min(len(a), len(b))


def cluster_sequences(seqs: Sequence[str], min_identity: float = 0.5) -> np.ndarray:
    """Average-linkage clusters of sequences at ``min_identity`` (:func:`identity`).

    Two groups merge while their mean pairwise identity is at least
    ``min_identity`` (UPGMA, cut at distance ``1 - min_identity``); single linkage
    chains unrelated SPs together through their hydrophobic cores. Returns one
    integer label per sequence (0, 1, ... in order of first appearance); equal
    sequences share a cluster. Used to hold out groups of similar SPs together, so
    a near-copy in training cannot stand in for one that is held out. On Wu 2020's
    113 SPs, 0.5 gives 42 clusters of 1-11 (SPGen's generated SPs next to the
    natural ones they resemble).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    uniq = list(dict.fromkeys(seqs))
    if len(uniq) == 1:
        return np.zeros(len(seqs), dtype=int)
    n = len(uniq)
    dist = [1.0 - identity(uniq[i], uniq[j]) for i in range(n) for j in range(i + 1, n)]
    raw = fcluster(linkage(np.array(dist), "average"), 1.0 - min_identity, "distance")
    labels: dict[int, int] = {}
    of_uniq = [labels.setdefault(int(c), len(labels)) for c in raw]
    index = {s: of_uniq[k] for k, s in enumerate(uniq)}
    return np.array([index[s] for s in seqs], dtype=int)
