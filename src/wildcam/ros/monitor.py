"""The listening node of ``wildcam run``: one live progress line while the graph plays.

It counts motion events and detections and keeps the latest power mode, device state, battery
level and upload queue; ``frames`` (where in the scene the run is) is set by the run. It also
publishes the scene's PIR edges on ``camera/trigger`` when the run says so.
Subscriptions are best effort, which matches any publisher; the summary's numbers come from the
bag.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import BatteryState

from wildcam.graph import DETECTION_EVENTS
from wildcam.msg import (
    DetectionArray,
    EnergyReport,
    MotionEvent,
    PowerState,
    Trigger,
    UploadStatus,
)
from wildcam.ros.qos import LATCHED
from wildcam.ros.remote_params import RemoteParameters

__all__ = ["RunMonitor"]


class RunMonitor(Node):
    """Counts what the graph does and prints it as one line; ``clock`` formats scene seconds."""

    def __init__(self, fps: float, clock: Callable[[float], str]) -> None:
        super().__init__("wildcam_run_monitor")
        self.fps, self._clock_text = fps, clock
        self.frames = self.events = self.detections = 0
        self.mode = "—"
        self.state = "—"
        self.battery = math.nan
        self.queue: int | None = None
        self.energy_nodes: dict[str, int] = {}  # node -> reports received
        self.remote = RemoteParameters(self)
        self._last_progress = 0.0
        self._tty = sys.stdout.isatty()
        best_effort = qos_profile_sensor_data
        self.create_subscription(MotionEvent, "motion/events", self.event_callback, best_effort)
        self.create_subscription(
            DetectionArray, DETECTION_EVENTS, self.detection_callback, best_effort
        )
        self.create_subscription(PowerState, "power/state", self.state_callback, LATCHED)
        self.create_subscription(BatteryState, "power/battery", self.battery_callback, best_effort)
        self.create_subscription(
            UploadStatus, "uploader/status", self.upload_callback, best_effort
        )
        self.create_subscription(EnergyReport, "energy", self.energy_callback, best_effort)
        self.pub_trigger = self.create_publisher(Trigger, "camera/trigger", 10)

    def trigger(self, active: bool) -> None:
        """Publish a PIR edge on ``camera/trigger``, stamped now."""
        msg = Trigger(source=Trigger.SOURCE_PIR, active=active)
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = "pir"
        self.pub_trigger.publish(msg)

    def event_callback(self, msg: MotionEvent) -> None:
        """Count motion events as they start."""
        self.events += bool(msg.event_started)

    def detection_callback(self, msg: DetectionArray) -> None:
        """Count frames the cascade decided "animal"."""
        self.detections += 1

    def state_callback(self, msg: PowerState) -> None:
        """The current power mode."""
        self.mode = msg.mode_name + (" (override)" if msg.manual_override else "")
        self.state = msg.device_state or "—"

    def battery_callback(self, msg: BatteryState) -> None:
        """The current battery level."""
        self.battery = msg.percentage

    def upload_callback(self, msg: UploadStatus) -> None:
        """The uploader's queue depth."""
        self.queue = msg.queue_depth

    def energy_callback(self, msg: EnergyReport) -> None:
        """Which nodes report energy (the run waits for their last period)."""
        self.energy_nodes[msg.node] = self.energy_nodes.get(msg.node, 0) + 1

    def set_remote(
        self,
        node: str,
        values: dict[str, object],
        spin: Callable[[], None],
        poll: Callable[[], str | None],
        timeout_s: float,
    ) -> str | None:
        """Set ``values`` on ``node`` through its parameter service; a failure or None.

        ``spin`` runs the executor this node is on; ``poll`` is the supervisor's, so a graph
        that fails is noticed while waiting.
        """
        end = time.monotonic() + timeout_s
        while not self.remote.ready(node):
            failure = poll()
            if failure or time.monotonic() > end:
                return failure or f"the parameter service of {node} did not appear in time"
            spin()
        future = self.remote.set(node, values)
        while not future.done() and time.monotonic() < end:
            spin()
        reply = future.result() if future.done() else None
        if reply is None:
            return f"{node} did not answer set_parameters"
        refused = [r.reason for r in reply.results if not r.successful]
        return f"{node} refused {values}: {refused}" if refused else None

    def line(self, total: int) -> str:
        """The progress line: simulated time, mode, battery, events, detections, queue."""
        battery = "—" if math.isnan(self.battery) else f"{self.battery * 100:.0f}%"
        queue = "—" if self.queue is None else str(self.queue)
        return (
            f"{self._clock_text(self.frames / self.fps)}  mode {self.mode:<10} "
            f"state {self.state:<5}  "
            f"battery {battery:>4}  events {self.events:3d}  detections "
            f"{self.detections:4d}  queue {queue:>3}  frame {self.frames}/{total}"
        )

    def progress(self, total: int, force: bool = False) -> None:
        """Refresh the line (twice a second on a terminal; a line per 10 s when piped)."""
        now = time.monotonic()
        if force or now - self._last_progress >= (0.5 if self._tty else 10.0):
            self._last_progress = now
            text = self.line(total)
            sys.stdout.write(f"\r{text:<100}" if self._tty else f"{text}\n")
            sys.stdout.flush()
