"""The campaign report (an interface, like the CLI): one self-contained HTML page.

Pillars add their sections through their plug-in records
(:class:`biofab.core.plugins.ReportSection`); page assembly lives in :mod:`biofab.viz`.
"""

from biofab.report.campaign import campaign_report, pillar_sections, write_report

__all__ = ["campaign_report", "pillar_sections", "write_report"]
