"""HTML of the dashboard: the layout, tables, figures and forms, every value escaped.

Plots are ``<div class="plot">`` elements holding the figure's JSON; the page's
deferred script draws them with the plotly.js the service ships (never a CDN), so
the first paint does not wait for plotly.js.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

import pandas as pd
import plotly.graph_objects as go

STATIC = "/ui/static"


def e(value: Any) -> str:
    return escape(str(value), quote=True)


def layout(
    title: str,
    body: str,
    *,
    user: str | None = None,
    csrf: str = "",
    plots: bool = False,
    crumbs: Sequence[tuple[str, str]] = (),
    refresh_s: int | None = None,
) -> str:
    """A whole page: skip link, header with navigation, breadcrumbs, main content;
    ``refresh_s`` reloads it that often (a page watching running jobs)."""
    nav = ""
    if user is not None:
        nav = (
            "<nav aria-label='Main'><ul>"
            "<li><a href='/ui/'>Projects</a></li>"
            "<li><a href='/ui/pillars'>Pillar pages</a></li>"
            "<li><a href='/docs'>API docs</a></li></ul>"
            f"<form method='post' action='/ui/logout' class='inline'>{csrf_field(csrf)}"
            f"<span class='who'>{e(user)}</span> <button type='submit'>Sign out</button>"
            "</form></nav>"
        )
    trail = ""
    if crumbs:
        items = "".join(f"<li><a href='{e(href)}'>{e(label)}</a></li>" for label, href in crumbs)
        trail = f"<nav aria-label='Breadcrumb' class='crumbs'><ol>{items}</ol></nav>"
    scripts = ""
    if plots:
        scripts = (
            f"<script src='{STATIC}/plotly.min.js' defer></script>"
            f"<script src='{STATIC}/app.js' defer></script>"
        )
    else:
        scripts = f"<script src='{STATIC}/app.js' defer></script>"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{e(title)} · biofab</title>"
        + (f"<meta http-equiv='refresh' content='{int(refresh_s)}'>" if refresh_s else "")
        + f"<link rel='stylesheet' href='{STATIC}/app.css'>{scripts}</head><body>"
        "<a class='skip' href='#main'>Skip to content</a>"
        f"<header><a class='brand' href='/ui/'>biofab</a>{nav}</header>"
        f"<main id='main' tabindex='-1'>{trail}<h1>{e(title)}</h1>{body}</main>"
        "</body></html>"
    )


def csrf_field(value: str) -> str:
    return f"<input type='hidden' name='csrf' value='{e(value)}'>" if value else ""


def message(text: str, *, error: bool = False) -> str:
    if not text:
        return ""
    role = "alert" if error else "status"
    cls = "error" if error else "ok"
    return f"<p class='{cls}' role='{role}'>{e(text)}</p>"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NA:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return e(value)


def table(frame: pd.DataFrame, *, caption: str = "") -> str:
    """A table with a header row (numbers formatted to 4 significant digits)."""
    head = "".join(f"<th scope='col'>{e(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return (
        f"<div class='scroll'><table>{cap}<thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


def figure(fig: go.Figure, label: str, *, height: int = 360) -> str:
    """A plot placeholder the page script draws; ``label`` names it for screen readers."""
    if fig.layout.height is None:
        fig.update_layout(height=height)
    if fig.layout.margin.t is None:
        fig.update_layout(margin={"t": 30, "r": 20})
    data = e(fig.to_json())
    return (
        f"<div class='plot' role='img' aria-label='{e(label)}' data-figure='{data}' "
        f"style='min-height:{int(fig.layout.height)}px'></div>"
    )


def sections(parts: Iterable[tuple[str, Any]], level: int = 2) -> str:
    """``(heading, content)`` pairs (figure, table or text), as a report section renders."""
    out = []
    for heading, content in parts:
        if heading:
            out.append(f"<h{level}>{e(heading)}</h{level}>")
        if isinstance(content, go.Figure):
            out.append(figure(content, heading or "plot"))
        elif isinstance(content, pd.DataFrame):
            out.append(table(content))
        else:
            out.append(f"<p>{e(content)}</p>")
    return "".join(out)


def pager(base: str, page: int, pages: int, param: str = "page") -> str:
    """Previous/next links of a paginated table (pages count from 1)."""
    if pages <= 1:
        return ""
    sep = "&" if "?" in base else "?"
    links = []
    if page > 1:
        links.append(f"<a href='{e(base)}{sep}{param}={page - 1}' rel='prev'>Previous</a>")
    links.append(f"<span>page {page} of {pages}</span>")
    if page < pages:
        links.append(f"<a href='{e(base)}{sep}{param}={page + 1}' rel='next'>Next</a>")
    return f"<nav class='pager' aria-label='Pages'>{' '.join(links)}</nav>"
