"""Pages a person judges by eye: self-contained HTML with Plotly figures and tables.

Below the pillars and the interfaces: any pillar may build its pages here (the
campaign report in :mod:`biofab.report` is one of them). Imports nothing of biofab.
"""

from biofab.viz.page import Section, html_page

__all__ = ["Section", "html_page"]
