"""BatchData: loaders (long, wide, mapping, unit conversion), transformations, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.core.errors import BiofabError, InputError
from biofab.process.batchdata import (
    SIGNALS,
    BatchData,
    ColumnMapping,
    read_batches,
    write_batches,
)
from biofab.process.units import UnitError, convert

DATA = Path(__file__).parent / "data" / "process"
WIDE, WIDE_MAP = DATA / "wide.csv", DATA / "wide_mapping.yaml"
LONG, LONG_MAP = DATA / "long.csv", DATA / "long_mapping.yaml"


def _frames_equal(a: BatchData, b: BatchData) -> None:
    assert a.batch_id == b.batch_id
    assert a.units == b.units
    pd.testing.assert_frame_equal(a.online, b.online, rtol=1e-9, check_like=False)
    pd.testing.assert_frame_equal(a.offline, b.offline, rtol=1e-9, check_like=False)


def _bad(tmp_path: Path, csv: str, mapping: dict | None = None, name: str = "d.csv") -> str:
    path = tmp_path / name
    path.write_text(csv)
    with pytest.raises(InputError) as info:
        read_batches(path, mapping)
    message = str(info.value)
    assert "\n" not in message
    assert info.value.exit_code == 2  # the CLI exits with 2 on a BiofabError
    return message.replace(str(tmp_path) + "/", "")


# -- units -------------------------------------------------------------------------------


def test_units_convert_time_concentration_and_molar() -> None:
    assert convert(90, "min", "h") == pytest.approx(1.5)
    assert convert([250.0], "mg/L", "g/L")[0] == pytest.approx(0.25)
    assert convert(1500, "mL", "L") == pytest.approx(1.5)
    assert convert(10, "mM", "g/L", molar_mass=180.156) == pytest.approx(1.80156)
    assert convert(310.15, "K", "°C") == pytest.approx(37.0)
    assert convert(0.21, "-", "%") == pytest.approx(21.0)
    with pytest.raises(UnitError, match="cannot convert 'g/L' \\(mass_conc\\) to 'h'"):
        convert(1, "g/L", "h")
    with pytest.raises(UnitError, match="needs a molar mass"):
        convert(1, "mM", "g/L")
    with pytest.raises(UnitError, match="unknown unit 'furlong'"):
        convert(1, "furlong", "h")


# -- loading -----------------------------------------------------------------------------


def test_wide_with_mapping_converts_units_and_keeps_offline_sparse() -> None:
    b1, b2 = read_batches(WIDE, WIDE_MAP)
    assert (b1.batch_id, b2.batch_id) == ("B1", "B2")
    # min -> h; the 135 min row holds only offline samples, so it is no online point.
    np.testing.assert_allclose(b1.times, [0, 0.5, 1, 1.5, 2, 2.5, 3])
    np.testing.assert_allclose(b1.offline.index, [0, 1, 2, 2.25, 3])
    assert b1.online_signals == ["DO", "temperature", "volume", "feed_rate"]
    assert b1.offline_signals == ["biomass", "substrate", "acetate"]
    # mL -> L, mL/h -> L/h, mg/L -> g/L, mM acetate -> g/L (60.052 g/mol).
    assert b1["volume"].iloc[-1] == pytest.approx(1.06)
    assert b1["feed_rate"].loc[2.0] == pytest.approx(0.040)
    np.testing.assert_allclose(b1["biomass"], [0.1, 0.25, 0.6, 0.8, 1.5])
    assert b1["acetate"].loc[3.0] == pytest.approx(3.5 * 60.052 / 1000)
    # empty offline cell = not sampled: acetate was not measured at 2.25 h
    assert 2.25 not in b1["acetate"].index
    assert b1.units["biomass"] == "g/L" and b1.units["DO"] == "%"
    assert b1.metadata["strain"] == "BL21(DE3)" and b1.metadata["induction_h"] == 2.0
    assert "induction_h" not in b2.metadata
    assert b1.metadata["ignored_columns"] == ["Comment"]
    assert "B1" in repr(b1) and "biomass [g/L]" in repr(b1) and "0-3 h" in repr(b1)


def test_long_with_mapping_per_row_units_and_minutes() -> None:
    (b,) = read_batches(LONG, LONG_MAP)
    assert b.batch_id == "R7"
    assert b.online_signals == ["DO", "pH", "volume"]
    assert b.offline_signals == ["biomass", "substrate"]
    # signals on different clocks: each keeps its own readings (NaN elsewhere)
    np.testing.assert_allclose(b["volume"].index, [0, 1.5, 3])
    np.testing.assert_allclose(b["volume"], [1.5, 1.5, 1.56])
    np.testing.assert_allclose(b["biomass"].index, [0, 95 / 60, 175 / 60])
    np.testing.assert_allclose(b["biomass"], [0.15, 0.9, 2.4])
    assert b["substrate"].iloc[0] == pytest.approx(55.5 * 180.156 / 1000)
    assert b.metadata["ignored_columns"] == ["AIR"]


def test_long_round_trip(tmp_path: Path) -> None:
    batches = read_batches(WIDE, WIDE_MAP) + read_batches(LONG, LONG_MAP)
    path = write_batches(batches, tmp_path / "all.csv")
    again = read_batches(path)  # standard names, unit and kind columns: no mapping needed
    assert [b.batch_id for b in again] == ["B1", "B2", "R7"]
    for a, b in zip(batches, again, strict=True):
        _frames_equal(a, b)


def test_wide_round_trip(tmp_path: Path) -> None:
    batches = read_batches(WIDE, WIDE_MAP)
    path = batches[0].to_csv(tmp_path / "b1.csv", format="wide")
    header = path.read_text().splitlines()[0]
    assert header.startswith("batch,time_h,DO [%],temperature [degC],volume [L]")
    (again,) = read_batches(path)
    _frames_equal(batches[0], again)
    path = write_batches(batches, tmp_path / "both.csv", format="wide")
    assert [b.batch_id for b in read_batches(path)] == ["B1", "B2"]


def test_wide_without_mapping_reads_units_from_headers(tmp_path: Path) -> None:
    path = tmp_path / "run.csv"
    path.write_text("time [min],DO,biomass [mg/L]\n0,100,50\n30,90,\n60,80,200\n")
    (b,) = read_batches(path)
    assert b.batch_id == "run"  # no batch column: one batch named after the file
    np.testing.assert_allclose(b.times, [0, 0.5, 1])
    np.testing.assert_allclose(b["biomass"], [0.05, 0.2])


def test_mapping_as_dict_and_allow_gaps(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("t,do,ph\n0,100,7\n1,,7.1\n2,90,7.2\n")
    mapping = {"time": "t", "columns": {"do": "DO", "ph": "pH"}, "allow_gaps": ["DO"]}
    (b,) = read_batches(path, mapping)
    np.testing.assert_allclose(b["DO"].index, [0, 2])
    assert b.at([1.0])["DO"].iloc[0] == pytest.approx(95.0)
    assert ColumnMapping.from_dict(mapping).gaps_allowed("DO")


def test_clock_times_and_empty_unit_cells(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "batch,stamp,variable,value,unit\n"
        "A,2024-05-01T08:00:00,DO,100,%\n"
        "A,2024-05-01T09:30:00,DO,90,\n"
        "B,2024-05-02T10:00:00,biomass,500,mg/L\n"
        "B,2024-05-02T12:00:00,biomass,1.5,\n",
    )
    mapping = {
        "time": {"column": "stamp", "unit": "datetime"},
        "columns": {"DO": "DO", "biomass": "biomass"},
        "metadata": {"B": {"inoculation": "2024-05-02T09:00:00"}},
    }
    a, b = read_batches(path, mapping)
    np.testing.assert_allclose(a.times, [0.0, 1.5])  # from the first row
    np.testing.assert_allclose(b["biomass"].index, [1.0, 3.0])  # from the inoculation
    np.testing.assert_allclose(b["biomass"], [0.5, 1.5])  # empty unit cell: standard g/L
    bad = "batch,stamp,variable,value\nA,01/05/2024 08:00,DO,100\n"
    assert _bad(tmp_path, bad, mapping | {"metadata": {}, "columns": {"DO": "DO"}}) == (
        "d.csv, row 1, column 'stamp': not an ISO 8601 date-time; "
        "expected e.g. 2024-05-01T08:30:00; found '01/05/2024 08:00'"
    )


# -- code users and transformations ------------------------------------------------------


def _sim() -> BatchData:
    t = np.linspace(0.0, 10.0, 21)  # 0.5 h steps
    online = pd.DataFrame({"time_h": t, "volume": 1.0 + 0.05 * t, "DO": 100 - 4 * t})
    offline = pd.DataFrame({"biomass": [100.0, 2500.0, 6000.0]}, index=[0.0, 5.0, 10.0])
    return BatchData.from_frames(
        "sim", online, offline, units={"biomass": "mg/L"}, metadata={"model": "ecoli"}
    )


def test_from_frames_resample_at_slice_align_long() -> None:
    b = _sim()
    assert b.signals == ["volume", "DO", "biomass"]
    np.testing.assert_allclose(b["biomass"], [0.1, 2.5, 6.0])  # mg/L -> g/L
    r = b.resample(0.25)
    assert len(r.online) == 41 and r.online.index[1] == 0.25
    assert r.online["volume"].iloc[1] == pytest.approx(1.0125)
    pd.testing.assert_frame_equal(r.offline, b.offline)  # offline stays sparse
    at = b.at([0.75, 11.0])
    assert at["DO"].iloc[0] == pytest.approx(97.0) and np.isnan(at["DO"].iloc[1])
    s = b.slice(2.0, 5.0)
    assert s.times[0] == 2.0 and s.times[-1] == 5.0 and list(s["biomass"].index) == [5.0]
    other = BatchData.from_frames(
        "late", pd.DataFrame({"volume": [1.0, 1.2, 1.4, 1.6]}, index=[3.0, 6.0, 9.0, 12.0])
    )
    a1, a2 = b.align(other)
    np.testing.assert_allclose(a1.times, [3.0, 6.0, 9.0])  # coarser median step: 3 h
    np.testing.assert_allclose(a2.times, a1.times)
    assert a2["volume"].iloc[-1] == pytest.approx(1.4)
    assert a1["volume"].iloc[-1] == pytest.approx(1.45)
    long = b.to_long()
    assert list(long.columns) == ["batch", "time_h", "variable", "value", "unit", "kind"]
    assert len(long) == 21 * 2 + 3
    assert set(long.loc[long.variable == "biomass", "kind"]) == {"offline"}


def test_from_frames_errors() -> None:
    t = [0.0, 1.0, 1.0]
    with pytest.raises(InputError) as info:
        BatchData.from_frames("x", pd.DataFrame({"volume": [1, 1, 1]}, index=t))
    assert str(info.value) == (
        "row 3, column 'time_h': batch 'x': duplicated online timestamp 1 h; "
        "expected time > 1 h; found 1.0"
    )
    with pytest.raises(InputError) as info:
        BatchData.from_frames("x", None, pd.DataFrame({"substrate": [1.0, -0.2]}, index=[0, 1]))
    assert str(info.value) == (
        "row 2, column 'substrate': batch 'x': negative substrate at 1 h; "
        "expected >= 0 g/L; found -0.2"
    )
    with pytest.raises(InputError) as info:
        BatchData.from_frames("x", pd.DataFrame({"DO": [1.0, np.nan]}, index=[0, 1]))
    assert "NaN online reading of 'DO' at 1 h" in str(info.value)
    assert "row 2, column 'DO'" in str(info.value)
    with pytest.raises(InputError, match="unknown signal 'biomas' \\(did you mean 'biomass'"):
        BatchData.from_frames("x", None, pd.DataFrame({"biomas": [1.0]}))
    with pytest.raises(InputError, match="unit of 'volume'"):
        BatchData.from_frames("x", pd.DataFrame({"volume": [1.0]}), units={"volume": "g/L"})
    with pytest.raises(InputError, match="resample step must be positive"):
        _sim().resample(0)


# -- bad files: one line naming file, row, column, expected, found -----------------------


def test_bad_unsorted_and_duplicated_timestamps(tmp_path: Path) -> None:
    msg = _bad(tmp_path, "batch,time_h,DO\nA,0,100\nA,2,90\nA,1,80\n")
    assert msg == (
        "d.csv, row 3, column 'time_h': unsorted timestamp 1 in batch 'A'; "
        "expected time > 2 (strictly increasing); found 1.0"
    )
    msg = _bad(tmp_path, "batch,time_h,DO\nA,0,100\nB,0,90\nA,0,80\n")
    assert msg == (
        "d.csv, row 3, column 'time_h': duplicated timestamp 0 in batch 'A'; "
        "expected time > 0 (strictly increasing); found 0.0"
    )
    long = "batch,time_h,variable,value\nA,0,DO,100\nA,0,pH,7\nA,1,DO,90\nA,1,DO,91\n"
    assert _bad(tmp_path, long) == (
        "d.csv, row 4, column 'time_h': duplicated timestamp 1 in batch 'A', variable 'DO'; "
        "expected time > 1 (strictly increasing); found 1.0"
    )


def test_bad_nan_readings(tmp_path: Path) -> None:
    long = "batch,time_h,variable,value\nA,0,DO,100\nA,1,DO,NaN\n"
    assert _bad(tmp_path, long) == (
        "d.csv, row 2, column 'value': NaN reading of 'DO' at time 1 in batch 'A' "
        "(in a long file leave unmeasured points out); expected a number; found 'NaN'"
    )
    wide = "batch,time_h,DO,pH,biomass\nA,0,100,7,0.1\nA,1,95,,\nA,2,,,0.5\n"
    assert _bad(tmp_path, wide) == (
        "d.csv, row 2, column 'pH': NaN reading of online signal 'pH' at time 1 in batch 'A' "
        "(list it in the mapping's allow_gaps if gaps are expected); "
        "expected a number; found ''"
    )
    # row 3 (online cells empty, biomass given) is an offline-only row: fine
    ok = "batch,time_h,DO,biomass\nA,0,100,0.1\nA,1,95,\nA,1.5,,0.3\nA,2,90,\n"
    (b,) = read_batches(_write(tmp_path, ok))
    np.testing.assert_allclose(b.times, [0, 1, 2])
    np.testing.assert_allclose(b["biomass"].index, [0, 1.5])
    msg = _bad(tmp_path, "batch,time_h,DO\nA,0,100\nA,,90\n")
    assert msg == "d.csv, row 2, column 'time_h': missing time; expected a time in h; found ''"
    msg = _bad(tmp_path, "batch,time_h,DO\nA,0,100\nA,1,high\n")
    assert msg == "d.csv, row 2, column 'DO': not a number; expected a number; found 'high'"


def _write(tmp_path: Path, text: str, name: str = "ok.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bad_negative_concentration(tmp_path: Path) -> None:
    mapping = {"columns": {"X": {"signal": "biomass", "unit": "mg/L"}}}
    msg = _bad(tmp_path, "batch,time,X\nA,0,10\nA,1,-3\n", mapping)
    assert msg == "d.csv, row 2, column 'X': negative biomass; expected >= 0 mg/L; found '-3'"
    long = "batch,time_h,variable,value\nA,0,acetate,0.1\nA,1,acetate,-0.01\n"
    assert _bad(tmp_path, long) == (
        "d.csv, row 2, column 'value': negative acetate; expected >= 0 g/L; found '-0.01'"
    )


def test_bad_units(tmp_path: Path) -> None:
    csv = "batch,time,X\nA,0,10\n"
    msg = _bad(tmp_path, csv, {"columns": {"X": {"signal": "biomass", "unit": "mg/dL"}}})
    assert msg == (
        "column 'X': unknown unit 'mg/dL' for signal 'biomass'; "
        "expected a unit convertible to g/L; found 'mg/dL'"
    )
    msg = _bad(tmp_path, csv, {"columns": {"X": {"signal": "DO", "unit": "g/L"}}})
    assert msg == (
        "column 'X': unit mismatch for signal 'DO'; expected a unit convertible to %; found 'g/L'"
    )
    msg = _bad(tmp_path, csv, {"columns": {"X": {"signal": "product", "unit": "mM"}}})
    assert msg == (
        "column 'X': unit mismatch for signal 'product' (give molar_mass); "
        "expected a unit convertible to g/L; found 'mM'"
    )
    # per-row unit that disagrees with the unit the mapping states
    long = "batch,time,var,value,unit\nA,0,X,10,g/L\nA,1,X,20,mg/L\n"
    mapping = {
        "unit": "unit",
        "variable": "var",
        "columns": {"X": {"signal": "biomass", "unit": "g/L"}},
    }
    assert _bad(tmp_path, long, mapping) == (
        "d.csv, row 2, column 'unit': unit mismatch for 'X': the file says 'mg/L', "
        "the mapping 'g/L'; expected g/L; found 'mg/L'"
    )
    long = "batch,time_h,variable,value,unit\nA,0,volume,1,kg\n"
    assert _bad(tmp_path, long) == (
        "d.csv, row 1, column 'unit': unit mismatch for signal 'volume'; "
        "expected a unit convertible to L; found 'kg'"
    )
    msg = _bad(tmp_path, csv, {"time": {"column": "time", "unit": "g"}, "columns": {"X": "DO"}})
    assert msg == (
        "column 'time': time unit is not a unit of time; "
        "expected h, min, s, d or datetime; found 'g'"
    )


def test_bad_missing_mapped_column_and_unknown_signal(tmp_path: Path) -> None:
    mapping = {"columns": {"DO_pct": "DO", "Glc": "substrate"}}
    msg = _bad(tmp_path, "batch,time,DO_pct\nA,0,100\n", mapping)
    assert msg == (
        "d.csv, column 'Glc': mapped column missing from the file (signal 'substrate'); "
        "expected a column 'Glc'; found 'batch, time, DO_pct'"
    )
    msg = _bad(tmp_path, "batch,t,DO\nA,0,100\n", {"time": "time_min", "columns": {"DO": "DO"}})
    assert msg.startswith("d.csv, column 'time_min': mapped column missing from the file")
    long = "batch,time_h,variable,value\nA,0,PO2,100\n"
    msg = _bad(tmp_path, long, {"columns": {"PO2": "DO", "GLC": "substrate"}})
    assert msg == (
        "d.csv, column 'variable': mapped variable 'GLC' not found in the file; "
        "expected rows with variable 'GLC'; found 'PO2'"
    )
    msg = _bad(tmp_path, "batch,time,x\nA,0,1\n", {"columns": {"x": "biomas"}})
    assert msg.startswith("column 'x': unknown signal 'biomas' (did you mean 'biomass'?)")
    assert "expected one of DO, pH, temperature" in msg
    msg = _bad(tmp_path, "batch,time_h,dissolved_O2\nA,0,1\n")
    assert msg.startswith("d.csv, column 'dissolved_O2': unknown signal 'dissolved_O2'")
    long = "batch,time_h,variable,value\nA,0,DO,100\nA,0,Glucose,3\n"
    assert _bad(tmp_path, long).startswith(
        "d.csv, row 2, column 'variable': unknown signal 'Glucose'"
    )


def test_bad_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("columns:\n  X: biomass\nbach: Run\n")
    with pytest.raises(InputError) as info:
        ColumnMapping.from_yaml(path)
    assert str(info.value) == (
        f"{path}, column 'bach': unknown mapping key 'bach'; expected one of allow_gaps, "
        "batch, columns, format, kind, metadata, time, unit, value, variable"
    )
    mapping = {"columns": {"X": "biomass"}, "metadata": {"B9": {"strain": "x"}}}
    msg = _bad(tmp_path, "batch,time,X\nA,0,1\n", mapping)
    assert msg == (
        "column 'metadata': metadata for batch 'B9', which the data file does not hold; "
        "expected one of A; found 'B9'"
    )


def test_bad_empty_files(tmp_path: Path) -> None:
    assert _bad(tmp_path, "") == "d.csv: empty file; expected a CSV header and data rows"
    assert _bad(tmp_path, "batch,time_h,DO\n") == (
        "d.csv: no data rows; expected a header and at least one row"
    )
    with pytest.raises(BiofabError, match="data file not found"):
        read_batches(tmp_path / "missing.csv")


def test_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(InputError, match="unknown CSV format"):
        write_batches([_sim()], target, format="xml")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_registry_units_are_canonical() -> None:
    for sig in SIGNALS.values():
        assert convert(1.0, sig.unit, sig.unit) == pytest.approx(1.0)
