"""k-mer models: calibrated std (grouped out-of-fold errors), reported and saved."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from biofab.cli.parts import parts_app
from biofab.core.errors import InputError
from biofab.parts.calibration import ErrorScale, composition_groups
from biofab.parts.models import KmerBoost, KmerRidge, load_model


def _data(n: int = 160, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Random 60-nt promoters whose strength follows their TA and GC dinucleotides."""
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), size=60)) for _ in range(n)]
    y = np.array([s.count("TA") - 0.5 * s.count("GC") for s in seqs], float)
    return seqs, y + rng.normal(scale=0.5, size=n)


def test_calibrated_std_keeps_the_mean_and_reports_coverage() -> None:
    seqs, y = _data()
    raw = KmerRidge(k=2, n_members=4, calibration_folds=0).fit(seqs, y)
    cal = KmerRidge(k=2, n_members=4).fit(seqs, y)
    m0, s0 = raw.predict(seqs[:20])
    m1, s1 = cal.predict(seqs[:20])
    np.testing.assert_allclose(m1, m0)  # the std changes, never the mean
    assert (s1 > 0).all() and not np.allclose(s1, s0)
    c = cal.calibration_
    assert c is not None and "GroupKFold(3)" in c["split"]
    assert 0.55 <= c["coverage_1std"] <= 0.8  # 68.3 % of the fitting residuals
    assert {"spearman_abs_error_std", "uncalibrated", "pearson_r"} <= set(c)
    assert raw.calibration_ is None
    # a sequence unlike any training one: wider std and a warning
    far = ["AT" * 30, seqs[0]]
    table = cal.predict_table(far)
    assert table["distance_factor"][0] > 1 and "composition far" in table["warning"][0]
    assert table["warning"][1] == ""


def test_single_member_reports_no_std_and_no_calibration() -> None:
    seqs, y = _data()
    one = KmerRidge(k=2, n_members=1).fit(seqs, y)
    mean, std = one.predict(seqs[:5])
    assert np.isfinite(mean).all() and np.isnan(std).all()
    assert one.calibration_ is None  # no coverage claimed for a std it does not give


def test_boost_protein_calibrated() -> None:
    rng = np.random.default_rng(1)
    seqs = ["M" + "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=24)) for _ in range(60)]
    y = np.array([s.count("L") for s in seqs], float)
    m = KmerBoost(kind="signal_peptide", k=1, n_members=2, n_estimators=20, n_jobs=1)
    m.fit(seqs, y)
    assert m.calibration_ is not None and m.novelty_.alphabet == "protein"
    _, std = m.predict(seqs[:5])
    assert (std > 0).all()


def test_composition_groups_cluster_alike_sequences() -> None:
    seqs = ["AT" * 30] * 4 + ["GC" * 30] * 4
    g = composition_groups(seqs, 2)
    assert len(set(g[:4])) == 1 and len(set(g[4:])) == 1 and g[0] != g[4]


def test_save_load_and_old_model_without_calibration(tmp_path: Path) -> None:
    seqs, y = _data()
    for est in (
        KmerRidge(k=2, n_members=3).fit(seqs, y),
        KmerBoost(k=2, n_members=2, n_estimators=20, n_jobs=1).fit(seqs, y),
    ):
        d = est.save(tmp_path / est.estimator)
        back = load_model(d)
        np.testing.assert_allclose(back.predict(seqs[:10])[1], est.predict(seqs[:10])[1])
        assert json.loads((d / "manifest.json").read_text())["calibration"] is not None
        # A model saved before calibration existed: no calibration files, no such params.
        old = tmp_path / f"old-{est.estimator}"
        shutil.copytree(d, old)
        (old / "calibration.npz").unlink()
        (old / "calibration.json").unlink()
        manifest = json.loads((old / "manifest.json").read_text())
        del manifest["calibration"]
        for p in ("calibration_folds", "calibration_groups", "calibration_clusters"):
            del manifest["params"][p]
        del manifest["params"]["error_descriptors"]
        (old / "manifest.json").write_text(json.dumps(manifest))
        prev = load_model(old)
        assert isinstance(prev, KmerRidge | KmerBoost)
        mean, std = prev.predict(seqs[:10])
        members = prev.predict_members(seqs[:10])
        np.testing.assert_allclose(std, members.std(axis=0, ddof=1))  # old behaviour
        np.testing.assert_allclose(mean, est.predict(seqs[:10])[0])
        assert prev.calibration_folds == 0 and prev.calibration_ is None
        assert list(prev.predict_table(seqs[:3]).columns) == ["prediction", "std"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"calibration_folds": 1}, "calibration_folds must be 0"),
        ({"calibration_groups": "identity"}, "unknown calibration_groups"),
        ({"calibration_clusters": 1}, "calibration_clusters must be an integer >= 2"),
        ({"error_descriptors": "all"}, "unknown error_descriptors"),
        ({"error_model": "boosted"}, "unknown error_model"),
        ({"error_descriptors": "distance"}, "'distance' needs error_model 'linear'"),
    ],
)
def test_bad_calibration_settings_one_line(setting: dict[str, object], message: str) -> None:
    seqs, y = _data(30)
    with pytest.raises(InputError, match=message) as e:
        KmerRidge(k=2, n_members=2, **setting).fit(seqs, y)  # type: ignore[arg-type]
    assert "\n" not in str(e.value)


