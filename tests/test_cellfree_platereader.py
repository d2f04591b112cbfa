"""Plate-reader import: long and grid files, blank subtraction, normalisation, replicates,
outliers, QC, every bad input, and ingestion of the results into a real campaign."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab import Campaign, Continuous, Space
from biofab.cellfree.platereader import (
    ModifiedZScore,
    import_plates,
    normalise_well,
    process_plate,
    read_layout,
    read_plate_file,
)
from biofab.core import InputError
from biofab.store import Store

DATA = Path(__file__).parent / "data" / "platereader"
COMPONENTS = ["mg_glutamate", "k_glutamate", "pga", "ntp", "amino_acids", "dna"]
REFERENCE = [8, 80, 30, 1.5, 1.5, 10]
BLANK = [8, 80, 30, 1.5, 1.5, 0]
DESIGNS = {
    0: [12, 100, 40, 2.0, 2.0, 20],
    1: [4, 60, 20, 1.0, 1.0, 5],
    2: [10, 120, 35, 2.5, 1.5, 15],
    3: [16, 140, 50, 3.0, 3.0, 25],
}
# Hand-made P1 readings (RFU), the same as tests/data/platereader/gen5_endpoint.csv:
# blanks 100, 110, 90 (mean 100); references 1100, 1200, 1000 (signal 1000, 1100, 900,
# mean 1000); design 0: 2100, 2300, 1900 -> 2.0, 2.2, 1.8; design 1: 600, 620, 5000 ->
# 0.50, 0.52, 4.90 (D3 an outlier); design 2: 1600, 1400 -> 1.5, 1.3.
P1 = {
    "A1": 100, "A2": 110, "A3": 90,
    "B1": 1100, "B2": 1200, "B3": 1000,
    "C1": 2100, "C2": 2300, "C3": 1900,
    "D1": 600, "D2": 620, "D3": 5000,
    "E1": 1600, "E2": 1400,
}  # fmt: skip
# P2: blanks 50, 60, 40 (mean 50); references 550, 450, 500 (signal mean 450);
# design 3: 950, 1000, 900 -> 2.0, 2.111, 1.889.
P2 = {
    "A1": 50, "A2": 60, "A3": 40,
    "B1": 550, "B2": 450, "B3": 500,
    "C1": 950, "C2": 1000, "C3": 900,
}  # fmt: skip


def well_plan(plate: str, wells: dict[str, int]) -> list[dict[str, object]]:
    """Layout rows (format of cellfree_common.md) for the hand-made plates above."""
    rows = []
    for well in wells:
        letter = well[0]
        if letter == "A":
            role, design, comp = "blank", -1, BLANK
        elif letter == "B":
            role, design, comp = "reference", -1, REFERENCE
        else:
            role = "sample"
            design = {"C": 0, "D": 1, "E": 2}[letter] if plate == "P1" else 3
            comp = DESIGNS[design]
        rep = int(well[1:])
        rows.append(
            {"plate": plate, "well": well, "role": role, "design": design, "replicate": rep}
            | dict(zip(COMPONENTS, comp, strict=True))
        )
    return rows


@pytest.fixture
def layout() -> pd.DataFrame:
    return pd.DataFrame(well_plan("P1", P1) + well_plan("P2", P2))


def long_frame(plate: str, wells: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"plate": plate, "well": list(wells), "value": list(wells.values())})


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def grid_text(values: dict[str, float], ncols: int = 12, corner: str = "", sep: str = ",") -> str:
    nrows = {12: 8, 24: 16}[ncols]
    lines = [sep.join([corner, *map(str, range(1, ncols + 1))])]
    for r in "ABCDEFGHIJKLMNOP"[:nrows]:
        cells = [str(values.get(f"{r}{c}", "")) for c in range(1, ncols + 1)]
        lines.append(sep.join([r, *cells]))
    return "\n".join(lines) + "\n"


# -- parsing -----------------------------------------------------------------------
def test_well_names_are_normalised() -> None:
    assert [normalise_well(w) for w in ("A01", "a1", "P24", "h012")] == ["A1", "A1", "P24", "H12"]
    for bad in ("Q1", "A25", "A0", "1A", ""):
        with pytest.raises(InputError, match="not a well name"):
            normalise_well(bad)


def test_long_csv_with_padded_well_names_and_extra_columns(tmp_path: Path) -> None:
    f = write(
        tmp_path / "run.csv",
        "# exported by hand\nPlate,Well,Value,Gain\nP1,A01,100,80\nP1,B07,1200.5,80\nP2,H12,3,80\n",
    )
    r = read_plate_file(f)
    assert list(r.columns) == ["plate", "well", "value", "file"]
    assert list(r["well"]) == ["A1", "B7", "H12"] and list(r["plate"]) == ["P1", "P1", "P2"]
    assert r["value"].tolist() == [100.0, 1200.5, 3.0] and set(r["file"]) == {"run.csv"}
    # TSV, no plate column: the plate argument (else the file stem) names the plate
    t = write(tmp_path / "P9.tsv", "well\tvalue\ttime_h\nA1\t5\t0.5\nA1\t7\t1.0\n")
    k = read_plate_file(t)
    assert list(k["plate"]) == ["P9", "P9"] and list(k["time_h"]) == [0.5, 1.0]
    assert set(read_plate_file(t, plate="P3")["plate"]) == {"P3"}
    # European exports: semicolons and decimal commas
    eu = read_plate_file(write(tmp_path / "eu.csv", "Plate;Well;Value\nP1;C03;1,5\n"))
    assert eu[["well", "value"]].values.tolist() == [["C3", 1.5]]


def test_gen5_grid_with_metadata_label_and_empty_wells() -> None:
    r = read_plate_file(DATA / "gen5_endpoint.csv")
    assert set(r["plate"]) == {"P1"} and "time_h" not in r.columns
    assert dict(zip(r["well"], r["value"], strict=True)) == P1  # empty cells: not read


def test_384_grid_tsv_with_tecan_corner_and_plate_argument(tmp_path: Path) -> None:
    values = {f"{r}{c}": i for i, (r, c) in enumerate((r, c) for r in "ABCDEFGHIJKLMNOP"
                                                    for c in range(1, 25))}  # fmt: skip
    text = "Tecan i-control\nMode\tFluorescence Top Reading\n\n"
    f = write(tmp_path / "plate.txt", text + grid_text(values, 24, corner="<>", sep="\t"))
    r = read_plate_file(f, plate="P2")
    assert len(r) == 384 and set(r["plate"]) == {"P2"}
    got = dict(zip(r["well"], r["value"], strict=True))
    assert got["A1"] == 0 and got["A24"] == 23 and got["B1"] == 24 and got["P24"] == 383


def test_several_blocks_kinetic_times_and_untimed_reads(tmp_path: Path) -> None:
    r = read_plate_file(DATA / "kinetic_two_plates.csv")
    p1 = r[r["plate"] == "P1"]
    assert sorted(set(p1["time_h"])) == [0.5, 2.0] and len(p1) == 20
    assert p1.loc[(p1["well"] == "H12") & (p1["time_h"] == 2.0), "value"].item() == 120
    assert r.loc[r["plate"] == "P2", "well"].tolist() == ["A1"]
    # two unlabelled-time blocks of one plate are numbered reads; end point = last read
    text = "Plate: P1\n" + grid_text({"A1": 1}) + "Plate: P1\n" + grid_text({"A1": 9})
    two = read_plate_file(write(tmp_path / "reads.csv", text))
    assert two["read"].tolist() == [1, 2]


# -- processing --------------------------------------------------------------------
def test_blank_subtraction_normalisation_replicates_and_outlier(layout: pd.DataFrame) -> None:
    res = process_plate(read_plate_file(DATA / "gen5_endpoint.csv"), layout)
    w = res.wells.set_index("well")
    assert w.loc["C1", "signal"] == pytest.approx(2000) and w.loc["C1", "relative"] == 2.0
    assert w.loc["B2", "relative"] == pytest.approx(1.1)
    t = res.results.set_index(res.results["mg_glutamate"].map({12: 0, 4: 1, 10: 2}))
    assert list(t.index) == [0, 1, 2]
    assert t.loc[0, "relative_yield"] == pytest.approx(2.0)
    assert t.loc[0, "relative_yield_std"] == pytest.approx(0.2)
    assert t.loc[0, "relative_yield_n"] == 3 and t.loc[0, "signal_rfu"] == pytest.approx(2000)
    # D3 (4.9 against 0.50, 0.52): modified z = 0.6745 * 4.38 / 0.02 >> 3.5
    assert res.outliers["well"].tolist() == ["D3"]
    assert t.loc[1, "relative_yield"] == pytest.approx(0.51)
    assert t.loc[1, "relative_yield_std"] == pytest.approx(0.02 / math.sqrt(2))
    assert t.loc[1, "relative_yield_n"] == 2
    assert t.loc[1, "source"] == "gen5_endpoint.csv: plate P1 wells D1,D2 (outliers D3 excluded)"
    assert t.loc[2, "relative_yield"] == pytest.approx(1.4) and t.loc[2, "relative_yield_n"] == 2
    assert t.loc[0, "source"] == "gen5_endpoint.csv: plate P1 wells C1,C2,C3"
    assert list(t.loc[0, ["mg_glutamate", "dna"]]) == [12, 20]
    assert t.loc[1, "wells"] == "P1:D1,D2" and t.loc[1, "outliers"] == "P1:D3"
    assert "Iglewicz & Hoaglin" in res.rule and "3.5" in res.rule and "0.1" in res.rule
    # QC: reference CV = 100 / 1000; Z' = 1 - 3 (100 + 10) / 1000
    qc = res.qc.set_index("plate").loc["P1"]
    assert qc["blank_mean"] == pytest.approx(100) and qc["reference_signal"] == pytest.approx(1000)
    assert qc["reference_cv"] == pytest.approx(0.1) and qc["z_prime"] == pytest.approx(0.67)
    assert qc["n_outliers"] == 1
    # without a rule D3 counts
    plain = process_plate(read_plate_file(DATA / "gen5_endpoint.csv"), layout, outlier_rule=None)
    assert plain.outliers.empty and res.rule != plain.rule == "none"
    assert plain.results["relative_yield"].iloc[1] == pytest.approx((0.5 + 0.52 + 4.9) / 3)


def test_modified_z_score_rule() -> None:
    rule = ModifiedZScore()
    assert rule.flag(np.array([1.0, 1.1, 0.9, 5.0])).tolist() == [False, False, False, True]
    assert rule.flag(np.array([0.2, 1.0, 1.05])).tolist() == [True, False, False]  # dead well
    assert not rule.flag(np.array([1.0, 5.0])).any()  # too few to judge
    assert not rule.flag(np.array([2.0, 2.0, 2.0])).any()
    # MAD = 0 (most values equal): the mean absolute deviation stands in
    textbook = ModifiedZScore(min_cv=0)
    assert textbook.flag(np.array([1.0, 1.0, 1.0, 1.0, 1.3])).tolist() == [False] * 4 + [True]
    with pytest.raises(InputError):
        ModifiedZScore(min_group=2)


def test_outlier_rule_false_flag_rate_on_clean_triplicates() -> None:
    """The stated rule's cost: how often clean triplicates (5 % CV) lose a well."""
    x = np.random.default_rng(0).normal(1.0, 0.05, size=(2000, 3))
    textbook = np.mean([ModifiedZScore(min_cv=0).flag(r).any() for r in x])
    floored = np.mean([ModifiedZScore().flag(r).any() for r in x])
    assert 0.2 < textbook < 0.4  # the MAD of three wells understates their spread
    assert floored < 0.01


