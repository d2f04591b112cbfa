"""``biofab serve``: the shared service (HTTP API) over one store.

FastAPI and uvicorn are imported only when the command runs, so ``biofab --help``
stays fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer


def serve(
    db: Annotated[
        str | None,
        typer.Option(
            "--db", envvar="BIOFAB_DB", help="SQLAlchemy URL (default: sqlite:///biofab.db)."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    max_upload_mb: Annotated[
        float, typer.Option(min=0.001, help="Largest results upload, in MiB.")
    ] = 20.0,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API server processes (more answer more requests at once; each keeps its "
            "own login rate limit).",
        ),
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Log every request to stderr (off by default: every write is audited in "
            "the store, and the line costs a fifth of a status request's time)."
        ),
    ] = False,
    auth_cache: Annotated[
        float,
        typer.Option(
            min=0,
            max=60,
            help="Seconds a server process trusts a token it verified (0: read the store on "
            "every request). A token revoked through another process stops working within "
            "this time.",
        ),
    ] = 2.0,
    threads: Annotated[
        int,
        typer.Option(
            min=1,
            max=256,
            help="Threads per server process running request handlers: Python runs one at "
            "a time, so a few answer fastest; each slow request (a recommendation) holds one.",
        ),
    ] = 4,
    job_workers: Annotated[
        int,
        typer.Option(
            min=0,
            max=64,
            help="Job runners started beside the API (0: run `biofab jobs run-worker` yourself).",
        ),
    ] = 1,
    job_folder: Annotated[
        Path, typer.Option(help="Where background jobs write their files.")
    ] = Path("biofab-jobs"),
    job_data_dir: Annotated[
        Path | None,
        typer.Option(help="The only folder whose files jobs submitted over HTTP may read."),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI schema at /openapi.json, docs at /docs).

    On a store without users, creates the site admin 'admin' and prints its API
    token once: it is stored only as a hash and never shown again.
    """
    import uvicorn

    from biofab.api import create_app
    from biofab.api.app import SETTINGS_ENV
    from biofab.api.processes import run_processes
    from biofab.core.errors import InputError
    from biofab.store import DEFAULT_URL
    from biofab.store.accounts import Accounts

    url = db or os.environ.get("BIOFAB_DB") or DEFAULT_URL
    if job_data_dir is not None and not job_data_dir.is_dir():
        raise InputError("--job-data-dir is not a folder", found=str(job_data_dir))
    settings: dict[str, Any] = {
        "store_url": url,
        "max_upload_bytes": int(max_upload_mb * 1024 * 1024),
        "auth_cache_s": auth_cache,
        "threads": threads,
        "job_data_dir": None if job_data_dir is None else str(job_data_dir.resolve()),
    }
    app = create_app(**settings)  # migrates the store once, before any worker starts
    store = app.state.service.store
    token = Accounts(store.acting_as("biofab serve")).first_admin()
    if token is not None:
        sys.stdout.write(
            "created site admin 'admin'. Its API token, shown this once (store it now):\n"
            f"  {token}\n"
        )
    sys.stdout.write(f"biofab serve: {store.url} on http://{host}:{port} (docs at /docs)\n")
    sys.stdout.flush()
    runners = [_job_runner(store.full_url, job_folder) for _ in range(job_workers)]
    try:
        if workers == 1:
            uvicorn.run(
                app, host=host, port=port, log_level="info", ws="none", access_log=access_log
            )
        else:  # each worker process builds its own app from the same settings
            os.environ[SETTINGS_ENV] = json.dumps({**settings, "store_url": store.full_url})
            run_processes(
                uvicorn.Config(
                    "biofab.api.app:app_from_environment",
                    factory=True,
                    workers=workers,
                    host=host,
                    port=port,
                    log_level="info",
                    ws="none",
                    access_log=access_log,
                )
            )
    finally:
        for proc in runners:
            proc.terminate()
        for proc in runners:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _job_runner(url: str, folder: Path) -> subprocess.Popen[bytes]:
    """A ``biofab jobs run-worker`` process on the same store.

    A separate interpreter, not a fork of this threaded server: each attempt of a
    job forks from the runner, which must hold no server threads. Its job rows carry
    the state, so a runner that dies loses nothing (another one recovers its jobs).
    """
    cmd = [sys.executable, "-m", "biofab.cli", "jobs", "run-worker", "--folder", str(folder)]
    return subprocess.Popen(cmd, env={**os.environ, "BIOFAB_DB": url}, preexec_fn=_end_with_parent)


def _end_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM when the server dies, even by
    SIGKILL, so no runner outlives its service (elsewhere, `finally` above stops them)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
