"""A throwaway PostgreSQL server for tests: initdb into a temp dir, start, yield a URL, stop.

Used by ``tests/test_store.py`` through a session-scoped fixture. The server
listens on 127.0.0.1 on a free port with trust authentication and durability
switched off (fsync=off): it holds nothing worth keeping and must start fast.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
DATABASE = "biofab_test"


def find_pg_bin() -> Path | None:
    """Folder holding ``initdb`` and ``pg_ctl``: ``$BIOFAB_PG_BIN``, the newest Debian
    ``/usr/lib/postgresql/<version>/bin``, or the ``PATH``; None if there is none."""
    env = os.environ.get("BIOFAB_PG_BIN")
    candidates = [Path(env)] if env else []

    def version(path: str) -> int:
        name = Path(path).parent.name
        return int(name) if name.isdigit() else -1

    candidates += [Path(p) for p in sorted(glob.glob(PG_BIN_GLOB), key=version, reverse=True)]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Runner:
    """Runs server commands as ``postgres`` when we are root (initdb refuses root)."""

    def __init__(self) -> None:
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        if self.as_root and shutil.which("runuser") is None:
            raise RuntimeError("running as root needs `runuser` to start PostgreSQL as postgres")

    def __call__(self, *args: str | Path, log: Path | None = None) -> None:
        cmd = [str(a) for a in args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            server_log = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                f"{server_log}"
            )


@contextmanager
def throwaway_postgres(bindir: Path) -> Iterator[str]:
    """Start a private PostgreSQL server; yield ``postgresql+psycopg://postgres@127.0.0.1:PORT/biofab_test``."""
    run = _Runner()
    root = Path(tempfile.mkdtemp(prefix="biofab-pg-"))
    data, log = root / "data", root / "server.log"
    if run.as_root:
        shutil.chown(root, "postgres", "postgres")
    started = False
    try:
        run(bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--no-locale", "--no-sync")  # fmt: skip
        for attempt in range(3):
            port = _free_port()
            options = (
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                run(bindir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60",
                    "start", log=log)  # fmt: skip
                started = True
                break
            except RuntimeError:
                # Another process may have taken the port between probe and bind.
                if attempt == 2:
                    raise
        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            # Best effort: the temp dir goes either way.
            with contextlib.suppress(RuntimeError):
                run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``server_url``; return its URL."""
    head, _, _ = server_url.rpartition("/")
    port = int(head.rsplit(":", 1)[1])
    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{head}/{name}"
