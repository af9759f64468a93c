"""The power manager's calls to other nodes without ROS: which nodes are in the graph, the one
call in flight per node and its timeout, and what an answer says.

One :class:`PlanCalls` per :class:`~wildcam.power.apply.ApplyPlan` (parameter sets, lifecycle
goals): a node that appears gets its set again, one that leaves waits, a call unanswered within
the timeout counts as no answer (the plan retries it), and an answer to a call that timed out or
was superseded is ignored. Times are the monotonic wall clock.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from wildcam.power.apply import ApplyPlan

__all__ = ["PlanCalls", "own_node", "refused_of"]


class PlanCalls:
    """The calls of one plan: the nodes seen in the graph and the call in flight per node."""

    def __init__(self, plan: ApplyPlan) -> None:
        self.plan = plan
        self.present: set[str] = set()
        self.in_flight: dict[str, tuple[int, float]] = {}  # node -> (token, started)
        self._tokens = itertools.count()

    def watch(self, names: Iterable[str], wall_s: float) -> None:
        """The graph's node names now: tell the plan who appeared and who left."""
        now = set(names) & set(self.plan.nodes)
        for node in now - self.present:
            self.plan.seen(node, wall_s)
        for node in self.present - now:
            self.plan.gone(node)
        self.present = now

    def expire(self, wall_s: float, timeout_s: float) -> list[str]:
        """Give up on calls older than ``timeout_s`` (the plan retries them); their nodes."""
        late = [n for n, (_, started) in self.in_flight.items() if wall_s - started > timeout_s]
        for node in late:
            del self.in_flight[node]
            self.plan.result(node, wall_s, None)
        return late

    def idle(self, node: str) -> bool:
        """No call to ``node`` is in flight: the next may go out. A new goal waits for the
        answer to the call before it, so an old answer (a deactivation) cannot land after the
        new goal (an activation) and undo it."""
        return node not in self.in_flight

    def start(self, node: str, wall_s: float) -> int:
        """A call to ``node`` goes out: its token."""
        token = next(self._tokens)
        self.in_flight[node] = (token, wall_s)
        return token

    def finish(self, node: str, token: int) -> bool:
        """The answer to call ``token`` came: True when it is still the one in flight."""
        if self.in_flight.get(node, (None,))[0] != token:
            return False  # timed out already, or superseded
        del self.in_flight[node]
        return True


def refused_of(
    names: Sequence[str], results: Sequence[tuple[bool, str]] | None
) -> dict[str, str] | None:
    """Parameter name -> reason of each refused set in a ``SetParameters`` answer given as
    ``(successful, reason)`` pairs; None for no answer."""
    if results is None:
        return None
    return {
        name: reason or "refused"
        for name, (ok, reason) in zip(names, results, strict=False)
        if not ok
    }


def own_node(event_node: str, namespace: str) -> str | None:
    """The node name of a ``/parameter_events`` message's fully qualified ``event_node`` when it
    is in ``namespace`` (the power manager's own), else None."""
    node = event_node.rsplit("/", 1)[-1]
    return node if event_node == f"{namespace.rstrip('/')}/{node}" else None
