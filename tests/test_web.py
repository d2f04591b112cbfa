"""Dashboard handlers over a real uvicorn server (httpx, cookie sessions): CSRF, roles,
another project's campaign, and a bad upload shown as its one line with nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from biofab.store import Store
from web_site import SPACE_YAML, Site, csrf_of, site


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("web")) as s:
        eve = s.browser_client(s.editor)
        page = eve.get("/ui/projects/alpha")
        made = eve.post(
            "/ui/projects/alpha/campaigns",
            data={
                "csrf": csrf_of(page.text),
                "name": "w1",
                "objectives": "yield:max",
                "space": SPACE_YAML,
            },
        )
        assert made.status_code == 200 and str(made.url).endswith("/ui/campaigns/w1"), made.text
        yield s


def test_login_required_and_session_cookie(web: Site) -> None:
    anon = httpx.Client(base_url=web.url)
    assert anon.get("/ui/campaigns/w1").status_code == 303
    answer = anon.post("/ui/login", data={"token": web.editor, "next": "/ui/"})
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    bad = anon.post("/ui/login", data={"token": "bfk_wrong"})
    assert bad.status_code == 401 and "invalid, expired or revoked token" in bad.text
    wrong = anon.post("/ui/login", data={"username": "eve", "password": "nope"})
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text


def test_password_login(web: Site) -> None:
    c = httpx.Client(base_url=web.url, follow_redirects=True)
    from web_site import PASSWORD

    ok = c.post("/ui/login", data={"username": "eve", "password": PASSWORD, "next": "/ui/"})
    assert ok.status_code == 200 and "alpha" in ok.text


def test_csrf_refused(web: Site) -> None:
    eve = web.browser_client(web.editor)
    before = eve.get("/ui/campaigns/w1").text
    for token in ("", "0" * 64):
        forged = eve.post("/ui/campaigns/w1/recommend", data={"csrf": token, "n": "2"})
        assert forged.status_code == 403 and "CSRF" in forged.text
    assert eve.get("/ui/campaigns/w1").text.count("Round 1") == before.count("Round 1")


def test_viewer_forbidden_paths(web: Site) -> None:
    vic = web.browser_client(web.viewer)
    page = vic.get("/ui/campaigns/w1")
    assert page.status_code == 200
    assert "id='upload'" not in page.text and "id='recommend'" not in page.text
    csrf = csrf_of(page.text)  # a valid session and CSRF value: the role still refuses
    upload = {"file": ("r.csv", b"temp,ph,yield\n30,6,1\n")}
    assert vic.post("/ui/campaigns/w1/ingest", data={"csrf": csrf}, files=upload).status_code == 403
    assert vic.post("/ui/campaigns/w1/recommend", data={"csrf": csrf}).status_code == 403
    made = vic.post(
        "/ui/projects/alpha/campaigns",
        data={"csrf": csrf, "name": "v1", "objectives": "yield:max", "space": SPACE_YAML},
    )
    assert made.status_code == 403


def test_other_projects_campaign_is_404(web: Site) -> None:
    otto = web.browser_client(web.outsider)
    for path in (
        "/ui/campaigns/w1",
        "/ui/campaigns/w1/rounds/1.csv",
        "/ui/projects/alpha",
        "/ui/campaigns/w1/importance",
    ):
        assert otto.get(path).status_code == 404, path
    assert otto.get("/ui/campaigns/nope").status_code == 404


def test_bad_upload_shows_one_line_and_writes_nothing(web: Site) -> None:
    eve = web.browser_client(web.editor)
    page = eve.get("/ui/campaigns/w1")
    bad = b"temp,ph,yield\n30,6,1.0\n99,6,2.0\n"
    answer = eve.post(
        "/ui/campaigns/w1/ingest",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("plate9.csv", bad)},
    )
    assert answer.status_code == 422
    line = answer.text.split("role='alert'>")[1].split("<")[0]
    assert line.startswith("plate9.csv, row 2, column &#x27;temp&#x27;: outside the space")
    with Store(web.store_url) as store:
        assert store.measurement_records("w1") == []


def test_bad_campaign_form_shows_one_line(web: Site) -> None:
    eve = web.browser_client(web.editor)
    csrf = csrf_of(eve.get("/ui/projects/alpha").text)
    answer = eve.post(
        "/ui/projects/alpha/campaigns",
        data={"csrf": csrf, "name": "w2", "objectives": "yield:sideways", "space": SPACE_YAML},
    )
    assert answer.status_code in (400, 422) and "role='alert'" in answer.text
    assert "Traceback" not in answer.text


def test_pillar_pages(web: Site, tmp_path: Path) -> None:
    eve = web.browser_client(web.editor)
    index = eve.get("/ui/pillars").text
    assert "/ui/pillars/metabolism/fba" in index and "/ui/pillars/process/trends" in index
    trends = eve.get("/ui/pillars/process/trends", params={"run": "1"})
    assert trends.status_code == 200 and "class='plot'" in trends.text
    bad = eve.get("/ui/pillars/process/trends", params={"run": "1", "scenario": "model: [1"})
    assert bad.status_code == 422 and "scenario.yaml" in bad.text
    assert (
        eve.get("/ui/pillars/metabolism/fba", params={"run": "1", "model": "x"}).status_code == 422
    )


def test_parts_and_cellfree_pages(web: Site) -> None:
    """Every landed pillar has a results page: promoter/RBS strength from the physics
    models, and a TX-TL reaction of a typed composition; bad input is one line, 422."""
    eve = web.browser_client(web.editor)
    index = eve.get("/ui/pillars").text
    assert "/ui/pillars/parts/strength" in index and "/ui/pillars/cellfree/reaction" in index

    page = eve.get("/ui/pillars/parts/strength", params={"run": "1", "kind": "promoter"})
    assert page.status_code == 200 and "class='plot'" in page.text
    assert "J23100" in page.text and "dG_10" in page.text
    rbs = eve.get(
        "/ui/pillars/parts/strength",
        params={"run": "1", "kind": "rbs", "sequences": "AAAGAGGAGAAATACTAG\nAAAGCTCCTAAATACTAG"},
    )
    assert rbs.status_code == 200 and "log10_tir" in rbs.text
    bad = eve.get("/ui/pillars/parts/strength", params={"run": "1", "sequences": ">a\nACGTXX"})
    assert bad.status_code == 422 and "sequence &#x27;a&#x27;" in bad.text
    many = "\n".join(["ACGT" * 20] * 51)
    assert (
        eve.get("/ui/pillars/parts/strength", params={"run": "1", "sequences": many}).status_code
        == 422
    )

    reaction = eve.get(
        "/ui/pillars/cellfree/reaction",
        params={"run": "1", "composition": "mg_glutamate: 12\nntp: 2.5", "hours": "6"},
    )
    assert reaction.status_code == 200 and "class='plot'" in reaction.text
    assert "reference buffer" in reaction.text and "mature GFP" in reaction.text
    for composition, words in (
        ("glucose: 5", "unknown component"),
        ("ntp: lots", "not a number"),
        ("ntp: -1", "ntp"),
    ):
        bad = eve.get(
            "/ui/pillars/cellfree/reaction", params={"run": "1", "composition": composition}
        )
        assert bad.status_code == 422 and words in bad.text, (composition, bad.text[-500:])


def test_cellfree_batch_exports(web: Site) -> None:
    """A campaign on the cell-free composition space gets the Echo picklist and the OT-2
    protocols of its batch from the cell-free pillar (through the plug-in registry)."""
    import csv
    import io

    from biofab.cellfree.stocks import StockTable, composition_space

    space = composition_space(StockTable.default(), 10.0).to_yaml()
    eve = web.browser_client(web.editor)
    csrf = csrf_of(eve.get("/ui/projects/alpha").text)
    made = eve.post(
        "/ui/projects/alpha/campaigns",
        data={"csrf": csrf, "name": "txtl1", "objectives": "gfp:max", "space": space},
    )
    assert made.status_code == 200, made.text
    asked = eve.post("/ui/campaigns/txtl1/recommend", data={"csrf": csrf, "n": "4"})
    assert "Round 1: 4 designs recommended" in asked.text
    assert "/ui/campaigns/txtl1/rounds/1/export/cellfree/echo" in asked.text
    echo = eve.get("/ui/campaigns/txtl1/rounds/1/export/cellfree/echo")
    assert echo.status_code == 200, echo.text
    picklist = list(csv.DictReader(io.StringIO(echo.text)))
    assert picklist and any("volume" in c.lower() for c in picklist[0])
    # the OT-2's 1 µL steps cannot dispense the default stocks in 10 µL: said, and refused
    assert "Opentrons OT-2 protocols (zip) (cellfree): not applicable" in asked.text
    ot2 = eve.get("/ui/campaigns/txtl1/rounds/1/export/cellfree/ot2")
    assert ot2.status_code == 409 and "Echo" in ot2.text
    # the other campaign's space: said to be not applicable, and refused if asked anyway
    other = eve.post("/ui/campaigns/w1/recommend", data={"csrf": csrf, "n": "2"}).text
    assert "Echo picklist (CSV) (cellfree): not applicable" in other
    refused = eve.get("/ui/campaigns/w1/rounds/1/export/cellfree/echo")
    assert refused.status_code == 409


def test_stale_page_is_refused_with_its_line(web: Site) -> None:
    """The version a page showed goes with its form (If-Match): a page older than the
    campaign's last write is refused 412 on the page, and nothing is written."""
    eve = web.browser_client(web.editor)
    csrf = csrf_of(eve.get("/ui/campaigns/w1").text)
    with Store(web.store_url) as store:
        before = store.get_campaign("w1").version
    stale = eve.post(
        "/ui/campaigns/w1/recommend", data={"csrf": csrf, "n": "2", "version": str(before + 7)}
    )
    assert stale.status_code == 412 and "role='alert'" in stale.text
    with Store(web.store_url) as store:
        assert store.get_campaign("w1").version == before


