"""kcat model: featurisation, validation, fit/predict on real CatPred rows, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.core.errors import InputError
from biofab.parts.kcat import (
    EC_BUCKETS,
    FP_BITS,
    ECMeanBaseline,
    KcatModel,
    ec_features,
    featurize,
    load_catpred,
    predictor,
    protein_features,
    substrate_features,
    tanimoto,
    validate_frame,
)
from conftest import shared_data

GOOD = {"sequence": "MKTAYIAKQR", "reactant_smiles": "OCC(O)CO.O", "ec": "2.7.1.30"}


@pytest.fixture(scope="module")
def catpred() -> pd.DataFrame:
    return load_catpred([shared_data("enzymes/catpred_kcat_random_val.csv")])


@pytest.fixture(scope="module")
def fitted(catpred: pd.DataFrame) -> KcatModel:
    small = catpred.iloc[:300]
    return KcatModel(n_members=3, n_estimators=40, max_depth=4, seed=0).fit(small)


def test_feature_shapes() -> None:
    assert protein_features("MKTAYIAKQR").shape == (428,)
    assert np.isnan(protein_features("")).all()
    sub = substrate_features("OCC(O)CO.O")
    assert sub.shape == (FP_BITS + 5,) and sub[:FP_BITS].sum() > 0 and sub[FP_BITS] == 2
    assert np.isnan(substrate_features("")[FP_BITS:]).all()
    ec = ec_features("1.1.1.-")
    assert ec.shape == (3 * EC_BUCKETS,) and ec.sum() == 3
    assert ec_features("1.-.-.-").sum() == 1 and ec_features("").sum() == 0
    X = featurize(validate_frame(pd.DataFrame([GOOD, GOOD])))
    assert X.shape == (2, 428 + FP_BITS + 5 + 3 * EC_BUCKETS + FP_BITS)
    assert X[:, -FP_BITS:].sum() == 0  # no product column: products unknown
    with_products = pd.DataFrame([{**GOOD, "product_smiles": "OCC(O)COP(=O)(O)O"}] * 2)
    assert featurize(validate_frame(with_products))[:, -FP_BITS:].sum() > 0
    fps = X[:, 428 : 428 + FP_BITS]
    np.testing.assert_array_equal(tanimoto(fps, fps), 1.0)


@pytest.mark.parametrize(
    ("column", "value", "needle"),
    [
        ("reactant_smiles", "C1CC(", "row 2, column 'reactant_smiles': unparsable SMILES"),
        ("sequence", "MKT*AYI", "row 2, column 'sequence': stop codon"),
        ("sequence", "MKT1AYI", "row 2, column 'sequence': not a protein sequence"),
        ("ec", "1.x.2", "row 2, column 'ec': malformed EC number"),
        ("product_smiles", "C1CC(", "row 2, column 'product_smiles': unparsable SMILES"),
    ],
)
def test_bad_rows_one_line(column: str, value: str, needle: str) -> None:
    frame = pd.DataFrame([GOOD, {**GOOD, column: value}])
    with pytest.raises(InputError) as err:
        validate_frame(frame)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_missing_columns_and_bad_file(tmp_path: Path) -> None:
    # names what is missing, and what the file has (not the missing one as "found")
    with pytest.raises(
        InputError,
        match=r"lacks required columns ec;.*found 'columns sequence, reactant_smiles'",
    ):
        validate_frame(pd.DataFrame([{"sequence": "MK", "reactant_smiles": "O"}]))
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,reactant_smiles,ec,log10_value\nMKT,CCO,1.1.1.1,\n")
    with pytest.raises(InputError, match=r"bad.csv, row 1, column 'log10_value'"):
        load_catpred([bad])


def test_fit_predict_real_subset(fitted: KcatModel, catpred: pd.DataFrame) -> None:
    held = catpred.iloc[300:400]
    mean, std = fitted.predict(held)
    assert mean.shape == std.shape == (100,)
    assert np.isfinite(mean).all() and (std > 0).all()
    assert 0.5 < fitted.oob_coverage_68_ < 0.85
    # blank substrates are "unknown", not an error
    mean2, _ = fitted.predict(held.assign(reactant_smiles=""))
    assert np.isfinite(mean2).all()


def test_save_load_roundtrip_and_wrong_kind(
    fitted: KcatModel, catpred: pd.DataFrame, tmp_path: Path
) -> None:
    fitted.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["kind"] == "kcat"
    again = KcatModel.load(tmp_path / "m")
    rows = catpred.iloc[400:420]
    for a, b in zip(fitted.predict(rows), again.predict(rows), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    other = tmp_path / "promoter"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"kind": "promoter"}))
    with pytest.raises(InputError) as err:
        KcatModel.load(other)
    assert "another kind" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="no manifest"):
        KcatModel.load(tmp_path)
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    (tmp_path / "m" / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}))
    with pytest.raises(InputError, match="another biofab version"):
        KcatModel.load(tmp_path / "m")


def test_ec_baseline_fallback() -> None:
    train = pd.DataFrame(
        {
            "ec": ["1.1.1.1", "1.1.1.1", "1.1.1.2", "1.2.3.4", "2.7.1.1"],
            "log10_value": [1.0, 3.0, 5.0, 0.0, -2.0],
        }
    )
    base = ECMeanBaseline().fit(train)
    query = pd.DataFrame({"ec": ["1.1.1.1", "1.1.1.9", "1.3.1.1", "3.1.1.1", "1.1.-.-", ""]})
    mean, std = base.predict(query)
    # exact; 1.1.1 class (1,3,5); 1 class (1,3,5,0); global; 1.1 class; global
    np.testing.assert_allclose(mean, [2.0, 3.0, 2.25, 1.4, 3.0, 1.4])
    assert (std > 0).all()
    loo = base.loo_predict(train, train["log10_value"].to_numpy())
    np.testing.assert_allclose(loo, [3.0, 1.0, 2.0, 3.0, 2.25])


def test_predictor_on_frames_and_reactions(fitted: KcatModel, catpred: pd.DataFrame) -> None:
    f = predictor(
        fitted,
        sequences={"b0001": catpred["sequence"].iloc[0]},
        smiles={"glc": "OCC1OC(O)C(O)C(O)C1O"},
    )
    mean, std = f(catpred.iloc[:5])
    assert mean.shape == std.shape == (5,)

    import cobra

    model = cobra.Model("t")
    r1, r2 = cobra.Reaction("R1"), cobra.Reaction("R2")
    model.add_reactions([r1, r2])
    r1.add_metabolites({cobra.Metabolite("glc_c"): -1.0, cobra.Metabolite("g6p_c"): 1.0})
    r1.gene_reaction_rule = "b0001 or b0002"
    r1.annotation["ec-code"] = ["2.7.1.1"]
    r2.gene_reaction_rule = "b0003"  # no known sequence, no substrates, no EC
    mean, std = f([r1, r2])
    assert mean.shape == std.shape == (2,)
    assert np.isfinite(mean).all() and (std > 0).all()


def test_cli_train_and_predict_kind_kcat(tmp_path) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from biofab.cli.parts import parts_app
    from conftest import shared_data

    raw = pd.read_csv(shared_data("enzymes/catpred_kcat_random_val.csv")).head(120)
    train = tmp_path / "train.csv"
    raw[["sequence", "reactant_smiles", "ec", "log10_value"]].rename(
        columns={"reactant_smiles": "smiles"}
    ).to_csv(train, index=False)
    runner = CliRunner()
    mdir = tmp_path / "kcat.model"
    res = runner.invoke(
        parts_app,
        ["train", "--kind", "kcat", str(train), "--out", str(mdir), "--members", "2", "--json"],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    cal = summary["calibration"]  # std checked on internal grouped folds
    assert 0 < cal["grouped_coverage_68"] <= 1 and cal["n_grouped"] > 50
    assert json.loads((mdir / "manifest.json").read_text())["params"]["n_members"] == 2
    query = tmp_path / "query.csv"
    q = (
        raw[["sequence", "reactant_smiles", "ec"]]
        .head(5)
        .rename(columns={"reactant_smiles": "smiles"})
    )
    q.to_csv(query, index=False)
    out = tmp_path / "pred.csv"
    res = runner.invoke(parts_app, ["predict", "--model", str(mdir), str(query), "--out", str(out)])
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(out)
    assert len(pred) == 5 and (pred["std"] > 0).all()
    q.loc[2, "smiles"] = "C1CC(("
    q.to_csv(query, index=False)
    bad_out = tmp_path / "bad.csv"
    res = runner.invoke(
        parts_app, ["predict", "--model", str(mdir), str(query), "--out", str(bad_out)]
    )
    assert isinstance(res.exception, InputError) and "row 3" in str(res.exception)
    assert not bad_out.exists()


def test_calibration_from_grouped_folds(fitted: KcatModel, catpred: pd.DataFrame) -> None:
    cal = fitted.calibration_
    for prefix in ("oob", "grouped"):
        assert 0.0 < cal[f"{prefix}_coverage_68"] <= cal[f"{prefix}_coverage_95"] <= 1.0
        assert cal[f"{prefix}_rmse"] > 0
    assert cal["n_grouped"] > 100 and np.isfinite(cal["grouped_r"])
    # the mean is blended with the EC prior (shrink, on by default)
    # (and, kernel_blend on by default, with the kernel ridge prior)
    assert fitted.shrink_coef_ is not None and fitted.shrink_coef_.shape == (7,)
    assert fitted.kernel_alpha_ is not None and len(fitted.kernel_alpha_) == 300
    # pooled calibration: ±1 std holds ~68 % of out-of-bag and grouped residuals together
    n_oob, n_grp = cal["n_oob"], cal["n_grouped"]
    pooled = (cal["oob_coverage_68"] * n_oob + cal["grouped_coverage_68"] * n_grp) / (n_oob + n_grp)
    assert 0.6 < pooled < 0.8
    # std rises when the nearest training enzyme is a stranger: same rows, sequences
    # shuffled into nonsense that no training enzyme resembles
    rows = catpred.iloc[:40]
    rng = np.random.default_rng(0)
    strangers = rows.assign(
        sequence=["".join(rng.permutation(list(s))) for s in rows["sequence"]],
        ec="",
    )
    _, std_near = fitted.predict(rows)
    _, std_far = fitted.predict(strangers)
    assert np.median(std_far) > np.median(std_near)


def test_far_priors_leave_relatives_out(
    catpred: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    """With far_fraction=1 no training row's prior may come from its own enzyme."""
    small = catpred.iloc[:120]
    model = KcatModel(
        n_members=1, n_estimators=5, far_fraction=1.0, calibration_folds=0, seed=0
    ).fit(small, progress=True)
    assert "kcat model fit" in capsys.readouterr().err
    sim, tan = model._similarities(small)
    related = sim >= model.family_similarity
    far = model._priors_from(small, sim, tan, related)
    assert np.nanmax(far[:, 1]) < model.family_similarity  # best similarity column
    near = model._priors_from(small, sim, tan, np.eye(len(small), dtype=bool))
    assert np.nanmax(near[:, 1]) > 0.99  # the same enzyme with another substrate
    # EC prior without relatives: a row whose only EC-class mates are relatives falls back
    assert np.isfinite(far[:, 4]).all()
    assert "grouped_coverage_68" not in model.calibration_


