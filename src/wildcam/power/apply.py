"""Bookkeeping of the power manager's parameter pushes: which node still needs the current mode's
parameter set, which call is in flight, retries with backoff, and what to report.

The ROS side (:mod:`wildcam.nodes.power_manager`) does the calls; this decides when. A node is
*absent* until it is seen in the graph, then *pending* until a ``set_parameters`` call succeeds
for every parameter (*ok*); a refused or unanswered call is retried with exponential backoff up
to ``max_attempts`` times (*failed*, with the reasons). A mode change, the node reappearing
(restart) or a verification that finds other values makes it pending again.

A value set by hand (through the parameter service, by anyone but the power manager: a
parameter event with a value the plan never sent) is a *manual override*: it is held in place of
the policy's value through mode and state changes and restarts, until :meth:`ApplyPlan.clear`
releases it; then the node gets the policy's value again.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApplyPlan", "NodeApply", "same_value"]

_SENT_KEPT = 4  # values remembered per parameter: pushes may overtake each other's events


def same_value(a: Any, b: Any) -> bool:
    """Parameter values equal (floats within rounding; an int never equals a bool)."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b)
    return bool(a == b) and type(a) is type(b)


@dataclass
class NodeApply:
    """One node's state."""

    node: str
    desired: dict[str, Any] = field(default_factory=dict)
    state: str = "absent"  # absent | pending | in_flight | ok | failed
    attempts: int = 0
    next_try_s: float = 0.0
    error: str = ""
    applied_count: int = 0
    held: dict[str, Any] = field(default_factory=dict)  # manual overrides: left alone
    sent: dict[str, deque[Any]] = field(default_factory=dict)  # recent values pushed

    def pushed(self) -> dict[str, Any]:
        """What the plan pushes and verifies: the desired values with the manual overrides on
        top (so a node that restarts gets its override back)."""
        return {**self.desired, **self.held}


class ApplyPlan:
    """Per-node apply state for the current mode's parameter sets."""

    def __init__(
        self,
        nodes: tuple[str, ...],
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        backoff_max_s: float = 10.0,
    ) -> None:
        self.nodes = {n: NodeApply(n) for n in nodes}
        self.max_attempts = max_attempts
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s

    def set_mode(self, params: Mapping[str, Mapping[str, Any]], now_s: float) -> None:
        """New desired sets (node -> params); every present node becomes pending."""
        for item in self.nodes.values():
            item.desired = dict(params.get(item.node, {}))
            if item.state != "absent":
                self._pending(item, now_s)

    def _pending(self, item: NodeApply, now_s: float) -> None:
        item.state, item.attempts, item.next_try_s, item.error = "pending", 0, now_s, ""

    def seen(self, node: str, now_s: float) -> None:
        """``node`` appeared in the graph (first start or restart): push its set again."""
        item = self.nodes.get(node)
        if item is not None:
            self._pending(item, now_s)

    def gone(self, node: str) -> None:
        """``node`` left the graph."""
        item = self.nodes.get(node)
        if item is not None:
            item.state = "absent"

    def moved(self, node: str, now_s: float) -> None:
        """A call given up on took effect after all: the node may no longer be where the
        plan thinks; send it its current set again (attempts are kept)."""
        item = self.nodes.get(node)
        if item is not None and item.state in ("in_flight", "ok"):
            item.state, item.next_try_s = "pending", now_s

    def mismatch(self, node: str, now_s: float) -> None:
        """Verification found values other than the desired ones."""
        item = self.nodes.get(node)
        if item is not None and item.state == "ok":
            self._pending(item, now_s)

    def due(
        self,
        now_s: float,
        ready: Callable[[str], bool] = lambda _: True,
    ) -> list[tuple[str, dict[str, Any]]]:
        """The ``(node, params)`` calls to make now; they are marked in flight.

        A node whose parameter service is not ``ready`` yet waits without using an attempt.
        """
        calls = []
        for item in self.nodes.values():
            if item.state == "pending" and now_s >= item.next_try_s and ready(item.node):
                values = item.pushed()
                if not values:
                    item.state = "ok"
                    continue
                item.state = "in_flight"
                item.attempts += 1
                for name, value in values.items():
                    item.sent.setdefault(name, deque(maxlen=_SENT_KEPT)).append(value)
                calls.append((item.node, values))
        return calls

    def verified(
        self, node: str, desired: Mapping[str, Any], reported: Mapping[str, Any], now_s: float
    ) -> bool:
        """A verification read ``reported`` where ``desired`` was pushed: False (and pushed
        again) when a value differs, e.g. after the node restarted."""
        if all(same_value(reported.get(k), v) for k, v in desired.items()):
            return True
        self.mismatch(node, now_s)
        return False

    def changed(self, node: str, name: str, value: Any, managed: bool) -> bool:
        """A parameter event: ``node``'s ``name`` is now ``value``. True when that is a new
        manual override: a parameter the policy sets on the node (``managed``) changed, after the
        node took its first set, to a value the plan did not send and does not want."""
        item = self.nodes.get(node)
        if item is None or not managed or item.applied_count == 0:
            return False  # before the first push: start-up configuration, not an override
        if any(same_value(value, v) for v in item.sent.get(name, ())):
            return False  # the event of one of our pushes
        if name not in item.held and same_value(value, item.desired.get(name, None)):
            return False  # by hand, but what the policy wants anyway
        new = name not in item.held or not same_value(item.held[name], value)
        item.held[name] = value
        return new

    def clear(self, now_s: float, node: str = "", name: str = "") -> list[str]:
        """Release manual overrides (``''``: every node / every parameter); the nodes concerned
        get their current set again. Returns the released ``node.parameter`` names."""
        released = []
        for item in self.nodes.values():
            if node and item.node != node:
                continue
            names = [n for n in item.held if not name or n == name]
            for n in names:
                del item.held[n]
                released.append(f"{item.node}.{n}")
            if names and item.state != "absent":
                self._pending(item, now_s)
        return sorted(released)

    def overrides(self) -> dict[str, Any]:
        """``node.parameter`` -> value of every manual override held now."""
        return {
            f"{item.node}.{k}": v
            for item in self.nodes.values()
            for k, v in sorted(item.held.items())
        }

    def result(self, node: str, now_s: float, refused: Mapping[str, str] | None) -> None:
        """A call finished: ``refused`` maps refused parameters to reasons (None: no answer)."""
        item = self.nodes[node]
        if item.state != "in_flight":
            return  # superseded by a mode change or a restart while in flight
        if refused == {}:
            item.state, item.error = "ok", ""
            item.applied_count += 1
            return
        item.error = (
            "no answer from the parameter service"
            if refused is None
            else "; ".join(f"{k}: {v}" for k, v in sorted(refused.items()))
        )
        if item.attempts >= self.max_attempts:
            item.state = "failed"
            return
        item.state = "pending"
        item.next_try_s = now_s + min(
            self.backoff_max_s, self.backoff_s * 2 ** (item.attempts - 1)
        )

    def report(self) -> dict[str, str]:
        """node -> ``state`` (with the error and attempts when not ok) for diagnostics."""
        out = {}
        for item in self.nodes.values():
            text = item.state
            if item.error:
                text += f" after {item.attempts} attempt(s): {item.error}"
            out[item.node] = text
        return out
