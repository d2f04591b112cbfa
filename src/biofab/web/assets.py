"""The dashboard's own stylesheet and script, and where plotly.js comes from.

plotly.js is the copy bundled in the installed ``plotly`` package, served by the
service itself: the dashboard works on a lab network without internet.
"""

from __future__ import annotations

from pathlib import Path

import plotly


def plotly_js() -> Path:
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


CSS = """
:root{--ink:#1d2733;--muted:#5b6b7c;--line:#dde3ea;--accent:#0b5cad;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:var(--ink);
line-height:1.4;font-size:15px}
header{display:flex;align-items:center;gap:1.5rem;padding:.5rem 1.5rem;background:#12263a;
color:#fff}
header a{color:#fff} .brand{font-weight:700;font-size:1.1rem;text-decoration:none}
header nav{display:flex;align-items:center;gap:1rem;flex:1}
header nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0;flex:1}
.who{color:#c9d6e3;margin-right:.3rem}
main{max-width:1280px;margin:0 auto;padding:.5rem 1.5rem 3rem}
h1{font-size:1.5rem;margin:.6rem 0} h2{font-size:1.15rem;margin:1.4rem 0 .5rem;
border-bottom:1px solid var(--line);padding-bottom:.2rem} h3{font-size:1rem}
a{color:var(--accent)}
:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;color:var(--ink);padding:.4rem}
.skip:focus{left:.5rem;z-index:10}
.crumbs ol{list-style:none;display:flex;gap:.4rem;padding:0;margin:.6rem 0 0;font-size:.9rem}
.crumbs li+li::before{content:"/";margin-right:.4rem;color:var(--muted)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1rem 1.5rem}
.card{border:1px solid var(--line);border-radius:6px;padding:.2rem 1rem .8rem;background:#fff}
.scroll{overflow:auto;max-height:460px;border:1px solid var(--line);border-radius:4px}
table{border-collapse:collapse;font-size:.85rem;width:100%}
caption{text-align:left;font-weight:600;padding:.3rem .5rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e8edf2;text-align:right;white-space:nowrap}
th{background:#eef2f6;position:sticky;top:0} td:first-child,th:first-child{text-align:left}
form.stack{display:grid;gap:.5rem;max-width:560px}
form.inline{display:inline-flex;align-items:center;gap:.4rem;margin:0}
label{font-weight:600;font-size:.9rem}
input,select,textarea,button{font:inherit;padding:.35rem .5rem;border:1px solid #9aa9b8;
border-radius:4px}
textarea{font-family:ui-monospace,monospace;font-size:.85rem;width:100%}
button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
header button{background:transparent;border-color:#c9d6e3}
.button{display:inline-block;padding:.3rem .6rem;border:1px solid var(--accent);border-radius:4px;
text-decoration:none;margin:.2rem .3rem .2rem 0}
.error{background:#fdecea;border-left:4px solid #c0392b;padding:.5rem .8rem}
.ok{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.5rem .8rem}
.muted{color:var(--muted);font-size:.9rem}
.stats{display:flex;gap:1.5rem;flex-wrap:wrap;padding:0;list-style:none}
.stats li{background:var(--bg);border-radius:6px;padding:.4rem .8rem}
.stats b{display:block;font-size:1.2rem}
.pager{display:flex;gap:1rem;margin:.4rem 0;font-size:.9rem}
"""

JS = """
// Progressive enhancement: every page works without this script.
(function () {
  function draw(root) {
    if (!window.Plotly) return;
    root.querySelectorAll('.plot[data-figure]').forEach(function (el) {
      var fig = JSON.parse(el.getAttribute('data-figure'));
      el.removeAttribute('data-figure');
      window.Plotly.newPlot(el, fig.data, fig.layout,
        {responsive: true, displaylogo: false});
    });
  }
  function load(root) {
    // data-load: replace the element with the HTML fragment at that URL (same origin).
    root.querySelectorAll('[data-load]').forEach(function (el) {
      var url = el.getAttribute('data-load');
      el.removeAttribute('data-load');
      el.setAttribute('aria-busy', 'true');
      fetch(url, {credentials: 'same-origin', headers: {'X-Fragment': '1'}})
        .then(function (r) { return r.text(); })
        .then(function (text) {
          el.innerHTML = text;
          el.removeAttribute('aria-busy');
          draw(el);
        });
    });
  }
  function start() { draw(document); load(document); }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else { start(); }
})();
"""
