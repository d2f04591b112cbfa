"""Build a site library: degenerate codons, coverage statistics, primers to order, variant files.

**Codon sets.** A site is randomised with one or more degenerate codons (IUPAC letters)
mixed in given proportions: ``NNK`` and ``NNS`` (32 codons, all 20 amino acids, one stop),
``NDT`` (12 codons, 12 amino acids, no stop; Reetz et al. 2008, ChemBioChem 9:1797), the
*22c trick* ``NDT + VHG + TGG`` mixed 12:9:1 (22 codons, 20 amino acids, no stop; Kille
et al. 2013, ACS Synth Biol 2:83), or any user set (``"NDT+VMA+ATG+TGG"``, with optional
``:weight`` per part; by default each part weighs as many codons as it encodes, so every
codon is equally likely). Translation uses the standard genetic code.

**Coverage.** Clones are drawn from the DNA library, so a protein variant's probability is
the product over sites of the fraction of codons that encode its residue there; clones
with a stop codon are screened and wasted. With ``L`` clones screened the expected
fraction of the ``V`` protein variants seen at least once is
``C(L) = 1/V * sum_v (1 - exp(-L p_v))`` (Poisson sampling, Firth & Patrick 2005,
Bioinformatics 21:3314; Patrick & Firth 2005, Biomol Eng 22:105), and for ``V``
equiprobable variants ``L = -V ln(1 - C)`` (about 3 V for 95 %, the oversampling of
Reetz, Kahakeaw & Lohmer 2008, ChemBioChem 9:1797).
:meth:`LibraryDesign.clones_for_coverage` solves ``C(L) >= target``
for the actual, unequal probabilities, grouped by value so a 20^6 library costs
nothing.

**Primers.** With the parent's coding DNA, each group of nearby sites gets one mutagenic
primer: the degenerate codon(s) with the parent's codons between sites, flanked on both
sides by parent sequence extended until each flank's melting temperature reaches the
target (nearest-neighbour Tm, Allawi & SantaLucia 1997 parameters as Biopython's
``Tm_NN`` defaults: 50 mM Na+, 25 nM oligo), so the two flanks are Tm-balanced. Sites
randomised with several degenerate codons (22c) get one primer per combination, each
with its share of the mix. The reverse primer is the forward's reverse complement
(complementary pair for QuikChange-style or overlap-extension mutagenesis).

**Export.** Chosen variants as protein or (with the parent's CDS) DNA sequences in FASTA or
GenBank, each with its mutations as features; one file, written atomically.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biofab.core.atomic import atomic_path, write_atomic
from biofab.core.errors import InputError
from biofab.parts.sequences import check_sequence
from biofab.parts.variants import AMINO_ACIDS, SiteLibrary, unique_variants

if TYPE_CHECKING:
    import pandas as pd

IUPAC: dict[str, str] = {
    "A": "A", "C": "C", "G": "G", "T": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}  # fmt: skip
_IUPAC_COMPLEMENT = str.maketrans("ACGTRYSWKMBDHVN", "TGCAYRSWMKVHDBN")

#: Named codon sets: name -> parts as (degenerate codon, weight or None = its codon count).
NAMED_SETS: dict[str, tuple[tuple[str, float | None], ...]] = {
    "NNK": (("NNK", None),),
    "NNS": (("NNS", None),),
    "NNN": (("NNN", None),),
    "NDT": (("NDT", None),),
    "22c": (("NDT", None), ("VHG", None), ("TGG", None)),
}

#: Most used codon per amino acid in E. coli K-12 (Codon Usage Database, Nakamura et al.
#: 2000, Nucleic Acids Res 28:292), used for a changed residue when exporting DNA without
#: a codon set.
ECOLI_CODON: dict[str, str] = {
    "A": "GCG", "C": "TGC", "D": "GAT", "E": "GAA", "F": "TTT", "G": "GGC", "H": "CAT",
    "I": "ATT", "K": "AAA", "L": "CTG", "M": "ATG", "N": "AAC", "P": "CCG", "Q": "CAG",
    "R": "CGC", "S": "AGC", "T": "ACC", "V": "GTG", "W": "TGG", "Y": "TAT",
}  # fmt: skip


@cache
def _genetic_code() -> dict[str, str]:
    from Bio.Data import CodonTable

    standard: Any = CodonTable.standard_dna_table
    table = dict(standard.forward_table)
    table.update({c: "*" for c in standard.stop_codons})
    return table


def expand(degenerate: str) -> list[str]:
    """All plain codons of one degenerate codon (``"NDT"`` -> 12 codons)."""
    import itertools

    d = degenerate.strip().upper().replace("U", "T")
    if len(d) != 3 or any(c not in IUPAC for c in d):
        raise InputError(
            "not a degenerate codon",
            expected="three IUPAC letters (A C G T R Y S W K M B D H V N)",
            found=degenerate,
        )
    return ["".join(t) for t in itertools.product(*(IUPAC[c] for c in d))]


@dataclass(frozen=True)
class CodonSet:
    """The codons one site is randomised with: degenerate parts and their mixing weights."""

    name: str
    parts: tuple[tuple[str, float], ...]

    @classmethod
    def parse(cls, spec: str) -> CodonSet:
        """``"NNK"``, ``"22c"``, ``"NDT+VHG+TGG"``, ``"NDT:12+VHG:9+TGG:1"`` or ``"GCT,TGG"``."""
        text = str(spec).strip()
        named = {k.upper(): v for k, v in NAMED_SETS.items()}
        raw: Sequence[tuple[str, float | None]] | None = named.get(text.upper())
        if raw is None:
            pieces: list[tuple[str, float | None]] = []
            for piece in re.split(r"[+,]", text):
                codon, _, weight = piece.strip().partition(":")
                w: float | None = None
                if weight:
                    try:
                        w = float(weight)
                    except ValueError:
                        w = -1.0
                    if not (math.isfinite(w) and w > 0):
                        raise InputError(
                            f"codon set {text}: weight of {codon} must be a positive number",
                            found=weight,
                        )
                pieces.append((codon.strip().upper(), w))
            raw = pieces
        parts = tuple((c, float(len(expand(c))) if w is None else w) for c, w in raw)
        if not parts:
            raise InputError("empty codon set", expected="like NNK or NDT+VHG+TGG", found=spec)
        return cls(text, parts)

    def codon_probabilities(self) -> dict[str, float]:
        """Plain codon -> probability in the mix (codons of one part equally likely)."""
        total = sum(w for _, w in self.parts)
        out: dict[str, float] = {}
        for deg, w in self.parts:
            codons = expand(deg)
            for c in codons:
                out[c] = out.get(c, 0.0) + w / total / len(codons)
        return out

    def residue_probabilities(self) -> dict[str, float]:
        """Amino acid (``"*"`` = stop) -> probability a clone has it at this site."""
        code = _genetic_code()
        out: dict[str, float] = {}
        for c, p in self.codon_probabilities().items():
            aa = code[c]
            out[aa] = out.get(aa, 0.0) + p
        return out

    @property
    def residues(self) -> str:
        """Amino acids encoded (no stop), in :data:`AMINO_ACIDS` order."""
        probs = self.residue_probabilities()
        return "".join(a for a in AMINO_ACIDS if a in probs)

    @property
    def n_codons(self) -> int:
        return len(self.codon_probabilities())

    @property
    def stop_fraction(self) -> float:
        return self.residue_probabilities().get("*", 0.0)

    def codon_for(self, residue: str) -> str | None:
        """The most likely codon of the set that encodes ``residue`` (None if none does)."""
        code = _genetic_code()
        best = [(p, c) for c, p in self.codon_probabilities().items() if code[c] == residue]
        return max(best)[1] if best else None


def _group_probabilities(per_site: Sequence[Mapping[str, float]]) -> dict[float, int]:
    """Distinct protein-variant probabilities and how many variants share each."""
    groups: dict[float, int] = {1.0: 1}
    for probs in per_site:
        site: dict[float, int] = {}
        for aa, p in probs.items():
            if aa != "*":
                key = float(f"{p:.12g}")
                site[key] = site.get(key, 0) + 1
        nxt: dict[float, int] = {}
        for p1, n1 in groups.items():
            for p2, n2 in site.items():
                key = float(f"{p1 * p2:.12g}")
                nxt[key] = nxt.get(key, 0) + n1 * n2
        groups = nxt
    return groups


class LibraryDesign:
    """A site library built with codon sets: the residues they encode and its statistics.

    ``codons`` is one spec for every site or a mapping site name/position -> spec (sites
    it does not name take ``default``). The :attr:`library` allows exactly the residues
    the codons encode, so its space is what the lab can actually build.
    """

    def __init__(
        self,
        parent: str,
        positions: Sequence[int],
        codons: str | Mapping[Any, str] = "NNK",
        default: str = "NNK",
    ) -> None:
        base = SiteLibrary(parent, positions)
        if isinstance(codons, str):
            spec = {name: codons for name in base.sites}
        else:
            keys = {str(k).strip().upper(): v for k, v in codons.items()}
            by_pos = {str(p): n for p, n in zip(base.positions, base.sites, strict=True)}
            spec = {}
            for k, v in keys.items():
                name = by_pos.get(k, k)
                if name not in base.sites:
                    raise InputError(
                        "a codon is given for a position that is not a site",
                        expected=f"one of {base.sites}",
                        found=k,
                    )
                spec[name] = v
            spec = {n: spec.get(n, default) for n in base.sites}
        self.codon_sets: dict[str, CodonSet] = {n: CodonSet.parse(s) for n, s in spec.items()}
        allowed = {}
        for p, n in zip(base.positions, base.sites, strict=True):
            letters = self.codon_sets[n].residues
            if len(letters) < 2:
                raise InputError(
                    f"site {n}: codon set {self.codon_sets[n].name} encodes under two residues",
                    found=letters or "stop only",
                )
            allowed[p] = letters
        self.library = SiteLibrary(base.parent, base.positions, allowed)

    @property
    def n_variants(self) -> int:
        """Distinct protein variants the library can contain."""
        return self.library.size

    @property
    def n_codon_combinations(self) -> int:
        return math.prod(s.n_codons for s in self.codon_sets.values())

    @property
    def stop_fraction(self) -> float:
        """Fraction of clones with a stop codon at one or more sites."""
        return 1.0 - math.prod(1.0 - s.stop_fraction for s in self.codon_sets.values())

    def _groups(self) -> dict[float, int]:
        return _group_probabilities([s.residue_probabilities() for s in self.codon_sets.values()])

    def expected_coverage(self, clones: int) -> float:
        """Expected fraction of protein variants seen at least once among ``clones`` clones."""
        if clones < 0:
            raise InputError("number of clones must be >= 0", found=clones)
        total = sum(n * -math.expm1(-clones * p) for p, n in self._groups().items())
        return total / self.n_variants

    def clones_for_coverage(self, coverage: float = 0.95) -> int:
        """Fewest clones whose expected protein-variant coverage reaches ``coverage``."""
        if not 0 < coverage < 1:
            raise InputError("coverage out of range", expected="0 < coverage < 1", found=coverage)
        groups = self._groups()
        v = self.n_variants

        def covered(n: int) -> float:
            return sum(k * -math.expm1(-n * p) for p, k in groups.items()) / v

        hi = max(1, math.ceil(-v * math.log1p(-coverage)))
        while covered(hi) < coverage:
            hi *= 2
        lo = 0
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if covered(mid) < coverage else (lo, mid)
        return hi

    def check_budget(self, budget: int, coverage: float = 0.95) -> int:
        """Clones needed for ``coverage``; one-line error when they exceed ``budget``."""
        if budget < 1:
            raise InputError("screening budget must be at least 1 clone", found=budget)
        need = self.clones_for_coverage(coverage)
        if need > budget:
            raise InputError(
                f"library of {self.n_variants:,} variants needs {need:,} clones for "
                f"{coverage:.0%} coverage but the screening budget is {budget:,}",
                expected=f"a budget >= {need:,}, fewer sites or a smaller codon set "
                "(NDT, 22c, or restricted residues)",
                found=budget,
            )
        return need

    def site_table(self) -> pd.DataFrame:
        """One row per site: codons, residues, stop fraction and residue bias."""
        import pandas as pd

        rows = []
        for (name, cs), pos in zip(self.codon_sets.items(), self.library.positions, strict=True):
            probs = {a: p for a, p in cs.residue_probabilities().items() if a != "*"}
            rows.append(
                {
                    "site": name,
                    "position": pos,
                    "codons": cs.name,
                    "degenerate": "+".join(f"{c}:{w:g}" for c, w in cs.parts),
                    "n_codons": cs.n_codons,
                    "residues": cs.residues,
                    "n_residues": len(cs.residues),
                    "stop_fraction": round(cs.stop_fraction, 6),
                    "max_over_min": round(max(probs.values()) / min(probs.values()), 4),
                }
            )
        return pd.DataFrame(rows)

    def summary(self, coverage: float = 0.95, budget: int | None = None) -> dict[str, Any]:
        """Library statistics (the numbers a lab plans the screen with)."""
        need = self.clones_for_coverage(coverage)
        out: dict[str, Any] = {
            "parent_length_aa": len(self.library.parent),
            "sites": self.library.sites,
            "codons": {n: s.name for n, s in self.codon_sets.items()},
            "n_variants": self.n_variants,
            "n_codon_combinations": self.n_codon_combinations,
            "stop_fraction": self.stop_fraction,
            "coverage_target": coverage,
            "clones_for_coverage": need,
            "oversampling": need / self.n_variants,
        }
        if budget is not None:
            out["budget"] = budget
            out["expected_coverage_at_budget"] = self.expected_coverage(budget)
        return out


# -- primers ------------------------------------------------------------------------------


def reverse_complement(dna: str) -> str:
    """Reverse complement, IUPAC-aware (``K`` pairs with ``M``, ``N`` with ``N``)."""
    return dna.upper().translate(_IUPAC_COMPLEMENT)[::-1]


def translate(dna: str) -> str:
    code = _genetic_code()
    return "".join(code[dna[i : i + 3]] for i in range(0, len(dna) - len(dna) % 3, 3))


def check_cds(dna: str, parent: str, *, file: str | None = None) -> str:
    """The parent's coding DNA, checked: ACGT, whole codons, translating to ``parent``.

    A final stop codon is allowed and kept out of the returned CDS.
    """
    s = check_sequence(dna, "dna", file=file, column="parent_dna")
    if len(s) % 3:
        raise InputError(
            "coding DNA is not whole codons",
            file=file,
            column="parent_dna",
            expected="a length divisible by 3",
            found=f"{len(s)} nt",
        )
    protein = translate(s)
    if protein.endswith("*"):
        protein, s = protein[:-1], s[:-3]
    if protein != parent:
        at = next(
            (i for i, (a, b) in enumerate(zip(protein, parent, strict=False)) if a != b), None
        )
        where = f"residue {at + 1}" if at is not None else "length"
        raise InputError(
            f"coding DNA does not translate to the parent ({where} differs)",
            file=file,
            column="parent_dna",
            expected=parent[:30] + ("..." if len(parent) > 30 else ""),
            found=protein[:30] + ("..." if len(protein) > 30 else ""),
        )
    return s


def _tm(seq: str) -> float:
    from Bio.SeqUtils import MeltingTemp

    return float(MeltingTemp.Tm_NN(seq))


def _flank(dna: str, start: int, step: int, target_tm: float, lo: int, hi: int) -> str:
    """Parent DNA beside the mutagenic region, grown until its Tm reaches ``target_tm``."""
    best = ""
    for n in range(lo, hi + 1):
        a, b = (start - n, start) if step < 0 else (start, start + n)
        if a < 0 or b > len(dna):
            break
        best = dna[a:b]
        if _tm(best) >= target_tm:
            break
    return best


def _site_groups(positions: Sequence[int], max_span_aa: int) -> list[list[int]]:
    """Sites within ``max_span_aa`` residues of their group's first site share one primer."""
    groups: list[list[int]] = []
    for p in sorted(positions):
        if groups and p - groups[-1][0] < max_span_aa:
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups


