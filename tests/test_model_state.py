"""Models saved without pickle: state round trips, refusals, the store migration, the CLI.

A doctored database must never run code: the malicious payloads here are
armed (one test shows that unpickling one really runs its command) and every
other test shows that biofab refuses them in one line while nothing runs.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from alembic import command
from sqlalchemy import MetaData, Table, create_engine, text

from biofab import Campaign, Categorical, Continuous, Space, SumToTotal
from biofab.core import NotEnoughDataError
from biofab.learn import GPSurrogate, MLPEnsemble, TreeEnsemble
from biofab.learn.state import (
    FORMAT_VERSION,
    LEGACY_PICKLE,
    STATE_FORMAT,
    SnapshotError,
    can_save,
    dumps,
    load_snapshot,
    loads,
)
from biofab.store import Store, head_revision, normalize_url
from biofab.store.store import alembic_config

# ----------------------------------------------------------------- armed payloads


class _RunsShell:
    """Unpickling this runs ``touch <marker>``: the attack a doctored row would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return (os.system, (f"touch '{self.marker}'",))


def evil_pickle(marker: Path) -> bytes:
    return pickle.dumps(_RunsShell(marker))


# Every unpickling resolves globals through find_class, which raises this audit
# event: recording it proves that a code path never unpickled anything.
_UNPICKLED: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "pickle.find_class":
        _UNPICKLED.append(f"{args[0]}.{args[1]}")


sys.addaudithook(_audit)


@pytest.fixture
def no_unpickling() -> Iterator[None]:
    _UNPICKLED.clear()
    yield
    assert _UNPICKLED == [], f"something was unpickled: {_UNPICKLED}"


def one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------- round trips

RNG = np.random.default_rng(7)
X = RNG.random((18, 3))
Y = np.sin(X @ np.array([2.0, 1.0, -1.0]))
Y2 = np.column_stack([Y, np.cos(X @ np.array([1.0, 3.0, 0.5]))])
X_NEW = RNG.random((30, 3))

FITS: dict[str, Callable[[], Any]] = {
    "gp, inferred noise": lambda: GPSurrogate().fit(X, Y),
    "gp, known noise yvar": lambda: GPSurrogate().fit(X, Y, np.full(len(Y), 0.01)),
    "gp, yvar as the whole noise": lambda: GPSurrogate(extra_noise=False).fit(
        X, Y, np.linspace(0.0, 0.02, len(Y))
    ),
    "gp, two outputs, yvar, bounds": lambda: GPSurrogate(
        bounds=np.array([[0.0, 0.0, 0.0], [2.0, 2.0, 2.0]])
    ).fit(X, Y2, np.full(Y2.shape, 0.01)),
    "trees": lambda: TreeEnsemble(n_members=3, n_estimators=40).fit(X, Y, np.full(len(Y), 0.1)),
    "trees, (n, 1) y": lambda: TreeEnsemble(n_members=2, n_estimators=20).fit(X, Y[:, None]),
    "mlp, two outputs": lambda: MLPEnsemble(n_members=3, hidden=(16, 8), epochs=40).fit(X, Y2),
    "mlp, one output": lambda: MLPEnsemble(n_members=2, hidden=(8,), epochs=30).fit(X, Y),
}


@pytest.mark.parametrize("case", list(FITS))
def test_loaded_model_predicts_exactly_what_the_saved_one_did(
    case: str, no_unpickling: None
) -> None:
    model = FITS[case]()
    payload = dumps(model)
    again = loads(payload)
    assert type(again) is type(model)
    mean, std = model.predict(X_NEW)
    mean2, std2 = again.predict(X_NEW)
    assert mean2.shape == mean.shape and std2.shape == std.shape
    np.testing.assert_array_equal(mean2, mean)  # bit for bit
    np.testing.assert_array_equal(std2, std)
    # A saved model saves again to a payload that loads to the same predictions.
    np.testing.assert_array_equal(loads(dumps(again)).predict(X_NEW)[0], mean)


def test_loaded_gp_keeps_its_fit_facts_and_botorch_model() -> None:
    gp = GPSurrogate(seed=3).fit(X, Y2, np.full(Y2.shape, 0.01))
    again = loads(dumps(gp))
    assert isinstance(again, GPSurrogate)
    assert (again.n_outputs_, again.n_features_in_, again.uses_yvar_) == (2, 3, True)
    assert again.seed == 3 and again.extra_noise is True
    # Acquisition functions use posterior_model; it answers like the original.
    import torch

    Xt = torch.as_tensor(X_NEW[:4], dtype=torch.float64)
    with torch.no_grad():
        a = gp.posterior_model.posterior(Xt).mean
        b = again.posterior_model.posterior(Xt).mean
    assert torch.equal(a, b)


