"""Sequence search: legal point mutants, a Hamming trust region and a diverse pick.

One search step serves both sequence campaigns
(:class:`~biofab.learn.sequence_recommender.SequenceRecommender`) and the parts
pillar's designer (``biofab.parts.design.SequenceDesigner``):

* :class:`PointMutator` changes ``k`` free positions of a sequence to another
  allowed letter and keeps the mutant only when the rules accept it (a few
  tries, then gives up), so illegal designs are never proposed;
* :func:`within_reach` keeps the mutants inside a Hamming trust region;
* :func:`diverse_pick` chooses a batch best score first, at least
  ``min_distance`` letters apart.

The rules are anything with ``allowed(length)`` (letters allowed at each
position) and ``ok_mutant(seq, positions)`` (is the mutant legal): a
:class:`~biofab.core.Sequence` parameter through :class:`ParameterRules`, or the
parts pillar's richer ``SequenceConstraints`` as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from biofab.core import Sequence as SeqParam
from biofab.core import Space
from biofab.core.errors import InputError
from biofab.learn.acquisition import Scorer
from biofab.learn.candidates import Selection, unmeasured, user_pool
from biofab.learn.recommendation import BatchRequest


class SequenceRules(Protocol):
    """What a designed sequence may be."""

    def allowed(self, length: int) -> list[str]:
        """The letters allowed at each of ``length`` positions."""
        ...

    def ok_mutant(self, seq: str, positions: Iterable[int]) -> bool:
        """Whether ``seq``, a legal sequence with ``positions`` substituted, is legal."""
        ...


@dataclass(frozen=True)
class ParameterRules:
    """The rules of a :class:`~biofab.core.Sequence` parameter: fixed letters stay,
    no forbidden motif on either strand (the parameter's own ``problem`` check)."""

    param: SeqParam

    def allowed(self, length: int) -> list[str]:
        return [self.param.fixed.get(i, self.param.alphabet) for i in range(length)]

    def ok_mutant(self, seq: str, positions: Iterable[int]) -> bool:
        return self.param.problem(seq) is None


class PointMutator:
    """Legal point mutants of ``length``-letter sequences under ``rules``.

    ``free`` are the positions with more than one allowed letter.
    """

    def __init__(self, rules: SequenceRules, length: int) -> None:
        self.rules = rules
        self.allowed = rules.allowed(length)
        self.free = np.array([i for i, a in enumerate(self.allowed) if len(a) > 1], dtype=int)

    def mutant(self, seq: str, k: int, rng: np.random.Generator, tries: int = 8) -> str | None:
        """``seq`` with ``min(k, free)`` distinct free positions changed to another
        allowed letter, legal under the rules; None after ``tries`` illegal draws."""
        free = self.free
        k = min(free.size, k)
        if k < 1:
            return None
        for _ in range(tries):
            s = list(seq)
            positions = (
                free[rng.permutation(free.size)[:k]] if k > 1 else free[[rng.integers(free.size)]]
            )
            for pos in positions:
                options = self.allowed[pos].replace(s[pos], "")
                s[pos] = options[int(rng.integers(len(options)))]
            out = "".join(s)
            if self.rules.ok_mutant(out, positions.tolist()):
                return out
        return None

    def mutants(
        self, parents: Seq[str], n: int, rng: np.random.Generator, *, max_mutations: int = 3
    ) -> list[str]:
        """Up to ``n`` distinct legal mutants of ``parents`` (drawn with replacement),
        each 1 to ``max_mutations`` letters from its parent."""
        if self.free.size == 0 or not parents or n < 1:
            return []
        top = max(1, min(max_mutations, self.free.size))
        out: list[str] = []
        seen: set[str] = set()
        for _ in range(n):
            parent = str(parents[int(rng.integers(len(parents)))]).upper()
            m = self.mutant(parent, int(rng.integers(1, top + 1)), rng)
            if m is not None and m not in seen:
                seen.add(m)
                out.append(m)
        return out


def hamming(a: str, b: str) -> int:
    """Number of positions where two equal-length sequences differ."""
    if len(a) != len(b):
        raise InputError("Hamming distance needs sequences of one length", found=(len(a), len(b)))
    return sum(x != y for x, y in zip(a, b, strict=True))


def within_reach(mutants: Iterable[str | None], centre: str, radius: int | None) -> list[str]:
    """The mutants (None skipped) at most ``radius`` letters from ``centre``
    (``None``: no trust region)."""
    legal = [m for m in mutants if m is not None]
    if radius is None:
        return legal
    return [m for m in legal if hamming(m, centre) <= radius]


def letters(values: pd.Series | Seq[str]) -> np.ndarray:
    """Sequences of one length as a ``(n, L)`` array of single letters."""
    seqs = [str(s) for s in values]
    if not seqs:
        return np.zeros((0, 0), dtype="U1")
    return np.array([list(s) for s in seqs], dtype="U1")


def diverse_pick(
    rows: np.ndarray, scores: np.ndarray, n: int, min_distance: int, *, relax: bool = False
) -> tuple[list[int], int]:
    """Greedy batch over ``rows`` ``(N, L)`` (letters or codes): best score first
    (ties in input order), skipping a row closer than ``min_distance`` positions
    to one already picked. With ``relax``, the distance drops one letter at a
    time (down to 1) until ``n`` are picked or the rows are used up.

    Returns the picked row positions (in pick order) and the distance finally used.
    """
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    n = min(n, len(rows))
    d = int(min_distance)
    if rows.ndim != 2 or rows.shape[1] == 0:  # nothing to compare: the top n
        return [int(i) for i in order[:n]], d
    picked: list[int] = []
    taken = np.zeros(len(rows), dtype=bool)
    while True:
        for i in order:
            if len(picked) >= n:
                break
            if taken[i]:
                continue
            if picked and int((rows[picked] != rows[i]).sum(axis=1).min()) < d:
                continue
            picked.append(int(i))
            taken[i] = True
        if len(picked) >= n or not relax or d <= 1:
            return picked, d
        d -= 1


# -- the candidate generator of sequence campaigns ------------------------------------


def sequence_parameters(space: Space) -> dict[str, SeqParam]:
    """The space's sequence parameters, by name."""
    return {n: p for n, p in space.parameters.items() if isinstance(p, SeqParam)}


def hamming_matrix(space: Space, a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Letters that differ between each row of ``a`` and each of ``b``, summed over
    the space's sequence parameters: array ``(len(a), len(b))`` of ints."""
    out = np.zeros((len(a), len(b)), dtype=int)
    for name in sequence_parameters(space):
        A, B = letters(a[name]), letters(b[name])
        if len(A) and len(B):
            out += (A[:, None, :] != B[None, :, :]).sum(-1)
    return out


def diverse_top(
    space: Space, pool: pd.DataFrame, scores: np.ndarray, n: int, min_distance: int
) -> tuple[list[int], int]:
    """:func:`diverse_pick` over the space's sequence letters, relaxing the distance
    (from at least 1) until ``n`` designs are picked or the pool is used up."""
    names = list(sequence_parameters(space))
    if names and len(pool):
        rows = np.hstack([letters(pool[name]) for name in names])
    else:
        rows = np.zeros((len(pool), 0), dtype="U1")
    return diverse_pick(rows, scores, n, max(int(min_distance), 1), relax=True)


class SequenceMutants:
    """Mutational search near the best measured designs, then a diverse batch.

    Mutants of the ``n_parents`` best measured designs (1 to ``max_mutations``
    letters each, legal under every sequence parameter's rules; other
    parameters move with :meth:`Space.neighbours`) plus ``n_random`` fresh
    random designs are scored; the best ``n_parents`` are mutated again for
    ``generations - 1`` more rounds. ``trust_radius`` (letters, None: off)
    drops mutants farther than that from every measured design. The batch is
    :func:`diverse_top` by the scorer's one-point score with ``min_distance``.
    A user pool is scored as it is, with the same diversity rule.
    """

    def __init__(
        self,
        *,
        n_parents: int = 8,
        n_mutants: int = 1000,
        generations: int = 3,
        max_mutations: int = 3,
        n_random: int = 64,
        min_distance: int = 2,
        trust_radius: int | None = None,
    ) -> None:
        self.n_parents = n_parents
        self.n_mutants = n_mutants
        self.generations = generations
        self.max_mutations = max_mutations
        self.n_random = n_random
        self.min_distance = min_distance
        self.trust_radius = trust_radius

    def search(self, req: BatchRequest, scorer: Scorer) -> Selection:
        pool = user_pool(req) if req.candidates is not None else self._pool(req, scorer)
        scores = scorer.score(pool)
        picked, used = diverse_top(req.space, pool, scores, req.n, self.min_distance)
        notes: dict[str, object] = {"pool": len(pool), "min_distance": used}
        return Selection(pool.iloc[picked].reset_index(drop=True), scores[picked], notes)

    def mutants(
        self, space: Space, parents: pd.DataFrame, rng: np.random.Generator
    ) -> pd.DataFrame:
        """Mutants of ``parents``: sequence letters changed, other parameters kept."""
        seqs = sequence_parameters(space)
        if len(parents) == 0:
            return parents.iloc[:0]
        share = max(1, self.n_mutants // max(len(seqs), 1))
        parts = []
        for name, p in seqs.items():
            mutator = PointMutator(ParameterRules(p), p.length)
            top = max(1, min(self.max_mutations, mutator.free.size))
            idx = rng.integers(0, len(parents), share)
            base = parents.iloc[idx].reset_index(drop=True)
            # Parent by parent, so every mutant keeps its own parent's other values.
            new = [
                mutator.mutant(str(s).upper(), int(rng.integers(1, top + 1)), rng)
                for s in base[name]
            ]
            ok = [i for i, m in enumerate(new) if m is not None]
            moved = base.iloc[ok].copy()
            moved[name] = [new[i] for i in ok]
            parts.append(moved)
        if len(space.parameters) > len(seqs):
            parts.append(space.neighbours(parents, self.n_mutants // 4, 0.1, rng))
        out = pd.concat(parts, ignore_index=True) if parts else parents.iloc[:0]
        out = out[space.feasible(out)]
        return space.complete(out)

    def _reachable(self, req: BatchRequest, designs: pd.DataFrame) -> pd.DataFrame:
        if self.trust_radius is None or len(designs) == 0 or len(req.designs) == 0:
            return designs
        near = hamming_matrix(req.space, designs, req.designs).min(axis=1)
        return designs[near <= self.trust_radius].reset_index(drop=True)

    def _pool(self, req: BatchRequest, scorer: Scorer) -> pd.DataFrame:
        space, rng, seen = req.space, req.rng, req.seen
        order = np.argsort(-req.y[:, 0])[: self.n_parents]
        parents = space.complete(req.designs.iloc[order])
        parts = [self._reachable(req, self.mutants(space, parents, rng))]
        if self.n_random:
            exclude = space.keys(seen) if len(seen) else []
            parts.append(
                space.sample(self.n_random, seed=int(rng.integers(2**31)), exclude=exclude)
            )
        pool = unmeasured(space, pd.concat(parts, ignore_index=True), seen)
        scores = scorer.score(pool)
        for _ in range(self.generations - 1):
            top = pool.iloc[np.argsort(-scores)[: self.n_parents]].reset_index(drop=True)
            kids = self._reachable(req, self.mutants(space, top, rng))
            kids = unmeasured(space, kids, pd.concat([seen, pool], ignore_index=True))
            if len(kids) == 0:
                break
            pool = pd.concat([pool, kids], ignore_index=True)
            scores = np.concatenate([scores, scorer.score(kids)])
        return pool
