"""Debian's Chromium driven by Playwright, shared by the browser tests and
``benchmarks/dashboard.py``: where Chromium is, how it is launched, signing in through
the dashboard's login form, and what the page itself reports (paint, plots drawn)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("BIOFAB_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}  # a laptop screen


def launch(playwright: Any) -> Any:
    """A headless Chromium browser (Playwright's ``Browser``)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)


def signed_in(browser: Any, url: str, token: str) -> Any:
    """A new page of a new browser context, signed in with ``token`` through the login
    form of the dashboard at ``url``; it is on the projects page."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{url}/ui/login")
    page.fill("#token", token)
    page.click("form:has(#token) button")
    page.wait_for_url(f"{url}/ui/")
    return page


def first_paint(page: Any) -> float:
    """First contentful paint of the current page (ms, Performance API)."""
    ms: float = page.evaluate(
        """() => new Promise(done => new PerformanceObserver(list => {
               for (const e of list.getEntries())
                 if (e.name === 'first-contentful-paint') done(e.startTime);
             }).observe({type: 'paint', buffered: true}))"""
    )
    return ms


def plot_points(page: Any, selector: str) -> int:
    """Points and bars drawn by plotly.js (SVG) in the plot ``selector``."""
    page.wait_for_selector(f"{selector} .main-svg", timeout=15_000)
    n: int = page.eval_on_selector(selector, "el => el.querySelectorAll('.main-svg .point').length")
    return n
