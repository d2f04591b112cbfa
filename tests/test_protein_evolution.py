"""Active learning over site libraries: the epistatic GP, the variant recommender, the
landscapes, a campaign round trip with 96-well results files, and a short benchmark run."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from biofab.core import Categorical, Continuous, Space
from biofab.core.errors import InputError
from biofab.learn import EpistaticGP, VariantRecommender, default_recommender, make_recommender
from biofab.learn.combinatorial import space_codes
from biofab.learn.state import dumps, loads
from biofab.parts.landscapes import load_gb1, nk_landscape
from biofab.parts.protein_features import ZeroShotPrior
from biofab.parts.variants import SiteLibrary
from conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small() -> tuple[Space, pd.DataFrame, np.ndarray]:
    """A complete NK landscape of 3 sites x 20 residues (8,000 variants)."""
    land = nk_landscape(3, 1, seed=3)
    return land.space(), land.designs(), land.fitness


# -- the model ---------------------------------------------------------------------------


def test_epistatic_gp_weight_space_equals_its_kernel() -> None:
    """Mean and std by table look-ups equal the kernel formulas k(m) = sum s_o C(m,o)/C(L,o);
    the Thompson draws are samples of that posterior (their mean and spread agree)."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 6, (400, 4))
    y = codes[:, 0] * 0.5 + (codes[:, 1] == codes[:, 2]) + rng.normal(0, 0.1, 400)
    model = EpistaticGP((6, 6, 6, 6), order=2).fit_codes(codes[:60], y[:60])
    test = codes[60:]
    mu, sd = model.predict_codes(test)
    k = np.array(
        [
            model.shares_[0]
            + sum(model.shares_[o] * math.comb(m, o) / math.comb(4, o) for o in (1, 2))
            for m in range(5)
        ]
    )
    cross = k[(test[:, None, :] == model.codes_[None, :, :]).sum(2)]
    train = k[(model.codes_[:, None, :] == model.codes_[None, :, :]).sum(2)]
    K = train + model.noise_ * np.eye(60)
    ref_mu = model.y_mean_ + model.y_std_ * cross @ np.linalg.solve(K, model.z_)
    ref_var = k[4] - np.einsum("ij,ji->i", cross, np.linalg.solve(K, cross.T))
    assert np.allclose(mu, ref_mu) and np.allclose(sd, model.y_std_ * np.sqrt(ref_var))
    draws = model.sample_codes(test, 2000, np.random.default_rng(1))
    assert draws.shape == (340, 2000)
    assert np.abs(draws.mean(1) - mu).max() < 0.1 * sd.mean() + 0.05
    assert np.abs(draws.std(1) / sd - 1).mean() < 0.1
    # the pairwise term is what explains codes 1 == 2: out-of-sample rank correlation
    assert np.corrcoef(mu, y[60:])[0, 1] > 0.6
    # saved state (no pickle) predicts the same
    again = loads(dumps(model))
    assert np.allclose(again.predict_codes(test)[0], mu)


def test_believer_batch_is_the_gp_conditioned_on_its_own_picks() -> None:
    """Pick 1 is the UCB maximum; pick 2 maximises UCB under the posterior that also
    holds pick 1 as a (noisy) measurement at its mean, by the kernel formulas."""
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 5, (300, 4))
    y = codes[:, 0] * 0.3 + (codes[:, 1] == codes[:, 3]) + rng.normal(0, 0.2, 300)
    model = EpistaticGP((5, 5, 5, 5), order=2).fit_codes(codes[:50], y[:50])
    pool = np.unique(codes[50:], axis=0)
    picks, scores = model.believer_ucb(pool, 3, kappa=2.0)
    mu, sd = model.predict_codes(pool)
    assert picks[0] == int(np.argmax(mu + 2 * sd)) and len(set(picks)) == 3
    k = model._kernel_by_matches(model.shares_)
    train = np.vstack([model.codes_, pool[picks[:1]]])
    K = k[model._matches(train, train)] + model.noise_ * np.eye(len(train))
    cross = k[model._matches(pool, train)]
    var = k[4] - np.einsum("ij,ji->i", cross, np.linalg.solve(K, cross.T))
    z = (mu - model.y_mean_) / model.y_std_ + 2 * np.sqrt(np.maximum(var, 0))
    z[picks[0]] = -np.inf
    assert picks[1] == int(np.argmax(z))
    assert scores[1] == pytest.approx(model.y_mean_ + model.y_std_ * z.max())
    # the believer spreads the batch: later picks share fewer sites with the first
    top3 = np.argsort(-(mu + 2 * sd))[:3]
    assert (pool[picks[1:]] == pool[picks[0]]).sum() <= (pool[top3[1:]] == pool[top3[0]]).sum()


def test_interval_is_calibrated_and_wider_than_the_function_std() -> None:
    """The reported interval covers a measurement (noise included), scaled by the
    leave-one-out factor (>= 1), and the factor survives a saved state."""
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 6, (600, 4))
    y = codes[:, 0] * 0.5 + (codes[:, 1] == codes[:, 2]) + rng.standard_t(2, 600) * 0.3
    model = EpistaticGP((6, 6, 6, 6)).fit_codes(codes[:150], y[:150])
    mu, sd = model.predict_codes(codes[150:])
    mu2, band = model.predict_interval(codes[150:])
    assert np.array_equal(mu, mu2) and (band > sd).all() and model.interval_scale_ >= 1.0
    held = np.abs(y[150:] - mu) <= band
    assert 0.6 < held.mean() < 0.95  # heavy-tailed noise, yet about 68 % or wider
    again = loads(dumps(model))
    assert again.interval_scale_ == model.interval_scale_


def test_epistatic_gp_one_hot_contract_and_rank_transform(small) -> None:
    space, designs, fitness = small
    X = space.encode(designs.iloc[:50])
    model = EpistaticGP((20, 20, 20), transform="rank").fit(X, fitness[:50])
    mu, sd = model.predict(space.encode(designs.iloc[50:60]))
    assert mu.shape == sd.shape == (10,) and (sd > 0).all()
    with pytest.raises(ValueError, match="transform"):
        EpistaticGP((20, 20, 20), transform="cube")


