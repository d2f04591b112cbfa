"""Results tables that used to slip through: repeated columns, absurd numbers, renamed copies.

Real files, a real SQLite store, and the real `biofab` entry point where the CLI is the subject.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from biofab import Campaign, Categorical, Continuous, Space, SumToTotal
from biofab.campaign.results import MAX_MAGNITUDE, read_table
from biofab.core import InputError
from biofab.store import Store


@pytest.fixture
def space() -> Space:
    return Space(
        {
            "a": Continuous(0, 4, step=0.5, unit="uL"),
            "b": Continuous(0, 4, step=0.5, unit="uL"),
            "strain": Categorical(["x", "y"]),
        },
        [SumToTotal(("a", "b"), 6.0)],
    )


@pytest.fixture
def campaign(tmp_path: Path, space: Space) -> Campaign:
    return Campaign.create("holes", space, ["yield:max"], store=Store(f"sqlite:///{tmp_path}/h.db"))


def table(space: Space, n: int = 4, seed: int = 0) -> pd.DataFrame:
    out = space.sample(n, seed=seed)[space.names]
    out["yield"] = [1.0 + i / 4 for i in range(n)]
    out["yield_std"] = 0.1
    out["yield_n"] = 3
    return out


def write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def stored(c: Campaign) -> int:
    return len(c.store.measurement_table(c.name))


# ----------------------------------------------------------- repeated columns


@pytest.mark.parametrize(
    "header",
    [
        ["a", "b", "strain", "yield", "yield"],
        ["a", "b", "a", "strain", "yield"],
        ["a", "b", "strain", "yield", " yield_std", "yield_std"],
    ],
)
def test_a_repeated_column_is_refused_naming_file_and_column(
    tmp_path: Path, campaign: Campaign, header: list[str]
) -> None:
    rows = [
        [1.0, 2.0, "x", 1.5, 2.5, 0.1][: len(header)],
        [0.5, 1.0, "y", 1.0, 2.0, 0.1][: len(header)],
    ]
    path = write(tmp_path / "twice.csv", header, rows)
    repeated = next(
        h.strip() for i, h in enumerate(header) if h.strip() in map(str.strip, header[:i])
    )
    with pytest.raises(InputError) as err:
        campaign.ingest(path)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{path}, column '{repeated}': duplicated column")
    assert stored(campaign) == 0


def test_candidate_tables_refuse_repeated_columns_too(tmp_path: Path) -> None:
    path = write(tmp_path / "cand.csv", ["a", "b", "b"], [[1, 2, 3]])
    with pytest.raises(
        InputError, match=r"cand.csv, column 'b': duplicated column.*columns 2 and 3"
    ):
        read_table(path)


def test_a_frame_with_a_repeated_column_is_refused(campaign: Campaign, space: Space) -> None:
    frame = table(space)
    doubled = pd.concat([frame, frame[["yield"]]], axis=1)
    with pytest.raises(InputError, match=r"column 'yield': duplicated column"):
        campaign.ingest(doubled, filename="plate")
    assert stored(campaign) == 0


# ----------------------------------------------------------- absurd numbers


@pytest.mark.parametrize(
    ("column", "text", "message"),
    [
        ("yield", "1e300", "number beyond the accepted magnitude"),
        ("yield", "-1e300", "number beyond the accepted magnitude"),
        ("yield", "1e16", "number beyond the accepted magnitude"),
        ("yield", "inf", "not a finite number"),
        ("yield", "-Infinity", "not a finite number"),
        ("yield", "nan", "not a finite number"),
        ("yield", "1e400", "not a finite number"),
        ("yield", "", "not a number"),
        ("yield_std", "1e300", "number beyond the accepted magnitude"),
        ("yield_std", "NaN", "not a finite number"),
        ("yield_n", "1e300", "number beyond the accepted magnitude"),
        ("yield_n", "inf", "not a finite number"),
    ],
)
def test_non_finite_or_absurd_measurements_are_one_line(
    tmp_path: Path, campaign: Campaign, space: Space, column: str, text: str, message: str
) -> None:
    frame = table(space).astype(object)
    frame.loc[2, column] = text
    path = tmp_path / "absurd.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        campaign.ingest(path)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{path}, row 3, column '{column}': {message}")
    assert stored(campaign) == 0


def test_the_magnitude_bound_is_inclusive_and_applies_to_replicate_readings(
    tmp_path: Path, campaign: Campaign, space: Space
) -> None:
    reps = space.sample(3, seed=1)[space.names].assign(
        yield_rep1=[1.0, 2.0, 3.0], yield_rep2=[1.5, -2e300, 3.5]
    )
    reps.to_csv(tmp_path / "reps.csv", index=False)
    with pytest.raises(InputError, match=r"reps.csv, row 2, column 'yield_rep2': number beyond"):
        campaign.ingest(tmp_path / "reps.csv")
    edge = table(space, 2, seed=2).assign(yield_=0).drop(columns="yield_")
    edge["yield"] = [MAX_MAGNITUDE, -MAX_MAGNITUDE]
    edge.to_csv(tmp_path / "edge.csv", index=False)
    assert campaign.ingest(tmp_path / "edge.csv").added_measurements == 2


@pytest.mark.parametrize("text", ["1e300", "-1e300"])
def test_a_huge_parameter_is_reported_outside_the_space(
    tmp_path: Path, campaign: Campaign, space: Space, text: str
) -> None:
    frame = table(space).astype(object)
    frame.loc[1, "b"] = text
    frame.to_csv(tmp_path / "param.csv", index=False)
    with pytest.raises(InputError) as err:
        campaign.ingest(tmp_path / "param.csv")
    assert str(err.value).startswith(
        f"{tmp_path / 'param.csv'}, row 2, column 'b': outside the space"
    )
    assert "expected a value in [0, 4]" in str(err.value)
    assert stored(campaign) == 0


def test_a_row_with_neither_value_nor_readings_is_named(
    tmp_path: Path, campaign: Campaign, space: Space
) -> None:
    reps = space.sample(2, seed=3)[space.names].assign(yield_rep1=[1.0, ""], yield_rep2=[2.0, ""])
    reps.to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(
        InputError, match=r"gap.csv, row 2, column 'yield': no value and no replicate"
    ):
        campaign.ingest(tmp_path / "gap.csv")


# ------------------------------------------------------- identity is content


def test_the_same_rows_under_another_name_add_nothing(
    tmp_path: Path, campaign: Campaign, space: Space
) -> None:
    frame = table(space, 6)
    first = tmp_path / "plate1.csv"
    frame.to_csv(first, index=False)
    done = campaign.ingest(first)
    assert done.added_measurements == 6 and not done.duplicate_file

    # Renamed; rows shuffled, columns reordered, every cell quoted, 1.5 spelled 1.50:
    copy = tmp_path / "copy of plate1.csv"
    shuffled = frame.sample(frac=1.0, random_state=0)[
        ["yield_n", "strain", "yield", "b", "yield_std", "a"]
    ]
    shuffled.assign(notes="re-saved").to_csv(copy, index=False, quoting=1, float_format="%.2f")
    again = campaign.ingest(copy)
    assert again.duplicate_file and again.duplicate_of == str(first)
    assert (again.added_designs, again.added_measurements) == (0, 0)
    assert again.import_id == done.import_id
    assert stored(campaign) == 6

    # The same frame from a notebook is the same content as well.
    assert campaign.ingest(frame, filename="notebook").duplicate_file

    # A real remeasurement (one value differs) is new: every row is kept as a replicate.
    remeasured = frame.assign(yield_=frame["yield"]).drop(columns="yield_")
    remeasured.loc[0, "yield"] = 9.0
    remeasured.to_csv(tmp_path / "plate1-repeat.csv", index=False)
    more = campaign.ingest(tmp_path / "plate1-repeat.csv")
    assert not more.duplicate_file and (more.added_designs, more.added_measurements) == (0, 6)
    # So is the same numbers from another plate, told apart by the source column.
    other = frame.assign(source=[f"plate 2 well {w}" for w in "ABCDEF"])
    assert campaign.ingest(other, filename="plate2").added_measurements == 6
    assert stored(campaign) == 18


def biofab(*args: str, cwd: Path, db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", *args],
        cwd=cwd,
        env={**os.environ, "BIOFAB_DB": db},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_says_already_imported_and_refuses_a_repeated_column(
    tmp_path: Path, space: Space
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    Campaign.create("cf", space, ["yield:max"], store=Store(db))
    frame = table(space)
    frame.to_csv(tmp_path / "monday.csv", index=False)
    Campaign.load("cf", store=Store(db)).ingest(tmp_path / "monday.csv", filename="monday.csv")
    frame[list(reversed(frame.columns))].to_csv(tmp_path / "tuesday.csv", index=False)
    r = biofab("campaign", "ingest", "cf", "tuesday.csv", cwd=tmp_path, db=db)
    assert r.returncode == 0, r.stderr
    assert "tuesday.csv: already imported as monday.csv, nothing added" in r.stdout

    write(tmp_path / "twice.csv", ["a", "b", "strain", "yield", "yield"], [[1.0, 2.0, "x", 1, 2]])
    r = biofab("campaign", "ingest", "cf", "twice.csv", cwd=tmp_path, db=db)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "twice.csv, column 'yield': duplicated column" in r.stderr
