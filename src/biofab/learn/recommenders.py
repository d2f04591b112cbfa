"""Recommenders: a surrogate factory, an acquisition and a candidate generator.

A recommender is a composition (:class:`ComposedRecommender`), in BoTorch's
spirit:

* a **surrogate factory** returns a fresh, unfitted model for each call (a
  model given by the user is cloned, never fitted in place);
* an **acquisition** (:mod:`biofab.learn.acquisition`: qLogNEI, qLogNEHVI, UCB
  with an annealed kappa, or "none" for space filling) scores designs with the
  fitted model and picks a batch;
* a **candidate generator** (:mod:`biofab.learn.candidates`,
  :mod:`biofab.learn.sequence_search`) builds what is scored: the global
  candidate set with local moves and refinement, a user's pool, or sequence
  mutants.

Recommenders are stateless: the fitted model travels on the returned
:class:`Recommendation` (``rec.model``), and the same inputs and seed give the
same batch. Callers ask capabilities (``outputs``, ``supports_pending``,
``needs_model``, ``min_data``) rather than the class. The named classes below
are thin compositions. Every batch lies on the space's grid, satisfies its
constraints and was never measured or recommended before, each design with
the model's predicted mean, std and the acquisition value that chose it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from biofab.core import Categorical, NotEnoughDataError, Space
from biofab.core import Sequence as SeqParam
from biofab.learn.acquisition import (
    UCB,
    Acquisition,
    BelieverUCB,
    QLogNEHVI,
    QLogNEI,
    SpaceFillingPick,
    pareto_mask,
)
from biofab.learn.calibration import calibrate_out_of_fold
from biofab.learn.candidates import CandidateGenerator, CandidateSearch, SpaceFillingDesign
from biofab.learn.gp import GPSurrogate
from biofab.learn.recommendation import (
    BatchRequest,
    Outputs,
    Recommendation,
    Recommender,
    as_2d,
)
from biofab.learn.selection import cross_validate
from biofab.learn.surrogate import EnsembleSurrogate, Surrogate, clone
from biofab.learn.torch_threads import torch_threads
from biofab.learn.trees import TreeEnsemble

__all__ = [
    "AutoRecommender",
    "BatchRequest",
    "BayesianOptimization",
    "ComposedRecommender",
    "EnsembleUCB",
    "GPBelieverUCB",
    "MultiObjective",
    "SpaceFilling",
    "SurrogateFactory",
    "default_recommender",
    "gp_factory",
    "initial_batch_size",
    "pareto_mask",
    "surrogate_factory",
    "trees_factory",
]

#: ``factory(seed) -> Surrogate``: a fresh, unfitted model; ``seed`` is the request's.
SurrogateFactory = Callable[[int | None], Surrogate]


#: Optimiser iterations of a recommender's GP fit, and of fits warm-started from one:
#: in 50+ dimensions an uncapped fit takes 500-900 iterations (10+ s at 200 rows)
#: for no gain in out-of-sample rank correlation (BENCHMARKS.md, recommender speed).
GP_MAX_ITER = 200
WARM_MAX_ITER = 20


def gp_factory(seed: int | None) -> Surrogate:
    """The default GP (:class:`GPSurrogate`), seeded with the request's seed."""
    return GPSurrogate(seed=seed, max_iter=GP_MAX_ITER)


def trees_factory(seed: int | None) -> Surrogate:
    """The default tree ensemble (:class:`TreeEnsemble`), seeded (0 without a seed)."""
    return TreeEnsemble(seed=0 if seed is None else seed)


class _Clone:
    """A factory that clones one template surrogate (its own seed kept)."""

    def __init__(self, template: Surrogate) -> None:
        self.template = template

    def __call__(self, seed: int | None) -> Surrogate:
        return clone(self.template)


def surrogate_factory(
    surrogate: Surrogate | SurrogateFactory | None, default: SurrogateFactory
) -> SurrogateFactory:
    """A factory from what a user gave: a model instance (cloned per call), a
    ``factory(seed)`` callable, or None (``default``)."""
    if surrogate is None:
        return default
    if not isinstance(surrogate, type) and isinstance(surrogate, Surrogate):
        return _Clone(surrogate)
    if callable(surrogate):
        return surrogate
    raise TypeError(f"expected a surrogate or a factory, got {type(surrogate).__name__}")