@pytest.mark.parametrize("transform", ["log", "sqrt"])
def test_log_and_sqrt_targets_answer_in_y_units(small, transform: str) -> None:
    """The model is fitted on the compressed target; ``predict`` and ``predict_interval``
    answer in y's units and rank as ``predict_codes`` does (a monotone transform)."""
    space, designs, fitness = small
    codes = space_codes(space, designs)
    y = fitness - 0.05  # a few negative values: the shift keeps the target defined
    model = EpistaticGP((20, 20, 20), transform=transform).fit_codes(codes[:300], y[:300])
    assert model.shift_ >= -y[:300].min() > 0
    raw, _ = model.predict_codes(codes[300:800])
    mu, band = model.predict_interval(codes[300:800])
    assert np.array_equal(np.argsort(raw), np.argsort(mu)) and (band > 0).all()
    assert abs(np.median(mu) - np.median(y)) < 0.5 * y.std()  # y's units, not log units
    assert np.allclose(model.predict(space.encode(designs.iloc[300:310]))[0], mu[:10])
    # ranks held-out variants (the plain target's rank correlation here is about 0)
    assert spearmanr(mu, y[300:800])[0] > 0.3
    again = loads(dumps(model))
    assert np.allclose(again.predict_interval(codes[300:310])[0], mu[:10])
    with pytest.raises(ValueError, match="offset"):
        EpistaticGP((20, 20, 20), transform="log", offset=0.0)


def test_prior_mean_is_weighted_by_marginal_likelihood() -> None:
    """A prior table that knows the additive part of y gets a positive weight and
    predicts better from few variants; a prior against the data gets weight 0."""
    rng = np.random.default_rng(7)
    sizes = (8, 8, 8, 8)
    effects = rng.normal(size=(4, 8))
    codes = rng.integers(0, 8, (1500, 4))
    y = effects[np.arange(4), codes].sum(1) + 0.3 * (codes[:, 0] == codes[:, 1])
    y = y + rng.normal(0, 0.1, len(y))
    plain = EpistaticGP(sizes).fit_codes(codes[:30], y[:30])
    good = EpistaticGP(sizes, prior_table=effects).fit_codes(codes[:30], y[:30])
    bad = EpistaticGP(sizes, prior_table=-effects).fit_codes(codes[:30], y[:30])
    assert good.prior_scale_ > 0 and bad.prior_scale_ == 0
    err = {
        name: np.abs(m.predict_codes(codes[30:])[0] - y[30:]).mean()
        for name, m in (("plain", plain), ("good", good))
    }
    assert err["good"] < 0.8 * err["plain"]
    # the believer batch and the Thompson draws use the same mean as predict_codes
    pool = np.unique(codes[30:200], axis=0)
    mu, sd = good.predict_codes(pool)
    picks, _ = good.believer_ucb(pool, 2, kappa=2.0)
    assert picks[0] == int(np.argmax(mu + 2 * sd))
    draws = good.sample_codes(pool, 500, np.random.default_rng(0))
    assert np.abs(draws.mean(1) - mu).max() < 0.1 * sd.mean() + 0.05
    again = loads(dumps(good))
    assert np.allclose(again.predict_codes(pool)[0], mu)
    with pytest.raises(ValueError, match="one score per choice"):
        EpistaticGP(sizes, prior_table=effects[:, :5])