def test_two_plates_are_normalised_each_to_its_own_reference(
    layout: pd.DataFrame, tmp_path: Path
) -> None:
    f2 = write(tmp_path / "second.csv", "Plate: P2\n" + grid_text(P2))
    res = import_plates([DATA / "gen5_endpoint.csv", f2], layout)
    t = res.results.set_index("mg_glutamate")
    assert t.loc[16, "relative_yield"] == pytest.approx(2.0)  # 900/450, 950/450, 850/450
    assert t.loc[12, "relative_yield"] == pytest.approx(2.0)
    assert t.loc[16, "source"] == "second.csv: plate P2 wells C1,C2,C3"
    assert res.qc["plate"].tolist() == ["P1", "P2"]
    assert res.qc.set_index("plate").loc["P2", "reference_signal"] == pytest.approx(450)
    # a file without a plate label takes it from a mapping path -> plate
    f3 = write(tmp_path / "unlabelled.csv", grid_text(P2))
    again = import_plates({DATA / "gen5_endpoint.csv": "P1", f3: "P2"}, layout)
    assert again.results["relative_yield"].tolist() == res.results["relative_yield"].tolist()


def test_kinetic_readings_use_the_last_time_point(layout: pd.DataFrame) -> None:
    early = long_frame("P1", {w: v / 10 for w, v in P1.items()}).assign(time_h=0.5)
    late = long_frame("P1", P1).assign(time_h=3.0)
    res = process_plate(pd.concat([late, early]), layout)
    assert res.results["relative_yield"].iloc[0] == pytest.approx(2.0)


