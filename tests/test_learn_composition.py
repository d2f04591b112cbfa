"""Composable recommenders: stateless, cloned surrogates, capabilities, the name registry,
and the sequence search shared with parts design."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from biofab.core import Continuous, InputError, Integer, Sequence, Space
from biofab.learn import (
    UCB,
    AutoRecommender,
    BayesianOptimization,
    CandidateSearch,
    ComposedRecommender,
    EnsembleUCB,
    GPSurrogate,
    MultiObjective,
    SequenceRecommender,
    SpaceFilling,
    TreeEnsemble,
    clone,
    make_recommender,
    recommender_names,
    register_recommender,
)
from biofab.learn.registry import _REGISTRY
from biofab.learn.sequence_search import (
    ParameterRules,
    PointMutator,
    diverse_pick,
    hamming,
    within_reach,
)


@pytest.fixture
def space() -> Space:
    return Space({"x": Continuous(0, 1, step=0.05), "n": Integer(1, 6)})


def measured(space: Space, n: int = 16) -> tuple[pd.DataFrame, np.ndarray]:
    d = space.sample(n, seed=0)[space.names]
    return d, np.asarray(-((d["x"] - 0.7) ** 2) - 0.01 * d["n"])[:, None]


def test_same_inputs_same_batch_and_no_fitted_state_left(space: Space) -> None:
    d, y = measured(space)
    template = TreeEnsemble(n_members=3, n_estimators=30, seed=4)
    ucb = EnsembleUCB(template)
    before = dict(vars(ucb))
    a = ucb.recommend(space, d, y, 4, seed=7)
    b = ucb.recommend(space, d, y, 4, seed=7)
    assert a.designs.equals(b.designs) and np.array_equal(a.acquisition, b.acquisition)
    assert vars(ucb) == before  # nothing fitted was stored on the recommender
    assert not hasattr(template, "members_")  # the user's model was cloned, not fitted
    # The fitted model travels on the recommendation, one fresh model per call.
    assert isinstance(a.model, TreeEnsemble) and a.model is not b.model
    assert a.model is not template and a.model.n_members == 3 and a.model.seed == 4
    mean, _ = a.model.predict(space.encode(a.designs))
    assert np.allclose(mean, a.mean[:, 0])


def test_user_gp_is_cloned_and_the_model_is_on_the_recommendation(space: Space) -> None:
    d, y = measured(space, 12)
    gp = GPSurrogate(seed=3)
    rec = BayesianOptimization(gp, n_mc=16).recommend(space, d, y, 3, seed=0)
    assert not hasattr(gp, "model_") and isinstance(rec.model, GPSurrogate)
    assert rec.model.seed == 3 and rec.model.n_features_in_ == space.width
    sf = SpaceFilling().recommend(space, d, y, 3, seed=0)
    assert sf.model is None and np.isnan(sf.mean).all()


def test_clone_copies_hyper_parameters_only() -> None:
    fitted = TreeEnsemble(n_members=2, max_depth=2, seed=9).fit(
        np.random.default_rng(0).random((8, 2)), np.arange(8.0)
    )
    copy = clone(fitted)
    assert type(copy) is TreeEnsemble and copy.max_depth == 2 and copy.seed == 9
    assert not hasattr(copy, "members_") and hasattr(fitted, "members_")


def test_capabilities_replace_class_tests() -> None:
    assert MultiObjective().outputs == "multi" and BayesianOptimization().outputs == "single"
    assert SpaceFilling().outputs == "any" and not SpaceFilling().needs_model
    assert SpaceFilling().min_data == 0 and EnsembleUCB().min_data == 2
    assert BayesianOptimization().supports_pending and MultiObjective().supports_pending
    assert not EnsembleUCB().supports_pending and not SequenceRecommender().supports_pending
    assert AutoRecommender().outputs == "single" and AutoRecommender().needs_model


def test_a_new_composition_from_parts(space: Space) -> None:
    d, y = measured(space)
    pending = space.sample(3, seed=5, exclude=space.keys(d))[space.names]
    rec = ComposedRecommender(
        lambda seed: TreeEnsemble(n_members=3, n_estimators=30, seed=seed or 0),
        UCB(kappa_schedule=(2.0, 0.1), horizon=2),
        CandidateSearch(n_global=256, refine=False),
        name="trees-ucb",
    )
    out = rec.recommend(space, d, y, 5, seed=1, round_index=1, pending=pending)
    assert out.recommender == "trees-ucb (kappa=0.1)" and out.notes["kappa"] == 0.1
    keys = set(space.keys(out.designs))
    assert len(keys) == 5 and not keys & (set(space.keys(d)) | set(space.keys(pending)))
    with pytest.raises(ValueError, match="one utility"):
        rec.recommend(space, d, np.hstack([y, y]), 2, seed=0)


def test_registry_makes_named_recommenders_and_refuses_unknown_names() -> None:
    names = recommender_names()
    assert names[0] == "auto" and {"bo", "ucb", "mobo", "sobol", "sequence"} <= set(names)
    assert make_recommender("auto") is None
    assert isinstance(make_recommender("ucb", horizon=4), EnsembleUCB)
    lhs = make_recommender("lhs")
    assert isinstance(lhs, SpaceFilling) and lhs.method == "lhs"
    with pytest.raises(InputError, match="unknown recommender") as err:
        make_recommender("bogus")
    assert "\n" not in str(err.value) and "mobo" in str(err.value)
    register_recommender("test-wide-ucb", EnsembleUCB, "wide", options={"horizon": 99})
    try:
        made = make_recommender("test-wide-ucb")
        assert isinstance(made, EnsembleUCB) and made.horizon == 99
        with pytest.raises(ValueError, match="already registered"):
            register_recommender("test-wide-ucb", EnsembleUCB, "again")
    finally:
        del _REGISTRY["test-wide-ucb"]
    with pytest.raises(ValueError):
        register_recommender("auto", EnsembleUCB, "reserved")


def test_registry_names_load_without_torch() -> None:
    code = (
        "import sys; from biofab.learn.registry import recommender_names; "
        "assert 'bo' in recommender_names(); "
        "assert 'torch' not in sys.modules and 'xgboost' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_point_mutants_follow_the_rules_and_the_trust_region() -> None:
    p = Sequence("ACGT", 12, fixed={0: "G", 11: "T"}, forbidden_motifs=("GAATTC",))
    mutator = PointMutator(ParameterRules(p), p.length)
    assert 0 not in mutator.free and 11 not in mutator.free and len(mutator.free) == 10
    rng = np.random.default_rng(0)
    parent = "GAATTAAAAAAT"
    for k in (1, 2, 5):
        for _ in range(30):
            m = mutator.mutant(parent, k, rng)
            assert m is not None and p.problem(m) is None and hamming(m, parent) == k
    far = [mutator.mutant(parent, 4, rng) for _ in range(20)]
    assert within_reach(far, parent, 3) == [] and len(within_reach(far, parent, None)) == 20
    kids = mutator.mutants([parent], 200, rng, max_mutations=2)
    assert len(set(kids)) == len(kids) and all(1 <= hamming(k, parent) <= 2 for k in kids)


def test_diverse_pick_relaxes_only_when_asked() -> None:
    rows = np.array([list(s) for s in ["AAAA", "AAAC", "CCCC", "CCCA"]])
    scores = np.array([4.0, 3.0, 2.0, 1.0])
    assert diverse_pick(rows, scores, 4, 3) == ([0, 2], 3)
    picked, used = diverse_pick(rows, scores, 4, 3, relax=True)
    assert picked == [0, 2, 1, 3] and used == 1


def test_sequence_trust_radius_keeps_designs_near_the_measured_ones() -> None:
    p = Sequence("ACGT", 16)
    space = Space({"s": p})
    d = space.sample(12, seed=0)[["s"]]
    y = np.array([s.count("G") for s in d["s"]], dtype=float)[:, None]
    model = TreeEnsemble(n_members=3, n_estimators=30)
    rec = SequenceRecommender(model, n_random=0, n_mutants=200, trust_radius=2).recommend(
        space, d, y, 4, seed=0
    )
    near = [min(hamming(s, m) for m in d["s"]) for s in rec.designs["s"]]
    assert len(rec) == 4 and max(near) <= 2
