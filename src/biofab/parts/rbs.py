"""RBS design for a target translation initiation rate in a given mRNA context.

The designed region is the ribosome binding site: the ``length`` nt (default
30) between a fixed 5'UTR text (``upstream``, may be empty) and the CDS. The
model is OSTIR (:class:`~biofab.parts.physics.TranslationRateCalculator`),
which scores each candidate inside its full mRNA, ``upstream + RBS + CDS``, so
folding with the CDS start and the UTR is accounted for. The search is the
project's :class:`~biofab.parts.design.SequenceDesigner` under
:class:`~biofab.parts.constraints.SequenceConstraints` whose flanks are the
context, so a restriction site or homopolymer formed across a junction with the
UTR or the CDS is refused too.

Units: log10 TIR in the RBS Calculator's arbitrary units (one unit = 10-fold).
Typical range: ~2 (poly-A UTR) to ~5 (strong Shine-Dalgarno, unstructured).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from biofab.core.errors import InputError
from biofab.parts.constraints import SequenceConstraints
from biofab.parts.design import SequenceDesigner
from biofab.parts.physics import TranslationRateCalculator

#: Least RBS length that still holds a Shine-Dalgarno and its spacing (nt).
MIN_RBS_LENGTH = 12
#: OSTIR looks at most 35 nt upstream of the start codon; longer regions add
#: positions the model cannot see.
MAX_RBS_LENGTH = 35
#: How much of the CDS goes into the junction checks of the constraints (nt).
_CDS_CONTEXT = 30


def rbs_constraints(
    cds: str,
    upstream: str = "",
    length: int = 30,
    base: SequenceConstraints | None = None,
) -> SequenceConstraints:
    """``base`` (default: none beyond A/C/G/T) for a ``length``-nt RBS in this context.

    Flanks are set to the UTR text and the CDS start, so sites across the
    junctions count.
    """
    model = TranslationRateCalculator(cds=cds, upstream=upstream)
    up, cds_checked = model.context()
    if not MIN_RBS_LENGTH <= int(length) <= MAX_RBS_LENGTH:
        raise InputError(
            "RBS length out of range",
            expected=f"{MIN_RBS_LENGTH}-{MAX_RBS_LENGTH} nt",
            found=length,
        )
    c = base if base is not None else SequenceConstraints()
    if c.length is not None and c.length != length:
        raise InputError("constraints' length disagrees with the RBS length", found=c.length)
    return replace(c, length=int(length), upstream=up, downstream=cds_checked[:_CDS_CONTEXT])


def design_rbs(
    cds: str,
    *,
    upstream: str = "",
    target: float | None = None,
    maximize: bool = True,
    length: int = 30,
    n: int = 10,
    constraints: SequenceConstraints | None = None,
    seeds: Iterable[str] | Mapping[str, str] | None = None,
    min_distance: int = 3,
    steps: int = 60,
    chains: int | None = None,
    seed: int | None = 0,
    progress: bool | None = None,
    anti_sd: str | None = None,
) -> pd.DataFrame:
    """Design ``n`` RBSs whose OSTIR log10 TIR is near ``target`` (or maximal/minimal).

    Parameters
    ----------
    cds:
        The coding sequence (at least its start, beginning with ATG/GTG/TTG).
    upstream:
        Fixed 5'UTR text before the RBS (e.g. the transcription start region).
    target:
        Wanted log10 TIR (OSTIR au); ``None`` to optimise by ``maximize``.
    length:
        RBS length, nt (12-35).
    constraints:
        Lab constraints (GC, homopolymer, enzymes, repeats, fixed positions);
        their flanks are replaced by the mRNA context.
    seeds:
        Starting RBSs of ``length`` nt (default: random compliant sequences).
    min_distance, steps, chains, seed, progress:
        As :class:`~biofab.parts.design.SequenceDesigner`. OSTIR's error is a
        constant, so no uncertainty penalty is applied.

    Returns the designer's table (``name, sequence, prediction, std, score, gc,
    nearest_distance, origin, origin_distance``) plus ``mrna_5utr`` (UTR text +
    RBS) and OSTIR's terms ``dG_total, dG_rRNA:mRNA, dG_mRNA, dG_spacing,
    dG_standby, dG_start_codon, rbs_distance``; ``attrs`` hold the run's numbers.
    """
    options: dict[str, Any] = {}
    if anti_sd is not None:
        options["anti_sd"] = anti_sd
    model = TranslationRateCalculator(cds=cds, upstream=upstream, **options)
    c = rbs_constraints(cds, upstream, length, constraints)
    designer = SequenceDesigner(
        model.predict,
        c,
        target=target,
        maximize=maximize,
        uncertainty_penalty=0.0,
        n=n,
        min_distance=min_distance,
        steps=steps,
        chains=chains,
        seed=seed,
        progress=progress,
    )
    designs = designer.design(seeds, length=length)
    if len(designs):
        terms = model.features(designs["sequence"].tolist())
        keep = [*TranslationRateCalculator.FEATURES, "rbs_distance"]
        designs = pd.concat([designs, terms[keep].set_axis(designs.index)], axis=1)
        up = model.context()[0]
        designs.insert(2, "mrna_5utr", [up + s for s in designs["sequence"]])
    attrs = dict(designer.designs_.attrs)
    attrs["model"] = "OSTIR log10 TIR (au)"
    designs.attrs.update(attrs)
    return designs