def test_pillar_web_records_are_checked() -> None:
    from biofab.core.plugins import BatchExport, Pillar, PluginError, WebPage

    with pytest.raises(PluginError, match="web page name"):
        Pillar(name="toy", help="", web_pages=(WebPage("Bad Name", "t", "toy.web:page"),))
    with pytest.raises(PluginError, match="import path"):
        Pillar(name="toy", help="", batch_exports=(BatchExport("csv", "CSV", "not a path"),))


def test_job_list_shows_progress_and_only_editors_cancel(web: Site) -> None:
    from biofab.compute.jobs import JobQueue

    eve, vic, otto = (web.browser_client(t) for t in (web.editor, web.viewer, web.outsider))
    api = httpx.Client(
        base_url=web.url + "/api/v1", headers={"Authorization": f"Bearer {web.editor}"}
    )
    job = api.post(
        "/jobs",
        json={"kind": "deletions", "project": "alpha", "request": {"model": "textbook"}},
    ).json()
    page = eve.get("/ui/projects/alpha/jobs")
    assert page.status_code == 200 and f"<td>{job['id']}</td><td>deletions</td>" in page.text
    assert "<progress max='100' value='0'" in page.text
    assert "http-equiv='refresh'" in page.text  # a live job: the page follows it
    assert f"aria-label='Cancel job {job['id']}'" in page.text
    assert "Cancel job" not in vic.get("/ui/projects/alpha/jobs").text  # a viewer watches only
    assert otto.get("/ui/projects/alpha/jobs").status_code == 404
    csrf = csrf_of(page.text)
    refused = vic.post(f"/ui/jobs/{job['id']}/cancel", data={"csrf": csrf_of(vic.get("/ui/").text)})
    assert refused.status_code == 403
    assert eve.post(f"/ui/jobs/{job['id']}/cancel", data={"csrf": ""}).status_code == 403  # CSRF
    done = eve.post(f"/ui/jobs/{job['id']}/cancel", data={"csrf": csrf})
    assert done.status_code == 200 and "cancelled" in done.text
    assert JobQueue(web.store_url).get(job["id"]).status == "cancelled"
    assert "http-equiv='refresh'" not in eve.get("/ui/projects/alpha/jobs").text


