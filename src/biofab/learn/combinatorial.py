"""``VariantRecommender``: batch active learning over a combinatorial library
(every parameter a :class:`~biofab.core.Categorical`: residues at mutated sites,
parts in slots), scoring the *whole* library rather than a sample of it.

A site library of a few positions is small enough to enumerate (20^4 =
160,000 variants; up to ``max_pool`` combinations are enumerated, larger
libraries are sampled), and the best variants are rare and epistatic, so a
recommender should look at every buildable variant each round. This one:

1. fits a surrogate on the measured variants: the :class:`EpistaticGP`
   (site + pair terms, calibrated posterior, default) or a bootstrap XGBoost
   ensemble on one-hot columns (:class:`~biofab.learn.TreeEnsemble`, the
   "boosting ensemble" of ALDE, Yang et al. 2025, npj Comput. Mater.);
2. scores the pool with one acquisition: ``"ucb"`` (``mean + kappa * std``,
   default), ``"thompson"`` (each batch slot is the best variant of its own
   posterior draw, or of a random ensemble member for trees) or ``"greedy"``
   (mean);
3. fills the batch: UCB by default with the kriging believer (each pick is
   taken as measured at its predicted mean before the next, which shrinks the
   uncertainty of its neighbours, so the batch spreads out;
   :meth:`EpistaticGP.believer_ucb`), otherwise greedily by score, keeping at
   least ``min_distance`` substitutions between any two picks (relaxed step by
   step only when the pool cannot fill the batch). Thompson draws are diverse
   by themselves.

Why UCB with a believer by default: on GB1 development seeds 100-119 (never
reported as results) it found the global maximum in 11 of 20 campaigns (best
fitness 0.926 of the maximum), UCB's plain top-96 also 11 (0.913), batch
Thompson sampling 8 (0.871); on the NK landscape it was ahead of both (0.455,
0.445, 0.398). A third pass (seeds 100-149) tried log and square-root targets, a
zero-shot prior mean, a neighbourhood share, kappa schedules and a trees portfolio: none
found the maximum more often (19-27 of 50 against the default's 26). A fourth pass
(seeds 100-199) added residue classes (Dayhoff's) and ARD (one variance per site and
site pair) to the GP: together they found it in 57 of 100 campaigns against 48 (classes
alone 45, ARD alone 52), but not on the reported seeds (16 of 50 against 19) and barely
on 100 fresh development seeds (47 against 44), and they were behind on the NK
landscape, so neither is on by default. A fifth pass (seeds 100-199) capped the share of
a plate on one pair of choices (``pair_cap``: 46 and 48 of 100 against 48) and added
recombinants of the best measured variants (``recombine_share``: 50; with the cap, 54),
short of its adoption rule (56; recombinants + cap found it 45 times against 44 on 100
other seeds, and the cap was no better on fresh seeds of GB1 or NK), so neither is on by
default. Every setting tried is logged in BENCHMARKS.md.

Designs measured or pending are never proposed again. A pool given by the
caller (``candidates``: e.g. only the variants that can be built) replaces
the enumeration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from biofab.core import Categorical, Space
from biofab.core.errors import InputError
from biofab.learn.epistasis import MAX_DENSE_FEATURES, EpistaticGP
from biofab.learn.recommendation import BatchRequest, Outputs, Recommendation
from biofab.learn.recommenders import RecommenderFront
from biofab.learn.surrogate import Surrogate
from biofab.learn.trees import TreeEnsemble

__all__ = [
    "VariantRecommender",
    "is_combinatorial",
    "library_codes",
    "prior_table",
    "space_codes",
]

AcquisitionName = Literal["thompson", "ucb", "greedy"]
SurrogateName = Literal["epistatic", "trees"]


def is_combinatorial(space: Space) -> bool:
    """Whether every parameter of ``space`` is categorical and there are no constraints."""
    return not space.constraints and all(
        isinstance(p, Categorical) for p in space.parameters.values()
    )


def _sizes(space: Space) -> tuple[int, ...]:
    return tuple(len(p.choices) for p in space.parameters.values() if isinstance(p, Categorical))


def space_codes(space: Space, designs: pd.DataFrame) -> np.ndarray:
    """Designs (one column per parameter, choice labels) -> integer codes ``(n, L)``.

    A label that is not one of the parameter's choices raises :class:`InputError`
    naming the row (from 1) and column.
    """
    out = np.zeros((len(designs), len(space.parameters)), dtype=np.int64)
    for j, (name, p) in enumerate(space.parameters.items()):
        assert isinstance(p, Categorical)
        labels = [str(c) for c in p.choices]
        column = designs[name].astype(str)
        codes = np.asarray(pd.Categorical(column, categories=labels).codes, dtype=np.int64)
        if (codes < 0).any():
            i = int(np.flatnonzero(codes < 0)[0])
            raise InputError(
                "not a choice of this site",
                row=i + 1,
                column=name,
                expected="one of " + "".join(labels),
                found=column.iloc[i],
            )
        out[:, j] = codes
    return out


def library_codes(sizes: tuple[int, ...], limit: int, rng: np.random.Generator) -> np.ndarray:
    """Every combination ``(prod(sizes), L)`` when there are at most ``limit``,
    else ``limit`` distinct random ones."""
    total = math.prod(sizes)
    if total <= limit:
        grids = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
        return np.stack([g.ravel() for g in grids], 1).astype(np.int64)
    draws = np.stack([rng.integers(0, s, size=2 * limit) for s in sizes], 1)
    _, first = np.unique(_keys(draws, sizes), return_index=True)
    return draws[np.sort(first)[:limit]]


def _keys(codes: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """One integer per combination (mixed radix); object ints when it would overflow."""
    if math.prod(sizes) < 2**62:
        key = np.zeros(len(codes), dtype=np.int64)
        for j, s in enumerate(sizes):
            key = key * s + codes[:, j]
        return key
    return np.array([hash(tuple(r)) for r in codes.tolist()])


class VariantRecommender(RecommenderFront):
    """Active learning over a combinatorial (all-categorical) library.

    Parameters
    ----------
    surrogate:
        ``"epistatic"`` (:class:`EpistaticGP`, site + pair terms up to ``order``)
        or ``"trees"`` (:class:`TreeEnsemble` on one-hot columns, ``n_members``).
    acquisition:
        ``"thompson"``, ``"ucb"`` (``kappa``) or ``"greedy"``.
    kappa:
        UCB's exploration weight (std units); a sequence is a schedule by round
        (``round_index`` 1 takes the first entry, the last one holds afterwards).
    order, transform, offset:
        :class:`EpistaticGP`'s highest order, target transform and ``"log"`` offset.
    prior:
        A prior mean for the epistatic GP: ``{site: {choice: score}}`` for every
        site and choice of the space (e.g. a zero-shot score per substitution,
        :meth:`biofab.parts.ZeroShotPrior.site_table`; higher = fitter). Its weight
        is fitted by marginal likelihood each round and may be 0. ``None``: none.
    min_distance:
        Fewest substitutions between two picks of one batch (1: only distinct).
    exploit:
        Share of each Thompson batch given to the highest posterior means
        (the rest are Thompson draws); 0 is pure Thompson sampling.
    last_round:
        The campaign's last planned round (``round_index``), if known: that
        round's whole batch exploits the posterior mean (nothing is learnt
        from it any more, so exploring no longer pays).
    batch:
        How UCB fills a batch: ``"top"`` (the highest scores, ``min_distance``
        apart) or ``"believer"`` (the epistatic GP's kriging believer: each pick
        is assumed measured at its mean before the next, which spreads the batch).
    local_share, local_parents:
        Share of each batch given to the neighbourhoods of the best measured
        variants: the ``local_parents`` fittest measured variants, in order, each
        contribute their unmeasured single substitutions of highest posterior mean
        (an equal quota each). The rest of the batch is chosen by the acquisition,
        around them (the believer takes them as picks first). Why: a peak is
        usually surrounded by fit single mutants, and the global model's UCB ranks
        an unmeasured neighbour of the best variant below far-away uncertain ones
        (directed evolution's one good idea, kept inside the model-based batch).
        0: off.
    trees_share:
        With the epistatic GP and the believer: share of each batch chosen by a
        second model, the bootstrap XGBoost ensemble (``n_members``) with UCB
        (``kappa``), believed first like the ``local_share`` picks (a two-model
        portfolio: the trees' errors are not the GP's). 0: off.
    groups:
        For the epistatic GP: ``{choice: group}``, the same at every site, e.g.
        Dayhoff's amino-acid classes
        (:data:`biofab.parts.protein_features.DAYHOFF_CLASSES`): choices of one group
        share strength (:class:`EpistaticGP` ``groups``; the groups' weight is fitted
        by marginal likelihood each round and may be 0). A choice the mapping lacks
        is a group of its own; a space where no two choices of a site share a group
        (e.g. parts in slots) gets no group terms. ``None`` (default): exact matches only.
    ard:
        For the epistatic GP: refine one prior variance per site and per site pair
        by marginal likelihood (:class:`EpistaticGP` ``ard``). ``False`` (default): one
        per order, from the grid.
    grid:
        :class:`EpistaticGP`'s ML-II grids by name (``noise_grid``,
        ``pair_share_grid``, ``amplitude_grid``, ``tilt_grid``: e.g. ``(0, 0.5, 1, 2)``
        lets the pair weights' prior variance grow with the site effects), and the
        tilt's criterion ``tilt_select`` (``"evidence"`` or ``"loo"``); ``None``
        keeps the model's.
    pair_cap:
        With the believer batch: the largest share of a batch (or a per-round
        schedule, as for ``kappa``; 1 = no cap) that may carry the
        same pair of choices at any two sites (e.g. 0.125: at most 12 of 96 picks
        with G41L + V54G), relaxed only when the pool cannot fill the batch
        otherwise. Why: the believer shrinks the variance around each pick but not
        its mean, so one pair the data rate high can fill a whole plate and the
        campaign never measures the other pair modes (GB1's trap).
        ``None`` (default): no cap.
    recombine_share, recombine_parents:
        With the epistatic GP and the believer: share of each batch given to
        recombinants of the ``recombine_parents`` best measured variants (every
        child that takes some sites from one parent and the rest from another,
        unmeasured and buildable), those of highest UCB, believed first. Why: a
        campaign that has measured good halves of a peak in different variants
        (e.g. F39 W40 in one, A41 A54 in another) has the peak among their
        children, where the field's recombination step (DNA shuffling) looks.
        0: off.
    max_pool:
        Largest library enumerated; a larger one is sampled to this size.
    """

    outputs: Outputs = "single"
    supports_pending = False
    needs_model = True
    min_data = 2

    def __init__(
        self,
        surrogate: SurrogateName = "epistatic",
        acquisition: AcquisitionName = "ucb",
        *,
        kappa: float | Sequence[float] = 2.0,
        order: int = 2,
        transform: str = "none",
        offset: float = 0.1,
        prior: Mapping[str, Mapping[str, float]] | None = None,
        n_members: int = 10,
        min_distance: int = 1,
        exploit: float = 0.0,
        last_round: int | None = None,
        batch: str = "believer",
        grid: dict[str, Any] | None = None,
        local_share: float = 0.0,
        local_parents: int = 3,
        trees_share: float = 0.0,
        groups: Mapping[str, str] | None = None,
        ard: bool = False,
        pair_cap: float | Sequence[float] | None = None,
        recombine_share: float = 0.0,
        recombine_parents: int = 10,
        max_pool: int = 1_000_000,
    ) -> None:
        if surrogate not in ("epistatic", "trees"):
            raise ValueError(f"surrogate must be 'epistatic' or 'trees', got {surrogate!r}")
        if acquisition not in ("thompson", "ucb", "greedy"):
            raise ValueError(f"acquisition must be thompson, ucb or greedy, got {acquisition!r}")
        self.surrogate = surrogate
        self.acquisition = acquisition
        self.kappa = kappa
        self.order = order
        self.transform = transform
        self.offset = offset
        self.prior = prior
        self.n_members = n_members
        self.min_distance = min_distance
        _check_share("exploit", exploit)
        self.exploit = exploit
        self.last_round = last_round
        if batch not in ("top", "believer"):
            raise ValueError(f"batch must be 'top' or 'believer', got {batch!r}")
        self.batch = batch
        self.grid = grid
        _check_share("local_share", local_share)
        if local_parents < 1:
            raise ValueError(f"local_parents must be at least 1, got {local_parents!r}")
        self.local_share = local_share
        self.local_parents = local_parents
        _check_share("trees_share", trees_share)
        self.trees_share = trees_share
        self.groups = groups
        self.ard = ard
        caps = [] if pair_cap is None else _as_schedule(pair_cap)
        if not all(0.0 < c <= 1.0 for c in caps):
            raise ValueError(f"pair_cap must be shares in (0, 1] or None, got {pair_cap!r}")
        self.pair_cap = pair_cap
        _check_share("recombine_share", recombine_share)
        if recombine_parents < 2:
            raise ValueError(f"recombine_parents must be at least 2, got {recombine_parents!r}")
        self.recombine_share = recombine_share
        self.recombine_parents = recombine_parents
        _check_believer_options(
            surrogate,
            acquisition,
            batch,
            trees_share=trees_share > 0,
            pair_cap=pair_cap is not None,
            recombine_share=recombine_share > 0,
        )
        self.max_pool = max_pool
        self.name = f"variants ({surrogate}, {acquisition})"

    def run(self, req: BatchRequest) -> Recommendation:
        space = req.space
        if not is_combinatorial(space):
            raise InputError(
                "the variant recommender needs a space of categorical parameters only",
                expected="sites as categorical parameters, no constraints",
                found=", ".join(f"{n}: {p.kind}" for n, p in space.parameters.items()),
            )
        sizes = _sizes(space)
        train = space_codes(space, req.designs)
        pool = self._pool(req, sizes)
        if len(pool) == 0:
            return self._empty(space)
        model = self._fit(sizes, train, req)
        picks, values = self._select(model, pool, req)
        chosen = pool[picks]
        mean, std = self._predict(model, chosen, sizes)
        designs = pd.DataFrame(
            {
                name: np.array(p.choices, dtype=object)[chosen[:, j]]
                for j, (name, p) in enumerate(space.parameters.items())
                if isinstance(p, Categorical)
            }
        )
        notes: dict[str, object] = {"pool": len(pool)}
        if isinstance(model, EpistaticGP):
            notes |= {
                "kernel_shares": model.shares_.round(4).tolist(),
                "noise": model.noise_,
                "interval_scale": round(model.interval_scale_, 4),
            }
        return Recommendation(
            designs,
            mean[:, None],
            std[:, None],
            values,
            self.name,
            notes=notes,
            model=model,
        )

    # -- steps -----------------------------------------------------------------------
    def _pool(self, req: BatchRequest, sizes: tuple[int, ...]) -> np.ndarray:
        space = req.space
        if req.candidates is not None:
            pool = space_codes(space, req.candidates)
            _, first = np.unique(_keys(pool, sizes), return_index=True)
            pool = pool[np.sort(first)]
        else:
            pool = library_codes(sizes, self.max_pool, req.rng)
        seen = space_codes(space, req.seen)
        if len(seen):
            pool = pool[~np.isin(_keys(pool, sizes), _keys(seen, sizes))]
        return pool

    def _fit(
        self, sizes: tuple[int, ...], train: np.ndarray, req: BatchRequest
    ) -> EpistaticGP | TreeEnsemble:
        y = req.y[:, 0]
        v = None if req.yvar is None else req.yvar[:, 0]
        if self.surrogate == "epistatic":
            grids: dict[str, Any] = dict(self.grid or {})  # ML-II grids by name
            gp = EpistaticGP(
                sizes,
                order=self.order,
                transform=self.transform,
                offset=self.offset,
                prior_table=None if self.prior is None else prior_table(req.space, self.prior),
                groups=None if self.groups is None else group_table(req.space, self.groups),
                ard=self.ard,
                **grids,
            )
            return gp.fit_codes(train, y, v)
        seed = 0 if req.seed is None else req.seed
        trees = TreeEnsemble(n_members=self.n_members, seed=seed)
        return trees.fit(_onehot(train, sizes), y, v)

    def _predict(
        self, model: Surrogate, codes: np.ndarray, sizes: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(model, EpistaticGP):
            return model.predict_interval(codes)
        mu, sd = model.predict(_onehot(codes, sizes))
        return np.asarray(mu, float).ravel(), np.asarray(sd, float).ravel()

    def _select(
        self, model: EpistaticGP | TreeEnsemble, pool: np.ndarray, req: BatchRequest
    ) -> tuple[list[int], np.ndarray]:
        n = min(req.n, len(pool))
        final = self.last_round is not None and req.round_index >= self.last_round
        local = self._local(model, pool, req, n) if not final else []
        if local:
            mu_local, _ = self._predict_pool(model, pool[local], req, std=False)
        if self.acquisition == "thompson" and not final:
            greedy = round(self.exploit * n)
            first: list[int] = list(local)
            first_values = mu_local if local else np.zeros(0)
            if greedy:
                mu, _ = self._predict_pool(model, pool, req, std=False)
                mu[local] = -np.inf
                top, top_values = _diverse_top(mu, pool, greedy, self.min_distance)
                first, first_values = first + top, np.concatenate([first_values, top_values])
            greedy = len(first)
            draws = self._draws(model, pool, n - greedy, req.rng, _sizes(req.space))  # (N, k)
            rest, values = _thompson_batch(draws, pool, n - greedy, self.min_distance, first)
            return first + rest, np.concatenate([first_values, values])
        ucb = self.acquisition == "ucb" and not final
        if (
            ucb
            and self.batch == "believer"
            and isinstance(model, EpistaticGP)
            and model.n_features <= MAX_DENSE_FEATURES  # else: the top scores
        ):
            kappa = self._kappa(req.round_index)
            first = local + self._tree_picks(pool, req, n, kappa, local)
            first += self._recombinants(model, pool, req, n, kappa, first)
            cap = self._pair_cap(req.round_index, n)
            return model.believer_ucb(pool, n, kappa, self.min_distance, first=first, pair_cap=cap)
        mu, sd = self._predict_pool(model, pool, req, std=ucb)
        score = mu + self._kappa(req.round_index) * sd if ucb else mu
        score[local] = -np.inf
        rest, values = _diverse_top(score, pool, n - len(local), self.min_distance)
        if not local:
            return rest, values
        return local + rest, np.concatenate([mu_local, values])

    def _kappa(self, round_index: int) -> float:
        """UCB's weight for this round (see ``kappa``)."""
        if isinstance(self.kappa, int | float):
            return float(self.kappa)
        schedule = [float(k) for k in self.kappa]
        return schedule[min(max(round_index - 1, 0), len(schedule) - 1)]

    def _pair_cap(self, round_index: int, n: int) -> int | None:
        """Most picks of this round's batch of ``n`` on one pair of choices (``None``: no cap)."""
        if self.pair_cap is None:
            return None
        caps = _as_schedule(self.pair_cap)
        share = caps[min(max(round_index - 1, 0), len(caps) - 1)]
        return None if share >= 1.0 else max(1, math.ceil(share * n))

    def _tree_picks(
        self, pool: np.ndarray, req: BatchRequest, n: int, kappa: float, taken: list[int]
    ) -> list[int]:
        """Rows of ``pool`` for the trees' share (see ``trees_share``): UCB's top scores."""
        quota = round(self.trees_share * n)
        if quota == 0:
            return []
        sizes = _sizes(req.space)
        seed = 0 if req.seed is None else req.seed
        trees = TreeEnsemble(n_members=self.n_members, seed=seed)
        trees.fit(_onehot(space_codes(req.space, req.designs), sizes), req.y[:, 0])
        mu, sd = trees.predict(_onehot(pool, sizes))
        score = np.asarray(mu, float).ravel() + kappa * np.asarray(sd, float).ravel()
        score[taken] = -np.inf
        picks, _ = _diverse_top(score, pool, quota, self.min_distance)
        return picks

    def _recombinants(
        self,
        model: EpistaticGP,
        pool: np.ndarray,
        req: BatchRequest,
        n: int,
        kappa: float,
        taken: list[int],
    ) -> list[int]:
        """Rows of ``pool`` for the recombination share (see ``recombine_share``): children
        of the best measured variants (sites from one parent, the rest from another),
        those of highest UCB."""
        quota = round(self.recombine_share * n)
        if quota == 0:
            return []
        sizes = _sizes(req.space)
        train = space_codes(req.space, req.designs)
        parents = train[np.argsort(-req.y[:, 0], kind="stable")[: self.recombine_parents]]
        L = len(sizes)
        masks = [np.array([(m >> s) & 1 for s in range(L)], dtype=bool) for m in range(1, 2**L - 1)]
        children = [
            np.where(mask, a, b)
            for i, a in enumerate(parents)
            for j, b in enumerate(parents)
            if i != j
            for mask in masks
        ]
        if not children:
            return []
        keys = _keys(np.unique(np.stack(children), axis=0), sizes)
        pool_keys = _keys(pool, sizes)
        rows = np.flatnonzero(np.isin(pool_keys, keys))  # buildable, not measured
        rows = rows[~np.isin(rows, taken)]
        if len(rows) == 0:
            return []
        mu, sd = model.predict_codes(pool[rows])
        picks, _ = _diverse_top(mu + kappa * sd, pool[rows], quota, self.min_distance)
        return [int(rows[i]) for i in picks]

    def _local(
        self, model: EpistaticGP | TreeEnsemble, pool: np.ndarray, req: BatchRequest, n: int
    ) -> list[int]:
        """Rows of ``pool`` for the neighbourhood share (see ``local_share``)."""
        quota = round(self.local_share * n)
        if quota == 0:
            return []
        train = space_codes(req.space, req.designs)
        order = np.argsort(-req.y[:, 0], kind="stable")
        parents = train[order[: self.local_parents]]
        mu, _ = self._predict_pool(model, pool, req, std=False)
        picks: list[int] = []
        for j, parent in enumerate(parents):
            # quotas as equal as possible, the fitter parents first
            want = quota // len(parents) + (1 if j < quota % len(parents) else 0)
            near = np.flatnonzero((pool != parent).sum(1) == 1)
            near = near[np.argsort(-mu[near], kind="stable")]
            taken = set(picks)
            picks += [int(i) for i in near if int(i) not in taken][:want]
        return picks

    def _predict_pool(
        self, model: EpistaticGP | TreeEnsemble, pool: np.ndarray, req: BatchRequest, *, std: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(model, EpistaticGP):
            return model.predict_codes(pool, std=std)
        return self._predict(model, pool, _sizes(req.space))

    def _draws(
        self,
        model: EpistaticGP | TreeEnsemble,
        pool: np.ndarray,
        k: int,
        rng: np.random.Generator,
        sizes: tuple[int, ...],
    ) -> np.ndarray:
        if isinstance(model, EpistaticGP):
            return model.sample_codes(pool, k, rng)
        members = model.predict_members(_onehot(pool, sizes))  # (m, N)
        pick = rng.integers(0, members.shape[0], size=k)
        return np.asarray(members[pick].T)

    def _empty(self, space: Space) -> Recommendation:
        empty = pd.DataFrame({name: pd.Series(dtype=object) for name in space.names})
        return Recommendation(empty, np.zeros((0, 1)), np.zeros((0, 1)), np.zeros(0), self.name)


def prior_table(space: Space, prior: Mapping[str, Mapping[str, float]]) -> list[list[float]]:
    """``{site: {choice: score}}`` -> one row of scores per site in the space's choice order.

    A site or choice of the space that the mapping lacks, or a score that is not a
    finite number, raises :class:`InputError` naming it.
    """
    table = []
    for name, p in space.parameters.items():
        assert isinstance(p, Categorical)
        if name not in prior:
            raise InputError("the prior has no scores for this site", column=name)
        row = []
        for c in p.choices:
            value = prior[name].get(str(c))
            if value is None or not math.isfinite(float(value)):
                raise InputError(
                    "the prior needs a finite score for every choice",
                    column=name,
                    expected="a number",
                    found=f"{c}: {value}",
                )
            row.append(float(value))
        table.append(row)
    return table


def group_table(space: Space, groups: Mapping[str, str]) -> list[list[int]] | None:
    """``{choice: group}`` -> per site, each choice's group index (in the space's
    choice order; a choice the mapping lacks is a group of its own); ``None`` when no
    two choices of any site share a group (the group terms would repeat the choices')."""
    table = []
    for p in space.parameters.values():
        assert isinstance(p, Categorical)
        index: dict[str, int] = {}
        row = []
        for c in p.choices:
            key = groups.get(str(c), "\0" + str(c))  # unmapped: its own group
            row.append(index.setdefault(key, len(index)))
        table.append(row)
    if all(len(set(row)) == len(row) for row in table):
        return None
    return table


def _check_believer_options(surrogate: str, acquisition: str, batch: str, **used: bool) -> None:
    """Raise when an option that only the epistatic GP's UCB believer batch reads is set
    for a recommender that never builds that batch (it would be silently ignored)."""
    names = [name for name, on in used.items() if on]
    if names and (surrogate, acquisition, batch) != ("epistatic", "ucb", "believer"):
        raise ValueError(
            f"{', '.join(names)} only act in the believer batch: they need "
            "surrogate='epistatic', acquisition='ucb' and batch='believer', got "
            f"surrogate={surrogate!r}, acquisition={acquisition!r}, batch={batch!r}"
        )


def _check_share(name: str, value: float) -> None:
    """Raise unless ``value`` is a share of a plate, in [0, 1]."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a share in [0, 1], got {value!r}")


def _as_schedule(value: float | Sequence[float]) -> list[float]:
    """A number or a per-round sequence of numbers -> a list (one entry per round)."""
    if isinstance(value, int | float):
        return [float(value)]
    return [float(v) for v in value]


def _onehot(codes: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    out = np.zeros((len(codes), sum(sizes)), dtype=np.float32)
    offset = 0
    rows = np.arange(len(codes))
    for j, s in enumerate(sizes):
        out[rows, offset + codes[:, j]] = 1.0
        offset += s
    return out


def _hamming_ok(candidate: np.ndarray, picked: list[np.ndarray], d: int) -> bool:
    if d <= 1 or not picked:
        return True
    return bool(((np.stack(picked) != candidate).sum(1) >= d).all())


def _diverse_top(
    score: np.ndarray, pool: np.ndarray, n: int, min_distance: int
) -> tuple[list[int], np.ndarray]:
    """The best-scoring rows, ``min_distance`` apart, relaxed until ``n`` are found."""
    order = np.argsort(-score, kind="stable")
    picks: list[int] = []
    for d in range(min_distance, 0, -1):
        taken = set(picks)
        chosen = [pool[i] for i in picks]
        for i in order:
            if len(picks) == n:
                break
            if int(i) in taken or not _hamming_ok(pool[i], chosen, d):
                continue
            picks.append(int(i))
            taken.add(int(i))
            chosen.append(pool[i])
        if len(picks) == n:
            break
    return picks, score[picks]


def _thompson_batch(
    draws: np.ndarray, pool: np.ndarray, n: int, min_distance: int, before: Sequence[int] = ()
) -> tuple[list[int], np.ndarray]:
    """Slot ``s`` takes the best row of draw ``s`` not taken yet (and ``min_distance``
    from the picks, ``before`` included, when possible)."""
    picks: list[int] = []
    values: list[float] = []
    taken: set[int] = set(before)
    for s in range(draws.shape[1]):
        column = draws[:, s]
        top = np.argpartition(-column, min(len(column) - 1, 4 * n))[: 4 * n + 1]
        top = top[np.argsort(-column[top], kind="stable")]
        chosen = [pool[i] for i in [*before, *picks]]
        pick = next(
            (
                int(i)
                for i in top
                if int(i) not in taken and _hamming_ok(pool[i], chosen, min_distance)
            ),
            None,
        )
        if pick is None:
            pick = next((int(i) for i in np.argsort(-column) if int(i) not in taken), None)
        if pick is None:
            break
        picks.append(pick)
        taken.add(pick)
        values.append(float(column[pick]))
    return picks, np.array(values)