def test_payload_is_an_npz_with_a_json_manifest(no_unpickling: None) -> None:
    payload = dumps(TreeEnsemble(n_members=2, n_estimators=5).fit(X, Y))
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        manifest = json.loads(npz["manifest.json"].tobytes())
        files = set(npz.files)
        booster = json.loads(npz["blob/member.0"].tobytes())  # XGBoost's own JSON
    assert manifest["format"] == "biofab.surrogate"
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["class"] == "TreeEnsemble"
    assert manifest["params"]["n_members"] == 2 and manifest["fitted"]["n_features_in_"] == 3
    assert set(manifest["blobs"]) == {"member.0", "member.1"}
    assert files == {"manifest.json", "blob/member.0", "blob/member.1"}
    assert "learner" in booster


def test_only_allow_listed_models_are_saved() -> None:
    class Custom(TreeEnsemble):
        pass

    assert can_save(TreeEnsemble()) and not can_save(Custom())
    with pytest.raises(TypeError, match="cannot save a Custom"):
        dumps(Custom())


# ------------------------------------------------------------------- refusals


def _rewrite(payload: bytes, **members: bytes | None) -> bytes:
    """The payload's npz archive with some members replaced (bytes) or dropped (None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            name = info.filename.removesuffix(".npy")
            if name in members:
                continue
            dst.writestr(info, src.read(info))
        for name, data in members.items():
            if data is not None:
                dst.writestr(name + ".npy", data)
    return out.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _manifest_of(payload: bytes) -> dict[str, Any]:
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        return dict(json.loads(npz["manifest.json"].tobytes()))


def _with_manifest(payload: bytes, **changes: Any) -> bytes:
    manifest = {**_manifest_of(payload), **changes}
    raw = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    return _rewrite(payload, **{"manifest.json": _npy(raw)})


@pytest.fixture(scope="module")
def good_payload() -> bytes:
    return dumps(TreeEnsemble(n_members=2, n_estimators=5).fit(X, Y))


def test_the_armed_pickle_is_live() -> None:
    """The payload used below really runs under plain pickle: only biofab's refusal to
    unpickle keeps it from running."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        marker = Path(folder) / "ran"
        pickle.loads(evil_pickle(marker))
        assert marker.exists()


