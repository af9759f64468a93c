"""The day report page: ``report.html`` beside its PNG figures (stdlib only, text escaped)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from html import escape
from pathlib import Path

from wildcam.errors import StorageError
from wildcam.report.data import RunData
from wildcam.report.figures import FIGURES, draw_all
from wildcam.report.metrics import Summary, mode_changes, summarize
from wildcam.report.states import state_changes

__all__ = ["REPORT_NAME", "SUMMARY_NAME", "build_report", "render_html"]

REPORT_NAME = "report.html"
SUMMARY_NAME = "summary.json"

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1040px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
figure { margin: 2em 0; } figure img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
.note { color: #a15c00; }
"""


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], table_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table id="{table_id}"><tr>{head}</tr>{body}</table>'


def render_html(run: RunData, summary: Summary) -> str:
    """The page for ``run``: summary table, every figure of FIGURES, mode switches, notes."""
    tb = run.timebase
    span = (
        f"{tb.clock(0.0)} to {tb.clock(run.duration_s)} simulated "
        f"({summary.simulated_h:.1f} h in {run.duration_s:.0f} s of scene, "
        f"{run.frames} frames)"
        if tb.is_day
        else f"{run.duration_s:.1f} s of scene"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>wildcam day report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>wildcam day report</h1>",
        f"<p>{escape(span)}. Source: <code>{escape(run.source)}</code>. Generated "
        f"{escape(dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))}.</p>",
        "<h2>Summary</h2>",
        _table(("metric", "value"), summary.rows(), "summary"),
    ]
    if run.baseline is not None:
        parts.append(f"<p>Baseline: {escape(run.baseline.description)}.</p>")
    for spec in FIGURES:
        parts.append(
            f'<figure id="{escape(spec.name.removesuffix(".png"))}">'
            f"<h2>{escape(spec.title)}</h2>"
            f'<img src="{escape(spec.name)}" alt="{escape(spec.title)}">'
            f"<figcaption>{escape(spec.caption)}</figcaption></figure>"
        )
    switches = [
        (
            str(i + 1),
            tb.clock(s.t_s),
            s.mode_name,
            s.reason or "(no reason given)",
            "yes" if s.manual_override else "no",
        )
        for i, s in enumerate(mode_changes(run))
    ]
    parts += [
        "<h2>Mode switches</h2>",
        _table(("#", "time", "mode", "reason", "manual override"), switches, "modes")
        if switches
        else "<p>No power/state messages were recorded.</p>",
    ]
    states = [
        (str(i + 1), tb.clock(s.t_s), s.device_state, s.device_state_reason)
        for i, s in enumerate(state_changes(run))
    ]
    if states:
        parts += [
            "<h2>Device states</h2>",
            _table(("#", "time", "state", "reason"), states, "states"),
        ]
    visits = [
        (
            tb.clock(v.start_s),
            tb.clock(v.end_s),
            v.species,
            f"{v.coverage:.0%}",
            "never" if v.first_detection_s is None else f"{v.first_detection_s:.1f} s",
        )
        for v in summary.visit_scores
    ]
    parts += [
        "<h2>Ground-truth visits</h2>",
        _table(
            (
                "from",
                "to",
                "species",
                "inside motion events",
                "first detection after the start (scene time)",
            ),
            visits,
            "visits",
        ),
    ]
    if run.notes:
        parts.append(
            "<h2>Notes</h2><ul>"
            + "".join(f'<li class="note">{escape(n)}</li>' for n in run.notes)
            + "</ul>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def build_report(run: RunData, out_dir: str | Path, summary: Summary | None = None) -> Path:
    """Write ``report.html``, ``summary.json`` and the PNG figures into ``out_dir``; return the
    page's path. ``summary`` is ``summarize(run)`` when the caller has it already."""
    out = Path(out_dir)
    summary = summarize(run) if summary is None else summary
    try:
        out.mkdir(parents=True, exist_ok=True)
        draw_all(run, out)
        page = out / REPORT_NAME
        page.write_text(render_html(run, summary), encoding="utf-8")
        (out / SUMMARY_NAME).write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    except OSError as err:
        raise StorageError(f"cannot write the report into {out}: {err}") from err
    return page
