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

It is :class:`~biofab.learn.recommenders.EnsembleUCB` with a sequence-aware
search: the surrogate, the annealed ``kappa`` and the recommendation format
are the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from biofab.core import Sequence as SeqParam
from biofab.core import Space
from biofab.learn.candidates import unmeasured
from biofab.learn.recommendation import Recommendation
from biofab.learn.recommenders import BatchRequest, EnsembleUCB, _as_2d
from biofab.learn.surrogate import EnsembleSurrogate
from biofab.learn.trees import TreeEnsemble


def sequence_parameters(space: Space) -> dict[str, SeqParam]:
    """The space's sequence parameters, by name."""
    return {n: p for n, p in space.parameters.items() if isinstance(p, SeqParam)}


def hamming_matrix(space: Space, a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Letters that differ between each row of ``a`` and each of ``b``, summed over
    the space's sequence parameters: array ``(len(a), len(b))`` of ints."""
    out = np.zeros((len(a), len(b)), dtype=int)
    for name in sequence_parameters(space):
        A = _letters(a[name])
        B = _letters(b[name])
        if len(A) and len(B):
            out += (A[:, None, :] != B[None, :, :]).sum(-1)
    return out


def _letters(values: pd.Series | Sequence[str]) -> np.ndarray:
    seqs = [str(s) for s in values]
    if not seqs:
        return np.zeros((0, 0), dtype="U1")
    return np.array([list(s) for s in seqs], dtype="U1")


def mutate(
    param: SeqParam,
    parents: Sequence[str],
    n: int,
    rng: np.random.Generator,
    *,
    max_mutations: int = 3,
) -> list[str]:
    """``n`` legal mutants of ``parents`` (drawn with replacement).

    Each mutant changes 1 to ``max_mutations`` free positions (never a fixed
    one) to another letter of the alphabet; mutants that contain a forbidden
    motif (on either strand, see :meth:`Sequence.motif_in`) are dropped, so
    fewer than ``n`` may come back. Duplicates are removed.
    """
    free = np.array([i for i in range(param.length) if i not in param.fixed], dtype=int)
    if len(free) == 0 or not parents or n < 1:
        return []
    letters = np.array(list(param.alphabet))
    base = _letters([str(s).upper() for s in parents])
    rows = base[rng.integers(0, len(base), n)].copy()
    k = rng.integers(1, max(1, min(max_mutations, len(free))) + 1, n)
    for r in range(n):
        pos = rng.choice(free, size=k[r], replace=False)
        for p in pos:
            # Another letter: shift the current one by 1..|alphabet|-1 places.
            cur = int(np.flatnonzero(letters == rows[r, p])[0]) if rows[r, p] in letters else 0
            rows[r, p] = letters[(cur + rng.integers(1, len(letters))) % len(letters)]
    out: list[str] = []
    seen: set[str] = set()
    for row in rows:
        s = "".join(row)
        if s not in seen and param.problem(s) is None:
            seen.add(s)
            out.append(s)
    return out


class SequenceRecommender(EnsembleUCB):
    """Ensemble UCB over sequences, with mutational search and a diversity rule.

    Parameters
    ----------
    surrogate:
        An ensemble surrogate on the space's encoding (one-hot letters);
        default :class:`~biofab.learn.TreeEnsemble` (10 bootstrapped XGBoost
        members). :class:`~biofab.learn.MLPEnsemble` also fits.
    kappa_schedule, horizon:
        Exploration weight per round, as in :class:`EnsembleUCB`.
    n_parents:
        Best measured designs that mutants start from.
    n_mutants:
        Mutants drawn per generation.
    generations:
        Rounds of "score, keep the best ``n_parents`` candidates, mutate them again".
    max_mutations:
        Most letters a mutant changes from its parent.
    n_random:
        Fresh random legal designs added to the pool (a little global exploration).
    min_distance:
        Least Hamming distance (letters, over all sequence parameters) between
        two designs of one batch; relaxed step by step down to 1 only when the
        pool cannot fill the batch otherwise.

    Non-sequence parameters of a mixed space move with
    :meth:`Space.neighbours`; a user-given pool of ``candidates`` is scored as
    it is (no mutation), with the same diversity rule.
    """

    def __init__(
        self,
        surrogate: EnsembleSurrogate | None = None,
        *,
        kappa_schedule: Sequence[float] = (1.41, 1.0, 0.5),
        horizon: int = 10,
        n_parents: int = 8,
        n_mutants: int = 1000,
        generations: int = 3,
        max_mutations: int = 3,
        n_random: int = 64,
        min_distance: int = 2,
    ) -> None:
        super().__init__(surrogate, kappa_schedule=kappa_schedule, horizon=horizon)
        self.n_parents = n_parents
        self.n_mutants = n_mutants
        self.generations = generations
        self.max_mutations = max_mutations
        self.n_random = n_random
        self.min_distance = min_distance
        self.name = "sequence-ucb"

    # -- search ----------------------------------------------------------------------
    def _mutants(
        self, space: Space, parents: pd.DataFrame, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Mutants of ``parents``: sequence letters changed, other parameters kept."""
        seqs = sequence_parameters(space)
        if len(parents) == 0:
            return parents.iloc[:0]
        share = max(1, self.n_mutants // max(len(seqs), 1))
        parts = []
        for name, p in seqs.items():
            idx = rng.integers(0, len(parents), share)
            base = parents.iloc[idx].reset_index(drop=True)
            # Mutate parent by parent so every mutant keeps its own parent's other values.
            new = [mutate(p, [s], 1, rng, max_mutations=self.max_mutations) for s in base[name]]
            ok = [i for i, m in enumerate(new) if m]
            moved = base.iloc[ok].copy()
            moved[name] = [new[i][0] for i in ok]
            parts.append(moved)
        if len(space.parameters) > len(seqs):
            parts.append(space.neighbours(parents, self.n_mutants // 4, 0.1, rng))
        out = pd.concat(parts, ignore_index=True) if parts else parents.iloc[:0]
        out = out[space.feasible(out)]
        return space.complete(out)

    def _pool(self, req: BatchRequest, score: _Score) -> pd.DataFrame:
        space, rng = req.space, req.rng
        seen = req.seen
        order = np.argsort(-req.y[:, 0])[: self.n_parents]
        parents = space.complete(req.designs.iloc[order])
        parts = [self._mutants(space, parents, rng)]
        if self.n_random:
            exclude = space.keys(seen) if len(seen) else []
            parts.append(
                space.sample(self.n_random, seed=int(rng.integers(2**31)), exclude=exclude)
            )
        pool = unmeasured(space, pd.concat(parts, ignore_index=True), seen)
        scores = score(pool)
        for _ in range(self.generations - 1):
            top = pool.iloc[np.argsort(-scores)[: self.n_parents]].reset_index(drop=True)
            kids = unmeasured(
                space, self._mutants(space, top, rng), pd.concat([seen, pool], ignore_index=True)
            )
            if len(kids) == 0:
                break
            pool = pd.concat([pool, kids], ignore_index=True)
            scores = np.concatenate([scores, score(kids)])
        return pool

    def _recommend(self, req: BatchRequest) -> Recommendation:
        space = req.space
        model = self.surrogate or TreeEnsemble(seed=0 if req.seed is None else req.seed)
        yvar = None if req.yvar is None else req.yvar[:, 0]
        model.fit(space.encode(req.designs), req.y[:, 0], yvar)
        self.surrogate_ = model
        kappa = self.kappa(req.round_index)
        score = _Score(space, model, kappa)
        if req.candidates is not None:
            pool = unmeasured(space, space.complete(req.candidates), req.seen)
        else:
            pool = self._pool(req, score)
        scores = score(pool)
        picked, used = diverse_top(space, pool, scores, req.n, self.min_distance)
        batch = pool.iloc[picked].reset_index(drop=True)
        mean, std = model.predict(space.encode(batch))
        return Recommendation(
            batch,
            _as_2d(mean),
            _as_2d(std),
            scores[picked],
            f"{self.name} (kappa={kappa:g})",
            notes={"kappa": kappa, "pool": len(pool), "min_distance": used},
        )


class _Score:
    """UCB of designs: ``mean + kappa * std`` of the surrogate on the space's encoding."""

    def __init__(self, space: Space, model: EnsembleSurrogate, kappa: float) -> None:
        self.space, self.model, self.kappa = space, model, kappa

    def __call__(self, designs: pd.DataFrame) -> np.ndarray:
        if len(designs) == 0:
            return np.zeros(0)
        mean, std = self.model.predict(self.space.encode(designs))
        return np.ravel(mean) + self.kappa * np.ravel(std)


def diverse_top(
    space: Space, pool: pd.DataFrame, scores: np.ndarray, n: int, min_distance: int
) -> tuple[list[int], int]:
    """Greedy batch: best score first, skipping any design closer than
    ``min_distance`` letters to one already picked; the distance is relaxed by
    one letter at a time until ``n`` are picked or the pool is used up.

    Returns the picked row indices of ``pool`` (in pick order) and the distance
    finally used.
    """
    order = [int(i) for i in np.argsort(-np.asarray(scores, dtype=float))]
    n = min(n, len(pool))
    names = list(sequence_parameters(space))
    L = np.hstack([_letters(pool[name]) for name in names]) if names and len(pool) else None
    picked: list[int] = []
    taken = np.zeros(len(pool), dtype=bool)
    d = max(int(min_distance), 1)
    while True:
        # Distance of every pool row to its nearest pick so far.
        near = np.full(len(pool), np.iinfo(np.int64).max)
        if L is not None:
            for j in picked:
                near = np.minimum(near, (L[j] != L).sum(axis=1))
        for i in order:
            if len(picked) >= n:
                break
            if taken[i] or near[i] < d:
                continue
            picked.append(i)
            taken[i] = True
            if L is not None:
                near = np.minimum(near, (L[i] != L).sum(axis=1))
        if len(picked) >= n or d <= 1:
            return picked, d
        d -= 1
