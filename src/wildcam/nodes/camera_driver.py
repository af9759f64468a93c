"""camera_driver: captures frames and publishes a reduced grey stream plus full frames on motion.

Topics: publishes ``camera/image_small`` (mono8, reduced), ``camera/camera_info`` (full sensor
size, binning = reduction), ``camera/image_raw`` (bgr8, only around motion by default);
subscribes ``camera/trigger`` (wildcam/Trigger, e.g. a PIR edge) and ``motion/events``.
``fps``, ``width``/``height``, ``enabled`` and the trigger settings take effect immediately.
The source is held only while it is needed (:class:`~wildcam.camera.capture.CaptureControl`):
released when disabled (sleep) and between trigger bursts (watch), reopened on the next one.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image

from wildcam.camera.base import CameraSource, Frame
from wildcam.camera.capture import CameraConfig, CaptureControl, FullFrameGate, SceneClock
from wildcam.camera.registry import make_source
from wildcam.errors import WildcamError
from wildcam.motion.reduce import reduce_frame
from wildcam.msg import MotionEvent, Trigger
from wildcam.ros.convert import camera_info, image_to_msg
from wildcam.ros.diagnostics import Health
from wildcam.ros.energy import EnergyMeter
from wildcam.ros.params import ParameterBinding
from wildcam.ros.qos import EVENTS, SENSOR_PUB
from wildcam.ros.runner import main_for


class CameraDriver(Node):
    """The camera: one source, a capture timer, a ring buffer of full frames."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("camera_driver", **kwargs)
        self.health = Health(self)
        self.params = ParameterBinding(self, CameraConfig, self.on_parameters)
        cfg = self.params.config
        self.meter = EnergyMeter(self, cfg.power_profile)
        self.source: CameraSource | None = None
        self.finished = False
        self._retry_at = 0.0
        self.control = CaptureControl()
        self.scene_clock = SceneClock()
        self.gate = FullFrameGate(cfg.full_frames, cfg.pre_event_frames, cfg.post_event_frames)
        self.pub_small = self.create_publisher(Image, "camera/image_small", SENSOR_PUB)
        self.pub_info = self.create_publisher(CameraInfo, "camera/camera_info", SENSOR_PUB)
        self.pub_raw = self.create_publisher(Image, "camera/image_raw", SENSOR_PUB)
        self.create_subscription(Trigger, "camera/trigger", self.health.guard("trigger")(
            self.trigger_callback), 10)
        self.create_subscription(MotionEvent, "motion/events", self.health.guard("motion")(
            self.motion_callback), EVENTS)
        self.timer = self.create_timer(self.control.period_s(cfg), self.health.guard("capture")(
            self.capture_callback))

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_parameters(self, old: CameraConfig, new: CameraConfig) -> None:
        """Apply live changes at once: rate, size, gate settings, holding the device."""
        if self.control.period_s(new) != self.control.period_s(old):
            self.timer.timer_period_ns = int(1e9 * self.control.period_s(new))
            self.timer.reset()
        self._release_if_idle()
        if (new.width, new.height) != (old.width, old.height) and self.source is not None:
            self.source.set_resolution(new.width, new.height)
        self.gate.configure(new.full_frames, new.pre_event_frames, new.post_event_frames)
        self.meter.set_profile(new.power_profile)
        self.get_logger().info(f"parameters applied: fps={new.fps} {new.width}x{new.height} "
                               f"enabled={new.enabled} trigger_mode={new.trigger_mode}")

    def _open(self) -> CameraSource | None:
        cfg = self.params.config
        now = self._now()
        if now < self._retry_at:
            return None
        try:
            self.source = make_source(cfg.source, uri=cfg.uri, width=cfg.width, height=cfg.height,
                                      fps=cfg.fps, seed=cfg.seed, loop=cfg.loop)
        except WildcamError as err:
            self._retry_at = now + cfg.reopen_period_s
            self.health.degraded(f"no camera: {err}")
            self.health.error("open", str(err))
            return None
        self.health.degraded("")
        self.health.count("opens")
        self.health.values["device"] = "open"
        return self.source

    def _release_if_idle(self) -> None:
        """Close the source when the camera no longer needs it (sleep, or watch between bursts)."""
        if self.source is not None and not self.control.hold(self.params.config, self._now()):
            self.source.close()
            self.source = None
            self.health.values["device"] = "released"

    def capture_callback(self) -> None:
        """Timer tick: capture one frame if the camera is awake, publish what is due."""
        cfg = self.params.config
        now = self._now()
        if cfg.enabled or self.scene_clock.started:  # the scene starts with the camera
            self.scene_clock.index(now, cfg.fps)
        if self.finished or not self.control.capture(cfg, now):
            self._release_if_idle()
            return
        source = self.source or self._open()
        if source is None:
            return
        seek = getattr(source, "seek", None)
        if seek is not None:  # a scene with its own timeline: the frame due now
            seek(self.scene_clock.index(now, cfg.fps))
        # Only a real camera's read is device work; rendering or decoding a simulated scene is
        # not (the profile's capture_j_per_frame stands for the camera itself).
        with self.meter.measure("capture", count=0) if cfg.source == "device" else nullcontext():
            frame = self._read(source)
        if frame is None:
            return
        with self.meter.measure("capture"):
            stamp = self.get_clock().now()
            header_stamp = stamp.to_msg()
            small = reduce_frame(frame.image, cfg.reduce_factor)
            height, width = frame.image.shape[:2]
            self.pub_small.publish(image_to_msg(small, header_stamp, cfg.frame_id))
            self.pub_info.publish(camera_info(width, height, header_stamp, cfg.frame_id,
                                              cfg.reduce_factor))
            self.health.count("frames")
            self._publish_full(self.gate.push(stamp.nanoseconds, frame,
                                              force=self.control.in_burst))

    def _read(self, source: CameraSource) -> Frame | None:
        """One frame, or None at the end of the stream; a failing source is closed."""
        try:
            frame = source.read()
        except WildcamError:
            self.source = None  # reopen after reopen_period_s
            source.close()
            raise
        if frame is None:
            self.finished = True
            self.health.values["state"] = "end of stream"
            self.get_logger().info(f"source {source.name!r} reached its end")
        return frame

    def _publish_full(self, items: list[tuple[int, Frame]]) -> None:
        frame_id = self.params.config.frame_id
        for key, frame in items:
            self.pub_raw.publish(image_to_msg(frame.image, Time(nanoseconds=key).to_msg(),
                                              frame_id))
            self.health.count("full_frames")

    def trigger_callback(self, msg: Trigger) -> None:
        """A trigger (PIR edge) fired: open if closed and capture the burst's first full frame at
        once; the timer takes the rest (at ``burst_fps`` in trigger mode)."""
        if not msg.active:
            return
        self.health.count("triggers")
        if self.control.trigger(self.params.config):
            self.timer.reset()
            self.capture_callback()

    def motion_callback(self, msg: MotionEvent) -> None:
        """Motion events open and close the full-frame window."""
        key = Time.from_msg(msg.header.stamp).nanoseconds
        self._publish_full(self.gate.motion(key, msg.event_started, msg.event_ended))

    def destroy_node(self) -> None:
        """Release the camera with the node."""
        if self.source is not None:
            self.source.close()
        super().destroy_node()


def main() -> int:
    """``ros2 run wildcam camera_driver``."""
    return main_for(CameraDriver)


if __name__ == "__main__":
    raise SystemExit(main())
