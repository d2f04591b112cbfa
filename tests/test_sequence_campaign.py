"""DBTL over sequences: a campaign on a Sequence space, with the sequence recommender."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biofab.campaign import Campaign
from biofab.core import Sequence, Space
from biofab.learn import EnsembleUCB, MLPEnsemble, default_recommender
from biofab.learn.sequence_recommender import (
    SequenceRecommender,
    diverse_top,
    hamming_matrix,
    mutate,
)
from biofab.store import Store
from biofab.testbeds.sequence_oracle import SigmaPromoterOracle

FIXED = {0: "G", 1: "C", 38: "A", 39: "T"}


def oracle(seed: int = 0) -> SigmaPromoterOracle:
    return SigmaPromoterOracle(40, fixed=FIXED, seed=seed)


def test_oracle_scores_consensus_and_spacing() -> None:
    tb = oracle()
    best = "GC" + "TTGACA" + "ATGCATGCATGCATGCA" + "TATAAT" + "CGATCGA" + "AT"
    assert len(best) == 40
    assert tb.score([best])[0] == pytest.approx(tb.optimum())
    # One nt longer spacer costs SPACER_PENALTY; a broken -10 box costs its weights.
    longer = "GC" + "TTGACA" + "ATGCATGCATGCATGCAG" + "TATAAT" + "CGATCG" + "AT"
    assert tb.score([longer])[0] == pytest.approx(tb.optimum() - 0.75)
    out = tb.evaluate(pd.DataFrame({"promoter": [best, longer]}))
    assert list(out.columns) == ["strength", "strength_std"]
    with pytest.raises(Exception, match="fixed position"):
        tb.evaluate(pd.DataFrame({"promoter": ["A" * 40]}))


def test_default_recommender_picks_the_sequence_recommender() -> None:
    rec = default_recommender(oracle().space, 1)
    assert isinstance(rec, SequenceRecommender) and isinstance(rec, EnsembleUCB)


def test_mutants_keep_fixed_letters_and_avoid_motifs() -> None:
    p = Sequence("ACGT", 12, fixed={0: "G", 11: "T"}, forbidden_motifs=("GAATTC",))
    parent = "GAATTAAAAAAT"  # one letter from an EcoRI site
    kids = mutate(p, [parent], 400, np.random.default_rng(0), max_mutations=2)
    assert kids and len(set(kids)) == len(kids)
    for k in kids:
        assert p.problem(k) is None
        assert 1 <= sum(a != b for a, b in zip(k, parent, strict=True)) <= 2


def test_diverse_batch_respects_min_distance() -> None:
    space = Space({"s": Sequence("ACGT", 6)})
    pool = pd.DataFrame({"s": ["AAAAAA", "AAAAAC", "AAAACC", "CCCCCC", "CCCCCA"]})
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    picked, d = diverse_top(space, pool, scores, 3, min_distance=2)
    assert picked == [0, 2, 3] and d == 2
    assert hamming_matrix(space, pool.iloc[picked], pool.iloc[picked]).tolist() == [
        [0, 2, 6],
        [2, 0, 4],
        [6, 4, 0],
    ]
    # Too few far-apart designs: the distance relaxes instead of returning a short batch.
    picked, d = diverse_top(space, pool, scores, 5, min_distance=6)
    assert len(picked) == 5 and d < 6


def test_three_round_campaign_improves_with_legal_new_designs() -> None:
    tb = oracle(seed=0)
    c = Campaign.create("promoters", tb.space, ["strength:max"], store=Store("sqlite://"))
    history = c.run(tb, rounds=3, batch=12, seed=0, progress=False)
    rounds = c.store.rounds("promoters")
    assert [r.split(" ")[0] for r in rounds["recommender"]] == [
        "space-filling",
        "sequence-ucb",
        "sequence-ucb",
    ]
    data = c.data()
    assert len(data) == 36
    seqs = data["promoter"].tolist()
    assert len(set(seqs)) == 36  # nothing measured twice
    for s in seqs:
        assert tb.parameter.problem(s) is None  # fixed letters kept, no BsaI/EcoRI site
    true = pd.Series(tb.score(seqs)).groupby(data["round"].to_numpy()).max().cummax()
    assert true.iloc[-1] > true.iloc[0] + 0.5
    assert history["best_so_far"].iloc[-1] > history["best_so_far"].iloc[0]
    # The stored model explains which positions matter, and the report maps them.
    assert len(c.explain()) == 1
    # The section comes from the parts pillar's plug-in record, not from the report.
    from biofab.parts.report import applies, mutagenesis_sections
    from biofab.report import campaign_report

    assert applies(c)
    sections = mutagenesis_sections(c)
    assert next(h for h, _ in sections).startswith("In-silico mutagenesis")
    assert "In-silico mutagenesis of the best sequence" in campaign_report(c)


def test_pending_designs_are_not_proposed_again_and_pool_is_honoured() -> None:
    tb = oracle(seed=1)
    c = Campaign.create("pending", tb.space, ["strength:max"], store=Store("sqlite://"))
    first = c.recommend(10, seed=0)
    d = first.designs[tb.space.names]
    c.ingest(pd.concat([d, tb.evaluate(d)], axis=1), filename="plate1")
    a = c.recommend(6, seed=1)
    b = c.recommend(6, seed=2)  # a's designs are still pending
    keys_a, keys_b = set(tb.space.keys(a.designs)), set(tb.space.keys(b.designs))
    assert len(keys_a) == len(keys_b) == 6 and not keys_a & keys_b
    assert not (keys_a | keys_b) & set(tb.space.keys(d))
    assert a.designs.shape[0] == 6 and np.isfinite(a.mean).all() and (a.std >= 0).all()
    # With a pool, only pool members come back (unmeasured ones).
    pool = pd.concat([d.iloc[:3], tb.space.sample(8, seed=5)[tb.space.names]], ignore_index=True)
    rec = SequenceRecommender(surrogate=MLPEnsemble(n_members=3, epochs=50)).recommend(
        tb.space, d, tb.true_value(d), 4, candidates=pool, seed=0
    )
    got = set(tb.space.keys(rec.designs))
    assert len(got) == 4 and got <= set(tb.space.keys(pool.iloc[3:]))