def _request(
    space: Space,
    designs: pd.DataFrame,
    values: np.ndarray,
    n: int,
    yvar: np.ndarray | None,
    candidates: pd.DataFrame | None,
    round_index: int,
    seed: int | None,
    pending: pd.DataFrame | None,
) -> BatchRequest:
    y = as_2d(values)
    v = None if yvar is None else as_2d(yvar)
    rng = np.random.default_rng(seed)
    return BatchRequest(space, designs, y, v, n, candidates, round_index, seed, pending, rng)


def _check(who: str, req: BatchRequest, outputs: Outputs, min_data: int) -> None:
    if outputs == "single" and req.y.shape[1] != 1:
        raise ValueError(f"{who} takes one utility; use MultiObjective")
    if len(req.designs) < min_data:
        raise NotEnoughDataError(f"{who} needs at least {min_data} measurements")


class RecommenderFront:
    """The checked front every recommender shares: the arguments become one
    :class:`BatchRequest` (shapes and the capabilities' data needs checked), then
    :meth:`run` chooses the batch."""

    name: str

    @property
    def outputs(self) -> Outputs:
        raise NotImplementedError

    @property
    def min_data(self) -> int:
        raise NotImplementedError

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
        """See :class:`~biofab.learn.Recommender`."""
        req = _request(space, designs, values, n, yvar, candidates, round_index, seed, pending)
        _check(self.name, req, self.outputs, self.min_data)
        return self.run(req)

    def run(self, req: BatchRequest) -> Recommendation:
        raise NotImplementedError