def test_doctored_payloads_are_refused_in_one_line_and_run_nothing(
    tmp_path: Path, good_payload: bytes, no_unpickling: None
) -> None:
    marker = tmp_path / "ran"
    object_array = np.array([_RunsShell(marker)], dtype=object)
    doctored = {
        "a pickle": (evil_pickle(marker), "not an .npz archive"),
        "a pickle in an npz": (
            _rewrite(good_payload, **{"blob/member.0": _npy(object_array)}),
            "damaged",
        ),
        "an unknown class": (_with_manifest(good_payload, **{"class": "posix.system"}), "unknown"),
        "a newer format": (_with_manifest(good_payload, format_version=99), "format version 99"),
        "another format": (_with_manifest(good_payload, format="joblib"), "not a biofab"),
        "a wrong parameter": (_with_manifest(good_payload, params={"n_members": "2; rm"}), "dama"),
        "an undeclared member": (_rewrite(good_payload, extra=_npy(np.zeros(2))), "damaged"),
        "a missing booster": (_rewrite(good_payload, **{"blob/member.1": None}), "damaged"),
        "truncated bytes": (good_payload[: len(good_payload) // 2], "damaged"),
        "a broken manifest": (
            _rewrite(good_payload, **{"manifest.json": _npy(np.frombuffer(b"{", np.uint8))}),
            "unreadable manifest",
        ),
    }
    for label, (payload, fragment) in doctored.items():
        with pytest.raises(SnapshotError) as err:
            load_snapshot(STATE_FORMAT, payload, what="model snapshot 9")
        message = one_line(err)
        assert message.startswith("model snapshot 9 "), label
        assert fragment in message, (label, message)
    assert not marker.exists()


def test_a_changed_array_shape_is_refused(no_unpickling: None) -> None:
    payload = dumps(MLPEnsemble(n_members=2, hidden=(4,), epochs=2).fit(X, Y))
    bigger = _rewrite(payload, **{"array/x_mean": _npy(np.zeros(5))})
    with pytest.raises(SnapshotError, match="array 'x_mean' is <f8 \\[5\\], manifest says"):
        loads(bigger)


def test_legacy_pickles_and_unknown_formats_are_refused(
    tmp_path: Path, good_payload: bytes, no_unpickling: None
) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(SnapshotError) as err:
        load_snapshot(LEGACY_PICKLE, evil_pickle(marker), what="model snapshot 4")
    assert one_line(err) == (
        "model snapshot 4 was stored as a pickle by an older biofab; biofab never unpickles "
        "a stored model (it could run code); the campaign refits it from its measurements"
    )
    with pytest.raises(SnapshotError, match="unknown storage format 'state-v9'"):
        load_snapshot("state-v9", good_payload)
    assert not marker.exists()


# ----------------------------------------------------------- store migration


def _table(conn: Any, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=conn)


def test_migration_marks_existing_snapshots_as_pickles(db_url: str, tmp_path: Path) -> None:
    """A database written at revision 0001 (pickled snapshot) opens at head, row labelled."""
    engine = create_engine(normalize_url(db_url))
    cfg = alembic_config()
    old_blob = evil_pickle(tmp_path / "ran")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        campaigns, snapshots = _table(conn, "campaigns"), _table(conn, "model_snapshots")
        assert "format" not in snapshots.c
        cid = conn.execute(
            campaigns.insert().values(
                name="old", space_yaml="x", objectives=[], created_at=now, created_by="t"
            )
        ).inserted_primary_key[0]
        conn.execute(
            snapshots.insert().values(
                campaign_id=cid, kind="gp", blob=old_blob, metrics={"n_train": 8}, created_at=now
            )
        )
    engine.dispose()

    with Store(db_url, who="tester") as store:
        assert store.schema_revision() == head_revision()
        old = store.latest_model("old")
        assert old is not None
        assert (old.format, old.blob, old.metrics) == (LEGACY_PICKLE, old_blob, {"n_train": 8})
        with pytest.raises(SnapshotError, match="stored as a pickle by an older biofab"):
            load_snapshot(old.format, old.blob)
        # New snapshots carry the new label; a row inserted without one counts as a pickle.
        store.save_model("old", None, "trees", b"state", {}, format=STATE_FORMAT)
        latest = store.latest_model("old")
        assert latest is not None and latest.format == STATE_FORMAT
        with store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO model_snapshots (campaign_id, kind, blob, metrics, created_at) "
                    "VALUES (:c, 'gp', :b, '{}', :t)"
                ),
                {"c": cid, "b": b"raw", "t": now},
            )
        raw = store.latest_model("old")
        assert raw is not None and raw.format == LEGACY_PICKLE
    assert not (tmp_path / "ran").exists()


# ------------------------------------------------- campaigns, explain and the CLI

SPACE = Space(
    {
        "a": Continuous(0, 4, step=0.5),
        "b": Continuous(0, 4, step=0.5),
        "strain": Categorical(["x", "y"]),
    },
    [SumToTotal(("a", "b"), 6.0)],
)


def measured(batch: pd.DataFrame) -> pd.DataFrame:
    out = batch[SPACE.names].copy()
    out["titer"] = 3 - (out["a"] - 2.5) ** 2 + np.where(out["strain"] == "y", 0.5, 0.0)
    out["titer_std"] = 0.1
    return out


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'biofab.db'}"


def biofab(*args: str, db: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `biofab` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", *args, "--db", db],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "BIOFAB_DB"},
    )


def _doctor_latest_snapshot(store: Store, blob: bytes, fmt: str) -> None:
    with store.engine.begin() as conn:
        newest = conn.execute(text("SELECT max(id) FROM model_snapshots")).scalar_one()
        conn.execute(
            text("UPDATE model_snapshots SET blob = :b, format = :f WHERE id = :i"),
            {"b": blob, "f": fmt, "i": newest},
        )


def test_explain_right_after_ingest_fits_the_default_surrogate(db: str) -> None:
    c = Campaign.create("c", SPACE, ["titer:max"], store=db)
    with pytest.raises(NotEnoughDataError, match="at least 2 measured designs"):
        c.explain()
    c.ingest(measured(c.recommend(8, seed=0).designs), filename="plate1.csv")
    assert c.store.latest_model("c") is None  # a space-filling round stores no model
    importance = c.explain()
    assert set(importance.index) == set(SPACE.names)
    # titer moves with a (and b = 6 - a) far more than with the strain.
    assert importance["share"].sum() == pytest.approx(1.0)
    assert importance.loc["strain", "share"] < 0.5
    assert c.store.latest_model("c") is None  # explaining stores nothing