def test_parts_library_page(web: Site) -> None:
    """Site-library coverage on the dashboard; a budget that is no number is one line."""
    eve = web.browser_client(web.editor)
    assert "/ui/pillars/parts/library" in eve.get("/ui/pillars").text
    page = eve.get(
        "/ui/pillars/parts/library",
        params={"run": "1", "sites": "V39,D40", "codons": "NDT", "budget": "500"},
    )
    assert page.status_code == 200 and "class='plot'" in page.text
    assert "144 protein variants" in page.text
    bad = eve.get("/ui/pillars/parts/library", params={"run": "1", "budget": "many"})
    assert bad.status_code == 422 and "budget is not a whole number" in bad.text


def _rounds_of_two(store_url: str, name: str, rounds: int, measured: int) -> None:
    """``rounds`` rounds of 2 predicted designs; the first ``measured`` rounds measured."""

    from biofab.store.accounts import Accounts

    with Store(store_url) as store:
        project_id = Accounts(store).project("alpha").id
        objectives = [{"name": "yield", "direction": "max"}]
        store.create_campaign(name, SPACE_YAML, objectives, "setup", project_id=project_id)
        for r in range(1, rounds + 1):
            params = [{"temp": 20.0 + r / 2, "ph": 5.0 + i} for i in range(2)]
            designs = [
                {"key": f"r{r}d{i}", "params": p, "predicted": {"yield": [r + i / 2, 0.5]}}
                for i, p in enumerate(params)
            ]
            store.add_round(name, "gp-ei", designs)
            if r <= measured:
                _measure(store, name, r, params)


