"""Promoter models that transfer (issue 14, items 1-2): the vectorised energy scan equals the
Promoter Calculator, the physics-residual estimator trains, saves, loads and predicts through
the real CLI with a calibrated std and a distance-from-training warning, and single-member
ensembles do not claim certainty. Small slices of the shared LaFleur and Hossain tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.core.errors import InputError
from biofab.parts.calibration import ErrorScale, Novelty, interval_report
from biofab.parts.datasets import load_hossain, load_lafleur
from biofab.parts.models import KmerRidge, PhysicsResidual, load_model, make_model
from biofab.parts.physics import PromoterCalculator
from biofab.parts.promoter_energy import EnergyScanner
from biofab.parts.promoter_features import (
    ElementDistance,
    chassis_rows,
    element_features,
    element_table,
)
from conftest import shared_data
from test_parts_cli_edges import biofab

LAFLEUR = "parts/promoters/lafleur2022_supp_data3.csv"
HOSSAIN = "parts/promoters/hossain2020_from_lafleur2022_supp.csv"
SMALL = {"n_members": 3, "n_estimators": 40, "calibration_folds": 3}


@pytest.fixture(scope="module")
def lafleur() -> pd.DataFrame:
    data = load_lafleur(shared_data(LAFLEUR))
    return data.sample(400, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def hossain() -> pd.DataFrame:
    return load_hossain(shared_data(HOSSAIN)).sample(200, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(lafleur: pd.DataFrame) -> PhysicsResidual:
    return PhysicsResidual(**SMALL).fit(lafleur["sequence"].tolist(), lafleur["target"])


def test_scan_equals_the_promoter_calculator(lafleur: pd.DataFrame, hossain: pd.DataFrame) -> None:
    seqs = lafleur["sequence"].iloc[:3].tolist() + hossain["sequence"].iloc[:3].tolist()
    ref = PromoterCalculator().features(seqs)
    mine = EnergyScanner().scan(seqs)
    for col in ("dG_total", "dG_10", "dG_35", "dG_ITR", "dG_UP", "dG_spacer", "dG_disc"):
        np.testing.assert_allclose(mine[col], ref[col], atol=1e-3, err_msg=col)
    for col in ("tss", "spacer_length", "discriminator_length", "hex35", "hex10"):
        assert mine[col].tolist() == ref[col].tolist(), col


def test_scan_refuses_sequences_without_a_site() -> None:
    with pytest.raises(InputError, match="no complete sigma70 promoter site"):
        EnergyScanner(upstream="").scan(["ACGT" * 10])
    with pytest.raises(InputError, match="row 2"):
        EnergyScanner().scan(["ACGT" * 20, "ACGTNX" * 12])


def test_element_features_read_the_hexamers(lafleur: pd.DataFrame) -> None:
    F = element_features(lafleur["sequence"].iloc[:20].tolist())
    site = EnergyScanner().scan(lafleur["sequence"].iloc[:20].tolist())
    for i, hexamer in enumerate(site["hex10"]):
        assert [F.loc[i, f"h10_{p}{b}"] for p, b in enumerate(hexamer)] == [1.0] * 6
    assert np.isfinite(F.to_numpy()).all()


def test_physics_residual_calibrated_and_far_sequences_widened(
    fitted: PhysicsResidual, hossain: pd.DataFrame, tmp_path: Path
) -> None:
    cal = fitted.calibration_
    assert cal["split"].startswith("GroupKFold(3)")
    assert 0.60 <= cal["coverage_1std"] <= 0.76
    seqs = hossain["sequence"].tolist()
    table = fitted.predict_table(seqs)
    assert (table["std"] > 0).all() and np.isfinite(table["prediction"]).all()
    # transfer: better than chance on another lab's library, on the right sign
    assert np.corrcoef(table["prediction"], hossain["target"])[0, 1] > 0.3
    padded = ["ACGTTGCA" * 8 + s + "TGCAACGT" * 6 for s in seqs[:20]]
    far = fitted.predict_table(padded)
    assert (far["warning"].str.contains("length")).all()
    assert (far["distance_factor"] >= 1.5).all()
    assert far["std"].mean() > table["std"].iloc[:20].mean()
    fitted.save(tmp_path / "m")
    back = load_model(tmp_path / "m", kind="promoter")
    mean, std = back.predict(seqs[:10])
    np.testing.assert_allclose(mean, table["prediction"].iloc[:10])
    np.testing.assert_allclose(std, table["std"].iloc[:10])


def test_calibration_covers_each_kind_of_new_element(fitted: PhysicsResidual) -> None:
    per = fitted.calibration_["per_grouping"]
    assert set(per) == {"hex10", "hex35", "up_word", "spacer_word"}
    for rep in per.values():
        # the rows carrying the library's default element always train: fewer tested rows
        assert 0.4 <= rep["coverage_1std"] <= 0.95 and 0 < rep["n"] < fitted.n_train_
    assert fitted.calibration_["n"] == sum(rep["n"] for rep in per.values())
    assert "default element" in fitted.calibration_["split"]


def test_calibration_folds_keep_the_default_element_in_training() -> None:
    variants = ["TTCGCA", "TACGCA", "TTCTCA", "TTAGCA", "ATCGCA", "TTCGCT", "CTCGCA", "TGCGCA"]
    words = np.array(["TTGACA"] * 30 + ["TGACAA"] * 5 + variants + ["TTCGGA"])
    chassis = chassis_rows(words)
    # the default and the default read one base off are the chassis; the variants are not
    assert chassis[:35].all() and not chassis[35:].any()
    model = PhysicsResidual(calibration_folds=3)
    splits, how = model._calibration_splits(words, "hex35", ("hex35",))
    assert len(splits) == 3 and "default element" in how
    held = np.concatenate([te for _, te in splits])
    assert sorted(held) == list(range(35, len(words)))
    for tr, te in splits:
        assert chassis[tr].sum() == 35 and not set(tr) & set(te)
        assert not set(words[tr]) & set(words[te])
    # too few variants for the folds: GroupKFold over every row, as before
    few = np.array(["TTGACA"] * 30 + ["GGGGGG", "CCCCCC"])
    splits, how = model._calibration_splits(few, "hex35", ("hex35",))
    assert "default element" not in how and len(splits) == 3


def test_benchmark_element_splits_hold_out_variants_and_default() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from parts import element_splits

    groups = np.array(["D"] * 20 + [f"v{i}" for i in range(9)])
    (name0, old, _), (name1, var, _), (name2, dflt, _) = element_splits(groups, "UP", 3)
    assert (name0, name1, name2) == ("leave_UP_out", "leave_UP_variants_out", "UP_default_out")
    assert any(set(range(20)) <= set(te) for _, te in old)  # the old split tests the block
    for tr, te in var:
        assert set(range(20)) <= set(tr) and set(te) <= set(range(20, 29))
    assert sorted(np.concatenate([te for _, te in var])) == list(range(20, 29))
    assert list(dflt[0][1]) == list(range(20)) and list(dflt[0][0]) == list(range(20, 29))


def test_element_distance_measures_new_elements(lafleur: pd.DataFrame) -> None:
    seqs = lafleur["sequence"].tolist()
    _, site = element_table(seqs)
    dist = ElementDistance().fit(site.iloc[:300])
    seen = dist.describe(site.iloc[:300])
    assert (seen[:, :4] == 0).all()  # every training element is its own nearest
    new = dist.describe(site.iloc[300:])
    unseen10 = ~site["hex10"].iloc[300:].isin(set(site["hex10"].iloc[:300])).to_numpy()
    assert (new[unseen10, 1] >= 1).all() and (new[~unseen10, 1] == 0).all()
    # consensus TATAAT scores above a hexamer unlike any training -10
    probe = site.iloc[:2].copy()
    probe["hex10"] = ["TATAAT", "GCGCGC"]
    score = dist.describe(probe)[:, 5]
    assert score[0] > score[1]
    back = ElementDistance.from_state(dist.state())
    np.testing.assert_array_equal(back.describe(site.iloc[300:]), new)


def _plain_hex35(seq: str) -> str:
    """The -35 the calculator's own scan (22-nt flank) finds, "" when it finds no site."""
    try:
        return str(EnergyScanner().scan([seq])["hex35"].iloc[0])
    except InputError:
        return ""


