"""Machine-learning-guided directed evolution on a measured and a simulated landscape.

Landscapes (``--landscapes``, default both):

* ``gb1``: Wu et al. 2016 (eLife 5:e16965), all 20^4 variants of GB1 sites V39,
  D40, G41, V54; 149,361 measured. The 10,639 unmeasured variants are *not
  buildable*: every method chooses only from the measured pool (the pool is
  passed as ``candidates``), so none is ever answered with an invented value.
* ``nk``: :func:`biofab.parts.landscapes.nk_landscape` (4 sites x 20 residues,
  ``k = --nk-k`` partners per site, seed 0), the check on a landscape no setting
  was chosen on (issue 17, item 5).

Protocol (issue 17, item 4), per landscape and seed (seeds ``--first-seed ..``,
paired: every model-based method and random screening start from the *same* 96
random variants of seed ``s``): 96 random variants, then 3 rounds of 96 (384
screened in all). Methods:

* ``biofab``: the recommender biofab picks for a variant space
  (``default_recommender``: :class:`biofab.learn.VariantRecommender`, the
  epistatic GP with UCB over the whole pool, the batch spread by the kriging
  believer).
* ``random``: 384 random variants.
* ``greedy-de``: directed evolution by site-saturation: from the parent (VDGV),
  screen all 19 substitutions at one site, fix the best, move to the next site
  (seeded random order), pass after pass; once a pass improves nothing, the rest
  of the budget screens random double mutants of the best; 384 variants in all.
  Screening is idealised (each variant once, no clone redundancy), which favours
  the peer.
* ``mlde``: one-shot MLDE (Wittmann et al. 2021, Cell Syst. 12:1026): the first 96
  + 96 more random variants train a bootstrap XGBoost ensemble on one-hot
  columns; the 192 best predictions are built.
* ``alde-boost-ucb``: ALDE-style (Yang et al. 2025): the same XGBoost ensemble
  (10 bootstrap members, one-hot) with UCB (``mean + 2 std``) over the pool, 3
  rounds of 96 (biofab's ``VariantRecommender("trees", "ucb")``).

Reported per landscape and method: the best fitness found / the landscape's
global maximum (mean over seeds, with its standard deviation), the fraction of
runs that found the global maximum and the fraction that found a top-0.1 %
variant; for biofab also the coverage of its 68 % and 95 % intervals on the
variants it chose (measured vs predicted, rounds 1-3), raw and with each round's
std scaled by the record factor of the campaign engine
(:func:`biofab.learn.calibration.record_scale` on the earlier rounds' picks;
the choices are not changed), also by round. Records:
``benchmarks/results/protein_evolution.json`` (ratio = biofab / peer, > 1 means
biofab wins; null when the peer scored 0).

Usage: ``python benchmarks/protein_evolution.py [--seeds 50] [--jobs 2]
[--landscapes gb1,nk] [--methods ...] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from biofab.core.progress import progress
from biofab.learn import default_recommender
from biofab.learn.calibration import record_scale
from biofab.learn.combinatorial import VariantRecommender
from biofab.learn.recommendation import Recommender
from biofab.parts.landscapes import Landscape, load_gb1, nk_landscape

RESULTS = Path(__file__).resolve().parent / "results"
#: One model-chosen variant: (measured, predicted mean, std, round, record factor).
Pred = tuple[float, float, float, int, float]
METHODS = ("biofab", "random", "greedy-de", "mlde", "alde-boost-ucb")
PEERS = METHODS[1:]
#: Other settings of biofab's recommender, run only when named in ``--methods`` (logged,
#: never reported as the default). Every option is spelt out, so a later change of the
#: defaults does not change what a name means: all were run with the first, narrower
#: ML-II grid of :class:`biofab.learn.EpistaticGP` (``_NARROW``). ``biofab-thompson`` is
#: the default before issue 17's second pass, ``biofab-ucb-believer`` the default of
#: that pass before the grid was widened.
_NARROW: dict[str, tuple[float, ...]] = {
    "noise_grid": (0.01, 0.05, 0.2, 0.5),
    "pair_share_grid": (0.2, 0.4, 0.6, 0.8),
    "amplitude_grid": (0.5, 1.0, 2.0),
}
#: Issue 17's fourth pass added residue classes and ARD (off by default); every setting
#: spells them out, so a later change of the defaults keeps its name's meaning.
_PLAIN: dict[str, Any] = {"groups": None, "ard": False, "pair_cap": None, "recombine_share": 0.0}
_GP: dict[str, Any] = {"acquisition": "ucb", "batch": "believer", "grid": _NARROW, **_PLAIN}
_TS: dict[str, Any] = {"acquisition": "thompson", "grid": _NARROW, **_PLAIN}
_TOP: dict[str, Any] = {"acquisition": "ucb", "batch": "top", "grid": _NARROW, **_PLAIN}
_WIDE: dict[str, Any] = {
    **_PLAIN,
    "acquisition": "ucb",
    "batch": "believer",
    "kappa": 2.0,
    "grid": {
        "noise_grid": (0.01, 0.05, 0.2, 0.5, 0.8),
        "pair_share_grid": (0.2, 0.4, 0.6, 0.8, 0.9, 0.95),
        "amplitude_grid": (0.125, 0.25, 0.5, 1.0, 2.0),
    },
}
VARIANTS: dict[str, dict[str, Any]] = {
    "biofab-thompson": _TS,
    "biofab-ucb": _TOP,
    "biofab-additive": {**_TS, "order": 1},
    "biofab-rank": {**_TS, "transform": "rank"},
    "biofab-exploit25": {**_TS, "exploit": 0.25},
    "biofab-exploit50": {**_TS, "exploit": 0.5},
    "biofab-last": {**_TS, "last_round": 3},
    "biofab-ucb-last": {**_TOP, "last_round": 3},
    "biofab-order3": {**_TS, "order": 3},
    "biofab-order3-last": {**_TS, "order": 3, "last_round": 3},
    "biofab-ucb1": {**_TOP, "kappa": 1.0},
    "biofab-ucb3": {**_TOP, "kappa": 3.0},
    "biofab-ucb-d2": {**_TOP, "min_distance": 2},
    "biofab-ucb-believer": _GP,
    "biofab-ucb-believer-last": {**_GP, "last_round": 3},
    # Issue 17's third pass (helper mlde3): the second pass's default spelt out (wide grid)
    # and the settings tried on it; "zero_shot" = biofab's zero-shot prior as a prior mean.
    "biofab-log": {**_WIDE, "transform": "log", "offset": 0.1},
    "biofab-log05": {**_WIDE, "transform": "log", "offset": 0.5},
    "biofab-sqrt": {**_WIDE, "transform": "sqrt"},
    "biofab-prior": {**_WIDE, "zero_shot": True},
    "biofab-local25": {**_WIDE, "local_share": 0.25, "local_parents": 3},
    "biofab-local25p1": {**_WIDE, "local_share": 0.25, "local_parents": 1},
    "biofab-kappa3": {**_WIDE, "kappa": 3.0},
    "biofab-kappa421": {**_WIDE, "kappa": (4.0, 2.0, 1.0)},
    "biofab-trees25": {**_WIDE, "trees_share": 0.25},
    # Issue 17's fourth pass (helper mlde4): "dayhoff" = residue classes shared in the kernel;
    # biofab-third is the default spelt out (unchanged by that pass).
    "biofab-third": _WIDE,
    "biofab-groups": {**_WIDE, "dayhoff": True},
    "biofab-ard": {**_WIDE, "ard": True},
    "biofab-groups-ard": {**_WIDE, "dayhoff": True, "ard": True},
    # Issue 17's fifth pass (helper mlde5): at most this share of a plate on one pair of
    # choices at any two sites, every round or in rounds 1-2 only ("e": early; 1 = no cap).
    "biofab-paircap12": {**_WIDE, "pair_cap": 0.125},
    "biofab-paircap12e": {**_WIDE, "pair_cap": (0.125, 0.125, 1.0)},
    "biofab-paircap24": {**_WIDE, "pair_cap": 0.25},
    "biofab-paircap24e": {**_WIDE, "pair_cap": (0.25, 0.25, 1.0)},
    # a quarter of each plate from recombinants of the 10 best measured variants
    "biofab-recomb25": {**_WIDE, "recombine_share": 0.25},
    "biofab-recomb25-cap24": {**_WIDE, "recombine_share": 0.25, "pair_cap": 0.25},
    # Issue 17's sixth pass (helper mlde6): pair weights' prior variance tilted towards
    # choices with good site effects, the tilt chosen by marginal likelihood (0 included).
    "biofab-tilt2": {**_WIDE, "grid": {**_WIDE["grid"], "tilt_grid": (0.0, 0.5, 1.0, 2.0)}},
    "biofab-tilt4": {**_WIDE, "grid": {**_WIDE["grid"], "tilt_grid": (0.0, 1.0, 2.0, 4.0)}},
    # Issue 17's seventh pass (lead): ORACLE diagnostics, never methods. The landscape's own
    # site means (knowledge no user has) as the best any site-additive prior could be: as
    # the prior mean, or to focus the first plate on the top 10 % of its additive score.
    "biofab-oracle-mean": {**_WIDE, "oracle_prior": True},
    "biofab-oracle-focus": {**_WIDE, "oracle_focus": True},
}
#: GB1 only: the first batch drawn from the top 10 % by biofab's zero-shot prior (ftMLDE,
#: :func:`biofab.parts.protein_features.focused_sample`), then biofab's default.
FOCUSED = "biofab-focused"


@dataclass(frozen=True)
class Setup:
    """The budget (first random batch, batch size, rounds) and the landscapes' settings."""

    first: int = 96
    batch: int = 96
    rounds: int = 3
    nk_sites: int = 4
    nk_k: int = 2
    gb1: str | None = None
    trace: bool = False  # record where the global maximum stood each round (``_trap_state``)

    @property
    def budget(self) -> int:
        return self.first + self.batch * self.rounds


