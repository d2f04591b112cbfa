"""Schemathesis against the served OpenAPI schema: no request, valid or not, gets a 5xx.

Bounded: a few generated cases per operation and mode (valid and invalid data),
derandomised so a run is reproducible, over a real uvicorn server on SQLite.
Campaign routes are pointed at a real campaign, so generated bodies reach the
handlers instead of stopping at a 404.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api_server import serving
from biofab.api import create_app
from biofab.store import Store
from biofab.store.accounts import Accounts

EXAMPLES = 4  # per operation and mode
# Loading a genome-scale model (iJO1366: ~2 s) dominates these routes' cases.
SLOW = ("/pillars/metabolism/",)
SLOW_EXAMPLES = 2
BUDGET_S = 40

SPACE = {"parameters": {"x": {"type": "continuous", "lo": 0, "hi": 1, "step": 0.01}}}


@dataclass
class Target:
    base: str
    headers: dict[str, str]
    campaign: str
    spare_token: int


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'biofab.db'}"
    app = create_app(url, max_upload_bytes=64 * 1024)
    with Store(url) as store:
        token = Accounts(store.acting_as("setup")).first_admin()
    headers = {"Authorization": f"Bearer {token}"}
    with serving(app) as base:
        api = httpx.Client(base_url=base + "/api/v1", headers=headers)
        assert api.post("/projects", json={"name": "fuzz"}).status_code == 201
        body = {"name": "fuzzed", "project": "fuzz", "space": SPACE, "objectives": ["y:max"]}
        assert api.post("/campaigns", json=body).status_code == 201
        spare = api.post("/tokens", json={"label": "spare"}).json()["info"]["id"]
        yield Target(base, headers, "fuzzed", spare)


def test_no_generated_request_gets_a_server_error(target: Target) -> None:
    raw = httpx.get(target.base + "/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    started = time.monotonic()
    failures: list[str] = []
    tried = 0
    timings: dict[str, float] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        # A fixed, real object for path parameters: the spare token may be revoked.
        path_parameters = {}
        if "{name}" in operation.path:
            path_parameters["name"] = target.campaign
        if "{token_id}" in operation.path:
            path_parameters["token_id"] = target.spare_token
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(
                generation_mode=mode, path_parameters=path_parameters or None
            )

            @settings(
                max_examples=SLOW_EXAMPLES if any(p in operation.path for p in SLOW) else EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def check(case: schemathesis.Case) -> None:
                nonlocal tried
                headers = {**(case.headers or {}), **target.headers}
                response = case.call(base_url=target.base, headers=headers, timeout=60)
                tried += 1
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:200]}"
                    )

            t0 = time.monotonic()
            # Unsatisfiable: e.g. no invalid request exists for a parameterless GET.
            with contextlib.suppress(Unsatisfiable):
                check()
            timings[f"{operation.method.upper()} {operation.path} {mode.value}"] = (
                time.monotonic() - t0
            )
    print("slowest:", sorted(timings.items(), key=lambda kv: -kv[1])[:5])
    elapsed = time.monotonic() - started
    assert not failures, "\n".join(failures)
    assert tried >= 2 * len(raw["paths"])  # every operation was exercised
    assert elapsed < BUDGET_S, f"fuzzing took {elapsed:.0f} s"
