"""``biofab serve``: the shared service (HTTP API) over one store.

FastAPI and uvicorn are imported only when the command runs, so ``biofab --help``
stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

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
) -> None:
    """Serve the HTTP API (OpenAPI schema at /openapi.json, docs at /docs).

    On a store without users, creates the site admin 'admin' and prints its API
    token once: it is stored only as a hash and never shown again.
    """
    import uvicorn

    from biofab.api import create_app
    from biofab.store import DEFAULT_URL
    from biofab.store.accounts import Accounts

    url = db or os.environ.get("BIOFAB_DB") or DEFAULT_URL
    app = create_app(url, max_upload_bytes=int(max_upload_mb * 1024 * 1024))
    store = app.state.service.store
    token = Accounts(store.acting_as("biofab serve")).first_admin()
    if token is not None:
        sys.stdout.write(
            "created site admin 'admin'. Its API token, shown this once (store it now):\n"
            f"  {token}\n"
        )
    sys.stdout.write(f"biofab serve: {store.url} on http://{host}:{port} (docs at /docs)\n")
    sys.stdout.flush()
    uvicorn.run(app, host=host, port=port, log_level="info", ws="none")
