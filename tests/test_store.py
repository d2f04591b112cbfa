"""The campaign store on real SQLite files and a real (throwaway) PostgreSQL server."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from biofab.core.errors import CampaignExistsError, InputError, UnknownCampaignError
from biofab.store import FAILPOINT_INGEST_SLEEP, Store, head_revision, normalize_url
from biofab.store.schema import Base
from failpoint import start_paused

SPACE = "parameters:\n  a: {type: continuous, low: 0, high: 10}\n  b: {type: categorical}\n"
OBJECTIVES = [{"name": "titer", "direction": "maximize", "unit": "g/L"}]


# --------------------------------------------------------------------- fixtures


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store(db_url, who="tester") as s:
        yield s


def design(key: str, a: float, b: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "params": {"a": a, "b": b}, **extra}


def row(key: str, a: float, b: str, value: float | None, source: str, **extra: Any) -> dict:
    return {
        "key": key,
        "params": {"a": a, "b": b},
        "objective": "titer",
        "value": value,
        "source": source,
        **extra,
    }


def sha(text_: str) -> str:
    return hashlib.sha256(text_.encode()).hexdigest()


def count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


# -------------------------------------------------------------------- campaigns


def test_create_get_and_list_campaigns(store: Store) -> None:
    made = store.create_campaign("pet", SPACE, OBJECTIVES)
    got = store.get_campaign("pet")
    assert got == made
    assert got.space_yaml == SPACE and got.objectives == OBJECTIVES
    assert got.created_by == "tester"
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset().total_seconds() == 0
    store.create_campaign("lux", SPACE, OBJECTIVES, who="alice")
    assert [c.name for c in store.list_campaigns()] == ["pet", "lux"]
    assert store.get_campaign("lux").created_by == "alice"


def test_duplicate_and_unknown_campaigns(store: Store) -> None:
    store.create_campaign("pet", SPACE, OBJECTIVES)
    with pytest.raises(CampaignExistsError, match="'pet' already exists"):
        store.create_campaign("pet", "other", [])
    assert len(store.list_campaigns()) == 1
    with pytest.raises(UnknownCampaignError):
        store.get_campaign("nope")
    with pytest.raises(UnknownCampaignError):
        store.add_round("nope", "sobol", [design("a=1", 1, "x")])
    with pytest.raises(UnknownCampaignError):
        store.ingest("nope", "r.csv", sha("r"), [row("a=1", 1, "x", 1.0, "r.csv:row 1")])
    with pytest.raises(UnknownCampaignError):
        store.design_table("nope")
    with pytest.raises(UnknownCampaignError):
        store.audit("nope")
    with pytest.raises(InputError):
        store.create_campaign("  ", SPACE, OBJECTIVES)


# ---------------------------------------------------------------------- rounds


def test_add_round_and_design_table(store: Store) -> None:
    store.create_campaign("pet", SPACE, OBJECTIVES)
    first = [
        design("a=1|b=x", 1.0, "x", predicted={"titer": (2.0, 0.5)}, acquisition=0.7),
        design("a=2|b=y", 2.0, "y"),
    ]
    assert store.add_round("pet", "sobol", first, notes={"seed": 7}) == 1
    assert store.add_round("pet", "qNEI", [design("a=3|b=x", 3.0, "x", acquisition=1.5)]) == 2

    table = store.design_table("pet")
    columns = ["design_id", "key", "round", "a", "b", "predicted", "acquisition"]
    assert list(table.columns) == columns
    assert table["key"].tolist() == ["a=1|b=x", "a=2|b=y", "a=3|b=x"]
    assert table["round"].tolist() == [1, 1, 2]
    assert table["a"].tolist() == [1.0, 2.0, 3.0]
    assert table["predicted"].iloc[0] == {"titer": [2.0, 0.5]}
    assert table["predicted"].iloc[1] is None
    assert math.isnan(table["acquisition"].iloc[1]) and table["acquisition"].iloc[2] == 1.5

    rounds = store.rounds("pet")
    assert rounds["number"].tolist() == [1, 2]
    assert rounds["recommender"].tolist() == ["sobol", "qNEI"]
    assert rounds["n_designs"].tolist() == [2, 1]
    assert rounds["notes"].iloc[0] == {"seed": 7}


def test_round_rejects_known_or_repeated_keys(store: Store) -> None:
    store.create_campaign("pet", SPACE, OBJECTIVES)
    store.add_round("pet", "sobol", [design("k1", 1, "x"), design("k2", 2, "y")])
    audit_before = len(store.audit())
    with pytest.raises(InputError, match="already in campaign") as err:
        store.add_round("pet", "qNEI", [design("k3", 3, "x"), design("k2", 2, "y")])
    assert err.value.found == ["k2"]
    with pytest.raises(InputError, match="repeats"):
        store.add_round("pet", "qNEI", [design("k4", 4, "x"), design("k4", 4, "x")])
    with pytest.raises(InputError):
        store.add_round("pet", "qNEI", [])
    # Nothing of a refused round was written: no round, no design, no audit entry.
    assert store.rounds("pet")["number"].tolist() == [1]
    assert store.design_table("pet")["key"].tolist() == ["k1", "k2"]
    assert len(store.audit()) == audit_before
    # The same key in another campaign is a different design.
    store.create_campaign("lux", SPACE, OBJECTIVES)
    assert store.add_round("lux", "sobol", [design("k1", 1, "x")]) == 1


# ---------------------------------------------------------------------- ingest


def test_ingest_is_idempotent(store: Store) -> None:
    store.create_campaign("pet", SPACE, OBJECTIVES)
    store.add_round("pet", "sobol", [design("k1", 1, "x"), design("k2", 2, "y")])
    rows = [
        row("k1", 1, "x", 3.5, "r.csv:row 1", std=0.2, n_replicates=3, unit="g/L"),
        row("k2", 2, "y", 1.25, "r.csv:row 2"),
        row("ext", 9, "z", 0.5, "r.csv:row 3"),  # a design we never recommended
    ]
    first = store.ingest("pet", "r.csv", sha("r1"), rows)
    assert (first.added_designs, first.added_measurements, first.skipped) == (1, 3, 0)
    assert not first.duplicate_file

    again = store.ingest("pet", "r.csv", sha("r1"), rows)
    assert again.duplicate_file
    assert (again.added_designs, again.added_measurements, again.skipped) == (0, 0, 0)

    # Same rows, different file bytes (e.g. re-saved): every measurement is known.
    renamed = store.ingest("pet", "r-copy.csv", sha("r1 resaved"), rows)
    assert not renamed.duplicate_file
    assert (renamed.added_designs, renamed.added_measurements, renamed.skipped) == (0, 0, 3)

    table = store.measurement_table("pet")
    assert len(table) == 3
    assert count(store, "designs") == 3
    assert table["key"].tolist() == ["k1", "k2", "ext"]
    assert table["round"].tolist()[:2] == [1, 1] and pd.isna(table["round"].iloc[2])
    assert table["value"].tolist() == [3.5, 1.25, 0.5]
    assert table["std"].iloc[0] == 0.2 and math.isnan(table["std"].iloc[1])
    assert table["n_replicates"].tolist() == [3, 1, 1]
    assert table["unit"].iloc[0] == "g/L" and table["unit"].iloc[1] is None
    assert set(table["import_id"]) == {first.import_id}
    assert str(table["created_at"].dt.tz) == "UTC"
    assert {"a", "b"} <= set(table.columns)

    designs = store.design_table("pet")
    assert pd.isna(designs.set_index("key").loc["ext", "round"])
    # A new measurement of a known design, from a new file, is added.
    more = store.ingest("pet", "s.csv", sha("s"), [row("k1", 1, "x", 3.6, "s.csv:row 1")])
    assert (more.added_designs, more.added_measurements) == (0, 1)


def test_ingest_rolls_back_the_whole_file(store: Store) -> None:
    store.create_campaign("pet", SPACE, OBJECTIVES)
    store.add_round("pet", "sobol", [design("k1", 1, "x")])
    before = {t: count(store, t) for t in ("designs", "measurements", "imports", "audit_log")}
    rows = [row(f"n{i}", i, "x", float(i), f"bad.csv:row {i}") for i in range(1, 40)]
    rows.append(row("k1", 1, "x", None, "bad.csv:row 40"))  # NOT NULL violation, last row
    with pytest.raises(InputError, match="nothing of the file was written") as err:
        store.ingest("pet", "bad.csv", sha("bad"), rows)
    assert err.value.file == "bad.csv"
    after = {t: count(store, t) for t in before}
    assert after == before
    # The failed import left no trace: the same file, fixed, imports completely.
    rows[-1]["value"] = 2.0
    fixed = store.ingest("pet", "bad.csv", sha("bad"), rows)
    assert (fixed.added_designs, fixed.added_measurements) == (39, 40)


def test_ingest_checks_row_shape_and_digest(store: Store) -> None:
    store.create_campaign("pet", SPACE, OBJECTIVES)
    with pytest.raises(InputError, match="column 'objective'"):
        store.ingest("pet", "r.csv", sha("r"), [{"key": "k", "params": {}, "value": 1.0}])
    with pytest.raises(InputError, match="SHA-256"):
        store.ingest("pet", "r.csv", "abc", [row("k", 1, "x", 1.0, "r.csv:row 1")])
    assert count(store, "imports") == 0


# ----------------------------------------------------------------------- models


def test_models(store: Store) -> None:
    store.create_campaign("pet", SPACE, OBJECTIVES)
    assert store.latest_model("pet", "gp") is None
    store.add_round("pet", "sobol", [design("k1", 1, "x")])
    store.save_model("pet", None, "gp", b"\x00first", {"r2": 0.5}, format="state-v1")
    second = store.save_model("pet", 1, "gp", b"\x00second", {"r2": 0.8}, format="state-v1")
    store.save_model("pet", 1, "xgb", b"\x00other", {"r2": 0.1}, format="state-v1")
    latest = store.latest_model("pet", "gp")
    assert latest is not None
    assert (latest.id, latest.kind, latest.format) == (second, "gp", "state-v1")
    assert (latest.blob, latest.metrics) == (b"\x00second", {"r2": 0.8})
    assert store.latest_model("pet") is not None and store.latest_model("pet").kind == "xgb"
    with pytest.raises(InputError, match="no such round"):
        store.save_model("pet", 7, "gp", b"x", {}, format="state-v1")
    with pytest.raises(InputError, match="format must be a short label"):
        store.save_model("pet", 1, "gp", b"x", {}, format="state v1; drop table")


# ------------------------------------------------------------------------ audit


def test_audit_log_records_writes_and_is_append_only(store: Store) -> None:
    store.create_campaign("pet", SPACE, OBJECTIVES)
    store.add_round("pet", "sobol", [design("k1", 1, "x")], who="bob")
    store.ingest("pet", "r.csv", sha("r"), [row("k1", 1, "x", 1.0, "r.csv:row 1")])
    store.save_model("pet", 1, "gp", b"m", {}, format="state-v1")
    log = store.audit("pet")
    assert log["action"].tolist() == ["create_campaign", "add_round", "ingest", "save_model"]
    assert log["who"].tolist() == ["tester", "bob", "tester", "tester"]
    assert log["detail"].iloc[2]["sha256"] == sha("r")
    assert str(log["at"].dt.tz) == "UTC"
    assert store.audit()["campaign"].tolist() == ["pet"] * 4

    with store.engine.connect() as conn:
        for sql in ("UPDATE audit_log SET who = 'mallory'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(sql))
            conn.rollback()
        if store.engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text("TRUNCATE audit_log"))
            conn.rollback()
    assert store.audit("pet")["who"].tolist() == ["tester", "bob", "tester", "tester"]


# ------------------------------------------------------------------- migrations


def test_migrations_at_head_and_reopen_keeps_data(db_url: str) -> None:
    with Store(db_url, who="tester") as first:
        assert first.schema_revision() == head_revision()
        with first.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        first.create_campaign("pet", SPACE, OBJECTIVES)
        first.add_round("pet", "sobol", [design("k1", 1, "x")])
    with Store(db_url, who="tester") as again:
        assert again.schema_revision() == head_revision()
        assert again.get_campaign("pet").name == "pet"
        assert len(again.design_table("pet")) == 1
        assert len(again.audit()) == 2
        assert count(again, "alembic_version") == 1


def test_orm_schema_matches_migration(store: Store) -> None:
    """schema.py and the migrations describe the same tables (no pending autogenerate diff)."""
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


# -------------------------------------------------------------------------- URLs


def test_url_selection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert normalize_url("postgresql://u:p@db:5432/x") == "postgresql+psycopg://u:p@db:5432/x"
    assert normalize_url("postgres://u@db/x") == "postgresql+psycopg://u@db/x"
    assert normalize_url("postgresql+psycopg://u@db/x") == "postgresql+psycopg://u@db/x"
    monkeypatch.chdir(tmp_path)
    assert normalize_url("sqlite:///rel.db") == f"sqlite:///{tmp_path / 'rel.db'}"

    monkeypatch.delenv("BIOFAB_DB", raising=False)
    monkeypatch.setenv("BIOFAB_USER", "carol")
    with Store() as s:
        assert s.url == f"sqlite:///{tmp_path / 'biofab.db'}"
        assert s.who == "carol"
    assert (tmp_path / "biofab.db").exists()

    monkeypatch.setenv("BIOFAB_DB", f"sqlite:///{tmp_path / 'env.db'}")
    with Store() as s:
        s.create_campaign("pet", SPACE, OBJECTIVES)
        assert s.audit()["who"].tolist() == ["carol"]
    assert (tmp_path / "env.db").exists()

    with pytest.raises(InputError, match="unsupported database URL"):
        Store("mysql://u@db/x")
    with pytest.raises(InputError, match="not a database URL"):
        Store("not a url")
    with pytest.raises(InputError, match="cannot open the store"):
        Store(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")


# ------------------------------------------------------------------------- crash

CRASH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from biofab.store import Store
    rows = json.load(open(sys.argv[1]))
    with Store(sys.argv[2], who="crash") as store:
        store.ingest("pet", "big.csv", sys.argv[3], rows)
    print("committed", flush=True)
    """
)


