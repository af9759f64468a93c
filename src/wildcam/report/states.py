"""The device states of a run: time in warm / watch / sleep, the board's energy in each (the power
manager's own ledger, :class:`~wildcam.power.state_energy.StateLedger`, replayed over the
recorded ``power/state`` messages under the run's profile), and why the visits that were not
detected were missed: asleep, in watch with no trigger, or waking too late.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from wildcam.errors import WildcamError
from wildcam.power.profile import load_profile
from wildcam.power.state_energy import StateLedger, state_costs
from wildcam.power.states import DEVICE_STATES
from wildcam.report.data import ModeSwitch, RunData, TruthVisit

__all__ = ["StateSummary", "state_changes", "state_spans", "summarize_states"]


@dataclass(frozen=True)
class StateSummary:
    """Simulated hours and board joules per state, transitions, and the missed visits."""

    hours: dict[str, float]
    joules: dict[str, float]
    transitions_j: float
    wakes: int
    average_w: float
    missed: dict[str, int] = field(default_factory=dict)  # why -> visits

    def rows(self) -> list[tuple[str, str]]:
        """(metric, value) pairs for the summary table."""
        hours = ", ".join(f"{s} {self.hours.get(s, 0.0):.1f} h" for s in reversed(DEVICE_STATES))
        joules = ", ".join(
            f"{s} {self.joules.get(s, 0.0) / 1000:.1f} kJ" for s in reversed(DEVICE_STATES)
        )
        missed = ", ".join(f"{n} {why}" for why, n in sorted(self.missed.items())) or "none"
        return [
            ("device states", f"{hours}; {self.wakes} wake(s) from sleep"),
            (
                "board energy by state",
                f"{joules}, boots/shutdowns "
                f"{self.transitions_j / 1000:.2f} kJ (modelled; average {self.average_w:.2f} W)",
            ),
            ("visits missed by state", missed),
        ]


def state_changes(run: RunData) -> list[ModeSwitch]:
    """The ``power/state`` messages that entered a new device state."""
    changes: list[ModeSwitch] = []
    for msg in run.modes:
        if msg.device_state and (not changes or msg.device_state != changes[-1].device_state):
            changes.append(msg)
    return changes


def state_spans(run: RunData) -> list[tuple[str, float, float]]:
    """``(state, start, end)`` in scene seconds, from the recorded ``power/state`` messages."""
    changes = state_changes(run)
    ends = [c.t_s for c in changes[1:]] + [run.duration_s] if changes else []
    return [(c.device_state, c.t_s, end) for c, end in zip(changes, ends, strict=True)]


def _state_at(spans: Sequence[tuple[str, float, float]], t: float) -> str:
    for state, start, end in spans:
        if start <= t < end:
            return state
    return spans[-1][0] if spans and t >= spans[-1][2] else (spans[0][0] if spans else "")


def _why(visit: TruthVisit, spans: Sequence[tuple[str, float, float]]) -> str:
    state = _state_at(spans, visit.start_s)
    woke = any(s == "warm" and visit.start_s < start < visit.end_s for s, start, _ in spans)
    if state == "sleep":
        return "asleep"
    if state == "watch":
        return "waking (warm too late)" if woke else "in watch, no trigger"
    return f"while {state}"


def summarize_states(run: RunData, detected: Sequence[TruthVisit]) -> StateSummary | None:
    """The run's device states (None when it recorded none, or its profile is unknown)."""
    spans = state_spans(run)
    if not spans:
        return None
    try:
        costs = state_costs(load_profile(run.profile or "rpi4b").states)
    except WildcamError:
        return None
    sim = run.timebase.simulated_s
    ledger = StateLedger(costs, spans[0][0], sim(spans[0][1]))
    for state, start, _ in spans[1:]:
        ledger.advance(sim(start), state)
    ledger.advance(sim(run.duration_s))
    missed = Counter(_why(v, spans) for v in run.visits if v not in detected)
    average = ledger.average_w()
    return StateSummary(
        {s: v / 3600.0 for s, v in ledger.seconds.items()},
        dict(ledger.joules),
        ledger.transitions_j,
        ledger.wakes,
        average if not math.isnan(average) else 0.0,
        dict(missed),
    )