def primers(
    design: LibraryDesign,
    cds: str,
    *,
    target_tm: float = 60.0,
    min_flank: int = 12,
    max_flank: int = 40,
    max_span_aa: int = 10,
    name_prefix: str = "lib",
    upstream: str = "",
    downstream: str = "",
) -> pd.DataFrame:
    """Mutagenic primers (forward and reverse) for every site group, with mixing fractions.

    ``cds`` is the parent's coding DNA (checked with :func:`check_cds`); ``upstream`` and
    ``downstream`` are the plasmid sequence around it, needed when a site lies closer to an
    end of the CDS than a flank (a flank shorter than ``min_flank`` is an error naming the
    site). Columns: ``name``,
    ``sequence`` (5'->3', IUPAC), ``direction``, ``sites``, ``codons``, ``mix_fraction``
    (share of the group's primer pool; 1 for a single degenerate codon per site),
    ``length``, ``flank_5p_tm``, ``flank_3p_tm`` (°C), ``note``.
    """
    import itertools

    import pandas as pd

    if not 40 <= target_tm <= 80:
        raise InputError("primer target Tm out of range", expected="40-80 °C", found=target_tm)
    if not 6 <= min_flank <= max_flank <= 60:
        raise InputError(
            "primer flank lengths out of range",
            expected="6 <= min <= max <= 60 nt",
            found=(min_flank, max_flank),
        )
    lib = design.library
    dna = check_cds(cds, lib.parent)
    stop = check_sequence(cds, "dna", column="parent_dna")[len(dna) :]
    up = check_sequence(upstream, "dna", column="upstream") if upstream.strip() else ""
    down = check_sequence(downstream, "dna", column="downstream") if downstream.strip() else ""
    template = up + dna + stop + down
    names = dict(zip(lib.positions, lib.sites, strict=True))
    rows = []
    for g, group in enumerate(_site_groups(lib.positions, max_span_aa), start=1):
        start, end = len(up) + (group[0] - 1) * 3, len(up) + group[-1] * 3
        left = _flank(template, start, -1, target_tm, min_flank, max_flank)
        right = _flank(template, end, +1, target_tm, min_flank, max_flank)
        if len(left) < min_flank or len(right) < min_flank:
            side = "upstream" if len(left) < min_flank else "downstream"
            raise InputError(
                f"site {names[group[0] if side == 'upstream' else group[-1]]} is too close to the "
                f"{'start' if side == 'upstream' else 'end'} of the CDS for a primer flank",
                expected=f"{min_flank} nt of template beside the codon: give the {side} "
                "plasmid sequence",
                found=f"{len(left) if side == 'upstream' else len(right)} nt",
            )
        notes = []
        if _tm(left) < target_tm or _tm(right) < target_tm:
            notes.append("a flank is short of the target Tm (end of the CDS or max length)")
        sets = [design.codon_sets[names[p]] for p in group]
        for combo in itertools.product(*(cs.parts for cs in sets)):
            fraction = 1.0
            middle = list(template[start:end])
            for p, cs, (deg, w) in zip(group, sets, combo, strict=True):
                fraction *= w / sum(x for _, x in cs.parts)
                k = (p - group[0]) * 3
                middle[k : k + 3] = list(deg)
            fwd = left + "".join(middle) + right
            label = "_".join(names[p] for p in group)
            tag = "-".join(deg for deg, _ in combo)
            base = f"{name_prefix}_{label}_{tag}"
            for direction, seq in (("forward", fwd), ("reverse", reverse_complement(fwd))):
                rows.append(
                    {
                        "name": f"{base}_{'F' if direction == 'forward' else 'R'}",
                        "sequence": seq,
                        "direction": direction,
                        "group": g,
                        "sites": "/".join(names[p] for p in group),
                        "codons": tag,
                        "mix_fraction": round(fraction, 6),
                        "length": len(seq),
                        "flank_5p_tm": round(_tm(left), 1),
                        "flank_3p_tm": round(_tm(right), 1),
                        "note": "; ".join(notes),
                    }
                )
    return pd.DataFrame(rows)