def test_training_rows_ec_statistics_leave_themselves_out() -> None:
    """The EC-class mean, std and match depth that describe a training row (calibration
    rows of the std) come from the other rows only, exactly as ECMeanBaseline gives them
    for a query: a row's own extreme value must not widen its own class std."""
    from biofab.parts.kcat import TARGET, _ec_depth, _ec_stats_allowed

    rng = np.random.default_rng(0)
    ecs = [
        str(rng.choice(["1.1.1.1", "1.1.1.2", "1.1.2.1", "2.7.1.1", "3.1.-.-", ""]))
        for _ in range(30)
    ]
    y = rng.normal(size=30)
    y[0] = 25.0  # an outlier in its class
    allowed = ~np.eye(30, dtype=bool)
    mean, std, depth = _ec_stats_allowed(ecs, y, allowed)
    for i in range(30):
        keep = allowed[i]
        base = ECMeanBaseline().fit(pd.DataFrame({"ec": np.array(ecs)[keep], TARGET: y[keep]}))
        m, s = base.predict(pd.DataFrame({"ec": [ecs[i]]}))
        assert np.isclose(m[0], mean[i]) and np.isclose(s[0], std[i])
        assert depth[i] == _ec_depth(base, [ecs[i]])[0]
    assert std[0] < 5  # the outlier's own class std leaves it out


