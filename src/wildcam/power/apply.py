"""Bookkeeping of the power manager's parameter pushes: which node still needs the current mode's
parameter set, which call is in flight, retries with backoff, and what to report.

The ROS side (:mod:`wildcam.nodes.power_manager`) does the calls; this decides when. A node is
*absent* until it is seen in the graph, then *pending* until a ``set_parameters`` call succeeds
for every parameter (*ok*); a refused or unanswered call is retried with exponential backoff up
to ``max_attempts`` times (*failed*, with the reasons). A mode change, the node reappearing
(restart) or a verification that finds other values makes it pending again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApplyPlan", "NodeApply"]


@dataclass
class NodeApply:
    """One node's state."""

    node: str
    desired: dict[str, Any] = field(default_factory=dict)
    state: str = "absent"          # absent | pending | in_flight | ok | failed
    attempts: int = 0
    next_try_s: float = 0.0
    error: str = ""
    applied_count: int = 0


class ApplyPlan:
    """Per-node apply state for the current mode's parameter sets."""

    def __init__(self, nodes: tuple[str, ...], max_attempts: int = 5,
                 backoff_s: float = 0.5, backoff_max_s: float = 10.0) -> None:
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

    def mismatch(self, node: str, now_s: float) -> None:
        """Verification found values other than the desired ones."""
        item = self.nodes.get(node)
        if item is not None and item.state == "ok":
            self._pending(item, now_s)

    def due(self, now_s: float, ready: Callable[[str], bool] = lambda _: True,
            ) -> list[tuple[str, dict[str, Any]]]:
        """The ``(node, params)`` calls to make now; they are marked in flight.

        A node whose parameter service is not ``ready`` yet waits without using an attempt.
        """
        calls = []
        for item in self.nodes.values():
            if item.state == "pending" and now_s >= item.next_try_s and ready(item.node):
                if not item.desired:
                    item.state = "ok"
                    continue
                item.state = "in_flight"
                item.attempts += 1
                calls.append((item.node, dict(item.desired)))
        return calls

    def result(self, node: str, now_s: float, refused: Mapping[str, str] | None) -> None:
        """A call finished: ``refused`` maps refused parameters to reasons (None: no answer)."""
        item = self.nodes[node]
        if item.state != "in_flight":
            return  # superseded by a mode change or a restart while in flight
        if refused == {}:
            item.state, item.error = "ok", ""
            item.applied_count += 1
            return
        item.error = ("no answer from the parameter service" if refused is None else
                      "; ".join(f"{k}: {v}" for k, v in sorted(refused.items())))
        if item.attempts >= self.max_attempts:
            item.state = "failed"
            return
        item.state = "pending"
        item.next_try_s = now_s + min(self.backoff_max_s,
                                      self.backoff_s * 2 ** (item.attempts - 1))

    def report(self) -> dict[str, str]:
        """node -> ``state`` (with the error and attempts when not ok) for diagnostics."""
        out = {}
        for item in self.nodes.values():
            text = item.state
            if item.error:
                text += f" after {item.attempts} attempt(s): {item.error}"
            out[item.node] = text
        return out
