"""Shared fixtures: the published data sets and an isolated store per test."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from entry_points import ensure_source_entry_points
from pg import find_pg_bin, fresh_database, throwaway_postgres
from ray_cluster import local_ray_cluster, ray_command

ROOT = Path(__file__).resolve().parents[1]
ensure_source_entry_points(ROOT)  # before any test imports the plug-in registry


def shared_data(relative: str) -> Path:
    """Path to a file or folder of ``../shared/data`` (or ``$BIOFAB_SHARED_DATA``).

    Missing data fails the test: a suite that quietly skips its real-data
    checks would pass while testing nothing.
    """
    base = Path(os.environ.get("BIOFAB_SHARED_DATA", ROOT.parent / "shared" / "data"))
    path = base / relative
    if not path.exists():
        pytest.fail(f"shared data missing: {path} (set BIOFAB_SHARED_DATA)")
    return path


@pytest.fixture
def borkowski_dir() -> Path:
    return shared_data("cellfree/borkowski2020")


@pytest.fixture
def metis_dir() -> Path:
    return shared_data("cellfree/metis_txtl")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A private PostgreSQL server for this test session (one per xdist worker)."""
    bindir = find_pg_bin()
    if bindir is None:
        reason = "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with throwaway_postgres(bindir) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a fresh SQLite file, or a fresh database on the test server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'biofab.db'}"
    server: str = request.getfixturevalue("pg_server_url")
    return fresh_database(server, f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """A private local Ray cluster (2 CPUs) for this test session; its address.

    Without Ray the tests that need it are skipped, except under CI, where a
    missing Ray is a failure: `make test` must run them.
    """
    if ray_command() is None:
        reason = "Ray is not installed (pip install 'biofab[ray]')"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    # A short folder: Ray's unix socket paths must stay under ~100 characters.
    temp = Path(tempfile.mkdtemp(prefix="bfray", dir="/tmp"))
    try:
        with local_ray_cluster(temp / "r") as address:
            yield address
    finally:
        shutil.rmtree(temp, ignore_errors=True)
