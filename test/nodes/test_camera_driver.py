"""camera_driver as a real node in its own process: live parameters, trigger, bad sources."""

from __future__ import annotations

import itertools
import statistics

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image

from wildcam.errors import EXIT_CONFIG
from wildcam.msg import Trigger
from wildcam.ros.qos import SENSOR_SUB

pytestmark = pytest.mark.graph
NODE = "wildcam.nodes.camera_driver"


def _set(probe, **values) -> list:  # type: ignore[no-untyped-def]
    return probe.set_parameters("camera_driver", **values)


def _median_period(infos: list, start: int) -> float:
    stamps = [Time.from_msg(m.header.stamp).nanoseconds * 1e-9 for m in infos[start:]]
    return statistics.median(b - a for a, b in itertools.pairwise(stamps))


def test_live_fps_change_takes_effect(probe, procs) -> None:  # type: ignore[no-untyped-def]
    infos = probe.collect(CameraInfo, "camera/small/camera_info", SENSOR_SUB)
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
    infos = probe.collect(CameraInfo, "camera/small/camera_info", SENSOR_SUB)
    procs.node(
        NODE,
        "-p",
        "fps:=20.0",
        "-p",
        "trigger_mode:=true",
        "-p",
        "burst_frames:=7",
        "-p",
        "width:=160",
        "-p",
        "height:=120",
    )
    trigger = probe.node.create_publisher(Trigger, "camera/trigger", 10)
    assert probe.spin_until(lambda: trigger.get_subscription_count() > 0, 20.0)
    assert probe.spin_until(
        lambda: probe.node.count_publishers("camera/small/camera_info") > 0, 10.0
    )
    probe.spin_for(1.0)  # at most the first frame (the sensor check) without a trigger
    mark = len(infos)
    assert mark <= 1
    trigger.publish(Trigger(source=Trigger.SOURCE_PIR, active=True))
    assert probe.spin_until(lambda: len(infos) >= mark + 7, 10.0)
    probe.spin_for(1.0)  # the burst is over: no eighth frame
    assert len(infos) == mark + 7


def test_full_frames_only_flow_around_motion(probe, procs) -> None:  # type: ignore[no-untyped-def]
    raw = probe.collect(Image, "camera/image_raw", SENSOR_SUB)
    small = probe.collect(Image, "camera/small/image_raw", SENSOR_SUB)
    procs.node(NODE, "-p", "fps:=20.0", "-p", "uri:=empty")
    assert probe.spin_until(lambda: len(small) >= 20, 20.0)
    assert raw == [] and small[0].encoding == "mono8" and small[0].width == 160


def test_missing_device_degrades_without_crashing(probe, procs) -> None:  # type: ignore[no-untyped-def]
    diags = probe.collect(DiagnosticArray, "/diagnostics")
    proc = procs.node(
        NODE, "-p", "source:=device", "-p", "uri:=/dev/video99", "-p", "reopen_period_s:=0.2"
    )

    def degraded() -> bool:
        return any(
            s.level == DiagnosticStatus.ERROR and "no camera" in s.message
            for d in diags
            for s in d.status
            if s.name.endswith("camera_driver")
        )

    assert probe.spin_until(degraded, 20.0)
    assert proc.poll() is None, "the node must keep running without its camera"


def test_live_resolution_change_and_sleep(probe, procs) -> None:  # type: ignore[no-untyped-def]
    infos = probe.collect(CameraInfo, "camera/small/camera_info", SENSOR_SUB)
    small = probe.collect(Image, "camera/small/image_raw", SENSOR_SUB)
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
    procs.node(
        NODE,
        "-p",
        "trigger_mode:=true",
        "-p",
        "burst_frames:=5",
        "-p",
        "burst_fps:=20.0",
        "-p",
        "release_after_s:=0.2",
        "-p",
        "width:=160",
        "-p",
        "height:=120",
    )
    trigger = probe.node.create_publisher(Trigger, "camera/trigger", 10)
    assert probe.spin_until(lambda: trigger.get_subscription_count() > 0, 20.0)
    # The first frame after enabling checks the sensor; then the camera is closed.
    assert probe.spin_until(
        lambda: (_camera_values(diags) or {}).get("device") == "released", 10.0
    )
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
        assert probe.spin_until(
            lambda b=burst: (
                (_camera_values(diags) or {}).get("opens") == str(b + 1)
                and (_camera_values(diags) or {}).get("device") == "released"
            ),
            10.0,
        )
    probe.spin_for(0.5)
    assert len(raw) == 10, "no frame outside the bursts"


