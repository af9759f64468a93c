"""camera_driver as a real node in its own process: live parameters, trigger, bad sources."""

from __future__ import annotations

import statistics

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image

from wildcam.msg import Trigger
from wildcam.ros.qos import SENSOR_SUB
import itertools

pytestmark = pytest.mark.graph
NODE = "wildcam.nodes.camera_driver"


def _set(probe, **values) -> list:  # type: ignore[no-untyped-def]
    return probe.set_parameters("camera_driver", **values)


def _median_period(infos: list, start: int) -> float:
    stamps = [Time.from_msg(m.header.stamp).nanoseconds * 1e-9 for m in infos[start:]]
    return statistics.median(b - a for a, b in itertools.pairwise(stamps))


def test_live_fps_change_takes_effect(probe, procs) -> None:  # type: ignore[no-untyped-def]
    infos = probe.collect(CameraInfo, "camera/camera_info", SENSOR_SUB)
    procs.node(NODE, "-p", "fps:=4.0", "-p", "width:=160", "-p", "height:=120")
    assert probe.spin_until(lambda: len(infos) >= 8, 20.0), "no frames at 4 fps"
    slow = _median_period(infos, 1)
    results = _set(probe, fps=20.0)
    assert results[0].successful, results[0].reason
    mark = len(infos)
    assert probe.spin_until(lambda: len(infos) >= mark + 20, 20.0)
    fast = _median_period(infos, mark + 1)
    assert slow > 2.5 * fast, (slow, fast)  # 0.25 s vs 0.05 s nominal


def test_out_of_range_and_read_only_parameters_are_refused(probe, procs) -> None:  # type: ignore[no-untyped-def]
    procs.node(NODE, "-p", "fps:=2.0")
    too_fast, wrong_choice = _set(probe, fps=1000.0), _set(probe, full_frames="sometimes")
    assert not too_fast[0].successful and "fps" in too_fast[0].reason
    assert not wrong_choice[0].successful and "full_frames" in wrong_choice[0].reason
    read_only = _set(probe, source="device")
    assert not read_only[0].successful and "read-only" in read_only[0].reason.lower()


def test_trigger_mode_captures_one_burst_per_trigger(probe, procs) -> None:  # type: ignore[no-untyped-def]
    infos = probe.collect(CameraInfo, "camera/camera_info", SENSOR_SUB)
    procs.node(NODE, "-p", "fps:=20.0", "-p", "trigger_mode:=true", "-p", "burst_frames:=7",
               "-p", "width:=160", "-p", "height:=120")
    trigger = probe.node.create_publisher(Trigger, "camera/trigger", 10)
    assert probe.spin_until(lambda: trigger.get_subscription_count() > 0, 20.0)
    assert probe.spin_until(lambda: probe.node.count_publishers("camera/camera_info") > 0, 10.0)
    probe.spin_for(1.0)  # at most the first frame (the sensor check) without a trigger
    mark = len(infos)
    assert mark <= 1
    trigger.publish(Trigger(source=Trigger.SOURCE_PIR, active=True))
    assert probe.spin_until(lambda: len(infos) >= mark + 7, 10.0)
    probe.spin_for(1.0)  # the burst is over: no eighth frame
    assert len(infos) == mark + 7


def test_full_frames_only_flow_around_motion(probe, procs) -> None:  # type: ignore[no-untyped-def]
    raw = probe.collect(Image, "camera/image_raw", SENSOR_SUB)
    small = probe.collect(Image, "camera/image_small", SENSOR_SUB)
    procs.node(NODE, "-p", "fps:=20.0", "-p", "uri:=empty")
    assert probe.spin_until(lambda: len(small) >= 20, 20.0)
    assert raw == [] and small[0].encoding == "mono8" and small[0].width == 160


def test_missing_device_degrades_without_crashing(probe, procs) -> None:  # type: ignore[no-untyped-def]
    diags = probe.collect(DiagnosticArray, "/diagnostics")
    proc = procs.node(NODE, "-p", "source:=device", "-p", "uri:=/dev/video99",
                      "-p", "reopen_period_s:=0.2")

    def degraded() -> bool:
        return any(s.level == DiagnosticStatus.ERROR and "no camera" in s.message
                   for d in diags for s in d.status if s.name.endswith("camera_driver"))
    assert probe.spin_until(degraded, 20.0)
    assert proc.poll() is None, "the node must keep running without its camera"


def test_live_resolution_change_and_sleep(probe, procs) -> None:  # type: ignore[no-untyped-def]
    infos = probe.collect(CameraInfo, "camera/camera_info", SENSOR_SUB)
    small = probe.collect(Image, "camera/image_small", SENSOR_SUB)
    procs.node(NODE, "-p", "fps:=20.0")
    assert probe.spin_until(lambda: len(infos) >= 3, 20.0)
    assert (infos[-1].width, infos[-1].height) == (640, 480)
    assert all(r.successful for r in _set(probe, width=320, height=240))
    assert probe.spin_until(lambda: infos[-1].width == 320 and infos[-1].height == 240, 10.0)
    assert probe.spin_until(lambda: small[-1].width == 80 and small[-1].height == 60, 10.0)
    assert _set(probe, enabled=False)[0].successful
    probe.spin_for(0.5)  # frames already in flight
    mark = len(infos)
    probe.spin_for(1.0)
    assert len(infos) == mark, "a disabled camera captures nothing"


def _camera_values(diags: list) -> dict[str, str] | None:  # type: ignore[type-arg]
    """The camera driver's latest diagnostic values (None before its first report)."""
    for array in reversed(diags):
        for status in array.status:
            if status.name.endswith("camera_driver"):
                return {kv.key: kv.value for kv in status.values}
    return None


def test_trigger_in_watch_state_opens_bursts_full_frames_and_releases(probe, procs) -> None:  # type: ignore[no-untyped-def]
    raw = probe.collect(Image, "camera/image_raw", SENSOR_SUB)
    diags = probe.collect(DiagnosticArray, "/diagnostics")
    procs.node(NODE, "-p", "trigger_mode:=true", "-p", "burst_frames:=5", "-p", "burst_fps:=20.0",
               "-p", "release_after_s:=0.2", "-p", "width:=160", "-p", "height:=120")
    trigger = probe.node.create_publisher(Trigger, "camera/trigger", 10)
    assert probe.spin_until(lambda: trigger.get_subscription_count() > 0, 20.0)
    # The first frame after enabling checks the sensor; then the camera is closed.
    assert probe.spin_until(lambda: (_camera_values(diags) or {}).get("device") == "released",
                            10.0)
    assert raw == [] and _camera_values(diags).get("opens") == "1"
    for burst in (1, 2):
        sent = probe.node.get_clock().now()
        msg = Trigger(source=Trigger.SOURCE_PIR, active=True)
        msg.header.stamp = sent.to_msg()
        trigger.publish(msg)
        assert probe.spin_until(lambda b=burst: len(raw) >= 5 * b, 10.0)
        stamps = [Time.from_msg(m.header.stamp).nanoseconds for m in raw[-5:]]
        assert stamps == sorted(stamps) and stamps[0] >= sent.nanoseconds
        assert raw[-1].width == 160 and raw[-1].encoding == "bgr8"  # full frames
        assert probe.spin_until(lambda b=burst: (_camera_values(diags) or {}).get("opens")
                                == str(b + 1) and (_camera_values(diags) or {}).get("device")
                                == "released", 10.0)
    probe.spin_for(0.5)
    assert len(raw) == 10, "no frame outside the bursts"