def test_kernel_prior_leave_out_values_match_refits() -> None:
    """The kernel ridge prior of a training row, leave-one-out and leave-relatives-out,
    equals a fit that never saw those rows (closed forms, fixed mean)."""
    rng = np.random.default_rng(1)
    n = 25
    model = KcatModel(kernel_prior=True, kernel_ridge=0.3)
    model.ref_y_ = rng.normal(size=n)
    ecs = [str(rng.choice(["1.1.1.1", "1.1.1.2", "2.7.1.1", ""])) for _ in range(n)]
    model.ref_frame_ = pd.DataFrame({"ec": ecs})
    A = rng.random((n, 6))
    sim = (A @ A.T) / np.sqrt(np.outer((A * A).sum(1), (A * A).sum(1)))
    tan = rng.random((n, n))
    tan = (tan + tan.T) / 2
    np.fill_diagonal(tan, 1.0)
    loo, H = model._fit_kernel(ecs, sim, tan)
    K = model._kernel(ecs, sim, tan)
    K = (K + K.T) / 2
    mu = model.kernel_mean_

    def refit(keep: np.ndarray, i: int) -> float:
        Kk = K[np.ix_(keep, keep)] + 0.3 * np.eye(keep.sum())
        alpha = np.linalg.solve(Kk, model.ref_y_[keep] - mu)
        return float(mu + K[i, keep] @ alpha)

    for i in range(n):
        np.testing.assert_allclose(loo[i], refit(np.arange(n) != i, i), rtol=1e-8)
    related = sim >= 0.8
    np.fill_diagonal(related, True)
    far = model._kernel_leave_out(H, related)
    for i in range(n):
        np.testing.assert_allclose(far[i], refit(~related[i], i), rtol=1e-8)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"kernel_ridge": 0.0}, "kernel_ridge must be > 0"),
        ({"prior_weight": float("nan")}, "prior_weight must be > 0"),
        ({"kernel_ec_weight": -1.0}, "kernel_ec_weight must be >= 0"),
        ({"sequence_svd": 2.5}, "sequence_svd must be a whole number"),
        ({"kernel_margin": True, "kernel_prior": False}, "kernel_margin needs priors and kernel"),
        ({"blend_neighbors": True, "shrink": False}, "blend_neighbors needs shrink and kernel"),
    ],
)
def test_bad_kernel_and_prior_settings_are_refused_before_any_work(
    setting: dict[str, float], message: str
) -> None:
    frame = pd.DataFrame({"sequence": ["MKV"], "reactant_smiles": ["CCO"], "ec": ["1.1.1.1"]})
    with pytest.raises(InputError, match=message):
        KcatModel(**setting).fit(frame, [1.0])


