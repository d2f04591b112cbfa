"""A dashboard site for the web tests: a real uvicorn server on a temp SQLite store,
two projects and a user in each role, and (on request) a 50 rounds x 96 designs campaign
written straight through the store API."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from api_server import make_team, serving
from biofab.api import create_app
from biofab.core import Space
from biofab.store import Store
from biofab.store.accounts import Accounts

SPACE_YAML = """\
parameters:
  temp: {type: continuous, lo: 20, hi: 40}
  ph: {type: continuous, lo: 5, hi: 8}
"""
PASSWORD = "correct horse battery"


@dataclass
class Site:
    url: str
    store_url: str
    admin: str  # tokens
    editor: str
    viewer: str
    outsider: str

    def browser_client(self, token: str) -> httpx.Client:
        """A client signed in through the login form (cookie session)."""
        c = httpx.Client(base_url=self.url, timeout=120, follow_redirects=True)
        answer = c.post("/ui/login", data={"token": token, "next": "/ui/"})
        assert answer.status_code == 200 and str(answer.url).endswith("/ui/"), answer.text
        return c


def csrf_of(page: str) -> str:
    found = re.search(r"name='csrf' value='([0-9a-f]+)'", page)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


@contextmanager
def site(folder: Path) -> Iterator[Site]:
    url = f"sqlite:///{folder / 'biofab.db'}"
    app = create_app(url, max_upload_bytes=1 << 20)
    with Store(url) as store:
        admin = Accounts(store.acting_as("setup")).first_admin()
    assert admin is not None
    with serving(app) as base:
        tokens = make_team(base, admin, PASSWORD)
        yield Site(base, url, admin, tokens["eve"], tokens["vic"], tokens["otto"])


def big_campaign(store_url: str, name: str, project: str, rounds: int = 50, n: int = 96) -> None:
    """``rounds`` rounds of ``n`` designs, each with a prediction and a measurement."""
    rng = np.random.default_rng(0)
    space = Space.from_dict(
        {
            "parameters": {
                "temp": {"type": "continuous", "lo": 20, "hi": 40},
                "ph": {"type": "continuous", "lo": 5, "hi": 8},
            }
        }
    )
    with Store(store_url) as store:
        project_id = Accounts(store).project(project).id
        store.create_campaign(
            name,
            SPACE_YAML,
            [{"name": "yield", "direction": "max"}],
            "setup",
            project_id=project_id,
        )
        for r in range(1, rounds + 1):
            frame = pd.DataFrame({"temp": rng.uniform(20, 40, n), "ph": rng.uniform(5, 8, n)})
            keys = space.keys(frame)
            truth = -((frame["temp"] - 30) ** 2) / 50 - (frame["ph"] - 6.5) ** 2 + r / rounds
            guess = truth + rng.normal(0, 0.25, n)  # a model's imperfect prediction
            designs = [
                {"key": k, "params": p, "predicted": {"yield": [float(g), 0.25]}}
                for k, p, g in zip(keys, frame.to_dict("records"), guess, strict=True)
            ]
            store.add_round(name, "gp-ei", designs)
            rows = [
                {"key": k, "params": p, "objective": "yield", "value": float(t), "source": f"r{r}"}
                for k, p, t in zip(keys, frame.to_dict("records"), truth, strict=True)
            ]
            digest = hashlib.sha256(f"{name}:{r}".encode()).hexdigest()
            store.ingest(name, f"round{r}.csv", digest, rows)
