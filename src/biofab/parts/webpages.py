"""The parts pillar's dashboard pages: biophysical strength of pasted promoters or RBSs,
and the coverage of a site library (:func:`library_page`).

No file on the server is read and nothing is trained: the page scores the pasted
sequences with the two published physics models biofab wraps
(:class:`~biofab.parts.physics.PromoterCalculator`: sigma70 promoter strength with its
free-energy terms and the -35/-10 hexamers found; :class:`~biofab.parts.physics.
TranslationRateCalculator`: OSTIR's translation initiation rate of each 5'UTR before the
given CDS start) and shows a ranked bar chart and the table of terms. At most
:data:`MAX_SEQUENCES` sequences per view, so a page never holds a server worker long.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from biofab.core.errors import InputError

KINDS = ("promoter", "rbs")
MAX_SEQUENCES = 50
EXAMPLE_PROMOTERS = """\
>J23100
TTGACGGCTAGCTCAGTCCTAGGTACAGTGCTAGCTACTAGAGAAAGAGGAGAAATACTAG
>J23106
TTTACGGCTAGCTCAGTCCTAGGTATAGTGCTAGCTACTAGAGAAAGAGGAGAAATACTAG
>J23114
TTTATGGCTAGCTCAGTCCTAGGTACAATGCTAGCTACTAGAGAAAGAGGAGAAATACTAG
"""
DEFAULT_CDS = "ATGCGTAAAGGAGAAGAACTTTTCACTGGAGTTGTCCCAATTCTTGTTGAATTAGATGG"


def _sequences(text: str) -> list[tuple[str, str]]:
    """``(name, sequence)`` from FASTA or one sequence per line (names seq1, seq2, ...)."""
    from biofab.parts.sequences import check_sequence, parse_fasta

    text = text.strip()
    if not text:
        raise InputError("no sequence given", column="sequences", expected="FASTA or one per line")
    if text.startswith(">"):
        names, seqs = parse_fasta(text, file="sequences")
        pairs = list(zip(names, seqs, strict=True))
    else:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        pairs = [(f"seq{i}", s) for i, s in enumerate(lines, start=1)]
    if len(pairs) > MAX_SEQUENCES:
        raise InputError(
            "too many sequences for a page",
            column="sequences",
            expected=f"at most {MAX_SEQUENCES}",
            found=len(pairs),
        )
    return [(n, check_sequence(s, "dna", column=f"sequence '{n}'")) for n, s in pairs]


def strength_page(values: Mapping[str, str]) -> list[tuple[str, Any]]:
    """Score the sequences; ranked chart of the prediction and the table of terms."""
    import plotly.graph_objects as go

    from biofab.parts.physics import PromoterCalculator, TranslationRateCalculator

    kind = values.get("kind") or KINDS[0]
    if kind not in KINDS:
        raise InputError("unknown kind", column="kind", expected=" | ".join(KINDS), found=kind)
    default = EXAMPLE_PROMOTERS if kind == "promoter" else "AAAGAGGAGAAATACTAG"
    pairs = _sequences(values.get("sequences") or default)
    names = [n for n, _ in pairs]
    seqs = [s for _, s in pairs]
    if kind == "promoter":
        model: Any = PromoterCalculator(units="ln_tx")
        label = "ln transcription rate (Promoter Calculator, higher is stronger)"
    else:
        model = TranslationRateCalculator(cds=(values.get("cds") or DEFAULT_CDS).strip())
        label = "log10 translation initiation rate (OSTIR, au)"
    table = model.features(seqs)
    mean, std = model.predict(seqs)
    table.insert(0, "name", names)
    table.insert(1, "prediction", mean)
    table.insert(2, "std", std)
    ranked = table.sort_values("prediction")
    fig = go.Figure(
        go.Bar(
            x=ranked["prediction"],
            y=ranked["name"],
            orientation="h",
            error_x={"type": "data", "array": ranked["std"]},
        )
    )
    fig.update_layout(
        xaxis_title=label,
        height=max(300, 24 * len(ranked) + 90),
        margin={"l": 140, "r": 20, "t": 20, "b": 50},
    )
    note = (
        f"{len(seqs)} sequence(s) scored by {model.estimator}; error bars: the model's "
        "published error (a constant: physics models have no per-sequence uncertainty)."
    )
    return [("Predicted strength", fig), ("", note), ("Terms (kcal/mol)", table)]


def library_page(values: Mapping[str, str]) -> list[tuple[str, Any]]:
    """A site library from a pasted parent, its sites and codon sets: coverage and odds."""
    from biofab.parts.library_design import LibraryDesign, library_sections
    from biofab.parts.sequences import check_sequence, parse_fasta
    from biofab.parts.variants import GB1_PARENT, SiteLibrary

    text = (values.get("parent") or GB1_PARENT).strip()
    if text.startswith(">"):
        text = parse_fasta(text, file="parent")[1][0]
    parent = check_sequence("".join(text.split()), "protein", column="parent")
    sites = SiteLibrary.from_sites(parent, values.get("sites") or "V39,D40,G41,V54")
    per_site = {}
    for item in (values.get("site_codons") or "").replace(";", ",").split(","):
        if item.strip():
            site, sep, spec = item.partition("=")
            if not sep:
                raise InputError("not SITE=CODONS", column="site_codons", found=item.strip())
            per_site[site.strip().upper()] = spec.strip()
    design = LibraryDesign(parent, sites.positions, per_site, default=values.get("codons") or "NNK")
    budget_text = (values.get("budget") or "").strip()
    budget = None
    if budget_text:
        try:
            budget = int(budget_text.replace(",", ""))
        except ValueError:
            raise InputError(
                "budget is not a whole number", column="budget", found=budget_text
            ) from None
        if budget < 1:
            raise InputError("budget must be at least 1 clone", column="budget", found=budget)
    return library_sections(design, 0.95, budget)
