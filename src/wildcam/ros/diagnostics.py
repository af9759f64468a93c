"""Per-node health on ``/diagnostics``: counters, the last error, and callbacks that never crash.

Each node owns one :class:`Health`. Message callbacks are wrapped with :meth:`Health.guard`: an
exception is logged (throttled), counted under the callback's name and remembered as the last
error; the node keeps running. ``/diagnostics`` carries the counters once per period, and one
status per watched topic (:meth:`Health.topic`: frequency and timestamp status, named
``<node>: <topic> topic status`` as diagnostic_updater's topic diagnostics are).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from wildcam.errors import WildcamError
from wildcam.topic_status import Expected, TopicStatus

__all__ = ["Health"]

F = TypeVar("F", bound=Callable[..., Any])


class Health:
    """Counters and error state of one node, published on ``/diagnostics``."""

    def __init__(self, node: Node, period_s: float = 1.0, hardware_id: str = "wildcam") -> None:
        self._node = node
        self.hardware_id = hardware_id
        self.topics: dict[str, TopicStatus] = {}
        self.extra: dict[str, DiagnosticStatus] = {}  # further statuses, by name
        self.counters: Counter[str] = Counter()
        self.values: dict[str, str] = {}
        self.last_error = ""
        self._degraded = ""
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = node.create_timer(period_s, self.publish)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        self.counters[name] += n

    def error(self, name: str, message: str) -> None:
        """Record an error: log it (throttled), count it, keep it as the last error."""
        self.counters[name] += 1
        self.last_error = f"{name}: {message}"
        self._node.get_logger().error(f"{name}: {message}", throttle_duration_sec=5.0)

    def degraded(self, reason: str) -> None:
        """Mark the node as not doing its job (e.g. no camera); ``''`` clears it."""
        self._degraded = reason

    def guard(self, name: str) -> Callable[[F], F]:
        """Decorator: exceptions in the callback become :meth:`error` under ``name``."""

        def wrap(func: F) -> F:
            @functools.wraps(func)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                try:
                    return func(*args, **kwargs)
                except WildcamError as err:
                    self.error(name, str(err))
                except Exception as err:  # noqa: BLE001 - callbacks never crash the node
                    self.error(name, f"unexpected {type(err).__name__}: {err}")
                return None

            return guarded  # type: ignore[return-value]

        return wrap

    def status(self) -> DiagnosticStatus:
        """The node's current ``DiagnosticStatus``."""
        if self._degraded:
            level, message = DiagnosticStatus.ERROR, self._degraded
        elif self.last_error:
            level, message = DiagnosticStatus.WARN, f"errors seen; last: {self.last_error}"
        else:
            level, message = DiagnosticStatus.OK, "ok"
        values = [KeyValue(key=k, value=str(v)) for k, v in sorted(self.counters.items())]
        values += [KeyValue(key=k, value=v) for k, v in sorted(self.values.items())]
        return DiagnosticStatus(
            level=level,
            name=self._node.get_fully_qualified_name(),
            message=message,
            hardware_id=self.hardware_id,
            values=values,
        )

    def topic(self, name: str, expected: Expected = lambda: None) -> TopicStatus:
        """Watch topic ``name``: tick the returned status for each message (``expected``: the
        acceptable rate now, see :class:`~wildcam.topic_status.TopicStatus`)."""
        self.topics[name] = TopicStatus(expected)
        return self.topics[name]

    def publish(self) -> None:
        """Publish the status now."""
        now = self._node.get_clock().now()
        msg = DiagnosticArray()
        msg.header.stamp = now.to_msg()
        msg.status = [self.status()]
        for name, topic in self.topics.items():
            report = topic.report(now.nanoseconds * 1e-9)
            msg.status.append(
                DiagnosticStatus(
                    level=bytes([report.level]),
                    name=f"{self._node.get_fully_qualified_name()}: {name} topic status",
                    message=report.message,
                    hardware_id=self.hardware_id,
                    values=[KeyValue(key=k, value=v) for k, v in report.values],
                )
            )
        msg.status += [self.extra[name] for name in sorted(self.extra)]
        self._pub.publish(msg)