def test_absolute_signal_and_reference_option(layout: pd.DataFrame) -> None:
    readings = long_frame("P1", P1)
    res = process_plate(readings, layout, objective="gfp", normalise=False, scale=0.01)
    assert res.results["gfp"].iloc[0] == pytest.approx(20.0)  # 2000 RFU x 0.01 µM/RFU
    assert res.results["gfp_std"].iloc[0] == pytest.approx(2.0)
    ref = process_plate(readings, layout, include_reference=True).results
    assert ref["relative_yield"].iloc[0] == pytest.approx(1.0) and ref["dna"].iloc[0] == 10
    assert ref["source"].iloc[0] == "readings: plate P1 wells B1,B2,B3"


def test_unplanned_wells_can_be_ignored_for_full_plate_reads(layout: pd.DataFrame) -> None:
    full = {f"{r}{c}": 5 for r in "ABCDEFGH" for c in range(1, 13)} | P1
    res = process_plate(long_frame("P1", full), layout, unplanned="ignore")
    assert len(res.wells) == len(P1)


# -- bad input: one line, naming file, plate and well; nothing returned ---------------
def grid_file(tmp_path: Path, text: str) -> Path:
    return write(tmp_path / "bad.csv", text)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "bad.csv: empty file"),
        ("\n \n", "bad.csv: empty file"),
        ("Plate,Well,Value\nP1,A1,-3\n", "line 2: plate P1 well A1: negative raw reading"),
        ("Plate,Well,Value\nP1,A1,\n", "line 2: plate P1 well A1: missing reading"),
        ("Plate,Well,Value\nP1,A1,NaN\n", "plate P1 well A1: missing reading"),
        ("Plate,Well,Value\nP1,A1,5\nP1,A01,6\n", "plate P1 well A1: duplicated reading"),
        ("Plate,Well,Value\nP1,Z1,5\n", "plate P1: not a well name"),
        ("Plate,Well,Value\n", "no readings under the header"),
        ("just,some\nmetadata,here\n", "no readings found"),
        ("Plate: P1\n" + grid_text({"C4": -1}), "line 5: plate P1 well C4: negative raw"),
        ("Plate: P1\n" + grid_text({"H12": "OVRFLW"}), "plate P1 well H12: reading is not a"),
        (
            "Plate: P1\n" + grid_text({"B12": 3}).replace("\nB,", "\nB,7,", 1),
            "row B has 13 columns",
        ),
        (
            "Plate: P1\n" + grid_text({"A1": 1}).replace(",\nC", "\nC", 1),
            "row B has 11 columns",
        ),
        ("Plate: P1\n" + grid_text({"A1": 1}).replace("\nD,", "\nX,"), "expected row D"),
        ("Plate: P1\n" + grid_text({"A1": 1}).rsplit("\n", 2)[0], "expected row H"),
        (",1,2,3,4,5,6,7,8,9,10,11\nA,1,2,3,4,5,6,7,8,9,10,11\n", "header has columns 1..11"),
    ],
)
def test_bad_files_raise_one_line(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        read_plate_file(grid_file(tmp_path, text))
    assert "\n" not in str(err.value) and "bad.csv" in str(err.value)


def test_missing_file_and_spreadsheet(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_plate_file(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="saved as CSV"):
        read_plate_file(write(tmp_path / "p.xlsx", "x"))


def bad_plan(layout: pd.DataFrame, role: str) -> pd.DataFrame:
    return layout[~((layout["plate"] == "P1") & (layout["role"] == role))]


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("missing well", "r.csv: plate P1: planned wells C2, D3 have no reading"),
        ("unplanned well", "r.csv: plate P1: wells F7 have readings but are not in the plan"),
        ("unknown plate", "r.csv: plate P7 is in the readings but not in the layout"),
        ("no reference", "r.csv: plate P1 has no reference wells in the layout"),
        ("no blank", "r.csv: plate P1 has no blank wells in the layout"),
        ("nan", "r.csv: plate P1 well C1: missing reading"),
        ("negative", "r.csv: plate P1 well C1: negative raw reading"),
        ("duplicate", "r.csv: plate P1 well C1: duplicated reading"),
        ("dim reference", "r.csv: plate P1: reference signal is not above the blank"),
        ("bad layout", "layout: plate P1 well C1: unknown role"),
        ("mixed design", "design 0: its wells disagree on dna"),
        ("timeless read", "plate P1 well A1: reading without time_h among timed reads"),
    ],
)
def test_readings_that_do_not_match_the_plan(layout: pd.DataFrame, case: str, match: str) -> None:
    r = long_frame("P1", P1).assign(file="r.csv")
    plan = layout
    if case == "missing well":
        r = r[~r["well"].isin(["C2", "D3"])]
    elif case == "unplanned well":
        r = pd.concat([r, long_frame("P1", {"F07": 3}).assign(file="r.csv")])
    elif case == "unknown plate":
        r = long_frame("P7", P1).assign(file="r.csv")
    elif case == "no reference":
        plan, r = bad_plan(layout, "reference"), r[~r["well"].str.startswith("B")]
    elif case == "no blank":
        plan, r = bad_plan(layout, "blank"), r[~r["well"].str.startswith("A")]
    elif case == "nan":
        r.loc[r["well"] == "C1", "value"] = np.nan
    elif case == "negative":
        r.loc[r["well"] == "C1", "value"] = -1.0
    elif case == "duplicate":
        r = pd.concat([r, r[r["well"] == "C1"]])
    elif case == "dim reference":
        r.loc[r["well"].str.startswith("B"), "value"] = 100.0
    elif case == "bad layout":
        plan = layout.copy()
        plan.loc[(plan["plate"] == "P1") & (plan["well"] == "C1"), "role"] = "sampel"
    elif case == "mixed design":
        plan = layout.copy()
        plan.loc[(plan["plate"] == "P1") & (plan["well"] == "C2"), "dna"] = 21
    elif case == "timeless read":
        r = pd.concat([r.assign(time_h=1.0), r.assign(time_h=np.nan).iloc[:1]])
    with pytest.raises(InputError, match=match) as err:
        process_plate(r, plan)
    assert "\n" not in str(err.value)