def _block_formulas(model: EpistaticGP, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std by the kernel written out block by block (site and pair terms on the
    choices, then on their groups), for checking the weight-space look-ups."""
    lam = model._prior_variance()
    F_test, F_train = model.feature_index(test), model.feature_index(model.codes_)

    def gram(Fa: np.ndarray, Fb: np.ndarray) -> np.ndarray:
        return sum(
            (Fa[:, t, None] == Fb[None, :, t]) * lam[Fa[:, t]][:, None] for t in range(Fa.shape[1])
        )

    K = gram(F_train, F_train) + np.diag(np.full(len(F_train), model.noise_))
    cross = gram(F_test, F_train)
    mu = model.y_mean_ + model.y_std_ * cross @ np.linalg.solve(K, model.z_)
    var = lam[F_test].sum(1) - np.einsum("ij,ji->i", cross, np.linalg.solve(K, cross.T))
    return mu, model.y_std_ * np.sqrt(np.maximum(var, 0))


def test_groups_let_similar_choices_share_strength() -> None:
    """With ``groups`` the kernel adds the same site and pair terms on the choices'
    groups, weighted by a share chosen by marginal likelihood: on data where only the
    group matters, the share is positive and held-out variants of unseen choices are
    predicted better; weight space equals the kernel; the state round-trips."""
    rng = np.random.default_rng(11)
    sizes = (12, 12, 12, 12)
    groups = [[c // 3 for c in range(12)]] * 4  # four groups of three choices
    codes = rng.integers(0, 12, (1200, 4))
    g = codes // 3
    y = 0.8 * g[:, 0] - 0.6 * g[:, 1] + 1.0 * (g[:, 2] == g[:, 3]) + rng.normal(0, 0.1, 1200)
    plain = EpistaticGP(sizes).fit_codes(codes[:80], y[:80])
    grouped = EpistaticGP(sizes, groups=groups).fit_codes(codes[:80], y[:80])
    assert grouped.group_scale_ > 0 and grouped.group_scale_ in grouped.group_share_grid
    err = {
        name: np.abs(m.predict_codes(codes[80:])[0] - y[80:]).mean()
        for name, m in (("plain", plain), ("grouped", grouped))
    }
    assert err["grouped"] < 0.8 * err["plain"]
    mu, sd = grouped.predict_codes(codes[80:300])
    ref_mu, ref_sd = _block_formulas(grouped, codes[80:300])
    assert np.allclose(mu, ref_mu) and np.allclose(sd, ref_sd)
    again = loads(dumps(grouped))
    assert np.allclose(again.predict_codes(codes[80:300])[1], sd)
    with pytest.raises(ValueError, match="one group index per choice"):
        EpistaticGP(sizes, groups=[[0] * 11] * 4)


def test_ard_gives_the_epistatic_pair_the_larger_variance() -> None:
    """``ard`` refines one variance per site and per site pair by marginal likelihood:
    the one interacting pair gets more prior variance than every other pair, the
    refined evidence is at least the grid's, the believer batch still starts at the
    UCB maximum, and weight space equals the block kernel."""
    rng = np.random.default_rng(12)
    sizes = (8, 8, 8, 8)
    codes = rng.integers(0, 8, (1000, 4))
    table = rng.normal(0, 1.0, (8, 8))
    y = 0.3 * codes[:, 0] + table[codes[:, 2], codes[:, 3]] + rng.normal(0, 0.1, 1000)
    grid = EpistaticGP(sizes).fit_codes(codes[:200], y[:200])
    model = EpistaticGP(sizes, ard=True).fit_codes(codes[:200], y[:200])
    assert model.block_variance_ is not None and len(model.block_variance_) == 4 + 6
    pairs = dict(zip(model._tuples()[4:], model.block_variance_[4:], strict=True))
    assert pairs[(2, 3)] > 2 * max(v for k, v in pairs.items() if k != (2, 3))
    assert model.log_evidence_ >= grid.log_evidence_ - 1e-6  # L-BFGS starts at the grid
    mu, sd = model.predict_codes(codes[200:400])
    ref_mu, ref_sd = _block_formulas(model, codes[200:400])
    assert np.allclose(mu, ref_mu) and np.allclose(sd, ref_sd)
    err = {
        name: np.abs(m.predict_codes(codes[200:])[0] - y[200:]).mean()
        for name, m in (("grid", grid), ("ard", model))
    }
    assert err["ard"] < err["grid"]
    pool = np.unique(codes[200:], axis=0)
    pmu, psd = model.predict_codes(pool)
    picks, _ = model.believer_ucb(pool, 2, kappa=2.0)
    assert picks[0] == int(np.argmax(pmu + 2 * psd))
    again = loads(dumps(model))
    assert np.allclose(again.predict_codes(codes[200:400])[1], sd)
    with pytest.raises(ValueError, match="ard_prior_sd"):
        EpistaticGP(sizes, ard=True, ard_prior_sd=0.0)


def test_tilt_widens_the_pairs_of_good_choices() -> None:
    """``tilt_grid``: on a landscape whose effects multiply (most variants near zero,
    a few large), marginal likelihood picks a tilt > 0 over the plain kernel; the
    pair of the best choices gets more prior variance than the pair of the worst; weight
    space equals the kernel written out with the per-feature variances; the believer
    still starts at the UCB maximum; the state round-trips; bad settings are one line."""
    rng = np.random.default_rng(13)
    sizes = (8, 8, 8, 8)
    codes = rng.integers(0, 8, (1000, 4))
    effect = rng.normal(0, 1.0, (4, 8))
    y = np.exp(sum(effect[s, codes[:, s]] for s in range(4))) + rng.normal(0, 0.05, 1000)
    plain = EpistaticGP(sizes).fit_codes(codes[:150], y[:150])
    model = EpistaticGP(sizes, tilt_grid=(0.0, 1.0, 2.0)).fit_codes(codes[:150], y[:150])
    assert model.tilt_ in (1.0, 2.0) and model.feature_scale_ is not None
    assert model.log_evidence_ > plain.log_evidence_
    lam = model._prior_variance()
    site = model.weights_[1:33].reshape(4, 8)
    best, worst = site.argmax(1), site.argmin(1)
    F = model.feature_index(np.stack([best, worst]))
    assert lam[F[0, 5:]].sum() > lam[F[1, 5:]].sum()  # the six pair weights
    mu, sd = model.predict_codes(codes[150:350])
    ref_mu, ref_sd = _block_formulas(model, codes[150:350])
    assert np.allclose(mu, ref_mu) and np.allclose(sd, ref_sd)
    pool = np.unique(codes[150:], axis=0)
    pmu, psd = model.predict_codes(pool)
    picks, _ = model.believer_ucb(pool, 2, kappa=2.0)
    assert picks[0] == int(np.argmax(pmu + 2 * psd))
    again = loads(dumps(model))
    assert again.tilt_ == model.tilt_
    assert np.allclose(again.predict_codes(codes[150:350])[1], sd)
    assert EpistaticGP(sizes).fit_codes(codes[:150], y[:150]).feature_scale_ is None
    with pytest.raises(ValueError, match="tilt_grid holds"):
        EpistaticGP(sizes, tilt_grid=(0.0, -1.0))
    with pytest.raises(ValueError, match="tilt_grid needs order 2"):
        EpistaticGP(sizes, tilt_grid=(0.0, 1.0), ard=True)


def test_tilt_by_held_out_density() -> None:
    """``tilt_select="loo"``: the score is the exact leave-one-out density (checked against
    refitting without each variant); on the multiplicative landscape it also prefers a tilt,
    and the fitted model equals the kernel written out; the state keeps the setting; an
    unknown criterion is one line."""
    from biofab.learn.epistasis import _loo_density

    rng = np.random.default_rng(5)
    A = rng.normal(size=(12, 12))
    K = A @ A.T / 12 + 0.3 * np.eye(12)
    z = rng.normal(size=12)
    direct = 0.0
    for i in range(12):
        keep = np.arange(12) != i
        k_inv = np.linalg.inv(K[np.ix_(keep, keep)])
        mu = K[i, keep] @ k_inv @ z[keep]
        var = K[i, i] - K[i, keep] @ k_inv @ K[keep, i]
        direct += -0.5 * np.log(2 * np.pi * var) - 0.5 * (z[i] - mu) ** 2 / var
    assert np.isclose(_loo_density(K, z), direct)

    rng = np.random.default_rng(13)
    sizes = (8, 8, 8, 8)
    codes = rng.integers(0, 8, (1000, 4))
    effect = rng.normal(0, 1.0, (4, 8))
    y = np.exp(sum(effect[s, codes[:, s]] for s in range(4))) + rng.normal(0, 0.05, 1000)
    model = EpistaticGP(sizes, tilt_grid=(0.0, 1.0, 2.0), tilt_select="loo")
    model.fit_codes(codes[:150], y[:150])
    assert model.tilt_ in (1.0, 2.0) and model.feature_scale_ is not None
    mu, sd = model.predict_codes(codes[150:350])
    ref_mu, ref_sd = _block_formulas(model, codes[150:350])
    assert np.allclose(mu, ref_mu) and np.allclose(sd, ref_sd)
    again = loads(dumps(model))
    assert again.tilt_select == "loo" and again.tilt_ == model.tilt_
    with pytest.raises(ValueError, match="tilt_select must be"):
        EpistaticGP(sizes, tilt_grid=(0.0, 1.0), tilt_select="aic")


def test_variant_recommender_passes_the_tilt_grid(small) -> None:
    """``grid={"tilt_grid": ...}`` reaches the GP, whose chosen tilt is one of the grid's."""
    space, designs, fitness = small
    rec = VariantRecommender(grid={"tilt_grid": (0.0, 1.0, 2.0)}).recommend(
        space, designs.iloc[:60], fitness[:60], 8, seed=1
    )
    assert len(rec) == 8 and isinstance(rec.model, EpistaticGP)
    assert rec.model.tilt_grid == (0.0, 1.0, 2.0) and rec.model.tilt_ in rec.model.tilt_grid
    loo = VariantRecommender(grid={"tilt_grid": (0.0, 1.0), "tilt_select": "loo"}).recommend(
        space, designs.iloc[:60], fitness[:60], 8, seed=1
    )
    assert isinstance(loo.model, EpistaticGP) and loo.model.tilt_select == "loo"


def test_variant_recommender_groups_and_ard(small) -> None:
    """``groups`` maps choice -> group (the same at every site; a choice it lacks is a
    group of its own), ``ard`` refines the block variances; both reach the GP."""
    from biofab.learn.combinatorial import group_table
    from biofab.parts.protein_features import DAYHOFF_CLASSES

    space, designs, fitness = small
    table = group_table(space, {"A": "small", "G": "small", "W": "aromatic", "F": "aromatic"})
    letters = [str(c) for c in space.parameters[space.names[0]].choices]
    row = table[0]
    assert row[letters.index("A")] == row[letters.index("G")]
    assert row[letters.index("W")] == row[letters.index("F")] != row[letters.index("A")]
    assert len(set(row)) == len(letters) - 2  # every other letter is a group of its own
    rec = VariantRecommender(groups=DAYHOFF_CLASSES, ard=True).recommend(
        space, designs.iloc[:60], fitness[:60], 8, seed=1
    )
    assert len(rec) == 8 and isinstance(rec.model, EpistaticGP)
    assert rec.model.groups is not None and len(set(rec.model.groups[0])) == 6
    assert rec.model.block_variance_ is not None


def test_variant_recommender_takes_a_zero_shot_prior(small) -> None:
    """``prior`` maps site -> choice -> score (e.g. ``ZeroShotPrior.site_table``); a
    site or choice it lacks is one clear line."""
    space, designs, fitness = small
    land = nk_landscape(3, 1, seed=3)
    lib = SiteLibrary(land.parent, [1, 2, 3])
    table = ZeroShotPrior(lib).site_table()
    assert list(table) == list(space.names)
    scores = ZeroShotPrior(lib).score(designs.iloc[:20])
    summed = [sum(table[s][a] for s, a in row.items()) for _, row in designs.iloc[:20].iterrows()]
    assert np.allclose(scores, summed)
    rec = VariantRecommender(prior=table).recommend(space, designs.iloc[:40], fitness[:40], 8)
    assert len(rec) == 8 and isinstance(rec.model, EpistaticGP)
    assert rec.model.prior_scale_ in rec.model.prior_scale_grid
    lacking = {k: v for k, v in table.items() if k != space.names[1]}
    with pytest.raises(InputError, match=rf"{space.names[1]}.*no scores for this site") as err:
        VariantRecommender(prior=lacking).recommend(space, designs.iloc[:40], fitness[:40], 8)
    assert "\n" not in str(err.value)
    partial = {k: dict(v) for k, v in table.items()}
    del partial[space.names[0]]["W"]
    with pytest.raises(InputError, match=r"finite score for every choice.*W: None"):
        VariantRecommender(prior=partial).recommend(space, designs.iloc[:40], fitness[:40], 8)


# -- the recommender ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("surrogate", "acquisition", "distance"),
    [("epistatic", "thompson", 1), ("epistatic", "ucb", 2), ("trees", "thompson", 1)],
)
def test_variant_recommender_batches(small, surrogate, acquisition, distance) -> None:
    space, designs, fitness = small
    seen = designs.iloc[:40]
    pending = designs.iloc[40:45]
    rec = VariantRecommender(surrogate, acquisition, min_distance=distance, n_members=3).recommend(
        space, seen, fitness[:40], 24, seed=5, pending=pending
    )
    assert len(rec) == 24 and rec.mean.shape == (24, 1) and np.isfinite(rec.std).all()
    keys = set(space.keys(rec.designs))
    assert len(keys) == 24 and not keys & set(space.keys(designs.iloc[:45]))
    letters = rec.designs.to_numpy()
    if distance > 1:
        d = (letters[:, None, :] != letters[None, :, :]).sum(2) + np.eye(24, dtype=int) * 9
        assert d.min() >= distance
    again = VariantRecommender(surrogate, acquisition, min_distance=distance, n_members=3)
    same = again.recommend(space, seen, fitness[:40], 24, seed=5, pending=pending)
    assert same.designs.equals(rec.designs)  # same seed, same batch


