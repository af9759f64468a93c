"""Held bursts in a real graph: bursts the power controller captured while the SoC was off are
published first with their capture stamps, decided by the motion gate and the cascade, sent to
the gateway, and the woken device goes back to sleep once they are drained and sent; a cascade
slower than the camera still decides every held frame (the drain is paced by the stages'
acknowledgements); frames no stage can take are sent again, then set aside and kept; a camera
killed mid-way loses none of them."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import Image

from graph_helpers import onnx_fakes  # test-local helpers
from wildcam.camera import FakeController
from wildcam.camera.held_store import pending_frames
from wildcam.gateway import Gateway, GatewayConfig
from wildcam.graph import DETECTION_EVENTS
from wildcam.msg import DetectionArray, FrameDone, PowerState
from wildcam.power.durable import DurableState, save_state
from wildcam.ros.qos import EVENTS, LATCHED, SENSOR_SUB

pytestmark = pytest.mark.graph
W, H = 160, 120


def _frames(trigger_ns: int, count: int) -> list[tuple[int, np.ndarray]]:
    """A burst at 10 fps: a textured background, then a bright block walking across it."""
    rng = np.random.default_rng(trigger_ns % 1000)
    background = rng.integers(60, 90, (H, W, 3), dtype=np.uint8)
    out = []
    for k in range(count):
        img = background.copy()
        if k >= 4:
            x = 10 + 8 * (k - 4)
            img[50:90, x : x + 30] = 230
        out.append((trigger_ns + (k + 1) * 100_000_000, img))
    return out


def _write_bursts(held: Path, count: int, frames: int) -> list[int]:
    """``count`` bursts a minute apart, ending a few minutes ago; their capture stamps."""
    controller = FakeController(held)
    start = time.time_ns() - 10 * 60 * 10**9
    stamps = []
    for b in range(count):
        burst = _frames(start + b * 60 * 10**9, frames)
        controller.write(start + b * 60 * 10**9, burst)
        stamps += [s for s, _ in burst]
    return stamps


def _camera(held: Path, *params: str) -> list[str]:
    """The camera node on the empty scene at W x H, reading ``held``."""
    args = ["uri:=empty", f"width:={W}", f"height:={H}", f"held_dir:={held}", *params]
    return ["wildcam.nodes.camera_driver", *(x for p in args for x in ("-p", p))]


def _stamp_ns(msg: object) -> int:
    stamp = msg.header.stamp  # type: ignore[attr-defined]
    return int(stamp.sec) * 10**9 + int(stamp.nanosec)


def test_held_bursts_are_decided_sent_and_the_device_sleeps_again(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    held = tmp_path / "held"
    stamps = set(_write_bursts(held, 2, 16))
    state_file = tmp_path / "state.json"
    # The device went to sleep an hour ago; the controller's bursts woke it.
    now = time.time()
    save_state(state_file, DurableState("normal", "start", "sleep", "asleep", 10.0, now - 3600))
    token = tmp_path / "token"
    token.write_text("graph-test-token-0123456789\n")
    manifest = onnx_fakes().write_fake_manifest(tmp_path / "models")  # tiny_sure: animal
    states = probe.collect(PowerState, "power/state", LATCHED)
    detections = probe.collect(DetectionArray, DETECTION_EVENTS, EVENTS)
    with Gateway(GatewayConfig(store=tmp_path / "gw", token_file=token, port=0)) as gw:
        procs.node(
            "wildcam.nodes.uploader",
            "-p",
            f"gateway_url:={gw.url}",
            "-p",
            f"token_file:={token}",
            "-p",
            f"queue_dir:={tmp_path / 'queue'}",
            "-p",
            "link_backend:=simulated",
            "-p",
            "idle_period_s:=0.1",
        )
        procs.node(
            "wildcam.nodes.cascade_detector",
            "-p",
            f"manifest:={manifest}",
            "-p",
            "stage1_model:=tiny_sure",
        )
        procs.node("wildcam.nodes.motion_detector")
        procs.node(
            "wildcam.nodes.power_manager",
            "-p",
            "power_profile:=pizero2w_mcu",
            "-p",
            "idle_state:=sleep",
            "-p",
            "outside_state:=sleep",
            "-p",
            "over_budget_state:=sleep",
            "-p",
            "warm_hold_s:=1.0",
            "-p",
            "update_period_s:=0.2",
            "-p",
            f"held_dir:={held}",
            "-p",
            "held_settle_s:=3.0",
            "-p",
            f"state_file:={state_file}",
        )
        assert probe.wait_matched(DETECTION_EVENTS, 30.0)
        # The camera last, as a boot may bring it: the manager saw the held frames on disk.
        procs.node(*_camera(held))

        def slept() -> bool:
            return bool(states) and states[-1].device_state == "sleep"

        assert probe.spin_until(slept, 90.0), (
            [s.device_state_reason for s in states],
            procs.log("camera_driver"),
        )
        items = gw.store.counters().get("items", 0)
        assert pending_frames(held) == 0 and list(held.iterdir()) == []
        assert any("held frames to analyse" in s.device_state_reason for s in states)
        assert detections, procs.log("cascade_detector")
        held_detections = [d for d in detections if _stamp_ns(d) in stamps]
        assert held_detections, "detections carry the held frames' capture stamps"
        assert items >= len({d.event_id for d in held_detections}), procs.log("uploader")
        probe.spin_for(1.0)
        assert gw.store.counters().get("items", 0) == items, "all was sent before the sleep"


def test_a_slow_cascade_decides_every_held_frame(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    held = tmp_path / "held"
    stamps = _write_bursts(held, 2, 12)
    manifest = onnx_fakes().write_fake_manifest(tmp_path / "models")  # tiny_sure: animal
    motion = probe.collect(FrameDone, "motion/processed", EVENTS)
    decided = probe.collect(FrameDone, "detections/processed", EVENTS)
    detections = probe.collect(DetectionArray, DETECTION_EVENTS, EVENTS)
    slow = Path(__file__).with_name("slow_cascade.py")
    args = ["-p", f"manifest:={manifest}", "-p", "stage1_model:=tiny_sure"]
    procs.start([str(slow), "--ros-args", *args], "cascade_detector")
    procs.node("wildcam.nodes.motion_detector")
    assert probe.wait_matched("detections/processed", 30.0)
    procs.node(*_camera(held))  # 10 fps: four frames to each of the slow cascade's

    def emptied() -> bool:  # every frame removed, none set aside as undecided
        return not any(held.iterdir())

    assert probe.spin_until(emptied, 120.0), (
        list(held.iterdir()),
        procs.log("camera_driver"),
        procs.log("cascade_detector"),
    )
    held_stamps = set(stamps)

    def seen(acks: list[FrameDone], in_event: bool = False) -> set[int]:
        return {_stamp_ns(m) for m in acks if m.done and (m.event_id or not in_event)}

    # the probe hears the acknowledgements the camera acted on (it may hear them a bit later)
    assert probe.spin_until(lambda: held_stamps <= seen(motion), 10.0), "the gate saw them all"
    in_event = seen(motion, in_event=True) & held_stamps
    assert in_event, "the held bursts had motion"
    assert probe.spin_until(lambda: in_event <= seen(decided), 10.0), "the cascade decided them"
    assert {_stamp_ns(d) for d in detections} & in_event, procs.log("cascade_detector")


def test_a_camera_killed_while_draining_loses_no_held_frame(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    held = tmp_path / "held"
    stamps = _write_bursts(held, 2, 10)
    small: list[Image] = []
    acked = 5  # the probe stands for the motion gate: it decides the first frames only
    ack = probe.node.create_publisher(FrameDone, "motion/processed", EVENTS)
    probe.node.create_publisher(FrameDone, "detections/processed", EVENTS)  # never needed here

    def on_small(msg: Image) -> None:
        small.append(msg)
        if len(small) <= acked:
            ack.publish(FrameDone(header=msg.header, event_id=0, done=True))

    probe.node.create_subscription(Image, "camera/small/image_raw", on_small, SENSOR_SUB)
    probe.collect(Image, "camera/image_raw", SENSOR_SUB)  # held frames wait for both streams
    camera = _camera(held, "fps:=4.0")
    first = procs.node(*camera)
    assert probe.spin_until(lambda: len(small) > acked, 60.0), procs.log("camera_driver")
    first.kill()  # no clean shutdown, a frame in flight
    first.wait(10)
    published = {_stamp_ns(m) for m in small}
    left = pending_frames(held)
    assert left == len(stamps) - acked, "exactly the decided frames were removed"
    assert len(published & set(stamps)) + left >= len(stamps), "a frame went missing"
    acked = len(stamps) * 2  # the restarted camera's frames are all decided
    procs.node(*camera)
    assert probe.spin_until(lambda: pending_frames(held) == 0, 60.0)
    assert probe.spin_until(lambda: set(stamps) <= {_stamp_ns(m) for m in small}, 10.0)
    got = [_stamp_ns(m) for m in small if _stamp_ns(m) in set(stamps)]
    assert len(got) - len(stamps) <= 1, "at most the frame in flight at the kill repeats"


def test_held_frames_refused_are_sent_again_then_set_aside_and_kept(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path: Path
) -> None:
    held = tmp_path / "held"
    stamps = _write_bursts(held, 1, 4)
    small: list[Image] = []
    refuse = probe.node.create_publisher(FrameDone, "motion/processed", EVENTS)
    probe.node.create_publisher(FrameDone, "detections/processed", EVENTS)

    def on_small(msg: Image) -> None:  # a motion stage that can never take a frame
        small.append(msg)
        refuse.publish(FrameDone(header=msg.header, done=False))

    probe.node.create_subscription(Image, "camera/small/image_raw", on_small, SENSOR_SUB)
    probe.collect(Image, "camera/image_raw", SENSOR_SUB)
    procs.node(*_camera(held, "held_max_sends:=2", "trigger_mode:=true"))

    def kept() -> list[str]:
        return sorted(p.name for p in held.iterdir())

    expected = sorted(f".undecided-{s}.jpg" for s in stamps)
    assert probe.spin_until(lambda: kept() == expected, 60.0), (kept(), procs.log("camera_driver"))
    # the camera's first live tick captures one frame once the held ones are drained
    # (CaptureControl.capture): only the held frames' sends count
    sends = [_stamp_ns(m) for m in small if _stamp_ns(m) in set(stamps)]
    assert sorted(sends) == sorted(stamps * 2), "each frame sent twice, then set aside"
    assert len(small) - len(sends) <= 1, "nothing else but that one live frame"
