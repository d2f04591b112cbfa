"""Background jobs over HTTP: a real uvicorn server and a real job runner process.

An editor submits a deletion scan, polls it to the end and fetches the result
(the same as calling the workflow directly); a viewer cannot submit or cancel;
another project's member sees 404; a bad request or a server path outside the
job data folder is a 422 and queues nothing; a queued job is cancelled at once.
Runs on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api_server import make_team, serving
from biofab.api import create_app
from biofab.compute.jobs import JobQueue
from biofab.store import Store
from biofab.store.accounts import Accounts
from pg import fresh_database


@dataclass
class Site:
    url: str
    store_url: str
    tokens: dict[str, str]
    data: Path

    def client(self, who: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=60)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("jobs")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'biofab.db'}"
    else:
        url = fresh_database(
            request.getfixturevalue("pg_server_url"), f"jobs_{uuid.uuid4().hex[:12]}"
        )
    data = root / "data"
    data.mkdir()
    (data / "scenario.yaml").write_text("not: used\n")
    app = create_app(url, job_data_dir=str(data))
    with Store(url) as store:
        admin = Accounts(store.acting_as("setup")).first_admin()
    assert admin is not None
    with serving(app) as base:
        tokens = make_team(base, admin)
        yield Site(base, url, tokens, data)


def run_worker(site: Site, folder: Path) -> subprocess.CompletedProcess[str]:
    """One job runner process on the site's store: runs what is queued, then stops."""
    env = {**os.environ, "BIOFAB_DB": site.store_url}
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", "jobs", "run-worker", "--folder", str(folder),
         "--max-jobs", "1", "--idle-exit", "5"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_submit_poll_result_and_who_may(site: Site, tmp_path: Path) -> None:
    eve, vic, otto = site.client("eve"), site.client("vic"), site.client("otto")
    kinds = eve.get("/jobs/kinds").json()
    assert kinds["deletions"] == "metabolism"

    scan = {"model": "textbook", "kind": "reaction", "limit": 12, "workers": 1}
    body = {"kind": "deletions", "project": "alpha", "request": scan}
    assert vic.post("/jobs", json=body).status_code == 403  # a viewer cannot submit
    made = eve.post("/jobs", json=body)
    assert made.status_code == 201, made.text
    job = made.json()
    assert job["status"] == "queued" and job["project"] == "alpha" and job["created_by"] == "eve"

    assert otto.get(f"/jobs/{job['id']}").status_code == 404  # another project's job
    assert otto.get("/jobs", params={"project": "alpha"}).status_code == 404
    assert vic.get(f"/jobs/{job['id']}").status_code == 200  # a viewer may watch
    assert vic.post(f"/jobs/{job['id']}/cancel").status_code == 403
    assert eve.get(f"/jobs/{job['id']}/result").status_code == 409  # not run yet
    assert eve.get("/jobs").status_code == 422  # non-admins name a project

    done = run_worker(site, tmp_path / "jobs")
    assert done.returncode == 0, done.stderr[-2000:]
    polled = eve.get(f"/jobs/{job['id']}").json()
    assert polled["status"] == "succeeded" and polled["progress"] == 1.0, polled
    result = eve.get(f"/jobs/{job['id']}/result").json()

    from biofab.metabolism.workflows import DeletionsRequest, deletions

    direct = deletions(DeletionsRequest(model="textbook", kind="reaction", limit=12, workers=1))
    assert result["wild_type_growth"] == pytest.approx(direct.wild_type_growth)
    page = eve.get("/jobs", params={"project": "alpha", "status": "succeeded"}).json()
    assert page["total"] >= 1 and any(j["id"] == job["id"] for j in page["items"])
    assert eve.get("/jobs/999999").status_code == 404


def test_bad_requests_queue_nothing(site: Site) -> None:
    eve = site.client("eve")
    before = JobQueue(site.store_url).list(limit=1)[1]
    cases = [
        ({"kind": "nope", "project": "alpha", "request": {}}, "nope"),
        ({"kind": "deletions", "project": "alpha", "request": {"model": 5}}, "model"),
        ({"kind": "deletions", "project": "alpha", "request": {"model": "textbook", "x": 1}}, "x"),
        ({"kind": "dfba", "project": "alpha", "request": {"scenario": "/etc/passwd"}},
         "request.scenario: a job over HTTP may name a file under"),
        ({"kind": "dfba", "project": "alpha", "request": {"scenario": "../../etc/passwd"}},
         "found '../../etc/passwd'"),
        ({"kind": "deletions", "request": {"model": "textbook"}}, "needs a site admin"),
    ]  # fmt: skip
    for body, expected in cases:
        r = eve.post("/jobs", json=body)
        assert r.status_code in (403, 404, 422), (body, r.status_code, r.text)
        assert expected in r.text, (expected, r.text)
        assert "Traceback" not in r.text
    assert JobQueue(site.store_url).list(limit=1)[1] == before
    # A file inside the data folder is accepted, named by its absolute path.
    inside = {"kind": "dfba", "project": "alpha", "request": {"scenario": "scenario.yaml"}}
    ok = eve.post("/jobs", json=inside)
    assert ok.status_code == 201, ok.text
    assert ok.json()["request"]["scenario"] == str((site.data / "scenario.yaml").resolve())
    assert eve.post(f"/jobs/{ok.json()['id']}/cancel").json()["status"] == "cancelled"


def test_cancel_a_queued_job_at_once(site: Site) -> None:
    eve = site.client("eve")
    body = {"kind": "deletions", "project": "alpha", "request": {"model": "textbook"}}
    job = eve.post("/jobs", json=body).json()
    cancelled = eve.post(f"/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = eve.post(f"/jobs/{job['id']}/cancel")
    assert again.status_code == 422 and "already finished" in again.text
