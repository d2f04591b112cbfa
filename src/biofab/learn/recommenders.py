"""Recommenders: space-filling start, batch BO (qLogNEI), multi-objective BO
(qLogNEHVI) and ensemble UCB with an annealed exploration weight.

Every recommender returns designs that lie on the space's grid, satisfy its
constraints and were never measured before, each with the model's predicted
mean, std and the acquisition value that chose it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective.logei import (
    qLogNoisyExpectedHypervolumeImprovement,
)
from botorch.optim import optimize_acqf_discrete
from botorch.sampling import SobolQMCNormalSampler

from biofab.core import Categorical, NotEnoughDataError, Space
from biofab.core import Sequence as SeqParam
from biofab.learn.candidates import candidate_set, refine, unmeasured
from biofab.learn.gp import GPSurrogate
from biofab.learn.recommendation import Recommendation, Recommender
from biofab.learn.selection import cross_validate
from biofab.learn.surrogate import EnsembleSurrogate, Surrogate
from biofab.learn.torch_threads import torch_threads
from biofab.learn.trees import TreeEnsemble

DTYPE = torch.double


def _nan(n: int, m: int) -> np.ndarray:
    return np.full((n, m), np.nan)


def _as_2d(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return v[:, None] if v.ndim == 1 else v


def _seen(designs: pd.DataFrame, pending: pd.DataFrame | None) -> pd.DataFrame:
    """Measured plus pending designs: neither may be recommended again."""
    if pending is None or len(pending) == 0:
        return designs
    return pd.concat(
        [designs, pending[designs.columns.intersection(pending.columns)]], ignore_index=True
    )


def _search_set(
    space: Space,
    designs: pd.DataFrame,
    utilities: np.ndarray,
    candidates: pd.DataFrame | None,
    rng: np.random.Generator,
    pending: pd.DataFrame | None,
) -> tuple[pd.DataFrame, bool]:
    """The designs to score, and whether they came from a user-given pool."""
    seen = _seen(designs, pending)
    if candidates is not None:
        return unmeasured(space, space.complete(candidates), seen), True
    pool = candidate_set(space, designs, utilities, rng)
    return unmeasured(space, pool, seen), False


class SpaceFilling:
    """Space-filling start: scrambled Sobol (or LHS / random) on the grid.

    With a pool of candidates, picks greedily the candidate farthest from
    everything measured or already picked (maximin), from a random first pick.
    """

    def __init__(self, method: str = "sobol") -> None:
        self.method = method
        self.name = f"space-filling ({method})"

    def recommend(
        self,
        space: Space,
        designs: pd.DataFrame,
        values: np.ndarray,
        n: int,
        *,
        yvar: np.ndarray | None = None,
        candidates: pd.DataFrame | None = None,
        round_index: int = 0,
        seed: int | None = None,
        pending: pd.DataFrame | None = None,
    ) -> Recommendation:
        m = _as_2d(values).shape[1] if len(designs) else 1
        seen = _seen(designs, pending)
        if candidates is None:
            exclude = space.keys(seen) if len(seen) else []
            batch = space.sample(n, seed=seed, method=self.method, exclude=exclude)
        else:
            pool = unmeasured(space, space.complete(candidates), seen)
            batch = _maximin(space, pool, seen, n, np.random.default_rng(seed))
        k = len(batch)
        return Recommendation(batch, _nan(k, m), _nan(k, m), np.full(k, np.nan), self.name)


def _maximin(
    space: Space, pool: pd.DataFrame, measured: pd.DataFrame, n: int, rng: np.random.Generator
) -> pd.DataFrame:
    if len(pool) <= n:
        return pool.reset_index(drop=True)
    U = space.encode(pool)
    d = np.full(len(pool), np.inf)
    if len(measured):
        M = space.encode(measured)
        d = np.min(((U[:, None, :] - M[None, :, :]) ** 2).sum(-1), axis=1)
        first = int(np.argmax(d))
    else:
        first = int(rng.integers(len(pool)))
    picked = [first]
    d = np.minimum(d, ((U - U[first]) ** 2).sum(-1))
    while len(picked) < n:
        i = int(np.argmax(d))
        picked.append(i)
        d = np.minimum(d, ((U - U[i]) ** 2).sum(-1))
    return pool.iloc[picked].reset_index(drop=True)


@dataclass
class BatchRequest:
    """One call's inputs, checked: ``y`` ``(n_obs, m)`` utilities, ``yvar`` like
    ``y`` or None, and a generator seeded from ``seed``."""

    space: Space
    designs: pd.DataFrame
    y: np.ndarray
    yvar: np.ndarray | None
    n: int
    candidates: pd.DataFrame | None
    round_index: int
    seed: int | None
    pending: pd.DataFrame | None
    rng: np.random.Generator

    @property
    def seen(self) -> pd.DataFrame:
        """Measured plus pending designs."""
        return _seen(self.designs, self.pending)

    def search_set(self) -> tuple[pd.DataFrame, bool]:
        """The designs to score, and whether they came from a user-given pool."""
        return _search_set(
            self.space, self.designs, self.y[:, 0], self.candidates, self.rng, self.pending
        )


class ModelRecommender:
    """Shared front of the model-based recommenders: checks the inputs, builds a
    :class:`BatchRequest` and runs ``_recommend`` with one torch thread (on
    campaign-sized matrices more threads only wait on each other)."""

    name = "model"
    single_output = True
    surrogate_: Surrogate

    def recommend(
        self,
        space: Space,
        designs: pd.DataFrame,
        values: np.ndarray,
        n: int,
        *,
        yvar: np.ndarray | None = None,
        candidates: pd.DataFrame | None = None,
        round_index: int = 0,
        seed: int | None = None,
        pending: pd.DataFrame | None = None,
    ) -> Recommendation:
        y = _as_2d(values)
        if self.single_output and y.shape[1] != 1:
            raise ValueError(f"{type(self).__name__} takes one utility; use MultiObjective")
        if len(designs) < 2:
            raise NotEnoughDataError(f"{self.name} needs at least 2 measurements")
        v = None if yvar is None else _as_2d(yvar)
        rng = np.random.default_rng(seed)
        req = BatchRequest(space, designs, y, v, n, candidates, round_index, seed, pending, rng)
        with torch_threads(1):
            return self._recommend(req)

    def _recommend(self, req: BatchRequest) -> Recommendation:
        raise NotImplementedError


class BayesianOptimization(ModelRecommender):
    """Batch Bayesian optimisation: a GP and q-log noisy expected improvement.

    The batch is built greedily (each pick conditions on the earlier ones as
    pending points), over the candidate set or a given pool. ``n_mc`` is the
    number of quasi-Monte-Carlo samples of the acquisition.
    """

    def __init__(
        self,
        surrogate: GPSurrogate | None = None,
        *,
        n_mc: int = 128,
        max_batch_size: int = 512,
    ) -> None:
        self.surrogate = surrogate
        self.n_mc = n_mc
        self.max_batch_size = max_batch_size
        self.name = "bo (GP, qLogNEI)"

    def _recommend(self, req: BatchRequest) -> Recommendation:
        space, rng = req.space, req.rng
        torch.manual_seed(int(rng.integers(2**31)))
        X = space.encode(req.designs)
        gp = self.surrogate or GPSurrogate(seed=req.seed)
        gp.fit(X, req.y[:, 0], None if req.yvar is None else req.yvar[:, 0])
        self.surrogate_ = gp
        sampler = SobolQMCNormalSampler(torch.Size([self.n_mc]), seed=int(rng.integers(2**31)))
        acq = qLogNoisyExpectedImprovement(
            gp.model_, X_baseline=torch.as_tensor(X, dtype=DTYPE), sampler=sampler
        )
        _set_pending(acq, space, req.pending)

        def score(cands: pd.DataFrame) -> np.ndarray:
            Xc = torch.as_tensor(space.encode(cands), dtype=DTYPE).unsqueeze(1)
            with torch.no_grad():
                vals = [acq(chunk) for chunk in Xc.split(self.max_batch_size)]
            return torch.cat(vals).numpy()

        pool, given = req.search_set()
        if not given:
            pool = refine(space, pool, req.seen, score, rng)
        batch, acq_values = _pick_greedy(acq, space, pool, req.n, self.max_batch_size)
        mean, std = gp.predict(space.encode(batch))
        return Recommendation(
            batch, _as_2d(mean), _as_2d(std), acq_values, self.name, notes={"pool": len(pool)}
        )


def _set_pending(acq: AcquisitionFunction, space: Space, pending: pd.DataFrame | None) -> None:
    if pending is not None and len(pending):
        acq.set_X_pending(torch.as_tensor(space.encode(pending), dtype=DTYPE))


def _pick_greedy(
    acq: AcquisitionFunction, space: Space, pool: pd.DataFrame, n: int, max_batch_size: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Sequential greedy q-batch over the pool: each pick is pending for the next.

    Returns the chosen rows of ``pool`` and the acquisition value at each pick.
    """
    choices = torch.as_tensor(space.encode(pool), dtype=DTYPE)
    q = min(n, len(pool))
    if q == 0:
        return pool.iloc[:0], np.zeros(0)
    with torch.no_grad():
        chosen, values = optimize_acqf_discrete(
            acq, q=q, choices=choices, max_batch_size=max_batch_size, unique=True
        )
    rows = pool.iloc[_match_rows(choices, chosen)].reset_index(drop=True)
    return rows, values.reshape(-1).numpy()


