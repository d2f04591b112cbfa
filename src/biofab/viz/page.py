"""One self-contained HTML page from Plotly figures and tables.

plotly.js is inlined once, so the file opens offline (labs often have no
internet on instrument PCs) and can be attached to an e-mail or an ELN entry.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

Section = tuple[str, go.Figure | pd.DataFrame | str]
"""One part of a page: ``(heading, content)``; content a figure, a table or text."""

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#1d2733;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #dde3ea;padding-bottom:.3rem} .meta{color:#5b6b7c}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0} td,th{padding:.25rem .6rem;
border-bottom:1px solid #e8edf2;text-align:right} th{background:#f4f7fa}
.note{color:#5b6b7c;font-size:.9rem}
"""


def html_page(
    title: str,
    sections: Sequence[Section],
    *,
    subtitle: str = "",
    refresh_s: float | None = None,
) -> str:
    """``sections`` are ``(heading, content)``; content is a figure, a table or text.

    An empty heading continues the previous section (e.g. a note under a table).
    ``refresh_s``: the browser reloads the page every so many seconds (a page that a
    running job rewrites, e.g. a live batch monitor).
    """
    reload = (
        f"<meta http-equiv='refresh' content='{max(1, round(refresh_s))}'>"
        if refresh_s is not None
        else ""
    )
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>{reload}",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='meta'>{html.escape(subtitle)}</p>",
    ]
    inlined = False
    for heading, content in sections:
        if heading:
            parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, go.Figure):
            parts.append(
                content.to_html(full_html=False, include_plotlyjs=not inlined, default_height=420)
            )
            inlined = True
        elif isinstance(content, pd.DataFrame):
            parts.append(content.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0))
        else:
            parts.append(f"<p class='note'>{html.escape(content)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
