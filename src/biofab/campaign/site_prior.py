"""A site table for a variant campaign: one prior score per site and residue, from a CSV.

A site-library campaign (every parameter a site with its allowed residues) learns each
site's effects from the plates it measures. What it cannot learn from a few plates, a
table made from knowledge of the protein can bring in: a protein language model's
log-likelihood ratio of each single substitution, a profile of the protein's family, a
stability predictor, an earlier scan (higher = fitter). On GB1, the true site means as
such a table let the same recommender find the global maximum in 94-96 % of campaigns
instead of about half (BENCHMARKS.md, "Protein evolution, seventh pass"); a weak or wrong
table is switched off by the data (its weight is fitted each round and may be 0).

File: CSV (or TSV by extension) with the columns ``site``, ``residue`` (``choice`` is
accepted for non-protein libraries) and ``score``; one row for every site of the space and
every choice allowed at it, e.g. ``V39,F,-1.2``.
"""

from __future__ import annotations

import math
from pathlib import Path

from biofab.core.errors import InputError
from biofab.core.parameters import Categorical
from biofab.core.space import Space

__all__ = ["read_site_prior"]


def read_site_prior(path: str | Path, space: Space) -> dict[str, dict[str, float]]:
    """``{site: {choice: score}}`` read from ``path`` and checked against ``space``.

    Every problem is one :class:`InputError` naming the file, row and column: a missing
    column, a site the space does not have, a choice not allowed at that site, a score
    that is not a finite number, a (site, choice) listed twice, a site or choice of the
    space without a score.
    """
    from biofab.campaign.results import read_table

    p = Path(path)
    if not p.is_file():
        raise InputError("prior table not found", file=str(p))
    frame, _ = read_table(p)
    choice_col = (
        "choice" if "choice" in frame.columns and "residue" not in frame.columns else "residue"
    )
    for col in ("site", choice_col, "score"):
        if col not in frame.columns:
            raise InputError(
                "missing column in the prior table",
                file=str(p),
                column=col,
                expected="columns site, residue (or choice), score",
                found=", ".join(frame.columns),
            )
    sites = {name: par for name, par in space.parameters.items() if isinstance(par, Categorical)}
    if len(sites) != len(space.parameters):
        raise InputError(
            "a site prior needs a site-library space (every parameter categorical)",
            file=str(p),
        )
    table: dict[str, dict[str, float]] = {name: {} for name in sites}
    for i, (site, choice, text) in enumerate(
        zip(frame["site"], frame[choice_col], frame["score"], strict=True), start=1
    ):
        if site not in sites:
            raise InputError(
                "unknown site",
                file=str(p),
                row=i,
                column="site",
                expected=", ".join(sites),
                found=site,
            )
        allowed = [str(c) for c in sites[site].choices]
        if choice not in allowed:
            raise InputError(
                f"not a choice at site {site}",
                file=str(p),
                row=i,
                column=choice_col,
                expected=("" if all(len(c) == 1 for c in allowed) else ", ").join(allowed),
                found=choice,
            )
        if choice in table[site]:
            raise InputError(f"{site} {choice} listed twice", file=str(p), row=i, column=choice_col)
        try:
            score = float(text)
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise InputError(
                "score is not a finite number",
                file=str(p),
                row=i,
                column="score",
                expected="a number",
                found=text,
            )
        table[site][choice] = score
    for site, par in sites.items():
        missing = [str(c) for c in par.choices if str(c) not in table[site]]
        if missing:
            raise InputError(
                f"site {site} has no score for some of its choices",
                file=str(p),
                column=choice_col,
                expected="one row per site and choice",
                found="missing " + ", ".join(missing),
            )
    return table
