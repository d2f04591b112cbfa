"""CNN ensemble: calibrated std (the k-mer models' grouped-fold calibration), reported,
saved, counted in the progress, and an old uncalibrated model still loads as before.

Tiny networks (8 channels, 2 epochs, 2 members, 40-nt sequences) so each fit takes a
second or two on one CPU core."""

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
from biofab.core.progress import Step, report_to
from biofab.parts.models import CNNEnsemble, load_model

TINY = {"channels": 8, "layers": 2, "epochs": 2, "n_jobs": 1, "device": "cpu"}


def _data(n: int = 120, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Random 40-nt promoters whose strength follows their TA and GC dinucleotides."""
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), size=40)) for _ in range(n)]
    y = np.array([s.count("TA") - 0.5 * s.count("GC") for s in seqs], float)
    return seqs, y + rng.normal(scale=0.5, size=n)


def _cnn(**kw: object) -> CNNEnsemble:
    params = {"kind": "promoter", "min_length": 30, "n_members": 2, **TINY, **kw}
    return CNNEnsemble(**params)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fitted() -> tuple[CNNEnsemble, list[str], np.ndarray]:
    seqs, y = _data()
    return _cnn().fit(seqs, y), seqs, y


def test_calibrated_std_reports_coverage_and_keeps_the_mean(
    fitted: tuple[CNNEnsemble, list[str], np.ndarray],
) -> None:
    cnn, seqs, _ = fitted
    c = cnn.calibration_
    assert c is not None and "GroupKFold(3)" in c["split"] and "k-means clusters" in c["split"]
    # variance scaling: 68.3 % of the out-of-fold errors inside ±1 std, by construction
    assert 0.6 <= c["coverage_1std"] <= 0.76
    assert {"spearman_abs_error_std", "uncalibrated", "pearson_r", "n"} <= set(c)
    assert c["n"] == len(seqs)
    table = cnn.predict_table(seqs[:10])
    members = cnn.predict_members(seqs[:10])
    np.testing.assert_allclose(table["prediction"], members.mean(axis=0))  # mean unchanged
    spread = members.std(axis=0, ddof=1)
    np.testing.assert_allclose(table["ensemble_std"], spread)
    # one factor on the spread (read as log(spread + 1e-3)), times the distance widening
    np.testing.assert_allclose(
        table["std"] / table["distance_factor"], (spread + 1e-3) * cnn.error_.scale_, rtol=1e-6
    )
    # a sequence unlike any training one: wider std and a warning
    far = cnn.predict_table(["AT" * 20, seqs[0]])
    assert far["distance_factor"][0] > 1 and "composition far" in far["warning"][0]
    assert far["warning"][1] == ""


def test_calibration_steps_are_progress_steps() -> None:
    seqs, y = _data(60)
    steps: list[Step] = []
    with report_to(steps.append):
        _cnn(calibration_folds=2).fit(seqs, y, progress=True)
    # 2 members on each of 2 folds, then the 2 final members
    assert [s.done for s in steps] == list(range(1, 7)) and steps[-1].total == 6
    assert "calibration folds" in steps[-1].label


def test_single_member_has_no_std_and_no_calibration() -> None:
    seqs, y = _data(60)
    one = _cnn(n_members=1).fit(seqs, y)
    mean, std = one.predict(seqs[:5])
    assert np.isfinite(mean).all() and np.isnan(std).all()
    assert one.calibration_ is None


def test_no_calibration_reports_the_raw_spread() -> None:
    seqs, y = _data(60)
    raw = _cnn(calibration_folds=0).fit(seqs, y)
    _, std = raw.predict(seqs[:5])
    np.testing.assert_allclose(std, raw.predict_members(seqs[:5]).std(axis=0, ddof=1))
    assert raw.calibration_ is None


def test_save_load_round_trip_and_old_model(
    fitted: tuple[CNNEnsemble, list[str], np.ndarray], tmp_path: Path
) -> None:
    cnn, seqs, _ = fitted
    d = cnn.save(tmp_path / "cnn")
    back = load_model(d)
    np.testing.assert_allclose(back.predict(seqs[:10])[1], cnn.predict(seqs[:10])[1], rtol=1e-5)
    assert json.loads((d / "manifest.json").read_text())["calibration"] == cnn.calibration_
    # A CNN saved before calibration existed: no calibration files, no such params.
    old = tmp_path / "old"
    shutil.copytree(d, old)
    (old / "calibration.npz").unlink()
    (old / "calibration.json").unlink()
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["calibration"]
    for p in (
        "calibration_folds",
        "calibration_groups",
        "calibration_clusters",
        "error_descriptors",
        "error_model",
    ):
        del manifest["params"][p]
    (old / "manifest.json").write_text(json.dumps(manifest))
    prev = load_model(old)
    assert isinstance(prev, CNNEnsemble)
    mean, std = prev.predict(seqs[:10])
    np.testing.assert_allclose(std, prev.predict_members(seqs[:10]).std(axis=0, ddof=1))
    np.testing.assert_allclose(mean, cnn.predict(seqs[:10])[0], rtol=1e-5)
    assert prev.calibration_folds == 0 and prev.calibration_ is None
    assert list(prev.predict_table(seqs[:3]).columns) == ["prediction", "std"]


def test_bad_calibration_setting_one_line() -> None:
    seqs, y = _data(30)
    with pytest.raises(InputError, match="calibration_folds must be 0") as e:
        _cnn(calibration_folds=1).fit(seqs, y)
    assert "\n" not in str(e.value)


def test_cli_train_reports_cnn_calibration(tmp_path: Path) -> None:
    seqs, y = _data(100)
    data = tmp_path / "lib.csv"
    # the CLI's CNN has the default size: 100 rows of 50 nt, 1 epoch, 2 members
    seqs = [s + "ACGTACGTAC" for s in seqs]
    pd.DataFrame({"sequence": seqs, "target": y}).to_csv(data, index=False)
    runner = CliRunner()
    args = ["train", "--kind", "promoter", str(data), "--model", "cnn"]
    args += ["--epochs", "1", "--members", "2"]
    res = runner.invoke(parts_app, [*args, "--out", str(tmp_path / "m"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    c = out["calibration"]
    assert 0.0 < c["coverage_1std"] <= 1.0 and "spearman_abs_error_std" in c
    assert out["uncertainty"] == "calibrated"
    res = runner.invoke(parts_app, [*args, "--out", str(tmp_path / "m2")])
    assert res.exit_code == 0, res.output
    assert "std calibrated on GroupKFold(3)" in res.output