_LANDSCAPE: dict[str, Landscape] = {}


def landscape(name: str, setup: Setup) -> Landscape:
    """The landscape ``name`` (cached per process)."""
    key = f"{name}:{setup.nk_sites}:{setup.nk_k}:{setup.gb1}"
    if key not in _LANDSCAPE:
        _LANDSCAPE[key] = (
            load_gb1(setup.gb1)
            if name == "gb1"
            else nk_landscape(setup.nk_sites, setup.nk_k, seed=0)
        )
    return _LANDSCAPE[key]


# -- one campaign ---------------------------------------------------------------------


def _active(
    land: Landscape,
    seed: int,
    make: Callable[[], Recommender],
    setup: Setup,
    *,
    focused: bool = False,
    trace: list[dict[str, Any]] | None = None,
    first: list[int] | None = None,
) -> tuple[list[int], list[Pred]]:
    """The first batch (random, or zero-shot focused), then ``setup.rounds`` recommender
    batches; returns the pool rows chosen and (measured, predicted mean, std, round,
    record factor) of every model-chosen variant. The record factor is what
    ``Campaign.recommend`` would put on the round's reported std (learned from the
    earlier rounds' picks); it changes no choice. ``trace``: appended one
    :func:`_trap_state` per round."""
    rng = np.random.default_rng(seed)
    chosen = list(rng.choice(len(land.fitness), setup.first, replace=False))
    table = land.designs()
    row_of = {v: i for i, v in enumerate(land.variants)}
    if focused:
        chosen = [row_of[v] for v in _focused_first(land, table, seed, setup.first)]
    if first is not None:
        chosen = list(first)
    space = land.space()
    preds: list[Pred] = []
    for r in range(setup.rounds):
        rec = make().recommend(
            space,
            table.iloc[chosen].reset_index(drop=True),
            land.fitness[chosen],
            setup.batch,
            candidates=table,
            round_index=r + 1,
            seed=seed * 1000 + r + 1,
        )
        rows = [row_of["".join(map(str, v))] for v in rec.designs[list(land.sites)].to_numpy()]
        if trace is not None:
            trace.append(_trap_state(land, chosen, rows, rec.model))
        earlier = np.array([p[:3] for p in preds]).reshape(-1, 3)
        factor = record_scale(earlier[:, 1], earlier[:, 2], earlier[:, 0]).scale
        preds += [
            (float(land.fitness[i]), float(m), float(s), r + 1, factor)
            for i, m, s in zip(rows, rec.mean[:, 0], rec.std[:, 0], strict=True)
        ]
        chosen += rows
    return chosen, preds