def test_trimmed_promoter_keeps_its_minus35_and_marks_up_missing(
    fitted: PhysicsResidual, lafleur: pd.DataFrame
) -> None:
    seqs = lafleur["sequence"].iloc[:50].tolist()
    F, site = fitted._table(seqs)
    cut = [s[max(0, a) :] for s, a in zip(seqs, site["h35_start"], strict=True)]
    Ft, site_t = fitted._table(cut)
    # cut right at the -35: the scan still finds that -35 (the flank reaches a whole UP
    # window; without the UP another site wins now and then), where the calculator's own
    # 22-nt flank cannot place it; and the UP is missing (NaN), not the flank read as weak
    kept = (site_t["hex35"] == site["hex35"]).mean()
    plain = np.mean([_plain_hex35(c) == h for c, h in zip(cut, site["hex35"], strict=True)])
    assert kept > 0.75 and kept > plain + 0.3
    same = (site_t["hex35"] == site["hex35"]).to_numpy()
    assert (Ft["up_visible"][same] < 0.5).all() and Ft["up_at_0"][same].isna().all()
    assert F["up_visible"].gt(0.5).mean() > 0.5
    mean, std = fitted.predict(cut)
    assert np.isfinite(mean).all() and (std > 0).all()


def test_physics_residual_refuses_unknown_settings(lafleur: pd.DataFrame) -> None:
    seqs, y = lafleur["sequence"].iloc[:60].tolist(), lafleur["target"].iloc[:60]
    with pytest.raises(InputError, match="calibration_groups"):
        PhysicsResidual(calibration_groups="UP", **SMALL).fit(seqs, y)
    with pytest.raises(InputError, match="error model"):
        PhysicsResidual(error_model="forest", **SMALL).fit(seqs, y)
    with pytest.raises(InputError, match="unknown line"):
        PhysicsResidual(line="dG_10", **SMALL).fit(seqs, y)
    with pytest.raises(InputError, match="error_descriptors"):
        PhysicsResidual(error_descriptors="all", **SMALL).fit(seqs, y)


