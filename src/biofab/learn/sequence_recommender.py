"""``SequenceRecommender``: batch design over spaces with a :class:`~biofab.core.Sequence`.

A sequence space is too large to sample uniformly (4^40 promoters of 40 nt)
and a random sequence is almost always worse than the ones already measured.
This recommender therefore searches near what worked: it fits an ensemble
surrogate on the space's one-hot encoding, mutates the best measured designs
(1 to ``max_mutations`` letters, free positions only), keeps the mutants that
are legal under the parameter's own rules (fixed letters, forbidden motifs on
both strands), evolves the best-scoring mutants for a few generations, and
picks a batch greedily by upper confidence bound ``mean + kappa * std`` with a
minimum Hamming distance between picks, so one batch is not ten copies of
one idea. Designs measured or pending are never proposed again.

It is :class:`~biofab.learn.recommenders.EnsembleUCB` with the sequence
candidate generator :class:`~biofab.learn.sequence_search.SequenceMutants`
(the search step the parts pillar's designer shares): the surrogate, the
annealed ``kappa`` and the recommendation format are the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biofab.core import Sequence as SeqParam
from biofab.learn.acquisition import UCB, Acquisition
from biofab.learn.candidates import CandidateGenerator
from biofab.learn.recommenders import (
    EnsembleUCB,
    SurrogateFactory,
    surrogate_factory,
    trees_factory,
)
from biofab.learn.sequence_search import (
    ParameterRules,
    PointMutator,
    SequenceMutants,
    diverse_top,
    hamming_matrix,
    sequence_parameters,
)
from biofab.learn.surrogate import EnsembleSurrogate

__all__ = [
    "SequenceRecommender",
    "diverse_top",
    "hamming_matrix",
    "mutate",
    "sequence_parameters",
]


def mutate(
    param: SeqParam,
    parents: Sequence[str],
    n: int,
    rng: np.random.Generator,
    *,
    max_mutations: int = 3,
) -> list[str]:
    """Up to ``n`` distinct legal mutants of ``parents`` (drawn with replacement).

    Each mutant changes 1 to ``max_mutations`` free positions (never a fixed
    one) to another letter of the alphabet and contains no forbidden motif (on
    either strand, see :meth:`Sequence.motif_in`); see
    :meth:`~biofab.learn.sequence_search.PointMutator.mutants`.
    """
    mutator = PointMutator(ParameterRules(param), param.length)
    return mutator.mutants(parents, n, rng, max_mutations=max_mutations)


class SequenceRecommender(EnsembleUCB):
    """Ensemble UCB over sequences, with mutational search and a diversity rule.

    Parameters
    ----------
    surrogate:
        An ensemble surrogate on the space's encoding (one-hot letters), cloned
        for each call, or a factory; default :class:`~biofab.learn.TreeEnsemble`
        (10 bootstrapped XGBoost members). :class:`~biofab.learn.MLPEnsemble`
        also fits.
    kappa_schedule, horizon:
        Exploration weight per round, as in :class:`EnsembleUCB`.
    n_parents, n_mutants, generations, max_mutations, n_random, min_distance,
    trust_radius:
        The search, see :class:`~biofab.learn.sequence_search.SequenceMutants`:
        best measured designs that mutants start from, mutants per generation,
        rounds of "score, keep the best, mutate again", most letters a mutant
        changes from its parent, fresh random designs added, least Hamming
        distance between two designs of a batch (relaxed step by step only when
        the pool cannot fill the batch), and the trust region (None: off).
    """

    def __init__(
        self,
        surrogate: EnsembleSurrogate | SurrogateFactory | None = None,
        *,
        kappa_schedule: Sequence[float] = (1.41, 1.0, 0.5),
        horizon: int = 10,
        n_parents: int = 8,
        n_mutants: int = 1000,
        generations: int = 3,
        max_mutations: int = 3,
        n_random: int = 64,
        min_distance: int = 2,
        trust_radius: int | None = None,
    ) -> None:
        super().__init__(surrogate, kappa_schedule=kappa_schedule, horizon=horizon)
        self.n_parents = n_parents
        self.n_mutants = n_mutants
        self.generations = generations
        self.max_mutations = max_mutations
        self.n_random = n_random
        self.min_distance = min_distance
        self.trust_radius = trust_radius
        self.name = "sequence-ucb"

    def parts(self) -> tuple[SurrogateFactory, Acquisition, CandidateGenerator]:
        search = SequenceMutants(
            n_parents=self.n_parents,
            n_mutants=self.n_mutants,
            generations=self.generations,
            max_mutations=self.max_mutations,
            n_random=self.n_random,
            min_distance=self.min_distance,
            trust_radius=self.trust_radius,
        )
        factory = surrogate_factory(self.surrogate, trees_factory)
        return factory, UCB(self.kappa_schedule, self.horizon), search