def test_killed_ingest_writes_nothing(db_url: str, tmp_path: Path) -> None:
    """SIGKILL during an ingest (between its two halves) leaves no trace of the file."""
    rows = [
        row(f"d{i}", i, "x", float(i), f"big.csv:row {2 * i + j + 1}", std=0.1)
        | {"objective": ("titer", "rate")[j]}
        for i in range(1000)
        for j in range(2)
    ]
    assert len(rows) == 2000
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps(rows))
    digest = sha("big")
    with Store(db_url, who="tester") as s:
        s.create_campaign("pet", SPACE, OBJECTIVES)
        s.add_round("pet", "sobol", [design("d0", 0, "x")])

    env = {**os.environ, FAILPOINT_INGEST_SLEEP: "30"}
    proc = start_paused(
        [sys.executable, "-c", CRASH_SCRIPT, str(rows_file), db_url, digest],
        env,
        tmp_path / "stderr.txt",
    )
    try:
        # Mid-transaction, half the rows are written but invisible, and readers
        # are not blocked by the open write transaction.
        with Store(db_url) as reader:
            assert len(reader.measurement_table("pet")) == 0
    finally:
        proc.kill()  # SIGKILL: no cleanup, no rollback by the client
        proc.wait(timeout=10)

    with Store(db_url, who="tester") as s:
        assert len(s.measurement_table("pet")) == 0
        assert s.design_table("pet")["key"].tolist() == ["d0"]
        assert count(s, "imports") == 0
        assert "ingest" not in s.audit()["action"].tolist()
        again = s.ingest("pet", "big.csv", digest, rows)
        assert (again.added_designs, again.added_measurements, again.skipped) == (999, 2000, 0)
        table = s.measurement_table("pet")
        assert len(table) == 2000
        assert table["source"].is_unique


