"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright
against a real uvicorn server on a temp SQLite store.

Covers: sign-in with a password, creating a campaign through the form, asking for a
batch, downloading it (CSV content checked), uploading results, the best-so-far and
predicted-vs-measured plots drawn by plotly.js (served locally), parameter importance
loaded after the first paint, keyboard access (skip link), a viewer without an upload
button whose forged post is refused 403, and a 50 rounds x 96 designs campaign page that
draws every round and pages its rounds by keyboard.

Timings (first contentful paint, the big page's load and draw, the next page of rounds)
are printed and recorded as test properties, never asserted: on a loaded machine a wall
time says more about the neighbours than about the page. Speed is measured by
``benchmarks/dashboard.py`` (medians and p95 against a static copy of the same pages).

Screenshots go to ``$BIOFAB_TEST_ARTIFACTS`` (default: pytest's tmp_path); the README's
docs/img/dashboard.png is rewritten with BIOFAB_UPDATE_SCREENSHOT=1. Without Chromium the
tests skip, except under CI, where they fail: a CI machine must run them.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from biofab.api.cache import VIEWS
from browser import CHROMIUM, VIEWPORT, first_paint, launch, plot_points, signed_in
from web_site import PASSWORD, Site, big_campaign, site

README_SHOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "dashboard.png"

if not CHROMIUM.exists():
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need Chromium under CI: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)

try:
    from playwright import sync_api
except ImportError:
    if os.environ.get("CI"):
        pytest.fail("browser tests need the playwright package under CI", pytrace=False)
    pytest.skip("the playwright package is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("browser")) as s:
        big_campaign(s.store_url, "big", "alpha")
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BIOFAB_TEST_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_editor_round_trip(browser: Any, web: Site, artifacts: Path, tmp_path: Path) -> None:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{web.url}/ui/campaigns/anything")  # signed out: the login page
    page.wait_for_url("**/ui/login**")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.fill("#username", "eve")
    page.fill("#password", PASSWORD)
    page.click("form:has(#password) button")
    page.wait_for_url(f"{web.url}/ui/campaigns/anything")  # back where the user was going
    page.goto(f"{web.url}/ui/")
    page.click("a:text-is('alpha')")
    # create a campaign through the form (the default space: temp, ph)
    page.fill("#name", "pcr-yield")
    page.fill("#objectives", "yield:max")
    page.click("button:text-is('Create campaign')")
    page.wait_for_url(f"{web.url}/ui/campaigns/pcr-yield")
    assert "Campaign 'pcr-yield' created." in page.inner_text("main")
    # ask for a batch and download it
    page.fill("#n", "8")
    page.click("#recommend")
    page.wait_for_selector("text=Round 1: 8 designs recommended", timeout=60_000)
    with page.expect_download() as info:
        page.click("text=Download CSV")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert len(rows) == 8 and list(rows[0])[:2] == ["temp", "ph"]
    assert all(20 <= float(r["temp"]) <= 40 and 5 <= float(r["ph"]) <= 8 for r in rows)
    assert "not applicable" in page.inner_text("#next")  # Echo/OT-2 need a cell-free space
    # measure the batch and upload the results
    results = tmp_path / "plate1.csv"
    with results.open("w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["temp", "ph", "yield"])
        for r in rows:
            t, ph = float(r["temp"]), float(r["ph"])
            w.writerow([r["temp"], r["ph"], f"{10 - (t - 31) ** 2 / 20 - (ph - 6.5) ** 2:.4f}"])
    page.set_input_files("#file", str(results))
    page.click("#upload")
    page.wait_for_selector("text=8 measurements of 0 new designs added", timeout=30_000)
    # a second batch: now from a fitted model, so predictions can meet measurements
    page.click("#recommend")
    page.wait_for_selector("text=Round 2: 8 designs recommended", timeout=60_000)
    assert plot_points(page, "#bsf ~ .plot") >= 2  # bars and the best-so-far line
    page.wait_for_selector("#imp ~ div .plot .main-svg", timeout=60_000)  # importance fragment
    page.screenshot(path=str(artifacts / "campaign.png"), full_page=True)
    # the README's picture: a long campaign, as its editor sees it on a laptop
    page.goto(f"{web.url}/ui/campaigns/big")
    plot_points(page, "#bsf ~ .plot")
    page.wait_for_selector("text=Predicted vs measured: yield")
    shot = artifacts / "dashboard.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size < 300_000  # small enough for the README
    if os.environ.get("BIOFAB_UPDATE_SCREENSHOT") or not README_SHOT.exists():
        README_SHOT.parent.mkdir(parents=True, exist_ok=True)  # the committed one stays
        README_SHOT.write_bytes(shot.read_bytes())  # unless asked: a test run leaves no diff
    context.close()


def test_viewer_cannot_upload(browser: Any, web: Site, artifacts: Path) -> None:
    page = signed_in(browser, web.url, web.viewer)
    page.goto(f"{web.url}/ui/campaigns/big")
    assert page.locator("#upload").count() == 0 and page.locator("#recommend").count() == 0
    assert page.locator("#file").count() == 0
    status = page.evaluate(
        """async () => {
             const body = new FormData();
             body.append('csrf', document.querySelector("input[name=csrf]").value);
             body.append('file', new Blob(['temp,ph,yield\\n30,6,1\\n']), 'forged.csv');
             const r = await fetch('/ui/campaigns/big/ingest', {method: 'POST', body});
             return r.status;
           }"""
    )
    assert status == 403
    page.screenshot(path=str(artifacts / "viewer.png"))
    page.context.close()


def test_first_paint_recorded(browser: Any, web: Site, record_property: Any) -> None:
    """Both pages paint content the browser reports; the times are recorded, not judged."""
    page = signed_in(browser, web.url, web.editor)
    page.goto(f"{web.url}/ui/projects/alpha")
    paints = {"projects": first_paint(page)}
    assert page.locator("a:text-is('big')").count() == 1  # the project lists its campaign
    page.goto(f"{web.url}/ui/campaigns/big")
    paints["campaign"] = first_paint(page)
    assert "big" in page.inner_text("h1")
    assert all(ms > 0 for ms in paints.values()), paints
    print(f"first contentful paint (ms): {paints}")
    for name, ms in paints.items():
        record_property(f"first_contentful_paint_ms_{name}", round(ms, 1))
    page.context.close()


def _timed_visit(page: Any, url: str) -> tuple[float, float, list[float], int]:
    """Seconds to the load event and until the best-so-far plot is drawn; navigation
    timing (first byte, DOM ready, load; ms); points drawn."""
    start = time.perf_counter()
    page.goto(url, wait_until="load")
    loaded = time.perf_counter() - start
    drawn = plot_points(page, "#bsf ~ .plot")
    ready = time.perf_counter() - start
    timing = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return [n.responseStart, n.domContentLoadedEventEnd, n.loadEventEnd]; }"
    )
    return loaded, ready, timing, drawn


def test_big_campaign_page(browser: Any, web: Site, artifacts: Path, record_property: Any) -> None:
    """A 50 x 96 campaign opened three ways: the very first visit (empty browser cache),
    a visit nobody has viewed since its last write (the server builds the page: no kept
    view) with plotly.js cached, and one the server answers from the view kept for this
    version. Each draws every round; the rounds table pages by keyboard. Times printed."""
    page = signed_in(browser, web.url, web.viewer)
    url = f"{web.url}/ui/campaigns/big"
    VIEWS.clear()  # the server runs in this process: forget views kept so far
    first = _timed_visit(page, url)
    VIEWS.clear()
    loaded, ready, timing, drawn = _timed_visit(page, url)
    kept = _timed_visit(page, url)
    # one bar and one best-so-far point per round, however the page was built
    assert drawn == first[3] == kept[3] == 2 * 50
    assert page.locator("table >> nth=0 >> tbody tr").count() == 20  # rounds paginated
    # interactive: the next page of rounds, by keyboard
    start = time.perf_counter()
    page.focus("a[rel=next]")
    page.keyboard.press("Enter")
    page.wait_for_url("**rounds=2")
    next_s = time.perf_counter() - start
    assert page.locator("table >> nth=0 >> tbody tr").count() == 20  # rounds 21-40
    print(
        f"50x96 campaign page: load {loaded:.2f} s, drawn {ready:.2f} s "
        f"(navigation ms: first byte, DOM ready, load {timing}); "
        f"first visit, empty browser cache: {first[0]:.2f} s / {first[1]:.2f} s; "
        f"view kept by the server: {kept[0]:.2f} s / {kept[1]:.2f} s; "
        f"next page of rounds: {next_s:.2f} s"
    )
    times = {
        "load_s": loaded,
        "drawn_s": ready,
        "first_visit_load_s": first[0],
        "first_visit_drawn_s": first[1],
        "kept_view_load_s": kept[0],
        "kept_view_drawn_s": kept[1],
        "next_rounds_page_s": next_s,
    }
    for name, value in times.items():
        record_property(f"big_campaign_{name}", round(value, 3))
    page.screenshot(path=str(artifacts / "big_campaign.png"))
    page.context.close()
