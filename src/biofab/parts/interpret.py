"""Interpretation: in-silico saturation mutagenesis of one sequence with any model.

Every single-letter substitution of a sequence is scored with a model's
``predict(sequences) -> (mean, std)``; the result is a ``(positions x letters)``
matrix of the predicted change from the wild type (0 at the wild-type letter),
the predicted std of each mutant, and a per-position importance (the largest
or the mean absolute change any substitution there makes). This is the
"in-silico mutagenesis" map of sequence-model papers (e.g. Zhou & Troyanskaya
2015, Nat Methods 12:931, DeepSEA); it shows what the *model* has learned, not
what an experiment would measure.

:func:`mutagenesis_report` puts the heatmap and the importance bars of one or
more sequences into a self-contained HTML page (:func:`biofab.viz.html_page`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from biofab.core.errors import InputError
from biofab.parts.sequences import alphabet_letters, check_sequence

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

Predictor = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]

IMPORTANCE = ("max", "mean")


@dataclass
class MutagenesisMap:
    """Predicted effect of every single substitution of ``sequence``.

    ``delta[i, j]`` is the model's mean prediction for ``sequence`` with
    letter ``letters[j]`` at position ``i`` (0-based) minus its prediction for
    ``sequence`` itself, in the model's units (for the parts promoter models,
    natural-log TX/TXref); it is 0 at the wild-type letter. ``std[i, j]`` is the
    model's std for that mutant (the wild type's std at the wild-type letter).
    ``importance[i]`` is ``max_j |delta[i, j]|`` (``how="max"``) or the mean
    of ``|delta[i, j]|`` over the other letters (``how="mean"``).
    """

    sequence: str
    letters: str
    reference: float
    reference_std: float
    delta: np.ndarray
    std: np.ndarray
    importance: np.ndarray
    how: str = "max"
    name: str = "sequence"

    def to_frame(self) -> pd.DataFrame:
        """Long table: ``position`` (1-based), ``wild_type``, ``letter``, ``delta``, ``std``."""
        import pandas as pd

        n, k = self.delta.shape
        return pd.DataFrame(
            {
                "position": np.repeat(np.arange(1, n + 1), k),
                "wild_type": np.repeat(list(self.sequence), k),
                "letter": np.tile(list(self.letters), n),
                "delta": self.delta.ravel(),
                "std": self.std.ravel(),
            }
        )

    def top(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` substitutions with the largest predicted ``|delta|``."""
        frame = self.to_frame()
        frame = frame[frame["letter"] != frame["wild_type"]]
        order = np.argsort(-np.abs(frame["delta"].to_numpy()), kind="stable")[:k]
        return frame.iloc[order].reset_index(drop=True)

    def heatmap(self) -> go.Figure:
        """Heatmap of ``delta`` (letters x positions), diverging around 0; the
        wild-type letter of each position is marked with a dot."""
        import plotly.graph_objects as go

        n = len(self.sequence)
        span = float(np.abs(self.delta).max()) or 1.0
        positions = np.arange(1, n + 1)
        fig = go.Figure(
            go.Heatmap(
                z=self.delta.T,
                x=positions,
                y=list(self.letters),
                zmid=0.0,
                zmin=-span,
                zmax=span,
                colorscale="RdBu_r",
                colorbar={"title": "Δ prediction"},
                customdata=self.std.T,
                hovertemplate="position %{x}, %{y}: Δ %{z:.3f} (std %{customdata:.3f})"
                "<extra></extra>",
            )
        )
        fig.add_scatter(
            x=positions,
            y=list(self.sequence),
            mode="markers",
            marker={"color": "black", "size": 4},
            name="wild type",
            hoverinfo="skip",
        )
        fig.update_layout(
            xaxis_title="position (1-based)",
            yaxis_title="substituted letter",
            showlegend=False,
            height=260 if len(self.letters) <= 4 else 520,
        )
        return fig

    def importance_figure(self) -> go.Figure:
        """Bar per position of ``importance``, labelled with the wild-type letter."""
        import plotly.graph_objects as go

        positions = np.arange(1, len(self.sequence) + 1)
        fig = go.Figure(
            go.Bar(
                x=positions,
                y=self.importance,
                text=list(self.sequence),
                textposition="outside",
                hovertemplate="position %{x} (%{text}): %{y:.3f}<extra></extra>",
            )
        )
        label = "max |Δ|" if self.how == "max" else "mean |Δ|"
        fig.update_layout(xaxis_title="position (1-based)", yaxis_title=f"importance ({label})")
        return fig