# -- export of chosen variants --------------------------------------------------------------


def variant_dna(
    library: SiteLibrary,
    design: Mapping[str, Any],
    cds: str,
    codon_sets: Mapping[str, CodonSet] | None = None,
) -> str:
    """Coding DNA of a variant: the parent's codons, a changed site gets its set's codon
    for the new residue (or E. coli's most used one, :data:`ECOLI_CODON`)."""
    seq = list(cds)
    code = library.variant_code(design)
    for p, name, r in zip(library.positions, library.sites, code, strict=True):
        if r == library.parent[p - 1]:
            continue
        codon = codon_sets[name].codon_for(r) if codon_sets and name in codon_sets else None
        seq[(p - 1) * 3 : p * 3] = list(codon or ECOLI_CODON[r])
    return "".join(seq)


EXPORT_FORMATS = ("fasta", "genbank")
_SUFFIX = {".fa": "fasta", ".fasta": "fasta", ".faa": "fasta", ".fna": "fasta", ".gb": "genbank"}
_SUFFIX.update({".gbk": "genbank", ".genbank": "genbank"})


def export_format(fmt: str | None, out: str | Path) -> str:
    """``fasta`` or ``genbank``: ``fmt`` checked, else guessed from the file's suffix."""
    if fmt is None:
        guess = _SUFFIX.get(Path(out).suffix.lower())
        if guess is None:
            raise InputError(
                "cannot tell the export format from the file name",
                expected="--format fasta | genbank, or a .fasta/.gb name",
                found=str(out),
            )
        return guess
    f = fmt.strip().lower()
    if f not in EXPORT_FORMATS:
        raise InputError("unknown export format", expected=" | ".join(EXPORT_FORMATS), found=fmt)
    return f


