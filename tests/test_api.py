"""The HTTP API over a real uvicorn server, on SQLite and on a real PostgreSQL server.

Each backend gets one server (module scope) with a site admin, two projects and
users in each role; every test makes its own campaigns, so tests do not depend
on each other's order. The forbidden paths are tried one by one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api_server import make_team, serving
from biofab.api import create_app
from biofab.store import Store, head_revision
from biofab.store.accounts import Accounts
from pg import fresh_database

SPACE_YAML = """\
parameters:
  temp: {type: continuous, lo: 20, hi: 40, step: 0.5}
  ph: {type: continuous, lo: 5, hi: 8, step: 0.1}
"""
UPLOAD_LIMIT = 4096


@dataclass
class Api:
    url: str
    store_url: str
    admin: str  # tokens
    editor: str
    viewer: str
    outsider: str

    def client(self, token: str | None) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=60)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'biofab.db'}"
    else:
        server: str = request.getfixturevalue("pg_server_url")
        url = fresh_database(server, f"api_{uuid.uuid4().hex[:12]}")
    app = create_app(
        url,
        max_upload_bytes=UPLOAD_LIMIT,
        auth_attempts=5,
        auth_window_s=60,
        auth_attempts_per_address=100,
    )
    with Store(url) as store:
        admin = Accounts(store.acting_as("setup")).first_admin()
    assert admin is not None
    with serving(app) as base:
        tokens = make_team(base, admin)
        yield Api(base, url, admin, tokens["eve"], tokens["vic"], tokens["otto"])


def _name(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _create(api: Api, name: str, project: str = "alpha") -> httpx.Response:
    body = {"name": name, "project": project, "space": SPACE_YAML, "objectives": ["yield:max"]}
    return api.client(api.editor).post("/campaigns", json=body)


def _results(designs: list[dict[str, float]]) -> bytes:
    lines = ["temp,ph,yield"]
    lines += [f"{d['temp']},{d['ph']},{d['temp'] / 10 - abs(d['ph'] - 6.5)}" for d in designs]
    return ("\n".join(lines) + "\n").encode()


def test_campaign_round_trip_with_etags_and_audit(api: Api) -> None:
    """Create, recommend, ingest, status, history, models, report; each write audited."""
    name = _name()
    eve = api.client(api.editor)
    made = _create(api, name)
    assert made.status_code == 201, made.text
    assert made.json()["project"] == "alpha" and made.headers["ETag"] == '"1"'

    rec = eve.post(f"/campaigns/{name}/recommend", json={"n": 6, "seed": 1})
    assert rec.status_code == 200, rec.text
    batch = rec.json()
    assert batch["round"] == 1 and len(batch["designs"]) == 6
    assert rec.headers["ETag"] == f'"{batch["version"]}"' and batch["version"] == 2

    # The report of a campaign recommended but not yet measured (found by the fuzzer).
    assert eve.get(f"/campaigns/{name}/report").status_code == 200

    upload = {"file": ("plate1.csv", _results(batch["designs"]), "text/csv")}
    ing = eve.post(f"/campaigns/{name}/ingest", files=upload, headers={"If-Match": '"2"'})
    assert ing.status_code == 200, ing.text
    assert ing.json()["added_measurements"] == 6 and ing.json()["version"] == 3
    again = eve.post(f"/campaigns/{name}/ingest", files=upload)
    assert again.json()["duplicate_file"] and again.json()["version"] == 3  # nothing written

    st = eve.get(f"/campaigns/{name}/status").json()
    assert (st["rounds"], st["designs"], st["measured"], st["pending"]) == (1, 6, 6, 0)
    history = eve.get(f"/campaigns/{name}/history").json()
    assert history[0]["round"] == 1 and history[0]["n"] == 6

    # A model-based round stores a snapshot: listed with metadata, never the blob.
    bo = eve.post(f"/campaigns/{name}/recommend", json={"n": 2, "recommender": "bo", "seed": 0})
    assert bo.status_code == 200, bo.text
    first = bo.json()["designs"][0]
    assert first["std_yield"] > 0 and 0 < first["pred_yield"] < 10  # predicted yield, its std
    assert batch["designs"][0]["pred_yield"] is None  # space-filling round: no model
    # Round 1 was space-filling (no predictions), so no record scales round 2's std.
    assert set(bo.json()["record_scale"].values()) <= {1.0}
    bad = eve.post(f"/campaigns/{name}/recommend", json={"n": 1, "record_calibration": "maybe"})
    assert bad.status_code == 422  # validated at the edge, nothing stored
    models = eve.get(f"/campaigns/{name}/models").json()
    assert len(models) == 1 and models[0]["round"] == 2 and models[0]["bytes"] > 0
    assert "blob" not in models[0] and models[0]["metrics"]["n_train"] == 6

    page = eve.get(f"/campaigns/{name}/report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert name in page.text and "plotly" in page.text.lower()

    with Store(api.store_url, create=False) as store:
        log = store.audit(name)
    assert log["action"].tolist() == ["create_campaign", "add_round", "ingest", "add_round",
                                      "save_model"]  # fmt: skip
    assert set(log["who"]) == {"eve"} and set(log["origin"]) == {"127.0.0.1"}
    assert log["project_id"].notna().all()


def test_list_is_paginated_and_scoped_to_projects(api: Api) -> None:
    names = [_name("page") for _ in range(3)]
    for n in names:
        assert _create(api, n).status_code == 201
    eve = api.client(api.editor)
    total = eve.get("/campaigns", params={"limit": 1}).json()["total"]
    seen = [
        item["name"]
        for offset in range(total)
        for item in eve.get("/campaigns", params={"limit": 1, "offset": offset}).json()["items"]
    ]
    assert set(names) <= set(seen) and len(seen) == len(set(seen)) == total
    past = eve.get("/campaigns", params={"limit": 5, "offset": total + 10}).json()
    assert past["items"] == [] and past["total"] == total
    projects = {i["project"] for i in eve.get("/campaigns", params={"limit": 1000}).json()["items"]}
    assert projects == {"alpha"}
    # Another project's member sees none of alpha's campaigns; the site admin sees all.
    otto = api.client(api.outsider).get("/campaigns").json()
    assert not set(names) & {i["name"] for i in otto["items"]}
    admin = api.client(api.admin).get("/campaigns", params={"limit": 1000}).json()
    assert set(names) <= {i["name"] for i in admin["items"]}
    bad = eve.get("/campaigns", params={"limit": 0})
    assert bad.status_code == 422


def test_tokens_missing_bad_revoked_and_expired_are_refused(api: Api) -> None:
    assert api.client(None).get("/campaigns").status_code == 401
    bad = api.client("bfk_" + "x" * 43).get("/campaigns")
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    assert api.client("not-a-token").get("/me").status_code == 401

    eve = api.client(api.editor)
    made = eve.post("/tokens", json={"label": "robot"})
    assert made.status_code == 201
    secret, info = made.json()["token"], made.json()["info"]
    assert len(secret) >= 4 + 43 and secret.startswith(info["prefix"])
    assert api.client(secret).get("/me").json()["user"]["username"] == "eve"
    listed = eve.get("/tokens").json()
    assert info["id"] in [t["id"] for t in listed] and all("token" not in t for t in listed)
    # Stored only as a hash: the secret is nowhere in the database.
    with Store(api.store_url, create=False) as store, store.engine.connect() as conn:
        rows = conn.execute(text("SELECT prefix, sha256 FROM api_tokens")).all()
    assert all(secret not in (p, h) for p, h in rows)

    assert eve.delete(f"/tokens/{info['id']}").json()["revoked_at"] is not None
    assert api.client(secret).get("/me").status_code == 401
    # Nobody revokes another user's token (and cannot tell it exists).
    vic_token = api.client(api.viewer).get("/tokens").json()[0]["id"]
    assert eve.delete(f"/tokens/{vic_token}").status_code == 404

    short = eve.post("/tokens", json={"label": "short", "expires_in_s": 1}).json()["token"]
    with Store(api.store_url, create=False) as store, store.engine.begin() as conn:
        conn.execute(
            text("UPDATE api_tokens SET expires_at = created_at WHERE prefix = :p"),
            {"p": short[:12]},
        )
    assert api.client(short).get("/me").status_code == 401


def test_roles_and_projects_are_enforced(api: Api) -> None:
    name = _name()
    assert _create(api, name).status_code == 201
    vic, otto, eve = api.client(api.viewer), api.client(api.outsider), api.client(api.editor)

    # A viewer reads but cannot write.
    assert vic.get(f"/campaigns/{name}/status").status_code == 200
    refused = vic.post(f"/campaigns/{name}/recommend", json={"n": 2})
    assert refused.status_code == 403 and "editor" in refused.json()["detail"]
    upload = {"file": ("r.csv", b"temp,ph,yield\n30,6,1\n", "text/csv")}
    assert vic.post(f"/campaigns/{name}/ingest", files=upload).status_code == 403
    body = {"name": _name(), "project": "alpha", "space": SPACE_YAML, "objectives": ["y:max"]}
    assert vic.post("/campaigns", json=body).status_code == 403

    # Another project's member: 404 everywhere, the same answer as a name that never existed.
    for path in ("", "/status", "/history", "/models", "/report"):
        got = otto.get(f"/campaigns/{name}{path}")
        assert got.status_code == 404, path
        never = otto.get(f"/campaigns/nope-{name}{path}").json()["detail"]
        assert got.json()["detail"] == never.replace(f"nope-{name}", name)
    assert otto.post(f"/campaigns/{name}/recommend", json={"n": 1}).status_code == 404
    assert otto.post(f"/campaigns/{name}/ingest", files=upload).status_code == 404
    assert otto.get("/projects/alpha/members").status_code == 404
    assert otto.post("/campaigns", json=body | {"project": "alpha"}).status_code == 404
    assert [p["name"] for p in otto.get("/projects").json()] == ["beta"]

    # Only site admins create projects and users; only project admins change roles.
    assert eve.post("/projects", json={"name": _name("p")}).status_code == 403
    assert eve.post("/users", json={"username": _name("u")}).status_code == 403
    assert eve.put("/projects/alpha/members/vic", json={"role": "admin"}).status_code == 403
    admin = api.client(api.admin)
    assert admin.put("/projects/alpha/members/vic", json={"role": "bogus"}).status_code == 422
    assert admin.put("/projects/alpha/members/nobody", json={"role": "viewer"}).status_code == 404
    # The same name in another project clashes: names are unique store-wide.
    assert _create(api, name).status_code == 409

    with Store(api.store_url, create=False) as store:
        log = store.audit()
    roles = log[log["action"] == "set_role"]
    assert set(roles["who"]) == {"admin"} and roles["project_id"].notna().all()


def test_stale_if_match_is_refused_and_writes_nothing(api: Api) -> None:
    name = _name()
    eve = api.client(api.editor)
    assert _create(api, name).status_code == 201
    etag = eve.get(f"/campaigns/{name}").headers["ETag"]
    assert eve.post(f"/campaigns/{name}/recommend", json={"n": 3}, headers={"If-Match": etag})
    stale = eve.post(f"/campaigns/{name}/recommend", json={"n": 3}, headers={"If-Match": etag})
    assert stale.status_code == 412 and "changed since version 1" in stale.json()["detail"]
    upload = {"file": ("r.csv", b"temp,ph,yield\n30,6,1\n", "text/csv")}
    stale = eve.post(f"/campaigns/{name}/ingest", files=upload, headers={"If-Match": etag})
    assert stale.status_code == 412
    bad = eve.post(f"/campaigns/{name}/ingest", files=upload, headers={"If-Match": "yesterday"})
    assert bad.status_code == 400
    st = eve.get(f"/campaigns/{name}/status").json()
    assert (st["rounds"], st["measured"], st["version"]) == (1, 0, 2)


def test_bad_uploads_are_one_line_4xx_and_write_nothing(api: Api, tmp_path: Path) -> None:
    name = _name()
    eve = api.client(api.editor)
    assert _create(api, name).status_code == 201

    def post(filename: str, content: bytes) -> httpx.Response:
        return eve.post(f"/campaigns/{name}/ingest", files={"file": (filename, content)})

    too_big = post("big.csv", b"temp,ph,yield\n" + b"30,6,1\n" * 1000)
    assert too_big.status_code == 413 and "too large" in too_big.json()["detail"]
    binary = post("plate.csv", bytes(range(256)) * 4)
    assert binary.status_code == 422 and binary.json()["detail"].startswith("plate.csv")
    off_grid = post("plate2.csv", b"temp,ph,yield\n30,6,1\n30.3,6,2\n")
    detail = off_grid.json()["detail"]
    assert off_grid.status_code == 422 and "plate2.csv" in detail and "row 2" in detail
    assert "biofab-upload" not in detail and "\n" not in detail  # never the server's path
    missing = post("plate3.csv", b"temp,yield\n30,1\n")
    assert missing.status_code == 422 and "ph" in missing.json()["detail"]
    # The same message as the CLI's parser gives for the same file.
    (tmp_path / "plate2.csv").write_bytes(b"temp,ph,yield\n30,6,1\n30.3,6,2\n")
    from biofab.campaign import Campaign
    from biofab.core import InputError

    with Store(api.store_url, create=False) as store:
        with pytest.raises(InputError) as cli_error:
            Campaign.load(name, store=store).ingest(tmp_path / "plate2.csv", filename="plate2.csv")
        assert str(cli_error.value) == detail
        assert store.counts(name) == {"rounds": 0, "designs": 0}
    no_file = eve.post(f"/campaigns/{name}/ingest")
    assert no_file.status_code == 422
    bad_space = {"name": _name(), "project": "alpha", "space": "a: [", "objectives": ["y:max"]}
    assert eve.post("/campaigns", json=bad_space).status_code == 422
    path_space = bad_space | {"space": "/etc/passwd"}  # text, never read as a server path
    assert eve.post("/campaigns", json=path_space).status_code == 422
    bad_rec = eve.post(f"/campaigns/{name}/recommend", json={"n": 1, "recommender": "magic"})
    assert bad_rec.status_code == 422 and "unknown recommender" in bad_rec.json()["detail"]


def test_login_and_token_requests_are_rate_limited(api: Api) -> None:
    admin = api.client(api.admin)
    user = _name("pat")
    assert admin.post("/users", json={"username": user, "password": "s3cret-pass"}).status_code
    anon = api.client(None)
    ok = anon.post("/login", json={"username": user, "password": "s3cret-pass"})
    assert ok.status_code == 200 and ok.json()["info"]["expires_at"] is not None
    assert api.client(ok.json()["token"]).get("/me").json()["user"]["username"] == user
    wrong = anon.post("/login", json={"username": user, "password": "wrong-pass"})
    assert wrong.status_code == 401
    statuses = [
        anon.post("/login", json={"username": user, "password": "wrong-pass"}).status_code
        for _ in range(5)
    ]
    assert statuses[-1] == 429 and 401 in statuses
    limited = anon.post("/login", json={"username": user, "password": "s3cret-pass"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    with Store(api.store_url, create=False) as store:
        log = store.audit()
    issued = log[(log["action"] == "issue_token") & (log["who"] == user)]
    assert len(issued) == 1 and issued["origin"].iloc[0] == "127.0.0.1"


def test_audit_log_stays_append_only_after_the_migration(api: Api) -> None:
    with Store(api.store_url, create=False) as store:
        assert store.schema_revision() == head_revision()  # 0004_service applied
        for sql in ("UPDATE audit_log SET origin = 'elsewhere'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.execute(text(sql))


def test_two_writers_with_the_same_etag_one_wins(api: Api) -> None:
    """Optimistic locking holds under concurrency: the version is checked and bumped in
    the write's own transaction, so of two ingests sent with one ETag exactly one lands."""
    from concurrent.futures import ThreadPoolExecutor

    name = _name()
    assert _create(api, name).status_code == 201
    etag = api.client(api.editor).get(f"/campaigns/{name}").headers["ETag"]
    files = [f"temp,ph,yield\n{20 + i},6,{i}\n".encode() for i in range(2)]

    def post(content: bytes) -> int:
        with api.client(api.editor) as c:
            upload = {"file": ("r.csv", content, "text/csv")}
            return c.post(
                f"/campaigns/{name}/ingest", files=upload, headers={"If-Match": etag}
            ).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(post, files))
    assert codes == [200, 412]
    st = api.client(api.editor).get(f"/campaigns/{name}/status").json()
    assert (st["measured"], st["version"]) == (1, 2)
