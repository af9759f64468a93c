"""The day report: what a run did, drawn and counted from its recording (no rclpy here).

:func:`load_run` reads a recorded bag plus the scene's ground truth, the gateway's listing and
the always-on baseline into one frozen :class:`RunData`; :func:`summarize` computes the table
(event recall, false uploads, joules per detected visit, projected battery life) and
:func:`build_report` writes ``report.html`` with its PNG figures — every number and every
figure from that same RunData.
"""

from __future__ import annotations

from wildcam.report.bag import TOPICS, load_run
from wildcam.report.data import (
    Baseline,
    RunData,
    Timebase,
    load_baseline,
    load_gateway_listing,
)
from wildcam.report.figures import FIGURES
from wildcam.report.html import REPORT_NAME, build_report, render_html
from wildcam.report.metrics import Summary, estimate_baseline, summarize

__all__ = [
    "FIGURES",
    "REPORT_NAME",
    "TOPICS",
    "Baseline",
    "RunData",
    "Summary",
    "Timebase",
    "build_report",
    "estimate_baseline",
    "load_baseline",
    "load_gateway_listing",
    "load_run",
    "render_html",
    "summarize",
]