def saturation_mutagenesis(
    predict: Predictor,
    sequence: str,
    *,
    alphabet: str = "dna",
    how: str = "max",
    name: str = "sequence",
    min_length: int | None = None,
    max_length: int | None = None,
) -> MutagenesisMap:
    """Score every single substitution of ``sequence`` with ``predict``.

    ``predict(sequences) -> (mean, std)`` takes a list of strings and returns
    arrays ``(n,)`` (any model of :mod:`biofab.parts.models`, or a plain
    function). ``alphabet`` is ``"dna"`` or ``"protein"``; the sequence is
    checked first (one-line ``InputError`` for a letter outside it or a length
    outside ``[min_length, max_length]``). One call of ``predict`` scores the
    ``1 + L * (letters - 1)`` sequences.
    """
    if how not in IMPORTANCE:
        raise InputError("unknown importance summary", expected=" | ".join(IMPORTANCE), found=how)
    letters = alphabet_letters(alphabet)
    wt = check_sequence(sequence, alphabet, min_length, max_length, column=None)
    n, k = len(wt), len(letters)
    mutants: list[str] = [wt]
    where: list[tuple[int, int]] = []
    for i, c in enumerate(wt):
        for j, a in enumerate(letters):
            if a != c:
                mutants.append(wt[:i] + a + wt[i + 1 :])
                where.append((i, j))
    mean, std = predict(mutants)
    mean = np.asarray(mean, dtype=float).ravel()
    std = np.asarray(std, dtype=float).ravel()
    if mean.shape != (len(mutants),) or std.shape != (len(mutants),):
        raise ValueError(
            f"predict returned shapes {mean.shape} and {std.shape} for {len(mutants)} sequences"
        )
    delta = np.zeros((n, k))
    spread = np.full((n, k), std[0])
    idx = np.array(where, dtype=int).reshape(-1, 2)
    delta[idx[:, 0], idx[:, 1]] = mean[1:] - mean[0]
    spread[idx[:, 0], idx[:, 1]] = std[1:]
    absd = np.abs(delta)
    importance = absd.max(axis=1) if how == "max" else absd.sum(axis=1) / max(k - 1, 1)
    return MutagenesisMap(
        sequence=wt,
        letters=letters,
        reference=float(mean[0]),
        reference_std=float(std[0]),
        delta=delta,
        std=spread,
        importance=importance,
        how=how,
        name=name,
    )


def mutagenesis_report(
    maps: Sequence[MutagenesisMap], *, title: str = "In-silico mutagenesis", subtitle: str = ""
) -> str:
    """A self-contained HTML page: per sequence, its prediction, heatmap,
    importance bars and the strongest substitutions."""
    import pandas as pd

    from biofab.viz import html_page

    sections: list[tuple[str, go.Figure | pd.DataFrame | str]] = [
        (
            "",
            "Each cell is the model's predicted change when one letter is substituted "
            "(0 at the wild-type letter, marked with a dot). It shows what the model "
            "has learned, not a measurement.",
        )
    ]
    for m in maps:
        summary = pd.DataFrame(
            {
                "length": [len(m.sequence)],
                "prediction": [m.reference],
                "std": [m.reference_std],
                "largest gain": [float(m.delta.max())],
                "largest loss": [float(m.delta.min())],
            }
        )
        sections += [
            (m.name, summary),
            ("", m.heatmap()),
            ("", m.importance_figure()),
            ("", m.top(10)),
        ]
    return html_page(title, sections, subtitle=subtitle)


def write_report(
    path: str | os.PathLike[str],
    maps: Sequence[MutagenesisMap],
    *,
    title: str = "In-silico mutagenesis",
    subtitle: str = "",
) -> Path:
    """Write :func:`mutagenesis_report` to ``path`` atomically; returns the path."""
    from biofab.core.atomic import write_atomic

    return write_atomic(path, mutagenesis_report(maps, title=title, subtitle=subtitle))