def _trap_state(land: Landscape, chosen: list[int], rows: list[int], model: Any) -> dict[str, Any]:
    """Where the global maximum stood in one round (``--trace``): the best variant measured
    before the round, its distance to the maximum, and the maximum's rank among the
    unmeasured variants (0 = first) by the round's model: in the whole pool by UCB
    (``mean + 2 std``) and in the incumbent's two-substitution ball by the mean; and
    whether the round's plate held it."""
    top = int(np.argmax(land.fitness))
    best = chosen[int(np.argmax(land.fitness[chosen]))]
    codes = land.codes
    mean, std = model.predict_codes(codes)
    free = np.ones(len(codes), dtype=bool)
    free[chosen] = False
    ucb = np.where(free, mean + 2.0 * std, -np.inf)
    dist = (codes != codes[best]).sum(1)
    ball = np.where(free & (dist <= 2), mean, -np.inf)
    return {
        "incumbent": str(land.variants[best]),
        "incumbent_fitness": float(land.fitness[best]),
        "distance_to_max": int(dist[top]),
        "max_rank_ucb": int((ucb > ucb[top]).sum()) if free[top] else None,
        "max_rank_ball_mean": (
            int((ball > ball[top]).sum()) if free[top] and dist[top] <= 2 else None
        ),
        "max_mean": float(mean[top]),
        "max_std": float(std[top]),
        "picked_max": top in rows,
    }


