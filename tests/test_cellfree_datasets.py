"""The published cell-free campaigns load as documented, and bad files say where they are bad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biofab.cellfree import ReplayData, load_borkowski, load_metis
from biofab.core import Continuous, InputError, Objective

BORKOWSKI_COLUMNS = [
    "nad", "folinic_acid", "coa", "nucleo_mix", "spermidin", "pga",
    "aa", "trna", "mg_gluta", "camp", "K_gluta",
]  # fmt: skip
METIS_VARIED = [
    "NTP", "K_Glutamate", "Mg_Glutamate", "spermidine", "DTT", "amino_acids",
    "folinic_acid", "tRNA_mix", "PEG", "CoA", "NAD", "cAMP", "3-PGA",
]  # fmt: skip
METIS_HEADER = (
    "NTP,HEPES,K_Glutamate,Mg_Glutamate,spermidine,DTT,amino_acids,folinic_acid,tRNA_mix,"
    "PEG,CoA,NAD,cAMP,3-PGA,DNA,well_name_1,well_name_2,well_name_3,raw1,raw2,raw3,mean,"
    "yield,yield_std"
)
REF = "1.56,50,90,5,0.5,1.5,0.81,0.0408,0.12,2,0.195,0.2625,0.4875,16"


# -- the real data ---------------------------------------------------------------


def test_borkowski_loads_1017_rows_as_1007_compositions(borkowski_dir: Path) -> None:
    data = load_borkowski(borkowski_dir)
    assert isinstance(data, ReplayData)
    assert data.name == "borkowski2020"
    assert data.space.names == BORKOWSKI_COLUMNS
    assert list(data.table.columns) == [
        *BORKOWSKI_COLUMNS, "yield", "yield_std", "round", "n_measurements",
    ]  # fmt: skip
    assert len(data) == 1007
    assert int(data.table["n_measurements"].sum()) == 1017
    assert (data.table["n_measurements"] == 2).sum() == 10
    assert sorted(data.table["round"].unique()) == list(range(1, 11))
    assert data.objective == Objective("yield", "max")
    assert "Borkowski" in data.source and "11:1872" in data.source
    assert len(data.files) == 10
    assert data.fixed == {}
    for name in BORKOWSKI_COLUMNS:
        p = data.space.parameters[name]
        assert isinstance(p, Continuous) and p.step is None
        assert len(data.levels[name]) == 4
        assert p.lo == data.levels[name][0] and p.hi == data.levels[name][-1]
    assert data.space.parameters["mg_gluta"].unit == "mM"
    assert data.space.parameters["trna"].unit == "mg/mL"
    assert data.levels["K_gluta"] == (8.0, 24.0, 40.0, 80.0)
    # Unique keys: one row per composition.
    assert len(set(data.space.keys(data.designs))) == 1007


def test_borkowski_top_yields(borkowski_dir: Path) -> None:
    table = load_borkowski(borkowski_dir).table.sort_values("yield", ascending=False)
    top = table.iloc[0]
    assert top["yield"] == pytest.approx(3.3227)
    assert top["round"] == 7
    assert (top["nad"], top["coa"], top["mg_gluta"], top["K_gluta"]) == (0.165, 0.026, 4.0, 80.0)
    assert table["yield"].iloc[:6].round(4).tolist() == [
        3.3227, 3.2983, 3.0081, 2.9779, 2.9744, 2.9539,
    ]  # fmt: skip


def test_borkowski_duplicates_are_averaged(borkowski_dir: Path) -> None:
    table = load_borkowski(borkowski_dir).table
    row = table[
        (table["nad"] == 0.165) & (table["coa"] == 0.078) & (table["aa"] == 0.15)
        & (table["mg_gluta"] == 4.0) & (table["spermidin"] == 0.1) & (table["trna"] == 0.06)
        & (table["folinic_acid"] == 0.068) & (table["pga"] == 9) & (table["camp"] == 0.075)
    ]  # fmt: skip
    assert len(row) == 1
    r = row.iloc[0]
    # plate 6: 2.1504 ± 0.1963, plate 7: 1.5581 ± 0.0249
    assert r["yield"] == pytest.approx((2.1504 + 1.5581) / 2)
    spread = ((2.1504 - r["yield"]) ** 2 + (1.5581 - r["yield"]) ** 2) / 2
    pooled = np.sqrt((0.1963**2 + 0.0249**2) / 2 + spread)
    assert r["yield_std"] == pytest.approx(pooled)
    assert r["round"] == 6 and r["n_measurements"] == 2


def test_borkowski_single_file(borkowski_dir: Path) -> None:
    data = load_borkowski(borkowski_dir / "plate_AL_1_raw_yield_and_std.csv")
    assert len(data) == 99
    assert set(data.table["round"]) == {1}


def test_metis_loads_200_designs_without_controls(metis_dir: Path) -> None:
    data = load_metis(metis_dir)
    assert data.name == "metis_txtl"
    assert data.space.names == METIS_VARIED
    assert len(data.space.names) == 13
    assert data.fixed == {"HEPES": 50.0, "DNA": 20.0}
    assert len(data) == 200
    assert (data.table["n_measurements"] == 1).all()
    assert data.table["round"].value_counts().sort_index().tolist() == [20] * 10
    assert "Pandi" in data.source
    # The reference composition (the plate controls) is not in the pool.
    ref = [float(x) for x in REF.split(",")]
    ref_values = dict(zip(["NTP", "HEPES", *METIS_VARIED[1:]], ref, strict=True))
    is_ref = np.all([np.isclose(data.table[c], ref_values[c]) for c in METIS_VARIED], axis=0)
    assert not is_ref.any()
    assert data.levels["Mg_Glutamate"] == (0.0, 2.5, 5.0, 7.5, 10.0)
    assert data.space.parameters["PEG"].unit == "% (w/v)"


def test_metis_top_yields(metis_dir: Path) -> None:
    table = load_metis(metis_dir).table.sort_values("yield", ascending=False)
    assert table["yield"].iloc[:3].tolist() == pytest.approx([6.5491, 4.8406, 4.7965])
    top = table.iloc[0]
    assert top["round"] == 9
    assert (top["NTP"], top["K_Glutamate"], top["Mg_Glutamate"], top["PEG"]) == (
        1.56, 105.0, 10.0, 4.0,
    )  # fmt: skip


def test_metis_single_file(metis_dir: Path) -> None:
    data = load_metis(metis_dir / "Results_3.csv")
    assert len(data) == 20
    assert set(data.table["round"]) == {3}


# -- bad input -------------------------------------------------------------------


def _borkowski_csv(rows: list[str]) -> str:
    return "\n".join([",".join([*BORKOWSKI_COLUMNS, "yield", "yield_std"]), *rows]) + "\n"


GOOD_ROWS = [
    "0.165,0.0204,0.078,0.75,0.3,9,0.45,0.02,1.2,0.375,40,0.5,0.0131",
    "0.33,0.068,0.26,1.5,1,30,1.5,0.2,0.4,0.75,80,1.5,0.0095",
    "0.33,0.068,0.26,0.15,1,30,1.5,0.2,4,0.75,80,1.0,0.077",
]


def test_missing_folder_names_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder") as err:
        load_borkowski(tmp_path / "nowhere")
    assert err.value.file == str(tmp_path / "nowhere")


def test_empty_folder_says_what_files_it_wants(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(InputError, match="no data files") as err:
        load_metis(tmp_path)
    assert "Results_*.csv" in str(err.value)


def test_missing_column(tmp_path: Path) -> None:
    f = tmp_path / "plate_AL_1_raw_yield_and_std.csv"
    f.write_text(_borkowski_csv(GOOD_ROWS).replace("mg_gluta", "mg"))
    with pytest.raises(InputError, match="missing column") as err:
        load_borkowski(tmp_path)
    assert err.value.file == str(f)
    assert err.value.column == "mg_gluta"


def test_non_numeric_value_names_file_row_column(tmp_path: Path) -> None:
    f = tmp_path / "plate_AL_2_raw_yield_and_std.csv"
    bad = [*GOOD_ROWS[:2], "0.33,0.068,0.26,0.15,1,30,lots,0.2,4,0.75,80,1.0,0.077"]
    f.write_text(_borkowski_csv(bad))
    with pytest.raises(InputError) as err:
        load_borkowski(f)
    e = err.value
    assert (e.file, e.row, e.column, e.expected, e.found) == (str(f), 3, "aa", "a number", "lots")
    assert "row 3" in str(e) and "column 'aa'" in str(e) and "'lots'" in str(e)


def test_empty_cell_and_negative_std(tmp_path: Path) -> None:
    f = tmp_path / "plate_AL_1.csv"
    f.write_text(_borkowski_csv(["0.165,0.0204,0.078,0.75,0.3,9,0.45,0.02,1.2,0.375,40,,0.01"]))
    with pytest.raises(InputError) as err:
        load_borkowski(f)
    assert (err.value.row, err.value.column, err.value.found) == (1, "yield", "")
    f.write_text(_borkowski_csv(["0.165,0.0204,0.078,0.75,0.3,9,0.45,0.02,1.2,0.375,40,1,-0.2"]))
    with pytest.raises(InputError, match="non-negative") as err:
        load_borkowski(f)
    assert err.value.column == "yield_std"


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "plate_AL_1.csv"
    f.write_text("")
    with pytest.raises(InputError, match="empty file"):
        load_borkowski(f)


def test_synthetic_borkowski_files_merge_duplicates_across_plates(tmp_path: Path) -> None:
    (tmp_path / "plate_AL_1_raw_yield_and_std.csv").write_text(_borkowski_csv(GOOD_ROWS))
    (tmp_path / "plate_AL_2_raw_yield_and_std.csv").write_text(
        _borkowski_csv([GOOD_ROWS[0].replace(",0.5,0.0131", ",0.7,0.0131")])
    )
    data = load_borkowski(tmp_path)
    assert len(data) == 3
    first = data.table.iloc[0]
    assert first["yield"] == pytest.approx(0.6)
    assert first["yield_std"] == pytest.approx(np.sqrt(0.0131**2 + 0.01))
    assert first["round"] == 1 and first["n_measurements"] == 2


def _metis_row(composition: str, dna: int, y: float) -> str:
    return f"{composition},{dna},A1,B1,C1,1,1,1,1,{y},0.01"


def _metis_file(designs: list[str], with_controls: bool = True) -> str:
    rows = [_metis_row(d, 20, 1.0 + i) for i, d in enumerate(designs)]
    if with_controls:
        rows += [
            _metis_row(REF, 20, 1.0),
            _metis_row("1.56,50,90,5,1,0.5,1.5,0.068,0.2,2,0.26,0.35,0.8125,28", 20, 0.3),
            _metis_row(REF, 20, 1.0),
            _metis_row(REF, 0, 0.0),
        ]
    return "\n".join([METIS_HEADER, *rows]) + "\n"


DESIGNS = [
    "0.78,50,30,2.5,0.3,2.5,1.32,0.068,0.2,0.75,0.195,0.2625,0.4875,24",
    "3.12,50,135,0,0.4,3,0.39,0.0408,0.2,3.5,0.065,0.175,0.8125,20",
]


def test_metis_rule_on_a_small_file(tmp_path: Path) -> None:
    f = tmp_path / "Results_4.csv"
    f.write_text(_metis_file(DESIGNS))
    data = load_metis(f)
    assert len(data) == 2
    assert data.table["yield"].tolist() == [1.0, 2.0]
    # Constant columns (here also tRNA_mix, the same in both designs) leave the space.
    assert data.fixed == {"HEPES": 50.0, "tRNA_mix": 0.2, "DNA": 20.0}
    assert "tRNA_mix" not in data.space.names
    assert set(data.table["round"]) == {4}


def test_metis_file_without_the_blank_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "Results_1.csv"
    f.write_text(_metis_file(DESIGNS * 3, with_controls=False))
    with pytest.raises(InputError, match="plate controls") as err:
        load_metis(f)
    assert err.value.column == "DNA" and err.value.file == str(f)


def test_metis_controls_zero_keeps_every_design_but_the_blanks(tmp_path: Path) -> None:
    f = tmp_path / "Results_1.csv"
    rows = [_metis_row(DESIGNS[0], 20, 2.0), _metis_row(DESIGNS[1], 0, 0.0)]
    rows.append(_metis_row(REF, 20, 1.0))
    f.write_text("\n".join([METIS_HEADER, *rows]) + "\n")
    data = load_metis(f, controls=0)
    assert len(data) == 2  # the DNA = 0 row is a blank wherever it is
    with pytest.raises(InputError, match="controls must be"):
        load_metis(f, controls=-1)


def test_metis_all_controls_leaves_nothing(tmp_path: Path) -> None:
    f = tmp_path / "Results_1.csv"
    f.write_text(_metis_file([]))
    with pytest.raises(InputError, match="too few rows"):
        load_metis(f)
