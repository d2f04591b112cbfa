"""``biofab serve`` end to end: a real process, its first admin token, a restart."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import anyio.to_thread
import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from api_server import free_port
from biofab.api import create_app
from test_cli_first_contact import imported_modules


@contextmanager
def serve(db: str, port: int, *options: str) -> Iterator[list[str]]:
    """Run ``biofab serve`` until it listens; yield the stdout lines printed before that."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "biofab.cli", "serve", "--db", db, "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"biofab serve exited: {''.join(lines)}")
            lines.append(line)
            if "Uvicorn running on" in line or "server processes (one socket each)" in line:
                break
        else:
            raise AssertionError(f"biofab serve did not start: {''.join(lines)}")
        yield lines
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_prints_the_first_admin_token_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'service.db'}"
    port = free_port()
    with serve(db, port) as first:
        printed = [ln.strip() for ln in first if ln.strip().startswith("bfk_")]
        assert len(printed) == 1, first
        token = printed[0]
        base = f"http://127.0.0.1:{port}"
        me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["user"] == me.json()["user"] | {"username": "admin", "site_admin": True}
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "biofab"
    port = free_port()
    with serve(db, port) as second:
        assert not any("bfk_" in ln for ln in second), second
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers=headers).status_code == 200
    # Never in clear in the store.
    assert token.encode() not in (tmp_path / "service.db").read_bytes()


def test_help_does_not_import_the_web_stack(tmp_path: Path) -> None:
    loaded = imported_modules("--help", cwd=tmp_path)
    assert "typer" in loaded and not loaded & {"fastapi", "uvicorn", "starlette"}


def test_serve_runs_submitted_jobs_in_its_job_runner(tmp_path: Path) -> None:
    """The job runner `biofab serve` starts beside the API takes a job to the end."""
    db = f"sqlite:///{tmp_path / 'service.db'}"
    port = free_port()
    with serve(db, port) as printed:
        token = next(ln.strip() for ln in printed if ln.strip().startswith("bfk_"))
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        scan = {"model": "textbook", "kind": "reaction", "limit": 5, "workers": 1}
        job = api.post("/jobs", json={"kind": "deletions", "request": scan}).json()
        deadline = time.monotonic() + 180
        while (state := api.get(f"/jobs/{job['id']}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, state
            time.sleep(0.5)
        assert state["status"] == "succeeded", state
        assert api.get(f"/jobs/{job['id']}/result").json()["wild_type_growth"] > 0.8


def test_serve_with_two_server_processes(tmp_path: Path) -> None:
    """--workers 2: both processes answer from the same settings and store, and
    connections opened at once are spread over both (each has its own socket)."""
    db = f"sqlite:///{tmp_path / 'service.db'}"
    port = free_port()
    with serve(db, port, "--workers", "2", "--job-workers", "0") as printed:
        token = next(ln.strip() for ln in printed if ln.strip().startswith("bfk_"))
        headers = {"Authorization": f"Bearer {token}"}
        url = f"http://127.0.0.1:{port}/api/v1/me"
        deadline = time.monotonic() + 60
        while len(server_processes(port)) < 2:  # the processes come up one by one
            assert time.monotonic() < deadline, "two server processes never listened"
            time.sleep(0.2)
        clients = [httpx.Client(headers=headers) for _ in range(20)]
        try:
            with ThreadPoolExecutor(20) as pool:
                answers = list(pool.map(lambda c: c.get(url), clients))
            assert [r.status_code for r in answers] == [200] * 20
            assert answers[0].json()["user"]["username"] == "admin"
            # Kept-alive connections, by the process that accepted them. With the
            # kernel's hash split, all 20 on one of two processes has odds 2 in 2**20.
            held = connections_by_process(port)
            assert sum(held.values()) == 20 and len(held) == 2, held
        finally:
            for c in clients:
                c.close()


def test_serve_refuses_a_port_in_use_with_two_processes(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        r = subprocess.run(
            [sys.executable, "-m", "biofab.cli", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}",
             "--port", str(port), "--workers", "2", "--job-workers", "0"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        taken.close()
    assert r.returncode == 1, r.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr


def server_processes(port: int) -> set[int]:
    """Pids listening on ``port`` on this machine."""
    return {
        c.pid
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid is not None
    }


def connections_by_process(port: int) -> dict[int, int]:
    """Established connections accepted on ``port``, counted by the pid holding them."""
    held: dict[int, int] = {}
    for c in psutil.net_connections("tcp"):
        if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port and c.pid is not None:
            held[c.pid] = held.get(c.pid, 0) + 1
    return held


def test_serve_refuses_a_missing_job_data_folder(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "biofab.cli", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}",
         "--job-data-dir", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "--job-data-dir is not a folder" in r.stderr and str(tmp_path / "nope") in r.stderr
    assert not (tmp_path / "s.db").exists()  # refused before the store is made


def test_request_handlers_run_on_the_configured_number_of_threads(tmp_path: Path) -> None:
    """``threads`` sizes the pool that runs blocking handlers (FastAPI's default is 40)."""
    app = create_app(f"sqlite:///{tmp_path / 's.db'}", threads=3)
    with TestClient(app) as client:
        tokens = client.portal.call(
            lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
        )
        assert tokens == 3
        assert client.get("/api/v1/health").status_code == 200


@pytest.mark.parametrize(("option", "value"), [("--auth-cache", "-1"), ("--threads", "0")])
def test_serve_refuses_an_out_of_range_option(tmp_path: Path, option: str, value: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "biofab.cli", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}",
         option, value],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert option in r.stderr and value in r.stderr
    assert not (tmp_path / "s.db").exists()
