"""``LoopRunner``: the one closed design-build-test-learn loop.

Every closed loop in biofab is this loop: a campaign recommends a batch, an
:class:`~biofab.core.Executor` builds and measures it (a testbed answers at once;
a lab adapter writes plate layouts and picklists and imports the plate reader's
file), the results are ingested, hooks see the round (plans, reports), and the
next round learns from everything so far. What differs between a synthetic
campaign, the self-driving cell-free loop and a recipe optimisation is only the
executor, the initial-design policy and the stopping rule.

>>> runner = LoopRunner(TestbedExecutor(testbed))
>>> result = runner.run(campaign, batch=20, rounds=6)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import numpy as np
import pandas as pd

from biofab.core import CampaignLike, Execution, Executor, InputError, Space
from biofab.core.progress import progress as progress_reporter

R = TypeVar("R")


@dataclass
class FirstBatch:
    """Designs an initial-design policy chose, each with the label of what chose it."""

    designs: pd.DataFrame
    labels: list[str]


class InitialDesign(Protocol):
    """Round 0 of a loop when the campaign's own space-filling start is not wanted
    (e.g. a recipe optimisation that must evaluate the current recipe first)."""

    def first_batch(self, space: Space, seed: int) -> FirstBatch: ...


class StartThenSpaceFilling:
    """The given start designs (e.g. today's recipe), then space-filling designs
    (scrambled Sobol that never repeats a start design) up to ``n`` in all."""

    def __init__(self, start: pd.DataFrame | None, n: int) -> None:
        if n < 1:
            raise InputError("the initial design needs at least 1 design", found=n)
        self.start = start
        self.n = n

    def first_batch(self, space: Space, seed: int) -> FirstBatch:
        from biofab.learn import SpaceFilling

        first = (
            [] if self.start is None else [space.validate(self.start.reindex(columns=space.names))]
        )
        n_start = sum(len(f) for f in first)
        labels = ["start"] * n_start
        designs = first
        if self.n - n_start > 0:
            seen = first[0] if first else pd.DataFrame(columns=space.names)
            rec = SpaceFilling().recommend(
                space, seen, np.zeros((len(seen), 1)), self.n - n_start, seed=seed
            )
            designs = [*first, rec.designs[space.names]]
            labels += [rec.recommender] * len(rec.designs)
        return FirstBatch(pd.concat(designs, ignore_index=True), labels)


@dataclass
class LoopRound:
    """One executed round: its number, the designs, who chose each, what was measured."""

    round: int
    designs: pd.DataFrame
    labels: list[str]
    execution: Execution

    @property
    def results(self) -> pd.DataFrame:
        return self.execution.results


#: Called after every round is ingested: ``hook(campaign, round)``.
RoundHook = Callable[[CampaignLike[R], LoopRound], None]


@dataclass
class LoopResult:
    """The rounds this run executed and the campaign's history after them."""

    rounds: list[LoopRound] = field(default_factory=list)
    history: pd.DataFrame | None = None

    @property
    def evaluations(self) -> int:
        return sum(len(r.designs) for r in self.rounds)

    def table(self) -> pd.DataFrame:
        """Every evaluation in order: results plus ``round`` and ``recommender``."""
        frames = [
            r.results.reset_index(drop=True).assign(round=r.round, recommender=r.labels)
            for r in self.rounds
        ]
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        out.insert(0, "evaluation", np.arange(1, len(out) + 1))
        return out


class LoopRunner(Generic[R]):
    """Drives a campaign round by round through an executor.

    Parameters
    ----------
    executor
        Builds and measures a batch (:class:`~biofab.core.TestbedExecutor` or a lab
        adapter such as the cell-free plate loop).
    recommender
        Passed to every ``campaign.recommend``; None lets the campaign choose
        (space-filling until it has enough data, then its default).
    initial
        Optional policy for the first executed round (round ``first_round - 1``
        is not recommended by the campaign); None: the campaign recommends it.
    hooks
        Called after each round is ingested, e.g. to write a round report.
    candidates
        A pool to choose from (replayed data); None: the whole space.
    """

    def __init__(
        self,
        executor: Executor,
        *,
        recommender: R | None = None,
        initial: InitialDesign | None = None,
        hooks: Sequence[RoundHook[R]] = (),
        candidates: pd.DataFrame | None = None,
    ) -> None:
        self.executor = executor
        self.recommender = recommender
        self.initial = initial
        self.hooks = list(hooks)
        self.candidates = candidates

    def run(
        self,
        campaign: CampaignLike[R],
        *,
        batch: int,
        rounds: int | None = None,
        budget: int | None = None,
        seed: int = 0,
        first_round: int = 0,
        progress: bool = True,
        label: str | None = None,
    ) -> LoopResult:
        """Run until ``rounds`` rounds or ``budget`` evaluations are spent.

        Round ``r`` (counting from ``first_round``) is recommended with seed
        ``seed * 1000 + r``, so a rerun with the same seed repeats its choices.
        The initial-design round, when a policy is set, is round
        ``first_round - 1`` and counts towards both limits. ``label`` starts each
        progress line (default ``campaign NAME round`` or ``... evaluation``).
        """
        if (rounds is None) == (budget is None):
            raise InputError("give exactly one of rounds and budget", found=(rounds, budget))
        limit = rounds if rounds is not None else budget
        if batch < 1 or limit is None or limit < 1:
            raise InputError(
                "batch and rounds/budget must be at least 1", expected=">= 1", found=(batch, limit)
            )
        result = LoopResult()
        unit = "round" if rounds is not None else "evaluation"
        label = label if label is not None else f"campaign {campaign.name} {unit}"
        with progress_reporter(label, total=limit, enabled=progress) as bar:
            if self.initial is not None:
                first = self.initial.first_batch(campaign.space, seed)
                if budget is not None and len(first.designs) > budget:
                    raise InputError(
                        "the initial design is larger than the budget",
                        expected=f"<= {budget}",
                        found=len(first.designs),
                    )
                self._execute(campaign, first_round - 1, first.designs, first.labels, result)
                bar.advance(
                    1 if rounds is not None else len(first.designs),
                    _note(campaign, result) if progress else "",
                )
            r = first_round
            while not self._done(result, rounds, budget):
                n = batch if budget is None else min(batch, budget - result.evaluations)
                rec = campaign.recommend(
                    n,
                    recommender=self.recommender,
                    candidates=self.candidates,
                    seed=seed * 1000 + r,
                )
                labels = [rec.recommender] * len(rec.designs)
                self._execute(campaign, r, rec.designs, labels, result)
                # the note re-reads the history: only when someone will see it
                note = _note(campaign, result) if progress else ""
                bar.advance(1 if rounds is not None else len(rec.designs), note)
                r += 1
        result.history = campaign.history()
        return result

    def _execute(
        self,
        campaign: CampaignLike[R],
        round_index: int,
        designs: pd.DataFrame,
        labels: list[str],
        result: LoopResult,
    ) -> None:
        names = campaign.space.names
        batch = designs[names].reset_index(drop=True)
        execution = self.executor.execute(batch, round_index)
        campaign.ingest(execution.results, filename=execution.source)
        done = LoopRound(round_index, batch, labels, execution)
        result.rounds.append(done)
        for hook in self.hooks:
            hook(campaign, done)

    @staticmethod
    def _done(result: LoopResult, rounds: int | None, budget: int | None) -> bool:
        if rounds is not None:
            return len(result.rounds) >= rounds
        return budget is not None and result.evaluations >= budget


def _note(campaign: CampaignLike[R], result: LoopResult) -> str:
    """``round 3: 20 designs (auto -> bo), best so far 1.42`` for a progress line."""
    last = result.rounds[-1]
    history = campaign.history()
    best = "" if len(history) == 0 else f", best so far {history['best_so_far'].iloc[-1]:.4g}"
    return f"round {last.round}: {len(last.designs)} designs ({last.labels[0]}){best}"
