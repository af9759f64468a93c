"""The report's figures checked as drawn: legends off the data, tick values, series present,
the hold rule annotated, and a plain sentence under each (matplotlib objects, no pixels)."""

from __future__ import annotations

import dataclasses

import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from report_helpers import SCENE, KnownRun  # type: ignore[import-not-found]

from wildcam.report import FIGURES, RunData, load_run
from wildcam.report.data import ModeSwitch
from wildcam.report.figures import draw_figure, energy_series, hold_rule


@pytest.fixture(scope="module")
def run(known_run: KnownRun) -> RunData:
    return load_run(known_run.bag, SCENE, gateway=known_run.gateway, baseline=None, fps=None)


def _drawn(run: RunData, name: str) -> tuple[Figure, Axes]:
    spec = next(s for s in FIGURES if s.name == name)
    fig = draw_figure(run, spec)
    FigureCanvasAgg(fig).draw()  # lay out, so extents are final
    return fig, fig.axes[0]


def _legend_outside(fig: Figure, ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    box, area = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= area.x1, (box, area)  # entirely right of the plotting area
    assert box.x1 <= fig.bbox.x1 + 1  # and still inside the picture
    return [t.get_text() for t in legend.get_texts()]


def _visible_ticks(ax: Axes, axis: str = "x") -> list[float]:
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
    return [float(t) for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]


def test_battery_figure_legend_names_modes_and_night_off_the_data(run: RunData) -> None:
    late = ModeSwitch(run.duration_s * 0.97, 1, "low_power", "battery 35%", 0.35, False, False)
    run = dataclasses.replace(run, modes=(*run.modes, late))  # a switch at the right edge
    fig, ax = _drawn(run, "battery.png")
    labels = _legend_outside(fig, ax)
    assert "battery level" in labels and "night (infrared)" in labels
    assert {"mode: normal", "mode: low_power"} <= set(labels)
    ticks = _visible_ticks(ax)
    assert ticks and all(t % 6 == 0 for t in ticks), ticks  # 6-hourly time ticks
    area = ax.get_window_extent()
    notes = [t for t in ax.texts if t.get_text()[:1].isdigit()]  # "1: normal ..." switches
    assert len(notes) == 4
    for note in notes:  # inside the plotting area, off the legend
        box = note.get_window_extent()
        assert area.x0 - 1 <= box.x0 and box.x1 <= area.x1 + 1, note.get_text()
    assert [t.get_text() for t in ax.get_xticklabels()][:1] and all(
        label.get_text().endswith(":00") for label in ax.get_xticklabels() if label.get_text()
    )


def test_energy_figure_is_linear_with_idle_shares_and_the_baseline(run: RunData) -> None:
    fig, ax = _drawn(run, "energy.png")
    assert ax.get_xscale() == "linear"
    stages = [t.get_text() for t in ax.get_yticklabels()]
    assert stages[0] == "board idle" and "capture" in stages
    joules, base = energy_series(run)
    assert run.idle_w is not None and joules["board idle"] == pytest.approx(
        run.idle_w * run.duration_s
    )
    assert base is not None and base["board idle"] == joules["board idle"]
    labels = _legend_outside(fig, ax)
    assert [label.split(":")[0] for label in labels] == ["this run", "always-on baseline"]
    shares = [t.get_text() for t in ax.texts if t.get_text()]
    idle_share = joules["board idle"] / sum(joules.values())
    assert f"{joules['board idle']:.1f} J ({idle_share:.0%})" in shares
    assert len(ax.containers) == 2  # both series drawn


def test_upload_figure_counts_in_integers_and_says_which_rule_held_items(run: RunData) -> None:
    fig, ax = _drawn(run, "uploads.png")
    counts = _visible_ticks(ax, "y")
    assert counts and all(t == int(t) for t in counts), counts
    labels = _legend_outside(fig, ax)
    assert "items waiting in the queue" in labels and "sent so far (kB)" in labels
    held = [t.get_text() for t in ax.texts if t.get_text().startswith("held:")]
    assert held == [f"held: {hold_rule('low_power')}"]  # the known run's low_power spell
    assert hold_rule("low_power") == "low_power: only on charger"
    assert hold_rule("critical") == "critical: uploads off" and hold_rule("normal") is None
    assert all(t % 6 == 0 for t in _visible_ticks(ax))


def test_every_figure_has_one_plain_sentence_saying_what_to_look_for() -> None:
    for spec in FIGURES:
        assert spec.caption.startswith("Look ") and spec.caption.endswith(".")
        assert spec.caption.count(". ") == 0, spec.caption  # one sentence
