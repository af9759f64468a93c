"""The rclpy glue :mod:`record` and :mod:`play` share.

The environment check (discovery must stay on this host), an rclpy session that initialises and
shuts down only what it started, QoS conversion between rclpy and rosbags, and the rclpy message
class for a ``pkg/msg/Name`` type string.
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)

from wildcam.errors import BagError, ConfigError

__all__ = [
    "ALLOWED_DISCOVERY_RANGES",
    "Session",
    "message_class",
    "qos_from_bag",
    "qos_to_bag",
    "require_local_discovery",
    "ros_session",
]

# Anything wider multicasts on the LAN; see wildcam.rosenv.
ALLOWED_DISCOVERY_RANGES = ("LOCALHOST", "OFF")
_NS = 1_000_000_000


def require_local_discovery() -> None:
    """Refuse to start ROS unless ``ROS_AUTOMATIC_DISCOVERY_RANGE`` keeps discovery local.

    Raises :class:`ConfigError`; apply :func:`wildcam.rosenv.ros_environment` to fix it.
    """
    value = os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE")
    if value not in ALLOWED_DISCOVERY_RANGES:
        raise ConfigError(
            f"ROS_AUTOMATIC_DISCOVERY_RANGE is {value!r}; refusing to start ROS with discovery "
            f"beyond this host (set it to one of {ALLOWED_DISCOVERY_RANGES}, e.g. by applying "
            "wildcam.rosenv.ros_environment() to os.environ)"
        )


@dataclass
class Session:
    """An rclpy context to work in and the event SIGINT/SIGTERM set to ask the work to stop."""

    context: Context
    stop: threading.Event

    def ok(self) -> bool:
        """True while neither a stop signal arrived nor the context was shut down."""
        return not self.stop.is_set() and self.context.ok()


@contextmanager
def ros_session() -> Iterator[Session]:
    """Yield a :class:`Session` on the default rclpy context, initialising it if needed.

    When this call initialises rclpy it does so without rclpy's signal handlers and installs
    its own (main thread only): SIGINT and SIGTERM then only set ``session.stop``, so the
    caller can finish cleanly — drain what the middleware already received, close the bag —
    before the context goes down. When the caller initialised rclpy, its handlers stay and a
    signal shuts the context down (``ExternalShutdownException``, ``session.ok()`` false).
    """
    require_local_discovery()
    stop = threading.Event()
    started = not rclpy.ok()
    previous: dict[int, Any] = {}
    if started:
        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, lambda _n, _f: stop.set())
    try:
        yield Session(rclpy.get_default_context(), stop)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if started:
            rclpy.try_shutdown()


def message_class(msgtype: str) -> type[Any]:
    """Return the rclpy message class for ``pkg/msg/Name``; :class:`BagError` if not installed."""
    parts = msgtype.split("/")
    if len(parts) != 3 or not all(parts):
        raise BagError(f"malformed message type {msgtype!r} (expected package/msg/Name)")
    package, kind, name = parts
    try:
        module = importlib.import_module(f"{package}.{kind}")
        return getattr(module, name)
    except (ImportError, AttributeError) as err:
        raise BagError(
            f"message type {msgtype} is not installed in this Python environment "
            f"(cannot import {package}.{kind}.{name}): {err}"
        ) from err


def _time_to_bag(duration: Duration) -> QosTime:
    sec, nsec = divmod(duration.nanoseconds, _NS)
    return QosTime(sec, nsec)


def qos_to_bag(profile: QoSProfile) -> Qos:
    """Convert an rclpy QoS profile (e.g. a publisher's offered QoS) for a bag's metadata."""
    return Qos(
        history=QosHistory(int(profile.history)),
        depth=int(profile.depth),
        reliability=QosReliability(int(profile.reliability)),
        durability=QosDurability(int(profile.durability)),
        deadline=_time_to_bag(profile.deadline),
        lifespan=_time_to_bag(profile.lifespan),
        liveliness=QosLiveliness(int(profile.liveliness)),
        liveliness_lease_duration=_time_to_bag(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions),
    )


def qos_from_bag(offered: list[Qos], min_depth: int = 100) -> QoSProfile:
    """The QoS to republish a recorded topic with, from the profiles its publishers offered.

    Reliable unless every recorded publisher was best effort; transient local only when every
    one was; keep-last with at least ``min_depth`` so a slow subscriber does not lose messages.
    Deadline, lifespan and liveliness are left at their defaults: a bag played at another rate
    would break a recorded deadline.
    """
    reliability = ReliabilityPolicy.RELIABLE
    durability = DurabilityPolicy.VOLATILE
    depth = min_depth
    if offered:
        if all(q.reliability == QosReliability.BEST_EFFORT for q in offered):
            reliability = ReliabilityPolicy.BEST_EFFORT
        if all(q.durability == QosDurability.TRANSIENT_LOCAL for q in offered):
            durability = DurabilityPolicy.TRANSIENT_LOCAL
        depth = max([min_depth] + [q.depth for q in offered if q.history == QosHistory.KEEP_LAST])
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=reliability,
        durability=durability,
    )
