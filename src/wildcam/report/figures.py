"""The day report's PNG figures, drawn with matplotlib's Agg backend from one RunData.

:data:`FIGURES` lists them with the caption the HTML page shows under each (one plain sentence:
what to look for); :func:`draw_figure` draws one into a matplotlib Figure (tests read its
artists), :func:`draw_all` writes the PNGs. The x axis is the simulated time of day with a tick
every 6 hours for a compressed day, else scene seconds. Legends sit outside the plotting area,
so they never cover data; counts get integer ticks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

from wildcam.report.data import RunData
from wildcam.report.metrics import STAGES, detected_times, mode_changes

__all__ = ["FIGURES", "FigureSpec", "draw_all", "draw_figure", "hold_rule"]

MODE_COLOURS = {
    "critical": "#d62728",
    "low_power": "#ff7f0e",
    "normal": "#2ca02c",
    "aggressive": "#1f77b4",
}
NIGHT_COLOUR = "#20204030"
DPI = 100
OUTSIDE: dict[str, Any] = {
    "loc": "upper left",
    "bbox_to_anchor": (1.01, 1.0),
    "borderaxespad": 0.0,
    "fontsize": 8,
}
"""Legend placement: to the right of the plotting area, never over the data."""


@dataclass(frozen=True)
class FigureSpec:
    """One figure: file name, title, caption, and the function that draws it."""

    name: str
    title: str
    caption: str
    draw: Callable[[RunData, Axes], None]
    height: float = 4.0


def _x(run: RunData, scene_s: float) -> float:
    return run.timebase.hour_of_day(scene_s)


def _xlabel(run: RunData) -> str:
    return "simulated time of day" if run.timebase.is_day else "scene time (s)"


def _frame(run: RunData, ax: Axes) -> None:
    """Common x range, night shading and axis label."""
    ax.set_xlim(_x(run, 0.0), _x(run, max(run.duration_s, 1e-6)))
    for start, end in run.nights:
        ax.axvspan(_x(run, start), _x(run, end), color=NIGHT_COLOUR, lw=0)
    ax.set_xlabel(_xlabel(run))
    if run.timebase.is_day:
        ax.xaxis.set_major_locator(MultipleLocator(6.0))  # 00:00, 06:00, 12:00, 18:00
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda h, _: f"{int(h) % 24:02d}:{int(round(h % 1 * 60)) % 60:02d}")
        )
    ax.grid(True, alpha=0.3)


def _battery(run: RunData, ax: Axes) -> None:
    _frame(run, ax)
    changes = mode_changes(run)
    for i, state in enumerate(changes):
        end = changes[i + 1].t_s if i + 1 < len(changes) else run.duration_s
        ax.axvspan(
            _x(run, state.t_s),
            _x(run, end),
            alpha=0.15,
            lw=0,
            color=MODE_COLOURS.get(state.mode_name, "#7f7f7f"),
        )
    levels = [(b.t_s, b.percentage * 100) for b in run.battery if math.isfinite(b.percentage)]
    if levels:
        ax.plot(
            [_x(run, t) for t, _ in levels],
            [p for _, p in levels],
            color="black",
            lw=1.5,
            label="battery level",
        )
    ax.set_ylim(0, 105)
    ax.set_ylabel("battery (%)")
    for i, state in enumerate(changes):
        x = _x(run, state.t_s)
        ax.axvline(x, color=MODE_COLOURS.get(state.mode_name, "#7f7f7f"), lw=1, ls="--")
        reason = state.reason if len(state.reason) <= 32 else state.reason[:31] + "…"
        lo, hi = ax.get_xlim()
        left = x > lo + 0.85 * (hi - lo)  # near the right edge: write to the left of the line
        ax.annotate(
            f"{i + 1}: {state.mode_name}\n{reason}",
            (x, 100 - 12 * (i % 3)),
            fontsize=7,
            xytext=(-3 if left else 3, 0),
            textcoords="offset points",
            va="top",
            ha="right" if left else "left",
        )
    lines, labels = ax.get_legend_handles_labels()
    patches = [Patch(color=c, alpha=0.3) for c in MODE_COLOURS.values()]
    labels += [f"mode: {m}" for m in MODE_COLOURS]
    if run.nights:  # the night shading darkens a mode's colour: say so
        patches.append(Patch(color=NIGHT_COLOUR))
        labels.append("night (infrared)")
    ax.legend([*lines, *patches], labels, **OUTSIDE)


def _timeline(run: RunData, ax: Axes) -> None:
    _frame(run, ax)
    lanes = ["ground-truth visits", "motion events", "detections", "at the gateway"]
    for start, end in run.rain:
        ax.axvspan(_x(run, start), _x(run, end), color="#1f77b415", lw=0)
    ax.broken_barh(
        [(_x(run, v.start_s), _x(run, v.end_s) - _x(run, v.start_s)) for v in run.visits],
        (3.6, 0.8),
        color="#2ca02c",
    )
    for v in run.visits:
        ax.annotate(v.species, (_x(run, v.start_s), 4.45), fontsize=7)
    ax.broken_barh(
        [
            (_x(run, m.start_s), max(_x(run, m.end_s) - _x(run, m.start_s), 1e-3))
            for m in run.motion
        ],
        (2.6, 0.8),
        color="#ff7f0e",
    )
    ax.plot(
        [_x(run, d.t_s) for d in run.detections],
        [2.0] * len(run.detections),
        "|",
        color="#1f77b4",
        ms=12,
    )
    if run.gateway is not None:
        times, _ = detected_times(run)
        ax.plot([_x(run, t) for t in times], [1.0] * len(times), "|", color="#9467bd", ms=12)
    else:
        ax.text(_x(run, 0.0), 1.0, "  no gateway listing", va="center", fontsize=8)
    ax.set_yticks([4.0, 3.0, 2.0, 1.0], lanes)
    ax.set_ylim(0.4, 4.9)


IDLE = "board idle"


def energy_series(run: RunData) -> tuple[dict[str, float], dict[str, float] | None]:
    """Joules per stage of the run and of the baseline (None without one), each with the
    board's idle energy over the run (idle power x the scene's seconds, both alike)."""
    joules = run.joules_by_stage()
    base = dict(run.baseline.joules_by_stage) if run.baseline is not None else None
    if run.idle_w is not None and IDLE not in joules:
        idle = run.idle_w * run.duration_s
        joules[IDLE] = idle
        if base is not None:
            base[IDLE] = idle
    return joules, base


def _energy(run: RunData, ax: Axes) -> None:
    joules, base = energy_series(run)
    names = [IDLE] * (IDLE in joules) + list(STAGES) + sorted(set(joules) - {*STAGES, IDLE})
    names += sorted(set(base or {}) - set(names))
    y = list(range(len(names)))
    series = [("this run", joules, "#2ca02c", 0.2)]
    if base is not None:
        series.append(("always-on baseline", base, "#7f7f7f", -0.2))
    else:
        ax.set_title("no always-on baseline available", fontsize=9)
    for label, values, colour, offset in series:
        total = sum(values.values())
        bars = ax.barh(
            [i + offset for i in y],
            [values.get(n, 0.0) for n in names],
            height=0.4,
            color=colour,
            label=f"{label}: {total:.1f} J",
        )
        ax.bar_label(
            bars,
            [
                f"{values[n]:.1f} J ({values[n] / total:.0%})"
                if values.get(n, 0.0) > 0 and total > 0
                else ""
                for n in names
            ],
            fontsize=7,
            padding=2,
        )
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xscale("linear")
    ax.margins(x=0.25)  # room for the share labels
    ax.set_xlim(left=0.0)
    ax.set_xlabel("energy over the run (J, modelled on the device profile)")
    ax.legend(**OUTSIDE)
    ax.grid(True, axis="x", alpha=0.3)


def hold_rule(mode: str) -> str | None:
    """Why the uploader holds items in ``mode`` under the package's power policy, or None when
    the mode lets them go (batching aside)."""
    from wildcam.errors import ConfigError
    from wildcam.power.policy import load_policy

    try:
        rules = load_policy().params_for(mode).get("uploader", {})
    except ConfigError:
        return None
    if rules.get("enabled") is False:
        return f"{mode}: uploads off"
    if rules.get("only_on_charger"):
        return f"{mode}: only on charger"
    return None


def _uploads(run: RunData, ax: Axes) -> None:
    _frame(run, ax)
    xs = [_x(run, u.t_s) for u in run.uploads]
    ax.step(
        xs,
        [u.queue_depth for u in run.uploads],
        where="post",
        color="#ff7f0e",
        label="items waiting in the queue",
    )
    ax.set_ylabel("items waiting")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    most = max((u.queue_depth for u in run.uploads), default=0)
    ax.set_ylim(0, max(1.0, most * 1.3))  # headroom for the hold annotations
    right = ax.twinx()
    right.plot(
        xs, [u.bytes_sent / 1e3 for u in run.uploads], color="#1f77b4", label="sent so far (kB)"
    )
    right.set_ylabel("sent so far (kB)")
    right.set_ylim(bottom=0)
    changes = mode_changes(run)
    for i, state in enumerate(changes):  # where a rule held items, say which
        end = changes[i + 1].t_s if i + 1 < len(changes) else run.duration_s
        rule = hold_rule(state.mode_name)
        waiting = [u.queue_depth for u in run.uploads if state.t_s <= u.t_s <= end]
        if rule is None or not waiting or max(waiting) == 0:
            continue
        ax.axvspan(_x(run, state.t_s), _x(run, end), color="#ff7f0e", alpha=0.08, lw=0)
        ax.annotate(
            f"held: {rule}",
            (_x(run, state.t_s), max(waiting)),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
            va="bottom",
        )
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], **{**OUTSIDE, "bbox_to_anchor": (1.08, 1.0)})
    if not run.uploads:
        ax.text(0.5, 0.5, "no uploader/status messages", transform=ax.transAxes, ha="center")


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "battery.png",
        "Battery and power mode",
        "Look for the black battery line falling at night and rising with the sun, and "
        "the background colour (the power mode) stepping down before the battery runs "
        "low; each numbered dashed line is a mode switch, with its reason in the table "
        "below.",
        _battery,
    ),
    FigureSpec(
        "timeline.png",
        "Visits, motion, detections",
        "Look for each green ground-truth visit to have orange motion and blue "
        "detection marks under it, and for marks where there was no visit (false "
        "alarms); grey is night (infrared), blue is rain.",
        _timeline,
        height=3.5,
    ),
    FigureSpec(
        "energy.png",
        "Energy by stage",
        "Look at which bars are longest: the share of each stage in the run's energy "
        "(board idle included), beside the always-on baseline, which runs the large "
        "model on every frame without the motion gate and keeps this run's capture, "
        "upload and idle energy (it would capture, upload and idle the same).",
        _energy,
        height=4.5,
    ),
    FigureSpec(
        "uploads.png",
        "Upload queue and bytes sent",
        "Look for the orange count of waiting items to fall back to zero as the sent "
        "line rises; where it stays up, the shaded span says which power-mode rule held "
        "the items (for example low_power uploads only on a charger).",
        _uploads,
        height=3.5,
    ),
)
"""Every figure of the report, in page order."""


def draw_figure(run: RunData, spec: FigureSpec) -> Figure:
    """One figure of :data:`FIGURES`, drawn (not saved)."""
    fig = Figure(figsize=(10, spec.height), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    spec.draw(run, ax)
    ax.set_title(spec.title if not ax.get_title() else f"{spec.title} — {ax.get_title()}")
    return fig


def draw_all(run: RunData, out_dir: Path) -> list[Path]:
    """Draw every figure of :data:`FIGURES` into ``out_dir``; return the PNG paths."""
    paths = []
    for spec in FIGURES:
        path = out_dir / spec.name
        draw_figure(run, spec).savefig(path, format="png")
        paths.append(path)
    return paths
