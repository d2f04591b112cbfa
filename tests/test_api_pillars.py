"""Each pillar's routes over real HTTP, mounted from the plug-in registry.

The pillars' quick actions do not touch the store, so one SQLite-backed server
serves them all (the store-backed routes run on both backends in test_api.py).
Each answer is compared with the same typed workflow called directly.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter

from api_server import serving
from biofab.api import create_app
from biofab.core import plugins
from biofab.store import Store
from biofab.store.accounts import Accounts
from conftest import ROOT, shared_data

PROTEOME = "metabolism/carveme_benchmark/fasta/Bsubtilis_168.faa"
MATURE = "AETANKSNELTAPSIKSGTILHAWNWSFNTLKHNMKDIHDAGYTAIQTSPINQVKEGNQ"


def _toy_router() -> APIRouter:
    routes = APIRouter()

    @routes.get("/echo")
    def echo(word: str) -> dict[str, str]:
        return {"echo": word}

    return routes


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    url = f"sqlite:///{tmp_path_factory.mktemp('pillars') / 'biofab.db'}"
    toy = plugins.Pillar(name="toy", help="A fifth pillar.", api=f"{__name__}:_toy_router")
    plugins.register(toy)
    try:
        app = create_app(url)
    finally:
        plugins.unregister("toy")
    with Store(url) as store:
        token = Accounts(store.acting_as("setup")).first_admin()
    with serving(app) as base:
        yield httpx.Client(
            base_url=base + "/api/v1/pillars",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )


def test_pillars_are_listed_and_mounted_from_the_registry(client: httpx.Client) -> None:
    listed = {p["name"]: p["routes"] for p in client.get(str(client.base_url).rstrip("/")).json()}
    assert {"metabolism", "parts", "cellfree", "process"} <= set(listed)
    assert listed["metabolism"] == "/api/v1/pillars/metabolism"
    # A fifth pillar registered before the app was built has its routes too.
    assert client.get("/toy/echo", params={"word": "hi"}).json() == {"echo": "hi"}
    # The same authorisation as every other route.
    base = str(client.base_url).rstrip("/")
    anonymous = httpx.post(f"{base}/process/simulate", json={"scenario_yaml": "x"})
    assert anonymous.status_code == 401
    assert httpx.get(f"{base}/toy/echo?word=x").status_code == 401


def test_metabolism_fba_and_fva_of_a_shipped_model(client: httpx.Client) -> None:
    from biofab.metabolism import workflows

    got = client.post("/metabolism/fba", json={"model": "textbook"})
    assert got.status_code == 200, got.text
    expected = workflows.fba(workflows.FbaRequest(model="textbook"))
    assert got.json()["objective_value"] == pytest.approx(expected.objective_value)
    assert got.json()["objective_value"] == pytest.approx(0.8739, abs=1e-3)  # e_coli_core
    fva = client.post(
        "/metabolism/fva",
        json={"model": "textbook", "reactions": ["PFK", "EX_glc__D_e"], "fraction": 0.9},
    )
    assert fva.status_code == 200, fva.text
    ranges = {r["reaction"]: r for r in fva.json()["ranges"]}
    assert ranges["EX_glc__D_e"]["minimum"] == pytest.approx(-10, abs=1e-6)
    assert ranges["PFK"]["minimum"] <= ranges["PFK"]["maximum"]
    # Only shipped names: never a path on the server.
    assert client.post("/metabolism/fba", json={"model": "/etc/passwd"}).status_code == 422
    unknown = client.post("/metabolism/fba", json={"bounds": {"NOPE": [0, 1]}})
    assert unknown.status_code == 422 and "NOPE" in unknown.json()["detail"]


def test_parts_signal_peptides(client: httpx.Client) -> None:
    records = shared_data(PROTEOME).read_text().split(">")[1:201]
    fasta = "".join(">" + r for r in records)
    body = {"proteome_fasta": fasta, "mature": MATURE, "n": 5, "generate": 10}
    got = client.post("/parts/signal-peptides", json=body)
    assert got.status_code == 200, got.text
    answer = got.json()
    assert answer["natural"] > 0 and answer["generated"] == 10 and len(answer["ranked"]) == 5
    assert answer["best"]["sequence"] == answer["ranked"][0]["sequence"]
    bad = client.post("/parts/signal-peptides", json=body | {"proteome_fasta": ">a\nMKKLLBLL\n"})
    detail = bad.json()["detail"]
    assert bad.status_code == 422 and "'B'" in detail and "biofab-parts" not in detail


def test_cellfree_plan_returns_layout_cost_and_picklist(client: httpx.Client) -> None:
    designs = (
        "mg_glutamate,k_glutamate,pga,ntp,amino_acids,dna\n"
        "9.4,193.5,51.5,2.825,0.96,19.8\n"
        "18.55,45.0,16.0,1.95,2.577,13.85\n"
    )
    got = client.post("/cellfree/plan", json={"designs_csv": designs, "replicates": 2})
    assert got.status_code == 200, got.text
    plan = got.json()
    assert plan["plates"] == 1 and len(plan["cost"]) == 1
    assert sum(w["role"] == "sample" for w in plan["layout"]) == 4  # 2 designs x 2 replicates
    picklists = [name for name in plan["files"] if "picklist" in name]
    assert picklists and "Source Well" in plan["files"][picklists[0]]
    bad = client.post("/cellfree/plan", json={"designs_csv": "mg_glutamate\n9.4\n"})
    detail = bad.json()["detail"]
    assert bad.status_code == 422 and "designs.csv" in detail and "k_glutamate" in detail
    assert "biofab-cellfree" not in detail


def test_process_simulate_matches_the_workflow(client: httpx.Client) -> None:
    from biofab.process import workflows

    path = ROOT / "examples" / "process" / "ecoli_fedbatch.yaml"
    got = client.post("/process/simulate", json={"scenario_yaml": path.read_text()})
    assert got.status_code == 200, got.text
    expected = workflows.simulate(workflows.SimulateRequest(scenario=path)).to_frame()
    trajectory = got.json()["trajectory"]
    assert len(trajectory) == len(expected)
    assert trajectory[-1]["X"] == pytest.approx(float(expected["X"].iloc[-1]), rel=1e-9)
    bad = client.post("/process/simulate", json={"scenario_yaml": "model: ecoli\nt_end: -1\n"})
    detail = bad.json()["detail"]
    assert bad.status_code == 422 and detail.startswith("scenario.yaml")
    long = path.read_text().replace("t_end: 16", "t_end: 100000")
    assert "t_end: 100000" in long
    too_long = client.post("/process/simulate", json={"scenario_yaml": long})
    assert too_long.status_code == 422, too_long.text


def test_parts_library_design(client: httpx.Client) -> None:
    from biofab.parts.library_design import ECOLI_CODON
    from biofab.parts.variants import GB1_PARENT

    cds = "".join(ECOLI_CODON[a] for a in GB1_PARENT) + "TAA"
    body = {"parent": GB1_PARENT, "sites": "V39,D40,G41", "codons": "22c", "parent_dna": cds}
    got = client.post("/parts/library/design", json=body)
    assert got.status_code == 200, got.text
    answer = got.json()
    assert answer["n_variants"] == 8000 and answer["clones_for_coverage"] > 3 * 8000 * 0.9
    assert [s["site"] for s in answer["site_table"]] == ["V39", "D40", "G41"]
    assert len(answer["primers"]) == 2 * 27  # one primer group, 3^3 codon combinations, F + R
    short = client.post("/parts/library/design", json=body | {"budget": 384})
    assert short.status_code == 422 and "budget is 384" in short.json()["detail"]
    outside = client.post("/parts/library/design", json=body | {"sites": "V39,K99"})
    assert outside.status_code == 422 and "beyond the parent" in outside.json()["detail"]
    path = client.post("/parts/library/design", json=body | {"parent": "/etc/hostname"})
    detail = path.json()["detail"]
    assert path.status_code == 422 and "non-amino-acid letter '/'" in detail
    assert "biofab-parts" not in detail  # the staging folder is not shown
