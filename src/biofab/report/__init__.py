"""Reports a person judges by eye: self-contained HTML with Plotly figures."""

from biofab.report.campaign import campaign_report
from biofab.report.html import html_page

__all__ = ["campaign_report", "html_page"]