def test_cli_train_json_reports_kmer_calibration(tmp_path: Path) -> None:
    seqs, y = _data(120)
    data = tmp_path / "lib.csv"
    pd.DataFrame({"sequence": seqs, "target": y}).to_csv(data, index=False)
    runner = CliRunner()
    args = ["train", "--kind", "promoter", str(data), "--model", "kmer-ridge", "--k", "2"]
    res = runner.invoke(parts_app, [*args, "--out", str(tmp_path / "m"), "--json"])
    assert res.exit_code == 0, res.output
    c = json.loads(res.output)["calibration"]
    assert 0.0 < c["coverage_1std"] <= 1.0 and "spearman_abs_error_std" in c
    assert "k-means clusters" in c["split"]
    res = runner.invoke(parts_app, [*args, "--out", str(tmp_path / "m2")])
    assert res.exit_code == 0, res.output
    assert "std calibrated on GroupKFold(3)" in res.output


def test_error_scale_variance_scaling_keeps_the_ranking() -> None:
    rng = np.random.default_rng(2)
    spread = rng.uniform(0.1, 1.0, size=500)
    err = np.abs(rng.normal(scale=3 * spread))
    D = np.column_stack([np.log(spread), rng.normal(size=500)])
    es = ErrorScale("scale").fit(D, err)
    std = es.std(D)
    np.testing.assert_allclose(std / spread, es.scale_)  # one factor on the spread
    assert abs(np.mean(err <= std) - 0.683) < 0.01
    back = ErrorScale.from_state(es.state())
    np.testing.assert_allclose(back.std(D), std)


def test_novelty_threshold_from_held_out_clusters_or_off() -> None:
    seqs, y = _data()
    far = ["AT" * 30, seqs[0]]
    by = {
        t: KmerRidge(k=2, n_members=3, novelty_threshold=t).fit(seqs, y)
        for t in ("training", "held-out", "off")
    }
    cal = by["training"].calibration_
    assert cal is not None
    nt = cal["novelty_threshold"]
    assert nt["used"] == "training" and nt["held-out"] > 0 and nt["training"] > 0
    assert by["training"].novelty_.threshold_ == pytest.approx(nt["training"], abs=1e-4)
    assert by["held-out"].novelty_.threshold_ == pytest.approx(nt["held-out"], abs=1e-4)
    # held-out clusters lie further from their training rows than training rows do
    assert nt["held-out"] > nt["training"]
    off = by["off"].predict_table(far)
    assert (off["distance_factor"] == 1).all() and (off["warning"] == "").all()
    # the std before widening is the same whatever the threshold
    base = {t: m.predict_table(far) for t, m in by.items()}
    for t in ("training", "held-out"):
        np.testing.assert_allclose(
            base[t]["std"] / base[t]["distance_factor"], off["std"], rtol=1e-9
        )
    with pytest.raises(InputError, match="unknown novelty_threshold") as e:
        KmerRidge(k=2, n_members=2, novelty_threshold="far").fit(seqs, y)
    assert "\n" not in str(e.value)