def _measure(store: Store, name: str, r: int, params: list[dict[str, float]]) -> None:
    import hashlib

    rows = [
        {"key": f"r{r}d{i}", "params": p, "objective": "yield", "value": r + i, "source": "f"}
        for i, p in enumerate(params)
    ]
    store.ingest(name, f"round{r}.csv", hashlib.sha256(f"{name}{r}".encode()).hexdigest(), rows)


def test_next_page_of_rounds_reads_the_rounds_alone(web: Site) -> None:
    """The summary, plots and batch are kept once per campaign version: page 2 of the
    rounds issues no query on measurements or designs, shows the same summary as page 1,
    a page number out of range shows the nearest page, and a write shows at once."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _rounds_of_two(web.store_url, "paged", rounds=25, measured=24)
    vic = web.browser_client(web.viewer)
    first = vic.get("/ui/campaigns/paged")
    assert first.status_code == 200 and "page 1 of 2" in first.text
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql.lower())

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        second = vic.get("/ui/campaigns/paged", params={"rounds": 2})
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert second.status_code == 200 and "page 2 of 2" in second.text
    assert any("from rounds" in s for s in statements)  # it did read the rounds
    # neither the measurements nor the designs table (its rounds query counts designs)
    assert not [s for s in statements if "measurements" in s or "designs.params" in s]
    assert "<tr><td>5</td><td>gp-ei</td><td>2</td><td>2</td><td>6</td><td>6</td>" in second.text
    assert "<tr><td>6</td>" not in second.text  # newest first: rounds 25-6 are on page 1

    def summary(page: str) -> str:
        start = page.index("<ul class='stats'")
        return page[start : page.index("</ul>", start)]

    assert summary(first.text) == summary(second.text)
    assert "<li>measured<b>48</b></li><li>pending<b>2</b></li>" in summary(first.text)
    assert "Round 25: 2 designs, 2 not measured yet." in second.text
    assert vic.get("/ui/campaigns/paged", params={"rounds": 99}).text == second.text
    assert vic.get("/ui/campaigns/paged", params={"rounds": -3}).text == first.text
    bad = vic.get("/ui/campaigns/paged", params={"rounds": "two"})
    assert bad.status_code == 422
    with Store(web.store_url) as store:  # a write: the next view is built afresh
        _measure(store, "paged", 25, [{"temp": 32.5, "ph": 5.0 + i} for i in range(2)])
    after = vic.get("/ui/campaigns/paged", params={"rounds": 2}).text
    assert "<li>measured<b>50</b></li><li>pending<b>0</b></li>" in after
    assert "Round 25: 2 designs, 0 not measured yet." in after


def test_page_of_predicted_designs_not_yet_measured(web: Site) -> None:
    """A round recommended with predictions and nothing measured yet (this page used to
    fail with a 500 there): no plots but the empty note, the batch all pending."""
    _rounds_of_two(web.store_url, "unmeasured", rounds=1, measured=0)
    page = web.browser_client(web.viewer).get("/ui/campaigns/unmeasured")
    assert page.status_code == 200, page.text
    assert "No measurements yet: upload a results file." in page.text
    assert "Predicted vs measured" not in page.text
    assert "Round 1: 2 designs, 2 not measured yet." in page.text


def test_collector_waits_only_while_a_view_builds() -> None:
    """A view builds with the cyclic collector waiting (full collections walked every
    object of the loaded libraries: half a cold 50 x 96 build); it resumes afterwards,
    and one that was off stays off."""
    import gc

    from biofab.web.pages import _quietly

    assert _quietly(gc.isenabled) is False and gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        _quietly(lambda: 1 / 0)
    assert gc.isenabled()
    gc.disable()
    try:
        assert _quietly(lambda: 2) == 2 and not gc.isenabled()
    finally:
        gc.enable()