def test_exploit_share_and_last_round_take_the_posterior_mean(small) -> None:
    """With ``exploit`` the first slots are the best posterior means; in ``last_round``
    the whole batch is (nothing more will be learnt from it)."""
    space, designs, fitness = small
    args = (space, designs.iloc[:60], fitness[:60], 12)
    model = VariantRecommender(acquisition="thompson").recommend(*args, seed=1).model
    assert isinstance(model, EpistaticGP)
    pool = np.array(np.meshgrid(*[np.arange(20)] * 3, indexing="ij")).reshape(3, -1).T
    pool = pool[~np.isin(pool @ [400, 20, 1], model.codes_ @ [400, 20, 1])]
    means = np.sort(model.predict_codes(pool, std=False)[0])[::-1]

    def picked_means(rec) -> np.ndarray:
        from biofab.learn.combinatorial import space_codes

        return model.predict_codes(space_codes(space, rec.designs), std=False)[0]

    half = VariantRecommender(acquisition="thompson", exploit=0.5).recommend(*args, seed=1)
    assert np.allclose(picked_means(half)[:6], means[:6]) and len(half) == 12
    assert picked_means(half)[6:].min() < means[11]  # the rest are Thompson draws
    thompson = VariantRecommender(acquisition="thompson", last_round=2)
    final = thompson.recommend(*args, seed=1, round_index=2)
    assert np.allclose(np.sort(picked_means(final))[::-1], means[:12])
    early = thompson.recommend(*args, seed=1, round_index=1)
    assert not np.allclose(np.sort(picked_means(early))[::-1], means[:12])
    with pytest.raises(ValueError, match="exploit"):
        VariantRecommender(exploit=1.5)
    with pytest.raises(ValueError, match="batch"):
        VariantRecommender(batch="liar")


