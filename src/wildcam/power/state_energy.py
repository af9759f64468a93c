"""Time and energy by device state: the board's power in each state (``PowerProfile.states``)
integrated over the node clock, plus the cost of each transition (a boot or resume on leaving
sleep, a shutdown on entering a halt).

This is the modelled device energy the stage reports leave out: the board up and idle (warm and
watch), halted or suspended (sleep). The stage reports (CPU, captured frames, radio) come on top
of it; the streaming camera is charged per captured frame in the ``capture`` stage, so it is
not added here again (the camera is counted once, see :mod:`wildcam.power.profile`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from wildcam.power.profile import PowerStates
from wildcam.power.states import DEVICE_STATES

__all__ = ["StateCosts", "StateLedger", "state_costs"]


@dataclass(frozen=True)
class StateCosts:
    """Watts in each state and joules of entering / leaving sleep."""

    power_w: Mapping[str, float]
    enter_sleep_j: float = 0.0
    leave_sleep_j: float = 0.0

    def watts(self, state: str) -> float:
        """Device power in ``state`` (NaN for an unknown state)."""
        return float(self.power_w.get(state, math.nan))


def state_costs(states: PowerStates) -> StateCosts:
    """The costs of a profile's power states.

    warm and watch: the board up and idle (the camera: per frame, in the capture stage; closed
    in watch); sleep: suspend or off power by the platform's ``sleep_kind``. Leaving sleep costs
    a resume or a boot, entering a halt or a power cut costs a shutdown.
    """
    suspend_w = states.suspend_w if states.sleep_kind == "suspend" else None
    suspend = suspend_w is not None
    return StateCosts(
        power_w={
            "warm": states.idle_w,
            "watch": states.idle_w,
            "sleep": suspend_w if suspend_w is not None else states.off_w,
        },
        enter_sleep_j=0.0 if suspend else states.shutdown_j,
        leave_sleep_j=states.resume_j if suspend else states.boot_j,
    )


@dataclass
class StateLedger:
    """Seconds and joules per state since start (or since the values it was resumed with)."""

    costs: StateCosts
    state: str
    since_s: float
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DEVICE_STATES, 0.0))
    joules: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DEVICE_STATES, 0.0))
    transitions_j: float = 0.0
    wakes: int = 0

    def advance(self, now_s: float, state: str | None = None) -> None:
        """Count the time up to ``now_s`` in the current state; then switch to ``state``."""
        dt = max(0.0, now_s - self.since_s)
        self.seconds[self.state] = self.seconds.get(self.state, 0.0) + dt
        self.joules[self.state] = self.joules.get(self.state, 0.0) + dt * self.costs.watts(
            self.state
        )
        self.since_s = max(self.since_s, now_s)
        if state is not None and state != self.state:
            if state == "sleep":
                self.transitions_j += self.costs.enter_sleep_j
            elif self.state == "sleep":
                self.transitions_j += self.costs.leave_sleep_j
                self.wakes += 1
            self.state = state

    def average_w(self) -> float:
        """Average device power so far (transitions included); NaN before any time passed."""
        seconds = sum(self.seconds.values())
        return self.total_j / seconds if seconds > 0 else math.nan

    @property
    def total_j(self) -> float:
        """Energy of every state and transition so far."""
        return sum(self.joules.values()) + self.transitions_j

    def as_pairs(self) -> list[tuple[str, str]]:
        """Key/value pairs for the energy summary."""
        pairs = [(f"state_s.{s}", f"{self.seconds.get(s, 0.0):.1f}") for s in DEVICE_STATES]
        pairs += [(f"state_j.{s}", f"{self.joules.get(s, 0.0):.1f}") for s in DEVICE_STATES]
        pairs += [
            ("state_j.transitions", f"{self.transitions_j:.1f}"),
            ("state_wakes", str(self.wakes)),
            ("device_state", self.state),
        ]
        return pairs