def _safe_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def variant_records(
    library: SiteLibrary,
    designs: pd.DataFrame,
    *,
    cds: str | None = None,
    codon_sets: Mapping[str, CodonSet] | None = None,
    values: Sequence[str] = (),
) -> list[Any]:
    """Biopython records, one per design: protein, or DNA when ``cds`` is given.

    Each record's id is the mutation notation (``V39F_D40W``), its description the code
    and the ``values`` columns (predictions, measured fitness); features mark the parent
    (CDS with translation, or the protein) and each mutated site.
    """
    import datetime

    import pandas as pd
    from Bio.Seq import Seq
    from Bio.SeqFeature import SeqFeature, SimpleLocation
    from Bio.SeqRecord import SeqRecord

    from biofab.parts.export import synthetic_annotations

    codes = library.codes(designs)
    unique_variants(codes)
    dna = None if cds is None else check_cds(cds, library.parent)
    # the parent's stop codon, when its CDS came with one, ends every exported variant
    stop = "" if cds is None or dna is None else cds.strip().upper()[len(dna) :]
    today = datetime.date.today().strftime("%d-%b-%Y").upper()
    records = []
    for i, code in enumerate(codes):
        design = dict(zip(library.sites, code, strict=True))
        name = library.variant_name(design)
        protein = library.sequence(design)
        # a value the row does not have (NaN, e.g. a space-filling round's prediction)
        # is left out rather than written as 'nan'
        extras = [f"{c}={designs[c].iloc[i]}" for c in values if pd.notna(designs[c].iloc[i])]
        description = " ".join([f"code={code}", *extras])
        nt = dna is not None
        seq = variant_dna(library, design, dna, codon_sets) + stop if dna is not None else protein
        scale = 3 if nt else 1
        strand = 1 if nt else None
        features = [
            SeqFeature(
                SimpleLocation(0, len(seq), strand=strand),
                type="source",
                qualifiers={
                    "organism": ["synthetic construct"],
                    "mol_type": ["other DNA" if nt else "protein"],
                },
            )
        ]
        if nt:
            features.append(
                SeqFeature(
                    SimpleLocation(0, len(seq), strand=1),
                    type="CDS",
                    qualifiers={"label": [name], "translation": [protein], "codon_start": [1]},
                )
            )
        for p, r in zip(library.positions, code, strict=True):
            wt = library.parent[p - 1]
            if r != wt:
                features.append(
                    SeqFeature(
                        SimpleLocation((p - 1) * scale, p * scale, strand=strand),
                        type="misc_feature",
                        qualifiers={
                            "label": [f"{wt}{p}{r}"],
                            "note": [f"site {wt}{p}: {wt} -> {r}"],
                        },
                    )
                )
        rec = SeqRecord(
            Seq(seq),
            id=_safe_id("WT" if name == "WT" else name.replace("/", "_")),
            name=f"v{i + 1}_{code}"[:16],
            description=description,
            features=features,
        )
        rec.annotations.update(synthetic_annotations(dna=nt, date=today))
        records.append(rec)
    return records


