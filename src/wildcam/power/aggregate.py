"""Aggregating the energy reports of every node: joules per hour by stage and by node, average
power (the board's idle power plus what the stages spent), the projected battery life, and the
energy a current sensor measured, to set against the modelled figure."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass

from wildcam.power.energy import StageEnergy

__all__ = [
    "EnergyAggregator",
    "EnergySummary",
    "MeasuredEnergy",
    "modelled_vs_measured",
    "projected_life_h",
]


@dataclass(frozen=True)
class EnergySummary:
    """The rates over the last window (``span_s`` long, up to the aggregator's window)."""

    span_s: float
    j_per_h_by_stage: dict[str, float]
    j_per_h_by_node: dict[str, float]
    idle_w: float
    average_power_w: float
    total_j: float  # stage energy since start (idle not included)

    def as_pairs(self) -> list[tuple[str, str]]:
        """Flat ``(key, value)`` pairs for ``/diagnostics``."""
        pairs = [
            ("average_power_w", f"{self.average_power_w:.4f}"),
            ("idle_w", f"{self.idle_w:.4f}"),
            ("window_s", f"{self.span_s:.0f}"),
            ("stage_total_j", f"{self.total_j:.3f}"),
        ]
        pairs += [
            (f"j_per_h.stage.{k}", f"{v:.3f}") for k, v in sorted(self.j_per_h_by_stage.items())
        ]
        pairs += [
            (f"j_per_h.node.{k}", f"{v:.3f}") for k, v in sorted(self.j_per_h_by_node.items())
        ]
        return pairs


class EnergyAggregator:
    """Keeps the reports of the last ``window_s`` (report time = the end of its period)."""

    def __init__(self, window_s: float = 3600.0) -> None:
        self.window_s = window_s
        self._reports: deque[tuple[float, str, list[StageEnergy]]] = deque()
        self._first_start: float | None = None
        self.total_j = 0.0
        self.total_by_stage: dict[str, float] = defaultdict(float)

    def add(self, t_s: float, node: str, period_s: float, stages: list[StageEnergy]) -> None:
        """One node's report for the period ending at ``t_s``."""
        start = t_s - max(0.0, period_s)
        if self._first_start is None or start < self._first_start:
            self._first_start = start
        self._reports.append((t_s, node, stages))
        for s in stages:
            self.total_j += s.joules
            self.total_by_stage[s.stage] += s.joules

    def summary(self, now_s: float, idle_w: float) -> EnergySummary:
        """Rates over ``min(window, time since the first report began)`` ending at ``now_s``."""
        while self._reports and self._reports[0][0] <= now_s - self.window_s:
            self._reports.popleft()
        first = self._first_start if self._first_start is not None else now_s
        span = max(0.0, min(self.window_s, now_s - first))
        by_stage: dict[str, float] = defaultdict(float)
        by_node: dict[str, float] = defaultdict(float)
        for _, node, stages in self._reports:
            for s in stages:
                by_stage[s.stage] += s.joules
                by_node[node] += s.joules
        per_h = 3600.0 / span if span > 0 else math.nan
        stage_w = sum(by_stage.values()) / span if span > 0 else 0.0
        return EnergySummary(
            span,
            {k: v * per_h for k, v in by_stage.items()},
            {k: v * per_h for k, v in by_node.items()},
            idle_w,
            idle_w + stage_w,
            self.total_j,
        )


def projected_life_h(remaining_wh: float, average_power_w: float) -> float:
    """Hours the remaining energy lasts at the average power (NaN when either is unknown)."""
    if math.isnan(remaining_wh) or math.isnan(average_power_w) or average_power_w <= 0:
        return math.nan
    return remaining_wh / average_power_w


class MeasuredEnergy:
    """Energy measured by a current sensor: the battery readings' voltage x current, integrated.

    ``current`` follows ``sensor_msgs/BatteryState``: negative while discharging, so the power
    drawn is ``-voltage * current``. Each interval is integrated with the trapezoid rule; an
    interval longer than ``max_gap_s`` (readings lost, the board halted) or one with an unknown
    (NaN) end is left out and its length counted in ``gap_s``, never filled in.
    """

    def __init__(self, window_s: float = 3600.0, max_gap_s: float = 60.0) -> None:
        self.window_s, self.max_gap_s = window_s, max_gap_s
        self.drawn_j = 0.0  # discharge energy since start (charging intervals subtract)
        self.net_ah = 0.0  # charge into the battery since start (negative: drawn)
        self.covered_s = 0.0
        self.gap_s = 0.0
        self._last_t: float | None = None
        self._last: tuple[float, float] | None = None  # watts drawn, amperes (None: unknown)
        self._intervals: deque[tuple[float, float, float]] = deque()  # end, seconds, joules

    def add(self, t_s: float, voltage: float, current: float) -> None:
        """One reading at ``t_s`` (node clock); a reading older than the last is ignored."""
        if self._last_t is not None and t_s <= self._last_t:
            return
        sample = (
            None if math.isnan(voltage) or math.isnan(current) else (-voltage * current, current)
        )
        if self._last_t is not None:
            dt = t_s - self._last_t
            if self._last is None or sample is None or dt > self.max_gap_s:
                self.gap_s += dt
            else:
                joules = 0.5 * (self._last[0] + sample[0]) * dt
                self.drawn_j += joules
                self.net_ah += 0.5 * (self._last[1] + sample[1]) * dt / 3600.0
                self.covered_s += dt
                self._intervals.append((t_s, dt, joules))
        self._last_t, self._last = t_s, sample

    def average_power_w(self, now_s: float) -> float:
        """Average power drawn over the intervals of the last window (NaN with none)."""
        while self._intervals and self._intervals[0][0] <= now_s - self.window_s:
            self._intervals.popleft()
        seconds = sum(dt for _, dt, _ in self._intervals)
        return sum(j for _, _, j in self._intervals) / seconds if seconds > 0 else math.nan


def modelled_vs_measured(
    modelled: EnergySummary, measured: MeasuredEnergy, now_s: float
) -> list[tuple[str, str]]:
    """``/diagnostics`` pairs comparing the modelled average power (profile idle + the nodes'
    reported energy) with the measured one; empty while nothing was measured."""
    measured_w = measured.average_power_w(now_s)
    if math.isnan(measured_w):
        return []
    ratio = modelled.average_power_w / measured_w if measured_w > 0 else math.nan
    return [
        ("measured.average_power_w", f"{measured_w:.4f}"),
        ("measured.total_j", f"{measured.drawn_j:.1f}"),
        ("measured.covered_s", f"{measured.covered_s:.0f}"),
        ("measured.gap_s", f"{measured.gap_s:.0f}"),
        ("modelled_over_measured", f"{ratio:.3f}"),
    ]
