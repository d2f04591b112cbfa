"""What the parts pillar adds to a campaign report: in-silico mutagenesis of the best
sequence, for campaigns over one sequence parameter (declared in
:mod:`biofab.parts.plugin`, shown by :func:`biofab.report.campaign_report`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from biofab.core import NotEnoughDataError
from biofab.core import Sequence as SequenceParameter

if TYPE_CHECKING:
    from biofab.campaign import Campaign
    from biofab.viz import Section


def applies(campaign: Campaign) -> bool:
    """Whether the space has exactly one sequence parameter (cheap: no model loaded)."""
    return len(_sequence_parameters(campaign)) == 1


def _sequence_parameters(campaign: Campaign) -> list[str]:
    params = campaign.space.parameters.items()
    return [n for n, p in params if isinstance(p, SequenceParameter)]


def mutagenesis_sections(campaign: Campaign) -> list[Section]:
    """For a campaign over one sequence parameter: the latest model's in-silico
    saturation mutagenesis of the best measured sequence (heatmap, importance).

    Every single substitution of the best design is scored by the stored
    surrogate (other parameters held at the best design's values), so a person
    sees which positions the model thinks matter before choosing the next round.
    """
    from biofab.learn.state import SnapshotError, load_snapshot

    seq = _sequence_parameters(campaign)
    snap = campaign.store.latest_model(campaign.name)
    data = campaign.data()
    if len(seq) != 1 or snap is None or len(data) == 0:
        return []
    from biofab.parts.interpret import saturation_mutagenesis

    try:
        model = load_snapshot(snap.format, snap.blob)
    except SnapshotError:
        return []  # an old pickled snapshot is never loaded here; the section is left out
    name = seq[0]
    param = campaign.space.parameters[name]
    assert isinstance(param, SequenceParameter)
    best = campaign.best(1).iloc[0]
    others = {n: best[n] for n in campaign.space.names if n != name}

    def predict(sequences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        frame = pd.DataFrame(
            {name: sequences, **{k: [v] * len(sequences) for k, v in others.items()}}
        )
        mean, std = model.predict(campaign.space.encode(frame[campaign.space.names]))
        mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
        return mean.reshape(len(sequences), -1)[:, 0], std.reshape(len(sequences), -1)[:, 0]

    alphabet = "protein" if set(param.alphabet) - set("ACGT") else "dna"
    try:
        m = saturation_mutagenesis(predict, str(best[name]), alphabet=alphabet, name=name)
    except (ValueError, NotEnoughDataError):
        return []
    return [
        (
            "In-silico mutagenesis of the best sequence (latest model)",
            "Each cell is the model's predicted change in the first objective's utility when "
            "one letter of the best measured sequence is substituted; it shows what the model "
            "has learned, not a measurement.",
        ),
        ("", m.heatmap()),
        ("", m.importance_figure()),
    ]
