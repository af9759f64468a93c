"""Play a rosbag2 bag back onto the ROS graph, as ``ros2 bag play`` would.

Messages are republished as the serialized bytes the bag holds (an rclpy publisher of the
connection's message class accepts ``bytes``), keeping the recorded spacing scaled by ``rate``.
Publishers are reliable keep-last with a deep queue (at least 100) unless the bag recorded
best-effort or transient-local publishers (see :func:`wildcam.bags.session.qos_from_bag`);
``wait_for_subscribers_s`` holds the start until every topic has a subscriber, so a test or a
freshly started node does not lose the first messages to discovery. With ``clock`` the bag
time is published on ``/clock`` (for nodes running with ``use_sim_time``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.interfaces import Connection, ConnectionExtRosbag2
from rosgraph_msgs.msg import Clock

from wildcam.bags.session import Session, message_class, qos_from_bag, ros_session
from wildcam.bags.storage import READ_ERRORS, messages, open_bag
from wildcam.errors import BagError, ConfigError

__all__ = ["ACK_TIMEOUT_S", "CLOCK_TOPIC", "PlayResult", "play"]

CLOCK_TOPIC = "/clock"
_SLICE_S = 0.05  # longest uninterrupted sleep: bounds the reaction to a stop signal
# Fast DDS acknowledges reliable samples on its periodic heartbeat (every 3 s by default), so
# confirming that the last messages arrived takes up to that long after they were sent.
ACK_TIMEOUT_S = 3.5


@dataclass
class PlayResult:
    """What a playback published."""

    published: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # topic -> messages published
    loops: int = 0  # complete passes through the bag
    unmatched: list[str] = field(default_factory=list)  # topics nobody subscribed to in time
    interrupted: bool = False


def _normalise(topic: str) -> str:
    return topic if topic.startswith("/") else f"/{topic}"


def _select(
    connections: list[Connection], topics: list[str] | None, bag: Path
) -> dict[str, list[Connection]]:
    """Group the connections to play by topic; :class:`BagError` for topics the bag lacks."""
    by_topic: dict[str, list[Connection]] = {}
    for conn in connections:
        by_topic.setdefault(conn.topic, []).append(conn)
    if topics is None:
        return by_topic
    wanted = [_normalise(t) for t in topics]
    missing = [t for t in wanted if t not in by_topic]
    if missing:
        raise BagError(f"topics {missing} are not in bag {bag} (it has {sorted(by_topic)})")
    return {t: by_topic[t] for t in wanted}


def _publishers(node: Node, selected: dict[str, list[Connection]], bag: Path) -> dict[str, Any]:
    publishers = {}
    for topic, conns in selected.items():
        types = {c.msgtype for c in conns}
        if len(types) != 1:
            raise BagError(f"topic {topic} in {bag} holds several types {sorted(types)}")
        offered = [
            q
            for c in conns
            if isinstance(c.ext, ConnectionExtRosbag2)
            for q in c.ext.offered_qos_profiles
        ]
        publishers[topic] = node.create_publisher(
            message_class(types.pop()), topic, qos_from_bag(offered)
        )
    return publishers


def _wait_for_subscribers(
    session: Session, publishers: dict[str, Any], timeout_s: float
) -> list[str]:
    """Wait (at most ``timeout_s``) for a subscriber on every topic; return those still without."""
    end = time.monotonic() + timeout_s
    waiting = [t for t, p in publishers.items() if p.get_subscription_count() == 0]
    while waiting and session.ok() and time.monotonic() < end:
        time.sleep(0.02)
        waiting = [t for t in waiting if publishers[t].get_subscription_count() == 0]
    return waiting


class _Pacer:
    """Maps bag time to wall time and sleeps until a message is due, ticking /clock meanwhile."""

    def __init__(self, session: Session, rate: float, clock: Any | None, clock_hz: float) -> None:
        self._session = session
        self._rate = rate
        self._clock = clock
        self._clock_period = 1.0 / clock_hz
        self._bag0 = 0
        self._wall0 = 0.0
        self._next_tick = 0.0

    def restart(self, bag_start_ns: int) -> None:
        self._bag0 = bag_start_ns
        self._wall0 = time.monotonic()
        self._next_tick = self._wall0

    def _bag_now(self) -> int:
        return self._bag0 + int((time.monotonic() - self._wall0) * self._rate * 1e9)

    def publish_clock(self, stamp_ns: int) -> None:
        if self._clock is not None:
            msg = Clock()
            msg.clock.sec, msg.clock.nanosec = divmod(stamp_ns, 1_000_000_000)
            self._clock.publish(msg)

    def wait_until(self, stamp_ns: int) -> bool:
        """Sleep until bag time ``stamp_ns`` is due; False if asked to stop meanwhile."""
        due = self._wall0 + (stamp_ns - self._bag0) / 1e9 / self._rate
        while self._session.ok():
            now = time.monotonic()
            if self._clock is not None and now >= self._next_tick:
                self.publish_clock(min(self._bag_now(), stamp_ns))
                self._next_tick = now + self._clock_period
            if now >= due:
                return True
            wake = due if self._clock is None else min(due, self._next_tick)
            time.sleep(min(max(wake - now, 0.0), _SLICE_S))
        return False


def play(
    bag: Path,
    rate: float = 1.0,
    loop: bool = False,
    topics: list[str] | None = None,
    start_offset_s: float = 0.0,
    clock: bool = False,
    wait_for_subscribers_s: float = 0.0,
    clock_hz: float = 40.0,
    wait_for_all_acked_s: float = ACK_TIMEOUT_S,
    on_ready: Callable[[Node], None] | None = None,
) -> PlayResult:
    """Publish the messages of ``bag`` with their recorded timing scaled by ``rate``.

    ``topics`` limits playback to those topics (BagError if the bag lacks one);
    ``start_offset_s`` skips that much bag time from the start; ``loop`` repeats until
    SIGINT/SIGTERM; ``clock`` publishes the bag time on ``/clock`` at ``clock_hz`` and before
    each message; ``wait_for_subscribers_s`` > 0 waits up to that long for every topic to have
    a subscriber before starting (topics still without one are reported in the result);
    ``wait_for_all_acked_s`` bounds the wait, at the end, for reliable subscribers to
    acknowledge the last messages (0: exit at once, possibly losing messages in flight).
    ``on_ready`` is called with the node once the publishers exist. Requires
    ``ROS_AUTOMATIC_DISCOVERY_RANGE`` to be LOCALHOST or OFF; initialises rclpy if needed.
    """
    bag = Path(bag)
    if not rate > 0:
        raise ConfigError(f"rate must be > 0, got {rate}")
    if start_offset_s < 0:
        raise ConfigError(f"start offset must be >= 0 s, got {start_offset_s}")
    if not clock_hz > 0:
        raise ConfigError(f"clock rate must be > 0 Hz, got {clock_hz}")
    result = PlayResult()
    with open_bag(bag) as reader:
        try:
            connections = list(reader.connections)
            bag_start = reader.start_time
            empty = reader.message_count == 0
        except READ_ERRORS as err:
            raise BagError(f"cannot read bag {bag}: {err}") from err
        selected = _select(connections, topics, bag)
        for topic_conns in selected.values():
            message_class(topic_conns[0].msgtype)  # fail on unknown types before starting ROS
        with ros_session() as session:
            node = Node("wildcam_bag_player", enable_rosout=False, start_parameter_services=False)
            try:
                publishers = _publishers(node, selected, bag)
                clock_pub = (
                    node.create_publisher(
                        Clock,
                        CLOCK_TOPIC,
                        QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE),
                    )
                    if clock
                    else None
                )
                result.counts = {t: 0 for t in publishers}
                if on_ready is not None:
                    on_ready(node)
                if wait_for_subscribers_s > 0:
                    result.unmatched = _wait_for_subscribers(
                        session, publishers, wait_for_subscribers_s
                    )
                    for topic in result.unmatched:
                        node.get_logger().warning(
                            f"no subscriber on {topic} after {wait_for_subscribers_s} s; playing"
                        )
                if not empty:
                    _run(
                        session,
                        reader,
                        selected,
                        publishers,
                        clock_pub,
                        result,
                        start=bag_start + int(round(start_offset_s * 1e9)),
                        rate=rate,
                        loop=loop,
                        clock_hz=clock_hz,
                    )
                if session.ok():  # interrupted: leave at once
                    _wait_acked(session, [*publishers.values()], wait_for_all_acked_s)
            except (KeyboardInterrupt, ExternalShutdownException):
                result.interrupted = True
            finally:
                node.destroy_node()
            result.interrupted = result.interrupted or session.stop.is_set()
    return result


def _run(
    session: Session,
    reader: Any,
    selected: dict[str, list[Connection]],
    publishers: dict[str, Any],
    clock_pub: Any | None,
    result: PlayResult,
    *,
    start: int,
    rate: float,
    loop: bool,
    clock_hz: float,
) -> None:
    conns = [c for cs in selected.values() for c in cs]
    pacer = _Pacer(session, rate, clock_pub, clock_hz)
    while session.ok():
        pacer.restart(start)
        played_any = False
        for conn, stamp, raw in messages(reader, conns, start=start):
            if not pacer.wait_until(stamp):
                return
            pacer.publish_clock(stamp)
            publishers[conn.topic].publish(bytes(raw))
            result.published += 1
            result.counts[conn.topic] += 1
            played_any = True
        else:
            result.loops += 1
        if not played_any or not loop:
            return


def _wait_acked(session: Session, publishers: list[Any], timeout_s: float) -> None:
    """Give reliable subscribers a bounded moment to acknowledge the last messages."""
    end = time.monotonic() + timeout_s
    for publisher in publishers:
        if not session.context.ok() or timeout_s <= 0:
            return
        remaining = max(end - time.monotonic(), 0.0)
        publisher.wait_for_all_acked(timeout=Duration(nanoseconds=int(remaining * 1e9)))