@pytest.mark.parametrize("batch", ["believer", "top"])
def test_local_share_screens_the_best_variants_neighbours_first(small, batch: str) -> None:
    """With ``local_share`` the first slots are the unmeasured single substitutions of the
    fittest measured variants with the highest posterior means, quota per parent; the rest
    of the batch comes from the acquisition and repeats none of them."""
    space, designs, fitness = small
    rows = np.random.default_rng(0).choice(len(designs), 60, replace=False)
    seen, y = designs.iloc[rows].reset_index(drop=True), fitness[rows]
    rec = VariantRecommender(batch=batch, local_share=0.5, local_parents=2).recommend(
        space, seen, y, 12, seed=1
    )
    model = rec.model
    assert isinstance(model, EpistaticGP) and len(set(space.keys(rec.designs))) == 12
    from biofab.learn.combinatorial import space_codes

    picked = space_codes(space, rec.designs)
    train = space_codes(space, seen)
    pool = np.array(np.meshgrid(*[np.arange(20)] * 3, indexing="ij")).reshape(3, -1).T
    pool = pool[~np.isin(pool @ [400, 20, 1], train @ [400, 20, 1])]
    mu = model.predict_codes(pool, std=False)[0]
    expected: list[int] = []
    for parent in train[np.argsort(-y)[:2]]:
        near = np.flatnonzero((pool != parent).sum(1) == 1)
        ranked = near[np.argsort(-mu[near], kind="stable")]
        expected += [int(i) for i in ranked if i not in expected][:3]
    assert np.array_equal(picked[:6], pool[expected])
    assert ((picked[:3] != train[np.argmax(y)]).sum(1) == 1).all()
    plain = VariantRecommender(batch=batch).recommend(space, seen, y, 12, seed=1)
    assert not plain.designs.equals(rec.designs)
    with pytest.raises(ValueError, match="local_share"):
        VariantRecommender(local_share=1.5)
    with pytest.raises(ValueError, match="local_parents"):
        VariantRecommender(local_parents=0)


def test_trees_share_takes_the_ensembles_ucb_picks_first(small) -> None:
    """``trees_share``: the first slots are the boosting ensemble's UCB top (distinct),
    the GP's believer fills the rest around them."""
    space, designs, fitness = small
    rows = np.random.default_rng(1).choice(len(designs), 60, replace=False)
    seen, y = designs.iloc[rows].reset_index(drop=True), fitness[rows]
    both = VariantRecommender(trees_share=0.5, n_members=3).recommend(space, seen, y, 8, seed=4)
    trees = VariantRecommender("trees", "ucb", n_members=3).recommend(space, seen, y, 4, seed=4)
    assert list(space.keys(both.designs))[:4] == list(space.keys(trees.designs))
    assert len(set(space.keys(both.designs))) == 8 and isinstance(both.model, EpistaticGP)
    with pytest.raises(ValueError, match="trees_share"):
        VariantRecommender(trees_share=-0.1)


def test_pair_cap_limits_any_pair_of_choices_in_a_batch() -> None:
    """``pair_cap``: no two sites carry the same pair of choices in more than ``cap`` picks
    (the uncapped batch does, when one pair is clearly good); the first pick is UCB's
    maximum either way, and a pool too small for the cap still fills the batch."""
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 6, (600, 4))
    y = 3.0 * ((codes[:, 2] == 1) & (codes[:, 3] == 2)) + rng.normal(0, 0.1, 600)
    model = EpistaticGP((6, 6, 6, 6), order=2).fit_codes(codes[:80], y[:80])
    pool = np.unique(codes[80:], axis=0)

    def most_shared(picks: list[int]) -> int:
        chosen = pool[picks]
        return max(
            int(np.unique(chosen[:, [a, b]], axis=0, return_counts=True)[1].max())
            for a in range(4)
            for b in range(a + 1, 4)
        )

    free, _ = model.believer_ucb(pool, 24, kappa=1.0)
    capped, _ = model.believer_ucb(pool, 24, kappa=1.0, pair_cap=3)
    assert most_shared(free) > 3 and most_shared(capped) <= 3
    assert capped[0] == free[0] and len(set(capped)) == 24
    tiny = pool[(pool[:, 2] == 1) & (pool[:, 3] == 2)][:10]
    picks, _ = model.believer_ucb(tiny, 10, kappa=1.0, pair_cap=2)
    assert sorted(picks) == list(range(len(tiny)))


def test_pair_cap_schedule_and_bad_values(small) -> None:
    """``VariantRecommender(pair_cap=...)``: a share of the batch, or one per round (1 = no
    cap); a cap of 1 (the whole batch) picks exactly what no cap picks."""
    space, designs, fitness = small
    args = (space, designs.iloc[::97].reset_index(drop=True), fitness[::97], 12)

    def batch(cap, round_index: int = 1) -> list[str]:
        rec = VariantRecommender(pair_cap=cap).recommend(*args, seed=2, round_index=round_index)
        return list(space.keys(rec.designs))

    assert batch(1.0) == batch(None) == batch((0.2, 1.0), 2)
    assert batch((0.2, 1.0), 1) == batch(0.2)
    for bad in (0.0, 1.5, (0.5, -1.0)):
        with pytest.raises(ValueError, match="pair_cap"):
            VariantRecommender(pair_cap=bad)


def test_recombine_share_takes_children_of_the_best_variants_first(small) -> None:
    """``recombine_share``: the first slots are unmeasured children of the best measured
    variants (every site from one of two parents), ranked by UCB; the rest fills by UCB."""
    space, designs, fitness = small
    rows = np.random.default_rng(3).choice(len(designs), 80, replace=False)
    seen, y = designs.iloc[rows].reset_index(drop=True), fitness[rows]
    rec = VariantRecommender(recombine_share=0.5, recombine_parents=4).recommend(
        space, seen, y, 8, seed=1
    )
    parents = space_codes(space, seen)[np.argsort(-y)[:4]]
    chosen = space_codes(space, rec.designs)
    seen_keys = set(space.keys(seen))
    assert len(set(space.keys(rec.designs))) == 8
    assert not seen_keys & set(space.keys(rec.designs))
    for child in chosen[:4]:  # each site's choice comes from one of two parents
        assert any(
            ((child == a) | (child == b)).all()
            for i, a in enumerate(parents)
            for b in parents[i + 1 :]
        )
    with pytest.raises(ValueError, match="recombine_share"):
        VariantRecommender(recombine_share=1.5)
    with pytest.raises(ValueError, match="recombine_parents"):
        VariantRecommender(recombine_parents=1)