def _match_rows(choices: torch.Tensor, chosen: torch.Tensor) -> list[int]:
    dist = torch.cdist(chosen, choices)
    return [int(i) for i in dist.argmin(dim=1)]


class MultiObjective(ModelRecommender):
    """Multi-objective batch BO: one GP per objective, q-log noisy expected
    hypervolume improvement. The reference point sits 10 % of each objective's
    observed range below its worst observed utility."""

    single_output = False

    def __init__(self, *, n_mc: int = 64, max_batch_size: int = 128, n_global: int = 1024):
        self.n_mc = n_mc
        self.max_batch_size = max_batch_size
        self.n_global = n_global
        self.name = "mobo (GP, qLogNEHVI)"

    def _recommend(self, req: BatchRequest) -> Recommendation:
        space, rng, y = req.space, req.rng, req.y
        torch.manual_seed(int(rng.integers(2**31)))
        X = space.encode(req.designs)
        gp = GPSurrogate(seed=req.seed).fit(X, y, req.yvar)
        self.surrogate_ = gp
        span = np.ptp(y, axis=0)
        ref = torch.as_tensor(y.min(axis=0) - 0.1 * np.where(span > 0, span, 1.0), dtype=DTYPE)
        sampler = SobolQMCNormalSampler(torch.Size([self.n_mc]), seed=int(rng.integers(2**31)))
        acq = qLogNoisyExpectedHypervolumeImprovement(
            gp.model_,
            ref_point=ref.tolist(),
            X_baseline=torch.as_tensor(X, dtype=DTYPE),
            sampler=sampler,
            prune_baseline=True,
        )
        _set_pending(acq, space, req.pending)
        if req.candidates is not None:
            pool = unmeasured(space, space.complete(req.candidates), req.seen)
        else:
            scalar = (y - y.mean(0)) / np.where(y.std(0) > 0, y.std(0), 1.0)
            pool = candidate_set(space, req.designs, scalar.sum(1), rng, n_global=self.n_global)
            pool = unmeasured(space, pool, req.seen)
        batch, acq_values = _pick_greedy(acq, space, pool, req.n, self.max_batch_size)
        mean, std = gp.predict(space.encode(batch))
        return Recommendation(
            batch,
            _as_2d(mean),
            _as_2d(std),
            acq_values,
            self.name,
            outputs=[f"y{j}" for j in range(y.shape[1])],
            notes={"pareto": pareto_mask(y)},
        )


