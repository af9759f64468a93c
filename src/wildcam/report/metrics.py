"""The day report's numbers, all computed from one :class:`~wildcam.report.data.RunData`.

* **event recall**: share of ground-truth visits with at least one detection inside the visit
  (``slack_s`` of tolerance at both ends) — detections *received by the gateway* when the run
  has a gateway listing, else the cascade's detections in the bag; "n/a" without ground truth
  or without visits (nothing to recall);
* **per visit**: the share of the visit inside motion events (*coverage*: how much of it the
  cascade could see at all) and the time from the visit's start to its first detection;
* **false uploads**: items at the gateway whose frame lies in no visit (same tolerance);
* **joules per detected visit**: all the energy the nodes reported, over the visits recalled;
* **battery life**: the lifetime model's answer (:func:`wildcam.power.lifetime.run_battery_line`)
  for the run's power profile and a Li-ion battery of the run's capacity (``power/battery``),
  17 events a day, nocturnal, the PIR-wake policy, without and with a 10 W panel;
* ``projected_battery_days`` (kept for ``bench/energy.py``, no longer printed): capacity over
  idle power plus the processing energy per day, the run's energy per scene second x 86400.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from wildcam.evaluation import score_events
from wildcam.power.energy import STAGES
from wildcam.report.data import Baseline, ModeSwitch, RunData, TruthVisit
from wildcam.report.states import StateSummary, summarize_states
from wildcam.types import DAY_S

__all__ = [
    "PROCESSING_STAGES",
    "STAGES",
    "Summary",
    "VisitScore",
    "detected_times",
    "estimate_baseline",
    "mode_changes",
    "recalled",
    "summarize",
    "visit_scores",
]

PROCESSING_STAGES = frozenset({"motion", "cascade_stage1", "cascade_stage2", "encode"})
"""Work the always-on baseline does not do (it runs the large model on every frame instead)."""

ANALYSIS_STAGES = frozenset({"motion", "cascade_stage1", "cascade_stage2", "cascade_stage3"})
"""Deciding whether an animal is there: what the baseline does with stage 3 on every frame."""

NOMINAL_VOLTAGE = 3.7


@dataclass(frozen=True)
class VisitScore:
    """One ground-truth visit: how much of it motion events covered, when it was first detected."""

    start_s: float
    end_s: float
    species: str
    coverage: float  # share of the visit inside motion events, 0..1
    first_detection_s: float | None  # after the visit's start (None: never detected)


def _median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, dtype=np.float64)))


@dataclass(frozen=True)
class Summary:
    """The report's table (and the run's printed summary)."""

    has_truth: bool
    visits: int
    visits_detected: int
    detected_source: str  # "gateway" or "detections"
    motion_events: int
    motion_visits_recalled: int
    false_motion_events: int
    detections: int
    gateway_items: int | None
    false_uploads: int | None
    false_upload_bytes: int | None
    total_j: float
    joules_per_detected_visit: float | None
    simulated_h: float
    joules_per_day: float | None
    battery_capacity_j: float | None
    projected_battery_days: float | None
    projection_basis: str
    baseline_total_j: float | None
    baseline_battery_days: float | None
    analysis_ratio: float | None  # baseline stage 3 / (motion gate + cascade) of the run
    mode_switches: int
    lifetime: str = ""  # the lifetime model's battery line for the run's profile and battery
    visit_scores: tuple[VisitScore, ...] = ()
    states: StateSummary | None = None  # device states, when the run recorded them

    @property
    def event_recall(self) -> float | None:
        """Share of visits detected (None without ground truth or without visits)."""
        return self.visits_detected / self.visits if self.has_truth and self.visits else None

    def to_dict(self) -> dict[str, Any]:
        """Every field and derived score, for ``summary.json``."""
        data = asdict(self)
        data.update(event_recall=self.event_recall, energy_ratio=self.energy_ratio)
        return {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in data.items()
        }  # strict JSON: no NaN or Infinity

    def _visit_rows(self) -> list[tuple[str, str]]:
        scores = self.visit_scores
        if not scores:
            return []
        cover = [v.coverage for v in scores]
        delays = [v.first_detection_s for v in scores if v.first_detection_s is not None]
        missed = len(scores) - len(delays)
        first = (
            f"median {_median(delays):.1f} s after the visit starts (max {max(delays):.1f} s)"
            if delays
            else "no visit was detected"
        )
        if missed and delays:
            first += f"; {missed} visit{'' if missed == 1 else 's'} never detected"
        return [
            (
                "visit coverage by motion events",
                f"median {_median(cover):.0%} of each visit "
                f"inside motion events (lowest {min(cover):.0%})",
            ),
            ("time to first detection", first),
        ]

    @property
    def energy_ratio(self) -> float | None:
        """How many times less energy than the always-on baseline."""
        if self.baseline_total_j is None or self.total_j <= 0:
            return None
        return self.baseline_total_j / self.total_j

    def rows(self) -> list[tuple[str, str]]:
        """(metric, value) pairs of the table, formatted."""

        def num(v: float | None, fmt: str, unit: str = "") -> str:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return "n/a"
            return "∞" if math.isinf(v) else f"{v:{fmt}}{unit}"

        via = "at the gateway" if self.detected_source == "gateway" else "by the cascade"
        if not self.has_truth:
            recall = "n/a (no ground truth)"
        elif not self.visits:
            recall = "n/a (no animal visits in the ground truth)"
        else:
            recall = (
                f"{num(self.event_recall, '.2f')} ({self.visits_detected}/{self.visits} "
                f"visits detected {via})"
            )
        rows = [
            ("event recall", recall),
            (
                "motion events",
                f"{self.motion_events} ({self.motion_visits_recalled}/"
                f"{self.visits} visits covered, {self.false_motion_events} "
                f"with no animal)",
            ),
            *self._visit_rows(),
            (
                "detections (frames decided animal)",
                f"{self.detections} (decided per motion "
                "event: a frame may score below the threshold alone)",
            ),
            (
                "items at the gateway",
                "n/a" if self.gateway_items is None else str(self.gateway_items),
            ),
            (
                "false uploads",
                "n/a"
                if self.false_uploads is None
                else f"{self.false_uploads} ({self.false_upload_bytes or 0} bytes)",
            ),
            ("joules per detected visit", num(self.joules_per_detected_visit, ".1f", " J")),
            (
                "processing energy",
                f"{self.total_j:.1f} J over {self.simulated_h:.2f} "
                f"simulated h ({num(self.joules_per_day, '.0f', ' J')} per "
                "real day at the scene's frame rate)",
            ),
            ("battery life (lifetime model)", self.lifetime or "n/a"),
            (
                "always-on baseline",
                "n/a"
                if self.baseline_total_j is None
                else f"{self.baseline_total_j:.1f} J; battery "
                f"{num(self.baseline_battery_days, '.2f', ' days')}; "
                f"{num(self.energy_ratio, '.1f', '×')} the run's energy, "
                f"{num(self.analysis_ratio, '.0f', '×')} its analysis (motion gate + cascade)",
            ),
            ("mode switches", str(self.mode_switches)),
        ]
        return rows + (self.states.rows() if self.states is not None else [])


def mode_changes(run: RunData) -> list[ModeSwitch]:
    """The first ``power/state`` and every later one that entered a different mode."""
    changes: list[ModeSwitch] = []
    for state in run.modes:
        if not changes or state.mode != changes[-1].mode:
            changes.append(state)
    return changes


def detected_times(run: RunData) -> tuple[list[float], str]:
    """Scene times of what counts as detected: gateway items if listed, else detections."""
    if run.gateway is not None:
        return [i.t_s for i in run.gateway if i.t_s is not None], "gateway"
    return [d.t_s for d in run.detections], "detections"


def _inside(t: float, visits: Sequence[TruthVisit], slack_s: float) -> bool:
    return any(v.start_s - slack_s <= t <= v.end_s + slack_s for v in visits)


def recalled(
    visits: Sequence[TruthVisit], times: Sequence[float], slack_s: float = 1.0
) -> list[TruthVisit]:
    """The visits with at least one of ``times`` inside (with ``slack_s`` at both ends)."""
    ordered = np.sort(np.asarray(times, dtype=np.float64))
    found = []
    for v in visits:
        i = int(np.searchsorted(ordered, v.start_s - slack_s))
        if i < len(ordered) and ordered[i] <= v.end_s + slack_s:
            found.append(v)
    return found


def estimate_baseline(
    run: RunData, stage3_j_per_call: float | None = None, measured_on: str = ""
) -> Baseline | None:
    """Always-on: the large model (stage 3) on every captured frame, no motion gate.

    Capture, upload and any non-pipeline stage (idle) cost what they cost in the run; stage 3
    costs ``stage3_j_per_call`` (measured on whole frames, ``measured_on`` says how) on each of
    the run's frames, else the run's own joules per stage-3 call. None when neither is known.
    """
    joules, counts = run.joules_by_stage(), run.stage_counts()
    if run.frames <= 0:
        return None
    if stage3_j_per_call is None:
        calls = counts.get("cascade_stage3", 0)
        if calls <= 0:
            return None
        stage3_j_per_call = joules.get("cascade_stage3", 0.0) / calls
        measured_on = "measured in this run's stage-3 calls"
    stages = {k: v for k, v in joules.items() if k not in PROCESSING_STAGES}
    stages["cascade_stage3"] = stage3_j_per_call * run.frames
    return Baseline(
        f"always-on: the stage-3 model on all {run.frames} frames "
        f"({stage3_j_per_call:.3f} J per call, {measured_on}), no motion gate",
        stages,
    )


def _capacity_j(run: RunData) -> float | None:
    caps = [b for b in run.battery if math.isfinite(b.capacity_ah) and b.capacity_ah > 0]
    if not caps:
        return None
    volts = [b.voltage for b in caps if math.isfinite(b.voltage) and b.voltage > 0]
    voltage = float(np.median(volts)) if volts else NOMINAL_VOLTAGE
    return caps[-1].capacity_ah * 3600.0 * voltage


def _analysis_ratio(run: RunData) -> float | None:
    """The baseline's large model on every frame over the run's motion gate + cascade."""
    analysis = sum(j for stage, j in run.joules_by_stage().items() if stage in ANALYSIS_STAGES)
    if run.baseline is None or analysis <= 0:
        return None
    return run.baseline.joules_by_stage.get("cascade_stage3", 0.0) / analysis


def _per_day(run: RunData, joules: float) -> float | None:
    """``joules`` spent over the run, per real day at the scene's frame rate.

    A compressed day shows every frame of its scene once; a camera at that rate all day would
    see ``time_scale`` times as many, so a run's energy per *scene* second is the real rate.
    """
    return joules * DAY_S / run.duration_s if run.duration_s > 0 else None


def _covered_s(start: float, end: float, spans: Sequence[tuple[float, float]]) -> float:
    """Seconds of ``[start, end]`` inside the union of ``spans``."""
    covered, reach = 0.0, start
    for a, b in sorted(spans):
        a, b = max(a, reach), min(b, end)
        if b > a:
            covered += b - a
            reach = b
    return covered


def visit_scores(
    visits: Sequence[TruthVisit],
    spans: Sequence[tuple[float, float]],
    times: Sequence[float],
    slack_s: float = 1.0,
) -> tuple[VisitScore, ...]:
    """Coverage by the motion ``spans`` and delay to the first of ``times`` of each visit
    (a detection up to ``slack_s`` early counts as at the start)."""
    scores = []
    for v in visits:
        length = v.end_s - v.start_s
        inside = [t for t in times if v.start_s - slack_s <= t <= v.end_s + slack_s]
        scores.append(
            VisitScore(
                v.start_s,
                v.end_s,
                v.species,
                _covered_s(v.start_s, v.end_s, spans) / length if length > 0 else 0.0,
                max(0.0, min(inside) - v.start_s) if inside else None,
            )
        )
    return tuple(scores)


def summarize(run: RunData, slack_s: float = 1.0) -> Summary:
    """The summary of ``run``."""
    times, source = detected_times(run)
    found = recalled(run.visits, times, slack_s)
    spans = [(m.start_s, m.end_s) for m in run.motion]
    motion = score_events(spans, [(v.start_s, v.end_s) for v in run.visits], slack_s)
    false_items = (
        None
        if run.gateway is None or not run.has_truth
        else [
            i for i in run.gateway if i.t_s is not None and not _inside(i.t_s, run.visits, slack_s)
        ]
    )
    total = float(sum(run.joules_by_stage().values()))
    simulated_s = run.timebase.simulated_s(run.duration_s)
    per_day = _per_day(run, total)
    capacity = _capacity_j(run)
    baseline_total = run.baseline.total_j if run.baseline is not None else None
    projected = base_days = None
    states = summarize_states(run, found)
    board_w, board = run.idle_w or 0.0, "idle"
    if states is not None:  # the board's power by device state, as the run spent its time
        board_w, board = states.average_w, "board by device state"
    if capacity is None:
        basis = "no battery capacity in power/battery"
    else:
        idle = board_w * DAY_S
        basis = f"{capacity / 3600:.1f} Wh, no charging, {board_w:.2f} W {board} + the processing"
        if per_day is not None and idle + per_day > 0:
            projected = capacity / (idle + per_day)
            base_per_day = _per_day(run, baseline_total) if baseline_total else None
            if base_per_day is not None:
                base_days = capacity / (idle + base_per_day)
    return Summary(
        has_truth=run.has_truth,
        visits=len(run.visits),
        visits_detected=len(found),
        detected_source=source,
        motion_events=len(run.motion),
        motion_visits_recalled=motion.recalled,
        false_motion_events=motion.false_events,
        detections=len(run.detections),
        gateway_items=None if run.gateway is None else len(run.gateway),
        false_uploads=None if false_items is None else len(false_items),
        false_upload_bytes=None if false_items is None else sum(i.size for i in false_items),
        total_j=total,
        joules_per_detected_visit=total / len(found) if found else None,
        simulated_h=simulated_s / 3600.0,
        joules_per_day=per_day,
        battery_capacity_j=capacity,
        projected_battery_days=projected,
        projection_basis=basis,
        baseline_total_j=baseline_total,
        baseline_battery_days=base_days,
        analysis_ratio=_analysis_ratio(run),
        mode_switches=len(mode_changes(run)) - 1 if run.modes else 0,
        visit_scores=visit_scores(run.visits, spans, times, slack_s),
        lifetime=_lifetime(run, capacity),
        states=states,
    )


def _lifetime(run: RunData, capacity_j: float | None) -> str:
    """The battery line from :mod:`wildcam.power.lifetime` for the run's power profile."""
    from wildcam.power.lifetime import run_battery_line

    profiles = Counter(e.profile for e in run.energy if e.profile)
    return run_battery_line(profiles.most_common(1)[0][0] if profiles else None, capacity_j)
