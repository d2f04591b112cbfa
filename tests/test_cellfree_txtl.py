"""The TX-TL kinetic testbed reproduces the qualitative facts of lysate buffer chemistry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab import Campaign, Continuous, Space
from biofab.cellfree.txtl import COMPONENTS, REFERENCE, TxTlModel, default_space
from biofab.cellfree.txtl_params import TxTlParameters
from biofab.core import InputError
from biofab.core import Testbed as ProtocolTestbed


@pytest.fixture(scope="module")
def model() -> TxTlModel:
    return TxTlModel()


def scan(model: TxTlModel, name: str, values: list[float]) -> np.ndarray:
    designs = pd.DataFrame([dict(REFERENCE, **{name: v}) for v in values])
    return model.yields(designs)


def test_reference_yield_is_realistic_and_plateaus(model: TxTlModel) -> None:
    course = model.simulate(REFERENCE, hours=8.0, points=81)
    assert list(course.columns[:3]) == ["time_h", "mrna", "gfp_dark"]
    final = course["gfp"].iloc[-1]
    assert 10.0 < final < 30.0  # µM, the order of Sun et al. 2013's standard buffer
    last_hour = final - course.loc[course["time_h"] <= 7.0 + 1e-9, "gfp"].iloc[-1]
    assert 0 <= last_hour < 0.05 * final
    assert course["gfp"].is_monotonic_increasing
    # energy source used up, phosphate accumulated: why the reaction stops
    assert course["pga"].iloc[-1] < 1.0 and course["pi"].iloc[-1] > 20.0
    assert model.yields(pd.DataFrame([REFERENCE]))[0] == pytest.approx(final, rel=1e-3)


def test_interior_optimum_in_mg_glutamate(model: TxTlModel) -> None:
    y = scan(model, "mg_glutamate", [2.0, 11.0, 20.0])
    assert y[1] > 2 * y[0] and y[1] > 1.5 * y[2]


def test_interior_optimum_in_k_glutamate(model: TxTlModel) -> None:
    y = scan(model, "k_glutamate", [20.0, 110.0, 200.0])
    assert y[1] > y[0] and y[1] > y[2]


def test_excess_energy_source_and_ntps_inhibit(model: TxTlModel) -> None:
    pga = scan(model, "pga", [0.0, 15.0, 30.0, 60.0])
    assert pga.argmax() in (1, 2) and pga[3] < 0.8 * pga.max() and pga[0] < 0.5 * pga.max()
    ntp = scan(model, "ntp", [0.25, 1.0, 4.0])
    assert ntp[1] > ntp[0] and ntp[2] < 0.1 * ntp[1]  # 16 mM NTPs chelate all the Mg2+


def test_dna_template_saturates(model: TxTlModel) -> None:
    y = scan(model, "dna", [0.0, 1.0, 5.0, 20.0, 40.0])
    assert y[0] == 0.0  # a blank: no template, no GFP
    assert y[4] - y[3] < 0.2 * (y[2] - y[1])
    assert np.all(np.diff(y) > 0)


def test_mass_balances_hold(model: TxTlModel) -> None:
    comp = dict(REFERENCE, amino_acids=0.5)
    course = model.simulate(comp, hours=6.0, points=7)
    p = model.params
    made = (course["gfp"] + course["gfp_dark"]).to_numpy()  # µM
    # 20 amino acids at ``amino_acids`` mM each, gfp_length per GFP
    used = 20.0 * (comp["amino_acids"] - course["amino_acids"]).to_numpy() * 1000.0
    np.testing.assert_allclose(used, made * p.gfp_length, rtol=1e-3, atol=1e-3)
    # nucleotides are conserved: charged + discharged + in mRNA
    total = course["ntp"] + course["ndp"] + course["mrna"] * p.mrna_length / 1e6
    np.testing.assert_allclose(total, 4 * comp["ntp"], rtol=1e-4)
    # every phosphate of 3-PGA and of the NTPs' gamma ends as Pi or stays charged
    phosphate = course["pi"] + course["pga"] + course["ntp"]
    assert phosphate.iloc[-1] == pytest.approx(comp["pga"] + 4 * comp["ntp"], rel=0.1)


def test_noise_is_multiplicative_and_seeded() -> None:
    designs = pd.DataFrame([REFERENCE] * 300)
    a = TxTlModel(noise=0.1, seed=7).evaluate(designs)
    b = TxTlModel(noise=0.1, seed=7).evaluate(designs)
    pd.testing.assert_frame_equal(a, b)
    truth = TxTlModel().yields(designs.iloc[:1])[0]
    log_ratio = np.log(a["gfp"] / truth)
    assert abs(log_ratio.mean()) < 0.03 and log_ratio.std() == pytest.approx(0.1, rel=0.2)
    assert a["gfp_std"].iloc[0] == pytest.approx(0.1 * truth, rel=0.05)
    quiet = TxTlModel(noise=0.0).evaluate(designs.iloc[:2])
    np.testing.assert_allclose(quiet["gfp"], truth)
    assert (quiet["gfp_std"] == 0).all()


def layout(plates: list[str]) -> pd.DataFrame:
    rows = []
    for plate in plates:
        for i in range(6):
            dna = 0.0 if i >= 4 else REFERENCE["dna"]
            role = "blank" if i >= 4 else "reference"
            rows.append(
                dict(plate=plate, well=f"A{i + 1}", role=role, design=-1, replicate=i + 1)
                | dict(REFERENCE, dna=dna)
            )
    return pd.DataFrame(rows)


def test_plate_effects_are_shared_by_a_plates_wells() -> None:
    plan = layout(["P1", "P2", "P3"])
    reads = TxTlModel(noise=0.0, plate_sd=0.2, seed=1).measure_plate(plan)
    assert list(reads.columns) == ["plate", "well", "value"]
    assert list(reads["well"]) == list(plan["well"])
    ref = reads[plan["role"] == "reference"].groupby("plate")["value"]
    assert (ref.std() < 30).all()  # only the blank's background noise within a plate
    assert ref.mean().std() > 500  # plates differ by their multiplicative effect
    blanks = reads.loc[plan["role"] == "blank", "value"]
    assert blanks.between(200, 400).all()
    # RFU ~ 1000 per µM mature GFP
    truth = TxTlModel().yields(pd.DataFrame([REFERENCE]))[0]
    assert ref.mean().mean() / 1000 == pytest.approx(truth, rel=0.5)
    again = TxTlModel(noise=0.0, plate_sd=0.2, seed=1).measure_plate(plan)
    pd.testing.assert_frame_equal(reads, again)


@pytest.mark.parametrize(
    ("designs", "column"),
    [
        (pd.DataFrame([dict(REFERENCE, mg_glutamate=-1.0)]), "mg_glutamate"),
        (pd.DataFrame([dict(REFERENCE, dna=float("nan"))]), "dna"),
        (pd.DataFrame([dict(REFERENCE, spermidine=1.0)]), "spermidine"),
        (pd.DataFrame([dict(REFERENCE, pga="lots")]), "pga"),
    ],
)
def test_bad_designs_raise_one_line_input_errors(
    model: TxTlModel, designs: pd.DataFrame, column: str
) -> None:
    with pytest.raises(InputError) as err:
        model.evaluate(designs)
    assert err.value.column == column and "\n" not in str(err.value)


def test_bad_construction_raises_input_errors() -> None:
    with pytest.raises(InputError, match="peg"):
        TxTlModel(space=Space({"peg": Continuous(0, 4)}))
    with pytest.raises(InputError, match="ribosome"):
        TxTlModel(params={"ribosome": 2.0})
    with pytest.raises(InputError):
        TxTlModel(params={"ribosomes": -1.0})
    with pytest.raises(InputError):
        TxTlModel(noise=-0.1)
    with pytest.raises(InputError):
        TxTlModel().measure_plate(layout(["P1"]).drop(columns="well"))
    with pytest.raises(InputError, match="twice"):
        TxTlModel().measure_plate(pd.concat([layout(["P1"])] * 2))


def test_custom_subset_space_and_parameters() -> None:
    space = Space({"mg_glutamate": Continuous(2, 20, step=1, unit="mM")})
    tb = TxTlModel(space=space, noise=0.0)
    assert isinstance(tb, ProtocolTestbed) and tb.objectives[0].name == "gfp"
    out = tb.evaluate(pd.DataFrame({"mg_glutamate": [8.0, 14.0]}))
    full = TxTlModel().yields(pd.DataFrame([REFERENCE, dict(REFERENCE, mg_glutamate=14.0)]))
    np.testing.assert_allclose(out["gfp"], full, rtol=1e-6)
    # more ribosomes, more GFP; the documented defaults are what ``params=None`` gives
    rich = TxTlModel(params={"ribosomes": 3.0}).yields(pd.DataFrame([REFERENCE]))
    assert rich[0] > full[0]
    assert TxTlModel().params == TxTlParameters()
    assert set(default_space().names) == set(COMPONENTS)
    assert all(default_space().parameters[n].problem(v) is None for n, v in REFERENCE.items())


def test_a_plate_of_wells_in_one_call(model: TxTlModel) -> None:
    # (its speed is measured by benchmarks/cellfree_loop.py, not timed here)
    designs = model.space.sample(96, seed=0)
    y = model.yields(designs)
    assert y.shape == (96,) and np.isfinite(y).all() and (y >= 0).all()


def test_campaign_runs_against_the_testbed(tmp_path: Path) -> None:
    tb = TxTlModel(seed=3)
    c = Campaign.create("txtl", tb.space, tb.objectives, store=f"sqlite:///{tmp_path / 'c.db'}")
    history = c.run(tb, rounds=2, batch=4, seed=0, progress=False)
    assert list(history["round"]) == [1, 2] and (history["n"] == 4).all()
    assert np.isfinite(c.best(1)["gfp"].iloc[0])
