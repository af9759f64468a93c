"""The day report's PNG figures, drawn with matplotlib's Agg backend from one RunData.

Each ``draw_*`` function writes one PNG and returns its path; :data:`FIGURES` lists them with the
caption the HTML page shows. The x axis is the simulated time of day (hours) for a compressed
day, else scene seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from wildcam.report.data import RunData  # noqa: E402
from wildcam.report.metrics import STAGES, detected_times, mode_changes  # noqa: E402

__all__ = ["FIGURES", "FigureSpec", "draw_all"]

MODE_COLOURS = {"critical": "#d62728", "low_power": "#ff7f0e", "normal": "#2ca02c",
                "aggressive": "#1f77b4"}
DPI = 100


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
        ax.axvspan(_x(run, start), _x(run, end), color="#20204010", lw=0)
    ax.set_xlabel(_xlabel(run))
    if run.timebase.is_day:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda h, _: f"{int(h) % 24:02d}:"
                                                   f"{int(round(h % 1 * 60)) % 60:02d}"))
    ax.grid(True, alpha=0.3)


def _battery(run: RunData, ax: Axes) -> None:
    _frame(run, ax)
    changes = mode_changes(run)
    for i, state in enumerate(changes):
        end = changes[i + 1].t_s if i + 1 < len(changes) else run.duration_s
        ax.axvspan(_x(run, state.t_s), _x(run, end), alpha=0.15, lw=0,
                   color=MODE_COLOURS.get(state.mode_name, "#7f7f7f"))
    levels = [(b.t_s, b.percentage * 100) for b in run.battery if math.isfinite(b.percentage)]
    if levels:
        ax.plot([_x(run, t) for t, _ in levels], [p for _, p in levels], color="black",
                lw=1.5, label="battery level")
    ax.set_ylim(0, 105)
    ax.set_ylabel("battery (%)")
    for i, state in enumerate(changes):
        x = _x(run, state.t_s)
        ax.axvline(x, color=MODE_COLOURS.get(state.mode_name, "#7f7f7f"), lw=1, ls="--")
        reason = state.reason if len(state.reason) <= 32 else state.reason[:31] + "…"
        ax.annotate(f"{i + 1}: {state.mode_name}\n{reason}", (x, 100 - 12 * (i % 3)),
                    fontsize=7, xytext=(3, 0), textcoords="offset points", va="top")
    lines, labels = ax.get_legend_handles_labels()
    patches = [Patch(color=c, alpha=0.3, label=m) for m, c in MODE_COLOURS.items()]
    ax.legend([*lines, *patches], [*labels, *MODE_COLOURS], loc="lower left", fontsize=8,
              ncol=5)


def _timeline(run: RunData, ax: Axes) -> None:
    _frame(run, ax)
    lanes = ["ground-truth visits", "motion events", "detections", "at the gateway"]
    for start, end in run.rain:
        ax.axvspan(_x(run, start), _x(run, end), color="#1f77b415", lw=0)
    ax.broken_barh([(_x(run, v.start_s), _x(run, v.end_s) - _x(run, v.start_s))
                    for v in run.visits], (3.6, 0.8), color="#2ca02c")
    for v in run.visits:
        ax.annotate(v.species, (_x(run, v.start_s), 4.45), fontsize=7)
    ax.broken_barh([(_x(run, m.start_s), max(_x(run, m.end_s) - _x(run, m.start_s), 1e-3))
                    for m in run.motion], (2.6, 0.8), color="#ff7f0e")
    ax.plot([_x(run, d.t_s) for d in run.detections], [2.0] * len(run.detections), "|",
            color="#1f77b4", ms=12)
    if run.gateway is not None:
        times, _ = detected_times(run)
        ax.plot([_x(run, t) for t in times], [1.0] * len(times), "|", color="#9467bd", ms=12)
    else:
        ax.text(_x(run, 0.0), 1.0, "  no gateway listing", va="center", fontsize=8)
    ax.set_yticks([4.0, 3.0, 2.0, 1.0], lanes)
    ax.set_ylim(0.4, 4.9)


def _energy(run: RunData, ax: Axes) -> None:
    joules = run.joules_by_stage()
    names = list(STAGES) + sorted(set(joules) - set(STAGES))
    base = run.baseline.joules_by_stage if run.baseline is not None else {}
    names += sorted(set(base) - set(names))
    y = list(range(len(names)))
    ax.barh([i + 0.2 for i in y], [joules.get(n, 0.0) for n in names], height=0.4,
            label=f"this run ({sum(joules.values()):.1f} J)", color="#2ca02c")
    if run.baseline is not None:
        ax.barh([i - 0.2 for i in y], [base.get(n, 0.0) for n in names], height=0.4,
                label=f"always-on baseline ({run.baseline.total_j:.1f} J)", color="#7f7f7f")
    else:
        ax.set_title("no always-on baseline available", fontsize=9)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    values = [v for v in [*joules.values(), *base.values()] if v > 0]
    if values and max(values) / min(values) > 100:
        ax.set_xscale("log")
    ax.set_xlabel("energy over the run (J, modelled on the device profile)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)


def _uploads(run: RunData, ax: Axes) -> None:
    _frame(run, ax)
    xs = [_x(run, u.t_s) for u in run.uploads]
    ax.step(xs, [u.queue_depth for u in run.uploads], where="post", color="#ff7f0e",
            label="queue depth (items)")
    ax.set_ylabel("queue depth (items)")
    right = ax.twinx()
    right.plot(xs, [u.bytes_sent / 1e3 for u in run.uploads], color="#1f77b4",
               label="bytes sent (kB, cumulative)")
    right.set_ylabel("sent (kB)")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
    if not run.uploads:
        ax.text(0.5, 0.5, "no uploader/status messages", transform=ax.transAxes, ha="center")


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("battery.png", "Battery and power mode",
               "Battery level over the day; the background colour is the power mode, each "
               "numbered dashed line a switch with its reason (in full in the table below).",
               _battery),
    FigureSpec("timeline.png", "Visits, motion, detections",
               "Ground-truth visits, motion events, frames the cascade decided 'animal' and "
               "items received by the gateway, on one timeline (grey: night/IR, blue: rain).",
               _timeline, height=3.5),
    FigureSpec("energy.png", "Energy by stage",
               "Energy each stage reported over the run, beside the always-on baseline (the "
               "large model on every frame, no motion gate).", _energy, height=4.5),
    FigureSpec("uploads.png", "Upload queue and bytes sent",
               "The uploader's queue depth and the bytes it has sent.", _uploads, height=3.5),
)
"""Every figure of the report, in page order."""


def draw_all(run: RunData, out_dir: Path) -> list[Path]:
    """Draw every figure of :data:`FIGURES` into ``out_dir``; return the PNG paths."""
    paths = []
    for spec in FIGURES:
        fig = Figure(figsize=(10, spec.height), dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        spec.draw(run, ax)
        ax.set_title(spec.title if not ax.get_title() else f"{spec.title} — {ax.get_title()}")
        path = out_dir / spec.name
        fig.savefig(path, format="png")
        paths.append(path)
    return paths
