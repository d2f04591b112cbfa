"""Acquisition functions: how a fitted surrogate scores designs and picks a batch.

An acquisition holds hyper-parameters only. For one request, :meth:`bind`
joins it with the freshly fitted model into a :class:`Scorer`, which the
candidate generator uses twice: ``score`` ranks designs one at a time (to
steer local refinement or a mutational search) and ``select`` picks the batch
from the final pool the way the acquisition prefers (a sequential greedy
q-batch for the Monte-Carlo acquisitions, the top ``n`` for UCB, maximin for
space filling).

Random numbers come from the request's generator, always in the same order:
:meth:`Acquisition.seed_global` before the model is fitted, then ``bind``,
then the candidate generator. The same seed therefore gives the same batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from biofab.core import Space
from biofab.learn import hypervolume
from biofab.learn.recommendation import BatchRequest, Outputs
from biofab.learn.surrogate import Surrogate

if TYPE_CHECKING:
    from botorch.acquisition import AcquisitionFunction


class Scorer(Protocol):
    """An acquisition bound to one fitted model and one request.

    ``detail`` is a short text for the recommendation's label (e.g.
    ``"kappa=1.41"``, or empty); ``notes`` go to the recommendation's notes.
    """

    detail: str
    notes: dict[str, object]

    def score(self, designs: pd.DataFrame) -> np.ndarray:
        """One value per design ``(len(designs),)``, higher better, each on its own."""
        ...

    def select(self, pool: pd.DataFrame, n: int) -> tuple[list[int], np.ndarray]:
        """Up to ``n`` row positions of ``pool`` in pick order, and the acquisition
        value at each pick ``(k,)``."""
        ...


class Acquisition(Protocol):
    """A stateless acquisition: capabilities plus ``seed_global`` and ``bind``."""

    name: str

    @property
    def outputs(self) -> Outputs: ...

    @property
    def supports_pending(self) -> bool: ...

    @property
    def needs_model(self) -> bool: ...

    def seed_global(self, rng: np.random.Generator) -> None:
        """Seed generators outside ``rng`` (torch's) from it, before the fit."""
        ...

    def bind(self, model: Surrogate | None, req: BatchRequest) -> Scorer:
        """The scorer for ``req`` with ``model`` fitted on it (None if no model)."""
        ...


# -- Monte-Carlo acquisitions on a GP (BoTorch) ---------------------------------------


@dataclass
class _BoTorchScorer:
    """Scores with a BoTorch acquisition; picks the q-batch greedily (each pick is
    pending for the next), over the discrete pool.

    With ``preselect`` set, the greedy pass runs over the ``max(preselect, 4 q)``
    rows of the pool that score best one at a time. Each greedy step evaluates
    the joint posterior of every candidate with all measured designs, so its
    cost grows with pool size times batch size; a design that is poor on its
    own rarely becomes a good batch member, so the short list loses little.
    """

    acq: AcquisitionFunction
    space: Space
    max_batch_size: int
    detail: str = ""
    notes: dict[str, object] = field(default_factory=dict)
    preselect: int | None = None
    #: Ranks the pool for the short list (higher better); None: ``score`` itself.
    prescore: Callable[[pd.DataFrame], np.ndarray] | None = None

    def score(self, designs: pd.DataFrame) -> np.ndarray:
        import torch

        Xc = torch.as_tensor(self.space.encode(designs), dtype=torch.double).unsqueeze(1)
        with torch.no_grad():
            vals = [self.acq(chunk) for chunk in Xc.split(self.max_batch_size)]
        return torch.cat(vals).numpy()

    def select(self, pool: pd.DataFrame, n: int) -> tuple[list[int], np.ndarray]:
        import torch
        from botorch.optim import optimize_acqf_discrete

        q = min(n, len(pool))
        if q == 0:
            return [], np.zeros(0)
        keep = _short_list(pool, q, self.preselect, self.prescore or self.score, self.notes)
        choices = torch.as_tensor(self.space.encode(pool.iloc[keep]), dtype=torch.double)
        with torch.no_grad():
            chosen, values = optimize_acqf_discrete(
                self.acq, q=q, choices=choices, max_batch_size=self.max_batch_size, unique=True
            )
        rows = [int(keep[i]) for i in torch.cdist(chosen, choices).argmin(dim=1)]
        return rows, values.reshape(-1).numpy()


def _short_list(
    pool: pd.DataFrame,
    q: int,
    preselect: int | None,
    score: Callable[[pd.DataFrame], np.ndarray],
    notes: dict[str, object],
) -> np.ndarray:
    """Row positions of ``pool`` a greedy batch of ``q`` is picked from: all of them,
    or with ``preselect`` set, the ``max(preselect, 4 q)`` that ``score`` ranks best
    one at a time (counted in ``notes["preselected"]``)."""
    size = max(preselect, 4 * q) if preselect is not None else len(pool)
    if len(pool) <= size:
        return np.arange(len(pool))
    notes["preselected"] = size
    return np.sort(np.argsort(-score(pool), kind="stable")[:size])


def _seed_torch(rng: np.random.Generator) -> None:
    import torch

    torch.manual_seed(int(rng.integers(2**31)))


def _botorch_model(model: Surrogate | None, who: str) -> Any:
    if model is None or not hasattr(model, "posterior_model"):
        found = "no model" if model is None else type(model).__name__
        raise TypeError(f"{who} needs a GP surrogate with a BoTorch posterior; got {found}")
    return model.posterior_model


def _set_pending(acq: AcquisitionFunction, req: BatchRequest) -> None:
    import torch

    if req.pending is not None and len(req.pending):
        acq.set_X_pending(torch.as_tensor(req.space.encode(req.pending), dtype=torch.double))


class QLogNEI:
    """q-log noisy expected improvement (one utility), ``n_mc`` quasi-MC samples.

    Needs a GP surrogate (:class:`~biofab.learn.GPSurrogate`); pending designs
    are conditioned on as already in flight. ``preselect``: the greedy batch
    is built from this many best single-point candidates (None: the whole pool;
    see :class:`_BoTorchScorer`).
    """

    name = "qLogNEI"
    outputs: Outputs = "single"
    supports_pending = True
    needs_model = True

    def __init__(
        self, n_mc: int = 128, max_batch_size: int = 512, preselect: int | None = 256
    ) -> None:
        self.n_mc = n_mc
        self.max_batch_size = max_batch_size
        self.preselect = preselect

    def seed_global(self, rng: np.random.Generator) -> None:
        _seed_torch(rng)

    def bind(self, model: Surrogate | None, req: BatchRequest) -> Scorer:
        import torch
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.sampling import SobolQMCNormalSampler

        gp = _botorch_model(model, self.name)
        X = torch.as_tensor(req.space.encode(req.designs), dtype=torch.double)
        seed = int(req.rng.integers(2**31))
        sampler = SobolQMCNormalSampler(torch.Size([self.n_mc]), seed=seed)
        acq = qLogNoisyExpectedImprovement(gp, X_baseline=X, sampler=sampler)
        _set_pending(acq, req)
        return _BoTorchScorer(acq, req.space, self.max_batch_size, preselect=self.preselect)


class QLogNEHVI:
    """q-log noisy expected hypervolume improvement over ``m`` utilities.

    The reference point sits 10 % of each objective's observed range below
    its worst observed utility. Needs a (multi-output) GP surrogate.
    ``preselect`` as in :class:`QLogNEI`.

    With two utilities the batch comes from one joint posterior draw of the
    measured, pending and short-listed designs, picked greedily on the draws
    (:mod:`biofab.learn.hypervolume`; the same estimate without the log
    smoothing, which only gradients need): 1.8x less CPU per round at 69 factors
    than BoTorch's greedy pass, which draws again at every pick (BENCHMARKS.md,
    "Recommender speed"; fronts level within about 2 %, ``benchmarks/mobo_batch.py``). Three
    or more utilities, or ``draw_once=False``, use BoTorch's
    ``qLogNoisyExpectedHypervolumeImprovement`` with its greedy pass and ``n_mc``
    samples; the single draw takes ``n_draws`` (more, as they are cheap here: small
    improvements are rare events in late rounds).
    """

    name = "qLogNEHVI"
    outputs: Outputs = "multi"
    supports_pending = True
    needs_model = True

    def __init__(
        self,
        n_mc: int = 64,
        max_batch_size: int = 128,
        preselect: int | None = 256,
        draw_once: bool = True,
        n_draws: int = 256,
    ) -> None:
        self.n_mc = n_mc
        self.max_batch_size = max_batch_size
        self.preselect = preselect
        self.draw_once = draw_once
        self.n_draws = n_draws

    def seed_global(self, rng: np.random.Generator) -> None:
        _seed_torch(rng)

    def bind(self, model: Surrogate | None, req: BatchRequest) -> Scorer:
        import torch

        gp = _botorch_model(model, self.name)
        y = req.y
        X = torch.as_tensor(req.space.encode(req.designs), dtype=torch.double)
        span = np.ptp(y, axis=0)
        ref = y.min(axis=0) - 0.1 * np.where(span > 0, span, 1.0)
        seed = int(req.rng.integers(2**31))
        notes: dict[str, object] = {"pareto": pareto_mask(y)}

        def prescore(designs: pd.DataFrame) -> np.ndarray:
            return ucb_front_score(model, req.space, designs)

        if y.shape[1] == 2 and self.draw_once:
            # Two utilities: sample once, pick greedily on the samples (hypervolume.py).
            pending = req.pending if req.pending is not None else req.designs.iloc[:0]
            seen = torch.cat([X, torch.as_tensor(req.space.encode(pending), dtype=torch.double)])
            return _SampledHVIScorer(
                gp, req.space, seen, ref, self.n_draws, seed, self.max_batch_size, notes=notes,
                preselect=self.preselect, prescore=prescore,
            )  # fmt: skip
        from botorch.acquisition.multi_objective.logei import (
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.sampling import SobolQMCNormalSampler

        sampler = SobolQMCNormalSampler(torch.Size([self.n_mc]), seed=seed)
        acq = qLogNoisyExpectedHypervolumeImprovement(
            gp, ref_point=ref.tolist(), X_baseline=X, sampler=sampler, prune_baseline=True
        )
        _set_pending(acq, req)
        return _BoTorchScorer(
            acq,
            req.space,
            self.max_batch_size,
            notes=notes,
            preselect=self.preselect,
            prescore=prescore,
        )


@dataclass
class _SampledHVIScorer:
    """Noisy expected hypervolume improvement for two utilities from one joint
    posterior draw per call (:mod:`biofab.learn.hypervolume`); the batch is picked
    greedily on those draws. ``seen``: encoded measured + pending designs
    ``(n, d)``; ``ref``: ``(2,)``; ``preselect`` and ``prescore`` as in
    :class:`_BoTorchScorer` (``prescore`` also breaks ties between picks that
    improve no sample)."""

    gp: Any
    space: Space
    seen: Any  # torch.Tensor (n, d)
    ref: np.ndarray
    n_mc: int
    seed: int
    max_batch_size: int
    detail: str = ""
    notes: dict[str, object] = field(default_factory=dict)
    preselect: int | None = None
    prescore: Callable[[pd.DataFrame], np.ndarray] | None = None

    def _draw(self, designs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Joint draws ``(S, n, 2)`` of the seen designs and ``(S, c, 2)`` of ``designs``."""
        import torch
        from botorch.sampling import SobolQMCNormalSampler

        Xc = torch.as_tensor(self.space.encode(designs), dtype=torch.double)
        sampler = SobolQMCNormalSampler(torch.Size([self.n_mc]), seed=self.seed)
        with torch.no_grad():
            draws = sampler(self.gp.posterior(torch.cat([self.seen, Xc]))).numpy()
        n = len(self.seen)
        return draws[:, :n, :], draws[:, n:, :]

    def score(self, designs: pd.DataFrame) -> np.ndarray:
        out = []
        for start in range(0, len(designs), self.max_batch_size):
            seen, cand = self._draw(designs.iloc[start : start + self.max_batch_size])
            front = seen[:, hypervolume.sample_front(seen), :]
            out.append(hypervolume.improvement_2d(cand, front, self.ref).mean(axis=0))
        return np.concatenate(out) if out else np.zeros(0)

    def select(self, pool: pd.DataFrame, n: int) -> tuple[list[int], np.ndarray]:
        q = min(n, len(pool))
        if q == 0:
            return [], np.zeros(0)
        keep = _short_list(pool, q, self.preselect, self.prescore or self.score, self.notes)
        short = pool.iloc[keep]
        seen, cand = self._draw(short)
        tie = None if self.prescore is None else self.prescore(short)
        picks, gains = hypervolume.greedy_batch(seen, cand, self.ref, q, tie)
        return [int(keep[i]) for i in picks], gains


def ucb_front_score(model: Surrogate | None, space: Space, designs: pd.DataFrame) -> np.ndarray:
    """A cheap one-point score for several utilities: minus the non-dominated front
    (0, 1, ...) of each design's per-objective ``mean + std``, plus a tie-break in
    [0, 1) from their normalised sum. Scoring thousands of candidates with
    qLogNEHVI itself costs a joint posterior with every measured design each."""
    if model is None or len(designs) == 0:
        return np.zeros(len(designs))
    mean, std = model.predict(space.encode(designs))
    u = np.asarray(mean, dtype=float) + np.asarray(std, dtype=float)
    u = u[:, None] if u.ndim == 1 else u
    span = np.ptp(u, axis=0)
    z = (u - u.min(axis=0)) / np.where(span > 0, span, 1.0)
    front = np.full(len(u), -1)
    left = np.arange(len(u))
    rank = 0
    while len(left) and rank < 8:  # the short list rarely needs deeper fronts
        on = pareto_mask(u[left])
        front[left[on]] = rank
        left = left[~on]
        rank += 1
    front[front < 0] = rank
    return -front + z.sum(axis=1) / (z.shape[1] + 1e-9) * 0.999


def pareto_mask(utilities: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``utilities`` ``(n, m)``, higher better."""
    u = np.asarray(utilities, dtype=float)
    u = u[:, None] if u.ndim == 1 else u
    keep = np.ones(len(u), dtype=bool)
    for i in range(len(u)):
        if not keep[i]:
            continue
        dominated = np.all(u <= u[i], axis=1) & np.any(u < u[i], axis=1)
        keep &= ~dominated
    return keep


# -- upper confidence bound ---------------------------------------------------------


@dataclass
class _UCBScorer:
    space: Space
    model: Surrogate
    kappa: float
    detail: str = ""
    notes: dict[str, object] = field(default_factory=dict)

    def score(self, designs: pd.DataFrame) -> np.ndarray:
        if len(designs) == 0:
            return np.zeros(0)
        mean, std = self.model.predict(self.space.encode(designs))
        return np.ravel(mean) + self.kappa * np.ravel(std)

    def select(self, pool: pd.DataFrame, n: int) -> tuple[list[int], np.ndarray]:
        scores = self.score(pool)
        order = np.argsort(-scores)[:n]
        return [int(i) for i in order], scores[order]


class UCB:
    """Upper confidence bound ``mean + kappa * std`` on any surrogate; the batch is
    the top ``n``.

    ``kappa`` anneals over the campaign: round ``r`` uses
    ``kappa_schedule[min(len * r // horizon, len - 1)]``, so early rounds
    explore and late ones exploit. Pending designs are excluded, not
    conditioned on.
    """

    name = "UCB"
    outputs: Outputs = "single"
    supports_pending = False
    needs_model = True

    def __init__(
        self, kappa_schedule: Sequence[float] = (1.41, 1.0, 0.5), horizon: int = 10
    ) -> None:
        self.kappa_schedule = tuple(kappa_schedule)
        self.horizon = horizon

    def kappa(self, round_index: int) -> float:
        """The exploration weight of round ``round_index`` (0-based)."""
        k = len(self.kappa_schedule)
        return self.kappa_schedule[min(k * max(round_index, 0) // max(self.horizon, 1), k - 1)]

    def seed_global(self, rng: np.random.Generator) -> None:
        return None

    def bind(self, model: Surrogate | None, req: BatchRequest) -> Scorer:
        if model is None:
            raise TypeError("UCB needs a fitted surrogate")
        kappa = self.kappa(req.round_index)
        return _UCBScorer(req.space, model, kappa, f"kappa={kappa:g}", {"kappa": kappa})


@dataclass
class _BelieverScorer(_UCBScorer):
    """UCB whose batch comes from the model's joint posterior over the pool: after
    each pick the pool's covariance is conditioned on that pick having been
    measured at its predicted mean (the kriging believer), which shrinks the std
    of its neighbours and so spreads the batch (among the ``preselect`` best by UCB)."""

    preselect: int = 0

    def select(self, pool: pd.DataFrame, n: int) -> tuple[list[int], np.ndarray]:
        scores = self.score(pool)
        keep = np.argsort(-scores, kind="stable")[: max(self.preselect, 4 * n)]
        if not hasattr(self.model, "posterior_model") or n <= 1:
            return [int(i) for i in keep[:n]], scores[keep[:n]]
        mean, cov, noise = _joint_posterior(self.model, self.space.encode(pool.iloc[keep]))
        picked: list[int] = []
        values: list[float] = []
        for _ in range(min(n, len(keep))):
            ucb = mean + self.kappa * np.sqrt(np.clip(np.diag(cov), 0.0, None))
            ucb[picked] = -np.inf
            j = int(np.argmax(ucb))
            picked.append(j)
            values.append(float(ucb[j]))
            # Believe y_j = mean_j: the mean is unchanged, the covariance loses rank one.
            c = cov[:, j].copy()
            cov -= np.outer(c, c) / (c[j] + noise)
        return [int(keep[j]) for j in picked], np.asarray(values)


def _joint_posterior(model: Surrogate, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean ``(k,)``, latent covariance ``(k, k)`` and the observation-noise
    variance of a new measurement (in ``y``'s units) of a GP at ``X``."""
    import torch

    gp = model.posterior_model  # type: ignore[attr-defined]
    Xt = torch.as_tensor(X, dtype=torch.double)
    with torch.no_grad():
        post = gp.posterior(Xt)
        mean = post.mean[..., 0].numpy().astype(float)
        cov = post.mvn.covariance_matrix.numpy().astype(float).copy()
        first = gp.posterior(Xt[:1], observation_noise=True)
        noise = float(first.variance[0, 0] - post.variance[0, 0])
    jitter = 1e-9 * max(float(np.mean(np.diag(cov))), 1e-12)
    return mean, cov, max(noise, jitter)


class BelieverUCB:
    """Upper confidence bound ``mean + kappa * std`` with a kriging-believer batch.

    ``kappa`` anneals as in :class:`UCB`. With a GP (a model exposing
    ``posterior_model``) the batch is built greedily from the joint posterior
    over the ``preselect`` best single-point candidates: each pick is believed
    measured at its predicted mean, which lowers the std around it, so the
    next pick goes elsewhere unless its mean alone earns it (Ginsbourger et al.
    2010, "Kriging is well-suited to parallelize optimization"). This costs one
    ``k x k`` posterior covariance and ``n`` rank-one updates, against ``n``
    Monte-Carlo passes over the pool for qLogNEI. Other models get the top ``n``.
    Pending designs are excluded, not conditioned on.
    """

    name = "UCB (kriging believer)"
    outputs: Outputs = "single"
    supports_pending = False
    needs_model = True

    def __init__(
        self,
        kappa_schedule: Sequence[float] = (2.0, 1.41, 1.0),
        horizon: int = 10,
        preselect: int = 1024,
    ) -> None:
        self.kappa_schedule = tuple(kappa_schedule)
        self.horizon = horizon
        self.preselect = preselect

    def kappa(self, round_index: int) -> float:
        """The exploration weight of round ``round_index`` (0-based)."""
        return UCB(self.kappa_schedule, self.horizon).kappa(round_index)

    def seed_global(self, rng: np.random.Generator) -> None:
        return None

    def bind(self, model: Surrogate | None, req: BatchRequest) -> Scorer:
        if model is None:
            raise TypeError("BelieverUCB needs a fitted surrogate")
        kappa = self.kappa(req.round_index)
        return _BelieverScorer(
            req.space, model, kappa, f"kappa={kappa:g}", {"kappa": kappa}, self.preselect
        )


# -- no model: space filling --------------------------------------------------------


@dataclass
class _MaximinScorer:
    space: Space
    seen: pd.DataFrame
    rng: np.random.Generator
    detail: str = ""
    notes: dict[str, object] = field(default_factory=dict)

    def score(self, designs: pd.DataFrame) -> np.ndarray:
        """Squared distance (encoding units) to the nearest measured or pending design."""
        if len(self.seen) == 0 or len(designs) == 0:
            return np.full(len(designs), np.inf)
        U, M = self.space.encode(designs), self.space.encode(self.seen)
        return np.min(((U[:, None, :] - M[None, :, :]) ** 2).sum(-1), axis=1)

    def select(self, pool: pd.DataFrame, n: int) -> tuple[list[int], np.ndarray]:
        rows = maximin(self.space, pool, self.seen, n, self.rng)
        return rows, np.full(len(rows), np.nan)


class SpaceFillingPick:
    """No model ("none"): greedily the candidate farthest from everything measured,
    pending or already picked (maximin), from a random first pick when nothing
    has been measured. Acquisition values are NaN."""

    name = "none"
    outputs: Outputs = "any"
    supports_pending = True
    needs_model = False

    def seed_global(self, rng: np.random.Generator) -> None:
        return None

    def bind(self, model: Surrogate | None, req: BatchRequest) -> Scorer:
        return _MaximinScorer(req.space, req.seen, req.rng)


def maximin(
    space: Space, pool: pd.DataFrame, measured: pd.DataFrame, n: int, rng: np.random.Generator
) -> list[int]:
    """Row positions of up to ``n`` designs of ``pool``, each the farthest from
    ``measured`` and the earlier picks (squared Euclidean distance on the encoding)."""
    if len(pool) <= n:
        return list(range(len(pool)))
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
    return picked