# ------------------------------------------------------------------ concurrency


OPEN_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from biofab.store import Store
    print("ready", flush=True)
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.01)
    with Store(sys.argv[1]) as store:
        print(store.schema_revision(), flush=True)
    """
)


def test_concurrent_first_opens_migrate_once(db_url: str, tmp_path: Path) -> None:
    """Two processes opening one empty database at the same moment: one migrates, one waits."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_SCRIPT, db_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        # Release both only once both have paid their import time, so they collide.
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        go.touch()
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    assert [out.strip() for out, _ in outs] == [head_revision()] * 2


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'b.db'}") as s, s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        with pytest.raises(DBAPIError):
            conn.execute(
                text(
                    "INSERT INTO rounds (campaign_id, number, recommender, created_at, "
                    "created_by, notes) VALUES (999, 1, 'x', '2026-01-01', 'me', '{}')"
                )
            )


def test_concurrent_readers_reuse_pooled_connections(db_url: str) -> None:
    """A server's store keeps one connection per request thread: 20 threads reading at
    once, round after round, open at most 20 connections (SQLAlchemy's default pool of
    5 opened and closed one per request beyond 15, which stalled PostgreSQL for seconds)."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import event

    store = Store(db_url, pool_size=20)
    store.create_campaign("pooled", SPACE, OBJECTIVES)
    opened: list[int] = []
    event.listen(store.engine, "connect", lambda *_: opened.append(1))
    barrier = threading.Barrier(20, timeout=30)

    def read(_: int) -> str:
        barrier.wait()  # all 20 inside a read together, each round
        with store._read() as s:
            s.execute(text("SELECT 1"))
            barrier.wait()
        return store.get_campaign("pooled").name

    with ThreadPoolExecutor(20) as pool:
        for _ in range(5):
            assert set(pool.map(read, range(20))) == {"pooled"}
    store.close()
    assert 0 < len(opened) <= 20


def test_pool_size_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pool_size must be at least 1, found 0"):
        Store(f"sqlite:///{tmp_path / 'x.db'}", pool_size=0)