def test_kernel_margin_and_neighbour_blend_options(catpred: pd.DataFrame, tmp_path: Path) -> None:
    small, rows = catpred.iloc[:200], catpred.iloc[200:230]
    kw = {"n_members": 2, "n_estimators": 20, "max_depth": 3, "seed": 0}
    m = KcatModel(kernel_margin=True, blend_neighbors=True, **kw).fit(small)
    assert m.shrink_coef_ is not None and m.shrink_coef_.shape == (11,)
    # with kernel_margin every tree model starts from the kernel ridge value: with no
    # trees' correction (learning rate ~0) the members return exactly that value
    flat = KcatModel(kernel_margin=True, shrink=False, **{**kw, "learning_rate": 1e-12})
    flat.fit(small)
    sim, tan = flat._similarities(rows)
    kr = flat._kernel_predict(rows, sim, tan)
    np.testing.assert_allclose(flat.predict(rows)[0], kr, atol=1e-5)
    m.save(tmp_path / "m")
    again = KcatModel.load(tmp_path / "m")
    assert again.kernel_margin and again.blend_neighbors
    for a, b in zip(m.predict(rows), again.predict(rows), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_prior_weight_reaches_the_trees_without_a_deprecated_fit_argument(
    catpred: pd.DataFrame,
) -> None:
    import warnings

    small, rows = catpred.iloc[:200], catpred.iloc[200:230]
    kw = {"n_members": 2, "n_estimators": 20, "max_depth": 3, "seed": 0}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        heavy = KcatModel(prior_weight=20.0, colsample_bytree=0.3, **kw).fit(small)
    assert not [w for w in caught if "feature_weights" in str(w.message)]
    plain = KcatModel(prior_weight=1.0, colsample_bytree=0.3, **kw).fit(small)
    # the weights change which columns the trees draw, so the predictions differ
    assert not np.allclose(heavy.predict(rows)[0], plain.predict(rows)[0])