def test_explain_uses_the_snapshot_of_the_current_data_only(db: str, tmp_path: Path) -> None:
    c = Campaign.create("c", SPACE, ["titer:max"], store=db)
    c.ingest(measured(c.recommend(8, seed=0).designs), filename="plate1.csv")
    batch = c.recommend(4, seed=1)
    snap = c.store.latest_model("c")
    assert snap is not None and snap.format == STATE_FORMAT
    assert snap.metrics["n_train"] == 8 and len(snap.metrics["data_sha256"]) == 64
    stored = c.explain(seed=0)
    model = loads(snap.blob)
    assert isinstance(model, GPSurrogate) and model.n_features_in_ == SPACE.width
    # The snapshot is what explain used: a doctored one is read, and refused.
    marker = tmp_path / "ran"
    _doctor_latest_snapshot(c.store, evil_pickle(marker), STATE_FORMAT)
    with pytest.raises(SnapshotError, match=r"not an \.npz archive"):
        c.explain()
    # New measurements make it stale: explain fits afresh and never reads it.
    c.ingest(measured(batch.designs), filename="plate2.csv")
    fresh = c.explain(seed=0)
    assert set(fresh.index) == set(stored.index)
    assert not marker.exists()


def test_cli_explain_refuses_a_planted_pickle_and_runs_nothing(
    db: str, tmp_path: Path, no_unpickling: None
) -> None:
    c = Campaign.create("c", SPACE, ["titer:max"], store=db)
    c.ingest(measured(c.recommend(8, seed=0).designs), filename="plate1.csv")
    c.recommend(4, seed=1)
    marker = tmp_path / "ran"
    _doctor_latest_snapshot(c.store, evil_pickle(marker), STATE_FORMAT)
    r = biofab("campaign", "explain", "c", db=db, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not a biofab model state" in lines[0], r.stderr
    assert lines[0].startswith("error: model snapshot ")
    assert not marker.exists()
    assert r.stdout == ""


def test_cli_explain_refits_over_an_old_pickled_snapshot_and_runs_nothing(
    db: str, tmp_path: Path, no_unpickling: None
) -> None:
    """A pickled row (older biofab, or planted) is never loaded: explain refits the model
    from the stored measurements, and the armed payload never runs."""
    c = Campaign.create("c", SPACE, ["titer:max"], store=db)
    c.ingest(measured(c.recommend(8, seed=0).designs), filename="plate1.csv")
    c.recommend(4, seed=1)
    marker = tmp_path / "ran"
    _doctor_latest_snapshot(c.store, evil_pickle(marker), LEGACY_PICKLE)
    r = biofab("campaign", "explain", "c", "--json", db=db, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    explained = json.loads(r.stdout)
    assert {d["parameter"] for d in explained["importance"]} == set(SPACE.names)
    assert [d["surrogate"] for d in explained["calibration"]] == ["GP", "tree ensemble"]
    assert not marker.exists()
    gone = biofab("campaign", "explain", "c", "--trust-pickle", db=db, cwd=tmp_path)
    assert gone.returncode == 2 and "No such option" in gone.stderr


def test_cli_explain_right_after_the_first_ingest(db: str, tmp_path: Path) -> None:
    """Importance from 2 measured designs on; calibration once there are 8."""
    c = Campaign.create("c", SPACE, ["titer:max"], store=db)
    c.ingest(measured(c.recommend(4, seed=0).designs), filename="plate1.csv")
    r = biofab("campaign", "explain", "c", "--json", db=db, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    explained = json.loads(r.stdout)
    assert {d["parameter"] for d in explained["importance"]} == set(SPACE.names)
    assert explained["calibration"] == []
    assert "at least 8 measured designs" in explained["calibration_skipped"]
    r = biofab("campaign", "explain", "c", db=db, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "calibration skipped" in r.stdout and "strain" in r.stdout


def test_explain_after_ingest_with_two_objectives(db: str) -> None:
    c = Campaign.create("two", SPACE, ["titer:max", "cost:min"], store=db)
    table = measured(c.recommend(6, seed=0).designs)
    table["cost"] = table["a"] * 2.0 + 1.0
    c.ingest(table, filename="plate1.csv")
    importance = c.explain()
    assert set(importance.index) == set(SPACE.names)
    model = c.current_model()
    assert isinstance(model, GPSurrogate) and model.n_outputs_ == 2
