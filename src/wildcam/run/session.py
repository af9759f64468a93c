"""The rclpy side of a run: the bag recorder and the progress monitor on one executor, beside
the supervisor's graph.

:func:`play` starts the graph, waits until the recorder listens to every topic the graph
publishes, then wakes the camera and starts the simulated clocks together; it shows the progress
line until the scene has played (publishing the scene's PIR edges on the way), lets the upload
queue drain and the last energy reports arrive, and stops everything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import LoggingSeverity
from rosbags.rosbag2 import Writer

from wildcam.bags.record import Recorder
from wildcam.bags.storage import BAG_VERSION, STORAGES
from wildcam.bringup import Supervisor, clean_shared_memory
from wildcam.report.bag import TOPICS, published
from wildcam.ros.monitor import RunMonitor
from wildcam.rosenv import ros_environment
from wildcam.run.plan import RunOptions, Timing, role

__all__ = ["SETTLE_S", "RunSession", "play"]

SETTLE_S = 20.0  # at most this long after the last frame for the queue and energy to drain

Edges = Sequence[tuple[float, bool]]
"""PIR edges: (scene seconds, active)."""


class RunSession:
    """Recorder and monitor on one executor while the supervisor's graph runs (a context
    manager: entering starts the graph, leaving stops it and closes the bag)."""

    def __init__(
        self, supervisor: Supervisor, bag: Path, fps: float, clock: Callable[[float], str]
    ) -> None:
        self.supervisor = supervisor
        specs = [child.spec for child in supervisor.children]
        published = {t.lstrip("/") for s in specs for t, _ in s.publishes}
        self.expected = sorted(t for t in TOPICS.values() if t.lstrip("/") in published)
        self.clocks = [s.name for s in specs if role(s, "clock")]
        self.writer = Writer(bag, version=BAG_VERSION, storage_plugin=STORAGES["sqlite3"])
        self.fps, self.clock = fps, clock

    def __enter__(self) -> RunSession:
        self.writer.open()
        rclpy.init(args=[])
        self.executor = SingleThreadedExecutor()
        # and the PIR edges this process publishes, so the bag can measure the PIR's share
        # (wildcam lifetime --pir-share-from)
        topics = [*TOPICS.values(), published("wildcam/Trigger")]
        self.recorder = Recorder(self.writer, topics)
        self.recorder.get_logger().set_level(LoggingSeverity.WARN)  # the progress line talks
        self.monitor = RunMonitor(self.fps, self.clock)
        self.executor.add_node(self.recorder)
        self.executor.add_node(self.monitor)
        self.supervisor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.supervisor.stop()
        end = time.monotonic() + 1.0  # what the middleware already holds goes into the bag
        while rclpy.ok() and time.monotonic() < end:
            self.spin()
        self.executor.shutdown(timeout_sec=1.0)
        self.recorder.destroy_node()
        self.monitor.destroy_node()
        rclpy.try_shutdown()
        self.writer.close()
        clean_shared_memory(ros_environment())  # this process's own ports, now closed

    def spin(self) -> None:
        """Handle what is due on the executor (waits at most 50 ms)."""
        self.executor.spin_once(timeout_sec=0.05)

    def recording(self) -> bool:
        """Whether the recorder has a publisher on every topic the graph publishes."""
        subs = {s.topic_name: s for s in self.recorder.subscriptions}
        return all(t in subs and subs[t].get_publisher_count() > 0 for t in self.expected)

    def start_day(self, clocks: Mapping[str, float], timeout_s: float = 90.0) -> str | None:
        """Once the recorder listens to every topic: wake the camera and start the clocks.

        ``clocks`` maps each simulated-clock node to its speed; they were started paused, so the
        simulated day and the scene begin together.
        """
        poll = self.supervisor.poll
        end = time.monotonic() + timeout_s
        while not self.recording():
            if time.monotonic() > end:
                return "the graph's topics did not all appear in time"
            failure = poll()
            if failure:
                return failure
            self.spin()
        # The camera first: the power manager, paused with its clock, has pushed nothing yet, so
        # this is start-up configuration to it, not a manual override it would keep.
        failure = self.monitor.set_remote(
            "camera_driver", {"enabled": True}, self.spin, poll, 30.0
        )
        for node, speed in clocks.items():
            failure = failure or self.monitor.set_remote(
                node, {"speed": speed}, self.spin, poll, 30.0
            )
        return failure

    def watch(
        self, total: int, scene_rate: float, limit_s: float, edges: Edges = ()
    ) -> str | None:
        """Show progress until the scene's ``total`` frames have played (or ``limit_s`` passes
        with a real source); publish the scene's PIR ``edges`` on the way; a failure or None.

        A synthetic scene plays on the wall clock at ``scene_rate`` frames a second from now
        (the camera reads the frame due, open or not); a real source is counted by its frames.
        """
        monitor = self.monitor
        start = time.monotonic()
        deadline = start + limit_s
        pending = sorted(edges)
        while True:
            now = time.monotonic()
            if total:
                monitor.frames = min(total, int((now - start) * scene_rate))
                scene_s = monitor.frames / monitor.fps
                while pending and pending[0][0] <= scene_s:
                    monitor.trigger(pending.pop(0)[1])
                if now - start >= total / scene_rate + 0.5:  # the last frame is due and taken
                    return None
            else:
                monitor.frames = self.recorder.result.counts.get(TOPICS["info"], 0)
            if now >= deadline:
                return (
                    (
                        f"only {monitor.frames} of {total} frames were played in "
                        f"{limit_s:.0f} s; the report covers those"
                    )
                    if total
                    else None
                )
            self.spin()
            failure = self.supervisor.poll()
            if failure:
                return failure
            monitor.progress(total)

    def settle(self, total: int) -> None:
        """After the last frame: let the upload queue empty and every node report its energy."""
        monitor = self.monitor
        reported = dict(monitor.energy_nodes)
        end = time.monotonic() + SETTLE_S
        while time.monotonic() < end and self.supervisor.poll() is None:
            queue_empty = monitor.queue in (None, 0)
            energy_in = all(monitor.energy_nodes.get(n, 0) > c for n, c in reported.items())
            if queue_empty and energy_in:
                return
            self.spin()
            monitor.progress(total)


def play(
    options: RunOptions,
    supervisor: Supervisor,
    bag: Path,
    time_: Timing,
    fps: float,
    clock: Callable[[float], str],
    edges: Edges = (),
) -> str | None:
    """Start the graph, record and show progress until the scene ends; a failure or None."""
    failure: str | None = None
    total = time_.frames
    with RunSession(supervisor, bag, fps, clock) as session:
        try:
            day_speed = options.speed * time_.time_scale if total else 1.0  # real source: 1
            clocks = {name: day_speed for name in session.clocks}
            failure = session.start_day(clocks)
            limit = options.wall_limit_s or (
                total / (fps * options.speed) * 1.5 + 60.0 if total else options.duration_s or 60.0
            )
            failure = failure or session.watch(total, fps * options.speed, limit, edges)
            for node in clocks:  # the day is over: the battery stops where the scene stopped
                session.monitor.set_remote(
                    node, {"speed": 0.0}, session.spin, supervisor.poll, 10.0
                )
            if failure is None:
                session.settle(total)
            session.monitor.progress(total, force=True)
        except (KeyboardInterrupt, ExternalShutdownException):
            failure = "interrupted"
    print()
    return failure
