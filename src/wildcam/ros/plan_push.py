"""The power manager's calls to the other nodes: parameter sets through their parameter
services, lifecycle goals through ``get_state`` / ``change_state``.

:class:`PlanPusher` is the ROS side of the two :class:`~wildcam.power.apply.ApplyPlan` of
:class:`~wildcam.power.manager.ManagerCore` (which decides what is due, retries and reports) and
of :class:`~wildcam.power.calls.PlanCalls` (graph watch, one call in flight, timeouts): each
``push`` watches the graph, makes the calls that are due, chains their answers back into the
plans and now and then reads the parameters back to find a restarted node. Wall clock
(monotonic): retries must not race ahead with simulated time.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from rclpy.node import Node
from rclpy.task import Future

from wildcam.power.calls import PlanCalls, refused_of
from wildcam.power.manager import ManagerCore
from wildcam.ros.diagnostics import Health
from wildcam.ros.lifecycle import LifecycleClients
from wildcam.ros.remote_params import RemoteParameters, reported_values

__all__ = ["PlanPusher"]


class PlanPusher:
    """Pushes ``core``'s plans from ``node``; reports in ``health``."""

    def __init__(self, node: Node, core: ManagerCore, health: Health) -> None:
        self.node, self.core, self.health = node, core, health
        self.remote = RemoteParameters(node)
        self.lifecycle = LifecycleClients(node)
        self.param_calls = PlanCalls(core.plan)
        self.lifecycle_calls = PlanCalls(core.lifecycle)
        self._drives: dict[str, Future] = {}  # the lifecycle drive in flight per node
        self._last_verify = time.monotonic()

    def push(self) -> None:
        """Watch the graph, time out calls, make the calls that are due, verify now and then."""
        wall, core = time.monotonic(), self.core
        names = {
            n
            for n, ns in self.node.get_node_names_and_namespaces()
            if ns == self.node.get_namespace()
        }
        for calls in (self.param_calls, self.lifecycle_calls):
            calls.watch(names, wall)
        self.param_calls.expire(wall, core.config.call_timeout_s)
        for node in self.lifecycle_calls.expire(wall, core.config.call_timeout_s):
            drive = self._drives.pop(node, None)
            if drive is not None:
                drive.cancel()  # no further transition for a goal given up on
        # One call per node at a time: a new goal waits for the answer to the one before.
        for node, values in core.plan.due(
            wall, ready=lambda n: self.param_calls.idle(n) and self.remote.ready(n)
        ):
            token = self.param_calls.start(node, wall)
            future = self.remote.set(node, values)
            future.add_done_callback(partial(self._set_done, node, token, list(values)))
        for node, goal in core.lifecycle.due(
            wall, ready=lambda n: self.lifecycle_calls.idle(n) and self.lifecycle.ready(n)
        ):
            token = self.lifecycle_calls.start(node, wall)
            future = self.lifecycle.drive(
                node, goal["lifecycle"], late=partial(self._drive_late, node)
            )
            self._drives[node] = future
            future.add_done_callback(partial(self._drive_done, node, token))
        if wall - self._last_verify >= core.config.verify_period_s:
            self._last_verify = wall
            self._verify()
        for node, text in core.plan.report().items():
            self.health.values[f"apply.{node}"] = text
        for node, text in core.lifecycle.report().items():
            goal = core.lifecycle.nodes[node].desired.get("lifecycle", "none yet")
            self.health.values[f"lifecycle.{node}"] = f"{goal}: {text}"

    def _set_done(self, node: str, token: int, names: list[str], future: Future) -> None:
        if not self.param_calls.finish(node, token):
            return
        response = None if future.cancelled() or future.exception() else future.result()
        results = (
            None if response is None else [(r.successful, r.reason) for r in response.results]
        )
        refused = refused_of(names, results)
        self.core.plan.result(node, time.monotonic(), refused)
        if refused:
            self.health.error("apply", f"{node}: {refused}")

    def _drive_done(self, node: str, token: int, future: Future) -> None:
        if future.cancelled() or not self.lifecycle_calls.finish(node, token):
            return
        self._drives.pop(node, None)
        failure = str(future.result())
        self.core.lifecycle.result(
            node, time.monotonic(), {"lifecycle": failure} if failure else {}
        )
        if failure:
            self.health.error("lifecycle", failure)

    def _drive_late(self, node: str) -> None:
        """A transition of a drive given up on was made after all: drive the node again."""
        self.node.get_logger().info(f"{node} answered a lifecycle call late: driving it again")
        self.core.lifecycle.moved(node, time.monotonic())

    def _verify(self) -> None:
        """Ask every node said to be ok for its values; a difference (restart) pushes again.
        Asleep, the managed nodes get their sleep goal again."""
        self.core.recheck_lifecycle(time.monotonic())
        for item in self.core.plan.nodes.values():
            pushed = item.pushed()
            if item.state == "ok" and pushed:
                future = self.remote.get(item.node, list(pushed))
                future.add_done_callback(partial(self._verify_done, item.node, pushed))

    def _verify_done(self, node: str, desired: dict[str, Any], future: Future) -> None:
        if future.cancelled() or future.exception() or future.result() is None:
            return
        values = reported_values(list(desired), future.result())
        if not self.core.plan.verified(node, desired, values, time.monotonic()):
            self.node.get_logger().info(
                f"{node} lost its mode parameters (restart?): pushing again"
            )
