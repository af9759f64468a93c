"""When the power manager may run its sleep command: after the managed (lifecycle) nodes answered
their deactivation, or after a bounded wait.

Entering sleep sends the camera its ``inactive`` goal through ``change_state``; the halt must
not cut the camera off in the middle of a capture or leave its device held, so
:class:`SleepGate` holds the sleep back until every managed node present in the graph has taken
that goal (a node not in the graph has nothing to deactivate), and at most ``wait_s`` wall
seconds: a hung camera must not keep the trap awake. Leaving sleep before the command ran
cancels it (the nodes get their ``active`` goal again through the same plan). Times are the
monotonic wall clock, as the plan's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from wildcam.power.apply import ApplyPlan
from wildcam.power.states import StateDecision
from wildcam.power.wake.rtc import SimulatedRtc, SysfsRtc

__all__ = ["SleepDue", "SleepGate", "sleep_now"]


@dataclass(frozen=True)
class SleepDue:
    """A sleep to run now; ``late`` names the nodes that had not answered by the deadline."""

    state: StateDecision
    late: tuple[str, ...] = ()
    wait_s: float = 0.0

    def problem(self) -> str:
        """What to report when a node held the sleep up to the deadline ('' when none did)."""
        if not self.late:
            return ""
        return (
            f"{', '.join(self.late)} did not answer its deactivation within {self.wait_s:g} s: "
            "sleeping anyway"
        )


class SleepGate:
    """The sleep waiting for the deactivation of the managed nodes."""

    def __init__(self) -> None:
        self.pending: StateDecision | None = None
        self.wait_s, self.deadline_s = 0.0, math.inf

    def enter(self, state: StateDecision, wall_s: float, wait_s: float) -> None:
        """The device state became sleep: its command waits for the deactivation."""
        self.pending, self.wait_s, self.deadline_s = state, wait_s, wall_s + wait_s

    def status(self) -> str:
        """The sleep command's state, for the diagnostics."""
        if self.pending is None:
            return "none: awake"
        return f"waiting for the managed nodes to deactivate (up to {self.wait_s:g} s)"

    def cancel(self) -> None:
        """The device left sleep: a sleep still waiting will not run."""
        self.pending = None

    def waiting_for(self, lifecycle: ApplyPlan) -> tuple[str, ...]:
        """The managed nodes in the graph that have not taken their sleep goal yet."""
        return tuple(
            item.node
            for item in lifecycle.nodes.values()
            if item.state != "absent"
            and (item.state != "ok" or item.desired.get("lifecycle") != "inactive")
        )

    def due(self, lifecycle: ApplyPlan, wall_s: float) -> SleepDue | None:
        """The sleep to run now (once: it is no longer pending), or None."""
        if self.pending is None:
            return None
        waiting = self.waiting_for(lifecycle)
        if waiting and wall_s < self.deadline_s:
            return None
        due, self.pending = SleepDue(self.pending, waiting, self.wait_s), None
        return due


def sleep_now(rtc: SysfsRtc | SimulatedRtc, state: StateDecision, save: Callable[[], None]) -> str:
    """Arm the RTC alarm for the policy's wake time, ``save`` (the halt may come at once: the
    state must be on disk first) and halt (simulated: record it); the sleep command also gets how
    long a power controller may hold PIR bursts. What to report; a WildcamError when it cannot."""
    batch_s = state.batch_s or 0.0
    rtc.arm(state.wake_at_s)
    save()
    rtc.sleep(batch_s=batch_s)
    return f"sleeping until {state.wake_at_s}, bursts held up to {batch_s:.0f} s"