def test_same_well_in_two_files_is_an_error(layout: pd.DataFrame, tmp_path: Path) -> None:
    other = write(tmp_path / "again.csv", "Plate: P1\n" + grid_text({"C1": 5}))
    with pytest.raises(InputError, match=r"plate P1 well C1: duplicated reading.*again\.csv"):
        import_plates([DATA / "gen5_endpoint.csv", other], layout)
    with pytest.raises(InputError, match="no plate-reader files"):
        import_plates([], layout)


def test_layout_from_csv_and_its_errors(layout: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "layout.csv"
    padded = [f"{w[0]}{int(w[1:]):02d}" for w in layout["well"]]  # A01 style
    layout.assign(well=padded).to_csv(path, index=False)
    assert read_layout(path)["well"].tolist() == layout["well"].tolist()
    res = process_plate(long_frame("P1", P1), path)
    assert len(res.results) == 3
    with pytest.raises(InputError, match=r"layout\.csv: plate P1 well A1: well planned twice"):
        pd.concat([layout, layout.iloc[:1]]).to_csv(path, index=False)
        read_layout(path)
    with pytest.raises(InputError, match=r"layout lacks a column.*'role'"):
        read_layout(layout.drop(columns="role"))


# -- into a campaign -------------------------------------------------------------------
@pytest.fixture
def campaign(tmp_path: Path) -> Campaign:
    space = Space(
        {
            "mg_glutamate": Continuous(2, 20),
            "k_glutamate": Continuous(20, 200),
            "pga": Continuous(0, 60),
            "ntp": Continuous(0.5, 4),
            "amino_acids": Continuous(0.5, 4),
            "dna": Continuous(1, 30),
        }
    )
    store = Store(f"sqlite:///{tmp_path / 'biofab.db'}")
    return Campaign.create("cfps", space, ["relative_yield:max"], store=store)


def test_results_ingest_into_a_campaign_with_provenance(
    campaign: Campaign, layout: pd.DataFrame, tmp_path: Path
) -> None:
    res = import_plates([DATA / "gen5_endpoint.csv"], layout)
    assert "source" in res.results.columns
    out = res.to_csv(tmp_path / "results.csv")
    campaign.ingest(out)
    data = campaign.data().set_index("mg_glutamate")
    assert data.loc[12.0, "relative_yield"] == pytest.approx(2.0)
    assert data.loc[4.0, "relative_yield"] == pytest.approx(0.51)
    m = campaign.store.measurement_table("cfps")
    assert len(m) == 3
    assert "gen5_endpoint.csv: plate P1 wells C1,C2,C3" in set(m["source"])
    # the frame itself ingests too; the same content again adds nothing
    campaign.ingest(res.results, filename="frame")
    assert len(campaign.data()) == 3
