"""The cascade_detector node: a replayed synthetic bag gives detections (its events settle);
models swap live.

The node loads the tiny constant ONNX models of ``onnx_fakes`` through the real manifest
loader, so which stage decides is known in advance.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time as TimeMsg
from diagnostic_msgs.msg import DiagnosticArray
from onnx_fakes import write_fake_manifest  # test-local helper
from rclpy.time import Time
from sensor_msgs.msg import CompressedImage, Image, RegionOfInterest

from wildcam.bags.generate import EPOCH_NS, TOPICS, generate
from wildcam.camera.scene import SceneConfig, Visit
from wildcam.camera.synthetic import SyntheticScene
from wildcam.cascade.config import CascadeConfig
from wildcam.msg import Detection2DArray, DetectionArray, EnergyReport, MotionEvent, VisionInfo
from wildcam.ros.convert import image_to_msg
from wildcam.ros.energy import ENERGY_QOS
from wildcam.ros.qos import EVENTS, LATCHED, SENSOR_PUB

pytestmark = pytest.mark.graph

SCENE = SceneConfig(
    seed=5,
    width=320,
    height=240,
    fps=10.0,
    duration_s=14.0,
    visits=(Visit(4.0, 6.0, species="deer", size=0.4, direction="left_to_right"),),
)
# The node takes full frames best effort (sensor-data QoS); this test counts every frame, so it
# makes them reliable through the QoS override parameter, as a deployment may.
RELIABLE = ("-p", "qos_overrides./camera/image_raw.subscription.reliability:=reliable")


def _counters(diags: list) -> dict[str, int]:  # type: ignore[type-arg]
    values: dict[str, int] = {}
    for array in diags:
        for status in array.status:
            if status.name.endswith("cascade_detector"):
                values.update(
                    {kv.key: int(kv.value) for kv in status.values if kv.value.isdigit()}
                )
    return values


def test_replayed_bag_gives_detections_inside_the_visit(probe, procs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = write_fake_manifest(tmp_path / "models")
    bag = generate(tmp_path / "scene.bag", SCENE, full_frames=True).path
    detections = probe.collect(DetectionArray, "detections/events", EVENTS)
    events = probe.collect(MotionEvent, "motion/events", EVENTS)
    energy = probe.collect(EnergyReport, "energy", ENERGY_QOS)
    diags = probe.collect(DiagnosticArray, "/diagnostics")
    procs.node("wildcam.nodes.motion_detector")
    procs.node(
        "wildcam.nodes.cascade_detector", "-p", f"manifest:={manifest}", "-p", "pre_event_s:=0.5"
    )
    assert probe.wait_matched("detections/events") and probe.wait_matched("motion/events")
    player = procs.start(
        [
            "-m",
            "wildcam.cli",
            "bag",
            "play",
            str(bag),
            "--rate",
            "2",
            # what the two nodes take (nobody here listens to the full frames' camera info)
            "--topics",
            TOPICS["small"],
            TOPICS["info"],
            TOPICS["raw"],
            "--wait-for-subscribers",
            "30",
        ],
        "play",
    )
    assert probe.spin_until(lambda: player.poll() is not None, 60.0), procs.log("play")
    assert player.returncode == 0, procs.log("play")
    in_event = {Time.from_msg(e.header.stamp).nanoseconds for e in events if e.event_id}
    starts = [Time.from_msg(e.header.stamp).nanoseconds for e in events if e.event_started]

    def done() -> bool:  # every event closed, its frames analysed or skipped, all published
        counters = _counters(diags)
        handled = counters.get("frames_analysed", 0) + counters.get("frames_skipped", 0)
        closed = counters.get("events_animal", 0) + counters.get("events_empty", 0)
        return (
            handled >= len(in_event) - 2
            and closed >= len(starts)
            and len(detections) == counters.get("frames_animal", -1)
        )

    assert probe.spin_until(done, 20.0), (_counters(diags), procs.log("cascade_detector"))
    counters = _counters(diags)

    [visit] = SyntheticScene(SCENE).events
    for array in detections:
        stamp = Time.from_msg(array.header.stamp).nanoseconds
        # a frame the motion gate put in an event, or one of the 0.5 s before its start
        assert stamp in in_event or any(0 < s - stamp <= 5 * 10**8 for s in starts)
        assert visit.start_s - 1.0 <= (stamp - EPOCH_NS) * 1e-9 <= visit.end_s + 1.5
        assert array.event_id > 0 and len(array.detections) == 1
        det = array.detections[0]
        assert det.class_id == "animal"
        if det.stage == 3:  # the fake box: the whole frame
            assert (det.model_id, det.size_x, det.size_y) == ("large", 320, 240)
            assert det.score == pytest.approx(0.81, abs=1e-3)
        else:  # the unsure stage 1 trusted after a stage-3 animal: its motion region
            assert (det.stage, det.model_id, det.score) == (1, "tiny_unsure", 0.5)
            assert 0 < det.size_x * det.size_y < 320 * 240
    assert {d.detections[0].stage for d in detections} == {1, 3}
    thumb = cv2.imdecode(
        np.frombuffer(bytes(detections[0].thumbnail.data), np.uint8), cv2.IMREAD_COLOR
    )
    assert thumb is not None and max(thumb.shape[:2]) <= 256
    # Each event settles after its first frames: the rest are skipped but for the re-checks,
    # so the uploader gets the deciding frames and the re-checks, not every frame.
    defaults = CascadeConfig()
    assert counters["frames_skipped"] > 2 * counters["frames_analysed"] > 0
    assert counters["frames_rechecked"] >= 1 and counters["frames_stage3_trusted"] >= 1
    assert len(starts) * (defaults.settle_frames - 1) <= len(detections) < len(in_event) / 4

    def metered(stage: str) -> int:
        return sum(
            s.count
            for r in energy
            if r.node == "cascade_detector"
            for s in r.stages
            if s.stage == stage
        )

    # energy reports (the motion detector sends its own) come every 10 s of the node's clock
    assert probe.spin_until(lambda: metered("cascade_stage3") > 0, 25.0)
    assert metered("cascade_stage1") >= metered("cascade_stage3") > 0 and metered("encode") > 0
    assert all(r.profile == "rpi4b" for r in energy if r.node == "cascade_detector")


def _stamp(i: int) -> TimeMsg:
    return TimeMsg(sec=100 + i, nanosec=0)


class Feeder:
    """Plays one frame plus its motion event per call, as camera and motion gate would."""

    def __init__(self, probe) -> None:  # type: ignore[no-untyped-def]
        self.probe, self.count = probe, 0
        self.frames = probe.node.create_publisher(Image, "camera/image_raw", SENSOR_PUB)
        self.events = probe.node.create_publisher(MotionEvent, "motion/events", EVENTS)
        self.image = np.full((240, 320, 3), 90, np.uint8)

    def frame(self) -> None:
        self.count += 1
        stamp = _stamp(self.count)
        self.frames.publish(image_to_msg(self.image, stamp, "camera"))
        self.events.publish(
            MotionEvent(
                event_id=1,
                event_started=self.count == 1,
                frame_width=320,
                frame_height=240,
                rois=[RegionOfInterest(x_offset=100, y_offset=80, width=60, height=50)],
                header=image_to_msg(self.image, stamp, "camera").header,
            )
        )


def test_models_swap_live_and_bad_files_are_refused(probe, procs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = write_fake_manifest(tmp_path / "models")
    detections = probe.collect(DetectionArray, "detections/events", EVENTS)
    vision = probe.collect(Detection2DArray, "detections", EVENTS)
    thumbnails = probe.collect(CompressedImage, "detections/thumbnail", EVENTS)
    infos = probe.collect(VisionInfo, "detections/info", LATCHED)
    feeder = Feeder(probe)
    # every frame decides alone and is analysed: one event stays unsettled and untrusted
    procs.node(
        "wildcam.nodes.cascade_detector",
        "-p",
        f"manifest:={manifest}",
        *RELIABLE,
        "-p",
        "smoothing_alpha:=1.0",
        "-p",
        "settle_frames:=0",
        "-p",
        "stage3_trust_s:=0.0",
    )
    assert probe.wait_matched("detections/events")
    assert probe.spin_until(
        lambda: (
            feeder.frames.get_subscription_count() > 0
            and feeder.events.get_subscription_count() > 0
        ),
        30.0,
    )

    def next_detection() -> tuple[int, str]:
        seen = len(detections)
        feeder.frame()
        assert probe.spin_until(lambda: len(detections) > seen, 20.0), procs.log(
            "cascade_detector"
        )
        det = detections[-1].detections[0]
        return det.stage, det.model_id

    assert next_detection() == (3, "large")  # tiny_unsure escalates
    # The same frame in vision_msgs' shape, its crop on its own topic under the same stamp.
    assert probe.spin_until(lambda: bool(vision) and bool(thumbnails), 10.0)
    det, shaped = detections[-1], vision[-1]
    assert shaped.header == det.header == thumbnails[-1].header
    assert [
        (
            d.bbox.center.position.x,
            d.bbox.size_x,
            d.results[0].hypothesis.class_id,
            d.results[0].hypothesis.score,
        )
        for d in shaped.detections
    ] == [(d.center_x, d.size_x, d.class_id, d.score) for d in det.detections]
    assert bytes(thumbnails[-1].data) == bytes(det.thumbnail.data)
    # latched: delivered once this subscription and the node's publisher have matched, which
    # may come after the first frames' detections
    assert probe.spin_until(lambda: bool(infos), 10.0)
    assert "stage 1 tiny_unsure" in infos[-1].method and infos[-1].database_location

    [ok] = probe.set_parameters("cascade_detector", stage1_model="tiny_sure")
    assert ok.successful, ok.reason
    assert next_detection() == (1, "tiny_sure")
    assert probe.spin_until(lambda: "stage 1 tiny_sure" in infos[-1].method, 10.0)
    assert infos[-1].database_version == infos[0].database_version + 1

    for name, value, reason in [
        ("stage1_model", "tiny_truncated", "sha256"),
        ("stage3_model", "large_mismatch", "output 'boxes' missing"),
        ("stage1_model", "large", "stage 3 model"),
        ("stage2_model", "nothing_here", "no model 'nothing_here'"),
        ("manifest", str(tmp_path / "none.json"), "cannot read"),
    ]:
        [result] = probe.set_parameters("cascade_detector", **{name: value})
        assert not result.successful and reason in result.reason, result.reason
        assert next_detection() == (1, "tiny_sure")  # the previous models keep serving

    # The power manager's lever: stage 1 unsure again, capped at stage 1 it decides alone.
    results = probe.set_parameters(
        "cascade_detector", stage1_model="tiny_unsure", max_stage=1, decision_threshold=0.4
    )
    assert all(r.successful for r in results), [r.reason for r in results]
    assert next_detection() == (1, "tiny_unsure")
