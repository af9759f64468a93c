"""A listening node for ``wildcam run``: maps stamps to scene frames and narrates events."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo

from wildcam.camera.synthetic import SyntheticScene
from wildcam.evaluation import Span
from wildcam.msg import MotionEvent
from wildcam.ros.qos import EVENTS, SENSOR_SUB

__all__ = ["EventMonitor"]


class EventMonitor(Node):
    """Counts frames, records event spans in scene seconds, prints what happens."""

    def __init__(self, scene: SyntheticScene, fps: float) -> None:
        super().__init__("wildcam_run_monitor")
        self.scene, self.fps = scene, fps
        self.frames = 0
        self.ir_switches = self.illumination_changes = 0
        self._index: dict[int, int] = {}
        self._open: dict[int, float] = {}
        self._spans: list[Span] = []
        self._last_progress = 0.0
        self._tty = sys.stdout.isatty()
        self._subs = [
            self.create_subscription(CameraInfo, "camera/camera_info", self.info_callback,
                                     SENSOR_SUB),
            self.create_subscription(MotionEvent, "motion/events", self.event_callback, EVENTS)]

    def start_camera(self, poll: Callable[[], str | None], timeout_s: float) -> str | None:
        """Once both topics are matched, enable the (sleeping) camera; return a failure or None.

        ``poll`` is the supervisor's, so a graph that fails to start is noticed here too.
        """
        end = time.monotonic() + timeout_s
        client = AsyncParameterClient(self, "camera_driver")
        while not (all(s.get_publisher_count() for s in self._subs) and client.services_are_ready()):
            if time.monotonic() > end:
                return "the camera and motion nodes did not appear in time"
            failure = poll()
            if failure:
                return failure
            rclpy.spin_once(self, timeout_sec=0.1)
        future = client.set_parameters([Parameter("enabled", value=True)])
        rclpy.spin_until_future_complete(self, future, timeout_sec=10.0)
        if not future.done() or not future.result().results[0].successful:
            return "could not enable the camera"
        return None

    def info_callback(self, msg: CameraInfo) -> None:
        """One captured frame: remember which scene frame its stamp is."""
        self._index[Time.from_msg(msg.header.stamp).nanoseconds] = self.frames
        self.frames += 1
        if len(self._index) > 1000:
            for key in sorted(self._index)[:500]:
                del self._index[key]

    def _say(self, scene_s: float, text: str) -> None:
        prefix = "\r" if self._tty else ""
        print(f"{prefix}[scene {scene_s:7.1f} s] {text:<90}", flush=True)

    def event_callback(self, msg: MotionEvent) -> None:
        """Narrate event starts/ends and suppressed global changes against the truth."""
        index = self._index.get(Time.from_msg(msg.header.stamp).nanoseconds)
        if index is None:
            return
        t = index / self.fps
        truth = self.scene.truth(min(index, self.scene.n_frames - 1))
        if msg.ir_switch or msg.illumination_change:
            kind = "IR switch" if msg.ir_switch else "illumination change"
            self.ir_switches += msg.ir_switch
            self.illumination_changes += not msg.ir_switch
            self._say(t, f"{kind} detected: background re-learnt, motion suppressed")
        if msg.event_started:
            self._open[msg.event_id] = t
            seen = ", ".join(truth.species) if truth.boxes else "no animal in view"
            nuisances = ", ".join(sorted(truth.nuisances)) or "none"
            self._say(t, f"motion event {msg.event_id} started: {len(msg.rois)} region(s); "
                      f"truth: {seen}; nuisances: {nuisances}")
        if msg.event_ended and msg.event_id in self._open:
            start = self._open.pop(msg.event_id)
            self._spans.append((start, t))
            self._say(t, f"motion event {msg.event_id} ended after {t - start:.1f} s")

    def spans(self, end_s: float) -> list[Span]:
        """Closed event spans, plus any still open (closed at ``end_s``)."""
        return self._spans + [(start, end_s) for start in self._open.values()]

    def progress(self, total: int) -> None:
        """A live one-line progress display (twice a second; a line per 10 s when piped)."""
        now = time.monotonic()
        if now - self._last_progress >= (0.5 if self._tty else 10.0):
            self._last_progress = now
            line = (f"  {self.frames}/{total} frames, scene {self.frames / self.fps:6.1f} s, "
                    f"{len(self._spans)} events closed{', 1 open' if self._open else ''}")
            sys.stdout.write(f"\r{line}   " if self._tty else f"{line}\n")
            sys.stdout.flush()