def _focused_first(land: Landscape, table: Any, seed: int, n: int) -> list[str]:
    from biofab.parts.protein_features import focused_sample
    from biofab.parts.variants import GB1_PARENT, GB1_POSITIONS, SiteLibrary

    lib = SiteLibrary(GB1_PARENT, GB1_POSITIONS)
    picked = focused_sample(lib, n, top_fraction=0.1, seed=seed, candidates=table)
    return ["".join(r) for r in picked[list(land.sites)].to_numpy()]


def zero_shot_table(land: Landscape) -> dict[str, dict[str, float]]:
    """biofab's default zero-shot prior (:class:`biofab.parts.protein_features.ZeroShotPrior`)
    of the landscape's sites, ``{site: {residue: score}}``: GB1's from its real parent
    and positions; NK's from its parent variant at positions 1..L (letters with no protein
    behind them, so the prior carries no information there: the honest check)."""
    from biofab.parts.protein_features import ZeroShotPrior
    from biofab.parts.variants import GB1_PARENT, GB1_POSITIONS, SiteLibrary

    if land.name.startswith("GB1"):
        lib = SiteLibrary(GB1_PARENT, GB1_POSITIONS)
    else:
        lib = SiteLibrary(land.parent, list(range(1, len(land.sites) + 1)))
    table = ZeroShotPrior(lib).site_table()
    assert list(table) == list(land.sites), (list(table), land.sites)
    return table


def oracle_table(land: Landscape) -> dict[str, dict[str, float]]:
    """ORACLE (a diagnostic, never a method): ``{site: {residue: mean fitness of every
    variant of the landscape with that residue at that site}}``, the best site-additive
    prior there could be; a user never has it."""
    codes = land.codes
    return {
        site: {
            a: float(land.fitness[codes[:, s] == k].mean()) if (codes[:, s] == k).any() else 0.0
            for k, a in enumerate(land.alphabet)
        }
        for s, site in enumerate(land.sites)
    }


