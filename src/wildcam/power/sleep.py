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
from dataclasses import dataclass

from wildcam.power.apply import ApplyPlan
from wildcam.power.states import StateDecision

__all__ = ["SleepDue", "SleepGate"]


@dataclass(frozen=True)
class SleepDue:
    """A sleep to run now; ``late`` names the nodes that had not answered by the deadline."""

    state: StateDecision
    late: tuple[str, ...] = ()


class SleepGate:
    """The sleep waiting for the deactivation of the managed nodes."""

    def __init__(self) -> None:
        self.pending: StateDecision | None = None
        self.wait_s, self.deadline_s = 0.0, math.inf

    def enter(self, state: StateDecision, wall_s: float, wait_s: float) -> None:
        """The device state became sleep: its command waits for the deactivation."""
        self.pending, self.wait_s, self.deadline_s = state, wait_s, wall_s + wait_s

    def cancel(self) -> bool:
        """The device left sleep: True when a sleep was still waiting (it will not run)."""
        waiting, self.pending = self.pending is not None, None
        return waiting

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
        due, self.pending = SleepDue(self.pending, waiting), None
        return due
