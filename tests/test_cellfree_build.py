"""Composition spaces, plate layouts, transfers, Echo picklists and reagent cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.cellfree.cost import plate_cost, plate_totals, reaction_cost
from biofab.cellfree.layout import layout_plates, plate_wells
from biofab.cellfree.picklist import (
    ECHO_COLUMNS,
    echo_picklist,
    source_plate_map,
    transfers,
    write_echo_picklist,
)
from biofab.cellfree.stocks import Echo, Opentrons, StockTable, composition_space
from biofab.core import InputError, Space

HEADER = "component,stock,unit,min,max,fixed,price,reference\n"
VOLUME = 10.0


def table(tmp_path: Path, text: str, name: str = "stocks.csv") -> StockTable:
    path = tmp_path / name
    path.write_text(text)
    return StockTable.read(path)


def one_line(err: pytest.ExceptionInfo[InputError]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.fixture(scope="module")
def stocks() -> StockTable:
    return StockTable.default()


@pytest.fixture(scope="module")
def designs(stocks: StockTable) -> pd.DataFrame:
    return composition_space(stocks, VOLUME).sample(20, seed=3)


# -- composition space -------------------------------------------------------------------
def test_default_table(stocks: StockTable) -> None:
    assert stocks.varied_names == [
        "mg_glutamate",
        "k_glutamate",
        "pga",
        "ntp",
        "amino_acids",
        "dna",
    ]
    assert stocks.fixed_names == ["lysate"]
    assert stocks.reference()["mg_glutamate"] == 8.0
    assert stocks["lysate"].fixed == 0.33 and stocks["lysate"].unit == "v/v"
    assert all(s.price > 0 for s in stocks)


def test_echo_space_snaps_every_design_to_whole_droplets(stocks: StockTable) -> None:
    space = composition_space(stocks, VOLUME, Echo())
    amino = space.parameters["amino_acids"]
    # 12 mM stock, 2.5 nL in 10 µL -> 0.003 mM per droplet; min 0.25 snaps inward to 0.252.
    assert amino.step == pytest.approx(0.003) and amino.lo == pytest.approx(0.252)
    assert Space.from_dict(space.to_dict()) == space
    sample = space.sample(300, seed=0)
    assert len(sample) == 300
    free = VOLUME - stocks.fixed_volume_ul(VOLUME)
    used = np.zeros(len(sample))
    for name in stocks.varied_names:
        droplets = sample[name].to_numpy() / stocks[name].stock * VOLUME / 0.0025
        np.testing.assert_allclose(droplets, np.rint(droplets), atol=1e-6)
        used += droplets * 0.0025
    water = free - used
    assert (water >= -1e-9).all()
    np.testing.assert_allclose(water / 0.0025, np.rint(water / 0.0025), atol=1e-6)


def test_opentrons_space_keeps_minimum_volumes(stocks: StockTable) -> None:
    p20 = Opentrons("p20_single_gen2")
    space = composition_space(stocks, 50.0, p20)
    # mg_glutamate min 2 mM would be 0.5 µL; the P20 minimum 1 µL raises it to 4 mM.
    assert space.parameters["mg_glutamate"].lo == pytest.approx(4.0)
    sample = space.sample(100, seed=1)
    vols = np.column_stack([sample[n] / stocks[n].stock * 50.0 for n in stocks.varied_names])
    assert (vols >= 1.0 - 1e-9).all()
    np.testing.assert_allclose(vols / 0.1, np.rint(vols / 0.1), atol=1e-6)
    water = 50.0 - stocks.fixed_volume_ul(50.0) - vols.sum(axis=1)
    assert (water >= 1.0 - 1e-9).all()
    plan = transfers(layout_plates(sample.head(5), stocks, seed=0), stocks, 50.0, p20)
    assert (plan["volume_nl"] >= 1000).all()
    # A template below the pipette minimum is refused, naming component and well.
    low = sample.head(1).assign(dna=2.0)  # 0.5 µL of the 200 nM stock
    with pytest.raises(InputError, match=r"dna needs 0.5 µL, below the p20_single_gen2 minimum"):
        transfers(layout_plates(low, stocks, blanks=0), stocks, 50.0, p20)


def test_too_dilute_stock_names_component_and_max_reachable(tmp_path: Path) -> None:
    text = HEADER + "mg_glutamate,200,mM,2,20,,,\ndna,40,nM,1,30,,,\nlysate,1,v/v,,,0.33,,\n"
    stocks = table(tmp_path, text)
    with pytest.raises(InputError) as err:
        composition_space(stocks, VOLUME)
    message = one_line(err)
    # 30 nM of a 40 nM stock needs 7.5 µL; 6.7 µL is free -> at most 26.8 nM.
    assert "'dna'" in message and "too dilute" in message and "26.8 nM" in message
    stronger = table(tmp_path, text.replace("dna,40,", "dna,50,"), "ok.csv")
    assert composition_space(stronger, VOLUME).parameters["dna"].hi == 30


BAD_TABLES = {
    "min > max": (HEADER + "pga,1000,mM,60,10,,,\n", "'pga': min 60 > max 10"),
    "unknown unit": (HEADER + "pga,1000,mmol,0,60,,,\n", "'pga': unknown unit"),
    "duplicate": (HEADER + "pga,1000,mM,0,60,,,\npga,500,mM,0,60,,,\n", "'pga' is listed twice"),
    "missing column": ("component,unit,min,max\npga,mM,0,60\n", "column 'stock': missing column"),
    "non-numeric": (HEADER + "pga,1000,mM,0,lots,,,\n", "'pga': not a number"),
    "above stock": (HEADER + "dna,20,nM,1,30,,,\n", "'dna': stock too dilute"),
    "water row": (HEADER + "water,1,v/v,0,1,,,\n", "'water' is not a stock"),
    "fixed and range": (HEADER + "lysate,1,v/v,0,1,0.33,,\n", "'lysate': give either fixed"),
    "reference outside": (HEADER + "pga,1000,mM,0,60,,,90\n", "'pga': reference outside"),
    "negative": (HEADER + "pga,-5,mM,0,60,,,\n", "'pga': must be a finite number >= 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_bad_stock_tables_are_one_line_errors(tmp_path: Path, case: str) -> None:
    text, expected = BAD_TABLES[case]
    with pytest.raises(InputError) as err:
        table(tmp_path, text)
    message = one_line(err)
    assert expected in message
    assert "stocks.csv" in message


def test_yaml_stock_table(tmp_path: Path) -> None:
    text = (
        "currency: EUR\ncomponents:\n"
        "  mg_glutamate: {stock: 200, unit: mm, min: 2, max: 20, price: 0.001, reference: 8}\n"
        "  lysate: {stock: 1, unit: v/v, fixed: 0.33}\n"
    )
    stocks = table(tmp_path, text, "stocks.yaml")
    assert stocks.currency == "EUR" and stocks["mg_glutamate"].unit == "mM"
    assert stocks.reference() == {"mg_glutamate": 8.0, "lysate": 0.33}
    bad = text.replace("unit: mm", "unit: moles")
    with pytest.raises(InputError, match="'mg_glutamate': unknown unit"):
        table(tmp_path, bad, "bad.yaml")


def test_reaction_volume_must_be_whole_steps(stocks: StockTable) -> None:
    with pytest.raises(InputError, match="whole number of dispenser steps"):
        composition_space(stocks, 10.001)


# -- layout ------------------------------------------------------------------------------------
def test_layout_is_seeded_with_controls_on_every_plate(
    stocks: StockTable, designs: pd.DataFrame
) -> None:
    a = layout_plates(designs, stocks, seed=7)
    assert a.equals(layout_plates(designs, stocks, seed=7))
    b = layout_plates(designs, stocks, seed=8)
    assert not a[["plate", "well"]].equals(b[["plate", "well"]])
    # 60 inner wells - 6 controls = 18 designs x 3 per plate -> 20 designs on 2 plates.
    assert sorted(a["plate"].unique()) == ["P1", "P2"]
    for _, plate in a.groupby("plate"):
        roles = plate["role"].value_counts()
        assert roles["reference"] == 4 and roles["blank"] == 2
        assert plate["well"].is_unique
    assert set(a["well"]) <= set(plate_wells(96, edge="avoid"))
    samples = a[a["role"] == "sample"]
    per_design = samples.groupby("design")
    assert (per_design.size() == 3).all() and (per_design["plate"].nunique() == 1).all()
    assert sorted(samples["design"].unique()) == list(range(len(designs)))
    for d, rows in per_design:
        for name in stocks.varied_names:
            assert (rows[name] == designs[name].iloc[d]).all()
    blanks = a[a["role"] == "blank"]
    assert (blanks["dna"] == 0).all() and (blanks["mg_glutamate"] == 8).all()
    assert (a["lysate"] == 0.33).all()
    assert list(a.columns[:5]) == ["plate", "well", "role", "design", "replicate"]


def test_384_layout(stocks: StockTable) -> None:
    batch = composition_space(stocks, VOLUME).sample(100, seed=5)
    lay = layout_plates(batch, stocks, plate=384, seed=0)
    # 308 inner wells of a 384 plate: 100 designs x 3 + 6 controls = 306 fit on one plate.
    assert list(lay["plate"].unique()) == ["P1"] and len(lay) == 306
    assert not lay["well"].str.match(r"^(A|P)\d+$").any()
    assert not lay["well"].str.match(r"^[A-P](1|24)$").any()
    assert {"P24", "A1"} <= set(plate_wells(384, edge="use"))


def test_overflow_is_a_one_line_error(stocks: StockTable, designs: pd.DataFrame) -> None:
    with pytest.raises(InputError) as err:
        layout_plates(designs, stocks, max_plates=1)
    message = one_line(err)
    # 20 x 3 + 2 plates x 6 controls = 72 wells needed; 1 plate gives 60.
    assert "need 72 wells" in message and "60 usable wells" in message
    with pytest.raises(InputError, match="one design"):
        layout_plates(designs.head(1), stocks, replicates=60)


# -- transfers and Echo picklist ----------------------------------------------------------------
def test_picklist_whole_droplets_summing_to_reaction_volume(
    stocks: StockTable, designs: pd.DataFrame, tmp_path: Path
) -> None:
    lay = layout_plates(designs, stocks, seed=0)
    plan = transfers(lay, stocks, VOLUME)
    assert list(plan.columns) == ["component", "plate", "destination_well", "volume_nl"]
    assert set(plan["component"]) == {"water", *stocks.names}
    per_well = plan.groupby(["plate", "destination_well"])["volume_nl"].sum()
    assert len(per_well) == len(lay)
    np.testing.assert_allclose(per_well.to_numpy(), VOLUME * 1000)
    picks = echo_picklist(plan)
    assert list(picks.columns[:5]) == ECHO_COLUMNS
    droplets = picks["Transfer Volume"].to_numpy() / 2.5
    np.testing.assert_allclose(droplets, np.rint(droplets), atol=1e-9)
    got = picks.groupby(["Destination Plate Name", "Destination Well"])["Transfer Volume"].sum()
    np.testing.assert_allclose(got.to_numpy(), VOLUME * 1000)
    smap = source_plate_map(plan)
    assert (smap["fill_ul"] <= 65 + 1e-9).all() and (smap["fill_ul"] >= 15).all()
    drawn = picks.groupby(["Source Plate Name", "Source Well"])["Transfer Volume"].sum() / 1000
    mapped = smap.set_index(["source_plate", "source_well"])["draw_ul"]
    np.testing.assert_allclose(drawn.loc[mapped.index].to_numpy(), mapped.to_numpy())
    # Lysate: 72 wells x 3.3 µL = 237.6 µL -> 5 wells of 50 µL usable above 15 µL dead.
    assert (smap["component"] == "lysate").sum() == 5
    out = tmp_path / "picklist.csv"
    write_echo_picklist(out, plan)
    back = pd.read_csv(out)
    assert list(back.columns[:5]) == ECHO_COLUMNS and len(back) == len(picks)


def test_transfers_overflow_names_the_well(stocks: StockTable, designs: pd.DataFrame) -> None:
    lay = layout_plates(designs.head(2), stocks, seed=0)
    i = int(np.flatnonzero(lay["role"] == "sample")[0])
    lay.loc[i, "amino_acids"] = 12.0  # 10 µL of stock alone
    with pytest.raises(InputError) as err:
        transfers(lay, stocks, VOLUME)
    assert f"well {lay.loc[i, 'well']}: components need" in one_line(err)


def test_source_plate_dead_volume_checks(
    stocks: StockTable, designs: pd.DataFrame, tmp_path: Path
) -> None:
    plan = transfers(layout_plates(designs, stocks, seed=0), stocks, VOLUME)
    # Eight stocks (water included) cannot fit a 6-well reservoir plate.
    with pytest.raises(InputError) as err:
        source_plate_map(plan, "6RES")
    assert "source plate cannot hold what is needed" in one_line(err)
    # A plate as loaded by hand: lysate in one well of 60 µL = 45 µL usable < 237.6 µL.
    loaded = source_plate_map(plan)[["source_plate", "source_well", "component", "fill_ul"]]
    short = loaded[(loaded["component"] != "lysate") | (loaded["source_well"] == "A16")]
    short = short.assign(fill_ul=np.where(short["component"] == "lysate", 60.0, short["fill_ul"]))
    out = tmp_path / "picklist.csv"
    with pytest.raises(InputError) as err:
        write_echo_picklist(out, plan, source_map=short)
    message = one_line(err)
    assert "'lysate': dead-volume check failed" in message and "45 µL" in message
    assert not out.exists() and not list(tmp_path.iterdir())
    # The full map passes and the picklist draws only from the wells given.
    picks = echo_picklist(plan, source_map=loaded)
    assert set(picks["Source Well"]) <= set(loaded["source_well"])


# -- cost --------------------------------------------------------------------------------------
def test_cost_hand_checked(tmp_path: Path) -> None:
    stocks = table(tmp_path, HEADER + "nad,100,mM,0,50,,0.01,10\nlysate,1,v/v,,,0.5,0.1,\n")
    design = pd.DataFrame({"nad": [20.0]})
    # 20 mM of 100 mM in 10 µL = 2 µL x 0.01 + lysate 5 µL x 0.1 = 0.52 per reaction.
    assert reaction_cost(design, stocks, VOLUME).iloc[0] == pytest.approx(0.52)
    assert reaction_cost(design, stocks, VOLUME, Echo()).iloc[0] == pytest.approx(0.52)
    lay = layout_plates(design, stocks, replicates=1, references=1, blanks=0, seed=0)
    plan = transfers(lay, stocks, VOLUME)
    costs = plate_cost(plan, stocks).set_index("component")
    # nad: 2 + 1 (reference 10 mM) = 3 µL dispensed + 15 µL dead = 18 µL -> 0.18.
    assert costs.loc["nad", "dispensed_ul"] == pytest.approx(3.0)
    assert costs.loc["nad", "consumed_ul"] == pytest.approx(18.0)
    assert costs.loc["nad", "cost"] == pytest.approx(0.18)
    # lysate: 2 x 5 µL + 15 µL dead = 25 µL -> 2.50; water (3 + 4 µL) is free.
    assert costs.loc["lysate", "cost"] == pytest.approx(2.5)
    assert costs.loc["water", "dispensed_ul"] == pytest.approx(7.0)
    assert costs.loc["water", "cost"] == 0
    totals = plate_totals(plate_cost(plan, stocks))
    assert totals.loc[0, "cost"] == pytest.approx(2.68)
    assert totals.loc[0, "cost_per_reaction"] == pytest.approx(1.34)
    no_dead = plate_cost(plan, stocks, source=None).set_index("component")
    assert no_dead.loc["lysate", "cost"] == pytest.approx(1.0)


def test_reaction_cost_ranks_default_designs(stocks: StockTable, designs: pd.DataFrame) -> None:
    cost = reaction_cost(designs, stocks, VOLUME)
    assert cost.name == "cost" and len(cost) == len(designs)
    # Lysate alone is 3.3 µL x 0.05 = 0.165 per reaction; components add the rest.
    assert (cost > 0.165).all() and (cost < 0.165 + 7.8 * 0.03).all()
