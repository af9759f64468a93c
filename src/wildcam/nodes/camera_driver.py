"""camera_driver: captures frames and publishes a reduced grey stream plus full frames on motion.

Topics, one stream per namespace as image_proc's outputs are: ``camera/small/image_raw`` (mono8,
reduced, every captured frame) with ``camera/small/camera_info`` (full sensor size, binning =
reduction, REP-104); ``camera/image_raw`` (bgr8, only around motion by default) with
``camera/camera_info`` and, with ``compressed``, ``camera/image_raw/compressed`` (JPEG). The
calibration of both infos comes from ``camera_info_url``. Stamps are capture times; ``frame_id``
is the optical frame. Subscribes ``camera/trigger`` (wildcam/Trigger) and ``motion/events``.
The source is held only while needed (:class:`~wildcam.camera.capture.CaptureControl`).
Held bursts (``held_dir``) go first, one frame at a time, paced by ``motion/processed`` and
``detections/processed`` (wildcam/FrameDone; :mod:`wildcam.camera.held_pace`).

A managed (lifecycle) node, as usb_cam and camera_ros are: configure opens the device, activate
starts the capture, deactivate stops it and releases the device. With ``autostart`` it
configures and activates itself; ``wildcam bringup`` and the launch file set it false and drive
the transitions, and the power manager deactivates it for sleep. ``enabled`` set by hand also
works (:class:`~wildcam.camera.managed.EnabledFollow`).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

from builtin_interfaces.msg import Time as TimeMsg
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo

from wildcam.camera.base import CameraSource, Frame
from wildcam.camera.calibration import load_calibration
from wildcam.camera.capture import CameraConfig, CaptureControl, FullFrameGate, SceneClock
from wildcam.camera.held import HeldBurstSource
from wildcam.camera.held_pace import HeldPacer, HeldPlayer
from wildcam.camera.managed import (
    EnabledFollow,
    SourceHolder,
    calibration_note,
    capture_stamp_ns,
    expected_rate,
)
from wildcam.errors import WildcamError
from wildcam.motion.reduce import reduce_frame
from wildcam.msg import FrameDone, MotionEvent, Trigger
from wildcam.ros.camera import CameraPublisher
from wildcam.ros.convert import camera_info
from wildcam.ros.diagnostics import Health
from wildcam.ros.energy import EnergyMeter
from wildcam.ros.params import ParameterBinding
from wildcam.ros.qos import EVENTS, OVERRIDABLE, own
from wildcam.ros.runner import main_for


class CameraDriver(LifecycleNode):
    """The camera: one source, a capture timer, a ring buffer of full frames."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("camera_driver", **kwargs)
        self.health = Health(self)
        self.params = ParameterBinding(self, CameraConfig, self.on_parameters)
        cfg = self.params.config
        self.health.hardware_id = cfg.hardware_id or f"{cfg.source}:{cfg.uri or 'default'}"
        self.small_status = self.health.topic("camera/small/image_raw", self._expected_rate)
        self.full_status = self.health.topic("camera/image_raw")
        self.meter = EnergyMeter(self, cfg.power_profile)
        self.holder = SourceHolder()
        self.held: HeldPlayer | None = None  # bursts the power controller held: first
        self.pacer = HeldPacer(cfg.held_ack_timeout_s, cfg.held_max_sends)
        self.control = CaptureControl()
        self.scene_clock = SceneClock()
        self.gate = FullFrameGate(cfg.full_frames, cfg.pre_event_frames, cfg.post_event_frames)
        # Read once at start (read-only): a missing or malformed file is a configuration error.
        self.calibration = load_calibration(cfg.camera_info_url)
        self.small = CameraPublisher(self, "camera/small")
        self.full = CameraPublisher(self, "camera", compressed=True)
        self.create_subscription(
            Trigger, "camera/trigger", self.health.guard("trigger")(self.trigger_callback), 10
        )
        self.create_subscription(
            MotionEvent,
            "motion/events",
            self.health.guard("motion")(self.motion_callback),
            own(EVENTS),
            qos_overriding_options=OVERRIDABLE,
        )
        self.acks = [
            self.create_subscription(
                FrameDone, topic, self.health.guard(topic)(callback), own(EVENTS)
            )
            for topic, callback in (
                ("motion/processed", self.motion_done_callback),
                ("detections/processed", self.cascade_done_callback),
            )
        ]
        self.timer = self.create_timer(
            self.control.period_s(cfg), self.health.guard("capture")(self.capture_callback)
        )
        self.timer.cancel()  # runs while active
        self.follow = EnabledFollow()
        self._entered("unconfigured")
        if cfg.autostart:
            for transition in self.follow.start(cfg.enabled):
                getattr(self, f"trigger_{transition}")()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Configure opens the device (when enabled; a failed open is retried while active)."""
        if self.params.config.enabled:
            self._open()
        return self._entered("inactive")

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Activate streams: the capture timer runs, held bursts first."""
        if self.params.config.held_dir:
            self.pacer = HeldPacer(self.pacer.timeout_s, self.pacer.max_sends)
            self.held = HeldPlayer(HeldBurstSource(self.params.config.held_dir), self.pacer)
        self.timer.reset()
        return self._entered("active")

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Deactivate stops capturing and releases the device."""
        self.timer.cancel()
        self._close()
        return self._entered("inactive")

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Back to unconfigured: the device stays closed."""
        self._close()
        return self._entered("unconfigured")

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Finalized: nothing runs, the device is closed."""
        self.timer.cancel()
        self._close()
        return self._entered("finalized")

    def _entered(self, label: str) -> TransitionCallbackReturn:
        self.lifecycle = self.health.values["lifecycle"] = label
        return TransitionCallbackReturn.SUCCESS

    def _expected_rate(self) -> tuple[float, float] | None:
        return expected_rate(self.params.config, self.lifecycle)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_parameters(self, old: CameraConfig, new: CameraConfig) -> None:
        """Apply live changes at once: rate, size, gate settings, holding the device."""
        if self.control.period_s(new) != self.control.period_s(old):
            self.timer.timer_period_ns = int(1e9 * self.control.period_s(new))
            if self.lifecycle == "active":
                self.timer.reset()
        if new.enabled != old.enabled:
            transition = self.follow.changed(new.enabled, self.lifecycle)
            if transition is not None:
                getattr(self, f"trigger_{transition}")()
        self._release_if_idle()
        source = self.holder.source
        if (new.width, new.height) != (old.width, old.height) and source is not None:
            source.set_resolution(new.width, new.height)
        self.gate.configure(new.full_frames, new.pre_event_frames, new.post_event_frames)
        self.pacer.timeout_s, self.pacer.max_sends = new.held_ack_timeout_s, new.held_max_sends
        self.meter.set_profile(new.power_profile)
        self.get_logger().info(
            f"parameters applied: fps={new.fps} {new.width}x{new.height} "
            f"enabled={new.enabled} trigger_mode={new.trigger_mode}"
        )

    def _open(self) -> CameraSource | None:
        try:
            source = self.holder.open(self.params.config, self._now())
        except WildcamError as err:
            self.health.degraded(f"no camera: {err}")
            self.health.error("open", str(err))
            return None
        if source is not None and self.health.values.get("device") != "open":
            self.health.degraded("")
            self.health.count("opens")
            self.health.values["device"] = "open"
        return source

    def _release_if_idle(self) -> None:
        """Close the source when the camera no longer needs it (watch between bursts)."""
        if not self.control.hold(self.params.config, self._now()):
            self._close()

    def _close(self) -> None:
        if self.holder.close():
            self.health.values["device"] = "released"

    def capture_callback(self) -> None:
        """Timer tick: capture one frame if the camera is awake, publish what is due."""
        cfg = self.params.config
        now = self._now()
        if cfg.enabled or self.scene_clock.started:  # the scene starts with the camera
            self.scene_clock.index(now, cfg.fps)
        if cfg.enabled and self.held is not None and self._publish_held(self.held):
            return
        if self.holder.finished or not self.control.capture(cfg, now):
            self._release_if_idle()
            return
        source = self._open()
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
            self._publish(frame, self._capture_stamp(frame), self.control.in_burst)

    def _publish_held(self, held: HeldPlayer) -> bool:
        """One turn of the held frames (:class:`HeldPlayer`): publish the next one, stamped with
        its capture time, as a burst frame on both streams once the motion gate and the cascade
        listen. False once none is held. Decoding is CPU only: the controller's camera took it."""
        turn = held.turn(
            time.monotonic(), self._deciders_listen, lambda: self.meter.measure("capture", count=0)
        )
        for name in turn.counts:
            self.health.count(name)
        for problem in turn.problems:
            self.health.error("held", problem)
        if turn.status:
            self.health.values["held"] = turn.status
        if held.drained:
            self.held = None
        frame = turn.frame
        if frame is not None and frame.captured_epoch_ns is not None:
            with self.meter.measure("capture", count=0):  # both streams, even when sent again
                self._publish_small(frame, Time(nanoseconds=frame.captured_epoch_ns))
                self._publish_full([(frame.captured_epoch_ns, frame)])
        return turn.busy

    def _deciders_listen(self) -> bool:
        """Both streams have subscribers and both acknowledgements have publishers."""
        return bool(
            self.small.subscribers()
            and self.full.subscribers()
            and all(sub.get_publisher_count() for sub in self.acks)
        )

    def motion_done_callback(self, msg: FrameDone) -> None:
        """The motion gate is done with a small frame: a held frame may be decided."""
        self.pacer.motion(Time.from_msg(msg.header.stamp).nanoseconds, msg.event_id, msg.done)
        self._held_progress()

    def cascade_done_callback(self, msg: FrameDone) -> None:
        """The cascade is done with a full frame: a held frame may be decided."""
        self.pacer.cascade(Time.from_msg(msg.header.stamp).nanoseconds, msg.done)
        self._held_progress()

    def _held_progress(self) -> None:
        """Go on with the held frames at once rather than at the next tick."""
        if self.held is not None and self.lifecycle == "active" and self.params.config.enabled:
            self._publish_held(self.held)

    def _publish(self, frame: Frame, stamp: Time, burst: bool) -> None:
        self._publish_small(frame, stamp)
        self._publish_full(self.gate.push(stamp.nanoseconds, frame, force=burst))

    def _publish_small(self, frame: Frame, stamp: Time) -> None:
        cfg = self.params.config
        header_stamp = stamp.to_msg()
        small = reduce_frame(frame.image, cfg.reduce_factor)
        info = self._info(frame, header_stamp, cfg.reduce_factor)
        self.small.publish(small, header_stamp, cfg.frame_id, info)
        self.small_status.tick(stamp.nanoseconds * 1e-9, self._now())
        self.health.count("frames")

    def _capture_stamp(self, frame: Frame) -> Time:
        """The node-clock time the frame was captured: now, less its age where the source
        knows when the sensor took it."""
        now = self.get_clock().now()
        stamp_ns = capture_stamp_ns(now.nanoseconds, frame.age_s(time.monotonic()))
        return Time(nanoseconds=stamp_ns, clock_type=now.clock_type)

    def _info(self, frame: Frame, stamp: TimeMsg, binning: int) -> CameraInfo:
        cal = self.calibration
        if cal is not None:
            self.health.values["calibration"] = calibration_note(cal, frame.width, frame.height)
        return camera_info(
            frame.width, frame.height, stamp, self.params.config.frame_id, binning, cal
        )

    def _read(self, source: CameraSource) -> Frame | None:
        """One frame, or None at the end of the stream (a failing source is closed)."""
        try:
            frame = self.holder.read()
        except WildcamError:
            self.health.values["device"] = "released"
            raise
        if frame is None:
            self.health.values["state"] = "end of stream"
            self.get_logger().info(f"source {source.name!r} reached its end")
        return frame

    def _publish_full(self, items: list[tuple[int, Frame]]) -> None:
        cfg = self.params.config
        quality = cfg.jpeg_quality if cfg.compressed else 0
        for key, frame in items:
            stamp = Time(nanoseconds=key).to_msg()
            self.full.publish(
                frame.image, stamp, cfg.frame_id, self._info(frame, stamp, 1), quality
            )
            self.full_status.tick(key * 1e-9, self._now())
            self.health.count("full_frames")

    def trigger_callback(self, msg: Trigger) -> None:
        """A trigger (PIR edge) fired: open if closed and capture the burst's first full frame at
        once; the timer takes the rest (at ``burst_fps`` in trigger mode)."""
        if not msg.active or self.lifecycle != "active":
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
        self._close()
        super().destroy_node()


def main() -> int:
    """``ros2 run wildcam camera_driver``."""
    return main_for(CameraDriver)


if __name__ == "__main__":
    raise SystemExit(main())