def _oracle_first(land: Landscape, seed: int, n: int) -> list[int]:
    """ORACLE focus: ``n`` random variants of the top 10 % by the oracle's additive score."""
    table = oracle_table(land)
    score = sum(
        np.array([table[site][a] for a in land.alphabet])[land.codes[:, s]]
        for s, site in enumerate(land.sites)
    )
    top = np.argsort(-score)[: max(n, len(score) // 10)]
    return [int(i) for i in np.random.default_rng(seed).choice(top, n, replace=False)]


def _random(land: Landscape, seed: int, setup: Setup) -> list[int]:
    rng = np.random.default_rng(seed)
    first = list(rng.choice(len(land.fitness), setup.first, replace=False))
    rest = np.setdiff1d(np.arange(len(land.fitness)), first)
    return first + list(rng.choice(rest, setup.budget - setup.first, replace=False))


def _greedy_de(land: Landscape, seed: int, setup: Setup) -> list[int]:
    """Site-saturation directed evolution from the parent with the whole budget."""
    rng = np.random.default_rng(seed)
    budget = setup.budget
    row_of = {v: i for i, v in enumerate(land.variants)}
    screened: list[int] = []
    seen: set[int] = set()

    def screen(variants: list[str]) -> None:
        for v in variants:
            i = row_of.get(v)  # unmeasured variants cannot be built
            if i is not None and i not in seen and len(screened) < budget:
                seen.add(i)
                screened.append(i)

    best = land.parent
    screen([best])
    L, letters = len(land.sites), land.alphabet
    while len(screened) < budget:
        improved = False
        for site in rng.permutation(L):
            screen([best[:site] + a + best[site + 1 :] for a in letters])
            top = land.variants[max(screened, key=lambda i: land.fitness[i])]
            if top != best:
                best, improved = str(top), True
        if not improved:
            break
    while len(screened) < budget:  # converged: random double mutants of the best
        a, b = sorted(rng.choice(L, 2, replace=False))
        v = list(best)
        v[a], v[b] = rng.choice(list(letters)), rng.choice(list(letters))
        before = len(screened)
        screen(["".join(v)])
        if len(screened) == before and len(seen) >= len(land.fitness):
            break
    return screened


def run_one(task: tuple[str, str, int, Setup]) -> dict[str, Any]:
    """One campaign: ``(landscape, method, seed, setup)`` -> its record."""
    name, method, seed, setup = task
    land = landscape(name, setup)
    t0 = time.perf_counter()
    preds: list[Pred] = []
    trace: list[dict[str, Any]] | None = [] if setup.trace else None
    if method == "random":
        chosen = _random(land, seed, setup)
    elif method == "greedy-de":
        chosen = _greedy_de(land, seed, setup)
    elif method == "mlde":
        chosen = _mlde(land, seed, setup)
    elif method == "alde-boost-ucb":
        chosen, preds = _active(land, seed, lambda: VariantRecommender("trees", "ucb"), setup)
    elif method == "biofab":
        space = land.space()
        make = lambda: default_recommender(space, 1)  # noqa: E731
        chosen, preds = _active(land, seed, make, setup, trace=trace)
    elif method == FOCUSED:
        space = land.space()
        make = lambda: default_recommender(space, 1)  # noqa: E731
        chosen, preds = _active(land, seed, make, setup, focused=True)
    elif method in VARIANTS:
        options = dict(VARIANTS[method])
        if options.pop("zero_shot", False):
            options["prior"] = zero_shot_table(land)
        if options.pop("oracle_prior", False):
            options["prior"] = oracle_table(land)
        focus = options.pop("oracle_focus", False)
        first = _oracle_first(land, seed, setup.first) if focus else None
        if options.pop("dayhoff", False):
            from biofab.parts.protein_features import DAYHOFF_CLASSES

            options["groups"] = DAYHOFF_CLASSES
        chosen, preds = _active(
            land, seed, lambda: VariantRecommender(**options), setup, trace=trace, first=first
        )
    else:
        raise ValueError(f"unknown method {method!r}")
    best = float(land.fitness[chosen].max())
    return {
        "landscape": name,
        "method": method,
        "seed": seed,
        "n": len(set(chosen)),
        "best": best,
        "best_fraction": best / land.global_max,
        "found_max": bool(best >= land.global_max),
        "found_top": bool(best >= land.top_threshold(0.001)),
        "best_variant": str(land.variants[chosen[int(np.argmax(land.fitness[chosen]))]]),
        "coverage68": _coverage(preds, 1.0),
        "coverage95": _coverage(preds, 1.96),
        **_record_coverage(preds),
        "seconds": time.perf_counter() - t0,
    } | ({"rounds": trace} if trace else {})


def _mlde(land: Landscape, seed: int, setup: Setup) -> list[int]:
    """One-shot MLDE: the first batch and one more random batch train, the rest is built."""
    rng = np.random.default_rng(seed)
    first = list(rng.choice(len(land.fitness), setup.first, replace=False))
    rest = np.setdiff1d(np.arange(len(land.fitness)), first)
    train = first + list(rng.choice(rest, setup.batch, replace=False))
    table = land.designs()
    rec = VariantRecommender("trees", "greedy").recommend(
        land.space(),
        table.iloc[train].reset_index(drop=True),
        land.fitness[train],
        setup.budget - len(train),
        candidates=table,
        seed=seed,
    )
    row_of = {v: i for i, v in enumerate(land.variants)}
    return train + [row_of["".join(map(str, v))] for v in rec.designs[list(land.sites)].to_numpy()]


def _coverage(preds: list[Pred], z: float, *, record: bool = False) -> float | None:
    """Share of ``preds`` inside ``mean ± z·std`` (with ``record``, the std times its
    round's record factor)."""
    if not preds:
        return None
    p = np.array(preds, dtype=float)
    std = p[:, 2] * (p[:, 4] if record else 1.0)
    return float((np.abs(p[:, 0] - p[:, 1]) <= z * std).mean())


def _record_coverage(preds: list[Pred]) -> dict[str, Any]:
    """Coverage with the record factor, overall and by round (raw beside it)."""
    if not preds:
        return {}
    rounds = sorted({int(p[3]) for p in preds})
    by = {k: [p for p in preds if int(p[3]) == k] for k in rounds}
    return {
        "coverage68_record": _coverage(preds, 1.0, record=True),
        "coverage95_record": _coverage(preds, 1.96, record=True),
        "coverage68_by_round": [_coverage(by[k], 1.0) for k in rounds],
        "coverage68_record_by_round": [_coverage(by[k], 1.0, record=True) for k in rounds],
        "coverage95_by_round": [_coverage(by[k], 1.96) for k in rounds],
        "coverage95_record_by_round": [_coverage(by[k], 1.96, record=True) for k in rounds],
        "record_factor_by_round": [float(by[k][0][4]) for k in rounds],
    }


# -- summary and records ----------------------------------------------------------------


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """landscape -> method -> mean best fraction (and sd), found-max and found-top rates."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in runs:
        out.setdefault(r["landscape"], {}).setdefault(r["method"], {})
    for name, methods in out.items():
        for method in methods:
            rs = [r for r in runs if r["landscape"] == name and r["method"] == method]
            frac = np.array([r["best_fraction"] for r in rs])
            cov68 = [r["coverage68"] for r in rs if r["coverage68"] is not None]
            cov95 = [r["coverage95"] for r in rs if r["coverage95"] is not None]
            extra = {
                key: np.nanmean([r[key] for r in rs if key in r], axis=0).tolist()
                for key in _RECORD_KEYS
                if any(key in r for r in rs)
            }
            methods[method] = {
                "best_fraction": float(frac.mean()),
                "best_fraction_sd": float(frac.std()),
                "found_max": float(np.mean([r["found_max"] for r in rs])),
                "found_top": float(np.mean([r["found_top"] for r in rs])),
                "coverage68": float(np.mean(cov68)) if cov68 else float("nan"),
                "coverage95": float(np.mean(cov95)) if cov95 else float("nan"),
                "seconds_median": float(np.median([r["seconds"] for r in rs])),
                "runs": len(rs),
                **extra,
            }
    return out


_RECORD_KEYS = (
    "coverage68_record",
    "coverage95_record",
    "coverage68_by_round",
    "coverage68_record_by_round",
    "coverage95_by_round",
    "coverage95_record_by_round",
    "record_factor_by_round",
)

METRICS = {
    "best_fitness_fraction_of_max": "best_fraction",
    "fraction_runs_global_max": "found_max",
    "fraction_runs_top_0.1pct": "found_top",
}


def records(
    summary: dict[str, dict[str, dict[str, float]]],
    seeds: int,
    jobs: int,
    command: str,
    setup: Setup,
) -> list[dict[str, Any]]:
    recs = []
    for name, methods in summary.items():
        if "biofab" not in methods:
            continue
        dataset = (
            "GB1 (Wu 2016, 4 sites)"
            if name == "gb1"
            else f"NK (L={setup.nk_sites}, k={setup.nk_k}, seed 0)"
        )
        for metric, key in METRICS.items():
            for peer in PEERS:
                if peer not in methods:
                    continue
                b, p = methods["biofab"][key], methods[peer][key]
                recs.append(
                    {
                        "metric": metric,
                        "dataset": dataset,
                        "biofab": round(b, 4),
                        "peer": peer,
                        "peer_value": round(p, 4),
                        "ratio": round(b / p, 3) if p > 0 else None,
                        "better": "higher",
                        "target_ratio": 1.0,
                        "seeds": seeds,
                        "repeats": 1,
                        "cores": jobs,
                        "command": command,
                        "date": date.today().isoformat(),
                    }
                )
    return recs


def table(summary: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| landscape | method | best / global max (mean ± sd) | runs finding the max "
        "| runs finding a top-0.1 % | 68 % / 95 % coverage | s per run |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, methods in summary.items():
        for method in [*METHODS, *VARIANTS, FOCUSED]:
            if method not in methods:
                continue
            m = methods[method]
            cov = (
                f"{m['coverage68']:.2f} / {m['coverage95']:.2f}"
                if np.isfinite(m["coverage68"])
                else "-"
            )
            lines.append(
                f"| {name} | {method} | {m['best_fraction']:.3f} ± {m['best_fraction_sd']:.3f} "
                f"| {m['found_max']:.2f} | {m['found_top']:.2f} | {cov} "
                f"| {m['seconds_median']:.1f} |"
            )
    return "\n".join(lines)


def coverage_table(summary: dict[str, dict[str, Any]]) -> str:
    """Coverage of the 68 % / 95 % intervals by round: raw and record-scaled."""
    lines = [
        "| landscape | method | round | record factor (mean) | 68 % raw | 68 % record "
        "| 95 % raw | 95 % record |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, methods in summary.items():
        for method, m in methods.items():
            if "coverage68_by_round" not in m:
                continue
            cols = [m[k] for k in _RECORD_KEYS[2:]]
            for k, (c68, r68, c95, r95, f) in enumerate(zip(*cols, strict=True)):
                lines.append(
                    f"| {name} | {method} | {k + 1} | {f:.2f} | {c68:.2f} | {r68:.2f} "
                    f"| {c95:.2f} | {r95:.2f} |"
                )
            lines.append(
                f"| {name} | {method} | all | - | {m['coverage68']:.2f} "
                f"| {m['coverage68_record']:.2f} | {m['coverage95']:.2f} "
                f"| {m['coverage95_record']:.2f} |"
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=50, help="number of paired seeds (default 50)")
    p.add_argument("--first-seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--landscapes", default="gb1,nk", help="gb1,nk")
    p.add_argument("--methods", default=",".join(METHODS), help=",".join(METHODS))
    p.add_argument("--nk-k", type=int, default=2, help="NK epistasis partners per site")
    p.add_argument("--nk-sites", type=int, default=4, help="NK landscape's sites (20 letters)")
    p.add_argument("--first", type=int, default=96, help="random variants first (96)")
    p.add_argument("--batch", type=int, default=96, help="variants per round (96)")
    p.add_argument("--rounds", type=int, default=3, help="rounds after the first (3)")
    p.add_argument("--gb1", default=None, help="GB1 table (default: the shared data folder)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (1 thread each)")
    p.add_argument("--quick", action="store_true", help="2 seeds (a smoke test)")
    p.add_argument(
        "--trace",
        action="store_true",
        help="biofab's campaigns: record each round's incumbent and the global maximum's "
        "rank by the round's model (in the runs file, 'rounds')",
    )
    p.add_argument("--out", default=str(RESULTS), help="folder for protein_evolution.json")
    p.add_argument(
        "--combine",
        nargs="+",
        default=None,
        help="summarise saved protein_evolution_runs.json files (disjoint seeds), run nothing",
    )
    p.add_argument(
        "--record-command",
        default=None,
        help="with --combine: the one-run command the chunks add up to, for the records",
    )
    return p.parse_args(argv)


def _run(tasks: list[tuple[str, str, int, Setup]], jobs: int) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    with progress("protein evolution campaigns", len(tasks)) as steps:
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as pool:
                for r in pool.map(run_one, tasks):
                    runs.append(r)
                    steps.advance(1, f"{r['landscape']} {r['method']} seed {r['seed']}")
        else:
            for task in tasks:
                r = run_one(task)
                runs.append(r)
                steps.advance(1, f"{r['landscape']} {r['method']} seed {r['seed']}")
    return runs


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    seeds = 2 if args.quick else args.seeds
    names = [s.strip() for s in args.landscapes.split(",") if s.strip()]
    methods = [s.strip() for s in args.methods.split(",") if s.strip()]
    for bad in [n for n in names if n not in ("gb1", "nk")] + [
        m for m in methods if m not in METHODS and m not in VARIANTS and m != FOCUSED
    ]:
        raise SystemExit(f"error: unknown landscape or method {bad!r}")
    setup = Setup(
        args.first, args.batch, args.rounds, args.nk_sites, args.nk_k, args.gb1, args.trace
    )
    tasks = [
        (name, method, s, setup)
        for name in names
        for s in range(args.first_seed, args.first_seed + seeds)
        for method in methods
        if method != FOCUSED or name == "gb1"  # a zero-shot prior needs a real protein
    ]
    runs: list[dict[str, Any]] = []
    if args.combine:
        for path in args.combine:
            runs += json.loads(Path(path).read_text())
        keys = [(r["landscape"], r["method"], r["seed"]) for r in runs]
        if len(set(keys)) != len(keys):
            raise SystemExit("error: the runs files share a (landscape, method, seed)")
        seeds = len({r["seed"] for r in runs})
    else:
        runs = _run(tasks, args.jobs)
    summary = summarise(runs)
    given = list(argv if argv is not None else sys.argv[1:])
    if "--out" in given:  # where the files went is not part of what was measured
        i = given.index("--out")
        del given[i : i + 2]
    command = "python benchmarks/protein_evolution.py " + " ".join(given)
    if args.combine and args.record_command:
        command = args.record_command
    recs = records(summary, seeds, args.jobs, command.strip(), setup)
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    (out / "protein_evolution.json").write_text(json.dumps(recs, indent=2) + "\n")
    (out / "protein_evolution_runs.json").write_text(json.dumps(runs) + "\n")
    print(table(summary))
    print(coverage_table(summary))
    for rec in recs:
        if rec["metric"] == "fraction_runs_global_max":
            print(f"{rec['dataset']}: biofab/{rec['peer']} finding the max = {rec['ratio']}")
    return recs


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