def test_physics_residual_is_for_promoters() -> None:
    with pytest.raises(InputError, match="promoters only"):
        make_model("physics-residual", "rbs").fit(["ACGT" * 5] * 12, np.arange(12.0))


def test_single_member_reports_no_uncertainty(lafleur: pd.DataFrame) -> None:
    model = KmerRidge(n_members=1).fit(lafleur["sequence"].tolist(), lafleur["target"])
    _, std = model.predict(lafleur["sequence"].iloc[:5].tolist())
    assert np.isnan(std).all()


def test_error_scale_and_novelty() -> None:
    rng = np.random.default_rng(0)
    d = rng.uniform(0.1, 2.0, 2000)
    err = np.abs(rng.normal(0, d))
    scale = ErrorScale().fit(d[:, None], err)
    rep = interval_report(np.zeros(2000), err, scale.std(d[:, None]))
    assert 0.66 <= rep["coverage_1std"] <= 0.70 and rep["spearman_abs_error_std"] > 0.3
    # boosted: an error that grows only past a threshold; the state round-trips
    step = np.where(d > 1.5, 1.0, 0.1)
    err2 = np.abs(rng.normal(0, step))
    boosted = ErrorScale("boosted").fit(d[:, None], err2)
    rep2 = interval_report(np.zeros(2000), err2, boosted.std(d[:, None]))
    assert 0.66 <= rep2["coverage_1std"] <= 0.70 and rep2["spearman_abs_error_std"] > 0.4
    back = ErrorScale.from_state(boosted.state())
    np.testing.assert_allclose(back.std(d[:50, None]), boosted.std(d[:50, None]), rtol=1e-6)
    seqs = ["".join(rng.choice(list("ACGT"), 80)) for _ in range(200)]
    nov = Novelty().fit(seqs)
    assert nov.warnings(seqs[:1]) == [""] or nov.score(seqs[:1])[0] > nov.threshold_
    assert "composition" in nov.warnings(["A" * 40 + "T" * 40])[0]


def test_cli_train_reports_calibration_and_predict_warns(
    lafleur: pd.DataFrame, hossain: pd.DataFrame, tmp_path: Path
) -> None:
    lafleur[["sequence", "target"]].to_csv(tmp_path / "train.csv", index=False)
    done = biofab("parts", "train", "train.csv", "--kind", "promoter", "--model",
                  "physics-residual", "--members", "3", "--out", "m.dir", "--json",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["estimator"] == "physics-residual"
    assert 0.60 <= report["calibration"]["coverage_1std"] <= 0.76
    assert "spearman_abs_error_std" in report["calibration"]
    shifted = pd.DataFrame({"sequence": ["GCGC" * 10 + s for s in hossain["sequence"][:5]]})
    shifted.to_csv(tmp_path / "new.csv", index=False)
    done = biofab("parts", "predict", "new.csv", "--model", "m.dir", "--out", "out.csv",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert {"prediction", "std", "ensemble_std", "warning"} <= set(out.columns)
    assert out["warning"].str.contains("length").all()
    # bad input: a letter outside ACGT is one line, exit 2, nothing written
    pd.DataFrame({"sequence": ["ACGTX" * 16]}).to_csv(tmp_path / "bad.csv", index=False)
    done = biofab("parts", "predict", "bad.csv", "--model", "m.dir", "--out", "bad_out.csv",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad_out.csv").exists()


def test_cli_single_member_says_it_has_no_std(lafleur: pd.DataFrame, tmp_path: Path) -> None:
    lafleur[["sequence", "target"]].iloc[:100].to_csv(tmp_path / "train.csv", index=False)
    done = biofab("parts", "train", "train.csv", "--kind", "promoter", "--model", "kmer-ridge",
                  "--members", "1", "--out", "one.dir", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = biofab("parts", "predict", "train.csv", "--model", "one.dir", "--out", "p.csv",
                  "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["mean_std"] is None
    assert report["uncertainty"] == "none (single-member ensemble)"
    assert pd.read_csv(tmp_path / "p.csv")["std"].isna().all()


def test_round3_model_directory_loads_with_its_twelve_descriptors(
    lafleur: pd.DataFrame, tmp_path: Path
) -> None:
    seqs, y = lafleur["sequence"].iloc[:150].tolist(), lafleur["target"].iloc[:150].to_numpy()
    model = PhysicsResidual(error_descriptors="full", **SMALL).fit(seqs, y)
    model.save(tmp_path / "old.model")
    # a directory saved before error_descriptors existed has no such parameter
    manifest = json.loads((tmp_path / "old.model" / "manifest.json").read_text())
    del manifest["params"]["error_descriptors"]
    (tmp_path / "old.model" / "manifest.json").write_text(json.dumps(manifest))
    back = load_model(tmp_path / "old.model")
    assert back.error_descriptors == "full"  # type: ignore[attr-defined]
    np.testing.assert_allclose(back.predict(seqs[:5])[1], model.predict(seqs[:5])[1])
