"""Record live topics into a rosbag2 bag (sqlite3 or MCAP), as ``ros2 bag record`` would.

One plain rclpy node subscribes raw (``raw=True``) to each topic and hands the serialized CDR
bytes, unchanged, to a rosbags :class:`~rosbags.rosbag2.Writer`: that is exactly what rosbag2
stores. Topics and their types come from the ROS graph, re-checked periodically so topics that
appear late are recorded too; each topic's connection carries the QoS its publishers offer and
the full message definition from :func:`wildcam.bags.typestore.typestore`.

Recording ends after ``duration_s``, after ``max_messages``, or on SIGINT/SIGTERM; in every case
the bag is closed properly (``metadata.yaml`` written).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.interfaces import Connection
from rosbags.rosbag2 import Writer, WriterError
from rosbags.typesys import TypesysError

from wildcam.bags.crc import seal_bag
from wildcam.bags.session import message_class, qos_to_bag, ros_session
from wildcam.bags.storage import DEFAULT_STORAGE, STORAGES, bag_writer
from wildcam.bags.typestore import ensure_type
from wildcam.errors import BagError, ConfigError

__all__ = ["RECORD_DEPTH", "RecordResult", "Recorder", "record"]

RECORD_DEPTH = 100  # subscription queue: enough for a slow disk not to drop camera frames


@dataclass
class RecordResult:
    """What a recording wrote."""

    path: Path
    message_count: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # topic -> messages
    types: dict[str, str] = field(default_factory=dict)  # topic -> message type
    skipped: dict[str, str] = field(default_factory=dict)  # topic -> why it was not recorded


def _writer(output: Path, storage: str) -> Writer:
    try:
        writer = bag_writer(output, storage)
        writer.open()
    except (WriterError, OSError) as err:
        raise BagError(f"cannot create bag {output}: {err}") from err
    return writer


class Recorder(Node):
    """A node that writes every message of the selected topics to an open rosbags writer.

    ``topics`` None records every topic discovered (hidden ones excepted). The writer is owned
    by the caller, who closes it.
    """

    def __init__(
        self,
        writer: Writer,
        topics: list[str] | None = None,
        max_messages: int | None = None,
        discovery_period_s: float = 0.25,
        node_name: str = "wildcam_bag_recorder",
    ) -> None:
        super().__init__(node_name, enable_rosout=False, start_parameter_services=False)
        self._writer = writer
        self._wanted = None if topics is None else {self.resolve_topic_name(t) for t in topics}
        self._max = max_messages
        self.result = RecordResult(path=writer.path)
        self._connections: dict[str, Connection] = {}
        self._subscriptions_by_topic: dict[str, Any] = {}
        self._unmatched: set[str] = set()
        self.discover_callback()
        self._timer = self.create_timer(discovery_period_s, self.discover_callback)

    @property
    def done(self) -> bool:
        """True once ``max_messages`` have been written."""
        return self._max is not None and self.result.message_count >= self._max

    @property
    def recording(self) -> list[str]:
        """Topics subscribed so far."""
        return sorted(self._connections)

    def discover_callback(self) -> None:
        """Subscribe to selected topics that have appeared since the last look.

        Also reports each new subscription once it has matched a publisher: from then on the
        publisher's messages are recorded (a supervising process may wait for that line).
        """
        for topic in sorted(self._unmatched):
            if self._subscriptions_by_topic[topic].get_publisher_count() > 0:
                self._unmatched.discard(topic)
                self.get_logger().info(f"subscribed to {topic}")
        for topic, types in self.get_topic_names_and_types():
            if topic in self._connections or topic in self.result.skipped:
                continue
            if self._wanted is None:
                if any(part.startswith("_") for part in topic.split("/")):
                    continue  # hidden topic, as `ros2 bag record --all` skips them
            elif topic not in self._wanted:
                continue
            if len(types) != 1:
                self._skip(topic, f"published with several types {types}")
                continue
            self._subscribe(topic, types[0])

    def _skip(self, topic: str, why: str) -> None:
        self.result.skipped[topic] = why
        self.get_logger().warning(f"not recording {topic}: {why}")

    def _subscribe(self, topic: str, msgtype: str) -> None:
        publishers = [
            p
            for p in self.get_publishers_info_by_topic(topic)
            if (p.node_name, p.node_namespace) != (self.get_name(), self.get_namespace())
        ]
        if not publishers:
            return  # only subscribers (or our own /parameter_events) so far: look again later
        try:
            cls = message_class(msgtype)
            store = ensure_type(msgtype)
        except BagError as err:
            self._skip(topic, str(err))
            return
        offered = [qos_to_bag(p.qos_profile) for p in publishers]
        # The bytes are the publisher's; the definition we embed is the typestore's.
        published = str(publishers[0].topic_type_hash)
        if published.startswith("RIHS01_") and published != store.hash_rihs01(msgtype):
            self.get_logger().warning(
                f"{msgtype}: publisher type hash {published} differs from the embedded "
                f"definition's {store.hash_rihs01(msgtype)}"
            )
        try:
            msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
            connection = self._writer.add_connection(
                topic,
                msgtype,
                msgdef=msgdef,
                rihs01=store.hash_rihs01(msgtype),
                offered_qos_profiles=offered,
            )
        except (WriterError, TypesysError, KeyError) as err:
            self._skip(topic, f"cannot add it to the bag: {err}")
            return
        # Match every publisher: best effort if any offers only that, transient local only if
        # all keep history for late joiners (as rosbag2's QoS adaptation does).
        reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
        latched = all(
            p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers
        )
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=RECORD_DEPTH,
            reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )
        self._connections[topic] = connection
        self.result.counts[topic] = 0
        self.result.types[topic] = msgtype
        self._subscriptions_by_topic[topic] = self.create_subscription(
            cls, topic, self._message_callback_for(connection), qos, raw=True
        )
        self._unmatched.add(topic)
        self.get_logger().info(f"recording {topic} [{msgtype}]")

    def _message_callback_for(self, connection: Connection) -> Callable[[bytes, Any], None]:
        def message_callback(data: bytes, message_info: Any) -> None:
            if self.done:
                return
            stamp = int(message_info.get("received_timestamp") or 0) or time.time_ns()
            try:
                self._writer.write(connection, stamp, data)
            except (WriterError, OSError) as err:
                raise BagError(f"cannot write to {self._writer.path}: {err}") from err
            self.result.message_count += 1
            self.result.counts[connection.topic] += 1

        return message_callback


def record(
    output: Path,
    topics: list[str] | None = None,
    storage: str = DEFAULT_STORAGE,
    duration_s: float | None = None,
    max_messages: int | None = None,
    on_ready: Callable[[Recorder], None] | None = None,
) -> RecordResult:
    """Record ``topics`` (None: every topic discovered) into a new bag directory ``output``.

    Stops after ``duration_s`` seconds, after ``max_messages`` messages, or on SIGINT/SIGTERM,
    and always finalises the bag. ``on_ready`` is called once the node is up (e.g. to print a
    line a supervising process can wait for). Requires ``ROS_AUTOMATIC_DISCOVERY_RANGE`` to be
    LOCALHOST or OFF; initialises rclpy if the caller has not.
    """
    output = Path(output)
    if duration_s is not None and duration_s <= 0:
        raise ConfigError(f"duration must be > 0 s, got {duration_s}")
    if max_messages is not None and max_messages < 1:
        raise ConfigError(f"max_messages must be >= 1, got {max_messages}")
    if topics is not None and not topics:
        raise ConfigError("no topics to record (pass None to record all)")
    if storage not in STORAGES:
        raise ConfigError(f"unknown storage {storage!r}; expected one of {sorted(STORAGES)}")
    if output.exists():
        raise BagError(f"cannot record to {output}: it exists already")
    with ros_session() as session:
        writer = _writer(output, storage)
        recorder: Recorder | None = None
        executor = SingleThreadedExecutor(context=session.context)
        try:
            recorder = Recorder(writer, topics, max_messages)
            executor.add_node(recorder)
            if on_ready is not None:
                on_ready(recorder)
            end = None if duration_s is None else time.monotonic() + duration_s
            while session.ok() and not recorder.done:
                remaining = 0.1 if end is None else min(0.1, end - time.monotonic())
                if remaining <= 0:
                    break
                executor.spin_once(timeout_sec=remaining)
            if session.context.ok():
                _drain(executor, recorder)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            executor.shutdown(timeout_sec=1.0)
            result = recorder.result if recorder is not None else RecordResult(path=output)
            if recorder is not None:
                recorder.destroy_node()
            try:
                writer.close()
            except (WriterError, OSError) as err:
                raise BagError(f"cannot finalise bag {output}: {err}") from err
            seal_bag(output)
    return result


def _drain(executor: SingleThreadedExecutor, recorder: Recorder, limit_s: float = 1.0) -> None:
    """Write what the middleware has already received, so a stop signal loses nothing."""
    end = time.monotonic() + limit_s
    idle = 0
    while not recorder.done and idle < 3 and time.monotonic() < end:
        before = recorder.result.message_count
        executor.spin_once(timeout_sec=0.02)
        idle = idle + 1 if recorder.result.message_count == before else 0