def write_variants(
    library: SiteLibrary,
    designs: pd.DataFrame,
    path: str | Path,
    fmt: str | None = None,
    *,
    cds: str | None = None,
    codon_sets: Mapping[str, CodonSet] | None = None,
    values: Sequence[str] = (),
) -> Path:
    """Write chosen variants as FASTA or GenBank (atomic; nothing written on bad input)."""
    from Bio import SeqIO

    kind = export_format(fmt, path)
    records = variant_records(library, designs, cds=cds, codon_sets=codon_sets, values=values)
    if kind == "fasta":
        text = "".join(f">{r.id} {r.description}\n{r.seq}\n" for r in records)
        return write_atomic(path, text)
    with atomic_path(path, suffix=".gb") as tmp:
        SeqIO.write(records, str(tmp), "genbank")
    return Path(path)


# -- the page a scientist checks by eye ---------------------------------------------------


def library_page(
    design: LibraryDesign, coverage: float = 0.95, budget: int | None = None, command: str = ""
) -> str:
    """HTML page: expected coverage against clones screened, and residue odds per site."""
    from biofab.viz import html_page

    return html_page("Site library", library_sections(design, coverage, budget), subtitle=command)


def library_sections(
    design: LibraryDesign, coverage: float = 0.95, budget: int | None = None
) -> list[tuple[str, Any]]:
    """``(heading, content)`` sections: summary, site table, coverage curve, residue odds."""
    import numpy as np
    import plotly.graph_objects as go

    need = design.clones_for_coverage(coverage)
    top = max(need, budget or 0) * 2
    clones = np.unique(np.geomspace(1, top, 200).round().astype(int))
    curve = [design.expected_coverage(int(n)) for n in clones]
    fig = go.Figure(go.Scatter(x=clones, y=curve, mode="lines", name="expected coverage"))
    fig.add_vline(x=need, line_dash="dash", annotation_text=f"{coverage:.0%}: {need:,} clones")
    if budget is not None:
        fig.add_vline(x=budget, line_color="firebrick", annotation_text=f"budget {budget:,}")
    fig.update_layout(
        xaxis={"type": "log", "title": "clones screened"},
        yaxis={"title": "expected fraction of protein variants seen", "range": [0, 1.02]},
    )
    letters = [*AMINO_ACIDS, "*"]
    z = [
        [cs.residue_probabilities().get(a, 0.0) for a in letters]
        for cs in design.codon_sets.values()
    ]
    heat = go.Figure(go.Heatmap(z=z, x=letters, y=design.library.sites, colorscale="Blues", zmin=0))
    heat.update_layout(xaxis={"title": "residue (* = stop)"}, yaxis={"title": "site"})
    summary = design.summary(coverage, budget)
    text = (
        f"{summary['n_variants']:,} protein variants, {summary['n_codon_combinations']:,} codon "
        f"combinations, {summary['stop_fraction']:.1%} of clones carry a stop; "
        f"{need:,} clones ({summary['oversampling']:.1f}x the variants) for {coverage:.0%} "
        "expected coverage (Poisson sampling with each variant's probability, Firth & "
        "Patrick 2005)."
    )
    return [
        ("Summary", text),
        ("Sites", design.site_table()),
        ("Coverage against clones screened", fig),
        ("Probability of each residue per site", heat),
    ]