def test_kappa_schedule_by_round(small) -> None:
    """A sequence ``kappa`` is UCB's weight per round; the last entry holds afterwards."""
    space, designs, fitness = small
    args = (space, designs.iloc[::97].reset_index(drop=True), fitness[::97], 6)

    def batch(kappa, round_index: int) -> list[str]:
        rec = VariantRecommender(kappa=kappa).recommend(*args, seed=2, round_index=round_index)
        return list(space.keys(rec.designs))

    assert batch((4.0, 0.5), 1) == batch(4.0, 1)
    assert batch((4.0, 0.5), 2) == batch(0.5, 2) == batch((4.0, 0.5), 5)
    assert batch(4.0, 1) != batch(0.5, 1)


def test_variant_recommender_pool_and_bad_input(small) -> None:
    space, designs, fitness = small
    pool = designs.iloc[100:130]
    rec = VariantRecommender().recommend(
        space, designs.iloc[:20], fitness[:20], 50, candidates=pool
    )
    assert len(rec) == 30 and set(space.keys(rec.designs)) == set(space.keys(pool))
    bad = pool.copy()
    bad.iloc[3, 1] = "B"
    with pytest.raises(InputError, match=r"row 4.*B") as err:
        VariantRecommender().recommend(space, designs.iloc[:20], fitness[:20], 5, candidates=bad)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="categorical parameters only"):
        VariantRecommender().recommend(
            Space({"a": Categorical(list("ACD")), "x": Continuous(0, 1)}),
            pd.DataFrame({"a": ["A", "C"], "x": [0.1, 0.2]}),
            np.array([1.0, 2.0]),
            2,
        )


def test_site_spaces_get_the_variant_recommender(small) -> None:
    space = small[0]
    default = default_recommender(space, 1)
    assert isinstance(default, VariantRecommender)
    assert (default.acquisition, default.batch) == ("ucb", "believer")
    plain = Space({"strain": Categorical(["a", "b"]), "buffer": Categorical(["x", "y", "z"])})
    assert not isinstance(default_recommender(plain, 1), VariantRecommender)
    trees = make_recommender("variants-ucb")
    assert isinstance(trees, VariantRecommender) and trees.surrogate == "trees"


# -- landscapes --------------------------------------------------------------------------


def test_nk_landscape_is_seeded_and_shaped_like_a_measured_one() -> None:
    a, b = nk_landscape(3, 2, seed=1), nk_landscape(3, 2, seed=1)
    assert np.array_equal(a.fitness, b.fitness) and len(a.fitness) == 20**3
    assert a.fitness[list(a.variants).index(a.parent)] == pytest.approx(1.0)
    above = (a.fitness > 1).mean()
    assert 0.015 < above < 0.035  # the parent sits where GB1's wild type does
    assert a.global_max > 3 and np.median(a.fitness) < 0.5
    assert not np.array_equal(nk_landscape(3, 0, seed=1).fitness, a.fitness)
    with pytest.raises(InputError, match="0 <= k < n_sites"):
        nk_landscape(3, 3)


def test_gb1_loads_with_its_known_landmarks() -> None:
    # The real table: missing shared data fails the test (conftest.shared_data).
    gb1 = load_gb1(shared_data("parts/protein_landscapes/gb1_wu2016_4site.csv"))
    assert len(gb1.fitness) == 149_361 and gb1.best_variant == "FWAA"
    assert gb1.global_max == pytest.approx(8.76, abs=0.01)
    assert gb1.fitness[list(gb1.variants).index("VDGV")] == pytest.approx(1.0)
    assert (gb1.fitness >= gb1.top_threshold()).sum() == 150


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Variants,Fitness\nVDGV,1\nVDGB,2\n", r"row 2.*Variants.*VDGB"),
        ("Variants,Fitness\nVDGV,1\nVDGV,2\n", r"row 2.*listed twice.*VDGV"),
        ("Variants,Fitness\nVDGV,1\nADGV,-1\n", r"row 2.*Fitness"),
        ("Variant,Fitness\nVDGV,1\n", r"missing column.*Variants"),
    ],
)
def test_gb1_loader_refuses_bad_tables_in_one_line(tmp_path: Path, text: str, message: str):
    path = tmp_path / "land.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        load_gb1(path)
    assert "\n" not in str(err.value) and "land.csv" in str(err.value)


# -- a campaign through the CLI with 96-well files ----------------------------------------


