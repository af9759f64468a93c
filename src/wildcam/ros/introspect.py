"""``wildcam param`` and ``wildcam topic``: the ``ros2 param`` / ``ros2 topic`` verbs over rclpy.

A short-lived hidden node (``_wildcam_cli_<pid>``) waits for discovery, calls the nodes'
parameter services or subscribes to a topic, prints in the ``ros2`` formats
(:mod:`wildcam.introspect`) and exits. Errors are :class:`~wildcam.errors.WildcamError`: an
unknown node, parameter or topic or a refused value is bad input (exit code 2); a node that
does not answer in time is a failed run (exit code 1).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from wildcam.bags.session import message_class, ros_session
from wildcam.errors import EXIT_FAILED, InputError, WildcamError
from wildcam.introspect import full_name, hz_text, parse_value
from wildcam.ros.remote_params import RemoteParameters, reported_values

__all__ = ["Introspector", "message_to_data", "open_introspector"]

TRUNCATE = 128  # like ``ros2 topic echo``'s default --truncate-length


class NoAnswerError(WildcamError):
    """A node did not answer in time: the graph is up but busy or gone (exit code 1)."""

    exit_code = EXIT_FAILED


def message_to_data(msg: Any) -> Any:
    """A message as plain data for YAML (long arrays and strings cut at :data:`TRUNCATE`)."""
    if hasattr(msg, "get_fields_and_field_types"):
        return {
            name: message_to_data(getattr(msg, name)) for name in msg.get_fields_and_field_types()
        }
    if isinstance(msg, str):
        return msg if len(msg) <= TRUNCATE else msg[:TRUNCATE] + "..."
    if hasattr(msg, "__len__"):  # sequences, arrays, bytes
        items = [message_to_data(v) for v in list(msg)[:TRUNCATE]]
        return [*items, "..."] if len(msg) > TRUNCATE else items
    if hasattr(msg, "item"):  # numpy scalars
        return msg.item()
    return msg


class Introspector:
    """The hidden node and its executor; every call spins until its answer or ``timeout_s``."""

    def __init__(self, timeout_s: float, ok: Callable[[], bool] = rclpy.ok) -> None:
        self.timeout_s, self.ok = timeout_s, ok  # ok() turns false on Ctrl-C
        self.node = Node(f"_wildcam_cli_{os.getpid()}")
        self.remote = RemoteParameters(self.node)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)

    def close(self) -> None:
        """Destroy the node."""
        self.executor.remove_node(self.node)
        self.node.destroy_node()
        self.executor.shutdown()

    def spin_until(self, done: Callable[[], bool], timeout_s: float | None = None) -> bool:
        """Spin until ``done()`` or the timeout; whether it is done."""
        end = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while not done():
            if time.monotonic() >= end or not self.ok():
                return done()
            self.executor.spin_once(timeout_sec=0.05)
        return True

    def _others(self) -> bool:
        """Whether discovery has found any node besides this one."""
        return any(
            name != self.node.get_name() for name, _ in self.node.get_node_names_and_namespaces()
        )

    def _settled(self, read: Callable[[], Any], quiet_s: float = 1.5) -> Any:
        """``read()`` once discovery has settled: another node was found and the answer
        stopped changing for ``quiet_s`` (or the timeout passed)."""
        last, since = read(), time.monotonic()
        end = time.monotonic() + self.timeout_s
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)
            now = read()
            if now != last or not self._others():
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                break
        return last

    def node_names(self) -> list[str]:
        """Full names of the visible nodes (hidden ``_`` nodes left out), sorted."""

        def read() -> list[str]:
            return sorted(
                f"{ns.rstrip('/')}/{name}"
                for name, ns in self.node.get_node_names_and_namespaces()
                if not name.startswith("_")
            )

        return list(self._settled(read))

    def _client(self, node: str) -> AsyncParameterClient:
        name = full_name(node)
        if not self.spin_until(lambda: self.remote.ready(name)):
            known = self.node_names()
            raise InputError(f"node {name} not found (nodes: {', '.join(known) or 'none'})")
        return self.remote.client(name)

    def _call(self, future: Any, what: str) -> Any:
        if not self.spin_until(future.done) or future.result() is None:
            raise NoAnswerError(f"{what}: no answer within {self.timeout_s:g} s")
        return future.result()

    def list_params(self, node: str) -> list[str]:
        """Every parameter name of ``node``."""
        reply = self._call(self._client(node).list_parameters(), f"list {node}")
        return list(reply.result.names)

    def get_params(self, node: str, names: list[str]) -> dict[str, Any]:
        """Values of ``names`` on ``node``; :class:`InputError` for a name it does not have."""
        self._client(node)
        values = reported_values(
            names, self._call(self.remote.get(full_name(node), names), f"get {node}")
        )
        missing = [n for n in names if n not in values]
        if missing:
            raise InputError(f"node {full_name(node)} has no parameter(s) {missing}")
        return values

    def set_param(self, node: str, name: str, text: str) -> None:
        """Set one parameter from its text; :class:`InputError` with the node's reason when
        it is refused. An integer given for a floating-point parameter becomes a float."""
        current = self.get_params(node, [name])
        reply = self._call(
            self.remote.set(full_name(node), {name: parse_value(text)}, current), f"set {node}"
        )
        result = reply.results[0]
        if not result.successful:
            raise InputError(f"Setting parameter failed: {result.reason or 'refused'}")

    def topics(self) -> list[tuple[str, list[str]]]:
        """(topic, types) of every topic seen, sorted."""
        return list(
            self._settled(
                lambda: sorted(
                    (t, list(types)) for t, types in self.node.get_topic_names_and_types()
                )
            )
        )

    def _topic(self, topic: str, msgtype: str) -> tuple[str, type, QoSProfile]:
        name = topic if topic.startswith("/") else "/" + topic
        # Wait for a publisher (discovery), so its QoS is known and a duration counts from here.
        self.spin_until(lambda: self.node.count_publishers(name) > 0)
        if not msgtype:
            found = dict(self.node.get_topic_names_and_types()).get(name)
            if not found:
                raise InputError(f"topic {name} not found; give its type to wait for it")
            msgtype = found[0]
        publishers = self.node.get_publishers_info_by_topic(name)
        latched = bool(publishers) and all(
            p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers
        )
        qos = QoSProfile(
            depth=10,
            reliability=ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )
        try:
            cls = message_class(msgtype)
        except WildcamError as err:
            raise InputError(str(err)) from err
        return name, cls, qos

    def echo(
        self, topic: str, msgtype: str, times: int | None, write: Callable[[Any], None]
    ) -> int:
        """Hand each message of ``topic`` to ``write`` until ``times`` arrived or the session
        stops; the number written."""
        name, cls, qos = self._topic(topic, msgtype)
        count = [0]

        def on_message(msg: Any) -> None:
            if times is None or count[0] < times:
                count[0] += 1
                write(msg)

        self.node.create_subscription(cls, name, on_message, qos)
        while self.ok() and (times is None or count[0] < times):
            self.executor.spin_once(timeout_sec=0.1)
        return count[0]

    def hz(
        self,
        topic: str,
        msgtype: str,
        window: int,
        duration_s: float | None,
        write: Callable[[str], None],
    ) -> int:
        """Print the rate of ``topic`` every second over the last ``window`` messages until
        ``duration_s`` passed (None: until stopped); the messages received."""
        name, cls, qos = self._topic(topic, msgtype)
        stamps: list[float] = []
        self.node.create_subscription(cls, name, lambda _m: stamps.append(time.monotonic()), qos)
        end = None if duration_s is None else time.monotonic() + duration_s
        shown = time.monotonic()
        while self.ok() and (end is None or time.monotonic() < end):
            self.executor.spin_once(timeout_sec=0.05)
            if time.monotonic() - shown >= 1.0:
                shown = time.monotonic()
                text = hz_text(stamps[-window:])
                if text:
                    write(text)
        return len(stamps)


@contextmanager
def open_introspector(timeout_s: float) -> Iterator[Introspector]:
    """An :class:`Introspector` in a ROS session (Ctrl-C stops it quietly)."""
    with ros_session() as session:
        tool = Introspector(timeout_s, session.ok)
        try:
            yield tool
        finally:
            tool.close()
            sys.stdout.flush()
