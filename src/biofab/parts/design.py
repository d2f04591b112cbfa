"""Model-guided design of DNA parts under hard constraints.

The designer needs only a predictor ``predict(sequences) -> (mean, std)``
(any biofab parts model, an ensemble, the Promoter Calculator wrapped the same
way) and a :class:`~biofab.parts.constraints.SequenceConstraints`.

Search: **batched simulated annealing**. Many chains run side by side; at each
step every chain proposes a few constraint-clean mutants (1 + Poisson(λ) point
mutations, λ falling from 1.5 to 0), all proposals of all chains go to the
model in one ``predict`` call, and each chain moves to its best proposal with
the Metropolis rule at a temperature that cools geometrically 100-fold from
the median first-step score change. Per chain this is a (1, λ) evolution
strategy with annealed acceptance. Why this rather than a genetic algorithm:

* independent chains started far apart keep the lineages apart, which the
  final diversity filter needs; a GA's crossover and selection collapse a
  population onto one family;
* point mutations are checked against every constraint before the model sees
  them (moves that break a constraint are simply not proposed), whereas
  crossover junctions create restriction sites and repeats that would need
  repairing;
* one large predict call per step suits a CNN ensemble on a GPU.

Objective (higher is better), so designs stay where the model is trustworthy::

    target  t:  score = -|mean - t| - uncertainty_penalty * std
    maximise:   score =  mean       - uncertainty_penalty * std
    minimise:   score = -mean       - uncertainty_penalty * std

Every sequence the search evaluates is kept; the answer is a greedy diverse
selection from all of them: best score first, skipping any sequence closer than
``min_distance`` (Hamming) to one already chosen.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from biofab.core.errors import InputError
from biofab.learn.sequence_search import PointMutator, diverse_pick, hamming, within_reach
from biofab.parts.constraints import SequenceConstraints, gc_content

__all__ = ["Predictor", "SequenceDesigner", "design_sequences", "hamming", "select_diverse"]

#: ``predict(sequences) -> (mean, std)``: two 1-D arrays as long as the list.
Predictor = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]

_CODES = np.frombuffer(b"ACGT", dtype=np.uint8)


def _as_array(seqs: list[str]) -> np.ndarray:
    """Sequences of one length as a ``(n, L)`` uint8 array (ASCII codes)."""
    if not seqs:
        return np.zeros((0, 0), dtype=np.uint8)
    return np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8).reshape(len(seqs), -1)


def select_diverse(
    sequences: list[str], scores: np.ndarray, n: int, min_distance: int
) -> list[int]:
    """Indices of up to ``n`` sequences, best score first, pairwise >= ``min_distance`` apart.

    Greedy: walk the sequences from the best score down and keep one when it
    is at least ``min_distance`` (Hamming) from every one kept so far. Ties
    keep input order, so the result is deterministic. The shared pick of
    :func:`biofab.learn.sequence_search.diverse_pick`.
    """
    if not sequences:
        return []
    return diverse_pick(_as_array(sequences), scores, n, min_distance)[0]


class SequenceDesigner:
    """Design ``n`` diverse, constraint-clean sequences that a model scores well.

    Parameters
    ----------
    predict:
        ``predict(list[str]) -> (mean, std)`` in the model's units (e.g.
        log10 expression); called with batches of up to ``batch_size``.
    constraints:
        Hard constraints; every returned design meets all of them.
    target:
        Aim the prediction at this value (model units); ``None`` to optimise.
    maximize:
        Without a target: maximise (True) or minimise (False) the prediction.
    uncertainty_penalty:
        Weight of the model's std in the score (0 trusts the mean blindly).
    n:
        Number of designs wanted.
    min_distance:
        Least Hamming distance between any two designs (nt).
    steps:
        Annealing steps; each step costs one ``predict`` call on
        ``chains * proposals`` sequences at most.
    chains:
        Parallel annealing chains (default ``max(2 n, 8)``).
    proposals:
        Mutants each chain proposes per step.
    seed:
        Seed of the random generator; with a deterministic predictor the
        result is reproducible.
    progress:
        Show a Rich progress bar on stderr (default: when stderr is a terminal).
    max_mutations:
        Trust region: a design may differ from the sequence its chain started
        from (a seed, or a random start) in at most this many positions
        (``None``: no limit). Far from the training data a model can be
        confidently wrong, and its std does not always say so.

    After :meth:`design`: ``designs_`` (the DataFrame), ``n_evaluated_``
    (distinct sequences scored), ``elapsed_s_``, ``designs_per_minute_``,
    ``best_history_`` (best score found after each step) and ``shortfall_``
    (designs missing because not enough distinct candidates were found).
    """

    def __init__(
        self,
        predict: Predictor,
        constraints: SequenceConstraints | None = None,
        *,
        target: float | None = None,
        maximize: bool = True,
        uncertainty_penalty: float = 1.0,
        n: int = 20,
        min_distance: int = 5,
        steps: int = 200,
        chains: int | None = None,
        proposals: int = 4,
        seed: int | None = 0,
        progress: bool | None = None,
        batch_size: int = 1024,
        max_mutations: int | None = None,
    ) -> None:
        self.predict = predict
        self.constraints = constraints if constraints is not None else SequenceConstraints()
        self.target = target
        self.maximize = maximize
        self.uncertainty_penalty = uncertainty_penalty
        self.n = n
        self.min_distance = min_distance
        self.steps = steps
        self.chains = chains
        self.proposals = proposals
        self.seed = seed
        self.progress = progress
        self.batch_size = batch_size
        self.max_mutations = max_mutations

    # ---------------------------------------------------------------- checks
    def _check(self) -> None:
        if not callable(self.predict):
            raise InputError("predict must be callable: predict(sequences) -> (mean, std)")
        if self.target is not None and not math.isfinite(float(self.target)):
            raise InputError("target must be a finite number", found=self.target)
        pen = float(self.uncertainty_penalty)
        if not (math.isfinite(pen) and pen >= 0):
            raise InputError("uncertainty_penalty must be >= 0", found=self.uncertainty_penalty)
        for name, least in (("n", 1), ("steps", 0), ("proposals", 1), ("batch_size", 1)):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or v < least:
                raise InputError(f"{name} must be a whole number >= {least}", found=v)
        if self.chains is not None and (
            not isinstance(self.chains, int | np.integer) or self.chains < 1
        ):
            raise InputError("chains must be a whole number >= 1", found=self.chains)
        if not isinstance(self.min_distance, int | np.integer) or self.min_distance < 0:
            raise InputError("min_distance must be a whole number >= 0", found=self.min_distance)
        if self.max_mutations is not None and (
            not isinstance(self.max_mutations, int | np.integer) or self.max_mutations < 1
        ):
            raise InputError("max_mutations must be a whole number >= 1", found=self.max_mutations)

    def score(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """The design objective (higher is better) for predictions ``mean``, ``std``."""
        mean = np.asarray(mean, dtype=float)
        penalty = float(self.uncertainty_penalty) * np.asarray(std, dtype=float)
        if self.target is not None:
            return -np.abs(mean - float(self.target)) - penalty
        return (mean if self.maximize else -mean) - penalty

    def _evaluate(self, seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        means, stds = [], []
        for i in range(0, len(seqs), self.batch_size):
            batch = seqs[i : i + self.batch_size]
            out = self.predict(batch)
            if not (isinstance(out, tuple | list) and len(out) == 2):
                raise InputError("the predictor must return a (mean, std) pair of arrays")
            mean = np.asarray(out[0], dtype=float).reshape(-1)
            std = np.asarray(out[1], dtype=float).reshape(-1)
            if mean.shape != (len(batch),) or std.shape != (len(batch),):
                raise InputError(
                    "the predictor returned arrays of the wrong length",
                    expected=str(len(batch)),
                    found=(mean.size, std.size),
                )
            if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))) or np.any(std < 0):
                raise InputError("the predictor returned non-finite values or a negative std")
            means.append(mean)
            stds.append(std)
        if not means:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(means), np.concatenate(stds)

    # ---------------------------------------------------------------- search
    def design(
        self,
        seeds: Iterable[str] | Mapping[str, str] | None = None,
        *,
        length: int | None = None,
    ) -> pd.DataFrame:
        """Run the search and return the designs, best score first.

        ``seeds``: starting sequences (e.g. a promoter library; a mapping gives
        them names). Seeds that break a constraint are first moved to the
        closest compliant sequence the builder finds (see
        :meth:`SequenceConstraints.project`); seeds are candidates themselves.
        Without seeds, chains start from random compliant sequences.
        ``length``: designed length when neither constraints nor seeds fix it.

        Returns columns ``name, sequence, prediction, std, score, gc,
        nearest_distance`` (Hamming to the closest other design), ``origin``
        (seed name or ``random``) and ``origin_distance``; ``attrs`` hold the
        run's numbers.
        """
        self._check()
        start = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        names, seed_seqs = _read_seeds(seeds)
        c = self._resolve(length, seed_seqs)
        L = int(c.length or 0)
        mutator = PointMutator(c, L)
        free = mutator.free
        if free.size == 0:
            raise InputError("every position is fixed: nothing to design")
        if self.min_distance > free.size and self.n > 1:
            raise InputError(
                "min_distance exceeds the number of free positions",
                expected=f"<= {free.size}",
                found=self.min_distance,
            )
        n_chains = int(self.chains or max(2 * self.n, 8))

        # Archive: every evaluated sequence -> (mean, std, score), and its origin.
        archive: dict[str, tuple[float, float, float]] = {}
        origin: dict[str, int] = {}
        origins: list[tuple[str, str]] = []  # (name, starting sequence)

        def evaluate(seqs: list[str], from_origin: list[int]) -> None:
            new = [s for s in dict.fromkeys(seqs) if s not in archive]
            if not new:
                return
            mean, std = self._evaluate(new)
            score = self.score(mean, std)
            for s, m, d, sc in zip(new, mean, std, score, strict=True):
                archive[s] = (float(m), float(d), float(sc))
            for s, o in zip(seqs, from_origin, strict=True):
                origin.setdefault(s, o)

        if seed_seqs:
            projected = [c.project(s, rng) for s in seed_seqs]
            origins = list(zip(names, seed_seqs, strict=True))
            evaluate(projected, list(range(len(projected))))
            uniq = list(dict.fromkeys(projected))
            picked = select_diverse(uniq, np.array([archive[s][2] for s in uniq]), n_chains, 1)
            current = [uniq[i] for i in picked]
            while len(current) < n_chains:  # fewer seeds than chains: share them out
                current.append(current[len(current) % len(picked)])
            chain_origin = [origin[s] for s in current]
        else:
            current = c.random(n_chains, rng)
            origins = [("random", s) for s in current]
            chain_origin = list(range(n_chains))
            evaluate(current, chain_origin)

        cur_score = np.array([archive[s][2] for s in current])
        best_so_far = max(v[2] for v in archive.values())
        temperature0: float | None = None
        self.best_history_: list[float] = []
        with _progress_bar(self._show_progress(), self.steps) as bar:
            for step in range(self.steps):
                frac = step / max(1, self.steps - 1)
                lam = 1.5 * (1.0 - frac)
                props: list[list[str]] = []
                for k, s in enumerate(current):
                    # 1 + Poisson(lam) point mutations, legal under every constraint.
                    mutants = [
                        mutator.mutant(s, 1 + int(rng.poisson(lam)), rng)
                        for _ in range(self.proposals)
                    ]
                    start_seq = origins[chain_origin[k]][1]
                    props.append(within_reach(mutants, start_seq, self.max_mutations))
                flat = [m for ms in props for m in ms]
                flat_origin = [chain_origin[k] for k, ms in enumerate(props) for _ in ms]
                evaluate(flat, flat_origin)
                best = [max(ms, key=lambda m: archive[m][2]) if ms else None for ms in props]
                delta = np.array(
                    [archive[b][2] - cur_score[k] if b else -np.inf for k, b in enumerate(best)]
                )
                if temperature0 is None:
                    finite = np.abs(delta[np.isfinite(delta)])
                    temperature0 = float(np.median(finite)) if finite.size else 1.0
                    temperature0 = max(temperature0, 1e-9)
                temperature = temperature0 * 0.01**frac
                u = rng.random(len(current))
                for k, b in enumerate(best):
                    if b is None:
                        continue
                    if delta[k] >= 0 or u[k] < math.exp(delta[k] / temperature):
                        current[k] = b
                        cur_score[k] = archive[b][2]
                best_so_far = max(
                    best_so_far, max((archive[b][2] for b in best if b), default=best_so_far)
                )
                self.best_history_.append(best_so_far)
                bar(step, self.best_history_[-1])

        return self._finish(c, archive, origin, origins, start)

    def _resolve(self, length: int | None, seeds: list[str]) -> SequenceConstraints:
        c = self.constraints
        L = c.length if c.length is not None else length
        if L is None and seeds:
            L = len(seeds[0])
        if L is None:
            raise InputError("give a length (or constraints with a length, or seed sequences)")
        if length is not None and c.length is not None and length != c.length:
            raise InputError("length disagrees with the constraints", found=(length, c.length))
        for i, s in enumerate(seeds):
            if len(s) != L:
                raise InputError(
                    "seed sequence has the wrong length", row=i + 1, expected=str(L), found=len(s)
                )
        return c.with_length(int(L))

    def _show_progress(self) -> bool:
        if self.progress is not None:
            return bool(self.progress)
        return sys.stderr.isatty()

    def _finish(
        self,
        c: SequenceConstraints,
        archive: dict[str, tuple[float, float, float]],
        origin: dict[str, int],
        origins: list[tuple[str, str]],
        start: float,
    ) -> pd.DataFrame:
        seqs = list(archive)
        while True:
            scores = np.array([archive[s][2] for s in seqs])
            chosen = [seqs[i] for i in select_diverse(seqs, scores, self.n, self.min_distance)]
            # Every archived sequence passed the checks when made; the full check
            # once more on the few chosen is cheap insurance for the 100 % promise.
            broken = {s for s in chosen if not c.ok(s)}
            if not broken:
                break
            seqs = [s for s in seqs if s not in broken]
        arr = _as_array(chosen)
        if len(chosen) > 1:
            dist = (arr[:, None, :] != arr[None, :, :]).sum(axis=2)
            np.fill_diagonal(dist, arr.shape[1] + 1)
            nearest = dist.min(axis=1)
        else:
            nearest = np.full(len(chosen), -1)
        rows = []
        for i, s in enumerate(chosen):
            name, start_seq = origins[origin[s]]
            rows.append(
                {
                    "name": f"design_{i + 1}",
                    "sequence": s,
                    "prediction": archive[s][0],
                    "std": archive[s][1],
                    "score": archive[s][2],
                    "gc": gc_content(s),
                    "nearest_distance": int(nearest[i]),
                    "origin": name,
                    "origin_distance": hamming(s, start_seq),
                }
            )
        columns = [
            "name",
            "sequence",
            "prediction",
            "std",
            "score",
            "gc",
            "nearest_distance",
            "origin",
            "origin_distance",
        ]
        df = pd.DataFrame(rows, columns=columns)
        self.elapsed_s_ = time.perf_counter() - start
        self.n_evaluated_ = len(archive)
        self.shortfall_ = self.n - len(df)
        self.designs_per_minute_ = len(df) / max(self.elapsed_s_, 1e-9) * 60.0
        self.designs_ = df
        df.attrs.update(
            {
                "n_evaluated": self.n_evaluated_,
                "elapsed_s": self.elapsed_s_,
                "designs_per_minute": self.designs_per_minute_,
                "shortfall": self.shortfall_,
                "objective": self._objective_text(),
                "constraints": c.describe(),
            }
        )
        return df

    def _objective_text(self) -> str:
        pen = f"{float(self.uncertainty_penalty):g}*std"
        if self.target is not None:
            return f"-|mean - {float(self.target):g}| - {pen}"
        return f"{'' if self.maximize else '-'}mean - {pen}"


def _read_seeds(seeds: Iterable[str] | Mapping[str, str] | None) -> tuple[list[str], list[str]]:
    if seeds is None:
        return [], []
    if isinstance(seeds, str):
        raise InputError("seeds must be a list of sequences, not one string")
    if isinstance(seeds, Mapping):
        names = [str(k) for k in seeds]
        seqs = [str(v).strip().upper() for v in seeds.values()]
    else:
        seqs = [str(s).strip().upper() for s in seeds]
        names = [f"seed_{i + 1}" for i in range(len(seqs))]
    for i, s in enumerate(seqs):
        bad = sorted(set(s) - set("ACGT"))
        if bad or not s:
            raise InputError(
                "seed sequence must be non-empty A/C/G/T",
                row=i + 1,
                found="".join(bad) or "empty",
            )
    return names, seqs


class _Bar:
    def __init__(self, show: bool, total: int) -> None:
        self.show = show
        self.total = total

    def __enter__(self) -> Callable[[int, float], None]:
        if not self.show:
            return lambda step, best: None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("designing"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps, best score {task.fields[best]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.__enter__()
        task = self._progress.add_task("design", total=self.total, best="-")

        def advance(step: int, best: float) -> None:
            self._progress.update(task, completed=step + 1, best=f"{best:.3g}")

        return advance

    def __exit__(self, *exc: Any) -> None:
        if self.show:
            self._progress.__exit__(*exc)


def _progress_bar(show: bool, total: int) -> _Bar:
    return _Bar(show, total)


def design_sequences(
    predict: Predictor,
    constraints: SequenceConstraints | None = None,
    *,
    target: float | None = None,
    maximize: bool = True,
    n: int = 20,
    length: int | None = None,
    seeds: Iterable[str] | Mapping[str, str] | None = None,
    uncertainty_penalty: float = 1.0,
    min_distance: int = 5,
    steps: int = 200,
    seed: int | None = 0,
    progress: bool | None = None,
    **options: Any,
) -> pd.DataFrame:
    """One call for a CLI: build a :class:`SequenceDesigner` and run it.

    See :class:`SequenceDesigner` for the parameters; ``options`` passes
    ``chains``, ``proposals`` and ``batch_size``.
    """
    designer = SequenceDesigner(
        predict,
        constraints,
        target=target,
        maximize=maximize,
        uncertainty_penalty=uncertainty_penalty,
        n=n,
        min_distance=min_distance,
        steps=steps,
        seed=seed,
        progress=progress,
        **options,
    )
    return designer.design(seeds, length=length)