def _biofab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", *args],
        cwd=cwd,
        env={**os.environ, "BIOFAB_DB": f"sqlite:///{cwd / 'biofab.db'}"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _plate(batch: pd.DataFrame, land) -> pd.DataFrame:
    """A screening plate's results: well, the variant's sites and its measured fitness."""
    fitness = dict(zip(land.variants, land.fitness, strict=True))
    out = batch[list(land.sites)].copy()
    out.insert(0, "well", [f"{'ABCDEFGH'[i // 12]}{i % 12 + 1}" for i in range(len(out))])
    out["fitness"] = [fitness["".join(r)] for r in out[list(land.sites)].to_numpy()]
    return out


def test_campaign_recommend_ingest_round_trip_with_96_well_plates(tmp_path: Path) -> None:
    """Plate 1 (the space-filling start) through the Python API, plate 2 through the
    `biofab` command: the site space gets the variant recommender, 96-well files go in."""
    from biofab.campaign import Campaign

    land = nk_landscape(3, 1, seed=3)
    campaign = Campaign.create(
        "gb", land.space(), ["fitness:max"], store=f"sqlite:///{tmp_path / 'biofab.db'}"
    )
    first = campaign.recommend(96, seed=1)
    batch = first.designs.astype(str)
    _plate(batch, land).to_csv(tmp_path / "results1.csv", index=False)
    assert campaign.ingest(tmp_path / "results1.csv", progress=False).added_measurements == 96
    r = _biofab(
        "campaign", "recommend", "gb", "-n", "96", "--seed", "2", "--out", "plate2.csv",
        "--json", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["recommender"].startswith("variants (epistatic")
    batch = pd.read_csv(tmp_path / "plate2.csv", dtype=str)
    assert len(batch) == 96 and not set(land.space().keys(batch)) & set(
        land.space().keys(first.designs)
    )
    plate = _plate(batch, land)
    # a plate listing one variant twice: one line, exit 2, nothing stored
    twice = plate.copy()
    twice.iloc[5, 1:4] = twice.iloc[4, 1:4]
    twice.to_csv(tmp_path / "twice.csv", index=False)
    r = _biofab("campaign", "ingest", "gb", "twice.csv", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "duplicate design" in r.stderr
    plate.to_csv(tmp_path / "results2.csv", index=False)
    r = _biofab("campaign", "ingest", "gb", "results2.csv", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added_measurements"] == 96
    assert Campaign.load("gb", store=campaign.store).status()["measured"] == 192


def _prior_csv(land, path: Path, rows: list[tuple[str, str, str]] | None = None) -> Path:
    """A site-prior file for ``land``: every site and residue (the site means), or ``rows``."""
    codes = land.codes
    if rows is None:
        rows = [
            (site, a, f"{land.fitness[codes[:, s] == k].mean():.4f}")
            for s, site in enumerate(land.sites)
            for k, a in enumerate(land.alphabet)
        ]
    pd.DataFrame(rows, columns=["site", "residue", "score"]).to_csv(path, index=False)
    return path


def test_site_prior_reaches_the_variant_recommender(tmp_path: Path) -> None:
    """``Campaign.recommend(prior=...)``: the space-filling start does not use it (and says
    so in the round's notes), a model round fits its weight; another recommender is refused
    with nothing stored."""
    from biofab.campaign import Campaign
    from biofab.campaign.site_prior import read_site_prior
    from biofab.learn import make_recommender

    land = nk_landscape(3, 1, seed=3)
    campaign = Campaign.create(
        "nk", land.space(), ["fitness:max"], store=f"sqlite:///{tmp_path / 'biofab.db'}"
    )
    table = read_site_prior(_prior_csv(land, tmp_path / "prior.csv"), campaign.space)
    assert set(table) == set(land.sites) and all(len(r) == 20 for r in table.values())
    first = campaign.recommend(48, seed=1, prior=table)
    assert first.notes["site_prior"]["used"] is False
    _plate(first.designs.astype(str), land).to_csv(tmp_path / "r1.csv", index=False)
    campaign.ingest(tmp_path / "r1.csv", progress=False)
    second = campaign.recommend(8, seed=2, prior=table)
    note = second.notes["site_prior"]
    assert note["used"] is True and note["weight"] in (0.0, 0.25, 0.5, 1.0)
    assert campaign.store.rounds("nk").iloc[-1]["notes"]["site_prior"] == note
    with pytest.raises(InputError, match="only with the variant recommender"):
        campaign.recommend(8, recommender=make_recommender("ucb"), prior=table)
    assert len(campaign.store.rounds("nk")) == 2


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("X9", "A", "1")], r"row 1.*site.*unknown site"),
        ([("{site}", "B", "1")], r"row 1.*residue.*not a choice"),
        ([("{site}", "A", "high")], r"row 1.*score.*not a finite number"),
        ([("{site}", "A", "1"), ("{site}", "A", "2")], r"row 2.*listed twice"),
        ([("{site}", "A", "1")], r"has no score for some of its choices"),
    ],
)
def test_site_prior_bad_files_are_one_line_and_store_nothing(
    tmp_path: Path, rows: list[tuple[str, str, str]], message: str
) -> None:
    """``biofab campaign recommend --prior``: a bad file is one line naming it, exit code 2,
    and no round is stored."""
    from biofab.campaign import Campaign

    land = nk_landscape(3, 1, seed=3)
    campaign = Campaign.create(
        "nk", land.space(), ["fitness:max"], store=f"sqlite:///{tmp_path / 'biofab.db'}"
    )
    site = land.sites[0]
    path = _prior_csv(land, tmp_path / "bad.csv", [(a.format(site=site), b, c) for a, b, c in rows])
    r = _biofab("campaign", "recommend", "nk", "-n", "8", "--prior", "bad.csv", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert re.search(message, r.stderr) and path.name in r.stderr, r.stderr
    assert len(campaign.store.rounds("nk")) == 0


def test_site_prior_reader_refuses_a_wrong_header_and_a_space_that_is_no_library(
    tmp_path: Path,
) -> None:
    """A file without the residue column, and a space with a numeric parameter: one line each."""
    from biofab.campaign.site_prior import read_site_prior
    from biofab.core import Space

    land = nk_landscape(3, 1, seed=3)
    path = tmp_path / "aa.csv"
    path.write_text(f"site,aa,score\n{land.sites[0]},A,1\n")
    with pytest.raises(InputError, match=r"aa\.csv.*column 'residue'.*missing column") as err:
        read_site_prior(path, land.space())
    assert "\n" not in str(err.value)
    mixed = Space.from_dict(
        {"parameters": {"s1": {"type": "categorical", "choices": ["A", "C"]},
                        "t": {"type": "continuous", "lo": 0, "hi": 1}}}
    )  # fmt: skip
    _prior_csv(land, path)
    with pytest.raises(InputError, match="site-library space"):
        read_site_prior(path, mixed)


def test_site_prior_through_the_cli(tmp_path: Path) -> None:
    """A good prior file on a model round: exit 0, the JSON says its fitted weight; a
    missing file or another recommender: one line, exit 2."""
    from biofab.campaign import Campaign

    land = nk_landscape(3, 1, seed=3)
    campaign = Campaign.create(
        "nk", land.space(), ["fitness:max"], store=f"sqlite:///{tmp_path / 'biofab.db'}"
    )
    first = campaign.recommend(48, seed=1)
    _plate(first.designs.astype(str), land).to_csv(tmp_path / "r1.csv", index=False)
    campaign.ingest(tmp_path / "r1.csv", progress=False)
    _prior_csv(land, tmp_path / "prior.csv")
    r = _biofab(
        "campaign", "recommend", "nk", "-n", "8", "--prior", "prior.csv", "--json", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["site_prior"]["used"] is True
    for args in (["--prior", "nowhere.csv"], ["--prior", "prior.csv", "--recommender", "ucb"]):
        r = _biofab("campaign", "recommend", "nk", "-n", "8", *args, cwd=tmp_path)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert len(campaign.store.rounds("nk")) == 2


# -- the benchmark, small --------------------------------------------------------------


def _load_benchmark(name: str = "protein_evolution") -> ModuleType:
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"bench_{name}"] = module
    spec.loader.exec_module(module)
    return module


def test_benchmark_short_run_writes_records(tmp_path: Path) -> None:
    bench = _load_benchmark()
    argv = ["--landscapes", "nk", "--nk-sites", "3", "--seeds", "2", "--first", "24",
            "--batch", "24", "--rounds", "2", "--jobs", "1", "--out", str(tmp_path)]  # fmt: skip
    records = bench.main(argv)
    saved = json.loads((tmp_path / "protein_evolution.json").read_text())
    assert saved == json.loads(json.dumps(records))
    assert len(saved) == 3 * 4  # three metrics x four peers
    for rec in saved:
        assert rec["better"] == "higher" and rec["seeds"] == 2
        assert rec["command"].startswith("python benchmarks/protein_evolution.py --landscapes nk")
        assert 0 <= rec["biofab"] <= 1 and 0 <= rec["peer_value"] <= 1
        if rec["peer_value"] > 0:
            assert rec["ratio"] == round(rec["biofab"] / rec["peer_value"], 3)
    runs = json.loads((tmp_path / "protein_evolution_runs.json").read_text())
    assert len(runs) == 2 * len(bench.METHODS)
    assert all(r["n"] == 24 + 2 * 24 for r in runs)  # the same budget for every method
    # chunks of seeds add up: --combine re-summarises saved runs, refuses overlaps
    runs_file = tmp_path / "protein_evolution_runs.json"
    chunk = tmp_path / "chunk.json"
    chunk.write_text(runs_file.read_text())
    full = "python benchmarks/protein_evolution.py --seeds 2"
    argv = ["--combine", str(chunk), "--record-command", full, "--out", str(tmp_path)]
    combined = bench.main(argv)
    assert [r["biofab"] for r in combined] == [r["biofab"] for r in records]
    assert all(r["command"] == full for r in combined)
    with pytest.raises(SystemExit, match="share"):
        bench.main(["--combine", str(chunk), str(chunk), "--out", str(tmp_path)])
    # --trace: each biofab round's incumbent and the global maximum's rank by that model
    argv = ["--landscapes", "nk", "--nk-sites", "3", "--seeds", "1", "--first", "24",
            "--batch", "24", "--rounds", "2", "--methods", "biofab,biofab-ard", "--jobs", "1",
            "--trace", "--out", str(tmp_path)]  # fmt: skip
    bench.main(argv)
    traced = json.loads((tmp_path / "protein_evolution_runs.json").read_text())
    land = nk_landscape(3, 2, seed=0)
    for run in traced:
        assert len(run["rounds"]) == 2
        first = run["rounds"][0]
        assert first["incumbent_fitness"] <= land.global_max and first["distance_to_max"] <= 3
        rank = first["max_rank_ucb"]
        assert rank is None or 0 <= rank < len(land.fitness)


def test_oracle_diagnostics_are_the_landscape_site_means() -> None:
    """The seventh pass's oracle (a diagnostic, never a method): each cell of the table is
    the mean fitness of the landscape's variants with that residue at that site; the oracle
    focus draws distinct variants from the top 10 % of its additive score; both oracle
    settings run a campaign with the same budget as every method."""
    bench = _load_benchmark()
    land = nk_landscape(3, 2, seed=0)
    table = bench.oracle_table(land)
    codes = land.codes
    for s, site in enumerate(land.sites):
        for k, a in enumerate(land.alphabet):
            assert np.isclose(table[site][a], land.fitness[codes[:, s] == k].mean())
    score = sum(
        np.array([table[site][a] for a in land.alphabet])[codes[:, s]]
        for s, site in enumerate(land.sites)
    )
    first = bench._oracle_first(land, 3, 24)
    assert len(set(first)) == 24
    assert score[first].min() >= np.sort(score)[::-1][len(score) // 10 - 1]
    setup = bench.Setup(first=24, batch=24, rounds=1, nk_sites=3)
    for method in ("biofab-oracle-mean", "biofab-oracle-focus"):
        run = bench.run_one(("nk", method, 0, setup))
        assert run["n"] == 48 and 0 < run["best_fraction"] <= 1


def test_plm_prior_scorer_is_a_normalised_language_model(tmp_path: Path) -> None:
    """``benchmarks/protein_plm_prior.py`` on a tiny random weight file of UniRep's layout:
    the first residue's probabilities over the 21 residue tokens sum to at most 1 (the head
    has 25 classes), a longer sequence is less likely than its prefix, the site table has
    one entry per site and residue with 0 for the parent's residue; a missing weight file
    is one line and exit code 2."""
    plm = _load_benchmark("protein_plm_prior")
    rng = np.random.default_rng(0)
    n = 6
    shapes = {"wx": (10, 4 * n), "wh": (n, 4 * n), "wmx": (10, n), "wmh": (n, n)}
    arrays = {f"mlstm.0.{k}": rng.normal(size=s) for k, s in shapes.items()}
    arrays |= {"mlstm.0.gx": rng.normal(size=4 * n), "mlstm.0.gh": rng.normal(size=4 * n)}
    arrays |= {"mlstm.0.gmx": rng.normal(size=n), "mlstm.0.gmh": rng.normal(size=n)}
    arrays |= {"mlstm.0.b": rng.normal(size=4 * n), "embedding": rng.normal(size=(26, 10))}
    arrays |= {"dense.w": rng.normal(size=(n, 25)), "dense.b": rng.normal(size=25)}
    np.savez(tmp_path / "w.npz", **arrays)
    scorer = plm.UniRepScorer(tmp_path / "w.npz")
    first = sum(np.exp(scorer.log_likelihood(a)) for a in plm.TOKENS)
    assert 0 < first <= 1 + 1e-9
    assert scorer.log_likelihood("MKV") < scorer.log_likelihood("MK") < 0
    table = plm.site_table(scorer, "MKVLA", (2, 4), ("K2", "L4"), "ACDKL")
    assert list(table) == ["K2", "L4"] and all(len(row) == 5 for row in table.values())
    assert table["K2"]["K"] == 0.0 and table["L4"]["L"] == 0.0
    with pytest.raises(SystemExit) as stop:
        plm.main(["--weights", str(tmp_path / "missing.npz")])
    assert stop.value.code == 2


@pytest.mark.parametrize(
    "setting",
    [
        {"pair_cap": 0.25, "batch": "top"},
        {"recombine_share": 0.25, "acquisition": "thompson"},
        {"trees_share": 0.25, "surrogate": "trees"},
    ],
)
def test_believer_only_options_are_refused_where_no_believer_batch_is_built(
    setting: dict[str, object],
) -> None:
    """An option the believer batch alone reads is an error elsewhere, not a silent no-op."""
    name = next(k for k in setting if k in ("pair_cap", "recombine_share", "trees_share"))
    with pytest.raises(ValueError, match=f"{name} only act in the believer batch"):
        VariantRecommender(**setting)  # type: ignore[arg-type]
