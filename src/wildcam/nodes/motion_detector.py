"""motion_detector: the cheap background-motion gate on the camera's reduced grey stream.

Subscribes ``camera/small/image_raw`` (mono8) and ``camera/small/camera_info`` (full-frame size;
sensor-data QoS);
publishes ``motion/events`` (wildcam/MotionEvent, regions in full-frame pixels) for every frame
inside a motion event and for frames flagged as an illumination change or IR switch, and
``motion/processed`` (wildcam/FrameDone) for every frame once it is done with it (after its
event), which paces the camera's held bursts. The camera driver answers event starts with the
buffered full frames, so the cascade gets what it needs. With ``trigger_frames``, a
``camera/trigger`` (wildcam/Trigger, a PIR edge) opens an event on the first frame taken at
or after it, whatever moves (:meth:`~wildcam.motion.gate.MotionGate.trigger`).
Every threshold is a live parameter.
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image

from wildcam.errors import InputError
from wildcam.motion.base import MotionResult
from wildcam.motion.config import MotionConfig
from wildcam.motion.gate import MotionGate
from wildcam.msg import FrameDone, MotionEvent, Trigger
from wildcam.ros.convert import msg_to_image, rois_to_msgs
from wildcam.ros.diagnostics import Health
from wildcam.ros.energy import EnergyMeter
from wildcam.ros.params import ParameterBinding
from wildcam.ros.qos import EVENTS, IMAGE_SUB, OVERRIDABLE, own
from wildcam.ros.runner import main_for


class MotionDetector(Node):
    """Feeds each small frame to a :class:`MotionGate` and publishes what it finds."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("motion_detector", **kwargs)
        self.health = Health(self)
        self.frame_status = self.health.topic("camera/small/image_raw")
        self.event_status = self.health.topic("motion/events")
        self.params = ParameterBinding(self, MotionConfig, self.on_parameters)
        self.meter = EnergyMeter(self, self.params.config.power_profile)
        self.gate: MotionGate | None = None
        self.full_size: tuple[int, int] | None = None
        self.pub = self.create_publisher(
            MotionEvent, "motion/events", own(EVENTS), qos_overriding_options=OVERRIDABLE
        )
        self.pub_done = self.create_publisher(FrameDone, "motion/processed", own(EVENTS))
        self.create_subscription(
            CameraInfo,
            "camera/small/camera_info",
            self.health.guard("camera_info")(self.info_callback),
            own(IMAGE_SUB),
            qos_overriding_options=OVERRIDABLE,
        )
        self.create_subscription(
            Image,
            "camera/small/image_raw",
            self.health.guard("image")(self.image_callback),
            own(IMAGE_SUB),
            qos_overriding_options=OVERRIDABLE,
        )

        self.create_subscription(
            Trigger, "camera/trigger", self.health.guard("trigger")(self.trigger_callback), 10
        )

    def on_parameters(self, old: MotionConfig, new: MotionConfig) -> None:
        """Thresholds change live; the learnt background is kept."""
        self.meter.set_profile(new.power_profile)
        if self.gate is not None:
            self.gate.reconfigure(new)

    def info_callback(self, msg: CameraInfo) -> None:
        """The full-frame size the regions are reported in."""
        if msg.width == 0 or msg.height == 0:
            raise InputError(f"camera_info with zero size {msg.width}x{msg.height}")
        size = (msg.width, msg.height)
        if size != self.full_size:
            self.full_size = size
            self.gate = MotionGate(self.params.config, size)
            self.get_logger().info(f"full frame {size[0]}x{size[1]}: motion gate (re)started")

    def trigger_callback(self, msg: Trigger) -> None:
        """A trigger fired (its stamp is the edge's time): the gate opens an event on the next
        frame taken at or after it (with ``trigger_frames`` > 0)."""
        if msg.active and self.gate is not None:
            self.gate.trigger(Time.from_msg(msg.header.stamp).nanoseconds * 1e-9)
            self.health.count("triggers")

    def image_callback(self, msg: Image) -> None:
        """One reduced frame through the gate."""
        if msg.encoding != "mono8":
            raise InputError(f"camera/small/image_raw must be mono8, got {msg.encoding!r}")
        small = msg_to_image(msg)
        stamp_s = Time.from_msg(msg.header.stamp).nanoseconds * 1e-9
        self.frame_status.tick(stamp_s, self.get_clock().now().nanoseconds * 1e-9)
        if self.gate is None:
            self.health.count("frames_before_camera_info")
            self.pub_done.publish(FrameDone(header=msg.header, done=False))
            return
        with self.meter.measure("motion"):
            result = self.gate.update(small, stamp_s)
        self.health.count("frames")
        if result.event_started:
            self.health.count("events")
        if result.illumination_change:
            self.health.count("illumination_changes")
        if result.ir_switch:
            self.health.count("ir_switches")
        if result.event_id is not None or result.illumination_change or result.ir_switch:
            self._publish_event(msg, result, stamp_s)
        self.pub_done.publish(
            FrameDone(header=msg.header, event_id=result.event_id or 0, done=True)
        )

    def _publish_event(self, msg: Image, result: MotionResult, stamp_s: float) -> None:
        event = MotionEvent(
            header=msg.header,
            event_id=result.event_id or 0,
            event_started=result.event_started,
            event_ended=result.event_ended,
            rois=rois_to_msgs(result.rois),
            changed_fraction=float(result.changed_fraction),
            illumination_change=result.illumination_change,
            ir_switch=result.ir_switch,
            recalibrating=result.recalibrating,
            frame_width=self.full_size[0] if self.full_size else 0,
            frame_height=self.full_size[1] if self.full_size else 0,
        )
        self.pub.publish(event)
        self.event_status.tick(stamp_s, self.get_clock().now().nanoseconds * 1e-9)


def main() -> int:
    """``ros2 run wildcam motion_detector``."""
    return main_for(MotionDetector)


if __name__ == "__main__":
    raise SystemExit(main())
