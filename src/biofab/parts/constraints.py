"""Hard constraints on a DNA part: what a lab will refuse to build or clone.

A :class:`SequenceConstraints` says which DNA sequences are acceptable at all,
whatever a model predicts for them:

* a GC window (fraction of G + C, synthesis vendors reject extremes);
* the longest homopolymer run (polymerase slippage, synthesis failure);
* restriction sites named by enzyme (Golden Gate needs BsaI/BsmBI-free parts),
  and any extra forbidden motif, on **both** strands;
* no exact direct repeat longer than ``max_repeat`` (recombination, synthesis);
* fixed positions and fixed motifs (a -35/-10 box, a start codon) that are kept;
* optional ``upstream``/``downstream`` flanks, so sites that would form across
  the junction with the vector or mRNA context are caught too.

Motifs are IUPAC DNA strings (``GCNGC``) or, when they hold any other
character, Python regular expressions (what :class:`biofab.core.Sequence`
uses for ``forbidden_motifs``), so the two interoperate: see
:meth:`SequenceConstraints.from_parameter` and :meth:`~SequenceConstraints.to_parameter`.

Positions are 0-based on the top strand of the designed region throughout.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from biofab.core.errors import InputError
from biofab.core.parameters import Sequence, reverse_complement

DNA = "ACGT"

#: Recognition sites (5'->3', top strand) of enzymes a cloning workflow commonly
#: has to avoid. Type IIS sites (BsaI, BsmBI, BbsI, SapI, ...) are not
#: palindromic, so the reverse strand has to be searched as well.
ENZYME_SITES: dict[str, str] = {
    # Type IIS, Golden Gate / MoClo / Loop assembly
    "BsaI": "GGTCTC",
    "BsmBI": "CGTCTC",
    "Esp3I": "CGTCTC",
    "BbsI": "GAAGAC",
    "BpiI": "GAAGAC",
    "SapI": "GCTCTTC",
    "BtgZI": "GCGATG",
    "AarI": "CACCTGC",
    # BioBrick prefix/suffix and common cloning enzymes
    "EcoRI": "GAATTC",
    "XbaI": "TCTAGA",
    "SpeI": "ACTAGT",
    "PstI": "CTGCAG",
    "NotI": "GCGGCCGC",
    "BamHI": "GGATCC",
    "BglII": "AGATCT",
    "XhoI": "CTCGAG",
    "NdeI": "CATATG",
    "NcoI": "CCATGG",
    "HindIII": "AAGCTT",
    "KpnI": "GGTACC",
    "SacI": "GAGCTC",
    "SalI": "GTCGAC",
    "NheI": "GCTAGC",
}

# IUPAC nucleotide codes -> the bases they stand for, and their complements.
IUPAC: dict[str, str] = {
    "A": "A",
    "C": "C",
    "G": "G",
    "T": "T",
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
    "N": "ACGT",
}
_IUPAC_COMPLEMENT = str.maketrans("ACGTRYSWKMBDHVN", "TGCAYRSWMKVHDBN")


def gc_content(seq: str) -> float:
    """Fraction of G + C in ``seq`` (0 for an empty string)."""
    s = seq.upper()
    return (s.count("G") + s.count("C")) / len(s) if s else 0.0


def longest_homopolymer(seq: str) -> int:
    """Length of the longest run of one letter in ``seq``."""
    best = run = 0
    prev = ""
    for c in seq:
        run = run + 1 if c == prev else 1
        prev = c
        best = max(best, run)
    return best


def enzyme_site(name: str) -> tuple[str, str]:
    """``(canonical name, recognition site)`` for an enzyme name, case-insensitively.

    Raises a one-line :class:`InputError` listing the known names otherwise.
    """
    lookup = {k.lower(): k for k in ENZYME_SITES}
    key = lookup.get(str(name).strip().lower())
    if key is None:
        raise InputError(
            f"unknown enzyme '{name}'",
            expected=f"one of {', '.join(sorted(ENZYME_SITES, key=str.lower))}",
        )
    return key, ENZYME_SITES[key]


def _is_iupac(motif: str) -> bool:
    return bool(motif) and all(c in IUPAC for c in motif)


def _iupac_regex(motif: str) -> str:
    return "".join(c if len(IUPAC[c]) == 1 else f"[{IUPAC[c]}]" for c in motif)


@dataclass(frozen=True)
class _Pattern:
    """One forbidden thing: a label for messages, regexes for each strand."""

    label: str
    forward: re.Pattern[str]
    reverse: re.Pattern[str] | None  # None: search the reverse complement of the text
    width: int | None  # fixed match length, None for a free regex
    palindromic: bool


def _pattern(label: str, motif: str) -> _Pattern:
    motif = motif.strip()
    if _is_iupac(motif.upper()):
        m = motif.upper()
        rc = m.translate(_IUPAC_COMPLEMENT)[::-1]
        return _Pattern(
            label,
            re.compile(_iupac_regex(m)),
            re.compile(_iupac_regex(rc)),
            len(m),
            rc == m,
        )
    try:
        rx = re.compile(motif.upper())
    except re.error as err:
        raise InputError(
            f"forbidden motif '{motif}' is neither IUPAC DNA nor a valid regular expression ({err})"
        ) from None
    return _Pattern(label, rx, None, None, False)


@dataclass(frozen=True)
class SequenceConstraints:
    """Hard rules every designed DNA sequence must obey.

    Parameters
    ----------
    length:
        Designed length in nt (``None``: any length; fixed positions then need
        a long enough sequence).
    gc:
        Allowed ``(min, max)`` GC fraction of the designed region, inclusive.
    max_homopolymer:
        Longest allowed run of one base (runs that continue into a flank count).
    enzymes:
        Enzyme names (see :data:`ENZYME_SITES`) whose sites may not occur on
        either strand, including across the junctions with the flanks.
    forbidden_motifs:
        Extra motifs, IUPAC DNA (``GCNGC``) or regular expressions, forbidden on
        either strand.
    max_repeat:
        Longest allowed exact direct repeat: no substring longer than this may
        occur twice (overlapping occurrences count) in the designed region.
    fixed:
        0-based position (negative counts from the end) -> base or IUPAC code
        that must be kept there.
    fixed_motifs:
        0-based start -> motif (IUPAC; ``N`` leaves a position free), e.g.
        ``{0: "TTGACA" + "N" * 17 + "TATAAT"}`` for a sigma70 core promoter.
    upstream, downstream:
        Fixed context around the designed region (vector, 5'UTR, CDS); only
        used to catch sites and homopolymers that span a junction.
    """

    length: int | None = None
    gc: tuple[float, float] = (0.0, 1.0)
    max_homopolymer: int | None = None
    enzymes: tuple[str, ...] = ()
    forbidden_motifs: tuple[str, ...] = ()
    max_repeat: int | None = None
    fixed: Mapping[int, str] = field(default_factory=dict)
    fixed_motifs: Mapping[int, str] = field(default_factory=dict)
    upstream: str = ""
    downstream: str = ""
    _patterns: tuple[_Pattern, ...] = field(init=False, repr=False, compare=False)
    _site_regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _cache: dict[int, list[str]] = field(init=False, repr=False, compare=False)
    _run_regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _site_width: int = field(init=False, repr=False, compare=False)
    _pin_cache: dict[int, list[tuple[int, str]]] = field(init=False, repr=False, compare=False)
    _gc_cache: dict[int, tuple[list[int], list[int]]] = field(init=False, repr=False, compare=False)

    # ---------------------------------------------------------------- set-up
    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if isinstance(self.enzymes, str):
            set_(self, "enzymes", (self.enzymes,))
        if isinstance(self.forbidden_motifs, str):
            set_(self, "forbidden_motifs", (self.forbidden_motifs,))
        set_(self, "enzymes", tuple(enzyme_site(e)[0] for e in self.enzymes))
        set_(self, "forbidden_motifs", tuple(str(m).strip() for m in self.forbidden_motifs))
        if self.length is not None and (
            not isinstance(self.length, int | np.integer) or self.length < 1
        ):
            raise InputError("length must be a positive whole number", found=self.length)
        try:
            lo, hi = (float(x) for x in self.gc)
        except (TypeError, ValueError):
            raise InputError("gc must be a (min, max) pair of fractions", found=self.gc) from None
        if not (0.0 <= lo <= hi <= 1.0):
            raise InputError(
                "gc range must be fractions with 0 <= min <= max <= 1",
                expected="e.g. (0.4, 0.6)",
                found=(lo, hi),
            )
        set_(self, "gc", (lo, hi))
        for name in ("max_homopolymer", "max_repeat"):
            v = getattr(self, name)
            if v is not None and (int(v) != v or v < 1):
                raise InputError(f"{name} must be a whole number >= 1", found=v)
        set_(self, "fixed", {int(k): str(v).upper() for k, v in self.fixed.items()})
        set_(self, "fixed_motifs", {int(k): str(v).upper() for k, v in self.fixed_motifs.items()})
        for pos, code in self.fixed.items():
            if len(code) != 1 or not _is_iupac(code):
                raise InputError(
                    f"fixed position {pos} must hold one base",
                    expected="A, C, G, T or one IUPAC code",
                    found=code,
                )
        for pos, code in self.fixed_motifs.items():
            if not _is_iupac(code):
                raise InputError(
                    f"fixed motif at {pos} must be IUPAC DNA letters",
                    expected="A, C, G, T, N, R, Y, ...",
                    found=code,
                )
        for name in ("upstream", "downstream"):
            flank = str(getattr(self, name)).upper()
            bad = sorted(set(flank) - set(DNA))
            if bad:
                raise InputError(f"{name} flank must be A/C/G/T only", found="".join(bad))
            set_(self, name, flank)
        patterns = [_pattern(f"{e} site {ENZYME_SITES[e]}", ENZYME_SITES[e]) for e in self.enzymes]
        patterns += [_pattern(f"forbidden motif {m}", m) for m in self.forbidden_motifs]
        set_(self, "_patterns", tuple(patterns))
        fixed_width = [p for p in patterns if p.width is not None]
        alternatives = [p.forward.pattern for p in fixed_width]
        alternatives += [p.reverse.pattern for p in fixed_width if p.reverse is not None]
        set_(self, "_site_width", max((p.width or 0 for p in patterns), default=0))
        set_(self, "_site_regex", re.compile("|".join(alternatives)) if alternatives else None)
        set_(self, "_cache", {})
        set_(self, "_gc_cache", {})
        set_(self, "_pin_cache", {})
        m = self.max_homopolymer
        set_(self, "_run_regex", re.compile("|".join(f"{b}{{{(m or 0) + 1}}}" for b in DNA)))
        for name in ("upstream", "downstream"):
            flank = getattr(self, name)
            for p in patterns:
                if self._search(p, flank) is not None:
                    raise InputError(f"the {name} flank itself contains a {p.label}")
        if self.length is not None:
            self.check_feasible(int(self.length))

    def with_length(self, length: int) -> SequenceConstraints:
        """These constraints for a designed region of ``length`` nt."""
        if self.length is not None and self.length != length:
            raise InputError(
                "length disagrees with the constraints' length",
                expected=str(self.length),
                found=length,
            )
        return self if self.length == length else replace(self, length=int(length))

    @property
    def site_width(self) -> int:
        """Longest fixed-width forbidden pattern (0 when none)."""
        return self._site_width

    def allowed(self, length: int) -> list[str]:
        """The bases allowed at each position of a ``length``-nt design."""
        cached = self._cache.get(length)
        if cached is not None:
            return cached
        allowed = [DNA] * length
        items = [(p, c) for p, c in self.fixed.items()]
        for start, motif in self.fixed_motifs.items():
            s = start + length if start < 0 else start
            if s < 0 or s + len(motif) > length:
                raise InputError(
                    f"fixed motif {motif} at {start} does not fit a {length}-nt sequence"
                )
            items += [(s + i, c) for i, c in enumerate(motif)]
        for pos, code in items:
            p = pos + length if pos < 0 else pos
            if not 0 <= p < length:
                raise InputError(f"fixed position {pos} is outside a {length}-nt sequence")
            both = "".join(b for b in allowed[p] if b in IUPAC[code])
            if not both:
                raise InputError(f"fixed positions and motifs disagree at position {p}")
            allowed[p] = both
        self._cache[length] = allowed
        return allowed

    def _pinned(self, length: int) -> list[tuple[int, str]]:
        """Positions with a restricted set of bases: ``(position, bases)``."""
        cached = self._pin_cache.get(length)
        if cached is None:
            cached = [(i, a) for i, a in enumerate(self.allowed(length)) if len(a) < 4]
            self._pin_cache[length] = cached
        return cached

    def gc_count_range(self, length: int) -> tuple[int, int]:
        """Smallest and largest allowed number of G + C in ``length`` nt."""
        lo, hi = self.gc
        return math.ceil(lo * length - 1e-9), math.floor(hi * length + 1e-9)

    def check_feasible(self, length: int) -> None:
        """Raise a one-line :class:`InputError` when no ``length``-nt sequence can comply.

        Catches the certain contradictions (a GC window the fixed positions
        rule out, a forbidden site or too long a run made of fixed bases, a
        repeat between fixed motifs). Subtler ones surface when the designer
        cannot build a first sequence.
        """
        allowed = self.allowed(length)
        k_lo, k_hi = self.gc_count_range(length)
        must = sum(1 for a in allowed if set(a) <= set("GC"))
        can = sum(1 for a in allowed if set(a) & set("GC"))
        if k_lo > k_hi or k_hi < must or k_lo > can:
            raise InputError(
                f"no {length}-nt sequence has GC in [{self.gc[0]:.2f}, {self.gc[1]:.2f}] "
                f"with the fixed positions (they allow {must}-{can} G/C)",
            )
        # Maximal stretches of single-letter positions are certain to appear.
        for start, text in _fixed_runs(allowed):
            if (
                self.max_homopolymer is not None
                and longest_homopolymer(text) > self.max_homopolymer
            ):
                raise InputError(
                    f"fixed bases at {start}..{start + len(text) - 1} already hold a homopolymer "
                    f"longer than max_homopolymer={self.max_homopolymer}"
                )
            for p in self._patterns:
                if self._search(p, text) is not None:
                    raise InputError(f"fixed bases at {start} already contain a {p.label}")
        if self.max_repeat is not None:
            k = self.max_repeat + 1
            seen: dict[str, int] = {}
            for start, text in _fixed_runs(allowed):
                for i in range(len(text) - k + 1):
                    kmer = text[i : i + k]
                    if kmer in seen:
                        raise InputError(
                            f"fixed bases repeat {kmer} at {seen[kmer]} and {start + i}, "
                            f"longer than max_repeat={self.max_repeat}"
                        )
                    seen[kmer] = start + i

    # ---------------------------------------------------------------- checks
    @staticmethod
    def _search(p: _Pattern, text: str) -> tuple[int, str] | None:
        m = p.forward.search(text)
        if m is not None:
            return m.start(), "forward"
        if p.reverse is not None:
            m = p.reverse.search(text)
            return (m.start(), "reverse") if m is not None else None
        m = p.forward.search(reverse_complement(text))
        return (len(text) - m.end(), "reverse") if m is not None else None

    def ok(self, seq: str) -> bool:
        """True when ``seq`` (upper-case A/C/G/T) meets every constraint. Fast path."""
        n = len(seq)
        if (self.length is not None and n != self.length) or not n:
            return False
        if not set(seq) <= set(DNA):
            return False
        try:
            pinned = self._pinned(n)
        except InputError:
            return False
        for i, a in pinned:
            if seq[i] not in a:
                return False
        k_lo, k_hi = self.gc_count_range(n)
        g = seq.count("G") + seq.count("C")
        if not k_lo <= g <= k_hi:
            return False
        u = len(self.upstream)
        joined = self.upstream + seq + self.downstream
        if self.max_homopolymer is not None:
            m = self.max_homopolymer
            if self._run_regex.search(joined[max(0, u - m) : u + n + m]):
                return False
        if self._site_regex is not None:
            w = self.site_width - 1
            if self._site_regex.search(joined[max(0, u - w) : u + n + w]):
                return False
        for p in self._patterns:
            if p.width is None and self._search(p, joined) is not None:
                return False
        if self.max_repeat is not None:
            k = self.max_repeat + 1
            if n >= k and len({seq[i : i + k] for i in range(n - k + 1)}) < n - k + 1:
                return False
        return True

    def ok_mutant(self, seq: str, positions: Iterable[int]) -> bool:
        """:meth:`ok` for ``seq`` made by substituting ``positions`` of a compliant sequence.

        Only the windows that touch a changed position are searched (GC and
        free-form regex motifs are still checked whole), which makes the
        designer's move check several times faster. The substituted bases
        must be allowed at their positions (the designer draws them so).
        """
        n = len(seq)
        k_lo, k_hi = self.gc_count_range(n)
        if not k_lo <= seq.count("G") + seq.count("C") <= k_hi:
            return False
        u = len(self.upstream)
        joined = self.upstream + seq + self.downstream
        m = self.max_homopolymer
        w = self.site_width - 1
        k = None if self.max_repeat is None else self.max_repeat + 1
        for p in positions:
            q = u + p
            if m is not None and self._run_regex.search(joined[max(0, q - m) : q + m + 1]):
                return False
            if self._site_regex is not None and self._site_regex.search(
                joined[max(0, q - w) : q + w + 1]
            ):
                return False
            if k is not None:
                for a in range(max(0, p - k + 1), min(p, n - k) + 1):
                    kmer = seq[a : a + k]
                    first = seq.find(kmer)
                    if first != a or seq.find(kmer, a + 1) != -1:
                        return False
        return all(p.width is not None or self._search(p, joined) is None for p in self._patterns)

    def violations(self, seq: str) -> list[str]:
        """Every broken constraint of ``seq``, as human-readable reasons (empty: all met)."""
        s = str(seq).upper()
        n = len(s)
        out: list[str] = []
        if self.length is not None and n != self.length:
            return [f"length {n}, expected {self.length}"]  # positions mean nothing then
        bad = sorted(set(s) - set(DNA))
        if bad:
            out.append(f"letters {''.join(bad)} outside A/C/G/T")
            return out
        if n == 0:
            return out or ["empty sequence"]
        try:
            allowed = self.allowed(n)
        except InputError as err:
            out.append(err.message)
            allowed = [DNA] * n
        for i, (a, c) in enumerate(zip(allowed, s, strict=True)):
            if c not in a:
                out.append(f"position {i} must be {'/'.join(a)} (fixed), found {c}")
        gc = gc_content(s)
        if (
            not self.gc_count_range(n)[0]
            <= s.count("G") + s.count("C")
            <= self.gc_count_range(n)[1]
        ):
            out.append(f"GC {gc:.3f} outside [{self.gc[0]:.3f}, {self.gc[1]:.3f}]")
        u = len(self.upstream)
        joined = self.upstream + s + self.downstream
        if self.max_homopolymer is not None:
            rx = re.compile("|".join(f"{b}{{{self.max_homopolymer + 1},}}" for b in DNA))
            for m in rx.finditer(joined):
                if m.end() > u and m.start() < u + n:
                    out.append(
                        f"homopolymer {m.group()[0]}x{len(m.group())} at {m.start() - u} "
                        f"(max {self.max_homopolymer})"
                    )
        for p in self._patterns:
            out += [f"{p.label} {where}" for where in self._all_hits(p, joined, u, n)]
        if self.max_repeat is not None:
            out += [
                f"direct repeat {r} ({len(r)} nt > {self.max_repeat}) at {a} and {b}"
                for r, a, b in _repeats(s, self.max_repeat + 1)
            ]
        return out

    def _all_hits(self, p: _Pattern, joined: str, u: int, n: int) -> list[str]:
        hits: list[str] = []
        strands: list[tuple[str, re.Pattern[str], bool]] = [("forward", p.forward, False)]
        if p.reverse is not None and not p.palindromic:
            strands.append(("reverse", p.reverse, False))
        elif p.reverse is None:
            strands.append(("reverse", p.forward, True))
        for strand, rx, flip in strands:
            text = reverse_complement(joined) if flip else joined
            for m in re.finditer(f"(?=({rx.pattern}))", text):
                start, end = m.start(1), m.end(1)
                if flip:
                    start, end = len(text) - end, len(text) - start
                if end > u and start < u + n:
                    hits.append(f"on the {strand} strand at {start - u}")
        return hits

    def _prefix_ok(self, prefix: list[str], kmers: dict[str, int], gc_count: int) -> bool:
        """Constraints that can be judged on a prefix ending in its last letter."""
        i = len(prefix) - 1
        length = int(self.length or 0)
        c = prefix[-1]
        u = self.upstream
        if self.max_homopolymer is not None:
            run = 0
            for j in range(i, -1, -1):
                if prefix[j] != c:
                    break
                run += 1
            else:
                for b in reversed(u):
                    if b != c:
                        break
                    run += 1
            if run > self.max_homopolymer:
                return False
        k_lo, k_hi = self.gc_count_range(length)
        must, can = self._gc_suffix(length)
        if gc_count + must[i + 1] > k_hi or gc_count + can[i + 1] < k_lo:
            return False
        if self._site_regex is not None:
            w = self.site_width
            tail = (u[-w:] + "".join(prefix[-w:]))[-w:]
            if self._site_regex.search(tail):
                return False
        if any(p.width is None for p in self._patterns):
            text = u + "".join(prefix)
            if any(p.width is None and self._search(p, text) for p in self._patterns):
                return False
        r = self.max_repeat
        return r is None or i < r or kmers.get("".join(prefix[i - r :]), 0) == 0

    def _gc_suffix(self, length: int) -> tuple[list[int], list[int]]:
        cached = self._gc_cache.get(length)
        if cached is not None:
            return cached
        allowed = self.allowed(length)
        must = [0] * (length + 1)
        can = [0] * (length + 1)
        for j in range(length - 1, -1, -1):
            must[j] = must[j + 1] + (set(allowed[j]) <= set("GC"))
            can[j] = can[j + 1] + bool(set(allowed[j]) & set("GC"))
        self._gc_cache[length] = (must, can)
        return must, can

    # ---------------------------------------------------------------- building
    def random(self, n: int, rng: np.random.Generator, length: int | None = None) -> list[str]:
        """``n`` random sequences that meet every constraint.

        Built base by base with backtracking (each base checked against the
        constraints that end at it), so tight constraints cost a few retries,
        not the astronomically many a draw-and-reject sampler would need.
        """
        c = self._resolved(length)
        return [c._build(rng, None) for _ in range(n)]

    def project(self, seq: str, rng: np.random.Generator) -> str:
        """A compliant sequence that keeps ``seq``'s base wherever the constraints let it.

        Same builder as :meth:`random` with ``seq``'s base tried first at each
        position; a compliant ``seq`` comes back unchanged. Used to start
        design from a user's library whose members may hold, e.g., a BsaI site.
        """
        s = str(seq).upper()
        bad = sorted(set(s) - set(DNA))
        if bad:
            raise InputError("seed sequence has letters outside A/C/G/T", found="".join(bad))
        c = self._resolved(len(s))
        return s if c.ok(s) else c._build(rng, s)

    def _resolved(self, length: int | None) -> SequenceConstraints:
        if length is None:
            if self.length is None:
                raise InputError("a length is needed to build sequences")
            return self
        return self.with_length(length)

    def _build(self, rng: np.random.Generator, template: str | None) -> str:
        length = int(self.length or 0)
        allowed = self.allowed(length)
        budget = 200 * length + 1000
        for _attempt in range(20):
            prefix: list[str] = []
            options: list[list[str]] = []
            kmers: dict[str, int] = {}
            gc = 0
            k = (self.max_repeat or 0) + 1
            steps = 0
            while len(prefix) < length and steps < budget:
                i = len(prefix)
                if len(options) == i:
                    opts = [allowed[i][j] for j in rng.permutation(len(allowed[i]))]
                    if template is not None and template[i] in opts:
                        opts.remove(template[i])
                        opts.insert(0, template[i])
                    options.append(opts)
                if not options[i]:  # dead end: undo the previous base
                    options.pop()
                    if not prefix:
                        break
                    gc = self._pop(prefix, kmers, gc, k)
                    continue
                steps += 1
                prefix.append(options[i].pop(0))
                if self._prefix_ok(prefix, kmers, gc + (prefix[-1] in "GC")):
                    gc += prefix[-1] in "GC"
                    if self.max_repeat is not None and i >= k - 1:
                        key = "".join(prefix[i - k + 1 :])
                        kmers[key] = kmers.get(key, 0) + 1
                    if len(prefix) == length and not self.ok("".join(prefix)):
                        gc = self._pop(prefix, kmers, gc, k)  # a junction with downstream
                else:
                    prefix.pop()
            if len(prefix) == length:
                return "".join(prefix)
            template = None  # the template's region may be what makes it hard
        raise InputError(
            f"could not build a {length}-nt sequence meeting the constraints "
            "(they may be contradictory; loosen GC, homopolymer, repeat or motif limits)"
        )

    def _pop(self, prefix: list[str], kmers: dict[str, int], gc: int, k: int) -> int:
        i = len(prefix) - 1
        if self.max_repeat is not None and i >= k - 1:
            key = "".join(prefix[i - k + 1 :])
            kmers[key] -= 1
        return gc - (prefix.pop() in "GC")

    # ---------------------------------------------------------------- interop
    @classmethod
    def from_parameter(cls, param: Sequence, **extra: Any) -> SequenceConstraints:
        """Constraints from a :class:`biofab.core.Sequence` parameter (DNA only).

        Its length, fixed positions and forbidden motifs carry over; ``extra``
        adds what the parameter cannot say (``gc``, ``max_homopolymer``,
        ``enzymes``, ``max_repeat``, flanks, more ``forbidden_motifs``).
        """
        if not isinstance(param, Sequence):
            raise InputError("expected a Sequence parameter", found=type(param).__name__)
        if not set(param.alphabet) <= set(DNA):
            raise InputError(
                "sequence constraints are for DNA", expected="alphabet ACGT", found=param.alphabet
            )
        motifs = tuple(param.forbidden_motifs) + tuple(extra.pop("forbidden_motifs", ()))
        fixed = {**param.fixed, **dict(extra.pop("fixed", {}))}
        return cls(length=param.length, fixed=fixed, forbidden_motifs=motifs, **extra)

    def to_parameter(self, unit: str | None = None) -> Sequence:
        """A :class:`biofab.core.Sequence` parameter for campaigns.

        Carries length, single-base fixed positions and every forbidden site
        and motif (as regular expressions, both strands checked there too).
        GC, homopolymer, repeat and IUPAC-fixed rules cannot be expressed by
        that parameter; check designs with :meth:`ok` as well.
        """
        if self.length is None:
            raise InputError("to_parameter needs constraints with a length")
        allowed = self.allowed(int(self.length))
        fixed = {i: a for i, a in enumerate(allowed) if len(a) == 1}
        motifs = [_iupac_regex(ENZYME_SITES[e]) for e in self.enzymes]
        motifs += [
            _iupac_regex(m.upper()) if _is_iupac(m.upper()) else m for m in self.forbidden_motifs
        ]
        return Sequence(
            alphabet=DNA,
            length=int(self.length),
            fixed=fixed,
            forbidden_motifs=tuple(dict.fromkeys(motifs)),
            unit=unit,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping (YAML/JSON) that :meth:`from_dict` reads back."""
        d: dict[str, Any] = {"gc": list(self.gc)}
        for name in ("length", "max_homopolymer", "max_repeat"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        for name in ("enzymes", "forbidden_motifs"):
            if getattr(self, name):
                d[name] = list(getattr(self, name))
        for name in ("fixed", "fixed_motifs"):
            if getattr(self, name):
                d[name] = {int(k): v for k, v in getattr(self, name).items()}
        for name in ("upstream", "downstream"):
            if getattr(self, name):
                d[name] = getattr(self, name)
        return d

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SequenceConstraints:
        """Constraints from a mapping such as ``{"gc": [0.4, 0.6], "enzymes": ["BsaI"]}``."""
        if not isinstance(spec, Mapping):
            raise InputError("sequence constraints must be a mapping", found=type(spec).__name__)
        known = {
            "length",
            "gc",
            "max_homopolymer",
            "enzymes",
            "forbidden_motifs",
            "max_repeat",
            "fixed",
            "fixed_motifs",
            "upstream",
            "downstream",
        }
        unknown = sorted(set(spec) - known)
        if unknown:
            raise InputError(
                f"unknown constraint {unknown[0]!r}", expected=f"one of {sorted(known)}"
            )
        d = dict(spec)
        for name in ("gc", "enzymes", "forbidden_motifs"):
            if name in d and not isinstance(d[name], str):
                d[name] = tuple(d[name])
        return cls(**d)

    def describe(self) -> list[str]:
        """One line per active constraint, for reports."""
        lines = [f"GC {self.gc[0]:.2f}-{self.gc[1]:.2f}"]
        if self.length is not None:
            lines.insert(0, f"length {self.length} nt")
        if self.max_homopolymer is not None:
            lines.append(f"homopolymer <= {self.max_homopolymer}")
        if self.enzymes:
            lines.append("no sites (both strands): " + ", ".join(self.enzymes))
        if self.forbidden_motifs:
            lines.append("no motifs (both strands): " + ", ".join(self.forbidden_motifs))
        if self.max_repeat is not None:
            lines.append(f"direct repeats <= {self.max_repeat} nt")
        if self.fixed or self.fixed_motifs:
            lines.append(f"{len(self.fixed) + len(self.fixed_motifs)} fixed positions/motifs")
        return lines


def _fixed_runs(allowed: list[str]) -> Iterable[tuple[int, str]]:
    """Maximal stretches of positions pinned to one base: ``(start, bases)``."""
    start = None
    for i, a in enumerate([*allowed, DNA]):
        if len(a) == 1 and start is None:
            start = i
        elif len(a) != 1 and start is not None:
            yield start, "".join(allowed[start:i])
            start = None


def _repeats(seq: str, k: int) -> list[tuple[str, int, int]]:
    """Maximal exact direct repeats of at least ``k`` nt: ``(text, first, second)``."""
    first: dict[str, int] = {}
    found: list[tuple[str, int, int]] = []
    covered: set[tuple[int, int]] = set()
    for i in range(len(seq) - k + 1):
        kmer = seq[i : i + k]
        j = first.setdefault(kmer, i)
        if j == i or (j, i) in covered:
            continue
        # Extend to the right so one long repeat is reported once.
        e = k
        while i + e < len(seq) and seq[j + e] == seq[i + e]:
            covered.add((j + e - k + 1, i + e - k + 1))
            e += 1
        found.append((seq[i : i + e], j, i))
    return found