class ComposedRecommender(RecommenderFront):
    """A recommender made of a surrogate factory, an acquisition and a candidate generator.

    Parameters
    ----------
    surrogate:
        A model instance (cloned for every call, never fitted in place), a
        ``factory(seed) -> Surrogate``, or None for the default GP.
    acquisition:
        An :class:`~biofab.learn.acquisition.Acquisition` (default qLogNEI).
    candidates:
        A :class:`~biofab.learn.candidates.CandidateGenerator` (default
        :class:`~biofab.learn.candidates.CandidateSearch`).
    name:
        The label recorded with each batch.

    Subclasses build the three parts from their own hyper-parameters in
    :meth:`parts`, so changing a hyper-parameter after construction counts.
    """

    name: str = "composed"

    def __init__(
        self,
        surrogate: Surrogate | SurrogateFactory | None = None,
        acquisition: Acquisition | None = None,
        candidates: CandidateGenerator | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.surrogate = surrogate
        self.acquisition = acquisition
        self.candidates = candidates
        if name is not None:
            self.name = name

    def parts(self) -> tuple[SurrogateFactory, Acquisition, CandidateGenerator]:
        """The surrogate factory, the acquisition and the candidate generator."""
        return (
            surrogate_factory(self.surrogate, gp_factory),
            self.acquisition if self.acquisition is not None else QLogNEI(),
            self.candidates if self.candidates is not None else CandidateSearch(),
        )

    # -- capabilities ------------------------------------------------------------------
    @property
    def outputs(self) -> Outputs:
        return self.parts()[1].outputs

    @property
    def supports_pending(self) -> bool:
        return self.parts()[1].supports_pending

    @property
    def needs_model(self) -> bool:
        return self.parts()[1].needs_model

    @property
    def min_data(self) -> int:
        return 2 if self.needs_model else 0

    # -- the call ----------------------------------------------------------------------

    def run(self, req: BatchRequest) -> Recommendation:
        """Fit a fresh model, bind the acquisition, search; one torch thread while a
        model is involved (on campaign-sized matrices more threads only wait)."""
        factory, acquisition, generator = self.parts()
        if not acquisition.needs_model:
            return self._run(req, factory, acquisition, generator)
        with torch_threads(1):
            return self._run(req, factory, acquisition, generator)

    def _run(
        self,
        req: BatchRequest,
        factory: SurrogateFactory,
        acquisition: Acquisition,
        generator: CandidateGenerator,
    ) -> Recommendation:
        space = req.space
        # Fixed order of draws from req.rng: acquisition's global seed, its bind, the search.
        acquisition.seed_global(req.rng)
        model: Surrogate | None = None
        if acquisition.needs_model:
            single = acquisition.outputs != "multi"
            y = req.y[:, 0] if single else req.y
            v = None if req.yvar is None else (req.yvar[:, 0] if single else req.yvar)
            model = factory(req.seed).fit(space.encode(req.designs), y, v)
        scorer = acquisition.bind(model, req)
        chosen = generator.search(req, scorer)
        k, m = len(chosen.designs), req.y.shape[1] if len(req.designs) else 1
        if model is None:
            mean, std = np.full((k, m), np.nan), np.full((k, m), np.nan)
        else:
            mu, sd = model.predict(space.encode(chosen.designs))
            mean, std = as_2d(mu), as_2d(sd)
        label = f"{self.name} ({scorer.detail})" if scorer.detail else self.name
        outputs = [f"y{j}" for j in range(m)] if acquisition.outputs == "multi" else ["y"]
        return Recommendation(
            chosen.designs,
            mean,
            std,
            chosen.values,
            label,
            outputs=outputs,
            notes={**scorer.notes, **chosen.notes},
            model=model,
        )


class SpaceFilling(ComposedRecommender):
    """Space-filling start: scrambled Sobol (or ``"lhs"`` / ``"random"``) on the grid.

    No model. With a pool of candidates, picks greedily the candidate farthest
    from everything measured or already picked (maximin), from a random first pick.
    """

    def __init__(self, method: str = "sobol") -> None:
        self.method = method
        self.name = f"space-filling ({method})"

    def parts(self) -> tuple[SurrogateFactory, Acquisition, CandidateGenerator]:
        return gp_factory, SpaceFillingPick(), SpaceFillingDesign(self.method)


class BayesianOptimization(ComposedRecommender):
    """Batch Bayesian optimisation: a GP and q-log noisy expected improvement.

    The batch is built greedily (each pick conditions on the earlier ones as
    pending points), over the candidate set or a given pool. ``n_mc`` is the
    number of quasi-Monte-Carlo samples of the acquisition. ``surrogate``: a
    :class:`GPSurrogate` to clone, a factory, or None (``GPSurrogate(seed=seed)``).
    """

    def __init__(
        self,
        surrogate: GPSurrogate | SurrogateFactory | None = None,
        *,
        n_mc: int = 128,
        max_batch_size: int = 512,
    ) -> None:
        self.surrogate = surrogate
        self.n_mc = n_mc
        self.max_batch_size = max_batch_size
        self.name = "bo (GP, qLogNEI)"

    def parts(self) -> tuple[SurrogateFactory, Acquisition, CandidateGenerator]:
        return (
            surrogate_factory(self.surrogate, gp_factory),
            QLogNEI(self.n_mc, self.max_batch_size),
            CandidateSearch(),
        )


class MultiObjective(ComposedRecommender):
    """Multi-objective batch BO: one GP per objective, q-log noisy expected
    hypervolume improvement (see :class:`~biofab.learn.acquisition.QLogNEHVI`),
    over a global candidate set of ``n_global`` Sobol points plus local moves
    (no refinement) or a given pool; the greedy batch is built from the
    ``preselect`` best single-point candidates. ``draw_once`` (two objectives):
    pick the batch on one joint posterior draw instead of BoTorch's per-pick
    draws (see :class:`~biofab.learn.acquisition.QLogNEHVI`)."""

    def __init__(
        self,
        *,
        n_mc: int = 64,
        max_batch_size: int = 128,
        n_global: int = 1024,
        surrogate: GPSurrogate | SurrogateFactory | None = None,
        preselect: int | None = 64,
        draw_once: bool = True,
    ) -> None:
        self.preselect = preselect
        self.draw_once = draw_once
        self.n_mc = n_mc
        self.max_batch_size = max_batch_size
        self.n_global = n_global
        self.surrogate = surrogate
        self.name = "mobo (GP, qLogNEHVI)"

    def parts(self) -> tuple[SurrogateFactory, Acquisition, CandidateGenerator]:
        return (
            surrogate_factory(self.surrogate, gp_factory),
            QLogNEHVI(self.n_mc, self.max_batch_size, self.preselect, self.draw_once),
            CandidateSearch(n_global=self.n_global, refine=False),
        )


class EnsembleUCB(ComposedRecommender):
    """Upper confidence bound on an ensemble surrogate (boosted trees by default).

    ``kappa`` anneals over the campaign: round ``r`` uses
    ``kappa_schedule[min(len * r // horizon, len - 1)]``, so early rounds
    explore and late ones exploit. Suited to large mixed or categorical spaces
    where a GP's smooth kernel is a poor prior.
    """

    def __init__(
        self,
        surrogate: EnsembleSurrogate | SurrogateFactory | None = None,
        *,
        kappa_schedule: Sequence[float] = (1.41, 1.0, 0.5),
        horizon: int = 10,
    ) -> None:
        self.surrogate = surrogate
        self.kappa_schedule = tuple(kappa_schedule)
        self.horizon = horizon
        self.name = "ensemble-ucb"

    def kappa(self, round_index: int) -> float:
        """The exploration weight of round ``round_index``."""
        return UCB(self.kappa_schedule, self.horizon).kappa(round_index)

    def parts(self) -> tuple[SurrogateFactory, Acquisition, CandidateGenerator]:
        return (
            surrogate_factory(self.surrogate, trees_factory),
            UCB(self.kappa_schedule, self.horizon),
            CandidateSearch(),
        )


class GPBelieverUCB(ComposedRecommender):
    """A GP with UCB and a kriging-believer batch (:class:`~biofab.learn.acquisition.BelieverUCB`).

    ``kappa_schedule`` anneals over ``horizon`` rounds as in :class:`EnsembleUCB`.
    Cheaper than :class:`BayesianOptimization` (one joint posterior and rank-one
    updates instead of Monte-Carlo passes per pick), and in the replay suite
    it needed fewer experiments (BENCHMARKS.md, "Recommender development log").
    """

    def __init__(
        self,
        surrogate: GPSurrogate | SurrogateFactory | None = None,
        *,
        kappa_schedule: Sequence[float] = (2.0, 1.41, 1.0),
        horizon: int = 10,
    ) -> None:
        self.surrogate = surrogate
        self.kappa_schedule = tuple(kappa_schedule)
        self.horizon = horizon
        self.name = "bo (GP, UCB kriging believer)"

    def parts(self) -> tuple[SurrogateFactory, Acquisition, CandidateGenerator]:
        return (
            surrogate_factory(self.surrogate, gp_factory),
            BelieverUCB(self.kappa_schedule, self.horizon),
            CandidateSearch(),
        )


class AutoRecommender(RecommenderFront):
    """Single-objective default: each round, pick the surrogate by cross-validation
    and calibrate its error bars on the same out-of-fold predictions.

    The GP (UCB with a kriging-believer batch, :class:`GPBelieverUCB`) and a tree
    ensemble (annealed UCB) are scored by out-of-fold Spearman correlation on
    the measured designs (:func:`biofab.learn.selection.cross_validate`); the
    better one chooses the batch. The GP is the default: it is used below
    ``min_rows`` measurements, and above them unless the trees rank clearly
    better (by more than the selection margin).

    The GP's length-scales: with ``isotropic`` (default) a GP with one length-scale
    shared by all inputs is fitted next to the one with a length-scale per input
    (ARD), and the one with the lower BIC (:attr:`GPSurrogate.bic_`) is the GP arm
    of the round: with few rows per input (20 rows in 13 dimensions) ``d`` fitted
    scales over-fit and one shared scale ranks unseen designs better; as rows
    accumulate, the per-input scales win where inputs differ in relevance. The
    choice and both BICs are in ``notes["gp_length_scales"]``. ``kernel`` and
    ``output_warp`` are passed to every :class:`GPSurrogate` it fits (RBF and no
    warp by default; Matern-5/2 and a Yeo-Johnson warp were each worse on a
    development pool of the replay suite, BENCHMARKS.md).

    From ``min_calibration`` measurements on, the chosen model's out-of-fold
    residuals give a factor on its std (:func:`biofab.learn.calibration.std_scale`)
    so that ``mean ± sqrt(std² + yvar)`` covers 68 % of measurements; the batch's
    reported std carries it. The acquisition ranks with the model's own std
    (a common factor would only rescale kappa). The choice, the scores, the
    factor and the out-of-fold coverage before and after it are in the
    recommendation's ``notes``; the choice also in its ``recommender`` label.
    """

    name = "auto"
    outputs: Outputs = "single"
    # The tree arm excludes pending designs without conditioning on them.
    supports_pending = False
    needs_model = True
    min_data = 2

    def __init__(
        self,
        *,
        folds: int = 5,
        horizon: int = 10,
        min_rows: int = 30,
        min_calibration: int = 8,
        isotropic: bool = True,
        kernel: str = "rbf",
        output_warp: str | None = None,
    ) -> None:
        self.isotropic = isotropic
        self.kernel = kernel
        self.output_warp = output_warp
        self.folds = folds
        self.horizon = horizon
        self.min_rows = min_rows
        self.min_calibration = min_calibration

    def run(self, req: BatchRequest) -> Recommendation:
        """Cross-validate the surrogates on ``req``; the better one chooses the batch."""
        s = 0 if req.seed is None else req.seed
        y = req.y[:, 0]
        v = None if req.yvar is None else req.yvar[:, 0]
        chosen: ComposedRecommender = GPBelieverUCB(horizon=self.horizon)
        cv = None
        length_scales: dict[str, object] | None = None
        with torch_threads(1):
            if len(y) >= self.min_calibration:
                X = req.space.encode(req.designs)
                # One full fit; the folds and the batch's model start from its
                # hyper-parameters, which costs a fraction of a cold fit each.
                kernel, warp_y = self.kernel, self.output_warp
                full, gp = _gp_arm(X, y, v, s, kernel, warp_y, ard=True)
                arm: Callable[..., Surrogate] = gp
                shared = False
                if self.isotropic:
                    # One shared length-scale when the evidence (BIC) prefers it: with
                    # few rows per input, d fitted length-scales over-fit.
                    iso_full, gp_iso = _gp_arm(X, y, v, s, kernel, warp_y, ard=False)
                    shared = iso_full.bic_ < full.bic_
                    length_scales = {
                        "shared": shared,
                        "bic_per_input": full.bic_,
                        "bic_shared": iso_full.bic_,
                    }
                    if shared:
                        arm = gp_iso
                factories: dict[str, Callable[[], Surrogate]] = {"gp": arm}
                if len(y) >= self.min_rows:
                    factories["trees"] = lambda: auto_trees(s)
                cv = cross_validate(factories, X, y, v, folds=self.folds, seed=s)
                if cv.best == "gp":
                    chosen = GPBelieverUCB(arm, horizon=self.horizon)
                    if shared:
                        chosen.name = "bo (GP one length-scale, UCB kriging believer)"
                else:
                    chosen = EnsembleUCB(auto_trees, horizon=self.horizon)
            rec = chosen.run(req)
        if length_scales is not None:
            rec.notes["gp_length_scales"] = length_scales
        if cv is not None:
            cal = calibrate_out_of_fold(y, cv.oof[cv.best], v)
            rec.std = rec.std * cal.std_scale
            rec.notes["calibration"] = cal.to_dict()
            if len(cv.scores) > 1:
                rec.notes["cv_spearman"] = cv.scores
                rec.recommender = f"auto -> {rec.recommender}"
        return rec


def _gp_arm(
    X: np.ndarray,
    y: np.ndarray,
    v: np.ndarray | None,
    seed: int,
    kernel: str,
    warp_y: str | None,
    ard: bool,
) -> tuple[GPSurrogate, Callable[..., Surrogate]]:
    """A GP fitted on ``X`` ``(n, d)``, ``y`` ``(n,)`` (one length-scale per input
    with ``ard``, else one shared), and a factory of such GPs warm-started from its
    hyper-parameters (the folds and the batch's model: a fraction of a cold fit each)."""
    full = GPSurrogate(
        seed=seed, max_iter=GP_MAX_ITER, ard=ard, kernel=kernel, output_warp=warp_y
    ).fit(X, y, v)
    warm = full.hyperparameters()

    def factory(s: int | None = seed) -> Surrogate:
        return GPSurrogate(
            seed=s,
            warm_start=warm,
            max_iter=WARM_MAX_ITER,
            ard=ard,
            kernel=kernel,
            output_warp=warp_y,
        )

    return full, factory


def auto_trees(seed: int | None) -> TreeEnsemble:
    """The tree ensemble of :class:`AutoRecommender`: 5 bootstrap members of 100
    trees (learning rate 0.1), a quarter of the default's cost, since it is
    cross-validated every round."""
    return TreeEnsemble(
        n_members=5, n_estimators=100, learning_rate=0.1, seed=0 if seed is None else seed
    )


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
    if _is_library(space):
        # Imported here: the variant recommender builds on this module.
        from biofab.learn.combinatorial import VariantRecommender

        return VariantRecommender()
    wide = any(isinstance(p, SeqParam | Categorical) for p in space.parameters.values())
    if wide and space.width > 60:
        return EnsembleUCB()
    return AutoRecommender()


def _is_library(space: Space) -> bool:
    """Only categorical parameters, no constraints, two or more with >= 10 choices."""
    params = list(space.parameters.values())
    if space.constraints or not all(isinstance(p, Categorical) for p in params):
        return False
    return sum(len(p.choices) >= 10 for p in params if isinstance(p, Categorical)) >= 2


def initial_batch_size(space: Space) -> int:
    """Designs to measure before a model is trusted: about two per parameter, 5..20."""
    return int(min(20, max(5, math.ceil(2 * len(space.parameters)))))
