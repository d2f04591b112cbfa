"""Streamed ingest: a file read in chunks is written whole or not at all, and says how far it got.

Not timed: ``benchmarks/ingest_scale.py`` measures time and memory at 100k and 1M rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from biofab import Campaign, Categorical, Continuous, Space
from biofab.core import DesignError, InputError
from biofab.store import Store

N = 20_000
CHUNK = 1_000


@pytest.fixture
def space() -> Space:
    return Space(
        {
            "a": Continuous(0, 100, step=0.5),
            "b": Continuous(0, 100, step=0.5),
            "strain": Categorical(["x", "y"]),
        }
    )


@pytest.fixture
def campaign(db_url: str, space: Space) -> Campaign:
    return Campaign.create("big", space, ["yield:max"], store=Store(db_url))


def results(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` distinct designs on the grid, in a random order."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(n)
    return pd.DataFrame(
        {
            "a": (idx // 201) * 0.5,
            "b": (idx % 201) * 0.5,
            "strain": np.where(rng.random(n) < 0.5, "x", "y"),
            "yield": np.round(rng.normal(2, 0.5, n), 4),
            "yield_std": 0.05,
        }
    )


def counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("designs", "measurements", "imports", "audit_log")
        }


def test_a_bad_row_in_the_last_chunk_leaves_nothing_written(
    tmp_path: Path, campaign: Campaign
) -> None:
    frame = results(N).astype(object)
    frame.loc[N - 3, "yield"] = "1e300"  # row N-2, in the 20th chunk
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    before = counts(campaign.store)
    with pytest.raises(InputError) as err:
        campaign.ingest(path, chunk_rows=CHUNK, progress=False)
    assert str(err.value).startswith(
        f"{path}, row {N - 2}, column 'yield': number beyond the accepted magnitude"
    )
    assert counts(campaign.store) == before


def test_a_design_repeated_across_chunks_is_refused(tmp_path: Path, campaign: Campaign) -> None:
    frame = results(5 * CHUNK)
    frame = pd.concat([frame, frame.iloc[[17]]], ignore_index=True)  # row 5001 repeats row 18
    frame.to_csv(tmp_path / "again.csv", index=False)
    with pytest.raises(DesignError, match=r"row 5001, .*duplicate design.*same as row 18"):
        campaign.ingest(tmp_path / "again.csv", chunk_rows=CHUNK, progress=False)
    assert counts(campaign.store)["measurements"] == 0


def test_chunked_ingest_writes_everything_once_and_reports_each_chunk(
    tmp_path: Path, campaign: Campaign, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = results(N)
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    done = campaign.ingest(path, chunk_rows=CHUNK)
    assert (done.added_designs, done.added_measurements, done.skipped) == (N, N, 0)
    err = capsys.readouterr().err.splitlines()
    checking = [line for line in err if line.startswith(f"checking {path} ")]
    writing = [line for line in err if line.startswith(f"ingesting {path} ")]
    # One line per chunk off a terminal (the first waits until a second shows the file is large).
    assert len(checking) == N // CHUNK and checking[0].startswith(f"checking {path} 1000 ")
    assert len(writing) == N // CHUNK and writing[-1].startswith(f"ingesting {path} {N}/{N} ")

    m = campaign.store.measurement_table("big")
    assert len(m) == N and m["key"].is_unique
    assert m["source"].iloc[-1] == f"big.csv:row {N}"
    got = m.set_index("source")["value"]
    assert got[f"big.csv:row {N // 2}"] == frame["yield"].iloc[N // 2 - 1]
    assert len(campaign.data()) == N

    # The same content, renamed and in other chunks: nothing added, nothing read twice.
    frame.iloc[::-1].to_csv(tmp_path / "copy.csv", index=False)
    again = campaign.ingest(tmp_path / "copy.csv", chunk_rows=3 * CHUNK, progress=False)
    assert again.duplicate_file and again.duplicate_of == str(path)

    # New readings of known designs are replicates: measurements, no new designs.
    rerun = frame.iloc[:2500].assign(yield_std=0.07)
    rerun.to_csv(tmp_path / "rerun.csv", index=False)
    more = campaign.ingest(tmp_path / "rerun.csv", chunk_rows=CHUNK, progress=False)
    assert (more.added_designs, more.added_measurements) == (0, 2500)
    assert counts(campaign.store)["designs"] == N
    assert counts(campaign.store)["imports"] == 2


def test_one_chunk_tables_stay_silent(
    tmp_path: Path, campaign: Campaign, capsys: pytest.CaptureFixture[str]
) -> None:
    results(300).to_csv(tmp_path / "plate.csv", index=False)
    assert campaign.ingest(tmp_path / "plate.csv", chunk_rows=CHUNK).added_measurements == 300
    assert capsys.readouterr().err == ""


def test_store_rolls_back_when_the_chunk_source_fails_late(campaign: Campaign) -> None:
    store = campaign.store

    def chunks() -> Iterator[list[dict[str, object]]]:
        for c in range(5):
            yield [
                {
                    "key": f"k{c}-{i}",
                    "params": {"a": 0.5, "b": 0.5, "strain": "x"},
                    "objective": "yield",
                    "value": 1.0,
                    "source": f"s{c}-{i}",
                }
                for i in range(400)
            ]
        raise InputError("found a problem after four chunks", file="late.csv", row=2001)

    before = counts(store)
    digest = hashlib.sha256(b"late").hexdigest()
    with pytest.raises(InputError, match=r"late\.csv, row 2001"):
        store.ingest_chunks("big", "late.csv", digest, chunks())
    assert counts(store) == before
