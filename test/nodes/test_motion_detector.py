"""motion_detector as a real node: malformed input, live thresholds, events on moving content."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from wildcam.msg import MotionEvent
from wildcam.ros.convert import camera_info, image_to_msg, seconds_to_time
from wildcam.ros.qos import EVENTS

pytestmark = pytest.mark.graph
NODE = "wildcam.nodes.motion_detector"
# The node's image subscriptions are best effort (sensor-data QoS): frames published before it
# matched the test's publisher would be lost. These tests count every frame, so they make them
# reliable through the QoS override parameters, as a deployment would, and deep enough for all
# the frames a test sends (a keep-last queue drops the oldest when the node lags under load).
DEPTH = 20
RELIABLE = [
    arg
    for topic in ("image_raw", "camera_info")
    for override in ("reliability:=reliable", f"depth:={DEPTH}")
    for arg in ("-p", f"qos_overrides./camera/small/{topic}.subscription.{override}")
]
FEED = QoSProfile(depth=DEPTH, reliability=ReliabilityPolicy.RELIABLE)
"""The test's publishers: reliable like the camera driver's (``SENSOR_PUB``), keeping every
frame a test sends until the node has it."""


def _counters(diags: list) -> dict[str, str]:
    values: dict[str, str] = {}
    for array in diags:
        for status in array.status:
            if status.name.endswith("motion_detector"):
                values.update({kv.key: kv.value for kv in status.values})
    return values


class Feeder:
    """Publishes small frames (and their camera_info) like the camera driver does."""

    def __init__(self, probe) -> None:  # type: ignore[no-untyped-def]
        self.probe = probe
        self.image = probe.node.create_publisher(Image, "camera/small/image_raw", FEED)
        self.info = probe.node.create_publisher(CameraInfo, "camera/small/camera_info", FEED)
        self.t = 100.0
        assert probe.spin_until(
            lambda: (
                self.image.get_subscription_count() > 0 and self.info.get_subscription_count() > 0
            ),
            20.0,
        )

    def image_header(self):  # type: ignore[no-untyped-def]
        """A header stamped between the last frame and the next."""
        from std_msgs.msg import Header

        return Header(stamp=seconds_to_time(self.t + 0.05), frame_id="camera_optical_frame")

    def frame(self, small: np.ndarray) -> None:
        self.t += 0.1
        stamp = seconds_to_time(self.t)
        frame_id = "camera_optical_frame"
        self.info.publish(camera_info(small.shape[1] * 4, small.shape[0] * 4, stamp, frame_id, 4))
        self.image.publish(image_to_msg(small, stamp, frame_id))
        self.probe.spin_for(0.02)


def _background() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(90, 110, (120, 160), dtype=np.uint8)


def test_malformed_images_are_counted_and_the_node_keeps_working(probe, procs) -> None:  # type: ignore[no-untyped-def]
    diags = probe.collect(DiagnosticArray, "/diagnostics")
    proc = procs.node(NODE, *RELIABLE)
    feed = Feeder(probe)
    good = _background()
    for _ in range(3):
        feed.frame(good)
    bad = [
        Image(height=120, width=160, encoding="mono8", step=160, data=bytes(100)),  # size
        Image(height=120, width=160, encoding="yuv422", step=320, data=bytes(38400)),
        Image(height=0, width=0, encoding="mono8", step=0, data=b""),
        Image(height=100000, width=100000, encoding="mono8", step=100000, data=b""),
    ]
    for msg in bad:
        msg.header.stamp = seconds_to_time(feed.t)
        feed.image.publish(msg)
    for _ in range(5):
        feed.frame(good)

    def seen() -> int:  # the first frame may overtake its camera_info (two topics)
        counters = _counters(diags)
        return int(counters.get("frames", 0)) + int(counters.get("frames_before_camera_info", 0))

    assert probe.spin_until(lambda: _counters(diags).get("image") == "4" and seen() == 8, 15.0), (
        _counters(diags)
    )
    # the five good frames after the malformed ones all went through the gate (under load the
    # first frames may overtake their camera_info and be counted apart)
    assert int(_counters(diags)["frames"]) >= 5
    assert proc.poll() is None


def test_moving_square_makes_an_event_and_thresholds_are_live(probe, procs) -> None:  # type: ignore[no-untyped-def]
    events = probe.collect(MotionEvent, "motion/events", EVENTS)
    procs.node(NODE, *RELIABLE)
    feed = Feeder(probe)
    assert probe.wait_matched("motion/events")
    background = _background()
    for _ in range(10):
        feed.frame(background)
    for step in range(8):
        frame = background.copy()
        frame[40:70, 10 + 10 * step : 40 + 10 * step] = 220
        feed.frame(frame)
    assert probe.spin_until(lambda: any(e.event_started for e in events), 10.0)
    started = next(e for e in events if e.event_started)
    assert started.frame_width == 640 and started.rois
    roi = started.rois[0]
    assert roi.x_offset < 4 * 60 and roi.x_offset + roi.width > 4 * 20  # full-frame pixels
    refused = probe.set_parameters("motion_detector", event_end_frames=0)[0]
    assert not refused.successful and "event_end_frames" in refused.reason
    assert probe.set_parameters("motion_detector", pixel_threshold=250)[0].successful


def test_a_trigger_opens_an_event_on_a_still_scene(probe, procs) -> None:  # type: ignore[no-untyped-def]
    from wildcam.msg import Trigger

    events = probe.collect(MotionEvent, "motion/events", EVENTS)
    procs.node(NODE, *RELIABLE, "-p", "trigger_frames:=2")
    feed = Feeder(probe)
    trigger = probe.node.create_publisher(Trigger, "camera/trigger", 10)
    assert probe.wait_matched("motion/events")
    assert probe.spin_until(lambda: trigger.get_subscription_count() > 0, 10.0)
    still = _background()
    for _ in range(5):
        feed.frame(still)
    assert not probe.spin_until(lambda: bool(events), 1.0)  # nothing moves: no event
    # the gate has its frame size now (camera_info came with the frames): the trigger counts
    trigger.publish(Trigger(header=feed.image_header(), source=Trigger.SOURCE_PIR, active=True))
    probe.spin_for(0.5)
    for _ in range(3):
        feed.frame(still)
    assert probe.spin_until(lambda: any(e.event_started for e in events), 10.0)
    started = next(e for e in events if e.event_started)
    assert started.rois == [] and started.header.stamp.sec >= 100  # the whole frame