def test_one_stream_per_namespace_with_calibration_compression_and_qos_override(
    probe, procs, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from rclpy.qos import ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage

    from wildcam.camera.calibration import Calibration, calibration_to_yaml

    cal = Calibration(
        camera_name="trap",
        width=160,
        height=120,
        distortion_model="plumb_bob",
        k=(110.0, 0.0, 80.0, 0.0, 110.0, 60.0, 0.0, 0.0, 1.0),
        d=(-0.3, 0.1, 0.0, 0.0, 0.0),
        r=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        p=(100.0, 0.0, 80.0, 0.0, 0.0, 100.0, 60.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    )
    url = tmp_path / "ost.yaml"
    url.write_text(calibration_to_yaml(cal))
    small_infos = probe.collect(CameraInfo, "camera/small/camera_info", SENSOR_SUB)
    raw = probe.collect(Image, "camera/image_raw", SENSOR_SUB)
    infos = probe.collect(CameraInfo, "camera/camera_info", SENSOR_SUB)
    jpegs = probe.collect(CompressedImage, "camera/image_raw/compressed", SENSOR_SUB)
    diags = probe.collect(DiagnosticArray, "/diagnostics")
    procs.node(
        NODE,
        "-p",
        "fps:=10.0",
        "-p",
        "width:=160",
        "-p",
        "height:=120",
        "-p",
        "hardware_id:=trap-07",
        "-p",
        "full_frames:=always",
        "-p",
        "compressed:=true",
        "-p",
        f"camera_info_url:=file://{url}",
        "-p",
        "qos_overrides./camera/small/image_raw.publisher.reliability:=best_effort",
    )
    assert probe.spin_until(lambda: len(jpegs) >= 3 and len(infos) >= 3, 20.0)
    small, full = small_infos[-1], infos[-1]
    assert (small.width, small.height, small.binning_x) == (160, 120, 4)  # REP-104
    assert (full.width, full.height, full.binning_x) == (160, 120, 0)
    assert list(small.k) == list(full.k) == list(cal.k) and small.distortion_model == "plumb_bob"
    assert {m.header.frame_id for m in (small, full, raw[-1], jpegs[-1])} == {
        "camera_optical_frame"
    }
    # Each full frame comes with its camera_info and its JPEG under the same stamp.
    stamps = {Time.from_msg(m.header.stamp).nanoseconds for m in raw}
    assert {Time.from_msg(m.header.stamp).nanoseconds for m in jpegs} <= stamps
    assert {Time.from_msg(m.header.stamp).nanoseconds for m in infos} <= stamps
    assert "jpeg" in jpegs[-1].format and bytes(jpegs[-1].data[:2]) == b"\xff\xd8"
    # The QoS override given as a parameter reached the publisher.
    info = probe.node.get_publishers_info_by_topic("/camera/small/image_raw")
    assert [p.qos_profile.reliability for p in info] == [ReliabilityPolicy.BEST_EFFORT]
    info = probe.node.get_publishers_info_by_topic("/camera/image_raw")
    assert [p.qos_profile.reliability for p in info] == [ReliabilityPolicy.RELIABLE]
    # diagnostic_updater-style topic status, under the hardware_id given as a parameter.
    name = "/camera_driver: camera/small/image_raw topic status"

    def topic_status() -> DiagnosticStatus | None:
        """The latest status with a measured rate and stamp delays (not the first report)."""
        found = [s for d in diags for s in d.status if s.name == name]
        values = {kv.key: kv.value for kv in found[-1].values} if found else {}
        measured = float(values.get("actual frequency (Hz)", 0)) > 0
        return found[-1] if measured and "latest timestamp delay (s)" in values else None

    assert probe.spin_until(lambda: topic_status() is not None, 10.0)
    status = topic_status()
    values = {kv.key: kv.value for kv in status.values}
    assert status.hardware_id == "trap-07"
    assert values["minimum acceptable frequency (Hz)"] == "10.00"
    assert int(values["events since startup"]) > 0
    assert 0.0 <= float(values["earliest timestamp delay (s)"]) < 5.0


def test_a_missing_calibration_file_stops_the_node_as_a_configuration_error(
    procs, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    proc = procs.node(NODE, "-p", f"camera_info_url:=file://{tmp_path}/missing.yaml")
    assert proc.wait(timeout=30) == EXIT_CONFIG


def _lifecycle(probe, transition: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """Drive one transition of the camera (as a lifecycle manager does); its state after."""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState

    if transition is not None:
        client = probe.node.create_client(ChangeState, "/camera_driver/change_state")
        assert client.wait_for_service(timeout_sec=20.0)
        request = ChangeState.Request()
        request.transition.id = getattr(Transition, f"TRANSITION_{transition.upper()}")
        future = client.call_async(request)
        assert probe.spin_until(future.done, 10.0) and future.result().success, transition
    client = probe.node.create_client(GetState, "/camera_driver/get_state")
    assert client.wait_for_service(timeout_sec=20.0)
    future = client.call_async(GetState.Request())
    assert probe.spin_until(future.done, 10.0)
    return str(future.result().current_state.label)


def test_managed_node_configure_opens_activate_streams_deactivate_releases(probe, procs) -> None:  # type: ignore[no-untyped-def]
    small = probe.collect(Image, "camera/small/image_raw", SENSOR_SUB)
    diags = probe.collect(DiagnosticArray, "/diagnostics")
    procs.node(
        NODE, "-p", "autostart:=false", "-p", "fps:=20.0", "-p", "width:=160", "-p", "height:=120"
    )
    assert _lifecycle(probe) == "unconfigured"
    assert _lifecycle(probe, "configure") == "inactive"
    assert probe.spin_until(lambda: (_camera_values(diags) or {}).get("device") == "open", 10.0)
    probe.spin_for(0.5)
    assert small == [], "an inactive camera captures nothing"
    assert _lifecycle(probe, "activate") == "active"
    assert probe.spin_until(lambda: len(small) >= 5, 10.0)
    assert _lifecycle(probe, "deactivate") == "inactive"
    assert probe.spin_until(
        lambda: (_camera_values(diags) or {}).get("device") == "released", 10.0
    )
    probe.spin_for(0.5)  # frames already in flight
    mark = len(small)
    probe.spin_for(1.0)
    assert len(small) == mark
    # The power manager's sleep (enabled false) does not wake a camera a manager deactivated;
    # on an active camera it deactivates, and waking activates it again.
    assert _set(probe, enabled=False)[0].successful and _set(probe, enabled=True)[0].successful
    assert _lifecycle(probe) == "inactive"
    assert _lifecycle(probe, "activate") == "active"
    assert _set(probe, enabled=False)[0].successful
    assert _lifecycle(probe) == "inactive"
    assert _set(probe, enabled=True)[0].successful
    assert _lifecycle(probe) == "active"
    assert probe.spin_until(lambda: len(small) >= mark + 5, 10.0)
