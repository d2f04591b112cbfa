"""Site-library spaces, variant names, encodings and zero-shot priors (issue 17, items 1-2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biofab.core.errors import InputError
from biofab.core.space import Space
from biofab.parts.protein_features import (
    GEORGIEV,
    PHYSCHEM,
    DescriptorEncoder,
    HomologProfile,
    OneHotEncoder,
    PairwiseEncoder,
    ZeroShotPrior,
    focused_sample,
    make_encoder,
    zero_shot_score,
)
from biofab.parts.variants import (
    AMINO_ACIDS,
    GB1_PARENT,
    GB1_POSITIONS,
    SiteLibrary,
    unique_variants,
)
from conftest import shared_data


@pytest.fixture(scope="module")
def gb1() -> SiteLibrary:
    return SiteLibrary(GB1_PARENT, GB1_POSITIONS)


@pytest.fixture(scope="module")
def landscape() -> pd.DataFrame:
    return pd.read_csv(shared_data("parts/protein_landscapes/gb1_wu2016_4site.csv"))


# -- the library and its space ------------------------------------------------------------


def test_gb1_library_matches_the_measured_landscape(gb1: SiteLibrary, landscape) -> None:
    assert gb1.sites == ["V39", "D40", "G41", "V54"]
    wild = landscape.loc[landscape["Fitness"] == 1.0, "Variants"].tolist()
    assert gb1.parent_code in wild and gb1.parent_code == "VDGV"
    assert gb1.size == 20**4
    frame = gb1.frame(landscape["Variants"])
    assert frame.shape == (len(landscape), 4)
    assert gb1.codes(frame.head(3)) == landscape["Variants"].head(3).tolist()
    hd = gb1.hamming(frame.head(500))
    assert np.array_equal(hd, landscape["HD"].head(500).to_numpy())


def test_space_is_an_ordinary_campaign_space(gb1: SiteLibrary) -> None:
    space = gb1.space()
    assert isinstance(space, Space) and space.names == gb1.sites
    assert space.width == 4 * 20
    designs = space.sample(50, seed=0)
    assert set(designs.columns) == set(gb1.sites)
    assert all(set(designs[s]) <= set(AMINO_ACIDS) for s in gb1.sites)
    space.validate(designs)
    assert Space.from_yaml(space.to_yaml()) == space  # survives the campaign's YAML round trip


def test_names_round_trip(gb1: SiteLibrary) -> None:
    best = gb1.parse("FWAA")
    assert best == {"V39": "F", "D40": "W", "G41": "A", "V54": "A"}
    assert gb1.variant_name(best) == "V39F/D40W/G41A/V54A"
    assert gb1.variant_name(best, "code") == "FWAA"
    assert gb1.variant_name(best, "both") == "FWAA (V39F/D40W/G41A/V54A)"
    assert gb1.parse("V39F/D40W/G41A/V54A") == best
    assert gb1.parse("v54a d40w") == {"V39": "V", "D40": "W", "G41": "G", "V54": "A"}
    assert gb1.variant_name(gb1.parse("WT")) == "WT"
    seq = gb1.sequence(best)
    assert len(seq) == len(GB1_PARENT) and seq[38:41] == "FWA" and seq[53] == "A"
    diff = [i + 1 for i, (a, b) in enumerate(zip(seq, GB1_PARENT, strict=True)) if a != b]
    assert diff == [39, 40, 41, 54]
    frame = gb1.frame(["FWAA", "V39F", "WT"])
    assert gb1.names(frame) == ["V39F/D40W/G41A/V54A", "V39F", "WT"]
    assert gb1.sequences(frame)[2] == GB1_PARENT


def test_restricted_sites_and_enumeration() -> None:
    lib = SiteLibrary.from_sites("MKTAYIAK", "K2,A4", allowed={2: "KR", 4: "AGS"})
    assert lib.sites == ["K2", "A4"] and lib.size == 6
    every = lib.enumerate()
    assert len(every) == 6 and len(set(lib.codes(every))) == 6
    singles = lib.single_mutants()
    assert sorted(lib.names(singles)) == ["A4G", "A4S", "K2R"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SiteLibrary("MKTAYIAK", [2, 9]), "position beyond the parent sequence"),
        (lambda: SiteLibrary("MKTAYIAK", [0]), "position beyond the parent sequence"),
        (lambda: SiteLibrary("MKTBYIAK", [2]), "non-amino-acid letter 'B' at position 4"),
        (lambda: SiteLibrary("MKTAYIAK", [2], allowed="KRZ"), "letters outside the amino-acid"),
        (lambda: SiteLibrary("MKTAYIAK", [2], allowed="K"), "allows one residue only"),
        (lambda: SiteLibrary("MKTAYIAK", [2, 2]), "listed twice"),
        (lambda: SiteLibrary.from_sites("MKTAYIAK", "V2"), "the parent has another residue"),
        (lambda: SiteLibrary.from_sites("MKTAYIAK", "K20"), "beyond the parent"),
    ],
)
def test_bad_library_is_one_line(build, message) -> None:
    with pytest.raises(InputError, match=message) as err:
        build()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FWAZ", "residue not allowed"),
        ("V39F/D40W/X", "not a variant"),
        ("A39F", "the parent has another residue"),
        ("V38F", "not at a site"),
        ("V39F/V39A", "mutated twice"),
    ],
)
def test_bad_variant_text(gb1: SiteLibrary, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        gb1.parse(text)


def test_frame_names_the_bad_row(gb1: SiteLibrary) -> None:
    with pytest.raises(InputError, match=r"row 2, column 'G41'.*found 'B'"):
        gb1.frame(["FWAA", "FWBA"])
    table = pd.DataFrame({"V39": ["f", " W"], "D40": ["W", None], "G41": "A", "V54": "A"})
    with pytest.raises(InputError, match=r"r.csv, row 2, column 'D40': not a one-letter residue"):
        gb1.check_frame(table, file="r.csv")
    table["D40"] = ["W", "w"]
    assert gb1.codes(table) == ["FWAA", "WWAA"]  # case and spaces as a spreadsheet has them


def test_duplicated_variants_are_refused() -> None:
    unique_variants(["FWAA", "VDGV"])
    with pytest.raises(InputError, match=r"hits.csv, row 3.*listed twice \(rows 1 and 3\)"):
        unique_variants(["FWAA", "VDGV", "FWAA"], file="hits.csv")


# -- encodings ------------------------------------------------------------------------------


def test_descriptor_tables_are_complete() -> None:
    assert len(GEORGIEV) == 19 and all(v.shape == (20,) for v in GEORGIEV.values())
    # Georgiev's first factor follows hydrophobicity (Kyte-Doolittle) closely
    r = np.corrcoef(GEORGIEV["georgiev_1"], PHYSCHEM["hydrophobicity"])[0, 1]
    assert r > 0.8
    assert PHYSCHEM["charge"][AMINO_ACIDS.index("D")] == -1.0


def test_encoders_on_frames_and_codes(gb1: SiteLibrary) -> None:
    frame = gb1.frame(["VDGV", "FWAA", "FWAC"])
    onehot = OneHotEncoder().fit(frame)
    x = onehot.transform(frame)
    assert x.shape == (3, 80) and np.all(x.sum(axis=1) == 4)
    assert x[1, onehot.feature_names_.index("V39=F")] == 1
    assert np.array_equal(OneHotEncoder().fit_transform(["VDGV", "FWAA", "FWAC"]), x)

    geo = DescriptorEncoder("georgiev").fit(frame)
    g = geo.transform(frame)
    assert g.shape == (3, 4 * 19)
    # rows differ only at the last site: only that site's block changes
    assert np.allclose(g[1, :57], g[2, :57]) and not np.allclose(g[1, 57:], g[2, 57:])

    own = DescriptorEncoder({"size": PHYSCHEM["volume"]}).fit_transform(frame)
    assert own.shape == (3, 4) and abs(own[:, 0].mean()) < 5  # z-scored over amino acids


def test_pairwise_features_see_epistasis(gb1: SiteLibrary) -> None:
    frame = gb1.frame(["VDGV", "FDGV", "VWGV", "FWGV"])
    enc = PairwiseEncoder("onehot").fit(frame)
    x = enc.transform(frame)
    assert x.shape == (4, 80 + 6 * 400)
    # y = additive + a V39F x D40W interaction: only the pair features can fit it exactly
    y = np.array([0.0, 1.0, 1.0, 5.0])
    single = x[:, :80]
    res_single = np.linalg.lstsq(single, y, rcond=None)[1]
    fit_pair = x @ np.linalg.lstsq(x, y, rcond=None)[0]
    assert (res_single.size == 0 or res_single[0] > 1.0) and np.allclose(fit_pair, y, atol=1e-5)
    prod = PairwiseEncoder("physchem", pairs=[("V39", "D40")]).fit(frame)
    assert prod.transform(frame).shape == (4, 16 + 4)
    assert make_encoder("pairwise-georgiev").fit_transform(frame).shape == (4, 76 + 6 * 19)


def test_bad_encoder_input(gb1: SiteLibrary) -> None:
    with pytest.raises(InputError, match=r"row 2, column 'site_3'.*found 'X'"):
        OneHotEncoder().fit(["VDGV", "FWXA"])
    with pytest.raises(InputError, match="differ in length"):
        OneHotEncoder().fit(["VDGV", "FWA"])
    with pytest.raises(InputError, match="unknown protein encoding"):
        make_encoder("esm2")
    with pytest.raises(InputError, match="unknown site"):
        PairwiseEncoder(pairs=[("V39", "K99")]).fit(gb1.frame(["VDGV"]))


# -- zero-shot priors -----------------------------------------------------------------------


def test_prior_prefers_conservative_substitutions(gb1: SiteLibrary) -> None:
    s = zero_shot_score(gb1, ["VDGV", "IDGV", "WDGV", "VEGV", "VPGV"])
    assert s[0] == 0
    assert s[1] > s[2]  # V -> I (similar) above V -> W
    assert s[3] > s[4]  # D -> E above D -> P
    only_volume = zero_shot_score(gb1, ["IDGV", "ADGV"], weights={"volume": 1})
    assert only_volume[0] > only_volume[1]  # I is as large as V (140 vs 167 A^3), A is not


def test_prior_enriches_functional_gb1_variants(gb1: SiteLibrary, landscape) -> None:
    """Zero-shot, no fitting: the top 10 % by prior hold more variants at wild-type fitness."""
    frame = gb1.frame(landscape["Variants"])
    s = ZeroShotPrior(gb1).score(frame)
    top = s >= np.quantile(s, 0.9)
    fit = landscape["Fitness"].to_numpy()
    assert (fit[top] >= 1).mean() > 2 * (fit >= 1).mean()


def test_focused_sample_comes_from_the_top(gb1: SiteLibrary) -> None:
    prior = ZeroShotPrior(gb1)
    first = focused_sample(gb1, 96, top_fraction=0.05, prior=prior, seed=3)
    assert len(first) == 96 and len(set(gb1.codes(first))) == 96
    cut = np.quantile(prior.score(gb1.enumerate()), 0.95)
    assert (first["prior"] >= cut - 1e-9).all()
    built = gb1.codes(first)
    again = focused_sample(gb1, 96, top_fraction=0.05, prior=prior, seed=3, exclude=built)
    assert not set(gb1.codes(again)) & set(gb1.codes(first))
    with pytest.raises(InputError, match="smaller than the sample"):
        focused_sample(gb1, 5000, top_fraction=0.01, prior=prior)


def _homologs(rng: np.random.Generator, n: int) -> dict[str, str]:
    """Family members of GB1 (~70 % identity) that never keep V39 but carry I or L there."""
    out = {}
    for k in range(n):
        seq = list(GB1_PARENT)
        for i in rng.choice(len(seq), size=15, replace=False):
            seq[i] = AMINO_ACIDS[rng.integers(20)]
        seq[38] = "IL"[k % 2]
        out[f"hom{k}"] = "".join(seq)
    for k in range(40):  # unrelated proteins
        out[f"decoy{k}"] = "".join(AMINO_ACIDS[i] for i in rng.integers(0, 20, 120))
    out["pseudogene"] = out["decoy0"][:50] + "*" + out["decoy0"][50:]  # read as X
    return out


def test_homolog_profile_with_pyhmmer(gb1: SiteLibrary, tmp_path) -> None:
    rng = np.random.default_rng(0)
    fasta = tmp_path / "proteome.faa"
    fasta.write_text("".join(f">{k}\n{v}\n" for k, v in _homologs(rng, 30).items()))
    profile = HomologProfile(evalue=1e-3).fit(GB1_PARENT, fasta)
    assert 20 <= len(profile.homologs_) <= 30
    assert not any(h.startswith("decoy") for h in profile.homologs_)
    lo = profile.log_odds()
    i, w, v = AMINO_ACIDS.index("I"), AMINO_ACIDS.index("W"), AMINO_ACIDS.index("V")
    assert lo[38, v] == 0 and lo[38, i] > 1 and lo[38, w] < lo[38, i]
    s = zero_shot_score(gb1, ["IDGV", "WDGV"], weights={"profile": 1}, profile=profile)
    assert s[0] > s[1]
    prior = ZeroShotPrior(gb1, profile=profile)
    assert "profile" in prior.weights
    # one homolog of the N-terminal half only: uncovered positions score 0 for every residue
    half = HomologProfile(evalue=10).fit(GB1_PARENT, {"n_half": GB1_PARENT[:30].replace("K", "R")})
    assert half.coverage_[40:].sum() == 0 and np.all(half.log_odds()[40:] == 0)
    k, r = AMINO_ACIDS.index("K"), AMINO_ACIDS.index("R")
    w = AMINO_ACIDS.index("W")
    assert half.log_odds()[3, k] == 0 and half.log_odds()[3, r] > half.log_odds()[3, w] + 1


def test_bad_prior_input(gb1: SiteLibrary, tmp_path) -> None:
    with pytest.raises(InputError, match="unknown zero-shot term"):
        ZeroShotPrior(gb1, {"esm": 1})
    with pytest.raises(InputError, match="profile term needs homologs"):
        ZeroShotPrior(gb1, {"profile": 1})
    bad = tmp_path / "p.faa"
    bad.write_text(">a\nMKT1LV\n")
    with pytest.raises(InputError, match=r"p.faa, row 1: record a: not a protein sequence"):
        HomologProfile().fit(GB1_PARENT, bad)
    (tmp_path / "t.txt").write_text("MKTLV\n")
    with pytest.raises(InputError, match="not a FASTA file"):
        HomologProfile().fit(GB1_PARENT, tmp_path / "t.txt")


# -- the campaign engine takes the space as it takes any other ------------------------------


def test_campaign_over_a_site_library(gb1: SiteLibrary, landscape, db_url: str, tmp_path) -> None:
    """A lab's results file (site columns + measured fitness) goes in; the next round comes
    out as new variants of the same library; the parent and the measured ones never return."""
    from biofab.campaign import Campaign
    from biofab.learn.recommenders import SpaceFilling

    campaign = Campaign.create("gb1", gb1.space(), ["fitness"], store=db_url)
    first = campaign.recommend(8, recommender=SpaceFilling(), seed=0).designs
    fitness = landscape.set_index("Variants")["Fitness"]
    results = first[gb1.sites].copy()
    results["fitness"] = [float(fitness.get(c, 0.0)) for c in gb1.codes(results)]
    path = tmp_path / "round_01_results.csv"
    results.to_csv(path, index=False)
    campaign.ingest(path, progress=False)
    data = campaign.data()
    assert sorted(gb1.codes(data)) == sorted(gb1.codes(results))
    second = campaign.recommend(8, recommender=SpaceFilling(), seed=1).designs
    assert not set(gb1.codes(second)) & set(gb1.codes(results))
    assert all(len(s) == len(GB1_PARENT) for s in gb1.sequences(second))


def test_focus_benchmark_short_run(tmp_path) -> None:
    """The benchmark's own command with 2 seeds: records in the guide's format, ratio > 1."""
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "protein_focus.py"
    spec = importlib.util.spec_from_file_location("protein_focus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    records = module.main(["--seeds", "2", "--out", str(tmp_path)])
    stored = json.loads((tmp_path / "protein_focus.json").read_text())
    assert stored == json.loads(json.dumps(records))
    wt = next(r for r in stored if r["metric"] == "first_library_wt_level")
    assert wt["seeds"] == 2 and wt["better"] == "higher" and wt["ratio"] > 1