def pareto_mask(utilities: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``utilities`` ``(n, m)``, higher better."""
    u = _as_2d(utilities)
    keep = np.ones(len(u), dtype=bool)
    for i in range(len(u)):
        if not keep[i]:
            continue
        dominated = np.all(u <= u[i], axis=1) & np.any(u < u[i], axis=1)
        keep &= ~dominated
    return keep


class EnsembleUCB(ModelRecommender):
    """Upper confidence bound on an ensemble surrogate (boosted trees by default).

    ``kappa`` anneals over the campaign: round ``r`` uses
    ``kappa_schedule[min(len * r // horizon, len - 1)]``, so early rounds
    explore and late ones exploit. Suited to large mixed or categorical spaces
    where a GP's smooth kernel is a poor prior.
    """

    def __init__(
        self,
        surrogate: EnsembleSurrogate | None = None,
        *,
        kappa_schedule: Sequence[float] = (1.41, 1.0, 0.5),
        horizon: int = 10,
    ) -> None:
        self.surrogate = surrogate
        self.kappa_schedule = tuple(kappa_schedule)
        self.horizon = horizon
        self.name = "ensemble-ucb"

    def kappa(self, round_index: int) -> float:
        k = len(self.kappa_schedule)
        return self.kappa_schedule[min(k * max(round_index, 0) // max(self.horizon, 1), k - 1)]

    def _recommend(self, req: BatchRequest) -> Recommendation:
        space, rng = req.space, req.rng
        model = self.surrogate or TreeEnsemble(seed=0 if req.seed is None else req.seed)
        model.fit(
            space.encode(req.designs), req.y[:, 0], None if req.yvar is None else req.yvar[:, 0]
        )
        self.surrogate_ = model
        kappa = self.kappa(req.round_index)

        def score(cands: pd.DataFrame) -> np.ndarray:
            mean, std = model.predict(space.encode(cands))
            return np.asarray(mean) + kappa * np.asarray(std)

        pool, given = req.search_set()
        if not given:
            pool = refine(space, pool, req.seen, score, rng)
        scores = score(pool)
        order = np.argsort(-scores)[: req.n]
        batch = pool.iloc[order].reset_index(drop=True)
        mean, std = model.predict(space.encode(batch))
        return Recommendation(
            batch,
            _as_2d(mean),
            _as_2d(std),
            scores[order],
            f"{self.name} (kappa={kappa:g})",
            notes={"kappa": kappa},
        )


class AutoRecommender(ModelRecommender):
    """Single-objective default: each round, pick the surrogate by cross-validation.

    The GP (with qLogNEI) and the tree ensemble (with annealed UCB) are scored
    by out-of-fold Spearman correlation on the measured designs
    (:func:`biofab.learn.selection.cross_validate`); the better one chooses the
    batch. The GP is the default: it is used below ``min_rows`` measurements,
    and above them unless the trees rank clearly better (by more than the
    selection margin). The choice and the scores are recorded in the
    recommendation's ``notes`` and its ``recommender`` label.
    """

    def __init__(self, *, folds: int = 5, horizon: int = 10, min_rows: int = 30) -> None:
        self.folds = folds
        self.horizon = horizon
        self.min_rows = min_rows
        self.name = "auto"

    def _recommend(self, req: BatchRequest) -> Recommendation:
        s = 0 if req.seed is None else req.seed
        chosen: BayesianOptimization | EnsembleUCB = BayesianOptimization()
        cv = None
        if len(req.y) >= self.min_rows:
            cv = cross_validate(
                {"gp": lambda: GPSurrogate(seed=s), "trees": lambda: TreeEnsemble(seed=s)},
                req.space.encode(req.designs),
                req.y[:, 0],
                None if req.yvar is None else req.yvar[:, 0],
                folds=self.folds,
                seed=s,
            )
            if cv.best != "gp":
                chosen = EnsembleUCB(horizon=self.horizon)
        rec = chosen._recommend(req)
        self.surrogate_ = chosen.surrogate_
        if cv is not None:
            rec.notes["cv_spearman"] = cv.scores
            rec.recommender = f"auto -> {rec.recommender}"
        return rec


def default_recommender(space: Space, n_objectives: int = 1) -> Recommender:
    """The recommender biofab picks when the user does not choose one.

    Several objectives -> :class:`MultiObjective`. A :class:`~biofab.core.Sequence`
    parameter -> :class:`~biofab.learn.sequence_recommender.SequenceRecommender`
    (ensemble UCB with mutational search and a diversity rule). Categorical
    parameters with many choices (> 60 encoded columns) -> :class:`EnsembleUCB`,
    where trees handle one-hot structure better than a stationary kernel.
    Otherwise -> :class:`AutoRecommender` (GP or trees, by cross-validation).
    """
    if n_objectives > 1:
        return MultiObjective()
    if any(isinstance(p, SeqParam) for p in space.parameters.values()):
        # Imported here: the sequence recommender builds on this module.
        from biofab.learn.sequence_recommender import SequenceRecommender

        return SequenceRecommender()
    wide = any(isinstance(p, SeqParam | Categorical) for p in space.parameters.values())
    if wide and space.width > 60:
        return EnsembleUCB()
    return AutoRecommender()


def initial_batch_size(space: Space) -> int:
    """Designs to measure before a model is trusted: about two per parameter, 5..20."""
    return int(min(20, max(5, math.ceil(2 * len(space.parameters)))))
